import { UnrecoverableError } from 'bullmq';
import type { WriteSide } from '../write-side/commands.js';
import type { PlacedState } from '../write-side/orders/order.state.js';

/** The order a job is about; one that does not exist fails the job for good (retrying cannot help). */
export async function placedOrder(write: WriteSide, orderId: string, options: { fresh?: boolean } = {}): Promise<PlacedState> {
  const order = await write.loadOrder(orderId, options);
  if (order.status === 'none') throw new UnrecoverableError(`order ${orderId} does not exist`);
  return order;
}
