import { expect } from 'chai';
import { CarrierUnavailable, type Carrier, type Quote, type RateRequest } from '../../carriers/carrier.port.js';
import { chooseRate, shopRates, type RateShoppingRules } from '../../carriers/rate-shopping.js';

const q = (carrierId: string, service: string, amount: number, transitDays: number, estimatedDelivery: string): Quote =>
  ({ carrierId, service, amount, currency: 'EUR', transitDays, estimatedDelivery });

const QUOTES = [
  q('nationalpost', 'economy', 420, 4, '2025-03-17'),
  q('nationalpost', 'priority', 630, 2, '2025-03-13'),
  q('parcelnet', 'ground', 450, 3, '2025-03-14'),
  q('parcelnet', 'priority', 585, 2, '2025-03-13'),
  q('jetexpress', 'express', 990, 1, '2025-03-12'),
  q('jetexpress', 'express_saver', 792, 2, '2025-03-13'),
];

const rules = (overrides: Partial<RateShoppingRules> & { preferred?: string[]; excluded?: string[]; marginPercent?: number } = {}): RateShoppingRules => ({
  speed: overrides.speed ?? 'cheapest',
  standardMaxDays: overrides.standardMaxDays ?? 5,
  preferences: { preferred: overrides.preferred ?? [], excluded: overrides.excluded ?? [], marginPercent: overrides.marginPercent ?? 0 },
});
const winner = (quotes: Quote[], r: RateShoppingRules, unavailable: string[] = []) => {
  const { chosen } = chooseRate(quotes, unavailable, r);
  return chosen && `${chosen.carrierId}/${chosen.service}`;
};

