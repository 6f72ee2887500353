import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

describe('bad input on the socket', () => {
  let home: Home;
  let daemon: DaemonProc;
  let repo: string;
  let session: string;
  let control: RawClient;

  beforeAll(async () => {
    home = makeHome();
    repo = await makeRepo();
    daemon = await startDaemonProc(home);
    control = await RawClient.connect(home.socket);
    session = (await control.call('start_session', { project: repo })).result.session.id;
  });
  afterAll(async () => {
    control?.close();
    await stopDaemonProc(daemon);
  });

  /** Sends raw bytes on a fresh connection; returns the first frame back, or 'closed'. */
  async function sendBad(bytes: string | Buffer): Promise<any> {
    const c = await RawClient.connect(home.socket);
    c.writeRaw(bytes);
    const f = await c.next(() => true, 5000);
    c.close();
    return f ?? 'closed';
  }

  const cases: [string, string | Buffer, (r: any) => void][] = [
    ['invalid JSON', '{"type":"req","data":{"id":1,\f', (r) => expect(r).toBe('closed')],
    ['a JSON array', '[1,2,3]\f', (r) => expect(r).toBe('closed')],
    ['a frame without type', '{"data":{"id":1,"method":"status"}}\f', (r) => expect(r).toBe('closed')],
    ['a __proto__ event', '{"type":"__proto__","data":{"polluted":true}}\f', (r) => expect(r).toBe('closed')],
    ['an oversized frame', `{"type":"req","data":{"id":1,"method":"status","params":{"x":"${'a'.repeat(1_100_000)}"}}}\f`, (r) => expect(r).toBe('closed')],
    ['binary garbage', Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x01]), Buffer.from('\f')]), (r) => expect(r).toBe('closed')],
    ['an unknown frame type', '{"type":"hello","data":{}}\f', (r) => expect(r.data.error.code).toBe('TRACED_IPC_BAD_FRAME')],
    ['a request that is not an object', '{"type":"req","data":"status"}\f', (r) => expect(r.data.error.code).toBe('TRACED_IPC_BAD_FRAME')],
    [
      'an unknown method',
      '{"type":"req","data":{"id":7,"method":"drop_tables","params":{}}}\f',
      (r) => {
        expect(r.data.id).toBe(7);
        expect(r.data.error.code).toBe('TRACED_IPC_UNKNOWN_METHOD');
      },
    ],
    [
      'invalid params',
      '{"type":"req","data":{"id":8,"method":"search","params":{"query":42,"limit":-1}}}\f',
      (r) => {
        expect(r.data.id).toBe(8);
        expect(r.data.error.code).toBe('TRACED_INVALID_PARAMS');
        expect(r.data.error.data.issues.length).toBeGreaterThanOrEqual(2);
      },
    ],
    [
      'a prototype-polluting payload',
      '{"type":"req","data":{"id":9,"method":"ingest_event","params":{"type":"editor.x","data":{"__proto__":{"admin":true}}}}}\f',
      (r) => {
        expect(r.data.id).toBe(9);
        expect(({} as any).admin).toBeUndefined();
      },
    ],
  ];

  for (const [name, bytes, check] of cases) {
    it(`answers ${name} with an error or a closed connection and keeps recording`, async () => {
      check(await sendBad(bytes));
      // The daemon is up, answers on the connection opened before, and the session records.
      const st = await control.call('status');
      expect(st.result.session.id).toBe(session);
      expect(st.result.session.state).toBe('recording');
      const file = `after-${name.replace(/\W+/g, '-')}.txt`;
      fs.writeFileSync(path.join(repo, file), 'x');
      await waitFor(
        async () => {
          const t = await control.call('get_timeline', { session, types: ['file'] });
          return t.result.events.some((e: any) => e.data.path === file);
        },
        { what: `file event after ${name}` },
      );
    });
  }

  it('rejects an event payload over 64 KiB with a clear error', async () => {
    const r = await control.call('ingest_event', { type: 'editor.big', data: { blob: 'x'.repeat(70_000) } });
    expect(r.error.code).toBe('TRACED_INVALID_PARAMS');
  });

  it('answers every pipelined request exactly once, with its own id, whether it answers at once, later or fails', async () => {
    // ping and the socket's own methods answer in the same turn; operations when their promise settles;
    // some fail synchronously (bad params, unknown method), some inside the operation. One burst, one write.
    const c = await RawClient.connect(home.socket);
    const kinds = [
      ['ping', {}, 'result'],
      ['status', {}, 'result'],
      ['shutdown', { if_idle: 'yes' }, 'TRACED_INVALID_PARAMS'],
      ['no_such_method', {}, 'TRACED_IPC_UNKNOWN_METHOD'],
      ['search', { query: 42 }, 'TRACED_INVALID_PARAMS'],
      ['get_timeline', { session: '20200101-000000-gone' }, 'TRACED_SESSION_NOT_FOUND'],
      ['subscribe', { topics: 'all' }, 'TRACED_INVALID_PARAMS'],
      ['unsubscribe', {}, 'result'],
    ] as const;
    const n = 400;
    let bytes = '';
    for (let id = 0; id < n; id++) {
      const [method, params] = kinds[id % kinds.length] as (typeof kinds)[number];
      bytes += `${JSON.stringify({ type: 'req', data: { id, method, params } })}\f`;
    }
    c.writeRaw(bytes);
    const deadline = Date.now() + 20_000;
    while (c.frames.length < n && !c.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
    c.close();
    const ids = c.frames.map((f) => f.data.id);
    expect(c.frames.every((f) => f.type === 'res')).toBe(true);
    expect(ids.length).toBe(n);
    expect(new Set(ids).size).toBe(n);
    for (const f of c.frames) {
      const want = (kinds[f.data.id % kinds.length] as (typeof kinds)[number])[2];
      if (want === 'result') expect(f.data.result, JSON.stringify(f.data.error)).toBeDefined();
      else expect(f.data.error?.code).toBe(want);
    }
    expect(daemon.child.exitCode).toBeNull();
  });

  it('answers a bad frame whose id fills the frame (the id is not echoed back), and the connection goes on', async () => {
    const c = await RawClient.connect(home.socket);
    const overhead = JSON.stringify({ type: 'req', data: { id: '', method: 'ping' } }).length;
    const id = 'i'.repeat(1024 * 1024 - overhead); // the request is exactly at the 1 MiB frame limit: accepted, but no valid id
    c.writeRaw(`${JSON.stringify({ type: 'req', data: { id, method: 'ping' } })}\f`);
    const f = await c.next((x) => x.type === 'res', 5000);
    expect(f?.data.id).toBeNull();
    expect(f?.data.error.code).toBe('TRACED_IPC_BAD_FRAME');
    expect((await c.call('ping', {})).result.pong).toBe(true);
    c.close();
  });

  it('never lets a slow half-frame hold the connection forever', async () => {
    expect(daemon.child.exitCode).toBeNull();
  });
});
