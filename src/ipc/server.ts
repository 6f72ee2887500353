/**
 * The daemon's socket: node-ipc with the guarded parser (frame size limit,
 * envelope and event-name checks, prototype-name rejection). Requests are
 * dispatched over the one operation list; every failure is an error frame
 * with a stable code. A malformed frame closes that connection only; the
 * daemon and the session go on.
 */
import fs from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { IPCModule } from 'node-ipc';
import type { Logger } from 'pino';
import { findOperation, invoke, type Services } from '../api/index.js';
import { formatIssues } from '../api/operation.js';
import { daemonStopping, ErrorCodes, TracedError, toTracedError } from '../errors.js';
import { VERSION } from '../version.js';
import { NOTIFY, Request, REQUEST, RequestId, RESPONSE, ShutdownParams, SubscribeParams, topicMatches, type Response } from './protocol.js';

export interface IpcServerOptions {
  socketPath: string;
  maxMessageBytes: number;
  services: Services;
  logger: Logger;
  /** The daemon itself, for `ping` (version, the recording session) and `shutdown`. */
  control?: DaemonControl;
}

/** What the socket may ask of the daemon process (DESIGN §8, docs/ipc.md: ping, shutdown). */
export interface DaemonControl {
  startedAt: number;
  /** The session being recorded, if any. */
  recording(): string | undefined;
  /** Begins a graceful stop (the reply goes out first); with ifIdle, refuses while a session records. */
  shutdown(ifIdle: boolean): { stopping: boolean; recording: string | null };
}

/** Clients served at once; one more is told TRACED_IPC_TOO_MANY_CLIENTS and closed. */
export const MAX_CLIENTS = 256;

/** Events node-ipc itself publishes on the server: never client frames. */
const INTERNAL = new Set(['start', 'connect', 'close', 'error', 'socket.disconnected', 'data']);

export class IpcServer {
  private readonly ipc = new IPCModule();
  private readonly subs = new Map<Socket, string[]>();
  private readonly log: Logger;
  /** Requests whose operation is still running; a stop answers what outlives its grace. */
  private readonly inflight = new Set<{ socket: Socket; id: string | number; answered: boolean }>();
  private readonly clients = new Set<Socket>();

