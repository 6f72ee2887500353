/**
 * Client side of the traced socket (node-ipc, guarded parser). One connection,
 * many concurrent requests matched by id; error replies become TracedErrors
 * with the daemon's code.
 */
import { IPCModule } from 'node-ipc';
import { ErrorCodes, TracedError, isErrorCode } from '../errors.js';
import type { CaptureEnv } from '../model/capture-env.js';
import { NOTIFY, REQUEST, RESPONSE, type WireError } from './protocol.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface CallOptions {
  timeoutMs?: number;
  cwd?: string;
}

let clientCounter = 0;

export class IpcClient {
  private readonly ipc = new IPCModule();
  private readonly id = `traced-${process.pid}-${++clientCounter}`;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(topic: string, data: unknown) => void>();
  private nextId = 1;
  private closed = false;
  private refusal: TracedError | undefined;
  private closeListeners: (() => void)[] = [];
  /** The caller's capture environment, sent with every request (a session started by it records there). */
  captureEnv: CaptureEnv | undefined;

  private constructor(readonly socketPath: string) {
    const c = this.ipc.config;
    c.silent = true;
    c.parser = 'guarded';
    c.maxMessageSize = 256 * 1024 * 1024; // the daemon is trusted: large replies are fine
    c.maxRetries = 0;
    c.stopRetrying = true;
  }

  /** Connects or fails with TRACED_DAEMON_UNREACHABLE (no daemon on that socket). */
  static connect(socketPath: string, timeoutMs = 3000): Promise<IpcClient> {
    const client = new IpcClient(socketPath);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.close();
        reject(new TracedError(ErrorCodes.DAEMON_UNREACHABLE, `no traced daemon answers on ${socketPath} (${why})`, { data: { socket: socketPath } }));
      };
      const timer = setTimeout(() => fail('timed out'), timeoutMs);
      client.ipc.connectTo(client.id, socketPath, () => {
        const conn = client.ipc.of[client.id];
        if (!conn) return fail('no connection');
        conn.on('connect', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(client);
        });
        conn.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
        conn.on('disconnect', () => {
          fail('disconnected');
          client.onClosed();
        });
        conn.on(RESPONSE, (data: { id?: unknown; result?: unknown; error?: WireError }) => client.onResponse(data));
        conn.on(NOTIFY, (data: { topic?: unknown; data?: unknown }) => {
          if (typeof data?.topic === 'string') for (const l of client.listeners) l(data.topic, data.data);
        });
      });
    });
  }

  private onResponse(data: { id?: unknown; result?: unknown; error?: WireError }): void {
    // An error for no request: the daemon refuses the connection itself (too many clients); it closes next.
    if (data?.id === null && data.error && isErrorCode(data.error.code)) this.refusal = new TracedError(data.error.code, data.error.message);
    if (typeof data?.id !== 'number') return;
    const p = this.pending.get(data.id);
    if (!p) return;
    this.pending.delete(data.id);
    if (p.timer) clearTimeout(p.timer);
    if (data.error) {
      const code = isErrorCode(data.error.code) ? data.error.code : ErrorCodes.INTERNAL;
      p.reject(new TracedError(code, data.error.message, data.error.data ? { data: data.error.data } : undefined));
    } else p.resolve(data.result);
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(this.refusal ?? new TracedError(ErrorCodes.DAEMON_UNREACHABLE, 'the daemon closed the connection'));
    }
    this.pending.clear();
    for (const l of this.closeListeners) l();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(fn: () => void): void {
    this.closeListeners.push(fn);
  }

  call(method: string, params: unknown = {}, opts: CallOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(this.refusal ?? new TracedError(ErrorCodes.DAEMON_UNREACHABLE, 'the connection to the daemon is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? 0;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new TracedError(ErrorCodes.IPC_TIMEOUT, `${method} did not answer within ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve, reject, timer });
      const frame: Record<string, unknown> = { id, method, params };
      if (opts.cwd) frame.cwd = opts.cwd;
      if (this.captureEnv) frame.env = this.captureEnv;
      this.ipc.of[this.id]?.emit(REQUEST, frame);
    });
  }

  /** Subscribes to push notifications (`session.*`, `event.recorded`, `*`…). */
  async subscribe(topics: string[], listener: (topic: string, data: unknown) => void): Promise<void> {
    this.listeners.add(listener);
    await this.call('subscribe', { topics });
  }

  close(): void {
    try {
      this.ipc.disconnect(this.id);
    } catch {
      // never connected
    }
    this.onClosed();
  }
}
