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
import { z } from 'zod';
import { ChannelId, SessionState, type RecordedEvent } from '../model.js';
import { assertSessionId, confinedPath, copyFileConfined, isPlainRelative, SESSION_ID_PATTERN } from './confine.js';
import { commitFile } from './session-files.js';
import type { Store } from './store.js';

export const RECORDING_FORMAT = 'traced-recording/1';

/** Larger files are refused before a byte is read. */
export const MAX_RECORDING_BYTES = 2 * 1024 ** 3;
/** The JSON form is parsed as one string; V8 strings stop near 512 MiB, so bigger recordings must be JSONL. */
const MAX_JSON_FORM_BYTES = 256 * 1024 ** 2;
/** One JSONL line (one event). */
const MAX_LINE_BYTES = 16 * 1024 ** 2;
const MAX_EVENTS = 10_000_000;
/** Depth of an event's `data` (the object itself is level 1): deeper input never reaches a recursive walk. */
export const MAX_DATA_DEPTH = 64;
/** Size of an event's `data`, counted as string characters + keys + scalars + array slots. */
const MAX_DATA_UNITS = 4 * 1024 ** 2;
const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

const Int = z.number().int();
const Name = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'should be a lowercase word');
const SessionIdField = z.string().regex(SESSION_ID_PATTERN, 'is not a session id (like 20261121-145012-k3x9)');
const PLAIN_RELATIVE = 'is not a plain relative name (at most 3 segments of A-Z a-z 0-9 . _ : -, none starting with a dot)';

const RecordingSession = z.object({
  id: SessionIdField,
  project: z.string().max(4096),
  label: z.string().max(1000).nullable(),
  profile: Name,
  state: SessionState,
  started_at: Int,
  ended_at: Int.nullable(),
  end_offset_ms: Int.nullable(),
});

/**
 * The metadata of a recording (the JSONL first line, or the JSON document
 * without `events`). Parsing it is the import gate for everything but the
 * events: ids, media names and the channel/segment manifest are checked here.
 */
export const RecordingMeta = z
  .object({
    format: z.literal(RECORDING_FORMAT),
    session: RecordingSession,
    channels: z.array(z.object({ id: ChannelId, kind: Name, store: z.boolean() })).max(256),
    annotations: z.array(z.object({ offset_ms: Int, ts: Int, text: z.string().max(4000) })).max(100_000),
    media: z
      .array(
        z.object({
          channel: ChannelId,
          seq: Int.nonnegative(),
          path: z.string().max(1024).refine(isPlainRelative, PLAIN_RELATIVE),
          start_offset_ms: Int,
          duration_ms: Int.nonnegative().nullable(),
          bytes: Int.nonnegative().nullable(),
          sha256: z.string().max(128).nullable(),
        }),
      )
      .max(1_000_000),
    event_count: Int.nonnegative().max(MAX_EVENTS),
  })
  .superRefine((m, ctx) => {
    const channels = new Set<string>();
    m.channels.forEach((c, i) => {
      if (channels.has(c.id)) ctx.addIssue({ code: 'custom', path: ['channels', i, 'id'], message: 'is listed twice' });
      channels.add(c.id);
    });
    const segments = new Set<string>();
    m.media.forEach((g, i) => {
      if (!channels.has(g.channel)) ctx.addIssue({ code: 'custom', path: ['media', i, 'channel'], message: "is not one of the recording's channels" });
      const key = `${g.channel}\n${g.seq}`;
      if (segments.has(key)) ctx.addIssue({ code: 'custom', path: ['media', i, 'seq'], message: 'is listed twice for its channel' });
      segments.add(key);
    });
  });
export type RecordingMeta = z.infer<typeof RecordingMeta>;

