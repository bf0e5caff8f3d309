import type { Migration } from './migrate.js';

// The service's own tables: read models, API idempotency keys, the job dispatcher's checkpoint and
// the sandbox payment gateway's and sandbox carriers' records.

export const schemaMigrations: Migration[] = [
  {
    name: '001-read-models',
    async up(knex) {
      await knex.raw(`
        CREATE TABLE projection_checkpoints (
          name text PRIMARY KEY,
          position bigint NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE projection_failures (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          projection text NOT NULL,
          position bigint NOT NULL,
          event_id uuid NOT NULL,
          event_type text NOT NULL,
          error text NOT NULL,
          at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE locations (
          location_id text PRIMARY KEY,
          name text NOT NULL,
          type text NOT NULL,
          lat double precision NOT NULL,
          lon double precision NOT NULL,
          can_ship boolean NOT NULL,
          can_pickup boolean NOT NULL,
          handling_cost integer NOT NULL,
          active boolean NOT NULL,
          registered_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        );
        CREATE TABLE stock_levels (
          sku text NOT NULL,
          location_id text NOT NULL,
          on_hand bigint NOT NULL,
          reserved bigint NOT NULL DEFAULT 0,
          safety_stock bigint NOT NULL DEFAULT 0,
          updated_at timestamptz NOT NULL,
          PRIMARY KEY (sku, location_id)
        );
        CREATE TABLE orders (
          order_id text PRIMARY KEY,
          placed_position bigint NOT NULL,
          status text NOT NULL,
          channel text NOT NULL,
          source text,
          external_id text,
          customer_id text NOT NULL,
          customer_email text,
          address_key text,
          customer jsonb NOT NULL,
          lines jsonb NOT NULL,
          currency text NOT NULL,
          total bigint NOT NULL,
          delivery jsonb NOT NULL,
          payment_method text NOT NULL,
          payment_status text NOT NULL,
          fraud jsonb,
          allocations jsonb NOT NULL DEFAULT '[]',
          shipments jsonb NOT NULL DEFAULT '[]',
          returns jsonb NOT NULL DEFAULT '[]',
          placed_by text NOT NULL,
          placed_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL
        );
        CREATE INDEX orders_newest ON orders (placed_position DESC);
        CREATE INDEX orders_status ON orders (status, placed_position DESC);
        CREATE INDEX orders_channel ON orders (channel, placed_position DESC);
        CREATE INDEX orders_customer ON orders (customer_id, placed_at);
        CREATE INDEX orders_email ON orders (customer_email, placed_at);
        CREATE INDEX orders_address ON orders (address_key, placed_at);
        CREATE TABLE order_timeline (
          order_id text NOT NULL,
          position bigint NOT NULL,
          at timestamptz NOT NULL,
          type text NOT NULL,
          details jsonb NOT NULL,
          PRIMARY KEY (order_id, position)
        );
        CREATE TABLE idempotency_keys (
          scope text NOT NULL,
          key text NOT NULL,
          request_hash text NOT NULL,
          status integer,
          response jsonb,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (scope, key)
        );
        CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
        CREATE TABLE dispatcher_checkpoints (
          name text PRIMARY KEY,
          position bigint NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
      `);
    },
  },
  {
    name: '002-order-velocity',
    async up(knex) {
      // A plpgsql function so each connection plans these lookups once rather than per call.
      // Each count is one index range scan that stops at `cap` rows, so a hot key costs no more
      // than a cold one.
      await knex.raw(`
        CREATE FUNCTION order_velocity(p_order text, p_customer text, p_email text, p_address text, p_at timestamptz, cap int)
        RETURNS TABLE (customer1h bigint, customer24h bigint, email24h bigint, address24h bigint, returning_customer boolean)
        LANGUAGE plpgsql STABLE AS $fn$
        BEGIN
          RETURN QUERY SELECT
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_id = p_customer AND placed_at > p_at - interval '1 hour'
               AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_id = p_customer AND placed_at > p_at - interval '24 hours'
               AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_email = p_email AND placed_at > p_at - interval '24 hours'
               AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE address_key = p_address AND placed_at > p_at - interval '24 hours'
               AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            EXISTS (SELECT 1 FROM orders WHERE customer_id = p_customer AND placed_at <= p_at AND order_id <> p_order);
        END
        $fn$;
      `);
    },
  },
  {
    name: '003-sourcing',
    async up(knex) {
      await knex.raw(`
        ALTER TABLE stock_levels ADD COLUMN quarantined bigint NOT NULL DEFAULT 0;
        ALTER TABLE orders ADD COLUMN backorder jsonb;
        CREATE INDEX orders_backordered ON orders USING gin (lines jsonb_path_ops) WHERE status = 'backordered';
        CREATE TABLE transfers (
          transfer_id text PRIMARY KEY,
          sku text NOT NULL,
          from_location text NOT NULL,
          to_location text NOT NULL,
          quantity bigint NOT NULL,
          status text NOT NULL,
          sent_at timestamptz NOT NULL,
          received_at timestamptz
        );
        CREATE INDEX transfers_in_transit ON transfers (sku, to_location) WHERE status = 'in_transit';
      `);
    },
  },
  {
    name: '004-lifecycle',
    async up(knex) {
      // The order's lifecycle facts are columns; its status follows from them (the same precedence
      // as the order decider), so a batch of changes is one UPDATE whatever order they arrive in.
      await knex.raw(`
        ALTER TABLE orders
          ADD COLUMN held boolean NOT NULL DEFAULT false,
          ADD COLUMN review jsonb,
          ADD COLUMN released_at timestamptz,
          ADD COLUMN cancelled_at timestamptz,
          ADD COLUMN rejection jsonb,
          ADD COLUMN payment jsonb NOT NULL DEFAULT '{}',
          ADD COLUMN payment_fingerprint text;
        UPDATE orders SET cancelled_at = updated_at WHERE status = 'cancelled';
        UPDATE orders SET held = true WHERE fraud->>'decision' = 'review' AND status <> 'cancelled';
        -- Backordered orders waiting for stock, whether or not they are also on fraud hold.
        DROP INDEX orders_backordered;
        CREATE INDEX orders_backordered ON orders USING gin (lines jsonb_path_ops)
          WHERE backorder IS NOT NULL AND cancelled_at IS NULL AND rejection IS NULL;
        CREATE INDEX orders_payment_fingerprint ON orders (payment_fingerprint, placed_at);
        CREATE INDEX orders_on_hold ON orders (placed_position) WHERE status = 'on_hold';
        CREATE FUNCTION orders_status() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          NEW.status := CASE
            WHEN NEW.cancelled_at IS NOT NULL THEN 'cancelled'
            WHEN NEW.rejection IS NOT NULL THEN 'rejected'
            WHEN NEW.released_at IS NOT NULL THEN 'released'
            WHEN NEW.held THEN 'on_hold'
            WHEN NEW.backorder IS NOT NULL THEN 'backordered'
            ELSE 'received' END;
          RETURN NEW;
        END
        $fn$;
        CREATE TRIGGER orders_status BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_status();
        CREATE TABLE notifications (
          notification_id uuid PRIMARY KEY,
          order_id text NOT NULL,
          kind text NOT NULL,
          payload jsonb NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          sent_at timestamptz,
          attempts int NOT NULL DEFAULT 0,
          last_error text
        );
        CREATE INDEX notifications_order ON notifications (order_id, created_at);
      `);
      // Velocity for fraud scoring, for many orders in one statement: per customer, email, address
      // and payment card over 1 h and 24 h before each order, capped like order_velocity.
      await knex.raw(`
        CREATE FUNCTION order_signals(p_order text, p_customer text, p_email text, p_address text, p_card text, p_at timestamptz, cap int)
        RETURNS TABLE (customer1h bigint, customer24h bigint, email1h bigint, email24h bigint, address1h bigint, address24h bigint,
                       card1h bigint, card24h bigint, returning_customer boolean)
        LANGUAGE plpgsql STABLE AS $fn$
        BEGIN
          RETURN QUERY SELECT
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_id = p_customer AND placed_at > p_at - interval '1 hour' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_id = p_customer AND placed_at > p_at - interval '24 hours' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_email = p_email AND placed_at > p_at - interval '1 hour' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_email = p_email AND placed_at > p_at - interval '24 hours' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE address_key = p_address AND placed_at > p_at - interval '1 hour' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE address_key = p_address AND placed_at > p_at - interval '24 hours' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE payment_fingerprint = p_card AND placed_at > p_at - interval '1 hour' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            (SELECT count(*) FROM (SELECT 1 FROM orders WHERE payment_fingerprint = p_card AND placed_at > p_at - interval '24 hours' AND placed_at <= p_at AND order_id <> p_order LIMIT cap) s),
            EXISTS (SELECT 1 FROM orders WHERE customer_id = p_customer AND placed_at <= p_at AND order_id <> p_order);
        END
        $fn$;
      `);
    },
  },
  {
    // The sourcing process's lease: a process taking over the turn waits until then, so the last
    // allocations of one that lost it land first; a lease left behind (not cleared by a clean
    // stop) means work past the checkpoint may be half done. Processes of the version before
    // stopped without one, so their checkpoints are taken as interrupted.
    name: '005-sourcing-lease',
    async up(knex) {
      await knex.raw('ALTER TABLE dispatcher_checkpoints ADD COLUMN lease_until timestamptz');
      await knex.raw('UPDATE dispatcher_checkpoints SET lease_until = now()');
    },
  },
  {
    // order_signals (004) replaced order_velocity, which is no longer called. (For a while 004
    // itself dropped it; IF EXISTS covers databases that applied it then.)
    name: '006-drop-order-velocity',
    async up(knex) {
      await knex.raw('DROP FUNCTION IF EXISTS order_velocity(text, text, text, text, timestamptz, int)');
    },
  },
  {
    // The order's status is written by the orders projection, as the write side's statusOf says;
    // the trigger restated that rule in SQL. `held` only fed it: on fraud hold is a review
    // decision with no review yet, both columns of their own. orders_on_hold stays on status.
    name: '007-order-status-from-write-side',
    async up(knex) {
      await knex.raw(`
        DROP TRIGGER orders_status ON orders;
        DROP FUNCTION orders_status();
        ALTER TABLE orders DROP COLUMN held;
      `);
    },
  },
  {
    // The payment status shown is computed from the method and the ledger (payment-ledger.ts
    // paymentStatus); this column was written once at placement and never followed the ledger.
    name: '007b-drop-order-payment-status',
    async up(knex) {
      await knex.raw('ALTER TABLE orders DROP COLUMN payment_status');
    },
  },
  {
    // The sandbox payment gateway's own records and the functions it answers with
    // (payments/sandbox-gateway.ts): a real gateway keeps these on its side. The gateway used to
    // create them itself when first called, so a database it ran on has them already, and every
    // statement here holds there too. Its first version kept each request as text, with the
    // idempotency key in it; the function compares requests as jsonb, without the key.
    name: '008-sandbox-gateway',
    async up(knex) {
      // A process of the version before may be creating them as this runs: wait for its turn.
      await knex.raw("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':sandbox-gateway'))");
      await knex.raw(`
        CREATE TABLE IF NOT EXISTS sandbox_payment_authorizations (
          authorization_id text PRIMARY KEY, reference text NOT NULL, token text NOT NULL, amount bigint NOT NULL, currency text NOT NULL,
          captured bigint NOT NULL DEFAULT 0, refunded bigint NOT NULL DEFAULT 0, voided boolean NOT NULL DEFAULT false,
          created_at timestamptz NOT NULL DEFAULT clock_timestamp());
        CREATE INDEX IF NOT EXISTS sandbox_payment_authorizations_reference ON sandbox_payment_authorizations (reference);
        CREATE TABLE IF NOT EXISTS sandbox_payment_operations (
          idempotency_key text PRIMARY KEY, kind text NOT NULL, request jsonb NOT NULL, outcome jsonb NOT NULL,
          created_at timestamptz NOT NULL DEFAULT clock_timestamp());
        CREATE TABLE IF NOT EXISTS sandbox_payment_attempts (idempotency_key text PRIMARY KEY, attempts int NOT NULL);
        DO $do$
        BEGIN
          IF (SELECT data_type FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'sandbox_payment_operations' AND column_name = 'request') = 'text' THEN
            ALTER TABLE sandbox_payment_operations ALTER COLUMN request TYPE jsonb USING request::jsonb - 'idempotencyKey';
          END IF;
        END
        $do$;
        -- The attempts row, locked by the upsert until the statement ends, serialises requests under one
        -- key; each later statement in the function sees what an earlier request under that key committed.
        CREATE OR REPLACE FUNCTION sandbox_payment_apply(p_key text, p_kind text, p_request jsonb, p_new_id text) RETURNS jsonb
        LANGUAGE plpgsql VOLATILE AS $fn$
        DECLARE
          n int;
          seen sandbox_payment_operations%ROWTYPE;
          a sandbox_payment_authorizations%ROWTYPE;
          token text := p_request->>'token';
          v_amount bigint := (p_request->>'amount')::bigint;
          outcome jsonb;
          lost boolean := false;
        BEGIN
          INSERT INTO sandbox_payment_attempts AS t (idempotency_key, attempts) VALUES (p_key, 1)
            ON CONFLICT (idempotency_key) DO UPDATE SET attempts = t.attempts + 1 RETURNING attempts INTO n;
          SELECT * INTO seen FROM sandbox_payment_operations WHERE idempotency_key = p_key;
          IF FOUND THEN
            IF seen.request <> p_request THEN
              RETURN jsonb_build_object('declined', jsonb_build_object('code', 'idempotency_key_reused', 'message', 'Key ' || p_key || ' was used for a different request'));
            END IF;
            RETURN seen.outcome;
          END IF;
          IF p_kind = 'authorize' THEN
            IF token !~ '^tok_[A-Za-z0-9_]+$' THEN
              outcome := jsonb_build_object('declined', jsonb_build_object('code', 'invalid_token', 'message', 'The card token is not valid'));
            ELSIF token = 'tok_declined' THEN
              outcome := jsonb_build_object('declined', jsonb_build_object('code', 'card_declined', 'message', 'The card was declined'));
            ELSIF token = 'tok_fail_once' AND n = 1 THEN
              RETURN jsonb_build_object('unavailable', 'sandbox: transient failure (tok_fail_once)');
            ELSIF token = 'tok_timeout' THEN
              RETURN jsonb_build_object('timeout', true);
            ELSE
              INSERT INTO sandbox_payment_authorizations (authorization_id, reference, token, amount, currency)
                VALUES ('auth_' || p_new_id, p_request->>'reference', token, v_amount, p_request->>'currency');
              outcome := jsonb_build_object('result', jsonb_build_object('authorizationId', 'auth_' || p_new_id));
              lost := token = 'tok_timeout_once' AND n = 1;
            END IF;
          ELSE
            SELECT * INTO a FROM sandbox_payment_authorizations WHERE authorization_id = p_request->>'authorizationId' FOR UPDATE;
            IF NOT FOUND THEN
              outcome := jsonb_build_object('declined', jsonb_build_object('code', 'unknown_authorization', 'message', 'No authorisation ' || (p_request->>'authorizationId')));
            ELSIF p_kind = 'capture' THEN
              IF a.voided THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'authorization_voided', 'message', 'The authorisation was voided'));
              ELSIF v_amount <= 0 OR a.captured + v_amount > a.amount THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'amount_exceeds_authorization', 'message', 'Capturing ' || v_amount || ' exceeds what is left of ' || a.amount));
              ELSE
                UPDATE sandbox_payment_authorizations SET captured = captured + v_amount WHERE authorization_id = a.authorization_id;
                outcome := jsonb_build_object('result', jsonb_build_object('captureId', 'cap_' || p_new_id));
              END IF;
            ELSIF p_kind = 'void' THEN
              IF a.captured > 0 THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'already_captured', 'message', 'Captured money is refunded, not voided'));
              ELSE
                UPDATE sandbox_payment_authorizations SET voided = true WHERE authorization_id = a.authorization_id;
                outcome := jsonb_build_object('result', '{}'::jsonb);
              END IF;
            ELSIF p_kind = 'refund' THEN
              IF v_amount <= 0 OR a.refunded + v_amount > a.captured THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'amount_exceeds_capture', 'message', 'Refunding ' || v_amount || ' exceeds what is left of ' || a.captured || ' captured'));
              ELSE
                UPDATE sandbox_payment_authorizations SET refunded = refunded + v_amount WHERE authorization_id = a.authorization_id;
                outcome := jsonb_build_object('result', jsonb_build_object('refundId', 'ref_' || p_new_id));
              END IF;
            ELSE
              RAISE EXCEPTION 'unknown sandbox operation %', p_kind;
            END IF;
          END IF;
          INSERT INTO sandbox_payment_operations (idempotency_key, kind, request, outcome) VALUES (p_key, p_kind, p_request, outcome);
          RETURN outcome || jsonb_build_object('lost', lost);
        END
        $fn$;
        CREATE OR REPLACE FUNCTION sandbox_payment_apply_many(p_calls jsonb) RETURNS jsonb
        LANGUAGE plpgsql VOLATILE AS $fn$
        DECLARE
          c jsonb;
          outcomes jsonb := '[]'::jsonb;
        BEGIN
          FOR c IN SELECT value FROM jsonb_array_elements(p_calls) LOOP
            outcomes := outcomes || jsonb_build_array(sandbox_payment_apply(c->>'key', c->>'kind', c->'request', c->>'newId'));
          END LOOP;
          RETURN outcomes;
        END
        $fn$;
      `);
    },
  },
  {
    // The log guarantees the work, not Redis: the dispatcher's `settled` position (every job below
    // it has finished) is where a dispatcher starting again reads from, its Redis epoch tells when
    // Redis has come back empty, and jobs that failed for good are kept until they complete.
    // Existing deployments take what they had dispatched as settled.
    name: '009-job-recovery',
    async up(knex) {
      await knex.raw(`
        ALTER TABLE dispatcher_checkpoints ADD COLUMN settled bigint, ADD COLUMN redis_epoch text;
        UPDATE dispatcher_checkpoints SET settled = position;
        CREATE TABLE failed_jobs (
          queue text NOT NULL,
          job_id text NOT NULL,
          name text NOT NULL,
          data jsonb NOT NULL,
          position bigint NOT NULL,
          failed_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (queue, job_id)
        );
      `);
    },
  },
  {
    // The sandbox carriers' own records (carriers/sandbox-carriers.ts), as a carrier keeps them on
    // its side: the labels it has made, per reference, with what its tracking webhooks have posted;
    // the answer to each label purchase per idempotency key; how often each key was tried.
    name: '010-sandbox-carriers',
    async up(knex) {
      await knex.raw(`
        CREATE SEQUENCE sandbox_carrier_tracking_serial;
        CREATE TABLE sandbox_carrier_labels (
          tracking_number text PRIMARY KEY, carrier_id text NOT NULL, reference text NOT NULL, idempotency_key text NOT NULL,
          service text NOT NULL, cost bigint NOT NULL, currency text NOT NULL, estimated_delivery date NOT NULL, label_url text NOT NULL,
          request jsonb NOT NULL, delivery_exception boolean NOT NULL, created_at timestamptz NOT NULL, cancelled_at timestamptz,
          webhooks_sent int NOT NULL DEFAULT 0, webhooks_done boolean NOT NULL DEFAULT false);
        CREATE INDEX sandbox_carrier_labels_reference ON sandbox_carrier_labels (reference);
        CREATE INDEX sandbox_carrier_labels_webhooks ON sandbox_carrier_labels (created_at) WHERE NOT webhooks_done;
        CREATE TABLE sandbox_carrier_operations (
          carrier_id text NOT NULL, idempotency_key text NOT NULL, request jsonb NOT NULL, outcome jsonb NOT NULL,
          created_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (carrier_id, idempotency_key));
        CREATE TABLE sandbox_carrier_attempts (
          carrier_id text NOT NULL, idempotency_key text NOT NULL, attempts int NOT NULL, PRIMARY KEY (carrier_id, idempotency_key));
        -- One label purchase. The attempts row, locked by the upsert until the statement ends,
        -- serialises purchases under one key: a key seen before answers its first label (or is
        -- refused when the request differs); transient failures are not remembered.
        CREATE FUNCTION sandbox_carrier_buy_label(p_carrier text, p_key text, p_request jsonb, p_label jsonb, p_faults jsonb) RETURNS jsonb
        LANGUAGE plpgsql VOLATILE AS $fn$
        DECLARE
          n int;
          seen sandbox_carrier_operations%ROWTYPE;
          tracking text;
          label jsonb;
        BEGIN
          INSERT INTO sandbox_carrier_attempts AS t (carrier_id, idempotency_key, attempts) VALUES (p_carrier, p_key, 1)
            ON CONFLICT (carrier_id, idempotency_key) DO UPDATE SET attempts = t.attempts + 1 RETURNING attempts INTO n;
          SELECT * INTO seen FROM sandbox_carrier_operations WHERE carrier_id = p_carrier AND idempotency_key = p_key;
          IF FOUND THEN
            IF seen.request <> p_request THEN
              RETURN jsonb_build_object('refused', jsonb_build_object('code', 'idempotency_key_reused', 'message', 'Key ' || p_key || ' was used for a different request'));
            END IF;
            RETURN seen.outcome;
          END IF;
          IF (p_faults->>'failOnce')::boolean AND n = 1 THEN
            RETURN jsonb_build_object('unavailable', 'sandbox: transient failure buying the label (fail_once)');
          END IF;
          tracking := (p_label->>'trackingPrefix') || lpad(nextval('sandbox_carrier_tracking_serial')::text, (p_label->>'trackingDigits')::int, '0');
          label := jsonb_build_object('carrierId', p_carrier, 'service', p_label->>'service', 'trackingNumber', tracking,
            'labelUrl', (p_label->>'labelUrlBase') || tracking || '.pdf', 'cost', p_label->'cost', 'currency', p_label->>'currency',
            'estimatedDelivery', p_label->>'estimatedDelivery', 'createdAt', p_label->>'createdAt');
          INSERT INTO sandbox_carrier_labels (tracking_number, carrier_id, reference, idempotency_key, service, cost, currency,
              estimated_delivery, label_url, request, delivery_exception, created_at)
            VALUES (tracking, p_carrier, p_request->>'reference', p_key, label->>'service', (label->>'cost')::bigint, label->>'currency',
              (label->>'estimatedDelivery')::date, label->>'labelUrl', p_request, (p_faults->>'deliveryException')::boolean, (label->>'createdAt')::timestamptz);
          INSERT INTO sandbox_carrier_operations (carrier_id, idempotency_key, request, outcome) VALUES (p_carrier, p_key, p_request, jsonb_build_object('result', label));
          RETURN jsonb_build_object('result', label, 'lost', (p_faults->>'loseOnce')::boolean);
        END
        $fn$;
      `);
    },
  },
  {
    // The fulfilments read model (projections/fulfilments.projection.ts): a location's work queue
    // in the order fulfilments were created, each fulfilment's lines with what was picked, its
    // packages and its shipment (the label, the tracking history and the status that follows from
    // it), looked up by tracking number for carrier webhooks, polled when no update came for a
    // while, and counted per location and day for daily capacity.
    name: '011-fulfilments',
    async up(knex) {
      await knex.raw(`
        CREATE TABLE fulfilments (
          fulfilment_id text PRIMARY KEY,
          order_id text NOT NULL,
          location_id text NOT NULL,
          kind text NOT NULL,
          status text NOT NULL,
          allocation_seq integer NOT NULL,
          delivery jsonb NOT NULL,
          lines jsonb NOT NULL,
          packages jsonb NOT NULL DEFAULT '[]',
          shipment jsonb,
          carrier_id text,
          tracking_number text,
          shipment_status text,
          pickup jsonb,
          rejection jsonb,
          cancellation jsonb,
          created_position bigint NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          last_tracking_at timestamptz
        );
        CREATE INDEX fulfilments_queue ON fulfilments (location_id, created_position);
        CREATE INDEX fulfilments_queue_status ON fulfilments (location_id, status, created_position);
        CREATE INDEX fulfilments_order ON fulfilments (order_id);
        CREATE INDEX fulfilments_created ON fulfilments (created_at);
        CREATE UNIQUE INDEX fulfilments_tracking ON fulfilments (carrier_id, tracking_number) WHERE tracking_number IS NOT NULL;
        CREATE INDEX fulfilments_to_poll ON fulfilments (last_tracking_at)
          WHERE status IN ('labelled', 'shipped') AND shipment_status NOT IN ('delivered', 'returned_to_sender');
        CREATE TABLE fulfilment_timeline (
          fulfilment_id text NOT NULL,
          position bigint NOT NULL,
          at timestamptz NOT NULL,
          type text NOT NULL,
          details jsonb NOT NULL,
          PRIMARY KEY (fulfilment_id, position)
        );
      `);
    },
  },
  {
    // Locations may take on a limited number of fulfilments a day, and hand parcels over by a
    // cut-off hour (UTC) to ship the same day; locations registered before have no limit and 16.
    name: '013-location-capacity',
    async up(knex) {
      await knex.raw(`
        ALTER TABLE locations ADD COLUMN daily_capacity integer, ADD COLUMN cutoff_hour smallint NOT NULL DEFAULT 16;
      `);
    },
  },
  {
    // An order's allocations carry what became of them (reserved, released, fulfilled) and the
    // allocation they came from (0 for the first), so a closed order no longer looks as if it held
    // stock; pickups waiting at a counter get a column of their own. Orders allocated before this
    // still hold their stock unless they were cancelled or rejected.
    name: '012-order-fulfilment',
    async up(knex) {
      await knex.raw(`
        ALTER TABLE orders ADD COLUMN pickups jsonb NOT NULL DEFAULT '[]';
        UPDATE orders SET allocations = (
          SELECT jsonb_agg(a || jsonb_build_object(
                   'status', CASE WHEN cancelled_at IS NOT NULL OR rejection IS NOT NULL THEN 'released' ELSE 'reserved' END, 'allocationSeq', 0)
                 ORDER BY i)
            FROM jsonb_array_elements(allocations) WITH ORDINALITY AS x(a, i))
         WHERE jsonb_array_length(allocations) > 0;
      `);
    },
  },
  {
    // Lines a location gave back (a reject, a short pick) that no other location could take wait
    // for stock on the order: the order's progress holds them. Orders before this had none.
    name: '014-order-backordered-lines',
    async up(knex) {
      await knex.raw(`ALTER TABLE orders ADD COLUMN backordered jsonb NOT NULL DEFAULT '[]';`);
    },
  },
  {
    // Returns: each return's folded state, by order and by status for the returns desk, its
    // tracking number for carrier webhooks, and its timeline. The sandbox gateway learns two tokens:
    // one whose first refund is refused (tok_refund_refused_once), as an issuer may, and one whose
    // first refund's answer is lost on the way back after the refund was made (tok_refund_lost_once).
    name: '015-returns',
    async up(knex) {
      await knex.raw(`
        CREATE TABLE returns (
          return_id text PRIMARY KEY,
          order_id text NOT NULL,
          status text NOT NULL,
          placed_by text NOT NULL,
          state jsonb NOT NULL,
          carrier_id text,
          tracking_number text,
          created_position bigint NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          last_tracking_at timestamptz
        );
        CREATE INDEX returns_order ON returns (order_id, created_position);
        CREATE INDEX returns_status ON returns (status, created_position);
        CREATE INDEX returns_created ON returns (created_position);
        CREATE UNIQUE INDEX returns_tracking ON returns (carrier_id, tracking_number) WHERE tracking_number IS NOT NULL;
        CREATE TABLE return_timeline (
          return_id text NOT NULL,
          position bigint NOT NULL,
          at timestamptz NOT NULL,
          type text NOT NULL,
          details jsonb NOT NULL,
          PRIMARY KEY (return_id, position)
        );
      `);
      // The sandbox gateway's function, where its tables are (a database on which the gateway made
      // them itself before migration 008 gets them when 008 runs, and keeps the tokens it knew).
      const { rows: [sandbox] } = await knex.raw("SELECT to_regclass('sandbox_payment_operations') IS NOT NULL AS present");
      if (!sandbox.present) return;
      await knex.raw(`
        CREATE OR REPLACE FUNCTION sandbox_payment_apply(p_key text, p_kind text, p_request jsonb, p_new_id text) RETURNS jsonb
        LANGUAGE plpgsql VOLATILE AS $fn$
        DECLARE
          n int;
          seen sandbox_payment_operations%ROWTYPE;
          a sandbox_payment_authorizations%ROWTYPE;
          token text := p_request->>'token';
          v_amount bigint := (p_request->>'amount')::bigint;
          outcome jsonb;
          lost boolean := false;
        BEGIN
          INSERT INTO sandbox_payment_attempts AS t (idempotency_key, attempts) VALUES (p_key, 1)
            ON CONFLICT (idempotency_key) DO UPDATE SET attempts = t.attempts + 1 RETURNING attempts INTO n;
          SELECT * INTO seen FROM sandbox_payment_operations WHERE idempotency_key = p_key;
          IF FOUND THEN
            IF seen.request <> p_request THEN
              RETURN jsonb_build_object('declined', jsonb_build_object('code', 'idempotency_key_reused', 'message', 'Key ' || p_key || ' was used for a different request'));
            END IF;
            RETURN seen.outcome;
          END IF;
          IF p_kind = 'authorize' THEN
            IF token !~ '^tok_[A-Za-z0-9_]+$' THEN
              outcome := jsonb_build_object('declined', jsonb_build_object('code', 'invalid_token', 'message', 'The card token is not valid'));
            ELSIF token = 'tok_declined' THEN
              outcome := jsonb_build_object('declined', jsonb_build_object('code', 'card_declined', 'message', 'The card was declined'));
            ELSIF token = 'tok_fail_once' AND n = 1 THEN
              RETURN jsonb_build_object('unavailable', 'sandbox: transient failure (tok_fail_once)');
            ELSIF token = 'tok_timeout' THEN
              RETURN jsonb_build_object('timeout', true);
            ELSE
              INSERT INTO sandbox_payment_authorizations (authorization_id, reference, token, amount, currency)
                VALUES ('auth_' || p_new_id, p_request->>'reference', token, v_amount, p_request->>'currency');
              outcome := jsonb_build_object('result', jsonb_build_object('authorizationId', 'auth_' || p_new_id));
              lost := token = 'tok_timeout_once' AND n = 1;
            END IF;
          ELSE
            SELECT * INTO a FROM sandbox_payment_authorizations WHERE authorization_id = p_request->>'authorizationId' FOR UPDATE;
            IF NOT FOUND THEN
              outcome := jsonb_build_object('declined', jsonb_build_object('code', 'unknown_authorization', 'message', 'No authorisation ' || (p_request->>'authorizationId')));
            ELSIF p_kind = 'capture' THEN
              IF a.voided THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'authorization_voided', 'message', 'The authorisation was voided'));
              ELSIF v_amount <= 0 OR a.captured + v_amount > a.amount THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'amount_exceeds_authorization', 'message', 'Capturing ' || v_amount || ' exceeds what is left of ' || a.amount));
              ELSE
                UPDATE sandbox_payment_authorizations SET captured = captured + v_amount WHERE authorization_id = a.authorization_id;
                outcome := jsonb_build_object('result', jsonb_build_object('captureId', 'cap_' || p_new_id));
              END IF;
            ELSIF p_kind = 'void' THEN
              IF a.captured > 0 THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'already_captured', 'message', 'Captured money is refunded, not voided'));
              ELSE
                UPDATE sandbox_payment_authorizations SET voided = true WHERE authorization_id = a.authorization_id;
                outcome := jsonb_build_object('result', '{}'::jsonb);
              END IF;
            ELSIF p_kind = 'refund' THEN
              IF a.token = 'tok_refund_refused_once' AND NOT EXISTS (
                   SELECT 1 FROM sandbox_payment_operations o WHERE o.kind = 'refund' AND o.request->>'authorizationId' = a.authorization_id AND o.outcome->'declined' IS NOT NULL) THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'refund_refused', 'message', 'The issuer refused the refund (tok_refund_refused_once)'));
              ELSIF v_amount <= 0 OR a.refunded + v_amount > a.captured THEN
                outcome := jsonb_build_object('declined', jsonb_build_object('code', 'amount_exceeds_capture', 'message', 'Refunding ' || v_amount || ' exceeds what is left of ' || a.captured || ' captured'));
              ELSE
                UPDATE sandbox_payment_authorizations SET refunded = refunded + v_amount WHERE authorization_id = a.authorization_id;
                outcome := jsonb_build_object('result', jsonb_build_object('refundId', 'ref_' || p_new_id));
                lost := a.token = 'tok_refund_lost_once' AND n = 1;
              END IF;
            ELSE
              RAISE EXCEPTION 'unknown sandbox operation %', p_kind;
            END IF;
          END IF;
          INSERT INTO sandbox_payment_operations (idempotency_key, kind, request, outcome) VALUES (p_key, p_kind, p_request, outcome);
          RETURN outcome || jsonb_build_object('lost', lost);
        END
        $fn$;
      `);
    },
  },
  {
    // A fulfilment's label purchase that failed for good, while it stands (the label job gave up
    // and no operator has tried again yet): shown on the fulfilment and in the work queue.
    name: '016-fulfilment-label-failure',
    async up(knex) {
      await knex.raw('ALTER TABLE fulfilments ADD COLUMN label_failure jsonb');
    },
  },
  {
    // Why a kept job failed: the reason Redis had for it, or the rule that refused a fulfilment
    // step (kept here as a job an operator can retry). Jobs kept before have none.
    name: '017-failed-job-reason',
    async up(knex) {
      await knex.raw('ALTER TABLE failed_jobs ADD COLUMN reason text');
    },
  },
  {
    // Pickup orders whose store lacks some lines: a transfer fulfilment records its way to the
    // pickup store, a pickup the transfers it waits for; a stock transfer that carries an order's
    // units names the order and the fulfilment, which is where it is received.
    name: '018-pickup-transfers',
    async up(knex) {
      await knex.raw(`
        ALTER TABLE fulfilments ADD COLUMN transfer jsonb, ADD COLUMN inbound jsonb NOT NULL DEFAULT '[]';
        ALTER TABLE transfers ADD COLUMN order_id text, ADD COLUMN fulfilment_id text;
      `);
    },
  },
  {
    // Return parcels are polled at their carriers like outbound shipments: each return keeps its
    // parcel's status, and the ones still on their way are found by how long they have been
    // silent. No return had a label before this (nothing bought one), so none has a status yet.
    name: '019-returns-to-poll',
    async up(knex) {
      await knex.raw(`
        ALTER TABLE returns ADD COLUMN shipment_status text;
        CREATE INDEX returns_to_poll ON returns (last_tracking_at)
          WHERE status IN ('label_created', 'in_transit') AND shipment_status NOT IN ('delivered', 'returned_to_sender');
      `);
    },
  },
];
