/**
 * The root logger: pino to a rotated file, never stdout (stdout belongs to
 * `traced mcp`'s protocol and the CLI's output). Context comes from child
 * loggers; data goes in fields.
 *
 * The daemon writes its log in-process with synchronous appends to a file it
 * rotates itself. A worker-thread transport (pino-roll) was used first and
 * measured fatal: on a full disk its thread emits an unhandled ENOSPC 'error'
 * and takes the daemon down — the one moment the daemon must stay up. Here a
 * failed write drops that line, counts it, and the next line tries again.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

export interface LoggerHandle {
  logger: Logger;
  /** Flushes and closes the destination; the logger must not be used after. */
  close(): Promise<void>;
}

/**
 * `<base>.<n>.log` files, the highest n newest, at most `keep` of them, each at
 * most `maxBytes`; `current.log` links to the newest. Write errors never throw.
 */
export class RollingFile {
  private fd: number | undefined;
  private n = 0;
  private size = 0;
  /** Lines lost to write errors (full disk, removed directory) since the last successful write. */
  dropped = 0;

  constructor(
    private readonly dir: string,
    private readonly base: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    for (const f of safeReaddir(dir)) {
      const m = this.match(f);
      if (m !== undefined) this.n = Math.max(this.n, m);
    }
    if (this.n === 0) this.n = 1;
  }

  private match(f: string): number | undefined {
    const m = new RegExp(`^${this.base}\\.(\\d+)\\.log$`).exec(f);
    return m ? Number(m[1]) : undefined;
  }

  private file(n: number): string {
    return path.join(this.dir, `${this.base}.${n}.log`);
  }

  private open(): number {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const fd = fs.openSync(this.file(this.n), 'a', 0o600);
    this.size = fs.fstatSync(fd).size;
    this.fd = fd;
    try {
      const link = path.join(this.dir, 'current.log');
      fs.rmSync(link, { force: true });
      fs.symlinkSync(path.basename(this.file(this.n)), link);
    } catch {
      // the link is a convenience
    }
    return fd;
  }

  write(line: string): boolean {
    try {
      if (this.fd !== undefined && this.size >= this.maxBytes) this.rotate();
      const fd = this.fd ?? this.open();
      const note = this.dropped ? `{"level":40,"time":${Date.now()},"msg":"${this.dropped} log lines were lost to write errors"}\n` : '';
      const buf = Buffer.from(note + line);
      fs.writeSync(fd, buf);
      this.size += buf.length;
      this.dropped = 0;
      return true;
    } catch {
      this.dropped++;
      this.closeFd();
      return false;
    }
  }

  private rotate(): void {
    this.closeFd();
    this.n++;
    for (const f of safeReaddir(this.dir)) {
      const m = this.match(f);
      if (m !== undefined && m <= this.n - this.keep) fs.rmSync(path.join(this.dir, f), { force: true });
    }
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = undefined;
  }

  close(): void {
    if (this.fd !== undefined) {
      try {
        fs.fsyncSync(this.fd);
      } catch {
        // nothing more to save
      }
    }
    this.closeFd();
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Daemon logger: size-rotated files in `logDir` (traced.1.log, traced.2.log, … and current.log → newest). */
export function createDaemonLogger(opts: { logDir: string; level: string; maxFileMb: number; keepFiles: number }): LoggerHandle {
  const dest = new RollingFile(opts.logDir, 'traced', opts.maxFileMb * 1024 * 1024, opts.keepFiles);
  const logger = pino({ level: opts.level, base: { pid: process.pid } }, { write: (s: string) => void dest.write(s) });
  return { logger, close: async () => dest.close() };
}

/** A logger for short-lived processes (CLI, `traced mcp`): one append-only file; a failed write is dropped, never thrown. */
export function createFileLogger(file: string, level: string): LoggerHandle {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch {
    // No writable log directory: logging must never break the command itself.
    return { logger: pino({ level: 'silent' }), close: async () => undefined };
  }
  const write = (s: string): void => {
    try {
      fs.appendFileSync(file, s, { mode: 0o600 });
    } catch {
      // full disk or removed directory: the command goes on without this line
    }
  };
  return { logger: pino({ level, base: { pid: process.pid } }, { write }), close: async () => undefined };
}
