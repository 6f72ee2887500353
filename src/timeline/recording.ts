/**
 * The session recording as portable files. JSONL: a metadata line, then one
 * line per event (seq, parent_seq, type, timestamp, offset, session_id,
 * channel, data); JSON: the same as one document. Both carry the channels,
 * annotations and a media manifest, and nothing about where or when they were
 * exported, so export → import → export gives the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import type { RecordedEvent, SessionState } from '../model.js';
import type { Store } from './store.js';

export const RECORDING_FORMAT = 'traced-recording/1';

export interface RecordingMeta {
  format: typeof RECORDING_FORMAT;
  session: { id: string; project: string; label: string | null; profile: string; state: string; started_at: number; ended_at: number | null; end_offset_ms: number | null };
  channels: { id: string; kind: string; store: boolean }[];
  annotations: { offset_ms: number; ts: number; text: string }[];
  media: { channel: string; seq: number; path: string; start_offset_ms: number; duration_ms: number | null; bytes: number | null; sha256: string | null }[];
  event_count: number;
}

export interface RecordingLine {
  seq: number;
  parent_seq: number | null;
  type: string;
  timestamp: number;
  offset: number;
  session_id: string;
  channel: string;
  data: Record<string, unknown>;
}

export function recordingOf(store: Store, sessionId: string): { meta: RecordingMeta; events: RecordingLine[] } {
  const row = store.getSession(sessionId);
  if (!row) throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, `no session ${sessionId}`);
  const events = store.events({ sessionId, limit: 10_000_000 }).sort((a, b) => a.seq - b.seq);
  const meta: RecordingMeta = {
    format: RECORDING_FORMAT,
    session: { id: row.id, project: row.project, label: row.label, profile: row.profile, state: row.state, started_at: row.started_at, ended_at: row.ended_at, end_offset_ms: row.end_offset_ms },
    channels: store.channels(sessionId).map((c) => ({ id: c.channel_id, kind: c.kind, store: c.store === 1 })),
    annotations: store.annotations(sessionId).map((a) => ({ offset_ms: a.offset_ms, ts: a.ts, text: a.text })),
    media: store.segments(sessionId).filter((g) => g.state !== 'pruned').map((g) => ({ channel: g.channel_id, seq: g.seq, path: g.path, start_offset_ms: g.start_offset_ms, duration_ms: g.duration_ms, bytes: g.bytes, sha256: g.sha256 })),
    event_count: events.length,
  };
  return { meta, events: events.map(lineOf) };
}

function lineOf(e: RecordedEvent): RecordingLine {
  return { seq: e.seq, parent_seq: e.parent_seq, type: e.type, timestamp: e.ts, offset: e.offset_ms, session_id: e.session_id, channel: e.channel, data: e.data };
}

export function writeRecording(store: Store, sessionId: string, file: string, format: 'json' | 'jsonl'): { file: string; bytes: number; events: number } {
  const { meta, events } = recordingOf(store, sessionId);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.part`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    if (format === 'jsonl') {
      fs.writeSync(fd, `${JSON.stringify(meta)}\n`);
      let buf = '';
      for (const e of events) {
        buf += `${JSON.stringify(e)}\n`;
        if (buf.length > 1 << 20) {
          fs.writeSync(fd, buf);
          buf = '';
        }
      }
      if (buf) fs.writeSync(fd, buf);
    } else fs.writeSync(fd, `${JSON.stringify({ ...meta, events }, null, 1)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return { file, bytes: fs.statSync(file).size, events: events.length };
}

/** Reads a JSON or JSONL recording (told apart by its first character). */
export function readRecording(file: string): { meta: RecordingMeta; events: RecordingLine[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TracedError(ErrorCodes.INVALID_PARAMS, `cannot read ${file}: ${(err as Error).message}`);
  }
  let meta: RecordingMeta;
  let events: RecordingLine[];
  try {
    let doc: unknown;
    try {
      doc = JSON.parse(text); // the JSON form: one document
    } catch {
      doc = undefined; // JSONL: a document per line
    }
    if (doc && typeof doc === 'object' && Array.isArray((doc as { events?: unknown }).events)) {
      const { events: ev, ...rest } = doc as RecordingMeta & { events: RecordingLine[] };
      meta = rest as RecordingMeta;
      events = ev;
    } else {
      const lines = text.split('\n').filter((l) => l.trim());
      meta = JSON.parse(lines[0] as string) as RecordingMeta;
      events = lines.slice(1).map((l) => JSON.parse(l) as RecordingLine);
    }
  } catch (err) {
    throw new TracedError(ErrorCodes.INVALID_PARAMS, `${file} is not a traced recording: ${(err as Error).message}`);
  }
  if (meta.format !== RECORDING_FORMAT) throw new TracedError(ErrorCodes.INVALID_PARAMS, `${file} is not a ${RECORDING_FORMAT} file (format: ${String(meta.format)})`);
  return { meta, events };
}

