/**
 * Retention on a synthetic store with real files: deletes exactly what the
 * policy says, never media not yet uploaded under the hard cap, and the dry
 * run lists the same set.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UploadTarget } from '../../src/queue/queue.js';
import { testServices } from '../helpers/services.js';

const MB = 1024 * 1024;
const DAY = 86_400_000;

/**
 * Four ended sessions of 3 MB of media each, oldest first: A (60 days ago, uploaded), B (50 days,
 * not uploaded), C (2 days, uploaded), D (1 day, not uploaded).
 */
function world(retention: Record<string, number>) {
  const target: UploadTarget = { name: 'videodb', run: async () => 'x', classify: () => 'retry' };
  const t = testServices({ config: { retention }, targets: { videodb: target } });
  const { store, paths, queue } = t;
  const now = Date.now();
  const sessions = { A: [60, true], B: [50, false], C: [2, true], D: [1, false] } as const;
  const ids: Record<string, string> = {};
  for (const [name, [daysAgo, uploaded]] of Object.entries(sessions)) {
    const id = `20250101-00000${Object.keys(ids).length}-ret${name.toLowerCase()}`;
    ids[name] = id;
    const started = now - daysAgo * DAY;
    store.insertSession({ id, project: '/p', label: name, profile: 'full', state: 'recording', started_at: started, meta: '{}' });
    store.appendEvents([
      {
        session_id: id,
        seq: 1,
        parent_seq: null,
        ts: started,
        offset_ms: 0,
        channel: 'editor',
        type: 'editor.note',
        data: { text: `note ${name}` },
        text: `note ${name}`,
      },
    ]);
    for (let seq = 0; seq < 3; seq++) {
      const rel = `display-1/${String(seq).padStart(5, '0')}.mkv`;
      const file = path.join(paths.sessionsDir, id, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, Buffer.alloc(MB, seq));
      store.insertSegment({
        session_id: id,
        channel_id: 'display:1',
        seq,
        path: rel,
        start_offset_ms: seq * 60_000,
        duration_ms: 60_000,
        bytes: MB,
        sha256: 'x',
        state: 'complete',
        created_at: started,
      });
      // Its on-screen text is read: indexing does not hold it (see the audio test below for media that waits).
      store.recordIndexProgress({
        session_id: id,
        channel_id: 'display:1',
        seq,
        kind: 'ocr',
        state: 'done',
        engine: 'test',
        events: 0,
        detail: null,
        done_at: started,
      });
      queue.enqueue({ target: 'videodb', kind: 'segment', session_id: id, channel_id: 'display:1', segment_seq: seq });
      if (uploaded) store.db.prepare("UPDATE upload_jobs SET state = 'done', remote_id = 'r' WHERE session_id = ? AND segment_seq = ?").run(id, seq);
    }
    store.endSession(id, { state: 'ended', ended_at: started + 180_000, end_offset_ms: 180_000 });
  }
  const engine = t.retention;
  const files = (name: string) => fs.readdirSync(path.join(paths.sessionsDir, ids[name] as string, 'display-1'));
  return { engine, store, ids, files };
}

const pick = (items: { session_id: string; reason: string }[], ids: Record<string, string>) =>
  items.map((i) => `${Object.keys(ids).find((k) => ids[k] === i.session_id)}:${i.reason}`);