  constructor(private readonly opts: IpcServerOptions) {
    this.log = opts.logger.child({ mod: 'ipc' });
    const c = this.ipc.config;
    c.silent = true; // node-ipc logs to console.log otherwise: stdout is not ours to use
    c.parser = 'guarded';
    c.maxMessageSize = opts.maxMessageBytes;
    c.maxPendingBytes = 64 * 1024 * 1024; // large replies (timelines) to a slow reader
    c.socketRoot = `${path.dirname(opts.socketPath)}${path.sep}`;
    c.secureSocketRoot = true;
    c.unlink = true; // the lock already proved any socket file here stale
    // node-ipc closes connections past its own limit without a word; ours answers them with a code first.
    c.maxConnections = MAX_CLIENTS * 4;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ipc.serve(this.opts.socketPath, () => {
        const server = this.ipc.server;
        server.on(REQUEST, (data: unknown, socket: Socket) => this.onRequest(data, socket));
        server.on('*', (type: string, _data: unknown, socket: unknown) => {
          if (type === REQUEST || INTERNAL.has(type)) return;
          this.log.warn({ type: type.slice(0, 64) }, 'frame of unknown type');
          this.reply(socket as Socket, {
            id: null,
            error: { code: ErrorCodes.IPC_BAD_FRAME, message: 'unknown frame type; send {"type":"req","data":{"id":…,"method":…,"params":…}}' },
          });
        });
        server.on('error', (err: Error & { code?: string }) => this.log.warn({ code: err.code, msg: err.message }, 'ipc protocol error; connection closed'));
        server.on('connect', (socket: Socket) => {
          this.clients.add(socket);
          socket.once('close', () => this.clients.delete(socket));
          if (this.clients.size <= MAX_CLIENTS) return;
          this.log.warn({ clients: this.clients.size }, 'too many clients; refusing one');
          this.reply(socket, {
            id: null,
            error: { code: ErrorCodes.IPC_TOO_MANY_CLIENTS, message: `the daemon serves ${MAX_CLIENTS} clients at once; close idle ones or try again shortly` },
          });
          socket.end();
        });
        server.on('socket.disconnected', (socket: Socket) => this.subs.delete(socket));
        server.on('start', () => {
          if (process.platform !== 'win32') fs.chmodSync(this.opts.socketPath, 0o600);
          this.log.info({ socket: this.opts.socketPath }, 'listening');
          resolve();
        });
      });
      try {
        this.ipc.server.start();
      } catch (err) {
        reject(err);
      }
      const net = this.ipc.server.server;
      if (net) net.once('error', reject);
    });
  }

  private send(socket: Socket, type: string, data: unknown): void {
    if (socket.destroyed) return;
    try {
      this.ipc.server.emit(socket, type, data);
    } catch (err) {
      this.log.warn({ err }, 'could not write to a client');
    }
  }

  /**
   * Synchronous up to the handler: `ping` and the socket's own methods answer
   * in the same turn of the event loop (no promise hops); operations answer
   * when their promise settles.
   */
  private onRequest(raw: unknown, socket: Socket): void {
    const parsed = Request.safeParse(raw);
    if (!parsed.success) {
      // The id is echoed only when it is a valid one: an over-long id would make the error reply itself too large to send.
      const rawId = raw && typeof raw === 'object' && 'id' in raw ? raw.id : undefined;
      const id = RequestId.safeParse(rawId).success ? (rawId as string | number) : null;
      const issues = formatIssues(parsed.error);
      this.reply(socket, { id, error: { code: ErrorCodes.IPC_BAD_FRAME, message: `bad request: ${issues.join('; ')}`, data: { issues } } });
      return;
    }
    const req = parsed.data;
    let out: unknown;
    try {
      out = this.dispatch(req, socket);
    } catch (err) {
      this.replyError(socket, req, err);
      return;
    }
    if (!(out instanceof Promise)) {
      this.reply(socket, { id: req.id, result: out });
      return;
    }
    const entry = { socket, id: req.id, answered: false };
    this.inflight.add(entry);
    out
      .then(
        (result) => !entry.answered && this.reply(socket, { id: req.id, result }),
        (err) => !entry.answered && this.replyError(socket, req, err),
      )
      // reply() catches its own write errors; this is for a logger that throws, so nothing rejects unhandled.
      .catch((err: unknown) => this.log.warn({ err }, 'could not answer a request'))
      .finally(() => {
        entry.answered = true;
        this.inflight.delete(entry);
      });
  }

  private replyError(socket: Socket, req: Request, err: unknown): void {
    const e = toTracedError(err);
    if (e.code === ErrorCodes.INTERNAL) this.log.error({ err, method: req.method }, 'request failed');
    this.reply(socket, { id: req.id, error: e.toJSON() });
  }

  private dispatch(req: Request, socket: Socket): unknown {
    switch (req.method) {
      case 'ping': {
        const c = this.opts.control;
        return { pong: true, pid: process.pid, version: VERSION, started_at: c?.startedAt ?? null, recording: c?.recording() ?? null };
      }
      case 'shutdown': {
        const p = ShutdownParams.safeParse(req.params ?? {});
        if (!p.success) throw new TracedError(ErrorCodes.INVALID_PARAMS, `invalid params for shutdown: ${formatIssues(p.error).join('; ')}`);
        if (!this.opts.control) throw new TracedError(ErrorCodes.IPC_UNKNOWN_METHOD, 'this server cannot stop its daemon');
        this.log.info({ if_idle: p.data.if_idle }, 'shutdown requested over the socket');
        return { pid: process.pid, ...this.opts.control.shutdown(p.data.if_idle) };
      }
      case 'subscribe': {
        const p = SubscribeParams.safeParse(req.params ?? {});
        if (!p.success) throw new TracedError(ErrorCodes.INVALID_PARAMS, `invalid params for subscribe: ${formatIssues(p.error).join('; ')}`);
        this.subs.set(socket, p.data.topics);
        return { subscribed: p.data.topics };
      }
      case 'unsubscribe':
        this.subs.delete(socket);
        return { subscribed: [] };
    }
    const op = findOperation(req.method);
    if (!op) throw new TracedError(ErrorCodes.IPC_UNKNOWN_METHOD, `unknown method "${req.method.slice(0, 64)}"`, { data: { method: req.method.slice(0, 64) } });
    return invoke(op, req.params ?? {}, this.opts.services, { cwd: req.cwd, env: req.env });
  }

  /**
   * Every request gets an answer: a result too large for one frame becomes a
   * TRACED_REPLY_TOO_LARGE error (with how to page) instead of a frame the
   * encoder refuses and the caller waits for forever.
   */
  private reply(socket: Socket, res: Response): void {
    if (socket.destroyed) return;
    try {
      // node-ipc's guarded encoder measures the frame as it builds it: one serialization, not two.
      this.ipc.server.emit(socket, RESPONSE, res);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_IPC_FRAME_TOO_LARGE') {
        this.log.warn({ err }, 'could not write to a client');
        return;
      }
      this.log.warn({ limit: this.opts.maxMessageBytes }, 'reply too large for one frame');
      if ('error' in res) {
        // An error too large to send (a huge message or data): its code and as much of its message as fits
        // (a character can take 6 bytes as JSON), the code alone at worst.
        for (const chars of [4096, Math.floor(this.opts.maxMessageBytes / 16), 0]) {
          try {
            this.ipc.server.emit(socket, RESPONSE, { id: res.id, error: { code: res.error.code, message: res.error.message.slice(0, chars) } });
            return;
          } catch {
            // still too large: less
          }
        }
        this.send(socket, RESPONSE, { id: null, error: { code: res.error.code, message: '' } });
        return;
      }
      this.send(socket, RESPONSE, {
        id: res.id,
        error: {
          code: ErrorCodes.REPLY_TOO_LARGE,
          message: `the reply is over the ${this.opts.maxMessageBytes}-byte frame limit; ask for less (a smaller limit or max_bytes, a narrower range) and page with the continuation the reply gives`,
          data: { limit: this.opts.maxMessageBytes },
        },
      });
    }
  }

  /** Pushes a notification to every subscriber of `topic`. */
  notify(topic: string, data: unknown): void {
    for (const [socket, topics] of this.subs) {
      if (topicMatches(topics, topic)) this.send(socket, NOTIFY, { topic, data });
    }
  }

  /** Waits (up to `graceMs`) for requests in flight, then closes every connection and the socket. */
  async stop(graceMs = 2000): Promise<void> {
    const until = Date.now() + graceMs;
    const waitWhile = async (busy: () => boolean, deadline: number) => {
      while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    await waitWhile(() => this.inflight.size > 0, until);
    // What is still running is told why it gets no result, before its connection closes.
    for (const e of this.inflight) {
      e.answered = true;
      this.reply(e.socket, { id: e.id, error: daemonStopping().toJSON() });
    }
    this.inflight.clear();
    // Replies still being written to a slow reader get the same grace to drain before the connections close.
    for (const c of this.clients) if (!c.destroyed) c.end();
    await waitWhile(() => [...this.clients].some((c) => !c.destroyed && c.writableLength > 0), Date.now() + graceMs);
    this.ipc.server.stop();
    this.subs.clear();
    if (process.platform !== 'win32') {
      try {
        fs.unlinkSync(this.opts.socketPath);
      } catch {
        // already removed
      }
    }
  }
}
