/**
 * The writer side of terminal output: `traced shell` hands it every byte the
 * pseudo-terminal printed; it keeps them, redacted, in the session folder's
 * cast file (see timeline/terminal-cast.ts).
 *
 * - Redaction is by whole lines: output is held until its line ends (or the
 *   line has been quiet for `idleFlushMs`, or grows past `maxLineChars`), so a
 *   secret that arrives split across two reads is still one string when the
 *   gate's `redact` sees it. Nothing unredacted is written.
 * - Durability: lines are written as they complete (a 100 ms batch), and the
 *   file is fsync'd at most `syncMs` apart: a kill -9 of anything loses about
 *   a second, like media segments.
 * - A size cap per session (this stream plus the others already in the
 *   folder): past it, output is counted, not kept, and a
 *   `terminal.output_dropped` marker says so once; the shell is unaffected.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { type CastHeader, castLine, castPath, isRealDir, redactTerminal } from '../timeline/terminal-cast.js';

export interface ShellOutputOptions {
  sessionsDir: string;
  sessionId: string;
  /** The session's start (wall clock ms): event times count from it. */
  sessionStartedAt: number;
  stream: string;
  cols: number;
  rows: number;
  /** The command line recorded (redacted before it is written). */
  command: string;
  redact: (text: string) => string;
  now: () => number;
  /** Total bytes a session's terminal streams may hold. */
  maxBytes: number;
  syncMs?: number;
  batchMs?: number;
  idleFlushMs?: number;
  maxLineChars?: number;
}

/** A run at the end of an unfinished line that could be the start of a token (a key, a password in a URL). */
const TOKEN_TAIL = /[A-Za-z0-9_\-+/=.:@]{8,4096}$/;
/** The longest such a run is held back waiting for the rest of its line. */
const HOLD_MS = 5000;

export class ShellOutput {
  private readonly fd: number;
  private readonly decoder = new StringDecoder('utf8');
  /** Output waiting for its line to end. */
  private tail = '';
  private tailAt = 0;
  /** Complete lines waiting for the next batch write, and when the first arrived. */
  private ready = '';
  private readyAt = 0;
  private written = 0;
  private others = 0;
  private othersCheckedAt = 0;
  private dropped = 0;
  private dirty = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Since when a token-like end of an unfinished line has been held back (see armIdle). */
  private holdSince: number | undefined;
  readonly file: string;

