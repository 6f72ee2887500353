/**
 * Terminal output in a session folder: one asciicast v2 file per recorded
 * shell, `sessions/<id>/terminal/<stream>.cast`. The first line is the
 * header; each later line is `[t, code, data]` with `t` in seconds on the
 * session clock (wall time minus the session's start), so every stream of a
 * session shares one time axis with the other channels:
 * - `"o"`: output, already redacted (the writer passes it through the gate's
 *   `redact` line by line before it touches the disk),
 * - `"r"`: a resize, `"COLSxROWS"`,
 * - `"m"`: a traced marker, JSON `{type, …}` (`terminal.output_dropped`, `terminal.exit`).
 * asciinema plays `"o"` and ignores the rest. A torn last line (a killed
 * writer) is skipped by the reader.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SESSION_ID_PATTERN } from '../model/base.js';

export const TERMINAL_DIR = 'terminal';
/** A stream name: `<pid>-<start ms in base 36>`; nothing else names a file here. */
export const STREAM_PATTERN = /^[a-z0-9-]{1,40}$/;

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  /** The session's start, seconds since the epoch: `t` of every event counts from it. */
  timestamp: number;
  env?: Record<string, string>;
  traced: { session: string; stream: string; started_at_ms: number; command?: string; imported?: boolean };
}

export type CastEvent = { t: number; code: 'o' | 'r' | 'm' | 'i'; data: string };

export interface Marker {
  type: string;
  [k: string]: unknown;
}

/** The folder of a session's terminal streams, under `sessionDir`. */
export function terminalDir(sessionDir: string): string {
  return path.join(sessionDir, TERMINAL_DIR);
}

/** The cast file of `stream` in the session folder `sessionsDir/<sessionId>`; refuses names that could leave it. */
export function castPath(sessionsDir: string, sessionId: string, stream: string): string {
  if (!SESSION_ID_PATTERN.test(sessionId) || !STREAM_PATTERN.test(stream)) throw new Error(`not a session id / stream name: ${sessionId}/${stream}`);
  return path.join(sessionsDir, sessionId, TERMINAL_DIR, `${stream}.cast`);
}

/** The streams recorded in a session folder (plain files only: a symlink is not followed). */
export function listStreams(sessionDir: string): string[] {
  let names: fs.Dirent[];
  try {
    // Neither the session folder nor its terminal folder may be a symlink (out of the data folder).
    if (!isRealDir(sessionDir) || !isRealDir(terminalDir(sessionDir))) return [];
    names = fs.readdirSync(terminalDir(sessionDir), { withFileTypes: true });
  } catch {
    return [];
  }
  return names
    .filter((d) => d.isFile() && d.name.endsWith('.cast') && STREAM_PATTERN.test(d.name.slice(0, -5)))
    .map((d) => d.name.slice(0, -5))
    .sort();
}

/** Whether `dir` is a directory itself, not a symlink to one (which could lead out of the data folder). */
export function isRealDir(dir: string): boolean {
  try {
    return fs.lstatSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export function castLine(e: CastEvent): string {
  return `${JSON.stringify([Math.round(e.t * 1000) / 1000, e.code, e.data])}\n`;
}

/** One line of a cast file: the header, an event, or undefined for anything else (a torn or hostile line). */
export function parseCastLine(line: string): { header: CastHeader } | { event: CastEvent } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (Array.isArray(v)) {
    const [t, code, data] = v;
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || typeof data !== 'string') return undefined;
    if (code !== 'o' && code !== 'r' && code !== 'm' && code !== 'i') return undefined;
    return { event: { t, code, data } };
  }
  if (v && typeof v === 'object' && (v as { version?: unknown }).version === 2) {
    const h = v as CastHeader;
    if (typeof h.width !== 'number' || typeof h.height !== 'number' || !h.traced || typeof h.traced.stream !== 'string') return undefined;
    return { header: h };
  }
  return undefined;
}

export function parseMarker(data: string): Marker | undefined {
  try {
    const m = JSON.parse(data) as unknown;
    return m && typeof m === 'object' && typeof (m as Marker).type === 'string' ? (m as Marker) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Complete lines of a cast file from byte `from` (at most `maxBytes` read):
 * each with the byte offset just past it. A last line without its newline (a
 * writer still writing, or killed mid-line) is left for later.
 */
export function readCastLines(file: string, from: number, maxBytes = 4 * 1024 * 1024): { lines: { text: string; end: number }[]; end: number } {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    const size = fs.fstatSync(fd).size;
    const want = Math.min(maxBytes, Math.max(0, size - from));
    if (want === 0) return { lines: [], end: from };
    const buf = Buffer.alloc(want);
    const n = fs.readSync(fd, buf, 0, want, from);
    const lines: { text: string; end: number }[] = [];
    let start = 0;
    for (let i = buf.indexOf(10, 0); i !== -1 && i < n; i = buf.indexOf(10, start)) {
      lines.push({ text: buf.toString('utf8', start, i), end: from + i + 1 });
      start = i + 1;
    }
    // One line longer than the whole read: skip it rather than stall on it forever.
    if (lines.length === 0 && n === maxBytes) return { lines: [], end: from + n };
    return { lines, end: lines.length ? (lines[lines.length - 1] as { end: number }).end : from };
  } finally {
    fs.closeSync(fd);
  }
}

/** Every event of a cast file with its header (the whole file; for exports and screens). */
export function readCast(file: string): { header: CastHeader | undefined; events: CastEvent[] } {
  let header: CastHeader | undefined;
  const events: CastEvent[] = [];
  let from = 0;
  for (;;) {
    const { lines, end } = readCastLines(file, from, 16 * 1024 * 1024);
    for (const l of lines) {
      const p = parseCastLine(l.text);
      if (!p) continue;
      if ('header' in p) header ??= p.header;
      else events.push(p.event);
    }
    if (end === from) break;
    from = end;
  }
  return { header, events };
}

// ---------------------------------------------------------------- text

// OSC … BEL/ST, DCS/SOS/PM/APC … ST, CSI, then two-character escapes.
const ESCAPES = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g;
// Control characters other than tab and newline (carriage returns and backspaces are handled first).
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/**
 * Raw terminal output redacted, escape sequences and all. The rules see text:
 * a colour code glued to a secret (`password=hunter2\e[0m`, grep --color
 * inside a token) would hide it from them, and so would an edit (a typo in a
 * pasted token fixed with a backspace, a carriage return that rewrites a
 * line). So output holding escapes or edits is also checked as the terminal
 * showed it (`terminalText`), and when that finds a secret the output is kept
 * as shown (it loses its colours and edits, never its redaction). Secrets
 * spanning lines (a PEM block) are seen whole: the text is not cut by line.
 */
export function redactTerminal(raw: string, redact: (text: string) => string): string {
  const clean = redact(raw);
  // Any control the terminal does not show (NUL, BEL, SO…) or that edits (ESC, backspace, a lone CR)
  // can split a token the screen shows whole. A CR only before a newline (every line a PTY prints)
  // edits nothing: no second pass for it.
  if (!/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x9b]|\r(?!\n)/.test(raw)) return clean;
  const shown = terminalText(raw);
  const shownClean = redact(shown);
  return shownClean === shown ? clean : shownClean;
}

