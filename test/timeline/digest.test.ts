/**
 * what_happened on a scripted session through the services the daemon builds:
 * a failure is cited once with its first time, a count and its command; a
 * command that failed seven times is listed once.
 */
import { describe, expect, it } from 'vitest';
import { atOffset } from '../../src/timeline/clock.js';
import { failures } from '../../src/timeline/digest.js';
import { testServices } from '../helpers/services.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const ID = '20260301-100000-dgst';

const VITEST_RED = ` FAIL  src/queue.test.ts > Queue > drains in order
AssertionError: expected 7 to equal 9
 ❯ src/queue.test.ts:42:31
 Test Files  1 failed | 2 passed (3)
      Tests  1 failed | 11 passed (12)`;
const VITEST_GREEN = ` ✓ src/queue.test.ts (12 tests) 41ms
 Test Files  3 passed (3)
      Tests  0 failed | 12 passed (12)`;
const TSC_RED = `src/queue.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.
Found 1 error in src/queue.ts:12`;

type Seed = { offset_ms: number; type: string; data: Record<string, unknown> };
const cmd = (offset_ms: number, command: string, exit_code: number, duration_ms = 4000): Seed => ({
  offset_ms,
  type: 'terminal.command',
  data: { command, exit_code, duration_ms, cwd: '/p' },
});
const screen = (offset_ms: number, text: string): Seed => ({ offset_ms, type: 'screen.text', data: { text } });

function seed(events: Seed[]) {
  const t = testServices();
  t.store.insertSession({ id: ID, project: '/p', label: null, profile: 'full', state: 'recording', started_at: T0, meta: '{}' });
  t.events.restore(
    ID,
    events.map((e, i) => ({
      seq: i + 1,
      parent_seq: null,
      ts: T0 + e.offset_ms,
      offset_ms: e.offset_ms,
      channel: e.type.split('.')[0] as string,
      type: e.type,
      data: e.data,
    })),
  );
  t.store.endSession(ID, { state: 'ended', ended_at: T0 + 600_000, end_offset_ms: 600_000 });
  t.replay.refreshMoments(ID);
  return t;
}

/** A red-green loop: three failing test runs (the screen shows the failure each time), a build failing seven times, then green. */
function loop(): Seed[] {
  const ev: Seed[] = [];
  for (const [i, at] of [40_000, 80_000, 120_000].entries()) {
    ev.push(cmd(at, i === 1 ? 'CI=1 npm  test' : 'npm test', 1));
    // Two OCR reads of the same terminal while the failure is on screen.
    ev.push(screen(at + 3000, VITEST_RED), screen(at + 8000, `${VITEST_RED}\n$ `));
  }
  ev.push(cmd(160_000, 'npm test', 0), screen(163_000, VITEST_GREEN));
  for (let i = 0; i < 7; i++) ev.push(cmd(200_000 + i * 10_000, 'npx tsc -p .', 2, 2000), screen(201_000 + i * 10_000, TSC_RED));
  ev.push(cmd(280_000, 'grep -rn foo src', 1, 50));
  return ev;
}

