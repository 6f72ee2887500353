import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/model.js';
import { commandKey, computeMoments, MOMENT_RULES } from '../../src/timeline/moments.js';

let seq = 0;
const ev = (offset_ms: number, type: string, data: Record<string, unknown> = {}): RecordedEvent => ({
  session_id: '20260101-000000-test',
  seq: ++seq,
  parent_seq: null,
  ts: 1_700_000_000_000 + offset_ms,
  offset_ms,
  channel: type.split('.')[0] as string,
  type,
  data,
});
const kinds = (ms: ReturnType<typeof computeMoments>) => ms.map((m) => m.kind);

describe('moments from scripted work', () => {
  it('a failing-test loop is stuck; a save-commit run is progress', () => {
    const events = [
      ev(1000, 'terminal.command', { command: 'npm test', exit_code: 1 }),
      ev(40_000, 'terminal.command', { command: 'npm test', exit_code: 1 }),
      ev(90_000, 'terminal.command', { command: 'npm test', exit_code: 1 }),
      ev(100_000, 'file.changed', { path: 'src/cache.ts' }),
      ev(130_000, 'git.commit', { hash: 'abc', subject: 'Fix cache', files: [{ path: 'src/cache.ts' }] }),
    ];
    const ms = computeMoments(events, 140_000);
    const stuck = ms.find((m) => m.kind === 'stuck');
    expect(stuck).toMatchObject({ start_offset_ms: 1000, end_offset_ms: 90_000 });
    expect(JSON.parse(stuck!.data)).toMatchObject({ reason: 'a command kept failing', failures: 3 });
    const progress = ms.find((m) => m.kind === 'progress');
    expect(progress).toMatchObject({ start_offset_ms: 100_000, end_offset_ms: 130_000 });
    expect(JSON.parse(progress!.data)).toMatchObject({ subject: 'Fix cache', saves: 1 });
  });

  it('two failures are not a loop; failures far apart are not either', () => {
    const ms = computeMoments(
      [
        ev(0, 'terminal.command', { exit_code: 2 }),
        ev(1000, 'terminal.command', { exit_code: 2 }),
        ev(MOMENT_RULES.failWindowMs * 3, 'terminal.command', { exit_code: 2 }),
      ],
      MOMENT_RULES.failWindowMs * 3,
    );
    expect(kinds(ms)).not.toContain('stuck');
  });

  it('the same file saved over and over without a commit is stuck', () => {
    const saves = Array.from({ length: MOMENT_RULES.editRepeat }, (_, i) => ev(i * 40_000, 'file.changed', { path: 'a.ts' }));
    const ms = computeMoments(saves, 300_000);
    expect(ms.filter((m) => m.kind === 'stuck').map((m) => JSON.parse(m.data).file)).toEqual(['a.ts']);
    // An editor's autosave (a save a second while typing) is one edit, not a loop.
    const autosave = Array.from({ length: 60 }, (_, i) => ev(i * 1000, 'file.changed', { path: 'b.ts' }));
    expect(kinds(computeMoments(autosave, 70_000))).not.toContain('stuck');
  });

  it('a browser in focus is research, dense talk is speech, silence is idle', () => {
    const events = [
      ev(0, 'window.focus', { app: 'code', title: 'cache.ts' }),
      ev(10_000, 'window.focus', { app: 'firefox', title: 'MDN Web Docs: Map' }),
      ev(70_000, 'window.focus', { app: 'code', title: 'cache.ts' }),
      ...Array.from({ length: 6 }, (_, i) => ev(80_000 + i * 6000, 'transcript.segment', { text: 'talking', end_offset_ms: 80_000 + i * 6000 + 5000 })),
      ev(120_000 + MOMENT_RULES.idleMs + 60_000, 'file.changed', { path: 'b.ts' }),
    ];
    const ms = computeMoments(events, 120_000 + MOMENT_RULES.idleMs + 70_000);
    expect(ms.find((m) => m.kind === 'research')).toMatchObject({ start_offset_ms: 10_000, end_offset_ms: 70_000 });
    expect(ms.find((m) => m.kind === 'speech')).toMatchObject({ start_offset_ms: 80_000, end_offset_ms: 115_000 });
    const idle = ms.find((m) => m.kind === 'idle');
    expect(idle!.end_offset_ms - idle!.start_offset_ms).toBeGreaterThanOrEqual(MOMENT_RULES.idleMs);
  });
});

const cmd = (offset: number, command: string, exit_code: number) => ev(offset, 'terminal.command', { command, exit_code });
const stuckOf = (ms: ReturnType<typeof computeMoments>) =>
  ms.filter((m) => m.kind === 'stuck' && JSON.parse(m.data).reason === 'a command kept failing').map((m) => ({ ...m, d: JSON.parse(m.data) }));

