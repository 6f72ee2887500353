/**
 * Standing at a moment of a session: what was there (replay_at), the screen
 * as it was (get_frame), bookmarks (annotate), walking events in order (the
 * stateless replay cursor) and a digest of a stretch of time (what_happened).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {
  GetFrameInput,
  GetFrameOutput,
  ReplayAtInput,
  ReplayAtOutput,
  ReplayCursorInput,
  ReplayCursorOutput,
  WhatHappenedInput,
  WhatHappenedOutput,
} from '../model.js';
import { run } from '../capture/proc.js';
import { ErrorCodes, TracedError } from '../errors.js';
import { SESSION_ID_PATTERN, type RecordedEvent } from '../model.js';
import { wallClockBytes } from '../model/clock.js';
import { failureLines } from './failures.js';
import { fitPage } from './budget.js';
import { failedCommands, failures } from './digest.js';
import type { Offload } from './read-pool.js';
import { computeMoments } from './moments.js';
import { MAX_OFFSET_MS, momentOffset, parseMoment, parseRange, sessionBounds } from './query.js';
import type { SessionRow, Store } from './store.js';

export interface ReplayDeps {
  store: Store;
  sessionDir: (id: string) => string;
  ffmpeg: () => Promise<string>;
  now: () => number;
  /** The live session's id: its moments are computed on demand, so a digest of it is current. */
  liveId?: (() => string | undefined) | undefined;
  /** Where heavy reads run (a worker pool); inline when absent. */
  reads?: Offload | undefined;
}

/** On-screen text in a replay_at reply (characters): a full screen of a terminal is ~8k. */
const MAX_SCREEN_TEXT = 8000;
/** A replay cursor token: `<session id>:<offset>:<seq>`. */
const CURSOR = new RegExp(`^(${SESSION_ID_PATTERN.source.slice(1, -1)}):(-?\\d+):(-?\\d+)$`);
const FILE_TYPES = ['file.changed', 'file.created', 'file.deleted'];
/** Events that move HEAD, and the state noted at start and resume (the HEAD before the session's first move). */
const HEAD_TYPES = [
  'git.state',
  'git.commit',
  'git.checkout',
  'git.branch.switched',
  'git.reset',
  'git.merge',
  'git.rebase',
  'git.pull',
  'git.cherry_pick',
  'git.revert',
  'git.ref',
];

type EventOut = ReplayAtOutput['current'][number];
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

function gitHead(head: RecordedEvent): NonNullable<ReplayAtOutput['git_head']> {
  const d = head.data;
  const base = { offset_ms: head.offset_ms, hash: str(d.hash), subject: str(d.subject), branch: str(d.branch) ?? str(d.to), from: head.type };
  if (head.type !== 'git.state') return base;
  return { ...base, upstream: str(d.upstream), ahead: int(d.ahead), behind: int(d.behind), dirty_files: int(d.dirty_files) };
}
const out = (e: RecordedEvent): EventOut => ({ seq: e.seq, offset_ms: e.offset_ms, ts: e.ts, channel: e.channel, type: e.type, data: e.data });

export class Replay {
  constructor(private readonly d: ReplayDeps) {}

  private session(ref: string): SessionRow {
    const id = this.d.store.resolveSessionRef(ref);
    return this.d.store.getSession(id) as SessionRow;
  }

  /**
   * An `at` as an offset on the session clock, read by the one time grammar
   * (parseMoment: `+90s`, `+1:30`, ms, `14:32` on the session's day, ISO, epoch
   * ms). A moment outside the session (before it started, or well after an
   * ended session ended) is TRACED_INVALID_TIME.
   */
  offsetOf(session: SessionRow | string, at: number | string): number {
    const row = typeof session === 'string' ? this.session(session) : session;
    const now = this.d.now();
    const m = parseMoment(at, 'at', { now, sessionStart: row.started_at });
    return momentOffset(m, row.started_at, at, sessionBounds(row, now));
  }

