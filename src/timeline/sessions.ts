/**
 * Read views of sessions: summaries, lists, one session, its timeline and
 * transcript, and the daemon's status. A live session's state and channel
 * health come from what the recorder publishes in memory; everything else
 * from the store. Session references are resolved once, here (`resolve`).
 */
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import type {
  ChannelState,
  ChannelStatus,
  DaemonInfo,
  GetSessionInput,
  GetSessionOutput,
  GetTimelineInput,
  GetTimelineOutput,
  GetTranscriptInput,
  GetTranscriptOutput,
  IndexerStatus,
  ListSessionsInput,
  ListSessionsOutput,
  LiveSession,
  Profile,
  SessionSummary,
  StatusOutput,
  StorageStatus,
} from '../model.js';
import { fitPage } from './budget.js';
import type { Offload } from './read-pool.js';
import { atOffset } from './clock.js';
import { momentOffset, parseMoment, parseRange, sessionBounds } from './query.js';
import { redact } from './redact.js';
import type { SessionRow, Store } from './store.js';

export interface SessionViewsDeps {
  store: Store;
  live: { readonly current: LiveSession | undefined };
  now: () => number;
  /** Where a relative project filter resolves when the caller gave no directory. */
  cwd: string;
  /** Upload counts of a session, when a cloud target is configured. */
  uploads?: ((sessionId: string) => { done: number; pending: number; in_flight: number; failed: number }) | undefined;
  daemon: () => Omit<DaemonInfo, 'storage'>;
  storage: () => StorageStatus;
  indexer?: (() => IndexerStatus) | undefined;
  /** Recomputes the stored moments of a session (the live one's are computed on demand). */
  refreshMoments: (sessionId: string) => void;
  /** Where heavy reads run (a worker pool); inline when absent (tests, the read workers themselves). */
  reads?: Offload | undefined;
}

export class SessionViews {
  constructor(private readonly d: SessionViewsDeps) {}

  /** A session id from an id, a unique prefix or "last"; TRACED_SESSION_NOT_FOUND otherwise. */
  resolve(ref: string): string {
    return this.d.store.resolveSessionRef(ref);
  }

  /** A session's offsets as wall-clock `at` strings (clock.ts), or undefined for an unknown id. */
  clockOf(id: string): ((offsetMs: number) => string) | undefined {
    const started = this.d.store.getSession(id)?.started_at;
    return started === undefined ? undefined : (offsetMs) => atOffset(started, offsetMs);
  }

