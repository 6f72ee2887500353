/**
 * What a hostile review of the trust boundary found, each as the attack that
 * found it: sessions sharing a start time lost by paging, the moment itself
 * missing from replay_at on a busy session, times read as something else, a
 * symlinked exports folder followed, a socket folder the user named tightened,
 * a database that is a directory reported as a bug.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ensurePrivateDir, resolvePaths } from '../../src/config/paths.js';
import { ErrorCodes } from '../../src/errors.js';
import { openStore } from '../../src/timeline/open-store.js';
import { tempDir } from '../helpers/env.js';
import { testServices } from '../helpers/services.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');

function seed(
  t: ReturnType<typeof testServices>,
  id: string,
  startedAt: number,
  events: { offset_ms: number; type: string; data: Record<string, unknown> }[],
  endMs = 3_600_000,
) {
  t.store.insertSession({ id, project: '/p', label: null, profile: 'events', state: 'recording', started_at: startedAt, meta: '{}' });
  t.events.restore(
    id,
    events.map((e, i) => ({
      seq: i + 1,
      parent_seq: null,
      ts: startedAt + e.offset_ms,
      offset_ms: e.offset_ms,
      channel: e.type.split('.')[0] as string,
      type: e.type,
      data: e.data,
    })),
  );
  t.store.endSession(id, { state: 'ended', ended_at: startedAt + endMs, end_offset_ms: endMs });
}

describe('found by a hostile review', () => {
  it('list_sessions pages every session once, also when several share a start time', () => {
    const t = testServices();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => `20260301-100000-000${x}`);
    for (const id of ids) seed(t, id, T0, []);
    for (const [limit, max_bytes] of [
      [1, 40_000],
      [500, 1000],
      [4, 40_000],
    ] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 20; i++) {
        const r = t.sessions.list({ limit, max_bytes, ...(cursor ? { cursor } : {}) });
        seen.push(...r.sessions.map((s) => s.id));
        if (!r.next_cursor) break;
        cursor = r.next_cursor;
      }
      expect(seen.sort(), `limit ${limit}, max_bytes ${max_bytes}`).toEqual(ids);
    }
    expect(() => t.sessions.list({ limit: 5, max_bytes: 40_000, cursor: '../x' })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_PARAMS }));
  });

  it('replay_at on a busy session holds the moment itself (events every 10 ms)', () => {
    const t = testServices();
    const id = '20260301-100000-busy';
    seed(
      t,
      id,
      T0,
      Array.from({ length: 20_000 }, (_, i) => ({ offset_ms: i * 10, type: 'file.changed', data: { path: `src/f${i}.ts` } })),
      200_000,
    );
    const r = t.replay.replayAt({ session: id, at: 100_000, tolerance_ms: 2000, window_ms: 60_000, include_frame: false });
    expect(r.current.some((e) => e.offset_ms === 100_000)).toBe(true);
    expect(r.recent.at(-1)?.offset_ms).toBe(97_990);
    expect(r.last_saved?.offset_ms).toBe(100_000);
    expect(Buffer.byteLength(JSON.stringify(r))).toBeLessThan(45_000);
  });

  it('reads +90s, +1:30 and +1:02:03 as offsets, and refuses a clock time that is none or a moment after the session', () => {
    const t = testServices();
    const id = '20260301-100000-time';
    seed(t, id, T0, [], 4_000_000);
    expect(t.replay.offsetOf(id, '+90s')).toBe(90_000);
    expect(t.replay.offsetOf(id, '+1:30')).toBe(90_000);
    expect(t.replay.offsetOf(id, '+1:02:03')).toBe(3_723_000);
    expect(t.replay.offsetOf(id, '1500')).toBe(1500);
    for (const bad of ['99:99', '+99h', '30m', '2026-03-02T10:00:00Z', 'yesterday']) {
      expect(() => t.replay.offsetOf(id, bad), bad).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_TIME }));
    }
  });

  it('never writes through a symlinked exports folder', async () => {
    const t = testServices();
    const id = '20260301-100000-expo';
    seed(t, id, T0, [{ offset_ms: 5, type: 'editor.note', data: { text: 'x' } }]);
    const outside = tempDir('out-');
    fs.symlinkSync(outside, path.join(t.home, 'exports'));
    await expect(t.exporter.export(id, { target: 'jsonl' })).rejects.toMatchObject({ code: ErrorCodes.HOME_UNWRITABLE });
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('refuses a shared socket folder the user named instead of changing its mode', () => {
    const shared = tempDir('shared-');
    fs.chmodSync(shared, 0o1777);
    expect(() => ensurePrivateDir(shared, { mayTighten: false })).toThrow(expect.objectContaining({ code: ErrorCodes.SOCKET_DIR_INSECURE }));
    expect(fs.statSync(shared).mode & 0o7777).toBe(0o1777);
    const paths = resolvePaths({ env: { TRACED_HOME: tempDir('h-') }, socketDir: shared });
    expect(paths.socketDirChosen).toBe(true);
  });

  it('a traced.db that is a directory is TRACED_HOME_UNWRITABLE with a fix, not a bug', () => {
    const home = tempDir('dbdir-');
    fs.mkdirSync(path.join(home, 'traced.db'));
    try {
      openStore(path.join(home, 'traced.db'), pino({ level: 'silent' }));
      expect.unreachable('a directory opened as a database');
    } catch (err) {
      expect((err as { code: string }).code).toBe(ErrorCodes.HOME_UNWRITABLE);
      expect((err as Error).message).toMatch(/Fix:/);
    }
  });
});