  replayAt(q: ReplayAtInput): ReplayAtOutput {
    const row = this.session(q.session);
    const s = this.d.store;
    const at = this.offsetOf(row, q.at);
    const events = (e: { offset_ms: number; type: string }) => !e.type.startsWith('transcript.') && e.type !== 'screen.text';
    // Each list has its share of the reply budget: the events nearest the moment first, whatever
    // the session's density (a watcher storm must not push the moment itself out of the reply).
    const current = fitPage(
      [
        ...s.events({ sessionId: row.id, fromMs: Math.max(0, at - q.tolerance_ms), toMs: at, order: 'offset_desc', limit: 200 }),
        ...s.events({ sessionId: row.id, fromMs: at + 1, toMs: at + q.tolerance_ms, limit: 200 }),
      ]
        .filter(events)
        .sort((a, b) => Math.abs(a.offset_ms - at) - Math.abs(b.offset_ms - at)),
      50,
      12_000,
    ).page.sort((a, b) => a.offset_ms - b.offset_ms || a.seq - b.seq);
    const recent =
      q.window_ms > q.tolerance_ms
        ? fitPage(
            s
              .events({ sessionId: row.id, fromMs: Math.max(0, at - q.window_ms), toMs: at - q.tolerance_ms - 1, order: 'offset_desc', limit: 500 })
              .filter(events),
            50,
            12_000,
          ).page.reverse()
        : [];
    const talk = s.events({ sessionId: row.id, types: ['transcript.segment'], fromMs: Math.max(0, at - 60_000), toMs: at + 15_000, limit: 200 });
    const transcript = fitPage(
      talk
        .map((e) => ({ offset_ms: e.offset_ms, end_offset_ms: Number(e.data.end_offset_ms ?? e.offset_ms), text: String(e.data.text ?? '') }))
        .filter((t) => t.end_offset_ms >= at - 15_000),
      100,
      6000,
    ).page;
    const screen = s.lastOfTypes(row.id, at, ['screen.text']);
    const win = s.lastOfTypes(row.id, at, ['window.focus']);
    const saved = s.lastOfTypes(row.id, at, FILE_TYPES);
    // Before the git channel's first event, HEAD is still the one the session started on.
    const head =
      s.lastOfTypes(row.id, at, HEAD_TYPES) ?? s.events({ sessionId: row.id, types: ['git.state'], limit: 1 }).find((e) => e.data.reason === 'start');
    const frame = this.frameSegment(row.id, at);
    return {
      session_id: row.id,
      offset_ms: at,
      ts: row.started_at + at,
      current: current.map(out),
      recent: recent.map(out),
      moments: fitPage(s.moments(row.id, at, at), 50, 8000).page.map((m) => ({
        kind: m.kind,
        start_offset_ms: m.start_offset_ms,
        end_offset_ms: m.end_offset_ms,
        data: JSON.parse(m.data) as Record<string, unknown>,
      })),
      annotations: s.annotations(row.id, Math.max(0, at - q.window_ms), at + q.tolerance_ms).map((a) => ({ id: a.id, offset_ms: a.offset_ms, text: a.text })),
      transcript,
      speaking: transcript.some((t) => t.offset_ms <= at && t.end_offset_ms >= at),
      screen_text: screen ? { offset_ms: screen.offset_ms, text: String(screen.data.text ?? '').slice(0, MAX_SCREEN_TEXT) } : null,
      window: win ? { offset_ms: win.offset_ms, title: String(win.data.title ?? ''), app: String(win.data.app ?? '') } : null,
      last_saved: saved ? { offset_ms: saved.offset_ms, path: String(saved.data.path ?? ''), type: saved.type } : null,
      git_head: head ? gitHead(head) : null,
      frame: frame ? { display: frame.channel_id, segment_seq: frame.seq } : null,
    };
  }

  private frameSegment(sessionId: string, at: number, display?: string) {
    const segs = this.d.store
      .segments(sessionId)
      .filter((g) => g.channel_id.startsWith('display:') && g.state !== 'pruned' && (!display || g.channel_id === display));
    if (!segs.length) return undefined;
    const first = display ?? [...new Set(segs.map((g) => g.channel_id))].sort()[0];
    const mine = segs.filter((g) => g.channel_id === first);
    // The segment covering the moment; else the last one before it (a gap: the screen as last seen).
    return (
      mine.find((g) => g.start_offset_ms <= at && at < g.start_offset_ms + (g.duration_ms ?? 0)) ?? [...mine].reverse().find((g) => g.start_offset_ms <= at)
    );
  }