/** One event of a recording. `data` is only checked to be a JSON object here; its shape is checked iteratively first (see `dataShapeProblem`). */
export const RecordingLine = z.object({
  seq: Int.positive(),
  parent_seq: Int.positive().nullable().default(null),
  type: z.string().max(64).regex(EVENT_TYPE, 'should be dotted lowercase words, e.g. file.changed'),
  timestamp: Int,
  offset: Int,
  session_id: SessionIdField,
  channel: z.string().min(1).max(64),
  // z.custom, not z.record: the object is kept as parsed, nothing walks into it.
  data: z.custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), 'should be a JSON object'),
});
export type RecordingLine = z.infer<typeof RecordingLine>;

export function recordingOf(store: Store, sessionId: string): { meta: RecordingMeta; events: RecordingLine[] } {
  const row = store.getSession(sessionId);
  if (!row) throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, `no session ${sessionId}`);
  const events = store.events({ sessionId, limit: 10_000_000 }).sort((a, b) => a.seq - b.seq);
  const meta: RecordingMeta = {
    format: RECORDING_FORMAT,
    session: {
      id: row.id,
      project: row.project,
      label: row.label,
      profile: row.profile,
      state: row.state,
      started_at: row.started_at,
      ended_at: row.ended_at,
      end_offset_ms: row.end_offset_ms,
    },
    channels: store.channels(sessionId).map((c) => ({ id: c.channel_id, kind: c.kind, store: c.store === 1 })),
    annotations: store.annotations(sessionId).map((a) => ({ offset_ms: a.offset_ms, ts: a.ts, text: a.text })),
    media: store
      .segments(sessionId)
      .filter((g) => g.state !== 'pruned')
      .map((g) => ({
        channel: g.channel_id,
        seq: g.seq,
        path: g.path,
        start_offset_ms: g.start_offset_ms,
        duration_ms: g.duration_ms,
        bytes: g.bytes,
        sha256: g.sha256,
      })),
    event_count: events.length,
  };
  return { meta, events: events.map(lineOf) };
}

function lineOf(e: RecordedEvent): RecordingLine {
  return {
    seq: e.seq,
    parent_seq: e.parent_seq,
    type: e.type,
    timestamp: e.ts,
    offset: e.offset_ms,
    session_id: e.session_id,
    channel: e.channel,
    data: e.data,
  };
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
  commitFile(tmp, file);
  return { file, bytes: fs.statSync(file).size, events: events.length };
}

/** A refusal of the recording: names the field and what is wrong, never the content. */
function invalid(field: string, what: string, extra?: Record<string, unknown>): TracedError {
  return new TracedError(ErrorCodes.IMPORT_INVALID, `the recording is invalid: ${field} ${what}`, { data: { field, ...extra } });
}

function notRecording(file: string, why: string): TracedError {
  return new TracedError(ErrorCodes.IMPORT_INVALID, `${file} is not a traced recording (${why})`, { data: { field: 'file' } });
}

function fieldOf(prefix: string, p: readonly PropertyKey[]): string {
  let out = prefix;
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : `${out ? '.' : ''}${String(k)}`;
  return out || '(recording)';
}

/** The first issue as an IMPORT_INVALID. zod's messages say what was expected, never the value received. */
function fromZod(prefix: string, error: z.ZodError, extra?: Record<string, unknown>): TracedError {
  const issue = error.issues[0] as z.core.$ZodIssue;
  const what = issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  return invalid(fieldOf(prefix, issue.path), what, extra);
}

/**
 * Why `value` is too deep or too big to hand to anything recursive (zod,
 * redaction, JSON.stringify), or undefined when it is fine. Iterative, so a
 * value nested 100,000 levels costs a loop, not the stack.
 */
function dataShapeProblem(value: unknown): string | undefined {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  let units = 0;
  while (values.length > 0) {
    const v = values.pop();
    const d = depths.pop() as number;
    if (typeof v === 'string') units += v.length;
    else if (v !== null && typeof v === 'object') {
      if (d > MAX_DATA_DEPTH) return `is nested deeper than ${MAX_DATA_DEPTH} levels`;
      if (Array.isArray(v)) {
        units += v.length;
        for (const x of v) {
          values.push(x);
          depths.push(d + 1);
        }
      } else {
        for (const k of Object.keys(v)) {
          units += k.length + 1;
          values.push((v as Record<string, unknown>)[k]);
          depths.push(d + 1);
        }
      }
    } else units += 1;
    if (units > MAX_DATA_UNITS) return `is larger than ${MAX_DATA_UNITS / 1024 ** 2} Mi characters`;
  }
  return undefined;
}

