import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../platform/config.js';

describe('configuration', () => {
  it('starts with sensible defaults and the development key, outside production', () => {
    const c = loadConfig({});
    expect(c).to.include({ port: 3000, eventStore: 'postgres', databaseSchema: 'public', usingDevKey: true });
    expect(c.roles).to.deep.equal(['api', 'projections', 'sourcing', 'jobs']);
    expect(c.apiKeys.get('dev-admin-key')).to.equal('admin');
  });

  it('refuses to start in production without API keys', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(ConfigError, /OMS_API_KEYS/);
  });

  it('reads API keys with their roles and refuses an unknown role', () => {
    const c = loadConfig({ OMS_API_KEYS: 'a:client, b:operator' });
    expect([...c.apiKeys]).to.deep.equal([['a', 'client'], ['b', 'operator']]);
    expect(() => loadConfig({ OMS_API_KEYS: 'a:king' })).to.throw(ConfigError);
  });

  it('keeps the queues of deployments on different databases apart by default', () => {
    const a = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/shop_a' }).queuePrefix;
    const b = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/shop_b' }).queuePrefix;
    expect(a).to.not.equal(b);
    expect(a).to.not.contain(':');
    expect(loadConfig({ QUEUE_PREFIX: 'mine' }).queuePrefix).to.equal('mine');
  });

  it('refuses unknown roles, event stores and schema names', () => {
    expect(() => loadConfig({ OMS_ROLES: 'api,everything' })).to.throw(ConfigError);
    expect(() => loadConfig({ EVENT_STORE: 'mysql' })).to.throw(ConfigError);
    expect(() => loadConfig({ DATABASE_SCHEMA: 'Robert"); DROP' })).to.throw(ConfigError);
  });

  describe('carriers', () => {
    it('enables the three sandbox carriers by default, with development webhook secrets outside production', () => {
      const { carriers } = loadConfig({});
      expect(carriers).to.deep.include({ enabled: ['nationalpost', 'parcelnet', 'jetexpress'], standardMaxDays: 5, quoteTimeoutMs: 1500, usingDevWebhookSecrets: true });
      expect(carriers.preferences).to.deep.equal({ preferred: [], excluded: [], marginPercent: 0 });
      expect(carriers.sandbox).to.deep.equal({ latencyMs: 40, faults: {}, clock: 1 });
      expect(carriers.webhookSecrets.get('parcelnet')).to.equal('dev-parcelnet-webhook-secret');
    });

    it('requires webhook secrets in production, one for every enabled carrier', () => {
      const production = { NODE_ENV: 'production', OMS_API_KEYS: 'k:admin' };
      expect(() => loadConfig(production)).to.throw(ConfigError, /CARRIER_WEBHOOK_SECRETS/);
      const secrets = 'nationalpost:np-secret-0123456789,parcelnet:pn:secret-0123456789';
      expect(() => loadConfig({ ...production, CARRIER_WEBHOOK_SECRETS: secrets })).to.throw(ConfigError, /no secret for jetexpress/);
      const c = loadConfig({ ...production, CARRIERS: 'nationalpost,parcelnet', CARRIER_WEBHOOK_SECRETS: secrets }).carriers;
      expect([...c.webhookSecrets]).to.deep.equal([['nationalpost', 'np-secret-0123456789'], ['parcelnet', 'pn:secret-0123456789']]);
      expect(c.usingDevWebhookSecrets).to.equal(false);
      expect(() => loadConfig({ CARRIER_WEBHOOK_SECRETS: 'nationalpost:short' })).to.throw(ConfigError, /at least 16/);
      expect(() => loadConfig({ CARRIER_WEBHOOK_SECRETS: 'fedex:0123456789abcdef0123' })).to.throw(ConfigError, /unknown carrier "fedex"/);
    });

    it('reads the enabled carriers, preferences, timeouts and the sandbox clock, and refuses unknown carriers', () => {
      const c = loadConfig({
        CARRIERS: 'parcelnet, jetexpress', CARRIER_PREFERENCES: '{"preferred":["parcelnet"],"excluded":["jetexpress"],"marginPercent":5}',
        STANDARD_MAX_DAYS: '3', CARRIER_QUOTE_TIMEOUT_MS: '800', SANDBOX_CARRIER_LATENCY_MS: '5', SANDBOX_CARRIER_CLOCK: '3600',
      }).carriers;
      expect(c).to.deep.include({ enabled: ['parcelnet', 'jetexpress'], standardMaxDays: 3, quoteTimeoutMs: 800 });
      expect(c.preferences).to.deep.equal({ preferred: ['parcelnet'], excluded: ['jetexpress'], marginPercent: 5 });
      expect(c.sandbox).to.include({ latencyMs: 5, clock: 3600 });
      expect(() => loadConfig({ CARRIERS: 'parcelnet,pigeon' })).to.throw(ConfigError, /pigeon/);
      expect(() => loadConfig({ CARRIERS: ' , ' })).to.throw(ConfigError, /at least one/);
      expect(() => loadConfig({ CARRIER_PREFERENCES: '{"preferred":"parcelnet"}' })).to.throw(ConfigError, /list/);
      expect(() => loadConfig({ CARRIER_PREFERENCES: '{"excluded":["pigeon"]}' })).to.throw(ConfigError, /pigeon/);
      expect(() => loadConfig({ CARRIER_PREFERENCES: '{"marginPercent":-1}' })).to.throw(ConfigError, /marginPercent/);
      expect(() => loadConfig({ CARRIER_PREFERENCES: '[]' })).to.throw(ConfigError, /JSON object/);
      expect(() => loadConfig({ SANDBOX_CARRIER_CLOCK: '0' })).to.throw(ConfigError, /SANDBOX_CARRIER_CLOCK/);
    });

    it('reads sandbox faults: a fault, a list of them, or one for a single reference', () => {
      const { faults } = loadConfig({ SANDBOX_CARRIER_FAULTS: '{"jetexpress":"down","parcelnet":["fail_once",{"fault":"lose_once","reference":"f-1"}]}' }).carriers.sandbox;
      expect(faults).to.deep.equal({ jetexpress: [{ fault: 'down' }], parcelnet: [{ fault: 'fail_once' }, { fault: 'lose_once', reference: 'f-1' }] });
      expect(() => loadConfig({ SANDBOX_CARRIER_FAULTS: '{"jetexpress":"exploding"}' })).to.throw(ConfigError, /jetexpress/);
      expect(() => loadConfig({ SANDBOX_CARRIER_FAULTS: '{"jetexpress":null}' })).to.throw(ConfigError);
      expect(() => loadConfig({ SANDBOX_CARRIER_FAULTS: '{"pigeon":"down"}' })).to.throw(ConfigError, /pigeon/);
      expect(() => loadConfig({ SANDBOX_CARRIER_FAULTS: 'down' })).to.throw(ConfigError, /JSON/);
    });
  });
});
