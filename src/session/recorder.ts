/**
 * The live session: one at a time, its channels and their health. Start,
 * stop, pause, resume and shutdown run one at a time, in call order. Channel
 * drivers emit through a context; their events go through the event writer.
 * It knows nothing of MCP, node-ipc or the terminal.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ChannelContext, ChannelDriver } from '../capture/channel.js';
import { daemonStopping, ErrorCodes, TracedError, toTracedError } from '../errors.js';
import type {
  ChannelSpec,
  ChannelState,
  EventData,
  IngestEventInput,
  IngestEventOutput,
  LiveSession,
  Profile,
  RecordedEvent,
  SessionState,
  SessionSummary,
  StartSessionInput,
  StartSessionOutput,
} from '../model.js';
import type { SessionFiles } from '../timeline/session-files.js';
import type { Store } from '../timeline/store.js';
import type { Clock, EventWriter } from './event-writer.js';
import { type CaptureEnv, sessionEnv } from '../model/capture-env.js';
import { registerSegment, type SegmentQueue } from './register-segment.js';
import type { StorageHealth } from './storage-health.js';

export { registerSegment } from './register-segment.js';

export type ChannelFactory = (spec: ChannelSpec) => ChannelDriver | undefined;
export type Notify = (topic: string, data: unknown) => void;

/** What the recorder needs of the upload queue. */
export interface RecorderQueue extends SegmentQueue {
  sessionCounts(sessionId: string): { done: number; pending: number; in_flight: number; failed: number };
  status(): { paused: { code: string } | null };
  onSettled(fn: (job: { session_id: string }) => void): () => void;
}

export interface RecorderDeps {
  store: Store;
  files: SessionFiles;
  events: EventWriter;
  health: StorageHealth;
  clock: Clock;
  log: Logger;
  notify: Notify;
  env: Readonly<Record<string, string | undefined>>;
  /** Where a relative project path resolves when the caller gave no directory. */
  cwd: string;
  defaultProfile: Profile;
  channelFactory: ChannelFactory;
  /** Where the live session is published for the read views. */
  live: { current: LiveSession | undefined };
  summary: (id: string) => SessionSummary;
  resolve: (ref: string) => string;
  queue?: RecorderQueue | undefined;
  flushTimeoutMs: number;
  refreshMoments: (sessionId: string) => void;
  /** After a session ended: bring in what arrives late (assistant logs) and apply retention. */
  afterStop?: (sessionId: string) => void;
}

interface LiveChannel {
  spec: ChannelSpec;
  kind: 'event' | 'media';
  driver: ChannelDriver | undefined;
  state: ChannelState;
  detail: string | undefined;
  events: number;
  segments: number;
  lastEventAt: number | undefined;
}

interface Live {
  id: string;
  /** The directory the channels watch (as given). */
  project: string;
  /** The project path as it is stored, logged and shown: through the gate (a folder name can hold a secret). */
  storedProject: string;
  label: string | null;
  profile: Profile;
  dir: string;
  startedAt: number;
  mono0: number;
  state: 'recording' | 'paused' | 'stopping';
  channels: Map<string, LiveChannel>;
  warnings: string[];
  /** The environment its channels capture in: the caller's display and audio server (see sessionEnv). */
  env: Readonly<Record<string, string | undefined>>;
}

const SHUTDOWN_FLUSH_MS = 5000;
const MEDIA = /^(display|mic|system_audio):/;

/** Channels of each profile; media channels join event channels. */
export function profileChannels(profile: Profile): ChannelSpec[] {
  const events: ChannelSpec[] = [
    { id: 'files', store: true },
    { id: 'git', store: true },
    { id: 'window', store: true },
  ];
  if (profile === 'full') return [{ id: 'display:1', store: true }, { id: 'mic:default', store: true }, ...events];
  if (profile === 'audio') return [{ id: 'mic:default', store: true }, ...events];
  return events;
}