/**
 * Lines of an open file, read in chunks (a 2 GiB JSONL never becomes one
 * string). Splitting on the byte 0x0A is safe in UTF-8: it never occurs
 * inside a multi-byte character. A trailing `\r` is dropped.
 */
function* fileLines(fd: number, start: number): Generator<{ text: string; no: number } | { tooLong: true; no: number }> {
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pos = start;
  let no = 0;
  const emit = (parts: Buffer[]): string => {
    const text = (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)).toString('utf8');
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  };
  for (;;) {
    const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
    if (n === 0) break;
    pos += n;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      if (nl === -1 || nl >= n) break;
      no++;
      if (pendingBytes + nl - from > MAX_LINE_BYTES) return yield { tooLong: true, no };
      // Copy: the chunk buffer is reused by the next read.
      pending.push(Buffer.from(chunk.subarray(from, nl)));
      yield { text: emit(pending), no };
      pending = [];
      pendingBytes = 0;
      from = nl + 1;
    }
    if (from < n) {
      pendingBytes += n - from;
      if (pendingBytes > MAX_LINE_BYTES) return yield { tooLong: true, no: no + 1 };
      pending.push(Buffer.from(chunk.subarray(from, n)));
    }
  }
  if (pendingBytes > 0) yield { text: emit(pending), no: no + 1 };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    // The parser's message quotes the input; the caller reports where, not what.
    return { ok: false };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks one parsed event: shape first (iteratively), then the schema. */
function checkLine(value: unknown, index: number, seqs: Set<number>, line?: number): RecordingLine {
  const prefix = `events[${index}]`;
  const extra = line === undefined ? undefined : { line };
  if (isObject(value) && isObject(value.data)) {
    const problem = dataShapeProblem(value.data);
    if (problem) throw invalid(`${prefix}.data`, problem, extra);
  }
  const r = RecordingLine.safeParse(value);
  if (!r.success) throw fromZod(prefix, r.error, extra);
  if (seqs.has(r.data.seq)) throw invalid(`${prefix}.seq`, "repeats an earlier event's seq", extra);
  seqs.add(r.data.seq);
  return r.data;
}

function checkMeta(value: unknown, file: string): RecordingMeta {
  if (!isObject(value) || value.format !== RECORDING_FORMAT) throw notRecording(file, `no "format": "${RECORDING_FORMAT}"`);
  const r = RecordingMeta.safeParse(value);
  if (!r.success) throw fromZod('', r.error);
  return r.data;
}

/**
 * Reads a JSON or JSONL recording and checks all of it: every field against
 * its schema, ids and media names against the path rules, each event's data
 * for depth and size before anything recursive sees it, seqs unique, and the
 * event count against `event_count`. A bad file is TRACED_IMPORT_INVALID with
 * `data.field`; no error quotes the file's content. An unreadable path is
 * TRACED_INVALID_PARAMS.
 */