describe('retention', () => {
  it('by age: only uploaded media of sessions past maxAgeDays; the dry run lists the same set', () => {
    const w = world({ maxAgeDays: 30 });
    const dry = w.engine.prune({ dry_run: true });
    expect(pick(dry.items, w.ids)).toEqual(['A:age', 'A:age', 'A:age']);
    expect(w.files('A').length).toBe(3); // nothing deleted by the dry run
    const done = w.engine.prune({ dry_run: false });
    expect(done.items).toEqual(dry.items);
    expect(done.freed_bytes).toBe(3 * MB);
    expect(w.files('A')).toEqual([]);
    expect(w.files('B').length).toBe(3); // 50 days old but never uploaded: kept
    // Segments are marked pruned; the events stay.
    expect(w.store.segments(w.ids.A as string).every((g) => g.state === 'pruned')).toBe(true);
    expect(w.store.eventCount(w.ids.A as string)).toBe(1);
    // A second run has nothing left to do.
    expect(w.engine.prune({ dry_run: true }).items).toEqual([]);
  });

  it('by disk: oldest uploaded first until under the budget; media not uploaded stays and is reported', () => {
    const w = world({ maxDiskGb: (5 * MB) / 1024 ** 3 });
    const dry = w.engine.prune({ dry_run: true });
    // 12 MB total, 5 MB budget: A (3) and C (3) are uploaded; B and D (6 MB) are not.
    expect(pick(dry.items, w.ids)).toEqual(['A:disk', 'A:disk', 'A:disk', 'C:disk', 'C:disk', 'C:disk']);
    expect(dry.after_bytes).toBe(6 * MB);
    expect(dry.kept_unuploaded_bytes).toBe(6 * MB);
    const done = w.engine.prune({ dry_run: false });
    expect(done.items).toEqual(dry.items);
    expect([w.files('A').length, w.files('B').length, w.files('C').length, w.files('D').length]).toEqual([0, 3, 0, 3]);
  });

  it('past the hard cap even media not uploaded goes, oldest first', () => {
    const w = world({ maxDiskGb: (5 * MB) / 1024 ** 3, hardCapGb: (4 * MB) / 1024 ** 3 });
    const dry = w.engine.prune({ dry_run: true });
    expect(pick(dry.items, w.ids)).toEqual(['A:disk', 'A:disk', 'A:disk', 'C:disk', 'C:disk', 'C:disk', 'B:hard_cap', 'B:hard_cap']);
    expect(dry.after_bytes).toBe(4 * MB);
    w.engine.prune({ dry_run: false });
    expect([w.files('A').length, w.files('B').length, w.files('C').length, w.files('D').length]).toEqual([0, 1, 0, 3]);
  });

  it('no policy: nothing is deleted', () => {
    const w = world({});
    const r = w.engine.prune({ dry_run: false });
    expect(r.items).toEqual([]);
    expect(r.total_bytes).toBe(12 * MB);
  });

  it('audio waiting for a speech engine is kept by age and disk, reported, and goes only past the hard cap; media no engine will read goes as before', () => {
    /** A local-only store (no upload target: only indexing can hold media) with a daemon's indexer built (not started) on these engines. */
    const world2 = (config: Record<string, unknown>, engines: { ocr?: boolean; speech?: boolean } = {}) => {
      const fake = (name: string) => ({ name }) as never;
      const t = testServices({
        config,
        indexing: {
          ocr: { engine: engines.ocr ? fake('ocr-test') : undefined, reason: engines.ocr ? 'test' : 'tesseract CLI not found' },
          speech: { engine: engines.speech ? fake('speech-test') : undefined, reason: 'no engine' },
        },
      });
      const started = Date.now() - 60 * DAY;
      const id = '20250101-000000-wait';
      t.store.insertSession({ id, project: '/p', label: null, profile: 'full', state: 'recording', started_at: started, meta: '{}' });
      for (const [channel, dir, seq] of [
        ['mic:default', 'mic-default', 0],
        ['mic:default', 'mic-default', 1],
        ['display:1', 'display-1', 0],
      ] as const) {
        const rel = `${dir}/${String(seq).padStart(5, '0')}.${dir.startsWith('mic') ? 'ogg' : 'mkv'}`;
        const file = path.join(t.paths.sessionsDir, id, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, Buffer.alloc(MB, seq));
        t.store.insertSegment({
          session_id: id,
          channel_id: channel,
          seq,
          path: rel,
          start_offset_ms: seq * 60_000,
          duration_ms: 60_000,
          bytes: MB,
          sha256: 'x',
          state: 'complete',
          created_at: started,
        });
      }
      t.store.endSession(id, { state: 'ended', ended_at: started + 120_000, end_offset_ms: 120_000 });
      return { ...t, id, mic: () => fs.readdirSync(path.join(t.paths.sessionsDir, id, 'mic-default')).sort() };
    };
    const chans = (items: { channel_id: string; seq: number; reason: string; indexed: boolean }[]) =>
      items.map((i) => `${i.channel_id}#${i.seq}:${i.reason}${i.indexed ? '' : ':unindexed'}`);

    // Default config (speech on, engine auto, no whisper model yet): the indexer looks for one, so the mic waits.
    // No OCR engine: nothing will read the screen, so it is not held.
    const w = world2({ retention: { maxAgeDays: 30, maxDiskGb: (1 * MB) / 1024 ** 3 } });
    const dry = w.retention.prune({ dry_run: true });
    expect(chans(dry.items)).toEqual(['display:1#0:age']);
    expect(dry.kept_unindexed_bytes).toBe(2 * MB);
    expect(dry.kept_unuploaded_bytes).toBe(0);
    w.retention.prune({ dry_run: false });
    expect(w.mic()).toEqual(['00000.ogg', '00001.ogg']);
    // Once one is transcribed (or skipped as silent), it may go.
    w.store.recordIndexProgress({
      session_id: w.id,
      channel_id: 'mic:default',
      seq: 1,
      kind: 'speech',
      state: 'skipped',
      engine: 'x',
      events: 0,
      detail: null,
      done_at: 1,
    });
    expect(chans(w.retention.prune({ dry_run: false }).items)).toEqual(['mic:default#1:age']);
    expect(w.mic()).toEqual(['00000.ogg']);

    // An OCR engine that runs holds the unread screen too.
    const ocr = world2({ retention: { maxAgeDays: 30 } }, { ocr: true });
    expect(chans(ocr.retention.prune({ dry_run: true }).items)).toEqual([]);

    // Past the hard cap unread media goes too, marked as not indexed.
    const hard = world2({ retention: { maxAgeDays: 30, hardCapGb: (1 * MB) / 1024 ** 3 } });
    expect(chans(hard.retention.prune({ dry_run: false }).items)).toEqual(['display:1#0:age', 'mic:default#0:hard_cap:unindexed']);
    expect(hard.mic()).toEqual(['00001.ogg']);

    // Nothing will read the audio — speech off, or pocketsphinx asked for and not installed (no engine is
    // looked for then) — so it is not held.
    for (const speech of [{ enabled: false }, { engine: 'pocketsphinx' }]) {
      const off = world2({ retention: { maxAgeDays: 30 }, index: { speech } });
      expect(chans(off.retention.prune({ dry_run: false }).items), JSON.stringify(speech)).toEqual([
        'display:1#0:age',
        'mic:default#0:age',
        'mic:default#1:age',
      ]);
      expect(off.mic()).toEqual([]);
    }
  });
});
