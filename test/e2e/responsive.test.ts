/**
 * One heavy read stalls no one: while a digest over a long session is being
 * computed, status and ingest answer (ordering, not timing: they must return
 * before the digest does). Past the connection limit a client is told why
 * with a code, never just closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpcClient } from '../../src/ipc/client.js';
import { RawClient } from '../helpers/raw-client.js';
import { seedLongSession } from '../helpers/seed.js';
import { makeHome, makeRepo, startDaemonProc, stopDaemonProc, type DaemonProc, type Home } from '../helpers/env.js';

const SID = '20260101-090000-long';

describe('a daemon that stays responsive', () => {
  let home: Home;
  let daemon: DaemonProc;

  beforeAll(async () => {
    home = makeHome();
    // A long session written straight into the store before the daemon starts.
    seedLongSession(home, SID, 150_000, (i) =>
      i % 3 === 0
        ? { type: 'terminal.command', data: { command: `npm test ${i % 40}`, exit_code: i % 2 } }
        : { type: 'file.changed', data: { path: `src/f${i % 300}.ts` } },
    );
    daemon = await startDaemonProc(home);
  }, 180_000);
  afterAll(async () => stopDaemonProc(daemon));

  it('answers status and ingest while digests of a 150k-event session are being computed', async () => {
    const heavy = await IpcClient.connect(home.socket);
    const light = await IpcClient.connect(home.socket);
    const repo = await makeRepo();
    await light.call('start_session', { project: repo, channels: [] });
    let digestsDone = 0;
    const digests = Promise.all(
      Array.from({ length: 4 }, () => heavy.call('what_happened', { session: SID, max_chars: 200_000 }, { timeoutMs: 120_000 }).then(() => digestsDone++)),
    );
    let answered = 0;
    let answeredBeforeDigests = 0;
    for (let i = 0; i < 10; i++) {
      await light.call('status', {});
      await light.call('ingest_event', { type: 'editor.keystroke', data: { i } });
      answered++;
      if (digestsDone === 0) answeredBeforeDigests++;
    }
    await digests;
    console.log(`status + ingest answered while 4 digests ran: ${answeredBeforeDigests} of ${answered} before the first digest finished`);
    expect(answeredBeforeDigests).toBe(10);
    await light.call('stop_session', {});
    heavy.close();
    light.close();
  }, 180_000);

  it('tells a client past the connection limit why, with a code', async () => {
    const clients: IpcClient[] = [];
    try {
      for (let i = 0; i < 270; i++) clients.push(await IpcClient.connect(home.socket));
      const outcomes = await Promise.allSettled(clients.map((c) => c.call('status', {}, { timeoutMs: 20_000 })));
      const codes = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason?.code);
      expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThan(200);
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set(['TRACED_IPC_TOO_MANY_CLIENTS']));
    } finally {
      for (const c of clients) c.close();
    }
    // Once they are gone, a new client is served.
    await new Promise((r) => setTimeout(r, 500));
    const again = await IpcClient.connect(home.socket);
    expect(((await again.call('status', {})) as { daemon: { pid: number } }).daemon.pid).toBe(daemon.child.pid);
    again.close();
  }, 120_000);

  // Last: it stops this file's daemon.
  it('a shutdown while heavy reads run answers each of them: its result within the grace, TRACED_DAEMON_STOPPING after it — never INTERNAL, never silence', async () => {
    // More digests than the read pool finishes in the 2 s grace: the first ones answer, the rest are told why not.
    const N = 80;
    const c = await RawClient.connect(home.socket);
    for (let i = 0; i < N; i++) c.send('req', { id: `heavy${i}`, method: 'what_happened', params: { session: SID, max_chars: 200_000 } });
    await new Promise((r) => setTimeout(r, 100));
    c.send('req', { id: 'stop', method: 'shutdown', params: {} });
    const deadline = Date.now() + 30_000;
    const answers = () => c.frames.filter((f) => typeof f.data?.id === 'string' && f.data.id.startsWith('heavy'));
    while (answers().length < N && !c.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const got = answers();
    const kinds = got.map((f) => (f.data.result ? 'result' : f.data.error?.code));
    const count = (k: string) => kinds.filter((x) => x === k).length;
    console.log(
      `${N} heavy reads at shutdown: ${count('result')} results, ${count('TRACED_DAEMON_STOPPING')} stopping, others: ${kinds.filter((k) => k !== 'result' && k !== 'TRACED_DAEMON_STOPPING')}`,
    );
    expect(new Set(got.map((f) => f.data.id)).size).toBe(N);
    for (const k of kinds) expect(['result', 'TRACED_DAEMON_STOPPING']).toContain(k);
    await daemon.exited;
    c.close();
  }, 120_000);
});
