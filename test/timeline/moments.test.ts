import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/model.js';
import { computeMoments, MOMENT_RULES } from '../../src/timeline/moments.js';

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
    const saves = Array.from({ length: MOMENT_RULES.editRepeat }, (_, i) => ev(i * 20_000, 'file.changed', { path: 'a.ts' }));
    const ms = computeMoments(saves, 200_000);
    expect(ms.filter((m) => m.kind === 'stuck').map((m) => JSON.parse(m.data).file)).toEqual(['a.ts']);
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
