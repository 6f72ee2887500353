/**
 * Local indexing for real: an xterm on Xvfb shows a TypeScript error at a
 * known moment, espeak-ng speaks into the PulseAudio mic at a known moment,
 * the daemon records, tesseract and pocketsphinx (opted in) index, and search and
 * get_transcript find them at the right offsets. Then a kill -9 while the
 * indexer is busy: it resumes without duplicating or skipping a segment.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';
import { rigMissing, startRig, type Rig } from '../helpers/rig.js';

const skip = rigMissing(['tesseract', 'pocketsphinx_continuous']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function caughtUp(c: RawClient, timeoutMs = 120_000): Promise<any> {
  return waitFor(
    async () => {
      const st = (await c.call('status')).result;
      const ix = st.indexer;
      return ix && ix.ocr.pending_segments === 0 && ix.speech.pending_segments === 0 && ix.current === null ? ix : undefined;
    },
    { timeoutMs, intervalMs: 500, what: 'the indexer to catch up' },
  );
}

describe.skipIf(!!skip)('local indexing: on-screen text and speech', () => {
  let rig: Rig;
  let home: Home;
  let daemon: DaemonProc | undefined;

  beforeAll(async () => {
    rig = await startRig();
    rig.showText('all tests passing, nothing to see');
    home = makeHome({ DISPLAY: rig.display, PULSE_SERVER: rig.env.PULSE_SERVER, PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH });
    fs.writeFileSync(
      path.join(home.home, 'config.json'),
      JSON.stringify({ capture: { segmentSeconds: 5 }, index: { ocr: { intervalMs: 1000 }, speech: { engine: 'pocketsphinx' } } }),
    );
    daemon = await startDaemonProc(home);
  });
  afterAll(async () => {
    await stopDaemonProc(daemon);
    rig?.stop();
  });

  it('search "TS2345" lands within 3 s of the moment the error appeared on screen; speech becomes transcript events inside the spoken interval', async () => {
    const repo = await makeRepo();
    const c = await RawClient.connect(home.socket);
    const st0 = (await c.call('status')).result;
    expect(st0.indexer.ocr.engine).toBe('tesseract');
    expect(st0.indexer.speech.engine).toBe('pocketsphinx');
    expect(st0.indexer.speech.reason).toMatch(/index\.speech\.engine = "pocketsphinx"/);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
      ],
    });
    expect(res.error).toBeUndefined();
    const id = res.result.session.id;
    const t0 = res.result.session.started_at;
    await sleep(6000);
    rig.showText("src/cache.ts(42,17): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.");
    const shownAt = Date.now() - t0;
    await sleep(3000);
    const spokeAt = Date.now() - t0;
    await rig.speak('hello world, the cache invalidation test is failing again');
    const spokeEnd = Date.now() - t0;
    await sleep(4000);
    await c.call('stop_session', {});
    const ix = await caughtUp(c);
    expect(ix.indexed_segments).toBeGreaterThan(0);

    const found = await c.call('search', { query: 'TS2345', session: id });
    expect(found.error).toBeUndefined();
    const screen = found.result.hits.filter((h: any) => h.type === 'screen.text');
    expect(screen.length, JSON.stringify(found.result.hits)).toBeGreaterThanOrEqual(1);
    expect(Math.abs(screen[0].offset_ms - shownAt), `seen at ${screen[0].offset_ms} ms, shown at ${shownAt} ms`).toBeLessThanOrEqual(3000);
    expect(screen[0].snippet).toMatch(/\*\*TS2345\*\*/i);
    // Substring search over the path finds the same moment.
    const byPath = await c.call('search', { query: 'cache.ts(42', session: id });
    expect(byPath.result.hits.some((h: any) => h.type === 'screen.text')).toBe(true);
    // Nothing before it appeared.
    const tl = await c.call('get_timeline', { session: id, types: ['screen.text'], limit: 1000 });
    for (const e of tl.result.events) if (e.offset_ms < shownAt - 3000) expect(e.data.text).not.toMatch(/TS2345/);

    const tr = await c.call('get_transcript', { session: id });
    expect(tr.error).toBeUndefined();
    expect(tr.result.segments.length, 'transcript segments').toBeGreaterThanOrEqual(1);
    for (const s of tr.result.segments) {
      expect(s.engine).toBe('pocketsphinx');
      expect(s.offset_ms, `utterance at ${s.offset_ms}–${s.end_offset_ms}, spoken ${spokeAt}–${spokeEnd}`).toBeGreaterThanOrEqual(spokeAt - 500);
      expect(s.end_offset_ms).toBeLessThanOrEqual(spokeEnd + 1000);
    }
    c.close();
  }, 240_000);

  it('a kill -9 while indexing resumes without duplicating or skipping a segment', async () => {
    const repo = await makeRepo();
    // Stop indexing from keeping up: many segments, then kill while it works.
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
      ],
    });
    const id = res.result.session.id;
    for (let i = 0; i < 6; i++) {
      rig.showText(`step ${i}: compiling module${i} with 7 warnings`);
      await sleep(2500);
    }
    await c.call('stop_session', {});
    await waitFor(async () => ((await c.call('status')).result.indexer.current ? true : undefined), { what: 'the indexer at work', intervalMs: 100 });
    c.close();
    const kids = execFileSync('pgrep', ['-P', String(daemon!.child.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    daemon!.child.kill('SIGKILL');
    for (const pid of kids) spawnSync('kill', ['-9', String(pid)]);
    await daemon!.exited;
    daemon = await startDaemonProc(home);
    const c2 = await RawClient.connect(home.socket);
    await caughtUp(c2);
    c2.close();
    const { default: Database } = await import('better-sqlite3');
    const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
    const segs = sql.prepare('SELECT channel_id, seq FROM segments WHERE session_id = ?').all(id) as any[];
    const progress = sql.prepare('SELECT channel_id, seq, kind, state, events FROM index_progress WHERE session_id = ?').all(id) as any[];
    const events = sql
      .prepare("SELECT channel, offset_ms, type FROM events WHERE session_id = ? AND type IN ('screen.text', 'transcript.segment')")
      .all(id) as any[];
    sql.close();
    // Every segment indexed exactly once for its kind …
    for (const g of segs) {
      const kind = g.channel_id.startsWith('display:') ? 'ocr' : 'speech';
      const rows = progress.filter((p) => p.channel_id === g.channel_id && p.seq === g.seq && p.kind === kind);
      expect(rows.length, `${g.channel_id}#${g.seq}`).toBe(1);
      expect(rows[0].state).not.toBe('failed');
    }
    // … and its events written once: as many as the progress rows say, no two at the same place.
    const keys = events.map((e) => `${e.channel}@${e.offset_ms}@${e.type}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(events.length).toBe(progress.reduce((a, p) => a + p.events, 0));
    expect(events.some((e) => e.type === 'screen.text')).toBe(true);
  }, 240_000);
});
