/**
 * Heavy reads off the event loop. A digest over a 300k-event session, a search
 * over a million rows or a long timeline page takes tens to hundreds of
 * milliseconds of synchronous SQLite work; on the daemon's loop that would
 * stall every IPC reply, capture supervision and ingest acknowledgement
 * behind it. Here each runs in a worker thread with its own read-only
 * connection (WAL: readers never block the writer, and see every committed
 * event). Requests queue for the first free worker.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { daemonStopping, ErrorCodes, isErrorCode, TracedError } from '../errors.js';

/** What a worker can run: the read views' own methods, on its own read-only services. */
export type ReadTarget = 'replay' | 'search' | 'sessions';
export type Offload = (target: ReadTarget, method: string, args: unknown[]) => Promise<unknown>;

interface Task {
  id: number;
  target: ReadTarget;
  method: string;
  args: unknown[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  task: Task | undefined;
  idle: NodeJS.Timeout | undefined;
}

/** A worker idle this long is ended: its heap (a large page, a big digest) goes back to the system, not kept for ever. */
const IDLE_MS = 15_000;

function workerFile(): URL {
  const here = new URL('./read-worker.js', import.meta.url);
  return fs.existsSync(fileURLToPath(here)) ? here : new URL('../../dist/timeline/read-worker.js', import.meta.url);
}

export class ReadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly o: { db: string; size: number; log: Logger }) {}

  /** Runs `target.method(...args)` in a worker; rejects with the TracedError the method threw. */
  run<T>(target: ReadTarget, method: string, args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(daemonStopping());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, target, method, args, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.task);
      if (!slot && this.slots.length < this.o.size) slot = this.spawn();
      if (!slot) return;
      const task = this.queue.shift() as Task;
      if (slot.idle) clearTimeout(slot.idle);
      slot.idle = undefined;
      slot.task = task;
      slot.worker.postMessage({ id: task.id, target: task.target, method: task.method, args: task.args });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(workerFile(), { workerData: { db: this.o.db } });
    const slot: Slot = { worker, task: undefined, idle: undefined };
    worker.on('message', (m: { id: number; result?: unknown; error?: { code: string; message: string; data?: Record<string, unknown> } }) => {
      const t = slot.task;
      if (!t || t.id !== m.id) return;
      slot.task = undefined;
      if (m.error)
        t.reject(
          new TracedError(isErrorCode(m.error.code) ? m.error.code : ErrorCodes.INTERNAL, m.error.message, m.error.data ? { data: m.error.data } : undefined),
        );
      else t.resolve(m.result);
      this.pump();
      if (!slot.task) {
        slot.idle = setTimeout(() => this.retire(slot), IDLE_MS);
        slot.idle.unref();
      }
    });
    // A worker that dies fails its task (a bug, reported as one) and is replaced by the next request.
    const gone = (err: unknown) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (slot.task) slot.task.reject(new TracedError(ErrorCodes.INTERNAL, `a read worker stopped: ${(err as Error)?.message ?? err}`));
      slot.task = undefined;
      if (!this.closed) {
        this.o.log.error({ err }, 'read worker stopped');
        this.pump();
      }
    };
    worker.on('error', gone);
    worker.on('exit', (code) => code !== 0 && gone(new Error(`exit code ${code}`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  /** Ends an idle worker; the next heavy read starts a fresh one. */
  private retire(slot: Slot): void {
    if (slot.task) return;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    slot.worker.removeAllListeners('exit');
    void slot.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(daemonStopping());
    // A read still running is cut by the shutdown, not by a bug: it fails with TRACED_DAEMON_STOPPING.
    for (const s of this.slots) {
      s.task?.reject(daemonStopping());
      s.task = undefined;
      if (s.idle) clearTimeout(s.idle);
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
