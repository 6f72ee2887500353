/**
 * Cold start, before the daemon accepts requests: session folders the
 * database does not know are loaded back (traced.db deleted or restored from
 * an old backup), and every session a killed daemon left open is ended at its
 * last data with its media registered and enqueued.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { SegmentInfo } from '../capture/channel.js';
import { recoverMediaSegments } from '../capture/media-recovery.js';
import { isDiskFull } from '../errors.js';
import type { RecordedEvent, SessionState } from '../model.js';
import { INDEX_JSONL, UPLOADS_JSONL, type SessionFiles } from '../timeline/session-files.js';
import type { IndexProgressRow, SessionRow, Store } from '../timeline/store.js';
import type { UploadQueue } from './queue.js';

export interface RecoveryDeps {
  store: Store;
  files: SessionFiles;
  log: Logger;
  ffprobe: () => Promise<string>;
  queue?: UploadQueue | undefined;
  /** Events through the writer: `restore` keeps their seqs (rebuilds), `appendLate` gives the next ones. */
  events: {
    restore(sessionId: string, events: Omit<RecordedEvent, 'session_id'>[]): number;
    appendLate(sessionId: string, events: { channel: string; type: string; offset_ms: number; data: Record<string, unknown> }[]): RecordedEvent[];
  };
  /** Registers a segment row and its upload jobs (one transaction). */
  registerSegment: (sessionId: string, seg: SegmentInfo) => boolean;
  /** Notes a failed write (status shows it). */
  writeFailed: (err: unknown) => void;
  refreshMoments: (sessionId: string) => void;
}

export class Recovery {
  private readonly log: Logger;

  constructor(private readonly d: RecoveryDeps) {
    this.log = d.log.child({ mod: 'recovery' });
  }

  /** Registers segment files of a session that the database does not know (the last, unlisted ones after a kill). */
  private async recoverMedia(row: SessionRow, log: Logger): Promise<SegmentInfo[]> {
    const dir = this.d.files.dir(row.id);
    const known = new Set(this.d.store.segments(row.id).map((s) => `${path.dirname(s.path)}/${s.seq}`));
    // No ffmpeg: listed segments are still registered from their lists; unlisted ones cannot be probed.
    const ffprobe = await this.d.ffprobe();
    try {
      const found = await recoverMediaSegments({ sessionDir: dir, startedAt: row.started_at, known, ffprobe });
      // One transaction for the lot: thousands of orphaned files cost one commit, not one each.
      this.d.store.transaction(() => {
        for (const s of found) this.d.registerSegment(row.id, s);
      });
      if (found.length) log.warn({ segments: found.length }, 'registered media segments found on disk');
      return found;
    } catch (err) {
      // A full disk leaves the session open, to be recovered whole at a later start.
      if (isDiskFull(err)) throw err;
      log.error({ err }, 'media recovery failed');
      return [];
    }
  }

  /**
   * Session folders the database does not know are loaded back — the session
   * from session.json, its events from events.jsonl, its media from the
   * segment files, its finished uploads from uploads.jsonl. Sessions that had
   * not ended are left open for recoverOpenSessions.
   */
  async rebuildFromFolders(): Promise<string[]> {
    const rebuilt: string[] = [];
    for (const id of this.d.files.list()) {
      if (this.d.store.getSession(id)) continue;
      const log = this.log.child({ sessionId: id });
      try {
        await this.rebuildSession(id, log);
        rebuilt.push(id);
      } catch (err) {
        this.d.writeFailed(err);
        log.error({ err }, 'could not rebuild this session from its folder');
      }
    }
    if (rebuilt.length) this.log.warn({ sessions: rebuilt.length }, 'sessions rebuilt from their folders');
    return rebuilt;
  }