/** Time-sortable id that reads as a local date and time: 20261121-145012-k3x9. */
export function newSessionId(now: number): string {
  const d = new Date(now);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const rand = Array.from(crypto.randomBytes(4), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${rand}`;
}

export class Recorder {
  private live: Live | undefined;
  private lifecycle: Promise<unknown> = Promise.resolve();
  private shuttingDown = false;
  private readonly log: Logger;

  constructor(private readonly d: RecorderDeps) {
    this.log = d.log.child({ mod: 'recorder' });
    // Channel health that could not be written while writes failed is written once they work.
    d.health.onRecovered(() => {
      const live = this.live;
      if (live) for (const ch of live.channels.values()) this.persistChannel(live, ch);
    });
  }

  /** Runs lifecycle changes one at a time, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lifecycle.then(fn, fn);
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  private publish(): void {
    const live = this.live;
    this.d.live.current = live && {
      id: live.id,
      profile: live.profile,
      state: live.state,
      startedAt: live.startedAt,
      warnings: live.warnings,
      channels: new Map([...live.channels].map(([id, c]) => [id, { state: c.state, detail: c.detail, events: c.events, lastEventAt: c.lastEventAt }])),
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /** `cwd`: where a relative project path is resolved (the caller's directory); `callerEnv`: where it records. */
  start(input: StartSessionInput, cwd?: string, callerEnv?: CaptureEnv): Promise<StartSessionOutput> {
    return this.serial(async () => {
      if (this.shuttingDown) throw daemonStopping();
      if (this.live) {
        throw new TracedError(ErrorCodes.SESSION_ACTIVE, `session ${this.live.id} is already ${this.live.state}; stop it first`, {
          data: { session: this.live.id },
        });
      }
      const project = path.resolve(cwd ?? this.d.cwd, input.project ?? '.');
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(project);
      } catch {
        st = undefined;
      }
      if (!st?.isDirectory()) throw new TracedError(ErrorCodes.PROJECT_NOT_FOUND, `${project} is not a directory`, { data: { project } });
      const profile = input.profile ?? this.d.defaultProfile;
      const specs = dedupeSpecs(input.channels ?? profileChannels(profile));
      const now = this.d.clock.now();
      const id = newSessionId(now);
      const dir = this.d.files.ensure(id);
      const storedProject = this.d.events.gateText(project);
      const live: Live = {
        id,
        project,
        storedProject,
        label: this.d.events.gateText(input.label ?? null),
        profile,
        dir,
        startedAt: now,
        mono0: this.d.clock.mono(),
        state: 'recording',
        channels: new Map(),
        warnings: [],
        env: sessionEnv(this.d.env, callerEnv),
      };
      for (const spec of specs) {
        live.channels.set(spec.id, {
          spec,
          kind: MEDIA.test(spec.id) ? 'media' : 'event',
          driver: undefined,
          state: 'starting',
          detail: undefined,
          events: 0,
          segments: 0,
          lastEventAt: undefined,
        });
      }
      this.d.store.transaction(() => {
        this.d.store.insertSession({
          id,
          project: storedProject,
          label: live.label,
          profile,
          state: 'recording',
          started_at: now,
          meta: JSON.stringify({ clock: 'monotonic', pid: process.pid }),
        });
        for (const ch of live.channels.values()) this.persistChannel(live, ch);
      });
      this.d.files.writeSession(id, this.sessionDoc(live, 'recording'));
      this.live = live;
      this.d.events.open({ id, startedAt: now, mono0: live.mono0 });
      this.publish();
      const log = this.log.child({ sessionId: id });
      log.info(
        { project: storedProject, profile, channels: specs.map((s) => s.id), display: live.env.DISPLAY ?? live.env.WAYLAND_DISPLAY ?? null },
        'session starting',
      );
      await this.record(live, 'session', 'session.started', { project, profile, label: live.label, channels: specs });

      // Channels start together, so every media channel's first frame lands
      // within the same moment of the session clock.
      const started: LiveChannel[] = [];
      let failure: { channel: string; err: TracedError } | undefined;
      await Promise.all(
        [...live.channels.values()].map(async (ch) => {
          const driver = this.d.channelFactory(ch.spec);
          if (!driver) {
            this.setHealth(live, ch, 'unavailable', 'no driver for this channel');
            live.warnings.push(`${ch.spec.id}: ${ch.detail}`);
            return;
          }
          ch.driver = driver;
          started.push(ch);
          try {
            await driver.start(this.channelContext(live, ch, log));
            if (ch.state === 'starting') this.setHealth(live, ch, 'running');
            if (ch.state === 'unavailable') live.warnings.push(`${ch.spec.id}: ${ch.detail ?? 'unavailable'}`);
          } catch (err) {
            failure ??= { channel: ch.spec.id, err: toTracedError(err) };
            this.setHealth(live, ch, 'failed', toTracedError(err).message);
          }
        }),
      );
      // full without any display falls back to audio (mic + events), and says so.
      const displays = [...live.channels.values()].filter((c) => c.spec.id.startsWith('display:'));
      if (profile === 'full' && displays.length > 0 && displays.every((c) => c.state === 'unavailable')) {
        live.profile = 'audio';
        live.warnings.push(`no display can be captured (${displays[0]?.detail ?? 'unavailable'}): recording the audio profile instead of full`);
        this.d.store.setProfile(id, 'audio');
      }
      if (failure) {
        log.error({ channel: failure.channel, err: failure.err }, 'session start failed; stopping what was started');
        await this.stopChannels(live, started, log);
        const error = { code: failure.err.code, message: `${failure.channel}: ${failure.err.message}` };
        await this.finish(live, 'failed', error);
        throw new TracedError(ErrorCodes.SESSION_START_FAILED, `could not start ${failure.channel}: ${failure.err.message}`, {
          data: { session: id, channel: failure.channel, code: failure.err.code },
          cause: failure.err,
        });
      }
      this.d.store.setWarnings(id, live.warnings);
      this.publish();
      this.d.notify('session.started', { session: id, project: storedProject, profile });
      log.info({ warnings: live.warnings }, 'session recording');
      return { session: this.d.summary(id), warnings: [...live.warnings] };
    });
  }

  /** Stops the session, then waits up to `flushTimeoutMs` for its uploads (outside the lifecycle lock: a new session may start meanwhile). */
  async stop(ref?: string): Promise<SessionSummary> {
    const stopped = await this.stopSession(ref);
    try {
      this.d.afterStop?.(stopped.id);
    } catch (err) {
      this.log.warn({ err }, 'work after stop failed');
    }
    if (this.d.queue?.targetNames.length) {
      this.enqueueExport(stopped.id);
      await this.flushUploads(stopped.id, this.d.flushTimeoutMs);
    }
    return this.d.summary(stopped.id);
  }

  /** The session's video for each target, after its segments (the queue holds it back until they are up). */
  private enqueueExport(sessionId: string): void {
    const q = this.d.queue;
    if (!q || !this.d.store.segments(sessionId).length) return;
    try {
      for (const target of q.targetNames) q.enqueue({ target, kind: 'export', session_id: sessionId });
    } catch (err) {
      this.d.health.failed(err);
    }
  }

  /**
   * Waits until the session has no upload pending or in flight, the deadline
   * passes (the rest goes on in the background) or the queue is paused;
   * `upload.progress` notifications say how far it got.
   */
  private async flushUploads(sessionId: string, timeoutMs: number): Promise<void> {
    const q = this.d.queue;
    if (!q) return;
    const deadline = this.d.clock.now() + timeoutMs;
    let last = '';
    for (;;) {
      const c = q.sessionCounts(sessionId);
      const total = c.done + c.pending + c.in_flight + c.failed;
      const paused = q.status().paused;
      const left = c.pending + c.in_flight;
      const timedOut = this.d.clock.now() >= deadline;
      const progress = { session: sessionId, ...c, total, finished: left === 0, timed_out: left > 0 && timedOut, paused: paused?.code ?? null };
      const key = JSON.stringify(progress);
      if (key !== last) {
        last = key;
        this.d.notify('upload.progress', progress);
      }
      if (left === 0 || timedOut || paused) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 250);
        const off = q.onSettled((job) => job.session_id === sessionId && done());
        function done(): void {
          clearTimeout(t);
          off();
          resolve();
        }
      });
    }
  }

  private stopSession(ref?: string): Promise<SessionSummary> {
    return this.serial(async () => {
      const live = this.requireLive(ref);
      const log = this.log.child({ sessionId: live.id });
      live.state = 'stopping';
      this.publish();
      this.d.store.setSessionState(live.id, 'stopping');
      await this.stopChannels(live, [...live.channels.values()], log);
      await this.finish(live, 'ended');
      this.d.notify('session.stopped', { session: live.id });
      log.info('session ended');
      return this.d.summary(live.id);
    });
  }

  pause(ref?: string): Promise<SessionSummary> {
    return this.serial(async () => {
      const live = this.requireLive(ref);
      if (live.state !== 'recording') throw new TracedError(ErrorCodes.SESSION_STATE, `session ${live.id} is ${live.state}, not recording`);
      await this.record(live, 'session', 'session.paused', {});
      live.state = 'paused';
      this.publish();
      // All channels at once, as at start: one slow device must not shift the others on the clock.
      await Promise.all(
        [...live.channels.values()].map((ch) => ch.driver?.pause?.().catch((err: unknown) => this.log.error({ err, channel: ch.spec.id }, 'pause failed'))),
      );
      this.d.store.setSessionState(live.id, 'paused');
      this.d.notify('session.paused', { session: live.id });
      return this.d.summary(live.id);
    });
  }

  resume(ref?: string): Promise<SessionSummary> {
    return this.serial(async () => {
      const live = this.requireLive(ref);
      if (live.state !== 'paused') throw new TracedError(ErrorCodes.SESSION_STATE, `session ${live.id} is ${live.state}, not paused`);
      live.state = 'recording';
      this.publish();
      this.d.store.setSessionState(live.id, 'recording');
      await this.record(live, 'session', 'session.resumed', {});
      await Promise.all(
        [...live.channels.values()]
          .filter((ch) => ch.state !== 'unavailable' && ch.state !== 'failed')
          .map((ch) => ch.driver?.resume?.().catch((err: unknown) => this.log.error({ err, channel: ch.spec.id }, 'resume failed'))),
      );
      this.d.notify('session.resumed', { session: live.id });
      return this.d.summary(live.id);
    });
  }

  /** Orderly stop of the daemon: ends the active session, commits everything. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.live) {
      try {
        // A service manager waits only so long: uploads get a short flush, the rest resumes at the next start.
        const stopped = await this.stopSession();
        this.enqueueExport(stopped.id);
        await this.flushUploads(stopped.id, Math.min(this.d.flushTimeoutMs, SHUTDOWN_FLUSH_MS));
      } catch (err) {
        this.log.error({ err }, 'stopping the session at shutdown failed');
      }
    }
    await this.lifecycle;
    this.d.events.flush();
  }

  private requireLive(ref?: string): Live {
    const live = this.live;
    if (!live) throw new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, 'no session is recording');
    if (ref !== undefined) {
      const id = this.d.resolve(ref);
      if (id !== live.id) throw new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, `session ${id} is not the active session (${live.id})`);
    }
    return live;
  }

  private async stopChannels(live: Live, channels: LiveChannel[], log: Logger): Promise<void> {
    for (const ch of [...channels].reverse()) {
      if (!ch.driver) continue;
      try {
        await ch.driver.stop();
        if (ch.state !== 'unavailable' && ch.state !== 'failed') this.setHealth(live, ch, 'stopped');
      } catch (err) {
        // One channel failing to stop never keeps the others running.
        log.error({ err, channel: ch.spec.id }, 'channel stop failed');
        this.setHealth(live, ch, 'failed', `stop failed: ${(err as Error).message}`);
      }
    }
  }

  private async finish(live: Live, state: SessionState, error?: { code: string; message: string }): Promise<void> {
    // A full disk must not keep a session from ending: the row below still ends it, and the warning says why.
    await this.record(live, 'session', 'session.stopped', error ? { state, error } : { state }).catch(() => undefined);
    const endOffset = Math.round(this.d.clock.mono() - live.mono0);
    this.d.events.close();
    const end = this.d.clock.now();
    this.d.store.endSession(live.id, { state, ended_at: end, end_offset_ms: endOffset, error });
    this.d.store.setWarnings(live.id, live.warnings);
    this.d.files.writeSession(live.id, { ...this.sessionDoc(live, state), ended_at: end, error: error ?? null });
    this.live = undefined;
    this.publish();
    try {
      this.d.refreshMoments(live.id);
    } catch (err) {
      this.log.warn({ err }, 'could not compute moments');
    }
  }

  private sessionDoc(live: Live, state: SessionState): Record<string, unknown> {
    return {
      format: 'traced-session/1',
      id: live.id,
      project: live.storedProject,
      label: live.label,
      profile: live.profile,
      state,
      started_at: live.startedAt,
      clock: { origin_wall_ms: live.startedAt, offsets: 'monotonic ms since origin' },
      channels: [...live.channels.values()].map((c) => ({ id: c.spec.id, store: c.spec.store, kind: c.kind })),
    };
  }

  // ---------------------------------------------------------------- events

  /** An event of the live session through the writer; a failed write is noted once as a warning of the session. */
  private record(
    live: Live,
    channel: string,
    type: string,
    data: EventData,
    opts?: { ts?: number | undefined; parentSeq?: number | undefined },
  ): Promise<RecordedEvent> {
    return this.d.events.record(channel, type, data, opts).catch((err: unknown) => {
      const code = (err as TracedError).code;
      if ((code === ErrorCodes.DISK_FULL || code === ErrorCodes.STORE_FAILED) && !live.warnings.some((w) => w.startsWith(code))) {
        live.warnings.push(`${code}: events were not stored while writes failed`);
      }
      throw err;
    });
  }

  /** An event pushed by an editor or assistant into the live session (ingest_event). */
  async ingest(q: IngestEventInput): Promise<IngestEventOutput> {
    const live = this.live;
    if (!live) throw new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, 'no session is recording; start one first');
    if (q.session !== undefined && this.d.resolve(q.session) !== live.id) {
      throw new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, `events can only be pushed into the active session (${live.id})`);
    }
    if (live.state === 'paused') return { session_id: live.id, seq: null, offset_ms: null, dropped: 'paused' };
    if (live.state === 'stopping') return { session_id: live.id, seq: null, offset_ms: null, dropped: 'stopping' };
    const e = await this.record(live, q.channel, q.type, q.data, { ts: q.ts, parentSeq: q.parent_seq });
    return { session_id: live.id, seq: e.seq, offset_ms: e.offset_ms };
  }

  // ---------------------------------------------------------------- channels

  private channelContext(live: Live, ch: LiveChannel, log: Logger): ChannelContext {
    return {
      sessionId: live.id,
      project: live.project,
      sessionDir: live.dir,
      startedAt: live.startedAt,
      logger: log.child({ channel: ch.spec.id }),
      env: live.env,
      emit: (type, data, opts) => {
        if (this.live !== live || live.state === 'paused') return;
        ch.events++;
        ch.lastEventAt = this.d.clock.now();
        this.publishChannel(ch);
        this.record(live, ch.spec.id, type, data, opts).catch((err: unknown) => log.error({ err, channel: ch.spec.id, type }, 'recording an event failed'));
        if (type === 'window.focus') {
          const w = { title: String(data.title ?? ''), app: String(data.app ?? '') };
          for (const other of live.channels.values()) {
            other.driver?.onWindowFocus?.(w).catch((err: unknown) => log.warn({ err, channel: other.spec.id }, 'focus handler failed'));
          }
        }
      },
      setHealth: (state, detail) => this.setHealth(live, ch, state, detail),
      registerSegment: (seg) => {
        let fresh: boolean;
        try {
          fresh = this.d.health.write(() => registerSegment(this.d.store, this.d.queue, live.id, seg, this.d.clock.now()));
        } catch (err) {
          throw this.d.health.failed(err);
        }
        if (fresh) {
          ch.segments++;
          this.d.notify('segment.completed', { session: live.id, ...seg });
        }
      },
    };
  }

  private publishChannel(ch: LiveChannel): void {
    const c = this.d.live.current?.channels.get(ch.spec.id);
    if (c) {
      c.events = ch.events;
      c.lastEventAt = ch.lastEventAt;
    }
  }

  private setHealth(live: Live, ch: LiveChannel, state: ChannelState, detail?: string): void {
    if (ch.state === state && ch.detail === detail) return;
    ch.state = state;
    ch.detail = detail;
    this.publish();
    try {
      this.persistChannel(live, ch);
    } catch (err) {
      // Health lives in memory for status; the row is written again once writes work.
      this.d.health.failed(err);
    }
    this.d.notify('channel.health', { session: live.id, channel: ch.spec.id, state, detail: detail ?? null });
  }

  private persistChannel(live: Live, ch: LiveChannel): void {
    this.d.store.upsertChannel({
      session_id: live.id,
      channel_id: ch.spec.id,
      kind: ch.kind,
      store: ch.spec.store ? 1 : 0,
      state: ch.state,
      detail: ch.detail ?? null,
    });
  }
}

function dedupeSpecs(specs: ChannelSpec[]): ChannelSpec[] {
  const seen = new Map<string, ChannelSpec>();
  for (const s of specs) seen.set(s.id, s);
  return [...seen.values()];
}
