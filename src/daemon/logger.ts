/**
 * The root logger: pino to a rotated file, never stdout (stdout belongs to
 * `traced mcp`'s protocol and the CLI's output). Context comes from child
 * loggers; data goes in fields.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

export interface LoggerHandle {
  logger: Logger;
  /** Flushes and closes the destination; the logger must not be used after. */
  close(): Promise<void>;
}

/** Daemon logger: size-rotated files in `logDir` (traced.1.log, traced.2.log, … and current.log → newest). */
export function createDaemonLogger(opts: { logDir: string; level: string; maxFileMb: number; keepFiles: number }): LoggerHandle {
  fs.mkdirSync(opts.logDir, { recursive: true, mode: 0o700 });
  const transport = pino.transport({
    target: 'pino-roll',
    options: {
      file: path.join(opts.logDir, 'traced'),
      extension: '.log',
      size: `${opts.maxFileMb}m`,
      limit: { count: opts.keepFiles },
      symlink: true,
      mkdir: true,
    },
  });
  const logger = pino({ level: opts.level, base: { pid: process.pid } }, transport);
  return {
    logger,
    close: () =>
      new Promise<void>((resolve) => {
        const done = setTimeout(resolve, 2000);
        done.unref();
        transport.once('close', () => {
          clearTimeout(done);
          resolve();
        });
        logger.flush();
        transport.end();
      }),
  };
}

/** A logger for short-lived processes (CLI, `traced mcp`): one append-only file, synchronous writes. */
export function createFileLogger(file: string, level: string): LoggerHandle {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const dest = pino.destination({ dest: file, sync: true, mkdir: true });
    const logger = pino({ level, base: { pid: process.pid } }, dest);
    return { logger, close: async () => dest.flushSync() };
  } catch {
    // No writable log directory: logging must never break the command itself.
    return { logger: pino({ level: 'silent' }), close: async () => undefined };
  }
}
