/**
 * checkShape at the trust boundary: each limit refuses with
 * TRACED_INVALID_PARAMS and says which limit; anything at all gives either
 * nothing or that coded error; hostile depth and width are answered fast.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, TracedError } from '../../src/errors.js';
import { checkShape, SHAPE_LIMITS } from '../../src/timeline/shape.js';

function refusal(value: unknown, what?: string): TracedError | undefined {
  try {
    checkShape(value, SHAPE_LIMITS, what);
    return undefined;
  } catch (err) {
    if (err instanceof TracedError) return err;
    throw err;
  }
}

function nested(depth: number, leaf: unknown = 1, kind: 'array' | 'object' = 'array'): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

describe('checkShape limits', () => {
  it('has the limits DESIGN §11 names', () => {
    expect(SHAPE_LIMITS).toEqual({ maxDepth: 64, maxStringBytes: 256 * 1024, maxArrayItems: 10_000, maxObjectKeys: 1_000, maxTotalBytes: 1024 * 1024 });
  });

  it('accepts values at each limit', () => {
    expect(refusal(nested(64))).toBeUndefined();
    expect(refusal(nested(64, 'x', 'object'))).toBeUndefined();
    expect(refusal('a'.repeat(256 * 1024))).toBeUndefined();
    expect(refusal(new Array(10_000).fill(0))).toBeUndefined();
    expect(refusal(Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i])))).toBeUndefined();
    expect(refusal({ text: 'é'.repeat(100_000) })).toBeUndefined(); // 200,000 bytes
  });

  const cases: [string, unknown, string, number][] = [
    ['depth (arrays)', nested(65), 'depth', 64],
    ['depth (objects)', nested(65, 1, 'object'), 'depth', 64],
    ['a long string', { s: 'a'.repeat(256 * 1024 + 1) }, 'string', 256 * 1024],
    ['a string long in UTF-8 bytes', { s: '€'.repeat(90_000) }, 'string', 256 * 1024],
    ['a long key', { ['k'.repeat(300_000)]: 1 }, 'string', 256 * 1024],
    ['a long array', new Array(10_001).fill(0), 'array', 10_000],
    ['a wide object', Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`k${i}`, i])), 'object', 1_000],
    ['a large total', Array.from({ length: 5_000 }, () => 'x'.repeat(250)), 'size', 1024 * 1024],
  ];
  for (const [name, value, limit, max] of cases) {
    it(`refuses ${name} with TRACED_INVALID_PARAMS naming the ${limit} limit`, () => {
      const err = refusal(value, 'event.data');
      expect(err?.code).toBe(ErrorCodes.INVALID_PARAMS);
      expect(err?.data).toEqual({ limit, max, field: 'event.data' });
      expect(err?.message).toContain(limit);
    });
  }

  it('names the field it was given, and "data" by default', () => {
    expect(refusal(nested(100))?.data?.field).toBe('data');
  });
});

describe('checkShape on hostile input', () => {
  it('refuses 100,000 levels of nesting without a stack overflow, in well under 100 ms', () => {
    const arr = nested(100_000);
    const obj = nested(100_000, 'x', 'object');
    checkShape({ warm: nested(10) });
    for (const v of [arr, obj]) {
      const t = performance.now();
      const err = refusal(v);
      expect(performance.now() - t).toBeLessThan(100);
      expect(err?.data).toMatchObject({ limit: 'depth' });
    }
  });

  it('refuses a cyclic value instead of looping', () => {
    const cyc: unknown[] = [];
    for (let i = 0; i < 10_000; i++) cyc.push(cyc);
    const o: Record<string, unknown> = {};
    o.self = o;
    const t = performance.now();
    expect(refusal(cyc)?.code).toBe(ErrorCodes.INVALID_PARAMS);
    expect(refusal(o)?.code).toBe(ErrorCodes.INVALID_PARAMS);
    expect(performance.now() - t).toBeLessThan(100);
  });

  it('gives nothing or TRACED_INVALID_PARAMS for anything at all (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.anything({
          maxDepth: 6,
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withTypedArray: true,
          withSparseArray: true,
          withNullPrototype: true,
          withBoxedValues: true,
        }),
        (v) => {
          try {
            checkShape(v);
          } catch (err) {
            expect(err).toBeInstanceOf(TracedError);
            expect((err as TracedError).code).toBe(ErrorCodes.INVALID_PARAMS);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('accepts every small JSON value, and refuses exactly what is too deep (fast-check)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), fc.integer({ min: 0, max: 80 }), (v, wrap) => {
        expect(refusal(v)).toBeUndefined();
        const deep = nested(wrap, v);
        let depth = wrap;
        // The depth of `v` itself: containers on its deepest path.
        const stack: [unknown, number][] = [[v, 0]];
        let own = 0;
        while (stack.length) {
          const [x, d] = stack.pop() as [unknown, number];
          if (x !== null && typeof x === 'object') {
            own = Math.max(own, d + 1);
            for (const c of Object.values(x)) stack.push([c, d + 1]);
          }
        }
        depth += own;
        expect(refusal(deep)?.data?.limit).toBe(depth > 64 ? 'depth' : undefined);
      }),
      { numRuns: 500 },
    );
  });
});