  summary(id: string): SessionSummary {
    const row = this.d.store.getSession(id);
    if (!row) throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, `no session ${id}`);
    return this.toSummary(row);
  }

  private toSummary(row: SessionRow): SessionSummary {
    const cur = this.d.live.current;
    const live = cur?.id === row.id ? cur : undefined;
    const now = this.d.now();
    const segCounts = new Map<string, number>();
    const segLast = new Map<string, number>();
    for (const sg of this.d.store.segments(row.id)) {
      segCounts.set(sg.channel_id, (segCounts.get(sg.channel_id) ?? 0) + 1);
      segLast.set(sg.channel_id, Math.max(segLast.get(sg.channel_id) ?? 0, sg.created_at));
    }
    const channels: ChannelStatus[] = this.d.store.channels(row.id).map((c) => {
      const lc = live?.channels.get(c.channel_id);
      // A live channel's health comes from memory: its row may lag while writes fail.
      const s: ChannelStatus = { id: c.channel_id, store: c.store === 1, state: lc ? lc.state : (c.state as ChannelState) };
      const detail = lc ? lc.detail : c.detail;
      if (detail) s.detail = detail;
      const segs = segCounts.get(c.channel_id);
      if (segs !== undefined) s.segments = segs;
      const lastSeg = segLast.get(c.channel_id);
      if (lastSeg !== undefined) s.lastSegmentAt = lastSeg;
      if (lc) {
        s.events = lc.events;
        if (lc.lastEventAt !== undefined) s.lastEventAt = lc.lastEventAt;
      }
      return s;
    });
    const ended = row.ended_at ?? (live ? null : row.started_at);
    return {
      id: row.id,
      project: row.project,
      label: row.label,
      profile: (live ? live.profile : row.profile) as Profile,
      state: live ? live.state : row.state,
      started_at: row.started_at,
      ended_at: row.ended_at,
      duration_ms: Math.max(0, (live ? now : (ended ?? row.started_at)) - row.started_at),
      event_count: this.d.store.eventCount(row.id),
      channels,
      warnings: live ? [...live.warnings] : (JSON.parse(row.warnings) as string[]),
      error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : null,
      ...(this.d.uploads ? { uploads: this.d.uploads(row.id) } : {}),
    };
  }

  status(): StatusOutput {
    const live = this.d.live.current;
    return {
      daemon: { ...this.d.daemon(), storage: this.d.storage() },
      session: live ? this.summary(live.id) : null,
      ...(this.d.indexer ? { indexer: this.d.indexer() } : {}),
    };
  }

  list(q: ListSessionsInput, cwd?: string): ListSessionsOutput {
    const now = this.d.now();
    let before: { started_at: number; id: string } | undefined;
    if (q.cursor !== undefined) {
      const m = /^(\d{1,15}):(\d{8}-\d{6}-[a-z0-9]{4})$/.exec(q.cursor);
      if (!m) throw new TracedError(ErrorCodes.INVALID_PARAMS, 'not a cursor from list_sessions (pass next_cursor as it came)', { data: { field: 'cursor' } });
      before = { started_at: Number(m[1]), id: m[2] as string };
    }
    const rows = this.d.store.listSessions({
      before,
      limit: q.limit + 1,
      ...parseRange(q, now),
      // Stored project paths went through the gate; the filter is compared the same way.
      project: q.project === undefined ? undefined : redact(path.resolve(cwd ?? this.d.cwd, q.project)),
    });
    const { page, more } = fitPage(
      rows.map((r) => this.toSummary(r)),
      q.limit,
      q.max_bytes,
    );
    const last = page[page.length - 1];
    return { sessions: page, next_cursor: more && last ? `${last.started_at}:${last.id}` : null };
  }

  /** A session, its counts by type and its first events within the budget; the rest through get_timeline. */
  get(id: string, q: Omit<GetSessionInput, 'session'>): GetSessionOutput {
    const session = this.summary(id);
    const counts = this.d.store.typeCounts(id);
    const used = Buffer.byteLength(JSON.stringify({ session, counts }));
    const events = this.d.store.events({ sessionId: id, order: 'seq', limit: q.events_limit + 1 });
    const { page, more } = fitPage(events, q.events_limit, q.max_bytes, used);
    const last = page[page.length - 1];
    return { session, counts, events: page, truncated: more, next_after_seq: more && last ? last.seq : null };
  }

  /**
   * Events in the writer's order (seq), filtered, within `limit` and
   * `max_bytes`; `next_after_seq` continues exactly after the last one
   * returned, so paging returns every event once even when events were
   * recorded out of time order. Moments overlapping the range come on the
   * first page.
   */
  /**
   * A range given as `from`/`to` moments (the time grammar) or `from_ms`/`to_ms`
   * offsets, as offsets; both forms of one end, or a start after the end, is an error.
   */
  private range<Q extends { from_ms?: number | undefined; to_ms?: number | undefined; from?: number | string | undefined; to?: number | string | undefined }>(
    id: string,
    q: Q,
  ): Q {
    const row = this.d.store.getSession(id);
    const start = row?.started_at ?? 0;
    const now = Date.now();
    const end = (v: number | string | undefined, ms: number | undefined, name: 'from' | 'to'): number | undefined => {
      if (v === undefined) return ms;
      if (ms !== undefined) throw new TracedError(ErrorCodes.INVALID_PARAMS, `give ${name} or ${name}_ms, not both`, { data: { field: name } });
      // A range may end past the session's end (up to "the end"); only its start must be a moment of the session.
      return momentOffset(parseMoment(v, 'at', { now, sessionStart: start }), start, v, name === 'from' ? bounds() : undefined);
    };
    // An ended session's events can reach past its recorded end (an index finished later, an import): its last one counts.
    const bounds = () => {
      if (!row) return undefined;
      const b = sessionBounds(row, now);
      const last = b.live ? undefined : this.d.store.events({ sessionId: id, order: 'offset_desc', limit: 1 })[0]?.offset_ms;
      return last !== undefined && start + last > b.end ? { ...b, end: start + last } : b;
    };
    const from_ms = end(q.from, q.from_ms, 'from');
    const to_ms = end(q.to, q.to_ms, 'to');
    if (from_ms !== undefined && to_ms !== undefined && from_ms > to_ms) {
      throw new TracedError(ErrorCodes.INVALID_TIME, `the range starts (${from_ms} ms) after it ends (${to_ms} ms): swap from and to`, {
        data: { field: 'from' },
      });
    }
    const { from: _f, to: _t, ...rest } = q;
    return { ...rest, from_ms, to_ms } as Q;
  }

  async timeline(id: string, q0: Omit<GetTimelineInput, 'session'>): Promise<GetTimelineOutput> {
    const q = this.range(id, q0);
    if (this.d.live.current?.id === id) this.d.refreshMoments(id);
    if (this.d.reads) return (await this.d.reads('sessions', 'timeline', [id, q])) as GetTimelineOutput;
    const moments =
      q.after_seq === undefined
        ? this.d.store
            .moments(id, q.from_ms ?? 0, q.to_ms ?? Number.MAX_SAFE_INTEGER)
            .slice(0, MAX_MOMENTS)
            .map((m) => ({
              kind: m.kind,
              start_offset_ms: m.start_offset_ms,
              end_offset_ms: m.end_offset_ms,
              data: JSON.parse(m.data) as Record<string, unknown>,
            }))
        : undefined;
    const used = moments ? Buffer.byteLength(JSON.stringify(moments)) : 0;
    const events = this.d.store.events({
      sessionId: id,
      order: 'seq',
      fromMs: q.from_ms,
      toMs: q.to_ms,
      types: q.types,
      channels: q.channels,
      afterSeq: q.after_seq,
      limit: q.limit + 1,
    });
    const { page, more } = fitPage(events, q.limit, q.max_bytes, used);
    const last = page[page.length - 1];
    return { session_id: id, events: page, next_after_seq: more && last ? last.seq : null, ...(moments ? { moments } : {}) };
  }

  transcript(id: string, q0: Omit<GetTranscriptInput, 'session'>): GetTranscriptOutput {
    const q = this.range(id, q0);
    const events = this.d.store.events({
      sessionId: id,
      order: 'seq',
      types: ['transcript.segment'],
      fromMs: q.from_ms,
      toMs: q.to_ms,
      afterSeq: q.after_seq,
      limit: q.limit + 1,
    });
    const segments = events.map((e) => ({
      offset_ms: e.offset_ms,
      end_offset_ms: typeof e.data.end_offset_ms === 'number' ? e.data.end_offset_ms : e.offset_ms,
      channel: e.channel,
      text: String(e.data.text ?? ''),
      confidence: typeof e.data.confidence === 'number' ? e.data.confidence : null,
      engine: String(e.data.engine ?? ''),
      seq: e.seq,
    }));
    const { page, more } = fitPage(segments, q.limit, q.max_bytes);
    const last = page[page.length - 1];
    // Spoken text reads in time order; seqs of late-indexed audio follow the order it was indexed in.
    page.sort((x, y) => x.offset_ms - y.offset_ms || x.seq - y.seq);
    return { session_id: id, segments: page, engine: this.d.indexer?.().speech.engine ?? null, next_after_seq: more && last ? last.seq : null };
  }
}

/** Moments on a timeline's first page: far more than any session has; a bound all the same. */
const MAX_MOMENTS = 200;
