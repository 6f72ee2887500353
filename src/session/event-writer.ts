/**
 * The one path by which any event reaches the store and the session folder —
 * live channel events, pushed events, recognized text, terminal commands,
 * assistant events, imported and rebuilt sessions — and every other string
 * that is persisted (labels, bookmarks). It owns:
 * - the redaction gate and shape limits (nothing is stored before it passed them),
 * - seq assignment (per session, monotonic, in writer order),
 * - group commit: events are grouped into one transaction per
 *   `commitIntervalMs` window, so a burst costs one fsync instead of one per
 *   event; an event is acknowledged (its promise resolves) only after the
 *   transaction holding it committed,
 * - the events.jsonl mirror (written after each commit, fsync'd in batches),
 * - refreshing moments after late events.
 */
import type { Logger } from 'pino';
import { ErrorCodes, TracedError } from '../errors.js';
import type { EventData, RecordedEvent } from '../model.js';
import { eventText } from '../timeline/event-text.js';
import { redact, redactDeep } from '../timeline/redact.js';
import { SHAPE_LIMITS, checkShape } from '../timeline/shape.js';
import { ANNOTATIONS_JSONL, INDEX_JSONL, type EventLog, type SessionFiles } from '../timeline/session-files.js';
import type { EventInsert, IndexProgressRow, Store } from '../timeline/store.js';
import type { StorageHealth } from './storage-health.js';

/** An event found after the fact (recognized text, a command from the spool), at its own offset. */
export interface LateEvent {
  channel: string;
  type: string;
  offset_ms: number;
  data: EventData;
}

export interface Clock {
  /** Wall clock, ms since the epoch. */
  now(): number;
  /** Monotonic ms (never jumps with NTP or a changed system time). */
  mono(): number;
}

export interface EventWriterDeps {
  store: Store;
  files: SessionFiles;
  health: StorageHealth;
  clock: Clock;
  log: Logger;
  notify: (topic: string, data: unknown) => void;
  commitIntervalMs: number;
  jsonlSyncMs: number;
  /** Recomputes a session's stored moments (after late events change it). */
  refreshMoments: (sessionId: string) => void;
}

/** The live session as the writer sees it: where its events go and its clock origin. */
interface Active {
  id: string;
  startedAt: number;
  mono0: number;
  seq: number;
  log: EventLog;
}

interface Pending {
  event: EventInsert;
  resolve: (e: RecordedEvent) => void;
  reject: (err: unknown) => void;
}

/** Event data larger than this (serialized) is refused at the gate. */
export const MAX_EVENT_DATA_BYTES = 64 * 1024;
const MOMENTS_DELAY_MS = 2000;

export class EventWriter {
  private active: Active | undefined;
  private pending: Pending[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly momentTimers = new Map<string, NodeJS.Timeout>();
  private readonly log: Logger;

  constructor(private readonly d: EventWriterDeps) {
    this.log = d.log.child({ mod: 'events' });
  }

  // ---------------------------------------------------------------- the gate

  /** Event data as it may be stored: shape checked, every string at any depth redacted. */
  gate(data: EventData): EventData {
    // Shape first, without recursion: nothing below may walk (or stringify) unbounded input.
    checkShape(data, SHAPE_LIMITS, 'data');
    const bytes = Buffer.byteLength(JSON.stringify(data));
    if (bytes > MAX_EVENT_DATA_BYTES) {
      throw new TracedError(ErrorCodes.INVALID_PARAMS, `event data is ${bytes} bytes; the limit is ${MAX_EVENT_DATA_BYTES}`, {
        data: { limit: 'bytes', max: MAX_EVENT_DATA_BYTES },
      });
    }
    return redactDeep(data);
  }

  /** A single persisted string (label, bookmark) as it may be stored. */
  gateText(text: string): string;
  gateText(text: string | null): string | null;
  gateText(text: string | null): string | null {
    return text === null ? null : redact(text);
  }

  // ---------------------------------------------------------------- live session

  /** The live session whose events `record` puts on the clock; its events.jsonl opens here. */
  open(s: { id: string; startedAt: number; mono0: number }): void {
    if (this.active) throw new TracedError(ErrorCodes.INTERNAL, `events of ${this.active.id} are still open`);
    this.active = { ...s, seq: 0, log: this.d.files.eventLog(s.id, this.d.jsonlSyncMs) };
  }

  /** Commits what is pending and closes the live session's events.jsonl. */
  close(): void {
    this.flush();
    this.active?.log.close();
    this.active = undefined;
  }

  get activeId(): string | undefined {
    return this.active?.id;
  }

  /**
   * Puts an event of the live session on its clock and queues it for the next
   * group commit; resolves once it is committed. `opts.ts` is when it happened
   * (wall clock); the offset is the monotonic clock minus how long ago that was.
   * Data that fails the gate rejects (nothing stored).
   */
  record(channel: string, type: string, data: EventData, opts?: { ts?: number | undefined; parentSeq?: number | undefined }): Promise<RecordedEvent> {
    const a = this.active;
    if (!a) return Promise.reject(new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, 'no session is recording'));
    let clean: EventData;
    try {
      clean = this.gate(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const wall = this.d.clock.now();
    const sinceStart = this.d.clock.mono() - a.mono0;
    const ts = opts?.ts ?? wall;
    const offset = Math.max(0, Math.round(sinceStart - Math.max(0, wall - ts)));
    const event: EventInsert = {
      session_id: a.id,
      seq: ++a.seq,
      parent_seq: opts?.parentSeq ?? null,
      ts: Math.round(ts),
      offset_ms: offset,
      channel,
      type,
      data: clean,
      text: eventText(type, clean),
    };
    return new Promise<RecordedEvent>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.d.commitIntervalMs);
  }

  /** Commits every queued event now (one transaction), then mirrors them to events.jsonl. */
  flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const events = batch.map((b) => b.event);
    try {
      this.d.health.write(() => this.d.store.appendEvents(events));
    } catch (err) {
      const cause = this.d.health.failed(err);
      const e = new TracedError(cause.code, `could not store ${events.length} events: ${cause.message}`, { cause: err });
      for (const b of batch) b.reject(e);
      return;
    }
    const a = this.active;
    if (a) {
      try {
        a.log.append(events.filter((e) => e.session_id === a.id).map(withoutText));
      } catch (err) {
        // The DB already holds these events; the JSONL copy is rebuilt at the next recovery.
        this.log.warn({ err }, 'events.jsonl append failed');
      }
    }
    for (const b of batch) {
      const e = withoutText(b.event);
      b.resolve(e);
      this.d.notify('event.recorded', e);
    }
  }

