import fs from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

describe('kill -9 of the daemon', () => {
  const procs: DaemonProc[] = [];
  afterAll(async () => {
    for (const p of procs) await stopDaemonProc(p);
  });

  it('loses no acknowledged event and recovers the session at the next start', async () => {
    const home = makeHome();
    const repo = await makeRepo();
    const d1 = await startDaemonProc(home);
    procs.push(d1);
    const c = await RawClient.connect(home.socket);
    const id = (await c.call('start_session', { project: repo })).result.session.id;
    fs.writeFileSync(path.join(repo, 'before-kill.ts'), 'x');
    await waitFor(async () => (await c.call('get_timeline', { session: id, types: ['file'] })).result.events.length > 0);

    // A stream of pushed events; remember every one the daemon acknowledged.
    const acked = new Set<number>();
    let sent = 0;
    const pump = (async () => {
      for (;;) {
        const r = await c.call('ingest_event', { type: 'editor.keystroke', data: { n: sent++ } }).catch(() => undefined);
        if (!r?.result) return;
        acked.add(r.result.seq);
      }
    })();
    await waitFor(() => acked.size >= 300, { timeoutMs: 20_000, what: '300 acknowledged events' });
    d1.child.kill('SIGKILL');
    await d1.exited;
    await pump;
    c.close();
    expect(acked.size).toBeGreaterThanOrEqual(300);
    // The killed daemon left its socket and lock behind: the next start must replace them.
    expect(fs.existsSync(home.socket)).toBe(true);

    const d2 = await startDaemonProc(home);
    procs.push(d2);
    const shown = await cli(home, ['show', id, '--json', '--limit', '5000']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json.session.state).toBe('recovered');
    // Every event, page by page (a reply holds ~40 KB; the continuation is exact).
    const events: any[] = [];
    const rc = await RawClient.connect(home.socket);
    for (let after: number | undefined; ; ) {
      const page = (await rc.call('get_timeline', { session: id, limit: 1000, ...(after === undefined ? {} : { after_seq: after }) })).result;
      events.push(...page.events);
      if (page.next_after_seq === null) break;
      after = page.next_after_seq;
    }
    rc.close();
    const seqs = new Set<number>(events.map((e: any) => e.seq));
    const missing = [...acked].filter((s) => !seqs.has(s));
    expect(missing).toEqual([]);
    expect(events.some((e: any) => e.data.path === 'before-kill.ts')).toBe(true);
    const last = events.filter((e: any) => e.type !== 'session.recovered').at(-1);
    expect(shown.json.session.ended_at).toBe(last.ts);
    expect(events.at(-1).type).toBe('session.recovered');
    // The folder copy caught up with the database.
    const jsonl = fs
      .readFileSync(path.join(home.home, 'sessions', id, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).seq);
    expect(new Set(jsonl)).toEqual(seqs);

    const again = await cli(home, ['start', '--json'], { cwd: repo });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json.session.id).not.toBe(id);
    expect((await cli(home, ['stop'])).code).toBe(0);
  });
});

describe('one daemon per user', () => {
  const procs: DaemonProc[] = [];
  afterAll(async () => {
    for (const p of procs) await stopDaemonProc(p);
  });

  it('refuses a second daemon with TRACED_DAEMON_RUNNING', async () => {
    const home = makeHome();
    procs.push(await startDaemonProc(home));
    const second = await cli(home, ['daemon']);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/TRACED_DAEMON_RUNNING/);
    expect((await cli(home, ['status', '--json'])).json.daemon.pid).toBe(procs[0]?.child.pid);
  });

  it('replaces a stale socket file nobody listens on', async () => {
    const home = makeHome();
    fs.mkdirSync(path.dirname(home.socket), { recursive: true, mode: 0o700 });
    // A socket file whose server is gone: a process listens, then dies by SIGKILL.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(home.socket)}, () => console.log('up'))`]);
    await new Promise((r) => holder.stdout.once('data', r));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(fs.statSync(home.socket).isSocket()).toBe(true);
    fs.writeFileSync(path.join(path.dirname(home.socket), 'traced.lock'), '999999');
    const d = await startDaemonProc(home);
    procs.push(d);
    expect((await cli(home, ['status', '--json'])).json.daemon.pid).toBe(d.child.pid);
  });

  it('explains a socket path that is too long', async () => {
    const home = makeHome({ TRACED_SOCKET_DIR: `/tmp/${'x'.repeat(120)}` });
    const r = await cli(home, ['status', '--json']);
    expect(r.json.error.code).toBe('TRACED_SOCKET_PATH_TOO_LONG');
    expect(r.json.error.message).toMatch(/TRACED_SOCKET_DIR/);
  });

  it('stops in order on SIGTERM: the session ends, the socket and lock go away', async () => {
    const home = makeHome();
    const repo = await makeRepo();
    const d = await startDaemonProc(home);
    const s = await cli(home, ['start', '--json'], { cwd: repo });
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(fs.existsSync(home.socket)).toBe(false);
    expect(fs.existsSync(path.join(path.dirname(home.socket), 'traced.lock'))).toBe(false);
    const d2 = await startDaemonProc(home);
    procs.push(d2);
    const shown = await cli(home, ['show', s.json.session.id, '--json']);
    expect(shown.json.session.state).toBe('ended');
    expect(shown.json.events.at(-1).type).toBe('session.stopped');
  });
});
