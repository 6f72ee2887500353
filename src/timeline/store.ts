/**
 * The SQLite store: one handle, statements prepared once, every state change a
 * synchronous transaction. A caller may acknowledge a write as soon as the
 * method returns: the commit has happened (and, with synchronous=FULL, reached
 * the disk).
 */
import Database from 'better-sqlite3';
import { ErrorCodes, TracedError } from '../errors.js';
import type { RecordedEvent, SessionState } from '../model.js';
import { MAX_TEXT_CHARS } from './event-text.js';
import { migrations } from './migrations.js';
import {
  type AnnotationRow,
  type ChannelRow,
  type EventDbRow,
  type EventInsert,
  type EventQuery,
  type IndexProgressRow,
  type MomentRow,
  type SegmentRow,
  type SessionRow,
  rowToEvent,
} from './rows.js';

export type {
  AnnotationRow,
  ChannelRow,
  EventInsert,
  EventQuery,
  IndexProgressRow,
  MomentRow,
  SegmentRow,
  SessionRow,
} from './rows.js';
export { rowToEvent } from './rows.js';

export class Store {
  readonly db: Database.Database;
  private readonly st: ReturnType<Store['prepare']>;
  private readonly appendTx: (events: readonly EventInsert[]) => void;

  /** `readonly`: a reader's connection (a read worker): no migrations, no writes. */
  constructor(file: string, opts: { readonly?: boolean } = {}) {
    try {
      this.db = new Database(file, opts.readonly ? { readonly: true, fileMustExist: true } : {});
    } catch (err) {
      throw new TracedError(ErrorCodes.STORE_FAILED, `cannot open ${file}: ${(err as Error).message}`, { cause: err });
    }
    // WAL: readers (search, timeline) never block the writer and a crash never
    // leaves a half-written page. synchronous=FULL: every commit fsyncs the WAL,
    // so an acknowledged event survives a power cut, not only a killed process;
    // group commit in the engine keeps that affordable (one fsync per batch).
    // The CLI may read while the daemon writes: wait rather than fail on a lock.
    this.db.pragma('busy_timeout = 5000');
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.migrate();
    }
    this.st = this.prepare();
    this.appendTx = this.db.transaction((events: readonly EventInsert[]) => {
      for (const e of events) {
        // Every writer is held to the indexed-text cap eventText applies: a row's match cost grows with its text.
        const text = e.text && e.text.length > MAX_TEXT_CHARS ? e.text.slice(0, MAX_TEXT_CHARS) : e.text;
        const info = this.st.insertEvent.run(e.session_id, e.seq, e.parent_seq, e.ts, e.offset_ms, e.channel, e.type, JSON.stringify(e.data), text);
        if (text) {
          this.st.insertFts.run(info.lastInsertRowid, text);
          this.st.insertTrigram.run(info.lastInsertRowid, text);
        }
      }
    });
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const current = (this.db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new TracedError(ErrorCodes.STORE_MIGRATION, `traced.db is at schema ${current}, newer than this traced (${latest}); upgrade traced`);
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      })();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insertSession: db.prepare(
        `INSERT INTO sessions (id, project, label, profile, state, started_at, meta) VALUES (@id, @project, @label, @profile, @state, @started_at, @meta)`,
      ),
      setState: db.prepare('UPDATE sessions SET state = ? WHERE id = ?'),
      endSession: db.prepare(
        'UPDATE sessions SET state = @state, ended_at = @ended_at, end_offset_ms = @end_offset_ms, error = COALESCE(@error, error) WHERE id = @id',
      ),
      setWarnings: db.prepare('UPDATE sessions SET warnings = ? WHERE id = ?'),
      setProfile: db.prepare('UPDATE sessions SET profile = ? WHERE id = ?'),
      getSession: db.prepare('SELECT * FROM sessions WHERE id = ?'),
      sessionsByPrefix: db.prepare("SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 2"),
      lastSession: db.prepare('SELECT id FROM sessions ORDER BY started_at DESC, id DESC LIMIT 1'),
      openSessions: db.prepare("SELECT * FROM sessions WHERE state IN ('recording', 'paused', 'stopping', 'recovering')"),
      upsertChannel: db.prepare(
        `INSERT INTO channels (session_id, channel_id, kind, store, state, detail) VALUES (@session_id, @channel_id, @kind, @store, @state, @detail)
         ON CONFLICT (session_id, channel_id) DO UPDATE SET state = excluded.state, detail = excluded.detail, store = excluded.store`,
      ),
      channels: db.prepare('SELECT * FROM channels WHERE session_id = ? ORDER BY channel_id'),
      insertEvent: db.prepare('INSERT INTO events (session_id, seq, parent_seq, ts, offset_ms, channel, type, data, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      insertFts: db.prepare('INSERT INTO events_fts (rowid, text) VALUES (?, ?)'),
      insertTrigram: db.prepare('INSERT INTO events_trigram (rowid, text) VALUES (?, ?)'),
      progress: db.prepare(
        `INSERT INTO index_progress (session_id, channel_id, seq, kind, state, engine, events, detail, done_at)
         VALUES (@session_id, @channel_id, @seq, @kind, @state, @engine, @events, @detail, @done_at)
         ON CONFLICT (session_id, channel_id, seq, kind) DO UPDATE SET state = excluded.state, engine = excluded.engine, events = excluded.events, detail = excluded.detail, done_at = excluded.done_at`,
      ),
      nextToIndex: db.prepare(
        `SELECT g.* FROM segments g
         WHERE g.state != 'pruned' AND g.channel_id GLOB @glob
           AND NOT EXISTS (SELECT 1 FROM index_progress p WHERE p.session_id = g.session_id AND p.channel_id = g.channel_id AND p.seq = g.seq AND p.kind = @kind)
         ORDER BY g.created_at, g.session_id, g.seq LIMIT 1`,
      ),
      awaitsIndexing: db.prepare(
        `SELECT 1 FROM segments g
         WHERE g.session_id = @session_id AND g.channel_id = @channel_id AND g.seq = @seq AND g.state != 'pruned' AND g.channel_id GLOB @glob
           AND NOT EXISTS (SELECT 1 FROM index_progress p WHERE p.session_id = g.session_id AND p.channel_id = g.channel_id AND p.seq = g.seq AND p.kind = @kind)`,
      ),
      toIndex: db.prepare(
        `SELECT COUNT(*) AS n, MIN(g.created_at) AS oldest, COALESCE(SUM(g.duration_ms), 0) AS ms FROM segments g
         WHERE g.state != 'pruned' AND g.channel_id GLOB @glob
           AND NOT EXISTS (SELECT 1 FROM index_progress p WHERE p.session_id = g.session_id AND p.channel_id = g.channel_id AND p.seq = g.seq AND p.kind = @kind)`,
      ),
      maxSeq: db.prepare('SELECT MAX(seq) AS seq FROM events WHERE session_id = ?'),
      lastEvent: db.prepare('SELECT * FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1'),
      eventCount: db.prepare('SELECT COUNT(*) AS n FROM events WHERE session_id = ?'),
      eventsAfter: db.prepare('SELECT * FROM events WHERE session_id = ? AND seq > ? ORDER BY seq'),
      insertSegment: db.prepare(
        `INSERT INTO segments (session_id, channel_id, seq, path, start_offset_ms, duration_ms, bytes, sha256, state, created_at)
         VALUES (@session_id, @channel_id, @seq, @path, @start_offset_ms, @duration_ms, @bytes, @sha256, @state, @created_at)
         ON CONFLICT (session_id, channel_id, seq) DO NOTHING`,
      ),
      segments: db.prepare('SELECT * FROM segments WHERE session_id = ? ORDER BY channel_id, seq'),
      lastOfType: db.prepare('SELECT * FROM events WHERE session_id = ? AND type = ? AND offset_ms <= ? ORDER BY offset_ms DESC, seq DESC LIMIT 1'),
      sessionTypes: db.prepare('SELECT DISTINCT type FROM events WHERE session_id = ?'),
      sessionAt: db.prepare('SELECT * FROM sessions WHERE started_at <= ? AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at DESC LIMIT 1'),
      eventAt: db.prepare('SELECT data FROM events WHERE session_id = ? AND type = ? AND offset_ms = ?'),
      addAnnotation: db.prepare(
        'INSERT INTO annotations (session_id, offset_ms, ts, text, created_at) VALUES (@session_id, @offset_ms, @ts, @text, @created_at)',
      ),
      annotations: db.prepare('SELECT * FROM annotations WHERE session_id = ? AND offset_ms >= ? AND offset_ms <= ? ORDER BY offset_ms, id'),
      deleteMoments: db.prepare('DELETE FROM moments WHERE session_id = ?'),
      addMoment: db.prepare(
        'INSERT INTO moments (session_id, kind, start_offset_ms, end_offset_ms, score, data) VALUES (@session_id, @kind, @start_offset_ms, @end_offset_ms, @score, @data)',
      ),
      moments: db.prepare('SELECT * FROM moments WHERE session_id = ? AND start_offset_ms <= ? AND end_offset_ms >= ? ORDER BY start_offset_ms, id'),
      pruneSegment: db.prepare("UPDATE segments SET state = 'pruned' WHERE session_id = ? AND channel_id = ? AND seq = ?"),
      getSegment: db.prepare('SELECT * FROM segments WHERE session_id = ? AND channel_id = ? AND seq = ?'),
      typeCounts: db.prepare('SELECT type, COUNT(*) AS n FROM events WHERE session_id = ? GROUP BY type ORDER BY type'),
    };
  }

  /**
   * What a digest needs of a stretch of a session, without loading its
   * events: saves counted per path by SQLite, and the few kinds of event a
   * digest quotes, each list bounded (newest kept) so memory does not grow
   * with the session.
   */
  digestParts(
    sessionId: string,
    fromMs: number,
    toMs: number,
    max = 2000,
    /** Which terminal output to keep (e.g. text with failure lines); none when absent. */
    keepOutput?: (text: string) => boolean,
  ): { saves: { path: string; n: number }[]; events: RecordedEvent[] } {
    const saves = this.db
      .prepare(
        "SELECT json_extract(data, '$.path') AS path, COUNT(*) AS n FROM events WHERE session_id = ? AND offset_ms BETWEEN ? AND ? AND type LIKE 'file.%' AND json_extract(data, '$.path') IS NOT NULL GROUP BY 1 ORDER BY n DESC, path LIMIT ?",
      )
      .all(sessionId, fromMs, toMs, max) as { path: string; n: number }[];
    const rows = this.db
      .prepare(
        `SELECT * FROM (SELECT * FROM events WHERE session_id = ? AND offset_ms BETWEEN ? AND ? AND (
           type = 'git.commit' OR type = 'screen.text' OR type = 'transcript.segment'
           OR (type = 'terminal.command' AND COALESCE(json_extract(data, '$.exit_code'), 0) != 0)
         ) ORDER BY offset_ms DESC, seq DESC LIMIT ?) ORDER BY offset_ms, seq`,
      )
      .all(sessionId, fromMs, toMs, max * 4) as EventDbRow[];
    // Terminal output (traced shell): only the chunks `keepOutput` wants, on a budget of their own, so a flood of
    // output neither crowds out commits and screens nor hides the one chunk with the failure in it.
    const output: EventDbRow[] = [];
    if (keepOutput) {
      const it = this.db
        .prepare("SELECT * FROM events WHERE session_id = ? AND offset_ms BETWEEN ? AND ? AND type = 'terminal.output' ORDER BY offset_ms, seq")
        .iterate(sessionId, fromMs, toMs) as IterableIterator<EventDbRow>;
      for (const row of it) {
        let text = '';
        try {
          text = String((JSON.parse(row.data) as { text?: unknown }).text ?? '');
        } catch {
          continue;
        }
        if (!keepOutput(text)) continue;
        output.push(row);
        if (output.length >= max) break;
      }
    }
    return { saves, events: [...rows, ...output].map(rowToEvent) };
  }

  /** Writes a batch of events and their FTS rows in one transaction. */
  appendEvents(events: readonly EventInsert[]): void {
    if (events.length > 0) this.appendTx(events);
  }

  insertSession(row: { id: string; project: string; label: string | null; profile: string; state: SessionState; started_at: number; meta: string }): void {
    this.st.insertSession.run(row);
  }

  setSessionState(id: string, state: SessionState): void {
    this.st.setState.run(state, id);
  }

  endSession(id: string, end: { state: SessionState; ended_at: number; end_offset_ms: number; error?: { code: string; message: string } | undefined }): void {
    this.st.endSession.run({
      id,
      state: end.state,
      ended_at: end.ended_at,
      end_offset_ms: end.end_offset_ms,
      error: end.error ? JSON.stringify(end.error) : null,
    });
  }

  setWarnings(id: string, warnings: readonly string[]): void {
    this.st.setWarnings.run(JSON.stringify(warnings), id);
  }

  setProfile(id: string, profile: string): void {
    this.st.setProfile.run(profile, id);
  }

  getSession(id: string): SessionRow | undefined {
    return this.st.getSession.get(id) as SessionRow | undefined;
  }

  /** Resolves an id, a unique prefix or `last`; throws SESSION_NOT_FOUND otherwise. */
  resolveSessionRef(ref: string): string {
    if (ref === 'last' || ref === 'latest') {
      const row = this.st.lastSession.get() as { id: string } | undefined;
      if (!row) throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, 'there are no sessions yet');
      return row.id;
    }
    if (this.getSession(ref)) return ref;
    const rows = this.st.sessionsByPrefix.all(`${ref.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as { id: string }[];
    if (rows.length === 1 && rows[0]) return rows[0].id;
    if (rows.length > 1) throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, `"${ref}" matches several sessions; give more of the id`);
    throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, `no session "${ref}"`, { data: { ref } });
  }

  listSessions(q: {
    limit: number;
    since?: number | undefined;
    until?: number | undefined;
    project?: string | undefined;
    state?: string | undefined;
    /** Continue after this session, in the list's order (newest first): a stable key, unlike a time. */
    before?: { started_at: number; id: string } | undefined;
  }): SessionRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.before !== undefined) {
      where.push('(started_at < ? OR (started_at = ? AND id < ?))');
      args.push(q.before.started_at, q.before.started_at, q.before.id);
    }
    if (q.since !== undefined) {
      where.push('COALESCE(ended_at, 9e15) >= ?');
      args.push(q.since);
    }
    if (q.until !== undefined) {
      where.push('started_at <= ?');
      args.push(q.until);
    }
    if (q.project !== undefined) {
      where.push('project = ?');
      args.push(q.project);
    }
    if (q.state !== undefined) {
      where.push('state = ?');
      args.push(q.state);
    }
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`;
    return this.db.prepare(sql).all(...args, q.limit) as SessionRow[];
  }

  openSessions(): SessionRow[] {
    return this.st.openSessions.all() as SessionRow[];
  }

  upsertChannel(row: ChannelRow): void {
    this.st.upsertChannel.run(row);
  }

  channels(sessionId: string): ChannelRow[] {
    return this.st.channels.all(sessionId) as ChannelRow[];
  }

  maxSeq(sessionId: string): number {
    return (this.st.maxSeq.get(sessionId) as { seq: number | null }).seq ?? 0;
  }

  lastEvent(sessionId: string): RecordedEvent | undefined {
    const row = this.st.lastEvent.get(sessionId) as EventDbRow | undefined;
    return row ? rowToEvent(row) : undefined;
  }

  eventCount(sessionId: string): number {
    return (this.st.eventCount.get(sessionId) as { n: number }).n;
  }

  /** Registers a segment; a second registration of the same (session, channel, seq) is ignored. Returns true when new. */
  insertSegment(row: SegmentRow): boolean {
    return this.st.insertSegment.run(row).changes > 0;
  }

  /** The latest event of any of `types` (exact types) at or before `atMs`. */
  lastOfTypes(sessionId: string, atMs: number, types: readonly string[]): RecordedEvent | undefined {
    let best: EventDbRow | undefined;
    for (const t of types) {
      const r = this.st.lastOfType.get(sessionId, t, atMs) as EventDbRow | undefined;
      if (r && (!best || r.offset_ms > best.offset_ms || (r.offset_ms === best.offset_ms && r.seq > best.seq))) best = r;
    }
    return best ? rowToEvent(best) : undefined;
  }

  /** Events after (offset, seq) in (offset, seq) order, up to `toMs`, optionally of some types (prefixes). */
  eventsFrom(
    sessionId: string,
    afterOffset: number,
    afterSeq: number,
    toMs: number | undefined,
    types: readonly string[] | undefined,
    limit: number,
  ): RecordedEvent[] {
    const where = ['session_id = ?', '(offset_ms > ? OR (offset_ms = ? AND seq > ?))'];
    const args: unknown[] = [sessionId, afterOffset, afterOffset, afterSeq];
    if (toMs !== undefined) {
      where.push('offset_ms <= ?');
      args.push(toMs);
    }
    if (types?.length) {
      where.push(`(${types.map(() => 'type = ? OR type LIKE ?').join(' OR ')})`);
      for (const t of types) args.push(t, `${t}.%`);
    }
    return (this.db.prepare(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY offset_ms, seq LIMIT ?`).all(...args, limit) as EventDbRow[]).map(
      rowToEvent,
    );
  }

  /** The session running at `ts` (started at or before it, not ended before it), newest first. */
  sessionAt(ts: number): SessionRow | undefined {
    return this.st.sessionAt.get(ts, ts) as SessionRow | undefined;
  }

  /** Whether an event of `type` at `offsetMs` whose data holds `text` exists (de-duplicating late arrivals). */
  hasEventAt(sessionId: string, type: string, offsetMs: number, text: string): boolean {
    return (this.st.eventAt.all(sessionId, type, offsetMs) as { data: string }[]).some((r) => r.data.includes(JSON.stringify(text).slice(1, -1)));
  }

  /** Distinct event types of a session (for prefix lookups). */
  sessionTypes(sessionId: string): string[] {
    return (this.st.sessionTypes.all(sessionId) as { type: string }[]).map((r) => r.type);
  }

  addAnnotation(a: { session_id: string; offset_ms: number; ts: number; text: string; created_at: number }): number {
    return Number(this.st.addAnnotation.run(a).lastInsertRowid);
  }

  annotations(sessionId: string, fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): AnnotationRow[] {
    return this.st.annotations.all(sessionId, fromMs, toMs) as AnnotationRow[];
  }

  replaceMoments(sessionId: string, moments: readonly Omit<MomentRow, 'id' | 'session_id'>[]): void {
    this.transaction(() => {
      this.st.deleteMoments.run(sessionId);
      for (const m of moments)
        this.st.addMoment.run({
          session_id: sessionId,
          kind: m.kind,
          start_offset_ms: m.start_offset_ms,
          end_offset_ms: m.end_offset_ms,
          score: m.score,
          data: m.data,
        });
    });
  }

  moments(sessionId: string, fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): MomentRow[] {
    return this.st.moments.all(sessionId, toMs, fromMs) as MomentRow[];
  }

  /** The oldest stored segment of channels matching `glob` not yet indexed for `kind`. */
  nextToIndex(kind: string, glob: string): SegmentRow | undefined {
    return this.st.nextToIndex.get({ kind, glob }) as SegmentRow | undefined;
  }

  /** How far the indexer is behind for `kind`: segments and media ms left, oldest registration time. */
  indexBacklog(kind: string, glob: string): { n: number; oldest: number | null; ms: number } {
    return this.st.toIndex.get({ kind, glob }) as { n: number; oldest: number | null; ms: number };
  }

  /** Whether a segment of a channel matching `glob` is still to be indexed for `kind` (what nextToIndex would return in turn). */
  awaitsIndexing(g: { session_id: string; channel_id: string; seq: number }, kind: string, glob: string): boolean {
    return this.st.awaitsIndexing.get({ session_id: g.session_id, channel_id: g.channel_id, seq: g.seq, kind, glob }) !== undefined;
  }

  recordIndexProgress(row: IndexProgressRow): void {
    this.st.progress.run(row);
  }

  markSegmentPruned(sessionId: string, channelId: string, seq: number): void {
    this.st.pruneSegment.run(sessionId, channelId, seq);
  }

  getSegment(sessionId: string, channelId: string, seq: number): SegmentRow | undefined {
    return this.st.getSegment.get(sessionId, channelId, seq) as SegmentRow | undefined;
  }

  segments(sessionId: string): SegmentRow[] {
    return this.st.segments.all(sessionId) as SegmentRow[];
  }

  typeCounts(sessionId: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.st.typeCounts.all(sessionId) as { type: string; n: number }[]) out[r.type] = r.n;
    return out;
  }

  /** Runs `fn` in one transaction (no await inside). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  eventsAfter(sessionId: string, seq: number): RecordedEvent[] {
    return (this.st.eventsAfter.all(sessionId, seq) as EventDbRow[]).map(rowToEvent);
  }

  events(q: EventQuery): RecordedEvent[] {
    const where = ['session_id = ?'];
    const args: unknown[] = [q.sessionId];
    if (q.fromMs !== undefined) {
      where.push('offset_ms >= ?');
      args.push(q.fromMs);
    }
    if (q.toMs !== undefined) {
      where.push('offset_ms <= ?');
      args.push(q.toMs);
    }
    if (q.afterSeq !== undefined) {
      where.push('seq > ?');
      args.push(q.afterSeq);
    }
    if (q.types?.length) {
      where.push(`(${q.types.map(() => 'type = ? OR type LIKE ?').join(' OR ')})`);
      for (const t of q.types) args.push(t, `${t}.%`);
    }
    if (q.channels?.length) {
      where.push(`channel IN (${q.channels.map(() => '?').join(',')})`);
      args.push(...q.channels);
    }
    // Pages continue after a seq, so they are in seq order (the writer's); views of a moment use time order.
    const sql = `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY ${q.order === 'seq' || q.afterSeq !== undefined ? 'seq' : q.order === 'offset_desc' ? 'offset_ms DESC, seq DESC' : 'offset_ms, seq'} LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as EventDbRow[]).map(rowToEvent);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