  // ---------------------------------------------------------------- late events

  /**
   * Events that arrive after the fact (recognized text, terminal commands from
   * the spool, assistant events), placed at their own offsets with the
   * session's next seqs, and mirrored to events.jsonl; with `progress`, the
   * indexing row goes in the same transaction (and to index.jsonl).
   */
  appendLate(sessionId: string, events: readonly LateEvent[], progress?: IndexProgressRow): RecordedEvent[] {
    const row = this.d.store.getSession(sessionId);
    if (!row) return []; // the session was deleted meanwhile
    const live = this.active?.id === sessionId ? this.active : undefined;
    if (live) this.flush(); // keep events.jsonl in seq order
    let seq = live ? live.seq : this.d.store.maxSeq(sessionId);
    const inserts: EventInsert[] = events.map((e) => {
      const data = this.gate(e.data);
      return {
        session_id: sessionId,
        seq: ++seq,
        parent_seq: null,
        ts: row.started_at + e.offset_ms,
        offset_ms: e.offset_ms,
        channel: redact(e.channel),
        type: e.type,
        data,
        text: eventText(e.type, data),
      };
    });
    try {
      this.d.health.write(() =>
        this.d.store.transaction(() => {
          this.d.store.appendEvents(inserts);
          if (progress) this.d.store.recordIndexProgress(progress);
        }),
      );
    } catch (err) {
      throw this.d.health.failed(err);
    }
    if (live) live.seq = seq;
    // The folder keeps what was indexed too: a database rebuilt from it must not index (and duplicate) again.
    if (progress) {
      try {
        this.d.files.appendLine(sessionId, INDEX_JSONL, progress);
      } catch (err) {
        this.log.warn({ err }, 'could not note indexing progress in the session folder');
      }
    }
    const lines = inserts.map(withoutText);
    if (!lines.length) return lines;
    try {
      if (live) live.log.append(lines);
      else this.d.files.appendEvents(sessionId, lines);
    } catch (err) {
      this.log.warn({ err }, 'events.jsonl append of late events failed');
    }
    for (const e of lines) this.d.notify('event.recorded', e);
    this.momentsSoon(sessionId);
    return lines;
  }

  /**
   * Events that already had their seqs (a session rebuilt from its folder, an
   * imported recording), stored as they are after passing the gate again.
   * Runs inside the caller's transaction when there is one.
   */
  restore(sessionId: string, events: readonly Omit<RecordedEvent, 'session_id'>[]): number {
    const seen = new Set<number>();
    const rows: EventInsert[] = [];
    for (const e of events) {
      if (seen.has(e.seq)) continue;
      seen.add(e.seq);
      const data = this.gate(e.data ?? {});
      // Every string of a restored event passes the gate, its channel name included (an imported file says what it likes).
      rows.push({
        ...e,
        session_id: sessionId,
        parent_seq: e.parent_seq ?? null,
        channel: redact(e.channel),
        type: redact(e.type),
        data,
        text: eventText(e.type, data),
      });
    }
    this.d.store.appendEvents(rows);
    return rows.length;
  }

  /** A bookmark at a moment of a session: stored (redacted) in the DB and annotations.jsonl. */
  annotate(sessionId: string, offsetMs: number, text: string): { id: number; session_id: string; offset_ms: number; ts: number; text: string } {
    const row = this.d.store.getSession(sessionId);
    if (!row) throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, `no session ${sessionId}`);
    const clean = this.gateText(text);
    const a = { session_id: sessionId, offset_ms: offsetMs, ts: row.started_at + offsetMs, text: clean, created_at: this.d.clock.now() };
    let id: number;
    try {
      id = this.d.health.write(() => this.d.store.addAnnotation(a));
    } catch (err) {
      throw this.d.health.failed(err);
    }
    try {
      this.d.files.appendLine(sessionId, ANNOTATIONS_JSONL, { id, ...a });
    } catch {
      // the DB holds it; the folder copy is for rebuilds
    }
    return { id, session_id: sessionId, offset_ms: offsetMs, ts: a.ts, text: clean };
  }

  /** Moments of an ended session are recomputed shortly after its events change (indexing adds text late). */
  private momentsSoon(sessionId: string): void {
    if (this.active?.id === sessionId || this.momentTimers.has(sessionId)) return;
    const t = setTimeout(() => {
      this.momentTimers.delete(sessionId);
      try {
        this.d.refreshMoments(sessionId);
      } catch (err) {
        this.log.warn({ err, sessionId }, 'could not compute moments');
      }
    }, MOMENTS_DELAY_MS);
    t.unref();
    this.momentTimers.set(sessionId, t);
  }
}

function withoutText(e: EventInsert): RecordedEvent {
  const { text: _t, ...rest } = e;
  return rest;
}
