/**
 * Time arguments that used to be accepted silently or refused with the wrong
 * code, through the operation layer every adapter uses (invoke: MCP, IPC and
 * the CLI's calls), on a session that is recording:
 * - a since/until pair that ends before it starts (list_sessions, search,
 *   what_happened) is TRACED_INVALID_TIME, not an empty answer; so is last with since;
 * - a time argument that fails its schema (replay_at at -5, 1.5, 1e300;
 *   list_sessions since "") is TRACED_INVALID_TIME naming the accepted forms;
 * - a moment later than now in a live session (replay_at +300d, get_timeline
 *   from "1:00" read as tomorrow) is TRACED_INVALID_TIME saying when the session
 *   started, with a "+1:00" hint when the text fits as an offset.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOperation, invoke } from '../../src/api/index.js';
import { parseRange } from '../../src/timeline/query.js';
import type { TracedError } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';
import { testServices, type TestServices } from '../helpers/services.js';

let t: TestServices;
let sid = '';
let start = 0;
const call = (op: string, p: Record<string, unknown>) => invoke(findOperation(op) as never, p, t.services) as Promise<any>;
const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: 'ok', message: '' }),
    (e: unknown) => ({ code: (e as TracedError).code, message: (e as TracedError).message }),
  );

beforeAll(async () => {
  t = testServices();
  const s = await t.recorder.start({ project: tempDir('times-'), profile: 'events', channels: [] });
  sid = s.session.id;
  start = s.session.started_at;
});
afterAll(async () => {
  await t.recorder.stop();
});

describe('since after until', () => {
  it('list_sessions, search and what_happened refuse an empty range with TRACED_INVALID_TIME; the right way round finds the live session', async () => {
    const bad = { since: '1h', until: '2h' };
    expect((await failure(call('list_sessions', bad))).code).toBe('TRACED_INVALID_TIME');
    expect((await failure(call('search', { query: 'anything', ...bad }))).code).toBe('TRACED_INVALID_TIME');
    expect((await failure(call('what_happened', bad))).code).toBe('TRACED_INVALID_TIME');
    expect((await failure(call('what_happened', { last: '2h', since: '1h' }))).code).toBe('TRACED_INVALID_TIME');
    const ok = await call('list_sessions', { since: '2h', until: '0m' });
    expect(ok.sessions.map((x: { id: string }) => x.id)).toContain(sid);
  });

  it('property: parseRange refuses exactly the pairs whose start is after their end', () => {
    const now = Date.UTC(2026, 10, 29, 12);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (a, b) => {
        let threw = false;
        try {
          const r = parseRange({ since: `${a}m`, until: `${b}m` }, now);
          expect(r.since as number).toBeLessThanOrEqual(r.until as number);
        } catch (e) {
          threw = true;
          expect((e as TracedError).code).toBe('TRACED_INVALID_TIME');
        }
        expect(threw).toBe(a < b);
      }),
    );
  });
});

describe('time arguments that fail their schema', () => {
  it('are TRACED_INVALID_TIME naming the forms the field takes, not TRACED_INVALID_PARAMS', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['replay_at', { session: sid, at: -5 }, /\+1:30/],
      ['replay_at', { session: sid, at: 1.5 }, /\+1:30/],
      ['replay_at', { session: sid, at: 1e300 }, /\+1:30/],
      ['replay_at', { session: sid, at: '' }, /\+1:30/],
      ['annotate', { session: sid, at: { h: 1 }, text: 'x' }, /\+1:30/],
      ['get_timeline', { session: sid, from: -1 }, /\+1:30/],
      ['list_sessions', { since: '' }, /30m, 2h, 1d/],
      ['what_happened', { last: '14:32' }, /duration/],
      ['what_happened', { until: true }, /30m, 2h, 1d/],
    ];
    for (const [op, p, forms] of cases) {
      const f = await failure(call(op, p));
      expect(f.code, `${op} ${JSON.stringify(p)}: ${f.message}`).toBe('TRACED_INVALID_TIME');
      expect(f.message, op).toMatch(forms);
    }
    // A since/until message does not offer offsets: a range spans sessions.
    expect((await failure(call('list_sessions', { since: '' }))).message).not.toMatch(/\+90s/);
    // A missing time argument is a missing argument; a bad one beside another bad field stays INVALID_PARAMS.
    expect((await failure(call('replay_at', { session: sid }))).code).toBe('TRACED_INVALID_PARAMS');
    expect((await failure(call('replay_at', { session: sid, at: -5, tolerance_ms: -1 }))).code).toBe('TRACED_INVALID_PARAMS');
  });
});

describe('moments after now in a recording session', () => {
  it('replay_at +300d and a clock time that is tomorrow are refused, saying when the session started; a moment inside it works', async () => {
    const far = await failure(call('replay_at', { session: sid, at: '+300d' }));
    expect(far.code).toBe('TRACED_INVALID_TIME');
    expect(far.message).toMatch(/started \d{4}-\d\d-\d\dT/);
    expect(far.message).toMatch(/recording/);
    expect((await call('replay_at', { session: sid, at: '+0:00' })).offset_ms).toBe(0);
    // The session is seconds old: "0:01" is 00:01 on its day (before it, or tomorrow) — either way refused, with the + hint.
    await new Promise((r) => setTimeout(r, 1100));
    for (const op of ['replay_at', 'get_timeline'] as const) {
      const p = op === 'replay_at' ? { session: sid, at: '0:01' } : { session: sid, from: '0:01' };
      const f = await failure(call(op, p));
      expect(f.code, op).toBe('TRACED_INVALID_TIME');
      if (new Date(start).getHours() !== 0) expect(f.message, op).toMatch(/did you mean \+0:01/);
    }
    // A long clock-looking text that cannot be an offset of a seconds-old session gets no hint.
    const noHint = await failure(call('get_timeline', { session: sid, from: '23:59' }));
    const d = new Date(start);
    if (d.getHours() * 60 + d.getMinutes() < 23 * 60 + 59) expect(noHint.code).toBe('TRACED_INVALID_TIME');
    expect(noHint.message).not.toMatch(/did you mean/);
  });
});
