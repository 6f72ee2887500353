/**
 * Timeline, replay and export on a real daemon recording a real git project:
 * replay_at after a save and a commit, the replay cursor, moments from
 * scripted work (a failing-test loop, a save-commit run), what_happened, and
 * JSON/JSONL recordings that load back into another home byte-identically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, git, makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replay, moments and recordings', () => {
  let home: Home;
  let daemon: DaemonProc | undefined;
  let c: RawClient;
  let id: string;
  let repo: string;
  const marks: Record<string, number> = {};

  beforeAll(async () => {
    home = makeHome();
    fs.writeFileSync(path.join(home.home, 'config.json'), JSON.stringify({ files: { settleMs: 50 } }));
    daemon = await startDaemonProc(home);
    repo = await makeRepo();
    c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'files', store: true },
        { id: 'git', store: true },
      ],
    });
    id = res.result.session.id;
    const t0 = res.result.session.started_at;
    const at = () => Date.now() - t0;
    await sleep(500);
    // A failing-test loop: the same command failing four times.
    for (let i = 0; i < 4; i++) {
      await c.call('ingest_event', { channel: 'terminal', type: 'terminal.command', data: { command: 'npm test -- cache', exit_code: 1, cwd: repo } });
      await sleep(100);
    }
    // A save-commit run.
    fs.writeFileSync(path.join(repo, 'cache.ts'), 'export const ttl = 5;\n');
    await waitFor(async () => (await c.call('get_timeline', { session: id, types: ['file'] })).result.events.find((e: any) => e.data.path === 'cache.ts'), {
      what: 'the save of cache.ts',
    });
    await git(repo, 'add', 'cache.ts');
    await git(repo, 'commit', '-qm', 'Fix cache ttl');
    await waitFor(async () => (await c.call('get_timeline', { session: id, types: ['git.commit'] })).result.events[0], { what: 'the commit' });
    marks.commit = at();
    await sleep(300);
    fs.writeFileSync(path.join(repo, 'store.ts'), 'export const store = new Map();\n');
    const save = await waitFor(
      async () => (await c.call('get_timeline', { session: id, types: ['file'] })).result.events.find((e: any) => e.data.path === 'store.ts'),
      { what: 'the save of store.ts' },
    );
    marks.save = save.offset_ms;
    await c.call('annotate', { session: id, at: save.offset_ms, text: 'store starts here' });
    await c.call('ingest_event', { channel: 'terminal', type: 'terminal.command', data: { command: 'npm test', exit_code: 0, cwd: repo } });
    await sleep(300);
    await c.call('stop_session', {});
  }, 60_000);

  afterAll(async () => {
    c?.close();
    await stopDaemonProc(daemon);
  });

  it('replay_at just after a save lists that file as last saved and the commit before it as HEAD', async () => {
    const r = await c.call('replay_at', { session: id, at: marks.save + 200 });
    expect(r.error).toBeUndefined();
    expect(r.result.last_saved).toMatchObject({ path: 'store.ts' });
    expect(r.result.git_head).toMatchObject({ subject: 'Fix cache ttl', branch: 'main' });
    expect(r.result.current.some((e: any) => e.type.startsWith('file.') && e.data.path === 'store.ts')).toBe(true);
    expect(r.result.annotations.map((a: any) => a.text)).toContain('store starts here');
    // Before the commit, HEAD was not that commit yet.
    const before = await c.call('replay_at', { session: id, at: 100 });
    expect(before.result.git_head?.subject ?? null).not.toBe('Fix cache ttl');
    // …it was the commit the session started on, as the git channel read it at start.
    expect(before.result.git_head).toMatchObject({ from: 'git.state', subject: 'initial commit', branch: 'main' });
    // Wall-clock form of `at`.
    const wall = await c.call('replay_at', { session: id, at: new Date(before.result.ts + marks.save + 200 - 100).toISOString() });
    expect(wall.result.last_saved).toMatchObject({ path: 'store.ts' });
  });

  it('the replay cursor visits every event of a range exactly once, however the walk is split', async () => {
    const all = (await c.call('get_timeline', { session: id, limit: 1000 })).result.events as any[];
    const from = all[2].offset_ms;
    const to = all[all.length - 2].offset_ms;
    const expected = all.filter((e) => e.offset_ms >= from && e.offset_ms <= to).map((e) => e.seq);
    for (const step of [1, 2, 3, 7]) {
      const seen: number[] = [];
      let r = (await c.call('replay_cursor', { session: id, seek_ms: from, advance: step })).result;
      seen.push(...r.events.filter((e: any) => e.offset_ms <= to).map((e: any) => e.seq));
      while (!r.done && r.position_ms <= to) {
        r = (await c.call('replay_cursor', { cursor: r.cursor, advance: step })).result;
        seen.push(...r.events.filter((e: any) => e.offset_ms <= to).map((e: any) => e.seq));
      }
      expect(seen, `step ${step}`).toEqual(expected);
    }
    // advance_to passes exactly the events up to the offset.
    const r1 = (await c.call('replay_cursor', { session: id, advance_to_ms: to })).result;
    expect(r1.events.map((e: any) => e.seq)).toEqual(all.filter((e) => e.offset_ms <= to).map((e) => e.seq));
    const r2 = (await c.call('replay_cursor', { cursor: r1.cursor, advance_to_ms: all[all.length - 1].offset_ms })).result;
    expect(r2.events.map((e: any) => e.seq)).toEqual(all.filter((e) => e.offset_ms > to).map((e) => e.seq));
    expect(r2.done).toBe(true);
    const bad = await c.call('replay_cursor', { cursor: 'nonsense' });
    expect(bad.error.code).toBe('TRACED_INVALID_PARAMS');
  });

  it('a failing-test loop is stuck and a save-commit run is progress; what_happened tells it', async () => {
    const wh = await c.call('what_happened', { session: id });
    expect(wh.error).toBeUndefined();
    const s = wh.result.sessions[0];
    const stuck = s.moments.find((m: any) => m.kind === 'stuck');
    expect(stuck?.what).toMatch(/a command kept failing: npm test -- cache/);
    const progress = s.moments.find((m: any) => m.kind === 'progress');
    expect(progress?.what).toMatch(/committed "Fix cache ttl"/);
    expect(s.commits.map((x: any) => x.subject)).toEqual(['Fix cache ttl']);
    expect(s.failed_commands).toMatchObject([{ command: 'npm test -- cache', count: 4, exit_codes: [1] }]);
    expect(s.files_touched.map((f: any) => f.path)).toEqual(expect.arrayContaining(['cache.ts', 'store.ts']));
    expect(s.annotations.map((a: any) => a.text)).toEqual(['store starts here']);
    // The size budget holds.
    const small = await c.call('what_happened', { session: id, max_chars: 600 });
    expect(JSON.stringify(small.result.sessions).length).toBeLessThanOrEqual(1200);
    const human = await cli(home, ['what-happened', id]);
    expect(human.stdout).toMatch(/stuck .*a command kept failing/);
  });

  for (const format of ['json', 'jsonl'] as const) {
    it(`export → import → export gives an identical ${format.toUpperCase()} recording`, async () => {
      const other = makeHome();
      const d2 = await startDaemonProc(other);
      try {
        const a = await c.call('export_session', { session: id, target: format });
        expect(a.error).toBeUndefined();
        const first = fs.readFileSync(a.result.file, 'utf8');
        if (format === 'jsonl') {
          const lines = first.trim().split('\n');
          expect(JSON.parse(lines[0] as string).format).toBe('traced-recording/1');
          expect(Object.keys(JSON.parse(lines[1] as string))).toEqual(['seq', 'parent_seq', 'type', 'timestamp', 'offset', 'session_id', 'channel', 'data']);
          expect(lines.length - 1).toBe(a.result.events);
        }
        const imported = await cli(other, ['import', a.result.file, '--json']);
        expect(imported.code, imported.stderr).toBe(0);
        expect(imported.json.session_id).toBe(id);
        const b = await cli(other, ['export', id, '--target', format, '--json']);
        expect(b.code, b.stderr).toBe(0);
        expect(fs.readFileSync(b.json.file, 'utf8')).toBe(first);
        // Loaded back, it replays like the original.
        const replayed = await cli(other, ['replay', id, '--at', String(marks.save + 200), '--json']);
        expect(replayed.json.last_saved.path).toBe('store.ts');
        // Importing it again needs a new id.
        const again = await cli(other, ['import', a.result.file]);
        expect(again.code).toBe(5);
        expect(again.stderr).toMatch(/TRACED_SESSION_ACTIVE: session .* already exists here/);
        const asNew = await cli(other, ['import', a.result.file, '--as-new', '--json']);
        expect(asNew.code, asNew.stderr).toBe(0);
        expect(asNew.json.session_id).not.toBe(id);
      } finally {
        await stopDaemonProc(d2);
      }
    }, 60_000);
  }
});
