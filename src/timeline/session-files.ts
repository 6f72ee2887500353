/**
 * The session folder: `session.json` (written at start, rewritten at the end)
 * and `events.jsonl`, an append-only copy of the session's events that lets the
 * folder alone rebuild the database. The DB is the source of truth; the JSONL
 * is written after each commit and fsync'd in batches.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RecordedEvent } from '../model.js';

export const SESSION_JSON = 'session.json';
export const EVENTS_JSONL = 'events.jsonl';

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
    return JSON.parse(fs.readFileSync(path.join(dir, SESSION_JSON), 'utf8')) as Record<string, unknown>;
  } catch {
    // A missing or torn session.json is reported by the caller from its own context.
    return undefined;
  }
}

/** Highest seq present in an events.jsonl (0 when empty or absent); a torn last line is ignored. */
export function lastJsonlSeq(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
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

  constructor(readonly file: string, private readonly syncMs: number) {
    this.fd = fs.openSync(file, 'a', 0o600);
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
