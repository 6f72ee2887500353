import { describe, expect, it } from 'vitest';
import { parseTimeArg, toFtsQuery } from '../../src/timeline/query.js';
import { redact, redactRecognized } from '../../src/timeline/redact.js';

describe('toFtsQuery', () => {
  it('quotes identifiers and paths so punctuation is never FTS syntax', () => {
    expect(toFtsQuery('store.ts(42,17)')).toBe('"store.ts(42,17)"');
    expect(toFtsQuery('TS2345 invalidateCache')).toBe('"TS2345" "invalidateCache"');
    expect(toFtsQuery('"the cache" invalid*')).toBe('"the cache" "invalid"*');
    expect(toFtsQuery('cache OR memo')).toBe('"cache" OR "memo"');
    expect(toFtsQuery('a "b""c" NEAR(')).toBe('"a" "b" "c" "NEAR("');
  });
  it('refuses a query with nothing to search for', () => {
    expect(() => toFtsQuery('-- ** ()')).toThrowError(expect.objectContaining({ code: 'TRACED_SEARCH_QUERY' }));
  });
});

describe('parseTimeArg', () => {
  it('reads epoch ms, ISO and relative times; a small number is an offset, which a range across sessions refuses', () => {
    expect(parseTimeArg(1_764_430_000_000, 5000)).toBe(1_764_430_000_000);
    expect(() => parseTimeArg(1000, 5000)).toThrowError(expect.objectContaining({ code: 'TRACED_INVALID_TIME' }));
    expect(parseTimeArg('30m', 3_600_000)).toBe(1_800_000);
    expect(parseTimeArg('2026-01-01T00:00:00Z', 0)).toBe(Date.UTC(2026, 0, 1));
    expect(() => parseTimeArg('yesterday-ish', 0)).toThrowError(expect.objectContaining({ code: 'TRACED_INVALID_TIME' }));
    expect(() => parseTimeArg('99999999999999999999', 0)).toThrowError(expect.objectContaining({ code: 'TRACED_INVALID_TIME' }));
    expect(() => parseTimeArg('99999999999999999999w', Date.now())).toThrowError(expect.objectContaining({ code: 'TRACED_INVALID_TIME' }));
  });
});

describe('redact', () => {
  const cases: [string, string][] = [
    ['key AKIAIOSFODNN7EXAMPLE here', 'aws_access_key'],
    ['ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'github_token'],
    ['npm_abcdefghijklmnopqrstuvwxyz0123456789', 'npm_token'],
    ['xoxb-123456789012-abcdefghijkl', 'slack_token'],
    ['sk_live_abcdefghijklmnop1234', 'stripe_key'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'jwt'],
    ['curl -H "Authorization: Bearer abcdef0123456789xyz"', 'bearer'],
    ['postgres://admin:s3cretpass@db.local/app', 'url_password'],
    ['DATABASE_PASSWORD=hunter2hunter2', 'env_assignment'],
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----', 'private_key'],
  ];
  for (const [text, kind] of cases) {
    it(`redacts ${kind}`, () => {
      const out = redact(text);
      expect(out).toContain(`[REDACTED:${kind}]`);
    });
  }
  it('keeps the text around a secret and leaves ordinary code alone', () => {
    expect(redact('postgres://admin:s3cretpass@db.local/app')).toBe('postgres://admin:[REDACTED:url_password]@db.local/app');
    expect(redact('const token = await getToken(); invalidateCache(store.ts)')).toBe('const token = await getToken(); invalidateCache(store.ts)');
  });
});

describe('redactRecognized (OCR and speech text)', () => {
  it('catches secrets a recognizer split with stray spaces or misread', () => {
    expect(redactRecognized('SLACK xoxb-2048917365 -AbCdEfGhIjKlMnOp')).toBe('SLACK [REDACTED:slack_token]');
    expect(redactRecognized('postgres://admin: Tr0ub4dor@db.internal/app')).toContain('[REDACTED:url_password]');
    expect(redactRecognized('----- BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA7bq98 -----END RSA PRIVATE KEY-----')).toBe('[REDACTED:private_key]');
    expect(redactRecognized('STRIPE sk_live_ 51HqZxK2eZvKYlo2CdRf7TgYh')).toBe('STRIPE [REDACTED:stripe_key]');
    expect(redactRecognized('key=AIzaSyDaGmWKa4J sXZHj Gw7ISLn95dB/WbbDvdE')).not.toMatch(/Gw7IS|AIzaSy/);
    expect(redactRecognized('KEY_ID=AKIAITOSFODNN7EXAMPLE')).toContain('[REDACTED:aws_access_key]');
    expect(redactRecognized('Authorization: Bearer 9f8e7d6c5b4a39281706f5e4')).toBe('Authorization: Bearer [REDACTED:bearer]');
  });

  it('keeps what people search for: identifiers, hashes, UUIDs, paths, error codes', () => {
    const text =
      'invalidateCacheForUserSession 3f2a9c1b7e5d4a6b8c0d9e1f2a3b4c5d6e7f8a9b 123e4567-e89b-12d3-a456-426614174000 src/cache/store.ts(42,17) error TS2345';
    expect(redactRecognized(text)).toBe(text);
  });
});