  private async rebuildSession(id: string, log: Logger): Promise<void> {
    const dir = this.d.files.dir(id);
    const doc = this.d.files.readSession(id) ?? {};
    const events = this.d.files
      .readLines(id, 'events.jsonl')
      .filter((e): e is RecordedEvent => typeof e.seq === 'number' && typeof e.type === 'string' && e.session_id === id);
    const startedAt = typeof doc.started_at === 'number' ? doc.started_at : (events[0]?.ts ?? fs.statSync(dir).mtimeMs);
    const ended = typeof doc.ended_at === 'number' && ['ended', 'failed', 'recovered'].includes(String(doc.state));
    const channels = Array.isArray(doc.channels) ? (doc.channels as { id?: unknown; store?: unknown; kind?: unknown }[]) : [];
    this.d.store.transaction(() => {
      this.d.store.insertSession({
        id,
        project: typeof doc.project === 'string' ? doc.project : '',
        label: typeof doc.label === 'string' ? doc.label : null,
        profile: typeof doc.profile === 'string' ? doc.profile : 'events',
        state: 'recording',
        started_at: Math.round(startedAt),
        meta: JSON.stringify({ rebuilt_from: 'session folder' }),
      });
      for (const c of channels) {
        if (typeof c.id !== 'string') continue;
        this.d.store.upsertChannel({
          session_id: id,
          channel_id: c.id,
          kind: c.kind === 'media' ? 'media' : 'event',
          store: c.store === false ? 0 : 1,
          state: 'stopped',
          detail: 'rebuilt from the session folder',
        });
      }
      this.d.events.restore(id, events);
    });
    if (ended) {
      const media = await this.recoverMedia({ ...(this.d.store.getSession(id) as SessionRow) }, log);
      const endedAt = doc.ended_at as number;
      this.d.store.endSession(id, { state: doc.state as SessionState, ended_at: endedAt, end_offset_ms: Math.max(0, endedAt - startedAt) });
      log.info({ events: events.length, segments: media.length }, 'rebuilt an ended session');
    }
    // Segments already indexed stay indexed: their text came back with events.jsonl.
    this.d.store.transaction(() => {
      for (const p of this.d.files.readLines(id, INDEX_JSONL)) {
        if (typeof p.channel_id === 'string' && typeof p.seq === 'number' && (p.kind === 'ocr' || p.kind === 'speech') && typeof p.state === 'string') {
          this.d.store.recordIndexProgress({
            session_id: id,
            channel_id: p.channel_id,
            seq: p.seq,
            kind: p.kind,
            state: p.state as IndexProgressRow['state'],
            engine: p.engine ?? null,
            events: Number(p.events) || 0,
            detail: p.detail ?? null,
            done_at: Number(p.done_at) || Date.now(),
          });
        }
      }
    });
    // Uploads that had finished are done again, so nothing is sent twice.
    const q = this.d.queue;
    if (q) {
      for (const u of this.d.files.readLines(id, UPLOADS_JSONL)) {
        if (typeof u.target !== 'string' || typeof u.remote_id !== 'string') continue;
        if (u.kind === 'export') q.restoreDone({ target: u.target, kind: 'export', session_id: id }, u.remote_id, u.meta ? JSON.stringify(u.meta) : null);
        else if (typeof u.channel === 'string' && typeof u.seq === 'number')
          q.restoreDone({ target: u.target, kind: 'segment', session_id: id, channel_id: u.channel, segment_seq: u.seq }, u.remote_id);
      }
    }
  }

  /**
   * Every session a killed daemon left open becomes `recovered`, ending at its
   * last committed event or media; events.jsonl gets any committed event it missed.
   */
  async recoverOpenSessions(): Promise<string[]> {
    const recovered: string[] = [];
    for (const row of this.d.store.openSessions()) {
      const log = this.log.child({ sessionId: row.id });
      try {
        await this.recoverSession(row, log);
        recovered.push(row.id);
      } catch (err) {
        // Never fatal: the daemon starts and the session stays open for the next start.
        this.d.writeFailed(err);
        log.error({ err }, 'could not recover this session now; it is tried again at the next start');
      }
    }
    return recovered;
  }

  private async recoverSession(row: SessionRow, log: Logger): Promise<void> {
    const media = await this.recoverMedia(row, log);
    const last = this.d.store.lastEvent(row.id);
    const mediaEnd = media.reduce((m, s) => Math.max(m, s.start_offset_ms + s.duration_ms), 0);
    // The session ends at its last data: the last committed event or the end of the last media kept.
    const endOffset = Math.max(last?.offset_ms ?? 0, mediaEnd);
    const endTs = mediaEnd > (last?.offset_ms ?? 0) ? row.started_at + mediaEnd : (last?.ts ?? row.started_at);
    const data = { previous_state: row.state, reason: 'the daemon stopped without ending the session', media_segments_recovered: media.length };
    const dir = this.d.files.ensure(row.id);
    // events.jsonl first gets every committed event it missed, so the recovered event lands after them in order.
    try {
      this.d.files.appendEvents(row.id, this.d.store.eventsAfter(row.id, this.d.files.lastSeq(row.id)));
    } catch (err) {
      log.warn({ err }, 'could not bring events.jsonl up to date');
    }
    this.d.store.transaction(() => {
      this.d.events.appendLate(row.id, [{ channel: 'session', type: 'session.recovered', offset_ms: endOffset, data }]);
      this.d.store.endSession(row.id, { state: 'recovered', ended_at: endTs, end_offset_ms: endOffset });
      for (const c of this.d.store.channels(row.id)) {
        if (c.state !== 'unavailable' && c.state !== 'failed')
          this.d.store.upsertChannel({ ...c, state: 'stopped', detail: 'recovered after the daemon stopped' });
      }
    });
    try {
      const doc = this.d.files.readSession(row.id) ?? {
        format: 'traced-session/1',
        id: row.id,
        project: row.project,
        profile: row.profile,
        started_at: row.started_at,
      };
      this.d.files.writeSession(row.id, { ...doc, state: 'recovered', ended_at: endTs });
    } catch (err) {
      log.warn({ err, dir }, 'could not bring the session folder up to date');
    }
    log.warn({ endTs }, 'recovered a session left open');
    this.d.refreshMoments(row.id);
  }
}
