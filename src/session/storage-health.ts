/**
 * Can the daemon write what it records? A failed write (a full disk, a broken
 * database) is remembered and shown in `status` until the next write that
 * succeeds; whoever keeps state that could not be written re-persists it then.
 */
import type { Logger } from 'pino';
import { ErrorCodes, TracedError, isDiskFull } from '../errors.js';
import { freeBytes } from '../config/paths.js';
import type { StorageStatus } from '../model.js';

/** Below this much free space the disk counts as full: one segment no longer fits. */
const LOW_SPACE_BYTES = 1024 * 1024;

export interface StorageHealthDeps {
  home: string;
  log: Logger;
  notify: (topic: string, data: unknown) => void;
  now: () => number;
}

export class StorageHealth {
  private problem: { code: string; message: string; since: number } | undefined;
  private readonly recovered: (() => void)[] = [];

  constructor(private readonly d: StorageHealthDeps) {}

  /** Called when writes work again after a failure (e.g. channel health that could not be written). */
  onRecovered(fn: () => void): void {
    this.recovered.push(fn);
  }

  /** Runs a store write; success clears a storage problem. */
  write<T>(fn: () => T): T {
    const r = fn();
    if (this.problem) {
      this.d.log.info({ problem: this.problem }, 'writes work again');
      this.problem = undefined;
      for (const f of this.recovered) {
        try {
          f();
        } catch {
          // the next change tries again
        }
      }
    }
    return r;
  }

  /** Records why a write failed (status shows it) and returns the error to throw: TRACED_DISK_FULL for a full disk. */
  failed(err: unknown): TracedError {
    const e = isDiskFull(err)
      ? new TracedError(ErrorCodes.DISK_FULL, `the disk holding ${this.d.home} is full: ${(err as Error).message}; free space to resume recording`, {
          cause: err,
        })
      : err instanceof TracedError
        ? err
        : new TracedError(ErrorCodes.STORE_FAILED, (err as Error).message, { cause: err });
    if (!this.problem || this.problem.code !== e.code) {
      this.problem = { code: e.code, message: e.message, since: this.d.now() };
      this.d.log.error({ err }, 'a write failed');
      this.d.notify('storage.problem', this.problem);
    }
    return e;
  }

  /** Free space and why writes fail: a failed write, or a disk with less than LOW_SPACE_BYTES left (ffmpeg may be the one that noticed). */
  status(): StorageStatus {
    const free = freeBytes(this.d.home) ?? null;
    if (this.problem) return { free_bytes: free, problem: this.problem };
    if (free !== null && free < LOW_SPACE_BYTES) {
      return {
        free_bytes: free,
        problem: {
          code: ErrorCodes.DISK_FULL,
          message: `only ${free} bytes free on the disk holding ${this.d.home}; free space to keep recording`,
          since: this.d.now(),
        },
      };
    }
    return { free_bytes: free, problem: null };
  }
}
