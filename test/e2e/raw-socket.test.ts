import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, git, makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

const PY = path.join(ROOT, 'docs', 'examples', 'traced_client.py');

function python(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('python3', [PY, ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the socket without node-ipc', () => {
  let home: Home;
  let daemon: DaemonProc;
  let repo: string;

  beforeAll(async () => {
    home = makeHome();
    repo = await makeRepo();
    daemon = await startDaemonProc(home);
  });
  afterAll(async () => stopDaemonProc(daemon));

  it('keeps the socket private: 0700 directory, 0600 socket', () => {
    expect(fs.statSync(path.dirname(home.socket)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(home.socket).mode & 0o777).toBe(0o600);
  });

  it('runs a whole session with documented bytes from net and from python', async () => {
    const c = await RawClient.connect(home.socket);
    // Subscribe first: the started/stopped notifications must arrive.
    const sub = await c.call('subscribe', { topics: ['session.*', 'event.recorded'] });
    expect(sub.result.subscribed).toEqual(['session.*', 'event.recorded']);
    const started = await c.call('start_session', { project: repo, label: 'raw' });
    expect(started.error).toBeUndefined();
    const id = started.result.session.id;
    const note = await c.next((f) => f.type === 'notify' && f.data.topic === 'session.started');
    expect(note.data.data.session).toBe(id);

    fs.writeFileSync(path.join(repo, 'parser.rs'), 'fn main() {}\n');
    await git(repo, 'add', 'parser.rs');
    await git(repo, 'commit', '-qm', 'Teach the parser about raw strings');
    await c.next((f) => f.type === 'notify' && f.data.topic === 'event.recorded' && f.data.data.type === 'git.commit', 10_000);

    // The documented Python client, run for real.
    const py = await python([home.socket, 'search', JSON.stringify({ query: 'raw strings' })]);
    expect(py.code, py.stderr).toBe(0);
    const hits = JSON.parse(py.stdout).hits;
    expect(hits.some((h: any) => h.type === 'git.commit' && h.session_id === id)).toBe(true);
    const pyErr = await python([home.socket, 'no_such_method']);
    expect(pyErr.code).toBe(1);
    expect(pyErr.stderr).toMatch(/TRACED_IPC_UNKNOWN_METHOD/);

    // Python subscriber sees notifications pushed by another client's ingest.
    const sub2 = spawn('python3', [PY, home.socket, '--subscribe', 'event.recorded']);
    let out = '';
    sub2.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Python may take a while to start and subscribe on a busy machine: push until it has seen one.
    await waitFor(
      async () => {
        const ing = await c.call('ingest_event', { type: 'editor.file_opened', data: { path: 'parser.rs' } });
        expect(ing.result.seq).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 300));
        return out.includes('editor.file_opened');
      },
      { what: 'python notification', timeoutMs: 20_000 },
    );
    sub2.kill();

    const timeline = await c.call('get_timeline', { session: id, types: ['file', 'git'] });
    const types = timeline.result.events.map((e: any) => e.type);
    expect(types).toContain('git.commit');
    expect(types.some((t: string) => t.startsWith('file.'))).toBe(true);
    const stopped = await c.call('stop_session', {});
    expect(stopped.result.state).toBe('ended');
    await c.next((f) => f.type === 'notify' && f.data.topic === 'session.stopped');
    c.close();
  });

  it('handles frames split across writes and several frames in one write', async () => {
    const c = await RawClient.connect(home.socket);
    const a = JSON.stringify({ type: 'req', data: { id: 'a', method: 'ping', params: {} } });
    c.writeRaw(a.slice(0, 10));
    await new Promise((r) => setTimeout(r, 50));
    c.writeRaw(`${a.slice(10)}\f${JSON.stringify({ type: 'req', data: { id: 'b', method: 'status' } })}\f`);
    expect((await c.next((f) => f.data?.id === 'a')).data.result.pong).toBe(true);
    expect((await c.next((f) => f.data?.id === 'b')).data.result.daemon.pid).toBe(daemon.child.pid);
    c.close();
  });
});