export function readRecording(file: string): { meta: RecordingMeta; events: RecordingLine[] } {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO must not hang the daemon before fstat can refuse it.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new TracedError(ErrorCodes.INVALID_PARAMS, `cannot read ${file}: ${(err as Error).message}`, { data: { field: 'file' } });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw notRecording(file, 'not a regular file');
    if (st.size > MAX_RECORDING_BYTES) throw notRecording(file, `larger than ${MAX_RECORDING_BYTES / 1024 ** 3} GiB`);
    const head = Buffer.alloc(Math.min(st.size, 4096));
    const headBytes = fs.readSync(fd, head, 0, head.length, 0);
    const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
    const lead = head.subarray(bom, headBytes).toString('latin1').trimStart().charAt(0);
    if (lead === '') throw notRecording(file, 'empty');
    // Both forms are JSON objects: anything else is refused before it is parsed.
    if (lead !== '{') throw notRecording(file, lead === '[' ? 'not a JSON object' : 'not JSON');

    const lines = fileLines(fd, bom);
    const nextLine = () => {
      for (let r = lines.next(); !r.done; r = lines.next()) if ('tooLong' in r.value || r.value.text.trim()) return r.value;
      return undefined;
    };
    const first = nextLine();
    const firstValue = first && !('tooLong' in first) ? parseJson(first.text) : ({ ok: false } as const);
    if (firstValue.ok && !(isObject(firstValue.value) && 'events' in firstValue.value)) {
      // JSONL: the metadata line, then one event per line.
      const meta = checkMeta(firstValue.value, file);
      const events: RecordingLine[] = [];
      const seqs = new Set<number>();
      for (let l = nextLine(); l; l = nextLine()) {
        const at = `events[${events.length}]`;
        if ('tooLong' in l) throw invalid(at, `is a line longer than ${MAX_LINE_BYTES / 1024 ** 2} MiB`, { line: l.no });
        if (events.length >= meta.event_count) throw invalid('event_count', 'is smaller than the number of events', { line: l.no });
        const v = parseJson(l.text);
        if (!v.ok) throw invalid(at, 'is not JSON', { line: l.no });
        events.push(checkLine(v.value, events.length, seqs, l.no));
      }
      if (events.length !== meta.event_count) throw invalid('event_count', 'does not match the number of events (the file may be cut short)');
      return { meta, events };
    }

    // JSON: one document (pretty-printed, so its first line alone is not JSON).
    let doc: unknown;
    if (firstValue.ok) doc = firstValue.value;
    else {
      if (st.size > MAX_JSON_FORM_BYTES) throw notRecording(file, `a JSON document larger than ${MAX_JSON_FORM_BYTES / 1024 ** 2} MiB; export it as JSONL`);
      const whole = parseJson(fs.readFileSync(fd, 'utf8').replace(/^\uFEFF/, ''));
      if (!whole.ok) throw notRecording(file, 'not JSON');
      doc = whole.value;
    }
    const meta = checkMeta(doc, file);
    const raw = (doc as { events?: unknown }).events;
    if (!Array.isArray(raw)) throw invalid('events', 'should be an array');
    if (raw.length !== meta.event_count) throw invalid('event_count', 'does not match the number of events');
    const seqs = new Set<number>();
    return { meta, events: raw.map((e, i) => checkLine(e, i, seqs)) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs a confine check and reports its refusal as a bad recording (same field, cause kept). */
function gate<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TracedError && err.code === ErrorCodes.INVALID_PARAMS) {
      throw new TracedError(ErrorCodes.IMPORT_INVALID, `the recording is invalid: ${err.message}`, { data: err.data, cause: err });
    }
    throw err;
  }
}

