import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findOperation, invoke } from '../../src/api/index.js';
import { TracedError } from '../../src/errors.js';
import { testServices } from '../helpers/services.js';

describe('what_happened last: the time grammar, not a regex', () => {
  const t = testServices();
  const op = findOperation('what_happened');
  if (!op) throw new Error('what_happened missing');

  it('a bad value is TRACED_INVALID_TIME naming durations, never a raw pattern', async () => {
    for (const last of ['yesterday', '14:32', '+90s', '2 hours', '-1h', '1e3m']) {
      const err = await invoke(op, { last }, t.services).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, last).toBeInstanceOf(TracedError);
      expect((err as TracedError).code, last).toBe('TRACED_INVALID_TIME');
      expect((err as TracedError).message, last).toMatch(/30m, 2h, 1d/);
      expect((err as TracedError).message, last).not.toMatch(/\\d|\[smhdw\]|regex|pattern/i);
    }
  });

  it('every duration is accepted, and anything else is a coded time error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 12 }),
          fc.tuple(fc.integer({ min: 1, max: 2000 }), fc.constantFrom('s', 'm', 'h', 'd', 'w')).map(([n, u]) => `${n}${u}`),
        ),
        async (last) => {
          const r = await invoke(op, { last }, t.services).then(
            () => 'ok',
            (e: unknown) => (e as TracedError).code,
          );
          // Up to 2000 weeks (38 years) back stays after 1970: every such duration is a time.
          if (/^\d{1,9}[smhdw]$/.test(last) && Number.parseInt(last, 10) <= 2000) expect(r).toBe('ok');
          else expect(['ok', 'TRACED_INVALID_TIME', 'TRACED_INVALID_PARAMS']).toContain(r);
        },
      ),
      { numRuns: 150 },
    );
  });
});
