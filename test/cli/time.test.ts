/**
 * The one time grammar (DESIGN.md §8): properties over parseMoment (every
 * accepted form lands on the right millisecond; anything else is
 * TRACED_INVALID_TIME naming the forms, never another exception), then the
 * real CLI and a real daemon: the same forms work for --at, --from/--to,
 * --since/--until and for operation arguments (traced call), and a range
 * with from > to is an error, not "No events".
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OFFSET_MS, MAX_TS, parseMoment, RANGE_FORMS, TIME_FORMS } from '../../src/timeline/query.js';
import { TracedError } from '../../src/errors.js';
import { cli, killHomeDaemon, makeHome, makeRepo, type Home } from '../helpers/env.js';

const pad = (n: number) => String(n).padStart(2, '0');
const NOW = Date.UTC(2026, 10, 29, 15, 0, 0);

function invalid(value: unknown, use: 'at' | 'since' | 'until' | 'last' = 'at', sessionStart?: number): TracedError {
  try {
    parseMoment(value, use, { now: NOW, sessionStart });
  } catch (err) {
    expect(err).toBeInstanceOf(TracedError);
    return err as TracedError;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

describe('parseMoment (properties)', () => {
  it('+H:MM:SS, +M:SS, +N<unit> and bare whole numbers are offsets of exactly that many ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), (h, m, s) => {
        expect(parseMoment(`+${h}:${pad(m)}:${pad(s)}`, 'at', { now: NOW })).toEqual({ kind: 'offset', ms: (h * 3600 + m * 60 + s) * 1000 });
        expect(parseMoment(`+${h * 60 + m}:${pad(s)}`, 'at', { now: NOW })).toEqual({ kind: 'offset', ms: ((h * 60 + m) * 60 + s) * 1000 });
      }),
    );
    const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])), fc.integer({ min: 0, max: 100_000 }), (u, n) => {
        const ms = n * units[u];
        if (ms > MAX_OFFSET_MS) expect(invalid(`+${n}${u}`).code).toBe('TRACED_INVALID_TIME');
        else expect(parseMoment(`+${n}${u}`, 'at', { now: NOW })).toEqual({ kind: 'offset', ms });
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_OFFSET_MS }), (n) => {
        expect(parseMoment(String(n), 'at', { now: NOW })).toEqual({ kind: 'offset', ms: n });
        expect(parseMoment(n, 'at', { now: NOW })).toEqual({ kind: 'offset', ms: n });
      }),
    );
  });

  it('epoch ms (10^12 and up) and ISO 8601 are that instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1e12, max: MAX_TS }), (t) => {
        expect(parseMoment(String(t), 'since', { now: NOW })).toEqual({ kind: 'ts', ms: t });
        expect(parseMoment(t, 'at', { now: NOW })).toEqual({ kind: 'ts', ms: t });
        const iso = new Date(t).toISOString();
        expect(parseMoment(iso, 'until', { now: NOW })).toEqual({ kind: 'ts', ms: t });
        // Without a zone, an ISO date-time is local time.
        const d = new Date(t);
        const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
        expect(parseMoment(local, 'at', { now: NOW })).toEqual({ kind: 'ts', ms: t - d.getMilliseconds() });
      }),
    );
  });

  it("14:32 and 14:32:05 are that wall-clock time on the session's day (the next day for a session that ran past midnight)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1e12, max: 4e12 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        (start, h, m, s) => {
          const got = parseMoment(`${h}:${pad(m)}:${pad(s)}`, 'at', { now: NOW, sessionStart: start });
          expect(got.kind).toBe('ts');
          const d = new Date(got.ms);
          expect([d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]).toEqual([h, m, s, 0]);
          // The moment is within [start - 12 h, start + 36 h): on its day or, past midnight, the next.
          expect(got.ms).toBeGreaterThanOrEqual(start - 12 * 3_600_000 - 3_600_000);
          expect(got.ms).toBeLessThan(start + 36 * 3_600_000);
          expect(parseMoment(`${pad(h)}:${pad(m)}`, 'at', { now: NOW, sessionStart: start }).ms % 60_000).toBe(0);
        },
      ),
    );
  });

  it('30m, 2h, 1d are that long before now for since/until/last, and refused for a moment of a session', () => {
    const units = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])), fc.integer({ min: 0, max: 1000 }), (u, n) => {
        for (const use of ['since', 'until', 'last'] as const)
          expect(parseMoment(`${n}${u}`, use, { now: NOW })).toEqual({ kind: 'ts', ms: NOW - n * units[u] });
        expect(invalid(`${n}${u}`, 'at').message).toContain(`write +${n}${u}`);
      }),
    );
  });

  it('anything at all is a moment or TRACED_INVALID_TIME, never another exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...'0123456789+:.-TZ smhdw') }), fc.double(), fc.anything()),
        fc.constantFrom('at', 'since', 'until', 'last' as const),
        (v, use) => {
          try {
            parseMoment(v, use, { now: NOW, sessionStart: NOW - 3_600_000 });
          } catch (err) {
            expect(err).toBeInstanceOf(TracedError);
            expect((err as TracedError).code).toBe('TRACED_INVALID_TIME');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('junk (a character no form uses), impossible clock times and dates are refused with the accepted forms listed', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('!', 'x', '#', 'é', '/', '_'), fc.string(), (a, bad, b) => {
        const e = invalid(`${a}${bad}${b}`, 'since');
        expect(e.code).toBe('TRACED_INVALID_TIME');
        // A since/until bound lists the forms a range takes (no offsets: a range spans sessions).
        expect(e.message).toContain(RANGE_FORMS);
        expect(invalid(`${a}${bad}${b}`, 'at').message).toContain(TIME_FORMS);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), (h, m) => {
        fc.pre(h > 23 || m > 59);
        expect(invalid(`${h}:${pad(m)}`).code).toBe('TRACED_INVALID_TIME');
      }),
    );
    for (const bad of ['99:99', '24:00', '12:60', '2026-02-30T10:00:00Z', '2026-13-01', 'yesterday', '+99:99:99', '+1:60', '1e3', '+', '']) {
      expect(invalid(bad, 'since').code, bad).toBe('TRACED_INVALID_TIME');
    }
  });

  it('--last takes only a duration, and says so without a regular expression', () => {
    const e = invalid('yesterday', 'last');
    expect(e.message).toBe('"yesterday" is not a duration; use a duration such as 30m, 2h, 1d');
  });
});

describe('the grammar through the real CLI and daemon', () => {
  let home: Home;
  let started: number;
  beforeAll(async () => {
    home = makeHome({ NO_COLOR: '1' });
    const repo = await makeRepo();
    const r = await cli(home, ['start', '--profile', 'events', '--label', 'time grammar', '--json'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    started = r.json.session.started_at;
    await cli(home, ['annotate', 'last', '--at', '+0:00', 'the start', '--json']);
  });
  afterAll(async () => {
    await cli(home, ['stop']);
    killHomeDaemon(home);
  });

  const clockOf = (t: number, seconds = true) => {
    const d = new Date(t);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
  };

  it('replay --at takes +90s-style offsets, ms and the wall clock; 99:99 is TRACED_INVALID_TIME', async () => {
    for (const at of ['+0:01', '+1s', '1000', clockOf(started + 1000), new Date(started + 1000).toISOString()]) {
      const r = await cli(home, ['replay', 'last', '--at', at, '--json']);
      expect(r.code, `${at}: ${r.stderr}`).toBe(0);
      expect(Math.abs(r.json.offset_ms - 1000), at).toBeLessThan(1000);
    }
    const bad = await cli(home, ['replay', 'last', '--at', '99:99']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^traced: TRACED_INVALID_TIME: --at: "99:99" is not a clock time/);
    expect(bad.stderr).toContain(TIME_FORMS);
  });

  it('timeline --from/--to take every form; from after to is an error, not "No events"', async () => {
    const ok = await cli(home, ['timeline', 'last', '--from', clockOf(started + 1000), '--to', '+10m', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const iso = await cli(home, ['timeline', 'last', '--from', '+0:00', '--to', new Date(started + 600_000).toISOString(), '--json']);
    expect(iso.code, iso.stderr).toBe(0);
    expect(iso.json.events.some((e: { type: string }) => e.type === 'session.started')).toBe(true);
    const rev = await cli(home, ['timeline', 'last', '--from', '60000', '--to', '1000']);
    expect(rev.code).toBe(2);
    expect(rev.stderr).toBe('traced: TRACED_INVALID_TIME: --from 60000 (60000 ms) is after --to 1000 (1000 ms): the range is empty; swap them\n');
    const before = await cli(home, ['timeline', 'last', '--from', new Date(started - 3_600_000).toISOString()]);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/^traced: TRACED_INVALID_TIME: --from: .* is before the session started/);
    // An offset typed without its +: a clock time outside the recording session, refused with the hint (not "No events").
    const typo = await cli(home, ['timeline', 'last', '--from', '0:01']);
    expect(typo.code, typo.stdout).toBe(2);
    expect(typo.stderr).toMatch(
      /^traced: TRACED_INVALID_TIME: --from: 0:01 is (before the session started|later than now in this session): the session started /,
    );
    if (new Date(started).getHours() !== 0) expect(typo.stderr).toContain('did you mean +0:01');
    const far = await cli(home, ['replay', 'last', '--at', '+300d']);
    expect(far.code, far.stdout).toBe(2);
    expect(far.stderr).toMatch(/^traced: TRACED_INVALID_TIME: \+300d is later than now in this session/);
  });

  it('sessions --since 13:40-style clock times, ISO and 2h work; offsets are refused for a range across sessions', async () => {
    for (const since of [clockOf(started - 60_000, false), new Date(started - 60_000).toISOString(), '2h', String(started - 60_000)]) {
      const r = await cli(home, ['sessions', '--since', since, '--json']);
      expect(r.code, `${since}: ${r.stderr}`).toBe(0);
      expect(r.json.sessions.length, since).toBe(1);
    }
    const off = await cli(home, ['sessions', '--since', '+5m']);
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/^traced: TRACED_INVALID_TIME: --since: "\+5m" is an offset from a session start/);
  });

  it('what-happened --last yesterday is TRACED_INVALID_TIME in words, not a regular expression', async () => {
    const r = await cli(home, ['what-happened', '--last', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('traced: TRACED_INVALID_TIME: --last: "yesterday" is not a duration; use a duration such as 30m, 2h, 1d\n');
    const ok = await cli(home, ['what-happened', '--last', '2h', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('operation arguments (what MCP tools send) go through the same parser', async () => {
    const at = await cli(home, ['call', 'replay_at', JSON.stringify({ session: 'last', at: '+0:01' })]);
    expect(at.code, at.stderr).toBe(0);
    expect(at.json.offset_ms).toBe(1000);
    const bad = await cli(home, ['call', 'list_sessions', JSON.stringify({ since: '99:99' })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('TRACED_INVALID_TIME');
    expect(bad.stderr).toContain(RANGE_FORMS);
  });
});