/**
 * Loads a recording into the store as a session with the recording's id (or
 * `newId`); its media is copied in from `mediaDir` and registered. `rec` must
 * come from {@link readRecording}, which checked every field; here the id is
 * checked again because `sessionDir(id)` is trusted only for a valid id, and
 * every media path is confined: the source under `mediaDir`, the destination
 * under the session folder, neither through a symlink (a symlink there is
 * TRACED_IMPORT_INVALID, never copied). Media missing from `mediaDir` is
 * skipped. On failure nothing is left registered and the files copied so far
 * are removed.
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

export function importRecording(
  store: Store,
  rec: { meta: RecordingMeta; events: RecordingLine[] },
  opts: ImportOptions,
): { session_id: string; events: number; media: number } {
  const m = rec.meta;
  const id = opts.newId ?? m.session.id;
  gate(() => assertSessionId(id, opts.newId === undefined ? 'session.id' : 'newId'));
  if (store.getSession(id)) throw new TracedError(ErrorCodes.SESSION_ACTIVE, `session ${id} already exists here; import it as a new session (as_new: true)`);
  const dir = path.resolve(opts.sessionDir(id));
  // The session folder itself must not be a planted symlink out of the sessions root.
  gate(() => confinedPath(path.dirname(dir), path.basename(dir), 'session.id'));

  const plan: { g: RecordingMeta['media'][number]; src: string; dest: string; field: string }[] = [];
  if (opts.mediaDir !== undefined) {
    const mediaDir = opts.mediaDir;
    m.media.forEach((g, i) => {
      const field = `media[${i}].path`;
      if (!isPlainRelative(g.path)) throw invalid(field, PLAIN_RELATIVE);
      plan.push({ g, field, src: gate(() => confinedPath(mediaDir, g.path, field)), dest: gate(() => confinedPath(dir, g.path, field)) });
    });
  }

  const created: string[] = [];
  const kept: RecordingMeta['media'] = [];
  try {
    for (const p of plan) {
      if (p.src === p.dest) {
        // Importing from the session's own folder: register what is there, if it is a plain file.
        const st = fs.lstatSync(p.src, { throwIfNoEntry: false });
        if (st?.isFile()) kept.push(p.g);
        continue;
      }
      const madeDir = fs.mkdirSync(path.dirname(p.dest), { recursive: true, mode: 0o700 });
      if (madeDir) created.push(madeDir);
      try {
        gate(() => copyFileConfined(p.src, p.dest, p.field));
      } catch (err) {
        // A manifest entry whose file was not brought along: the session simply has less media.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw err;
      }
      created.push(p.dest);
      kept.push(p.g);
    }
    store.transaction(() => {
      store.insertSession({
        id,
        project: opts.gateText(m.session.project) ?? '',
        label: opts.gateText(m.session.label),
        profile: m.session.profile,
        state: 'recording',
        started_at: m.session.started_at,
        meta: JSON.stringify({ imported_from: m.session.id }),
      });
      for (const c of m.channels)
        store.upsertChannel({ session_id: id, channel_id: c.id, kind: c.kind, store: c.store ? 1 : 0, state: 'stopped', detail: 'imported' });
      // Event data the writer's gate refuses (too large, too deep) makes the recording invalid, not the call.
      try {
        opts.restore(
          id,
          rec.events.map((e) => ({
            seq: e.seq,
            parent_seq: e.parent_seq,
            ts: e.timestamp,
            offset_ms: e.offset,
            channel: e.channel,
            type: e.type,
            data: e.data,
          })),
        );
      } catch (err) {
        if (err instanceof TracedError && err.code === ErrorCodes.INVALID_PARAMS) throw invalid('events[].data', err.message, err.data);
        throw err;
      }
      for (const a of m.annotations)
        store.addAnnotation({ session_id: id, offset_ms: a.offset_ms, ts: a.ts, text: opts.gateText(a.text) ?? '', created_at: a.ts });
      for (const g of kept)
        store.insertSegment({
          session_id: id,
          channel_id: g.channel,
          seq: g.seq,
          path: g.path,
          start_offset_ms: g.start_offset_ms,
          duration_ms: g.duration_ms,
          bytes: g.bytes,
          sha256: g.sha256,
          state: 'complete',
          created_at: m.session.started_at,
        });
      const state = m.session.state === 'recording' || m.session.state === 'paused' ? 'recovered' : m.session.state;
      store.endSession(id, { state, ended_at: m.session.ended_at ?? m.session.started_at, end_offset_ms: m.session.end_offset_ms ?? 0 });
    });
  } catch (err) {
    // Files first (newest first), then the folders made for them, which are empty by then.
    for (const f of created.reverse()) fs.rmSync(f, { recursive: true, force: true });
    throw err;
  }
  return { session_id: id, events: rec.events.length, media: kept.length };
}
