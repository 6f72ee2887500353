/**
 * Replies that used to be lost at the edges of the socket (hostile reviews):
 * - a reply still being written to a slow reader when the daemon shuts down
 *   (the reader catches up within the grace: it gets the whole reply);
 * - an error too large for a small configured frame limit (resent as its code
 *   and as much of its message as fits, never dropped).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedLongSession } from '../helpers/seed.js';
import { makeHome, startDaemonProc, stopDaemonProc, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

const SID = '20260101-090000-drain';

describe('a slow reader at shutdown', () => {
  it('gets the whole reply it was being sent when it reads again within the grace, and the daemon then exits', async () => {
    const home = makeHome();
    seedLongSession(home, SID, 20_000, (i) => ({ type: 'terminal.command', data: { command: `npm test ${i % 40} ${'x'.repeat(60)}`, exit_code: i % 2 } }));
    const daemon = await startDaemonProc(home);
    try {
      const sock = net.connect({ path: home.socket });
      await new Promise((r) => sock.once('connect', r));
      sock.setEncoding('utf8');
      let buf = '';
      const frames: { data: { id: unknown; result?: { events?: unknown[] }; error?: unknown } }[] = [];
      sock.on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\f'); i >= 0; i = buf.indexOf('\f')) {
          frames.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      });
      sock.on('error', () => undefined);
      sock.pause(); // a client busy elsewhere: the ~900 KB reply backs up in the daemon
      sock.write(
        `${JSON.stringify({ type: 'req', data: { id: 'big', method: 'get_timeline', params: { session: SID, limit: 10_000, max_bytes: 900_000 } } })}\f`,
      );
      await new Promise((r) => setTimeout(r, 1500)); // computed and written (not in flight any more)
      const b = await RawClient.connect(home.socket);
      expect((await b.call('shutdown', {})).result.stopping).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      sock.resume();
      expect(await daemon.exited).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      const mine = frames.filter((f) => f.data.id === 'big');
      expect(mine).toHaveLength(1);
      expect(mine[0]?.data.result?.events?.length).toBeGreaterThan(1000);
      sock.destroy();
    } finally {
      await stopDaemonProc(daemon);
    }
  }, 120_000);
});

describe('error replies under a 1 KiB frame limit (ipc.maxMessageBytes = 1024)', () => {
  let home: Home;
  let daemon: DaemonProc;
  beforeAll(async () => {
    home = makeHome();
    fs.writeFileSync(path.join(home.home, 'config.json'), JSON.stringify({ ipc: { maxMessageBytes: 1024 } }));
    daemon = await startDaemonProc(home);
  }, 60_000);
  afterAll(async () => stopDaemonProc(daemon));

  const cases: [string, Record<string, unknown>][] = [
    ['search with ten wrong fields', { query: 5, order: 5, limit: 'x', since: 5.5, until: 5.5, session: 5, cursor: 5, types: 5, channels: 5, max_bytes: 'x' }],
    [
      'get_timeline with control-character strings',
      Object.fromEntries(['from', 'to', 'types', 'channels', 'after_seq', 'limit', 'max_bytes'].map((k) => [k, '\u0001'.repeat(14)])),
    ],
  ];
  for (const [name, params] of cases) {
    it(`${name}: answered with its code, and the connection goes on`, async () => {
      const c = await RawClient.connect(home.socket);
      const method = name.split(' ')[0] as string;
      const frame = `${JSON.stringify({ type: 'req', data: { id: 'e1', method, params } })}\f`;
      expect(Buffer.byteLength(frame)).toBeLessThan(1024);
      c.writeRaw(frame);
      const f = await c.next((x) => x.type === 'res' && x.data.id === 'e1', 5000);
      expect(f?.data.error.code).toMatch(/^TRACED_(INVALID_PARAMS|INVALID_TIME)$/);
      expect((await c.call('ping', {})).result.pong).toBe(true);
      c.close();
    });
  }
});