/**
 * Terminal output as the text a person read: escape sequences removed, a
 * carriage return overwrites from the line start (progress bars keep their
 * last state), a backspace takes back a character, other controls dropped.
 */
export function terminalText(raw: string): string {
  const out: string[] = [];
  for (const line of raw.replace(ESCAPES, '').split('\n')) {
    let l = line.replace(/\r+$/, '');
    const cr = l.lastIndexOf('\r');
    if (cr !== -1) {
      // What was written after the last return overwrites the start of what was there.
      const after = l.slice(cr + 1);
      const before = l.slice(0, cr).split('\r').pop() ?? '';
      l = after + before.slice(after.length);
    }
    if (l.includes('\b')) {
      const chars: string[] = [];
      for (const c of l) {
        if (c === '\b') chars.pop();
        else chars.push(c);
      }
      l = chars.join('');
    }
    out.push(l.replace(CONTROLS, ''));
  }
  return out.join('\n');
}

/** Whether a cast file was rebuilt from an imported recording (see `restoreCasts`). */
export function isImportedCast(file: string): boolean {
  try {
    const first = readCastLines(file, 0, 64 * 1024).lines[0];
    const p = first ? parseCastLine(first.text) : undefined;
    return !!p && 'header' in p && p.header.traced?.imported === true;
  } catch {
    return false;
  }
}

/**
 * Cast files for a session that has terminal output events but no cast files: an imported
 * recording (JSON/JSONL carry the output as text, not the raw bytes). Each stream's lines are
 * written as plain output at the times they were printed, so `replay_at` shows the terminal
 * and an asciicast export plays it — without the colours and full-screen programs of the
 * original. The header says `imported`: the daemon's ingest never reads these files (their
 * lines are already events). Returns the streams written.
 */
export function restoreCasts(
  sessionsDir: string,
  sessionId: string,
  startedAt: number,
  events: readonly { offset_ms: number; type: string; data: Record<string, unknown> }[],
  maxBytes = 64 * 1024 * 1024,
): string[] {
  const byStream = new Map<string, { t: number; code: 'o' | 'm'; data: string }[]>();
  let bytes = 0;
  for (const e of events) {
    // Bounded like a recorded session's terminal output: past it, the rest stays events only.
    if ((bytes += typeof e.data.text === 'string' ? e.data.text.length : 0) > maxBytes) break;
    const stream = typeof e.data.stream === 'string' ? e.data.stream : '';
    if (!STREAM_PATTERN.test(stream)) continue;
    const list = byStream.get(stream) ?? [];
    const t = Math.max(0, e.offset_ms) / 1000;
    if (e.type === 'terminal.output' && typeof e.data.text === 'string') list.push({ t, code: 'o', data: `${e.data.text.split('\n').join('\r\n')}\r\n` });
    else if (/^terminal\.(output_dropped|exit|stopped)$/.test(e.type)) {
      const { stream: _s, end_byte: _b, ...rest } = e.data;
      list.push({ t, code: 'm', data: JSON.stringify({ type: e.type, ...rest }) });
    }
    byStream.set(stream, list);
  }
  const dir = path.join(sessionsDir, sessionId, TERMINAL_DIR);
  const written: string[] = [];
  for (const [stream, list] of byStream) {
    if (!list.some((e) => e.code === 'o')) continue;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!isRealDir(dir)) return written;
    const widest = Math.max(...list.filter((e) => e.code === 'o').flatMap((e) => e.data.split('\r\n').map((l) => l.length)));
    const header: CastHeader = {
      version: 2,
      width: Math.min(250, Math.max(80, widest)),
      height: 30,
      timestamp: Math.floor(startedAt / 1000),
      traced: { session: sessionId, stream, started_at_ms: startedAt, imported: true },
    };
    let fd: number;
    try {
      fd = fs.openSync(castPath(sessionsDir, sessionId, stream), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch {
      continue; // already there: never overwritten
    }
    try {
      fs.writeSync(fd, `${JSON.stringify(header)}\n${list.map((e) => castLine(e)).join('')}`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    written.push(stream);
  }
  return written;
}
