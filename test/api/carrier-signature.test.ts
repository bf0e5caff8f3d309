import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { verifyCarrierSignature, type SignedRequest } from '../../api/carrier-signature.js';

const SECRET = 'parcelnet-secret-0123456789';
const NOW = new Date('2026-11-26T11:00:00.000Z');
const BODY = '{"trackingNumber":"PN000000000001","status":"in_transit","at":"2026-11-26T10:59:00.000Z"}';
const sign = (timestamp: string, body = BODY, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
const seconds = (d: Date) => String(Math.floor(d.getTime() / 1000));
const signed = (overrides: Partial<SignedRequest> = {}): SignedRequest => {
  const timestamp = overrides.timestamp ?? seconds(NOW);
  return { secret: SECRET, timestamp, signature: sign(timestamp), rawBody: BODY, now: NOW, ...overrides };
};
const reason = (r: SignedRequest) => {
  const check = verifyCarrierSignature(r);
  return check.ok ? 'ok' : check.reason;
};

describe('carrier webhook signatures', () => {
  it('accept the HMAC-SHA256 of "<timestamp>.<raw body>" with the carrier\'s secret, in either case of hex', () => {
    expect(verifyCarrierSignature(signed())).to.deep.equal({ ok: true });
    expect(reason(signed({ signature: signed().signature!.toUpperCase().replace('SHA256=', 'sha256=') }))).to.equal('ok');
  });

  it('accept a timestamp up to 5 minutes off either way, and refuse one further off', () => {
    for (const offMs of [-300_000, 300_000]) expect(reason(signed({ timestamp: seconds(new Date(NOW.getTime() + offMs)) }))).to.equal('ok');
    for (const offMs of [-301_000, 301_000]) expect(reason(signed({ timestamp: seconds(new Date(NOW.getTime() + offMs)) }))).to.match(/more than 5 minutes off/);
  });

  it('refuse another secret, a changed body, and a signature made for another timestamp', () => {
    expect(reason(signed({ signature: sign(seconds(NOW), BODY, 'another-secret-0123456789') }))).to.equal('the signature does not match');
    expect(reason(signed({ rawBody: BODY.replace('in_transit', 'delivered') }))).to.equal('the signature does not match');
    expect(reason(signed({ rawBody: `${BODY} ` }))).to.equal('the signature does not match');
    expect(reason(signed({ timestamp: seconds(new Date(NOW.getTime() - 1000)), signature: sign(seconds(NOW)) }))).to.equal('the signature does not match');
  });

  it('refuse a missing or malformed signature or timestamp, and a carrier without a secret', () => {
    expect(reason(signed({ signature: undefined }))).to.match(/X-Carrier-Signature is missing/);
    expect(reason(signed({ signature: signed().signature!.slice(7) }))).to.match(/X-Carrier-Signature/);
    expect(reason(signed({ signature: `${signed().signature!}00` }))).to.match(/X-Carrier-Signature/);
    expect(reason(signed({ signature: `sha1=${'0'.repeat(40)}` }))).to.match(/X-Carrier-Signature/);
    expect(reason(signed({ timestamp: undefined, signature: sign('') }))).to.match(/X-Carrier-Timestamp is missing/);
    expect(reason(signed({ timestamp: NOW.toISOString() }))).to.match(/X-Carrier-Timestamp/);
    expect(reason(signed({ secret: undefined }))).to.equal('no secret is configured for this carrier');
  });
});