  constructor(private readonly o: ShellOutputOptions) {
    this.file = castPath(o.sessionsDir, o.sessionId, o.stream);
    // The session's folders are traced's: a symlink there would lead the recording out of the data folder.
    // Each is made (or found) and checked before anything is made inside it.
    fs.mkdirSync(o.sessionsDir, { recursive: true, mode: 0o700 });
    for (const dir of [path.dirname(path.dirname(this.file)), path.dirname(this.file)]) {
      try {
        fs.mkdirSync(dir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (!isRealDir(dir)) throw new Error(`${dir} is not a plain directory (a symlink?); not recording there`);
    }
    this.others = this.sizeOfOthers();
    this.othersCheckedAt = o.now();
    // O_EXCL: a stream name is never reused, so nothing else is ever appended to.
    this.fd = fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND, 0o600);
    const header: CastHeader = {
      version: 2,
      width: o.cols,
      height: o.rows,
      timestamp: Math.floor(o.sessionStartedAt / 1000),
      traced: { session: o.sessionId, stream: o.stream, started_at_ms: o.sessionStartedAt, command: o.redact(o.command) },
    };
    this.append(`${JSON.stringify(header)}\n`);
    fs.fsyncSync(this.fd);
    const sync = setInterval(() => this.sync(), o.syncMs ?? 1000);
    sync.unref();
    this.timers.push(sync);
  }

  /** Seconds on the session clock, now. */
  private t(at = this.o.now()): number {
    return Math.max(0, (at - this.o.sessionStartedAt) / 1000);
  }

  /** Bytes the pseudo-terminal printed (at `at`, wall clock ms; default now). */
  write(chunk: Buffer | string, at?: number): void {
    if (this.closed) return;
    if (this.dropped > 0 || this.overCap(chunk.length)) {
      this.dropped += chunk.length;
      return;
    }
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (!text) return;
    const now = at ?? this.o.now();
    if (!this.tail) this.tailAt = now;
    this.tail += text;
    const nl = this.tail.lastIndexOf('\n');
    if (nl !== -1) {
      this.holdSince = undefined;
      this.push(this.tail.slice(0, nl + 1), now);
      this.tail = this.tail.slice(nl + 1);
      this.tailAt = now;
    }
    if (this.tail.length > (this.o.maxLineChars ?? 64 * 1024)) {
      // A line too long to hold is cut where no secret can straddle the cut: after the last character that
      // cannot be part of a token (blank, quote, bracket, comma…) in its last 4 KB; what follows waits for the
      // rest of the line. A 4 KB run with no such character is cut as it is (no token is that long).
      const t = this.tail;
      const win = t.slice(-4096);
      const m = /[\s"'`,;<>(){}[\]|]/g;
      let last = -1;
      for (let r = m.exec(win); r; r = m.exec(win)) last = r.index;
      const cut = last === -1 ? t.length : t.length - win.length + last + 1;
      this.push(t.slice(0, cut), now);
      this.tail = t.slice(cut);
    }
    if (this.tail) this.armIdle();
  }

  /** Output printed before the recording could start that was not held for it: said with a marker. */
  droppedBefore(bytes: number): void {
    if (bytes <= 0 || this.closed) return;
    this.flushAll();
    this.marker({ type: 'terminal.output_dropped', reason: 'before_recording_started', bytes });
  }

  /** The window size changed. */
  resize(cols: number, rows: number): void {
    if (this.closed) return;
    this.flushAll();
    this.append(castLine({ t: this.t(), code: 'r', data: `${cols}x${rows}` }));
  }

  /**
   * Writes what is held and closes the file (fsync'd), with a marker: `terminal.exit` when the
   * program ended (`exit`), `terminal.stopped` when the recording did (the session ended).
   */
  close(exit?: { code: number | null; signal?: number | undefined }): void {
    if (this.closed) return;
    this.tail += this.decoder.end();
    this.flushAll();
    const counts = { dropped_bytes: this.dropped, kept_bytes: this.written };
    this.marker(exit ? { type: 'terminal.exit', exit_code: exit.code, signal: exit.signal ?? null, ...counts } : { type: 'terminal.stopped', ...counts });
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.batchTimer) clearTimeout(this.batchTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    try {
      fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
    }
  }

  get bytesDropped(): number {
    return this.dropped;
  }

  private overCap(incoming: number): boolean {
    const now = this.o.now();
    // Other shells of the session grow too: look at them again every few seconds, not on every read.
    if (now - this.othersCheckedAt > 5000) {
      this.others = this.sizeOfOthers();
      this.othersCheckedAt = now;
    }
    if (this.others + this.written + this.tail.length + this.ready.length + incoming <= this.o.maxBytes) return false;
    this.flushAll();
    this.marker({ type: 'terminal.output_dropped', max_bytes: this.o.maxBytes, kept_bytes: this.others + this.written });
    return true;
  }

  private sizeOfOthers(): number {
    const dir = path.dirname(this.file);
    let total = 0;
    try {
      for (const f of fs.readdirSync(dir)) {
        if (f === path.basename(this.file)) continue;
        try {
          total += fs.lstatSync(path.join(dir, f)).size;
        } catch {
          // gone meanwhile
        }
      }
    } catch {
      // no folder yet
    }
    return total;
  }

  private push(text: string, at: number): void {
    if (!this.ready) this.readyAt = at;
    this.ready += text;
    if (this.ready.length > 256 * 1024) this.writeReady();
    else if (!this.batchTimer) {
      this.batchTimer = setTimeout(() => this.writeReady(), this.o.batchMs ?? 100);
      this.batchTimer.unref();
    }
  }

  private armIdle(): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.tail || this.closed) return;
      // A prompt, a progress line: nothing more came for a while, keep it as it is.
      const now = this.o.now();
      if (now - this.tailAt >= (this.o.idleFlushMs ?? 1000) - 5) {
        // Except a token-like run at its end: the rest of a token printed in two writes a moment apart
        // would be redacted apart from its start. It waits (up to HOLD_MS) for the rest of its line.
        const run = TOKEN_TAIL.exec(this.tail);
        if (run && (this.holdSince === undefined || now - this.holdSince < HOLD_MS)) {
          this.holdSince ??= now;
          if (run.index > 0) {
            this.push(this.tail.slice(0, run.index), this.tailAt);
            this.tail = this.tail.slice(run.index);
            this.writeReady();
          }
          this.tailAt = now;
          this.armIdle();
          return;
        }
        this.holdSince = undefined;
        this.push(this.tail, this.tailAt);
        this.tail = '';
        this.writeReady();
      } else this.armIdle();
    }, this.o.idleFlushMs ?? 1000);
    this.idleTimer.unref();
  }

  private writeReady(): void {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    if (!this.ready || this.closed) return;
    const line = castLine({ t: this.t(this.readyAt), code: 'o', data: redactTerminal(this.ready, this.o.redact) });
    this.ready = '';
    this.append(line);
  }

  private flushAll(): void {
    if (this.tail) {
      this.push(this.tail, this.tailAt);
      this.tail = '';
    }
    this.writeReady();
  }

  private marker(m: Record<string, unknown>): void {
    if (this.closed) return;
    this.append(castLine({ t: this.t(), code: 'm', data: JSON.stringify(m) }));
  }

  private append(line: string): void {
    if (this.failure) return;
    try {
      this.written += fs.writeSync(this.fd, line);
      this.dirty = true;
    } catch (err) {
      // A full disk or a removed folder stops the recording, never the shell.
      this.failure = err as Error;
      this.onFailure?.(this.failure);
    }
  }

  /** Why recording stopped (a write failed), if it did. */
  failure: Error | undefined;
  /** Called once when a write fails. */
  onFailure: ((err: Error) => void) | undefined;

  private sync(): void {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    fs.fsync(this.fd, () => {
      // a failed fsync is seen again at close, which throws
    });
  }
}
