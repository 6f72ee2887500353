/**
 * get_timeline / get_transcript take a range as moments of the one time grammar
 * (`from`/`to`: "+1:30", "14:32", ISO, epoch ms) as well as ms offsets, and both
 * forms select exactly the same events; a range that ends before it starts is
 * TRACED_INVALID_TIME, not an empty page.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { findOperation, invoke } from '../../src/api/index.js';
import type { TracedError } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';
import { testServices, type TestServices } from '../helpers/services.js';

const clock = (ts: number) => {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
};
const plus = (ms: number) => `+${Math.floor(ms / 60_000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`;

describe('ranges as moments', () => {
  let t: TestServices;
  let sid = '';
  let start = 0;
  const call = (op: string, p: Record<string, unknown>) => invoke(findOperation(op) as never, p, t.services) as Promise<any>;
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (e as TracedError).code,
    );

  beforeAll(async () => {
    t = testServices();
    const s = await t.recorder.start({ project: tempDir('range-'), profile: 'events', channels: [] });
    sid = s.session.id;
    start = s.session.started_at;
    await t.recorder.stop();
    // One event every 7 s for 10 minutes, on whole seconds so clock times name them exactly.
    t.events.appendLate(
      sid,
      Array.from({ length: 86 }, (_, i) => ({ channel: 'editor', type: 'editor.file_opened', offset_ms: i * 7000, data: { path: `src/f${i}.ts` } })),
    );
  });

  it('from/to as offsets, clock times and ISO select what from_ms/to_ms select', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 600 }),
        fc.constantFrom('plus', 'clock', 'iso', 'epoch'),
        async (a, b, form) => {
          const [lo, hi] = [Math.min(a, b) * 1000, Math.max(a, b) * 1000];
          // Clock times have whole seconds: start the range on the second the session's clock shows.
          const base = Math.ceil(start / 1000) * 1000 - start;
          const [f, tt] = [lo + base, hi + base];
          const as = (ms: number) =>
            form === 'plus' ? plus(ms) : form === 'clock' ? clock(start + ms) : form === 'iso' ? new Date(start + ms).toISOString() : start + ms;
          const want = await call('get_timeline', { session: sid, from_ms: form === 'plus' ? lo : f, to_ms: form === 'plus' ? hi : tt, limit: 1000 });
          const got = await call('get_timeline', { session: sid, from: as(form === 'plus' ? lo : f), to: as(form === 'plus' ? hi : tt), limit: 1000 });
          expect(got.events.map((e: any) => e.seq)).toEqual(want.events.map((e: any) => e.seq));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a range that ends before it starts is TRACED_INVALID_TIME; both forms of one end is refused; junk is a time error', async () => {
    expect(await code(call('get_timeline', { session: sid, from: '+2:00', to: '+1:00' }))).toBe('TRACED_INVALID_TIME');
    expect(await code(call('get_timeline', { session: sid, from_ms: 60_000, to_ms: 1000 }))).toBe('TRACED_INVALID_TIME');
    expect(await code(call('get_transcript', { session: sid, from: '+2:00', to: '+1:00' }))).toBe('TRACED_INVALID_TIME');
    expect(await code(call('get_timeline', { session: sid, from: '+1:00', from_ms: 1000 }))).toBe('TRACED_INVALID_PARAMS');
    for (const bad of ['99:99', 'yesterday', '2h', '+1:99', '']) {
      expect(['TRACED_INVALID_TIME', 'TRACED_INVALID_PARAMS'], bad).toContain(await code(call('get_timeline', { session: sid, from: bad })));
    }
    expect(await code(call('get_timeline', { session: sid, from: new Date(start - 3_600_000).toISOString() }))).toBe('TRACED_INVALID_TIME');
  });
});
