/**
 * Every request gets an answer that fits: a session of large events no longer
 * hangs `traced show`, default replies stay within their budget, and a reply
 * larger than the daemon's frame limit is a coded error that says how to page
 * — never a dropped reply the caller waits on forever.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeHome, makeRepo, startDaemonProc, stopDaemonProc, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

describe('replies that fit', () => {
  let home: Home;
  let daemon: DaemonProc;
  let sid: string;

  beforeAll(async () => {
    home = makeHome();
    // A small frame limit, so one page of the largest budget cannot fit in it.
    fs.writeFileSync(path.join(home.home, 'config.json'), JSON.stringify({ ipc: { maxMessageBytes: 200_000 } }));
    daemon = await startDaemonProc(home);
    const repo = await makeRepo();
    const c = await RawClient.connect(home.socket);
    sid = (await c.call('start_session', { project: repo, channels: [] })).result.session.id;
    // 20 events of ~60 KB each: 1.2 MB of events, past the frame limit many times.
    for (let i = 0; i < 20; i++) {
      const r = await c.call('ingest_event', { type: 'editor.big', data: { i, blob: 'x'.repeat(60_000) } });
      expect(r.error, JSON.stringify(r.error)).toBeUndefined();
    }
    for (let i = 0; i < 800; i++) await c.call('ingest_event', { type: 'editor.small', data: { i, path: `src/file-${i}.ts` } });
    await c.call('stop_session', {});
    c.close();
  }, 120_000);
  afterAll(async () => stopDaemonProc(daemon));

  it('traced show and timeline of a session of 60 KB events answer, within their budget, with a continuation', async () => {
    const shown = await cli(home, ['show', sid, '--json'], { timeoutMs: 20_000 });
    expect(shown.code, shown.stderr).toBe(0);
    expect(Buffer.byteLength(shown.stdout)).toBeLessThan(45_000 * 2); // pretty-printed JSON of a 40 KB budget
    expect(shown.json.truncated).toBe(true);
    expect(typeof shown.json.next_after_seq).toBe('number');
    const c = await RawClient.connect(home.socket);
    // Default get_timeline: at most ~40 KB of events, whatever the session holds.
    const page = await c.call('get_timeline', { session: sid });
    expect(page.error).toBeUndefined();
    const size = Buffer.byteLength(JSON.stringify(page.result));
    console.log(`default get_timeline reply: ${size} bytes, ${page.result.events.length} events`);
    expect(size).toBeLessThan(45_000 + 61_000); // the budget, plus one event that alone exceeds it
    expect(page.result.next_after_seq).not.toBeNull();
    // 800 small events, default arguments: the budget holds the reply near 40 KB.
    const small = await c.call('get_timeline', { session: sid, types: ['editor.small'] });
    const smallBytes = Buffer.byteLength(JSON.stringify(small.result));
    console.log(
      `default get_timeline on 800 small events: ${smallBytes} bytes, ${small.result.events.length} events, next_after_seq ${small.result.next_after_seq}`,
    );
    expect(smallBytes).toBeLessThan(42_000);
    expect(small.result.events.length).toBeGreaterThan(100);
    c.close();
  });

  it('a reply past the frame limit is TRACED_REPLY_TOO_LARGE with how to page, and the connection goes on', async () => {
    const c = await RawClient.connect(home.socket);
    const r = await c.call('get_timeline', { session: sid, limit: 10_000, max_bytes: 900_000 });
    expect(r.error?.code).toBe('TRACED_REPLY_TOO_LARGE');
    expect(r.error?.message).toMatch(/max_bytes|page/);
    // Same connection, a request that fits: answered.
    const ok = await c.call('get_timeline', { session: sid, types: ['editor.small'], limit: 5 });
    expect(ok.error).toBeUndefined();
    expect(ok.result.events.length).toBe(5);
    c.close();
  });

  it('an event nested 2,000 levels deep is refused with the limit named, not an internal error', async () => {
    const c = await RawClient.connect(home.socket);
    await c.call('start_session', { project: home.home, channels: [] });
    let deep: unknown = 'x';
    for (let i = 0; i < 2000; i++) deep = { d: deep };
    const r = await c.call('ingest_event', { type: 'editor.deep', data: { deep } });
    expect(r.error?.code).toBe('TRACED_INVALID_PARAMS');
    expect(r.error?.message).toMatch(/depth/);
    expect((await c.call('status', {})).result.daemon.pid).toBe(daemon.child.pid);
    await c.call('stop_session', {});
    c.close();
  });
});
