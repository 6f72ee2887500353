/**
 * redactDeep on arbitrary and hostile JSON: it never throws, keeps the shape
 * (same keys, same lengths; only leaves change), walks any depth without
 * recursion, and treats `__proto__` and cycles as data.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactDeep } from '../../src/timeline/redact.js';

/**
 * Where `a` and `b` differ in shape, or undefined: containers must match in
 * kind and size; a leaf may change value (a string or number can become a
 * marker) but never into a container, and booleans and null stay as they are.
 * Iterative, so it can check the 100,000-level values below.
 */
function shapeDiff(a: unknown, b: unknown): string | undefined {
  const stack: [unknown, unknown, string][] = [[a, b, '$']];
  const seen = new Set<unknown>();
  while (stack.length) {
    const [x, y, at] = stack.pop() as [unknown, unknown, string];
    if (x === null || typeof x !== 'object') {
      if (y !== null && typeof y === 'object') return `${at}: leaf became a container`;
      if ((typeof x === 'boolean' || x === null) && x !== y) return `${at}: ${String(x)} became ${String(y)}`;
      if (typeof x === 'string' && typeof y !== 'string') return `${at}: string became ${typeof y}`;
      if (typeof x === 'number' && typeof y !== 'number' && typeof y !== 'string') return `${at}: number became ${typeof y}`;
      continue;
    }
    if (seen.has(x)) continue;
    seen.add(x);
    if (y === null || typeof y !== 'object' || Array.isArray(x) !== Array.isArray(y)) return `${at}: container kind changed`;
    // Output objects are plain: a `__proto__` key must never have become their prototype.
    if (!Array.isArray(y) && Object.getPrototypeOf(y) !== Object.prototype) return `${at}: not a plain object`;
    const kx = Object.keys(x);
    const ky = Object.keys(y as object);
    if (kx.length !== ky.length) return `${at}: ${kx.length} keys became ${ky.length}`;
    for (let i = 0; i < kx.length; i++)
      stack.push([(x as Record<string, unknown>)[kx[i] as string], (y as Record<string, unknown>)[ky[i] as string], `${at}.${kx[i]}`]);
  }
  return undefined;
}

describe('redactDeep (fast-check)', () => {
  it('never throws and keeps the shape of any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (v) => {
        const out = redactDeep(v);
        expect(shapeDiff(v, out)).toBeUndefined();
        // What comes out is still JSON, and redacting it again changes nothing.
        const json = JSON.stringify(out);
        expect(JSON.stringify(redactDeep(JSON.parse(json)))).toBe(json);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the shape when keys and values are made of secret fragments', () => {
    const frag = fc.constantFrom(
      'password',
      'token',
      'api_key',
      'AKIA',
      'ghp_',
      'sk-',
      '=',
      ': ',
      ' ',
      '-p',
      'mysql',
      '__proto__',
      'constructor',
      '[REDACTED:jwt]',
    );
    const str = fc.array(fc.oneof(frag, fc.string({ maxLength: 40 })), { maxLength: 6 }).map((xs) => xs.join(''));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.boolean(), fc.constant(null), tie('arr'), tie('obj')),
      arr: fc.array(tie('node'), { maxLength: 5 }),
      obj: fc.dictionary(str, tie('node'), { maxKeys: 5 }),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(shapeDiff(v, redactDeep(v))).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('returns leaves other than strings and numbers as they are, and strings unchanged when nothing is secret', () => {
    fc.assert(
      fc.property(fc.oneof(fc.boolean(), fc.constant(null), fc.integer(), fc.double({ noNaN: true })), (v) => {
        expect(redactDeep({ n: v })).toEqual({ n: v });
      }),
    );
    expect(redactDeep({ path: 'src/cache.ts', tags: ['a', 'b'], nested: [{ kind: 'changed' }] })).toEqual({
      path: 'src/cache.ts',
      tags: ['a', 'b'],
      nested: [{ kind: 'changed' }],
    });
  });
});

describe('redactDeep on hostile shapes', () => {
  it('walks 100,000 levels of nesting without a stack overflow', () => {
    let arr: unknown = 'AKIAABCDEFGHIJKLMNOP';
    for (let i = 0; i < 100_000; i++) arr = [arr];
    let obj: unknown = { password: 'hunter22' };
    for (let i = 0; i < 100_000; i++) obj = { child: obj };
    const t = performance.now();
    const outArr = redactDeep(arr);
    const outObj = redactDeep(obj);
    expect(performance.now() - t).toBeLessThan(2000);
    let a: unknown = outArr;
    while (Array.isArray(a)) a = a[0];
    expect(a).toBe('[REDACTED:aws_access_key]');
    let o = outObj as Record<string, unknown>;
    while (o.child) o = o.child as Record<string, unknown>;
    expect(o).toEqual({ password: '[REDACTED:key:password]' });
  });

  it('treats a __proto__ key as data, never as the prototype', () => {
    const v = JSON.parse('{"__proto__": {"password": "hunter22", "polluted": true}, "a": 1}') as Record<string, unknown>;
    const out = redactDeep(v) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"password":"[REDACTED:key:password]","polluted":true},"a":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps cycles and shared references as they were instead of looping', () => {
    const shared = { token: 'x1234567' };
    const cyc: Record<string, unknown> = { a: shared, b: shared };
    cyc.self = cyc;
    const out = redactDeep(cyc) as Record<string, unknown>;
    expect(out.self).toBe(out);
    expect(out.a).toBe(out.b);
    expect(out.a).toEqual({ token: '[REDACTED:key:token]' });
  });

  it('redacts an argument vector by what each argument names', () => {
    expect(redactDeep(['aws', 'configure', 'set', 'aws_secret_access_key', 'wJalrXUtnFEMIK7MDENGbPxRfiCYzzzzzzzzzzzz'])).toEqual([
      'aws',
      'configure',
      'set',
      'aws_secret_access_key',
      '[REDACTED:key:aws_secret_access_key]',
    ]);
    expect(redactDeep(['psql', '--password', '-h', 'db'])).toEqual(['psql', '--password', '-h', 'db']);
    expect(redactDeep(['mysql', '-uroot', '-pS3cret', 'app'])).toEqual(['mysql', '-uroot', '-p[REDACTED:mysql_password]', 'app']);
    expect(redactDeep(['curl', '-u', 'admin:hunter22', 'https://x'])).toEqual(['curl', '-u', 'admin:[REDACTED:curl_user]', 'https://x']);
    expect(redactDeep(['reset', 'the', 'password', 'now'])).toEqual(['reset', 'the', 'password', 'now']);
  });
});