describe('rate shopping', () => {
  describe('by the order\'s speed', () => {
    it('cheapest: the lowest amount, whatever the transit', () => {
      const { chosen, choice } = chooseRate(QUOTES, [], rules());
      expect(chosen).to.equal(QUOTES[0]);
      expect(choice.why).to.equal('cheapest: the cheapest, nationalpost economy at 4.20 EUR, delivered by 2025-03-17 (4 days in transit)');
      expect(choice.quotes).to.deep.equal(QUOTES);
    });

    it('standard: the lowest amount within the configured transit days', () => {
      expect(winner(QUOTES, rules({ speed: 'standard', standardMaxDays: 5 }))).to.equal('nationalpost/economy');
      const { chosen, choice } = chooseRate(QUOTES, [], rules({ speed: 'standard', standardMaxDays: 3 }));
      expect(chosen).to.equal(QUOTES[2]);
      expect(choice.why).to.match(/^standard: the cheapest within 3 days in transit, parcelnet ground at 4\.50 EUR/);
    });

    it('standard: the fastest, then the cheapest, when no quote is within the transit days', () => {
      const slow = QUOTES.filter((x) => x.carrierId !== 'jetexpress');
      const { chosen, choice } = chooseRate(slow, [], rules({ speed: 'standard', standardMaxDays: 1 }));
      expect(chosen).to.equal(QUOTES[3]);
      expect(choice.why).to.match(/^standard: no quote within 1 day in transit, so the fastest, parcelnet priority/);
    });

    it('express: the earliest delivery, then the lowest amount', () => {
      expect(winner(QUOTES, rules({ speed: 'express' }))).to.equal('jetexpress/express');
      expect(winner(QUOTES, rules({ speed: 'express', excluded: ['jetexpress'] }))).to.equal('parcelnet/priority');
    });

    it('breaks a remaining tie by the earlier delivery, then by carrier and service', () => {
      const tie = [q('nationalpost', 'economy', 450, 4, '2025-03-17'), q('parcelnet', 'ground', 450, 3, '2025-03-14')];
      expect(winner(tie, rules())).to.equal('parcelnet/ground');
      expect(winner([q('b', 's', 450, 3, '2025-03-14'), q('a', 's', 450, 3, '2025-03-14')], rules())).to.equal('a/s');
    });
  });

  describe('with carrier preferences', () => {
    it('a preferred carrier wins a tie on price', () => {
      const tie = [q('parcelnet', 'ground', 450, 3, '2025-03-14'), q('nationalpost', 'economy', 450, 4, '2025-03-17')];
      const { chosen, choice } = chooseRate(tie, [], rules({ preferred: ['nationalpost'] }));
      expect(chosen).to.equal(tie[1]);
      expect(choice.why).to.match(/^cheapest: preferred carrier nationalpost economy at 4\.50 EUR.*, as cheap as the cheapest, parcelnet ground/);
    });

    it('a preferred carrier wins within the margin, and only within it', () => {
      expect(winner(QUOTES, rules({ preferred: ['parcelnet'], marginPercent: 10 }))).to.equal('parcelnet/ground');
      expect(chooseRate(QUOTES, [], rules({ preferred: ['parcelnet'], marginPercent: 10 })).choice.why).to.match(/within 10% of the cheapest, nationalpost economy/);
      expect(winner(QUOTES, rules({ preferred: ['parcelnet'], marginPercent: 5 }))).to.equal('nationalpost/economy');
    });

    it('the first preferred carrier that qualifies wins', () => {
      expect(winner(QUOTES, rules({ preferred: ['jetexpress', 'parcelnet', 'nationalpost'], marginPercent: 10 }))).to.equal('parcelnet/ground');
    });

    it('where speed decides, a preferred carrier must deliver as early as the fastest', () => {
      expect(winner(QUOTES, rules({ speed: 'express', preferred: ['nationalpost'], marginPercent: 100 }))).to.equal('jetexpress/express');
      expect(winner(QUOTES, rules({ speed: 'express', excluded: ['jetexpress'], preferred: ['nationalpost'], marginPercent: 10 }))).to.equal('nationalpost/priority');
    });

    it('an excluded carrier is never chosen, and the choice says so', () => {
      const { chosen, choice } = chooseRate(QUOTES, [], rules({ excluded: ['nationalpost'], preferred: ['nationalpost'] }));
      expect(chosen).to.equal(QUOTES[2]);
      expect(choice.why).to.match(/; nationalpost is excluded$/);
      expect(choice.quotes).to.have.length(QUOTES.length);
    });
  });

  describe('with carriers that did not answer', () => {
    it('chooses from the others and lists them', () => {
      const { chosen, choice } = chooseRate(QUOTES.slice(0, 4), ['jetexpress'], rules({ speed: 'express' }));
      expect(chosen).to.equal(QUOTES[3]);
      expect(choice.unavailable).to.deep.equal(['jetexpress']);
      expect(choice.why).to.match(/; jetexpress did not answer in time$/);
    });

    it('chooses nothing when no carrier answered, or none carries the packages, and says which', () => {
      expect(chooseRate([], ['nationalpost', 'parcelnet'], rules())).to.deep.equal({
        chosen: null,
        choice: { why: 'nothing to choose from: no carrier answered; nationalpost did not answer in time; parcelnet did not answer in time', quotes: [], unavailable: ['nationalpost', 'parcelnet'] },
      });
      expect(chooseRate([], [], rules()).choice.why).to.equal('nothing to choose from: no carrier offers a service for these packages');
      expect(chooseRate(QUOTES.slice(0, 2), [], rules({ excluded: ['nationalpost'] })).chosen).to.equal(null);
    });
  });

  describe('shopRates', () => {
    const request = { reference: 'f-1' } as RateRequest;
    const aborted: string[] = [];
    const fake = (carrierId: string, answer: (signal?: AbortSignal) => Promise<Quote[]>): Carrier => ({
      carrierId, name: carrierId, services: [],
      quote: (_r, options) => {
        options?.signal?.addEventListener('abort', () => aborted.push(carrierId));
        return answer(options?.signal);
      },
      buyLabel: () => { throw new Error('not here'); },
      track: () => { throw new Error('not here'); },
      cancelLabel: () => { throw new Error('not here'); },
    });
    const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

    it('asks every carrier at once and lists those that fail or are too slow as unavailable, the others\' quotes cheapest first', async () => {
      const started = Date.now();
      const result = await shopRates([
        fake('express', () => after(5, [QUOTES[4]])),
        fake('slow', () => after(10_000, [q('slow', 'x', 1, 1, '2025-03-12')])),
        fake('down', async () => { throw new CarrierUnavailable('down', 'down'); }),
        fake('broken', async () => { throw new TypeError('a bug'); }),
        fake('post', () => after(20, QUOTES.slice(0, 2))),
      ], request, 100);
      expect(Date.now() - started).to.be.below(1000);
      expect(result).to.deep.equal({ quotes: [QUOTES[0], QUOTES[1], QUOTES[4]], unavailable: ['slow', 'down', 'broken'] });
      expect(aborted).to.deep.equal(['slow']);
    });

    it('answers with every quote when all answer in time', async () => {
      expect(await shopRates([fake('a', () => after(1, [QUOTES[2]])), fake('b', async () => [])], request, 100)).to.deep.equal({ quotes: [QUOTES[2]], unavailable: [] });
    });
  });
});