/**
 * Loads a recording into the store as a session with the recording's id (or
 * `newId`); its media is registered where `mediaDir` holds the files.
 */
export interface ImportOptions {
  newId?: string | undefined;
  sessionDir: (id: string) => string;
  mediaDir?: string | undefined;
  /** Stores the events (with their seqs) through the event writer's gate; inside the import transaction. */
  restore: (sessionId: string, events: Omit<RecordedEvent, 'session_id'>[]) => number;
  /** The gate for single strings (label, bookmarks). */
  gateText: (text: string | null) => string | null;
}

export function importRecording(store: Store, rec: { meta: RecordingMeta; events: RecordingLine[] }, opts: ImportOptions): { session_id: string; events: number; media: number } {
  const m = rec.meta;
  const id = opts.newId ?? m.session.id;
  if (store.getSession(id)) throw new TracedError(ErrorCodes.SESSION_ACTIVE, `session ${id} already exists here; import it as a new session (as_new: true)`);
  let media = 0;
  store.transaction(() => {
    store.insertSession({ id, project: m.session.project, label: opts.gateText(m.session.label), profile: m.session.profile, state: 'recording', started_at: m.session.started_at, meta: JSON.stringify({ imported_from: m.session.id }) });
    for (const c of m.channels) store.upsertChannel({ session_id: id, channel_id: c.id, kind: c.kind, store: c.store ? 1 : 0, state: 'stopped', detail: 'imported' });
    opts.restore(id, rec.events.map((e) => ({ seq: e.seq, parent_seq: e.parent_seq ?? null, ts: e.timestamp, offset_ms: e.offset, channel: e.channel, type: e.type, data: e.data ?? {} })));
    for (const a of m.annotations) store.addAnnotation({ session_id: id, offset_ms: a.offset_ms, ts: a.ts, text: opts.gateText(a.text) ?? '', created_at: a.ts });
    for (const g of m.media) {
      const src = opts.mediaDir ? path.join(opts.mediaDir, g.path) : undefined;
      if (!src || !fs.existsSync(src)) continue;
      const dest = path.join(opts.sessionDir(id), g.path);
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      if (path.resolve(src) !== path.resolve(dest)) fs.copyFileSync(src, dest);
      store.insertSegment({ session_id: id, channel_id: g.channel, seq: g.seq, path: g.path, start_offset_ms: g.start_offset_ms, duration_ms: g.duration_ms, bytes: g.bytes, sha256: g.sha256, state: 'complete', created_at: m.session.started_at });
      media++;
    }
    store.endSession(id, { state: (m.session.state === 'recording' || m.session.state === 'paused' ? 'recovered' : m.session.state) as SessionState, ended_at: m.session.ended_at ?? m.session.started_at, end_offset_ms: m.session.end_offset_ms ?? 0 });
  });
  return { session_id: id, events: rec.events.length, media };
}
