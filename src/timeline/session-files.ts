/**
 * The session folder, and the only module that knows its format:
 * `session.json` (written at start, rewritten at the end), `events.jsonl` (an
 * append-only copy of the session's events that lets the folder alone rebuild
 * the database), `index.jsonl` (indexing progress), `uploads.jsonl` (finished
 * uploads) and `annotations.jsonl`. The DB is the source of truth; the JSONL
 * files are written after each commit. Every folder is reached through
 * `SessionFiles.dir`, which refuses anything that is not a session id.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import { SESSION_ID_PATTERN, type RecordedEvent } from '../model.js';

export const SESSION_JSON = 'session.json';
export const EVENTS_JSONL = 'events.jsonl';
/** Finished uploads of a session, one JSON line each: what a rebuilt database needs to not upload them again. */
export const UPLOADS_JSONL = 'uploads.jsonl';
/** Indexing progress of a session's segments, one JSON line each. */
export const INDEX_JSONL = 'index.jsonl';
export const ANNOTATIONS_JSONL = 'annotations.jsonl';

export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID_PATTERN.test(id);
}

/** Session folders under one root; an id that is not a session id never becomes a path. */
export class SessionFiles {
  constructor(readonly root: string) {}

  dir(id: string): string {
    if (!isSessionId(id)) throw new TracedError(ErrorCodes.INVALID_PARAMS, 'not a session id (like 20261121-145012-k3x9)', { data: { field: 'session' } });
    return path.join(this.root, id);
  }

  /** Ids of the session folders present: real directories only (a symlink named like a session is not one). */
  list(): string[] {
    try {
      return fs
        .readdirSync(this.root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && isSessionId(e.name))
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  }

  /** Creates the session's folder (private to this user) and returns it. */
  ensure(id: string): string {
    const dir = this.dir(id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Appends one JSON line to a file of the session's folder. */
  appendLine(id: string, file: typeof UPLOADS_JSONL | typeof INDEX_JSONL | typeof ANNOTATIONS_JSONL, value: unknown): void {
    const fd = fs.openSync(path.join(this.dir(id), file), APPEND, 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(value)}\n`);
    } finally {
      fs.closeSync(fd);
    }
  }

  readLines(id: string, file: typeof EVENTS_JSONL | typeof UPLOADS_JSONL | typeof INDEX_JSONL | typeof ANNOTATIONS_JSONL): Record<string, any>[] {
    return readJsonl(path.join(this.dir(id), file));
  }

  /** An events.jsonl writer for the session (syncMs 0: every append is fsync'd). */
  eventLog(id: string, syncMs: number): EventLog {
    return new EventLog(path.join(this.dir(id), EVENTS_JSONL), syncMs);
  }

  /** Appends events to the session's events.jsonl and fsyncs them. */
  appendEvents(id: string, events: readonly RecordedEvent[]): void {
    if (!events.length) return;
    const log = this.eventLog(id, 0);
    try {
      log.append(events);
    } finally {
      log.close();
    }
  }

  lastSeq(id: string): number {
    return lastJsonlSeq(path.join(this.dir(id), EVENTS_JSONL));
  }

  readSession(id: string): Record<string, unknown> | undefined {
    return readSessionJson(this.dir(id));
  }

  writeSession(id: string, doc: Record<string, unknown>): void {
    writeSessionJson(this.dir(id), doc);
  }
}

/**
 * Files of a session folder are opened without following a symlink: a link
 * planted in a folder (or a restored backup) never makes traced read or write
 * a file elsewhere.
 */
const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const APPEND = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | NOFOLLOW;

function readNoFollow(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | NOFOLLOW);
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Parsed lines of a JSONL file; torn or foreign lines are skipped. */
export function readJsonl(file: string): Record<string, any>[] {
  let text: string;
  try {
    text = readNoFollow(file);
  } catch {
    return [];
  }
  const out: Record<string, any>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, any>);
    } catch {
      // a torn last line after a crash
    }
  }
  return out;
}

/** Writes a file atomically: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  commitFile(tmp, file);
}

/** Renames a finished temp file into place and fsyncs the directory, so the rename itself survives a power cut. */
export function commitFile(tmp: string, file: string): void {
  fs.renameSync(tmp, file);
  syncDir(path.dirname(file));
}

export function syncDir(dir: string): void {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync on Windows
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeSessionJson(dir: string, doc: Record<string, unknown>): void {
  writeFileAtomic(path.join(dir, SESSION_JSON), `${JSON.stringify(doc, null, 2)}\n`);
}

export function readSessionJson(dir: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readNoFollow(path.join(dir, SESSION_JSON))) as Record<string, unknown>;
  } catch {
    // A missing or torn session.json is reported by the caller from its own context.
    return undefined;
  }
}

/** Highest seq present in an events.jsonl (0 when empty or absent); a torn last line is ignored. */
export function lastJsonlSeq(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | NOFOLLOW);
  } catch {
    return 0;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n').reverse();
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const seq = (JSON.parse(line) as { seq?: unknown }).seq;
        if (typeof seq === 'number') return seq;
      } catch {
        // torn write at the tail after a crash: look at the line before
      }
    }
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}

/** Append-only events.jsonl writer with batched fsync. */
export class EventLog {
  private fd: number;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly syncMs: number,
  ) {
    this.fd = fs.openSync(file, APPEND, 0o600);
  }

  append(events: readonly RecordedEvent[]): void {
    if (events.length === 0) return;
    let out = '';
    for (const e of events) out += `${JSON.stringify(e)}\n`;
    fs.writeSync(this.fd, out);
    this.dirty = true;
    if (this.syncMs === 0) this.sync();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.sync();
      }, this.syncMs);
      this.timer.unref();
    }
  }

  sync(): void {
    if (!this.dirty || this.fd < 0) return;
    fs.fdatasyncSync(this.fd);
    this.dirty = false;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.fd < 0) return;
    this.sync();
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