describe('stuck is per command', () => {
  it('a test loop is labelled with the tests, ends when they pass, and a later grep does not join it', () => {
    const ms = computeMoments(
      [cmd(40_000, 'npm test', 1), cmd(80_000, 'npm test', 1), cmd(120_000, 'npm test', 1), cmd(160_000, 'npm test', 0), cmd(176_000, 'grep -rn foo src', 1)],
      200_000,
    );
    const stuck = stuckOf(ms);
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({ start_offset_ms: 40_000, end_offset_ms: 160_000 });
    expect(stuck[0]!.d).toMatchObject({ command: 'npm test', failures: 3, exit_codes: [1], resolved: true });
  });

  it('two commands failing in turn are not one loop; each of them three times is two', () => {
    const turns = [cmd(0, 'npm test', 1), cmd(10_000, 'npx tsc', 2), cmd(20_000, 'npm test', 1), cmd(30_000, 'npx tsc', 2)];
    expect(stuckOf(computeMoments(turns, 60_000))).toEqual([]);
    const more = [...turns, cmd(40_000, 'npm test', 1), cmd(50_000, 'npx tsc', 2)];
    const stuck = stuckOf(computeMoments(more, 60_000));
    expect(stuck.map((m) => [m.d.command, m.start_offset_ms, m.end_offset_ms, m.d.resolved])).toEqual([
      ['npm test', 0, 40_000, false],
      ['npx tsc', 10_000, 50_000, false],
    ]);
  });

  it('the same command with another environment, sudo, time or spacing is the same command', () => {
    expect(commandKey('  CI=1 FOO="a b"  npm   test ')).toBe('npm test');
    expect(commandKey("time sudo NODE_OPTIONS='--inspect' make check")).toBe('make check');
    expect(commandKey('sudo -u dev make')).toBe('-u dev make');
    expect(commandKey('npm test -- cache')).not.toBe(commandKey('npm test'));
    const ms = computeMoments([cmd(0, 'npm test', 1), cmd(1000, 'CI=1 npm test', 1), cmd(2000, 'time npm  test', 1)], 5000);
    expect(stuckOf(ms).map((m) => m.d.failures)).toEqual([3]);
  });

  it('a success of another command does not end the loop; a success of its own does, and a new loop starts after it', () => {
    const ms = computeMoments(
      [cmd(0, 'make', 2), cmd(1000, 'ls', 0), cmd(2000, 'make', 2), cmd(3000, 'make', 2), cmd(4000, 'make', 0), cmd(5000, 'make', 2), cmd(6000, 'make', 2)],
      10_000,
    );
    expect(stuckOf(ms).map((m) => [m.start_offset_ms, m.end_offset_ms])).toEqual([[0, 4000]]);
  });

  it('editor test runs count by their name and never merge with shell commands', () => {
    const ms = computeMoments(
      [
        ev(0, 'editor.test_run', { name: 'cache', passed: false }),
        cmd(1000, 'cache', 1),
        ev(2000, 'editor.test_run', { name: 'cache', passed: false }),
        ev(3000, 'editor.test_run', { name: 'cache', passed: false, exit_code: 1 }),
        ev(4000, 'editor.test_run', { name: 'cache', passed: true }),
      ],
      10_000,
    );
    expect(stuckOf(ms).map((m) => [m.d.command, m.start_offset_ms, m.end_offset_ms])).toEqual([['cache', 0, 4000]]);
  });

  it('property: stuck moments never mix commands, start at a failure and end at the next success or the last failure', () => {
    const names = ['npm test', 'CI=1 npm test', 'npx tsc', 'grep -rn foo src', 'make'];
    const step = fc.record({
      gap: fc.integer({ min: 1, max: MOMENT_RULES.failWindowMs / 2 }),
      name: fc.constantFrom(...names),
      code: fc.constantFrom(0, 1, 1, 2),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let t = 0;
        const events = steps.map((s) => cmd((t += s.gap), s.name, s.code));
        const runs = events.map((e) => ({ t: e.offset_ms, key: commandKey(String(e.data.command)), failed: e.data.exit_code !== 0 }));
        const stuck = stuckOf(computeMoments(events, t + 1000));
        for (const m of stuck) {
          const mine = runs.filter((r) => r.key === m.d.key);
          const first = mine.find((r) => r.t === m.start_offset_ms);
          expect(first?.failed).toBe(true);
          // Nothing of another command is in it: its failures are all of this command, counted.
          const inside = mine.filter((r) => r.t >= m.start_offset_ms && r.t <= m.end_offset_ms);
          const fails = inside.filter((r) => r.failed);
          expect(fails.length).toBe(m.d.failures);
          expect(commandKey(String(m.d.command))).toBe(m.d.key);
          const end = mine.find((r) => r.t === m.end_offset_ms);
          if (m.d.resolved) {
            // Ends at the first success after its start.
            expect(end?.failed).toBe(false);
            expect(inside.filter((r) => !r.failed).map((r) => r.t)).toEqual([m.end_offset_ms]);
          } else {
            // Ends at its last failure: no success of its own inside.
            expect(end?.failed).toBe(true);
            expect(inside.every((r) => r.failed)).toBe(true);
          }
          expect(fails.length).toBeGreaterThanOrEqual(MOMENT_RULES.failRepeat);
        }
        // Every run of three failures of one command, with no success between and close together, is inside a moment.
        for (const key of new Set(runs.map((r) => r.key))) {
          const mine = runs.filter((r) => r.key === key);
          for (let i = 0; i + 2 < mine.length; i++) {
            const three = mine.slice(i, i + 3);
            if (
              three.every((r) => r.failed) &&
              three[2]!.t - three[1]!.t <= MOMENT_RULES.failWindowMs &&
              three[1]!.t - three[0]!.t <= MOMENT_RULES.failWindowMs
            ) {
              expect(stuck.some((m) => m.d.key === key && m.start_offset_ms <= three[0]!.t && m.end_offset_ms >= three[2]!.t)).toBe(true);
            }
          }
        }
        // Moments of one command never overlap.
        for (const a of stuck)
          for (const b of stuck)
            if (a !== b && a.d.key === b.d.key) expect(a.end_offset_ms < b.start_offset_ms || b.end_offset_ms < a.start_offset_ms).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the other rules on realistic sessions', () => {
  it('"0 failed" or "no errors" on screen is not an error that stays; a failing test is', () => {
    const green = Array.from({ length: 8 }, (_, i) =>
      ev(i * 15_000, 'screen.text', { text: ' Tests  0 failed | 12 passed (12)\nFound 0 errors. Watching for file changes.' }),
    );
    expect(kinds(computeMoments(green, 130_000))).not.toContain('stuck');
    const red = Array.from({ length: 8 }, (_, i) =>
      ev(i * 15_000, 'screen.text', { text: ' FAIL  src/q.test.ts > drains in order\nAssertionError: expected 7 to equal 9' }),
    );
    expect(stuckOf(computeMoments(red, 130_000))).toEqual([]);
    expect(
      computeMoments(red, 130_000)
        .filter((m) => m.kind === 'stuck')
        .map((m) => JSON.parse(m.data).reason),
    ).toEqual(['errors on screen']);
  });

  it('an editor showing docs/ or a file about edges is not research; a browser is', () => {
    const ms = computeMoments(
      [
        ev(0, 'window.focus', { app: 'code', title: 'docs/DESIGN.md — traced — Visual Studio Code' }),
        ev(60_000, 'window.focus', { app: 'code', title: 'edge-cases.ts — traced' }),
        ev(120_000, 'window.focus', { app: 'Google-chrome', title: 'Array.prototype.at() - JavaScript | MDN' }),
        ev(180_000, 'window.focus', { app: '', title: 'Questions - Stack Overflow' }),
        ev(240_000, 'window.focus', { app: 'code', title: 'x.ts' }),
      ],
      300_000,
    );
    expect(ms.filter((m) => m.kind === 'research').map((m) => m.start_offset_ms)).toEqual([120_000, 180_000]);
  });

  it('a commit is progress for the files it holds, not for files whose names end alike', () => {
    const ms = computeMoments(
      [
        ev(1000, 'file.changed', { path: 'data.ts' }),
        ev(2000, 'file.changed', {}),
        ev(5000, 'file.changed', { path: 'src/a.ts' }),
        ev(9000, 'git.commit', { hash: 'h', subject: 'A', files: [{ path: 'pkg/src/a.ts' }, { path: 'a.ts' }] }),
      ],
      10_000,
    );
    const p = ms.find((m) => m.kind === 'progress');
    expect(p).toMatchObject({ start_offset_ms: 5000, end_offset_ms: 9000 });
    expect(JSON.parse(p!.data).saves).toBe(1);
  });

  it('the repository state noted at start is not activity', () => {
    const ms = computeMoments(
      [ev(0, 'git.state', { hash: 'h' }), ev(MOMENT_RULES.idleMs + 1000, 'file.changed', { path: 'a.ts' })],
      MOMENT_RULES.idleMs + 2000,
    );
    expect(ms.find((m) => m.kind === 'idle')).toMatchObject({ start_offset_ms: 0 });
  });
});