  async getFrame(q: GetFrameInput): Promise<GetFrameOutput> {
    const row = this.session(q.session);
    const at = this.offsetOf(row, q.at);
    const seg = this.frameSegment(row.id, at, q.display);
    if (!seg)
      throw new TracedError(ErrorCodes.NO_SCREEN, `session ${row.id} has no stored screen${q.display ? ` for ${q.display}` : ''} at or before ${at} ms`);
    const within = Math.max(0, Math.min(at - seg.start_offset_ms, (seg.duration_ms ?? 0) - 1));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'traced-frame-'));
    try {
      const png = path.join(tmp, 'frame.png');
      const ff = await this.d.ffmpeg();
      // Input seeking lands on the keyframe before, then decodes up to the moment: exact and cheap at 2 fps.
      const r = await run(
        ff,
        [
          '-nostdin',
          '-hide_banner',
          '-loglevel',
          'error',
          '-ss',
          (within / 1000).toFixed(3),
          '-i',
          path.join(this.d.sessionDir(row.id), seg.path),
          '-frames:v',
          '1',
          '-y',
          png,
        ],
        { timeoutMs: 30_000 },
      );
      if (r.code !== 0 || !fs.existsSync(png))
        throw new TracedError(ErrorCodes.EXPORT_FAILED, `cannot decode the frame: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
      const buf = fs.readFileSync(png);
      return {
        session_id: row.id,
        display: seg.channel_id,
        offset_ms: at,
        frame_offset_ms: seg.start_offset_ms + within,
        width: buf.readUInt32BE(16),
        height: buf.readUInt32BE(20),
        mime_type: 'image/png',
        png_base64: buf.toString('base64'),
      };
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /**
   * A cursor that lives in its token: `<session>:<offset>:<seq>` of the last
   * event returned. Events are walked in (offset, seq) order; each is returned
   * once however the walk is split.
   */
  cursor(q: ReplayCursorInput): ReplayCursorOutput {
    let sessionId: string;
    let pos = { offset: -1, seq: -1 };
    if (q.cursor) {
      const m = CURSOR.exec(q.cursor);
      if (!m) throw new TracedError(ErrorCodes.INVALID_PARAMS, 'not a cursor from replay_cursor');
      sessionId = this.d.store.resolveSessionRef(m[1] as string);
      pos = { offset: Number(m[2]), seq: Number(m[3]) };
      if (pos.offset < -1 || pos.offset > MAX_OFFSET_MS || !Number.isSafeInteger(pos.seq))
        throw new TracedError(ErrorCodes.INVALID_PARAMS, 'not a cursor from replay_cursor');
    } else if (q.session) sessionId = this.d.store.resolveSessionRef(q.session);
    else throw new TracedError(ErrorCodes.INVALID_PARAMS, 'give a session or a cursor');
    if (q.seek_ms !== undefined) pos = { offset: q.seek_ms - 1, seq: Number.MAX_SAFE_INTEGER };
    const limit = q.advance ?? (q.advance_to_ms !== undefined ? 10_000 : 0);
    const all = limit === 0 ? [] : this.d.store.eventsFrom(sessionId, pos.offset, pos.seq, q.advance_to_ms, q.types, limit);
    // The cursor is the last event returned, so a walk cut by the budget goes on exactly where it stopped.
    const { page: events, more: cut } = fitPage(all, limit, q.max_bytes);
    const last = events[events.length - 1];
    if (last) pos = { offset: last.offset_ms, seq: last.seq };
    if (!cut && !last && q.advance_to_ms !== undefined) pos = { offset: Math.max(pos.offset, q.advance_to_ms), seq: Number.MAX_SAFE_INTEGER };
    const more = this.d.store.eventsFrom(sessionId, pos.offset, pos.seq, undefined, q.types, 1).length > 0;
    return {
      session_id: sessionId,
      events: events.map(out),
      position_ms: Math.max(0, pos.offset),
      cursor: `${sessionId}:${pos.offset}:${Math.min(pos.seq, Number.MAX_SAFE_INTEGER)}`,
      done: !more,
    };
  }

  /** Recomputes and stores a session's moments. */
  refreshMoments(sessionId: string): void {
    const row = this.d.store.getSession(sessionId);
    if (!row) return;
    const events = this.d.store.events({ sessionId, limit: 1_000_000 });
    const end = row.end_offset_ms ?? Math.max(0, (row.ended_at ?? this.d.now()) - row.started_at);
    this.d.store.replaceMoments(sessionId, computeMoments(events, end));
  }

  async whatHappened(q: WhatHappenedInput): Promise<WhatHappenedOutput> {
    const live = this.d.liveId?.();
    if (live) this.refreshMoments(live);
    if (this.d.reads) return (await this.d.reads('replay', 'whatHappened', [q])) as WhatHappenedOutput;
    const now = this.d.now();
    let rows: SessionRow[];
    let since: number;
    let until: number;
    if (q.session) {
      const r = this.session(q.session);
      rows = [r];
      since = r.started_at;
      until = r.ended_at ?? now;
    } else {
      ({ since = now - 24 * 3_600_000, until = now } = parseRange(q, now));
      rows = this.d.store.listSessions({ limit: 50, since, until }).reverse();
    }
    const sessions = rows.map((r) => this.digest(r, since, until));
    // Fit the budget, then say so: lists are halved down to three items, then the oldest sessions go;
    // a last session still too big is halved down to one item per list, and then loses whole lists,
    // the least telling first (what went wrong goes last).
    let truncated = false;
    const size = () => JSON.stringify({ sessions }).length + wallClockBytes(sessions); // with the `at` each offset gets
    const lists = ['said', 'files_touched', 'annotations', 'commits', 'failed_commands', 'moments', 'failures'] as const;
    const halve = (floor: number): boolean => {
      let cut = false;
      for (const s of sessions) {
        for (const k of lists) {
          const arr = s[k] as unknown[];
          if (arr.length > floor) {
            arr.splice(Math.max(floor, Math.ceil(arr.length / 2)));
            cut = true;
          }
        }
      }
      return cut;
    };
    while (size() > q.max_chars) {
      truncated = true;
      if (halve(3)) continue;
      if (sessions.length > 1) {
        sessions.splice(0, 1);
        continue;
      }
      if (halve(1)) continue;
      const s = sessions[0];
      const k = s && lists.find((l) => s[l].length > 0);
      if (!s || !k) break;
      s[k].splice(0);
    }
    return { range: { since, until }, sessions, truncated };
  }

  private digest(r: SessionRow, since: number, until: number): WhatHappenedOutput['sessions'][number] {
    const s = this.d.store;
    const from = Math.max(0, since - r.started_at);
    const to = Math.max(0, until - r.started_at);
    const { saves, events: ev } = s.digestParts(r.id, from, to, 2000, (text) => failureLines(text).length > 0);
    const clip = (t: unknown, n = 200) =>
      String(t ?? '')
        .replace(/\s+/g, ' ')
        .slice(0, n);
    const moments = s.moments(r.id, from, to);
    const describe = (m: (typeof moments)[number]): string => {
      const d = JSON.parse(m.data) as Record<string, unknown>;
      if (m.kind === 'progress') return `committed "${clip(d.subject, 80)}" (${(d.files as unknown[] | undefined)?.length ?? 0} files)`;
      if (m.kind === 'stuck') return `${String(d.reason ?? 'stuck')}${d.command ? `: ${clip(d.command, 80)}` : d.file ? `: ${String(d.file)}` : ''}`;
      if (m.kind === 'research') return `${clip(d.app, 40)} ${clip(d.title, 80)}`.trim();
      if (m.kind === 'speech') return `${String(d.utterances ?? '')} utterances`;
      return 'no activity';
    };
    return {
      id: r.id,
      project: r.project,
      label: r.label,
      started_at: r.started_at,
      duration_ms: Math.max(0, (r.ended_at ?? this.d.now()) - r.started_at),
      state: r.state,
      moments: moments.map((m) => ({ kind: m.kind, start_offset_ms: m.start_offset_ms, duration_ms: m.end_offset_ms - m.start_offset_ms, what: describe(m) })),
      files_touched: saves.map((f) => ({ path: String(f.path), saves: f.n })),
      commits: ev
        .filter((e) => e.type === 'git.commit')
        .map((e) => ({ offset_ms: e.offset_ms, hash: (e.data.hash as string | undefined) ?? null, subject: clip(e.data.subject, 120) })),
      failed_commands: failedCommands(ev, r.started_at),
      failures: failures(
        ev
          .filter((e) => e.type === 'screen.text' || e.type === 'terminal.output')
          .map((e) => ({
            offset_ms: e.offset_ms,
            text: String(e.data.text ?? ''),
            source: e.type === 'screen.text' ? ('screen' as const) : ('terminal' as const),
          })),
        ev,
        r.started_at,
      ),
      said: ev
        .filter((e) => e.type === 'transcript.segment')
        .map((e) => ({ offset_ms: e.offset_ms, text: clip(e.data.text, 240), len: String(e.data.text ?? '').length }))
        .sort((a, b) => b.len - a.len)
        .slice(0, 20)
        .sort((a, b) => a.offset_ms - b.offset_ms)
        .map(({ offset_ms, text }) => ({ offset_ms, text })),
      annotations: s.annotations(r.id, from, to).map((a) => ({ offset_ms: a.offset_ms, text: a.text })),
    };
  }
}
