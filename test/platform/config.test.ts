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
});