describe('what_happened tells what went wrong, once each', () => {
  it('cites each failure once with its first time, count and command; each failed command once with count, times and exit codes', async () => {
    const t = seed(loop());
    const r = await t.services.replay.whatHappened({ session: ID, max_chars: 12_000 });
    const s = r.sessions[0]!;

    expect(s.failed_commands.map((c) => [c.command, c.count, c.offset_ms, c.last_offset_ms, c.exit_codes])).toEqual([
      ['npm test', 3, 40_000, 120_000, [1]],
      ['npx tsc -p .', 7, 200_000, 260_000, [2]],
      ['grep -rn foo src', 1, 280_000, 280_000, [1]],
    ]);
    expect(s.failed_commands[0]!.at).toBe(atOffset(T0, 40_000));
    expect(s.failed_commands[1]!.last_at).toBe(atOffset(T0, 260_000));

    const byText = new Map(s.failures.map((f) => [f.text, f]));
    expect(s.failures.map((f) => f.text)).toEqual([
      'FAIL src/queue.test.ts > Queue > drains in order',
      'AssertionError: expected 7 to equal 9',
      'Test Files 1 failed | 2 passed (3)',
      'Tests 1 failed | 11 passed (12)',
      "src/queue.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.",
      'Found 1 error in src/queue.ts:12',
    ]);
    // Seen in each of the three runs (twice per run on screen: one sighting each).
    expect(byText.get('AssertionError: expected 7 to equal 9')).toMatchObject({
      tool: 'assert',
      kind: 'assertion',
      source: 'screen',
      count: 3,
      offset_ms: 43_000,
      at: atOffset(T0, 43_000),
      last_offset_ms: 128_000,
      command: 'npm test',
    });
    expect(byText.get('FAIL src/queue.test.ts > Queue > drains in order')).toMatchObject({ tool: 'vitest', kind: 'test', count: 3 });
    expect(byText.get("src/queue.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.")).toMatchObject({
      tool: 'tsc',
      count: 7,
      command: 'npx tsc -p .',
    });
    // Green output ("0 failed") is not a failure.
    expect(s.failures.some((f) => /0 failed/.test(f.text))).toBe(false);

    // The loop is stuck on the tests, from the first failure to the run that passed; the tsc loop is its own.
    const stuck = s.moments.filter((m) => m.kind === 'stuck' && m.what.startsWith('a command kept failing'));
    expect(stuck.map((m) => [m.what, m.start_offset_ms, m.duration_ms])).toEqual([
      ['a command kept failing: npm test', 40_000, 120_000],
      ['a command kept failing: npx tsc -p .', 200_000, 60_000],
    ]);
  });

  it('the byte budget still holds and says it cut', async () => {
    const ev = loop();
    // Many distinct failures: a long pytest run with one assertion per test.
    for (let i = 0; i < 300; i++) ev.push(screen(300_000 + i * 500, `FAILED tests/test_q.py::test_case_${i} - assert ${i} == ${i + 1}`));
    const t = seed(ev);
    for (const max_chars of [600, 2000, 8000]) {
      const r = await t.services.replay.whatHappened({ session: ID, max_chars });
      expect(r.truncated).toBe(true);
      expect(JSON.stringify({ sessions: r.sessions }).length).toBeLessThanOrEqual(max_chars);
      expect(r.sessions[0]!.failures.length).toBeGreaterThan(0);
    }
    const full = await t.services.replay.whatHappened({ session: ID, max_chars: 200_000 });
    expect(full.truncated).toBe(false);
    expect(full.sessions[0]!.failures.length).toBe(6 + 300);
  });

  it('a failure on screen with no failed command near it has no command; a line shown again without a rerun is one sighting', () => {
    const texts = [
      { offset_ms: 1000, text: 'panic: runtime error: index out of range [3] with length 3', source: 'screen' as const },
      { offset_ms: 2000, text: 'panic: runtime error: index out of range [3] with length 3', source: 'screen' as const },
      { offset_ms: 3000, text: 'nothing here', source: 'screen' as const },
      { offset_ms: 4000, text: 'panic: runtime error: index out of range [3] with length 3', source: 'screen' as const },
    ];
    const far = {
      session_id: ID,
      seq: 1,
      parent_seq: null,
      ts: T0,
      offset_ms: 0,
      channel: 'terminal',
      type: 'terminal.command',
      data: { command: 'go run .', exit_code: 2 },
    };
    expect(failures(texts, [], T0)).toMatchObject([{ tool: 'go', kind: 'runtime', count: 2, offset_ms: 1000, last_offset_ms: 4000, command: null }]);
    expect(failures(texts, [far], T0)[0]?.command).toBe('go run .');
    expect(
      failures(
        texts.map((x) => ({ ...x, offset_ms: x.offset_ms + 10 * 60_000 })),
        [far],
        T0,
      )[0]?.command,
    ).toBeNull();
  });
});

describe('what_happened quotes the failure lines of terminal output (traced shell)', () => {
  it('a failing command with no screen: its printed failure lines are cited once, under that command, at the moment printed', async () => {
    const out = (offset_ms: number, text: string): Seed => ({ offset_ms, type: 'terminal.output', data: { stream: 'pty-1', text } });
    const ev: Seed[] = [];
    for (const at of [30_000, 70_000])
      ev.push(
        cmd(at, 'cargo test', 101, 6000),
        out(at + 2500, 'running 3 tests\ntest drains ... FAILED'),
        out(at + 3200, "thread 'drains' panicked at src/lib.rs:9:5:\nassertion `left == right` failed"),
      );
    // A flood of unrelated output must not push the failures or the commit out of the digest.
    for (let i = 0; i < 3000; i++) ev.push(out(100_000 + i * 10, `compiling crate ${i} ok`));
    ev.push({ offset_ms: 140_000, type: 'git.commit', data: { hash: 'abc1234', subject: 'Fix the drain order' } });
    const t = seed(ev);
    const s = (await t.services.replay.whatHappened({ session: ID, max_chars: 12_000 })).sessions[0]!;
    const panic = s.failures.filter((f) => /panicked at src\/lib\.rs/.test(f.text));
    expect(panic, JSON.stringify(s.failures)).toHaveLength(1);
    expect(panic[0]).toMatchObject({ source: 'terminal', command: 'cargo test', offset_ms: 33_200, count: 2 });
    expect(s.failed_commands.map((c) => [c.command, c.count])).toEqual([['cargo test', 2]]);
    expect(s.commits.map((c) => c.subject)).toEqual(['Fix the drain order']);
  });
});
