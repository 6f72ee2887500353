/**
 * The session engine: one active session at a time, its channels, and the one
 * session clock every event is put on. It knows nothing of MCP, node-ipc or
 * the terminal.
 *
 * Durability: an event is acknowledged (its promise resolves, an ingest call
 * returns) only after the transaction holding it committed. Events are grouped
 * into one transaction per `commitIntervalMs` window (group commit), so a
 * burst costs one fsync instead of one per event.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Engine } from '../api/engine.js';
import type {
  GetSessionInput, GetSessionOutput, GetTimelineInput, GetTimelineOutput, IngestEventInput, IngestEventOutput,
  ListSessionsInput, SearchInput, SearchOutput, StartSessionInput, StartSessionOutput, StatusOutput,
  ExportSessionInput, ExportSessionOutput, GetClipInput, GetClipOutput, GetTranscriptInput, GetTranscriptOutput,
  AnnotateInput, AnnotateOutput, ImportRecordingInput, ImportRecordingOutput, PruneInput, PruneOutput, GetFrameInput, GetFrameOutput, ReplayAtInput, ReplayAtOutput, ReplayCursorInput, ReplayCursorOutput, WhatHappenedInput, WhatHappenedOutput,
} from '../api/schemas.js';
import type { ChannelContext, ChannelDriver } from '../capture/channel.js';
import { ErrorCodes, TracedError, isDiskFull, toTracedError } from '../errors.js';
import { resolveFfmpeg, type FfmpegInfo } from '../capture/ffmpeg.js';
import type { SegmentInfo } from '../capture/media.js';
import { listDevices, type DeviceList } from '../capture/devices.js';
import { recoverMediaSegments } from '../capture/media-recovery.js';
import type { ChannelSpec, ChannelState, ChannelStatus, EventData, Profile, RecordedEvent, SessionState, SessionSummary } from '../model.js';
import { eventText } from '../timeline/event-text.js';
import { parseTimeArg, toFtsQuery, toTrigramQuery } from '../timeline/query.js';
import { redactDeep } from '../timeline/redact.js';
import { EVENTS_JSONL, EventLog, lastJsonlSeq, readSessionJson, writeSessionJson } from '../timeline/session-files.js';
import type { EventInsert, IndexProgressRow, SearchRow, SegmentRow, SessionRow, Store } from '../timeline/store.js';
import type { IndexedEvent, IndexerStatus } from '../index/indexer.js';
import type { TerminalRecord } from '../capture/terminal.js';
import { claudeCodeEvents, claudeProjectsDir } from '../capture/assistant.js';
import type { QueueStatusOutput } from '../api/queue.js';
import type { UploadQueue } from '../queue/queue.js';
import type { VideoDBTarget } from '../queue/videodb.js';
import { muxSession, rawChannelFiles, type MuxResult } from '../export/mux.js';
import { Replay } from '../timeline/replay.js';
import { applyPrune, planPrune } from '../retention.js';
import { importRecording, readRecording, writeRecording } from '../timeline/recording.js';
import type { Config, Env } from './config.js';
import { freeBytes, sessionDir, type Paths } from './paths.js';

export interface Clock {
  /** Wall clock, ms since the epoch. */
  now(): number;
  /** Monotonic ms (never jumps with NTP or a changed system time). */
  mono(): number;
}

export const systemClock: Clock = { now: () => Date.now(), mono: () => performance.now() };

export type ChannelFactory = (spec: ChannelSpec) => ChannelDriver | undefined;
export type Notify = (topic: string, data: unknown) => void;

export interface EngineDeps {
  store: Store;
  paths: Paths;
  config: Config;
  logger: Logger;
  env: Env;
  cwd: string;
  version: string;
  channelFactory: ChannelFactory;
  notify: Notify;
  clock?: Clock;
  /** Uploads of stored segments; enqueued in the transaction that registers them. */
  queue?: UploadQueue | undefined;
  /** The VideoDB target, for clips and cloud search. */
  videodb?: VideoDBTarget | undefined;
  /** Local indexing status for `status` (set once the indexer runs). */
  indexerStatus?: () => IndexerStatus;
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
  project: string;
  label: string | null;
  profile: Profile;
  dir: string;
  startedAt: number;
  mono0: number;
  state: 'recording' | 'paused' | 'stopping';
  seq: number;
  channels: Map<string, LiveChannel>;
  log: EventLog;
  warnings: string[];
}

interface PendingEvent {
  event: EventInsert;
  resolve: (e: RecordedEvent) => void;
  reject: (err: unknown) => void;
}

const MAX_EVENT_DATA_BYTES = 64 * 1024;
const SHUTDOWN_FLUSH_MS = 5000;
/** Below this much free space the disk counts as full: one segment no longer fits. */
const LOW_SPACE_BYTES = 1024 * 1024;
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

export class SessionEngine implements Engine {
  private readonly store: Store;
  private readonly log: Logger;
  private readonly clock: Clock;
  private live: Live | undefined;
  private pending: PendingEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private lifecycle: Promise<unknown> = Promise.resolve();
  private shuttingDown = false;
  private readonly startedAt: number;
  /** Set while writes fail (full disk); cleared by the next write that succeeds. */
  private storageProblem: { code: string; message: string; since: number } | undefined;
  private ffmpeg: Promise<FfmpegInfo> | undefined;
  readonly replay: Replay;
  private readonly momentTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: EngineDeps) {
    this.store = deps.store;
    this.log = deps.logger.child({ mod: 'engine' });
    this.clock = deps.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.replay = new Replay({
      store: this.store, sessionDir: (id) => sessionDir(this.deps.paths, id), now: () => this.clock.now(),
      ffmpeg: async () => (await this.ffmpegInfo()).path,
    });
  }

  /** Moments of an ended session are recomputed shortly after its events change (indexing adds text late). */
  private momentsSoon(sessionId: string): void {
    if (this.live?.id === sessionId || this.momentTimers.has(sessionId)) return;
    const t = setTimeout(() => {
      this.momentTimers.delete(sessionId);
      try {
        this.replay.refreshMoments(sessionId);
      } catch (err) {
        this.log.warn({ err, sessionId }, 'could not compute moments');
      }
    }, 2000);
    t.unref();
    this.momentTimers.set(sessionId, t);
  }

  replayAt(q: ReplayAtInput): ReplayAtOutput {
    return this.replay.replayAt(q);
  }

  getFrame(q: GetFrameInput): Promise<GetFrameOutput> {
    return this.replay.getFrame(q);
  }

  annotate(q: AnnotateInput): AnnotateOutput {
    return this.replay.annotate(q);
  }

  replayCursor(q: ReplayCursorInput): ReplayCursorOutput {
    return this.replay.cursor(q);
  }

  whatHappened(q: WhatHappenedInput): WhatHappenedOutput {
    // A live session's moments are computed on demand, so the digest is current.
    if (this.live) this.replay.refreshMoments(this.live.id);
    return this.replay.whatHappened(q);
  }

  /** Runs lifecycle changes one at a time, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lifecycle.then(fn, fn);
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  // ---------------------------------------------------------------- lifecycle

  start(input: StartSessionInput, cwd?: string): Promise<StartSessionOutput> {
    return this.serial(async () => {
      if (this.shuttingDown) throw new TracedError(ErrorCodes.DAEMON_STOPPING, 'the daemon is shutting down');
      if (this.live) {
        throw new TracedError(ErrorCodes.SESSION_ACTIVE, `session ${this.live.id} is already ${this.live.state}; stop it first`, { data: { session: this.live.id } });
      }
      const project = path.resolve(cwd ?? this.deps.cwd, input.project ?? '.');
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(project);
      } catch {
        st = undefined;
      }
      if (!st?.isDirectory()) throw new TracedError(ErrorCodes.PROJECT_NOT_FOUND, `${project} is not a directory`, { data: { project } });
      const profile = input.profile ?? this.deps.config.session.defaultProfile;
      const specs = dedupeSpecs(input.channels ?? profileChannels(profile));
      const now = this.clock.now();
      const id = newSessionId(now);
      const dir = sessionDir(this.deps.paths, id);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const live: Live = {
        id, project, label: input.label ?? null, profile, dir, startedAt: now, mono0: this.clock.mono(), state: 'recording', seq: 0,
        channels: new Map(), log: new EventLog(path.join(dir, EVENTS_JSONL), this.deps.config.session.jsonlSyncMs), warnings: [],
      };
      for (const spec of specs) {
        live.channels.set(spec.id, { spec, kind: MEDIA.test(spec.id) ? 'media' : 'event', driver: undefined, state: 'starting', detail: undefined, events: 0, segments: 0, lastEventAt: undefined });
      }
      this.store.transaction(() => {
        this.store.insertSession({ id, project, label: live.label, profile, state: 'recording', started_at: now, meta: JSON.stringify({ clock: 'monotonic', pid: process.pid }) });
        for (const ch of live.channels.values()) this.persistChannel(live, ch);
      });
      writeSessionJson(dir, this.sessionDoc(live, 'recording'));
      this.live = live;
      const log = this.log.child({ sessionId: id });
      log.info({ project, profile, channels: specs.map((s) => s.id) }, 'session starting');
      await this.record(live, 'session', 'session.started', { project, profile, label: live.label, channels: specs });

      // Channels start together, so every media channel's first frame lands
      // within the same moment of the session clock.
      const started: LiveChannel[] = [];
      let failure: { channel: string; err: TracedError } | undefined;
      await Promise.all(
        [...live.channels.values()].map(async (ch) => {
          const driver = this.deps.channelFactory(ch.spec);
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
        this.store.setProfile(id, 'audio');
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
      this.store.setWarnings(id, live.warnings);
      this.deps.notify('session.started', { session: id, project, profile });
      log.info({ warnings: live.warnings }, 'session recording');
      return { session: this.summary(id), warnings: [...live.warnings] };
    });
  }

  /** Stops the session, then waits up to `queue.flushTimeoutMs` for its uploads (outside the lifecycle lock: a new session may start meanwhile). */
  async stop(ref?: string): Promise<SessionSummary> {
    const stopped = await this.stopSession(ref);
    try {
      if (this.ingestAssistant(stopped.id)) this.replay.refreshMoments(stopped.id);
    } catch (err) {
      this.log.warn({ err }, 'reading assistant logs failed');
    }
    if (this.deps.queue?.targetNames.length) {
      this.enqueueExport(stopped.id);
      await this.flushUploads(stopped.id, this.deps.config.queue.flushTimeoutMs);
    }
    this.retentionSoon();
    return this.summary(stopped.id);
  }

  /** The session's video for each target, after its segments (the queue holds it back until they are up). */
  private enqueueExport(sessionId: string): void {
    const q = this.deps.queue;
    if (!q || !this.store.segments(sessionId).length) return;
    try {
      for (const target of q.targetNames) q.enqueue({ target, kind: 'export', session_id: sessionId });
    } catch (err) {
      this.storeFailed(err);
    }
  }

  /**
   * Waits until the session has no upload pending or in flight, the deadline
   * passes (the rest goes on in the background) or the queue is paused;
   * `upload.progress` notifications say how far it got.
   */
  private async flushUploads(sessionId: string, timeoutMs: number): Promise<void> {
    const q = this.deps.queue;
    if (!q) return;
    const deadline = this.clock.now() + timeoutMs;
    let last = '';
    for (;;) {
      const c = q.sessionCounts(sessionId);
      const total = c.done + c.pending + c.in_flight + c.failed;
      const paused = q.status().paused;
      const left = c.pending + c.in_flight;
      const timedOut = this.clock.now() >= deadline;
      const progress = { session: sessionId, ...c, total, finished: left === 0, timed_out: left > 0 && timedOut, paused: paused?.code ?? null };
      const key = JSON.stringify(progress);
      if (key !== last) {
        last = key;
        this.deps.notify('upload.progress', progress);
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
      this.store.setSessionState(live.id, 'stopping');
      await this.stopChannels(live, [...live.channels.values()], log);
      await this.finish(live, 'ended');
      this.deps.notify('session.stopped', { session: live.id });
      log.info('session ended');
      return this.summary(live.id);
    });
  }

  pause(ref?: string): Promise<SessionSummary> {
    return this.serial(async () => {
      const live = this.requireLive(ref);
      if (live.state !== 'recording') throw new TracedError(ErrorCodes.SESSION_STATE, `session ${live.id} is ${live.state}, not recording`);
      await this.record(live, 'session', 'session.paused', {});
      live.state = 'paused';
      // All channels at once, as at start: one slow device must not shift the others on the clock.
      await Promise.all([...live.channels.values()].map((ch) => ch.driver?.pause?.().catch((err: unknown) => this.log.error({ err, channel: ch.spec.id }, 'pause failed'))));
      this.store.setSessionState(live.id, 'paused');
      this.deps.notify('session.paused', { session: live.id });
      return this.summary(live.id);
    });
  }

  resume(ref?: string): Promise<SessionSummary> {
    return this.serial(async () => {
      const live = this.requireLive(ref);
      if (live.state !== 'paused') throw new TracedError(ErrorCodes.SESSION_STATE, `session ${live.id} is ${live.state}, not paused`);
      live.state = 'recording';
      this.store.setSessionState(live.id, 'recording');
      await this.record(live, 'session', 'session.resumed', {});
      await Promise.all(
        [...live.channels.values()]
          .filter((ch) => ch.state !== 'unavailable' && ch.state !== 'failed')
          .map((ch) => ch.driver?.resume?.().catch((err: unknown) => this.log.error({ err, channel: ch.spec.id }, 'resume failed'))),
      );
      this.deps.notify('session.resumed', { session: live.id });
      return this.summary(live.id);
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
        await this.flushUploads(stopped.id, Math.min(this.deps.config.queue.flushTimeoutMs, SHUTDOWN_FLUSH_MS));
      } catch (err) {
        this.log.error({ err }, 'stopping the session at shutdown failed');
      }
    }
    await this.lifecycle;
    this.flushNow();
  }

  private requireLive(ref?: string): Live {
    const live = this.live;
    if (!live) throw new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, 'no session is recording');
    if (ref !== undefined) {
      const id = this.store.resolveSessionRef(ref);
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
    await this.record(live, 'session', 'session.stopped', error ? { state, error } : { state });
    this.flushNow();
    live.log.close();
    const end = this.clock.now();
    this.store.endSession(live.id, { state, ended_at: end, end_offset_ms: Math.round(this.clock.mono() - live.mono0), error });
    this.store.setWarnings(live.id, live.warnings);
    writeSessionJson(live.dir, { ...this.sessionDoc(live, state), ended_at: end, error: error ?? null });
    this.live = undefined;
    try {
      this.replay.refreshMoments(live.id);
    } catch (err) {
      this.log.warn({ err }, 'could not compute moments');
    }
  }

  private sessionDoc(live: Live, state: SessionState): Record<string, unknown> {
    return {
      format: 'traced-session/1', id: live.id, project: live.project, label: live.label, profile: live.profile, state,
      started_at: live.startedAt, clock: { origin_wall_ms: live.startedAt, offsets: 'monotonic ms since origin' },
      channels: [...live.channels.values()].map((c) => ({ id: c.spec.id, store: c.spec.store, kind: c.kind })),
    };
  }

  // ---------------------------------------------------------------- channels

  private channelContext(live: Live, ch: LiveChannel, log: Logger): ChannelContext {
    return {
      sessionId: live.id,
      project: live.project,
      sessionDir: live.dir,
      startedAt: live.startedAt,
      logger: log.child({ channel: ch.spec.id }),
      env: this.deps.env,
      emit: (type, data, opts) => {
        if (this.live !== live || live.state === 'paused') return;
        ch.events++;
        ch.lastEventAt = this.clock.now();
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
          fresh = this.storeWrite(() => this.registerSegmentRow(live.id, seg));
        } catch (err) {
          throw this.storeFailed(err);
        }
        if (fresh) {
          ch.segments++;
          this.deps.notify('segment.completed', { session: live.id, ...seg });
        }
      },
    };
  }

  private setHealth(live: Live, ch: LiveChannel, state: ChannelState, detail?: string): void {
    if (ch.state === state && ch.detail === detail) return;
    ch.state = state;
    ch.detail = detail;
    try {
      this.persistChannel(live, ch);
    } catch (err) {
      // Health lives in memory for status; the row is written again once writes work.
      this.storeFailed(err);
    }
    this.deps.notify('channel.health', { session: live.id, channel: ch.spec.id, state, detail: detail ?? null });
  }

  /** Stores a segment row and, in the same transaction, its upload jobs: no segment is ever registered without them. */
  private registerSegmentRow(sessionId: string, seg: SegmentInfo): boolean {
    return this.store.transaction(() => {
      const fresh = this.store.insertSegment({
        session_id: sessionId, channel_id: seg.channel, seq: seg.seq, path: seg.path, start_offset_ms: seg.start_offset_ms, duration_ms: seg.duration_ms,
        bytes: seg.bytes, sha256: seg.sha256, state: seg.repaired ? 'repaired' : 'complete', created_at: this.clock.now(),
      });
      const q = this.deps.queue;
      if (q) for (const target of q.targetNames) q.enqueue({ target, kind: 'segment', session_id: sessionId, channel_id: seg.channel, segment_seq: seg.seq });
      return fresh;
    });
  }

  /** Runs a store write; success clears a storage problem (and re-persists channel health that could not be written). */
  private storeWrite<T>(fn: () => T): T {
    const r = fn();
    if (this.storageProblem) {
      this.log.info({ problem: this.storageProblem }, 'writes work again');
      this.storageProblem = undefined;
      const live = this.live;
      if (live) {
        for (const ch of live.channels.values()) {
          try {
            this.persistChannel(live, ch);
          } catch {
            // the next change tries again
          }
        }
      }
    }
    return r;
  }

  /** Records why a write failed (status shows it) and returns the error to throw: TRACED_DISK_FULL for a full disk. */
  private storeFailed(err: unknown): TracedError {
    const full = isDiskFull(err);
    const e = full
      ? new TracedError(ErrorCodes.DISK_FULL, `the disk holding ${this.deps.paths.home} is full: ${(err as Error).message}; free space to resume recording`, { cause: err })
      : err instanceof TracedError ? err : new TracedError(ErrorCodes.STORE_FAILED, (err as Error).message, { cause: err });
    if (!this.storageProblem || this.storageProblem.code !== e.code) {
      this.storageProblem = { code: e.code, message: e.message, since: this.clock.now() };
      this.log.error({ err }, 'a write failed');
      this.deps.notify('storage.problem', this.storageProblem);
    }
    return e;
  }

  private persistChannel(live: Live, ch: LiveChannel): void {
    this.store.upsertChannel({ session_id: live.id, channel_id: ch.spec.id, kind: ch.kind, store: ch.spec.store ? 1 : 0, state: ch.state, detail: ch.detail ?? null });
  }

  // ---------------------------------------------------------------- events

  /**
   * Puts an event on the session clock and queues it for the next group
   * commit; resolves once it is committed. `opts.ts` is when it happened (wall
   * clock); the offset is taken from the monotonic clock minus how long ago that was.
   */
  private record(live: Live, channel: string, type: string, data: EventData, opts?: { ts?: number | undefined; parentSeq?: number | undefined }): Promise<RecordedEvent> {
    const wall = this.clock.now();
    const sinceStart = this.clock.mono() - live.mono0;
    const ts = opts?.ts ?? wall;
    const offset = Math.max(0, Math.round(sinceStart - Math.max(0, wall - ts)));
    const clean = redactDeep(data);
    const event: EventInsert = {
      session_id: live.id, seq: ++live.seq, parent_seq: opts?.parentSeq ?? null, ts: Math.round(ts), offset_ms: offset, channel, type, data: clean,
      text: eventText(type, clean),
    };
    return new Promise<RecordedEvent>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    const ms = this.deps.config.session.commitIntervalMs;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushNow();
    }, ms);
  }

  /** Commits every queued event now (one transaction), then mirrors them to events.jsonl. */
  private flushNow(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const events = batch.map((b) => b.event);
    try {
      this.storeWrite(() => this.store.appendEvents(events));
    } catch (err) {
      const cause = this.storeFailed(err);
      const e = new TracedError(cause.code, `could not store ${events.length} events: ${cause.message}`, { cause: err });
      if (this.live && !this.live.warnings.some((w) => w.startsWith(cause.code))) this.live.warnings.push(`${cause.code}: events were not stored while writes failed`);
      for (const b of batch) b.reject(e);
      return;
    }
    const live = this.live;
    if (live) {
      try {
        live.log.append(events.filter((e) => e.session_id === live.id).map(({ text: _t, ...e }) => e));
      } catch (err) {
        // The DB already holds these events; the JSONL copy is rebuilt at the next recovery.
        this.log.warn({ err }, 'events.jsonl append failed');
      }
    }
    for (const b of batch) {
      const { text: _t, ...e } = b.event;
      b.resolve(e);
      this.deps.notify('event.recorded', e);
    }
  }

  async ingest(q: IngestEventInput): Promise<IngestEventOutput> {
    const live = this.live;
    if (!live) throw new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, 'no session is recording; start one first');
    if (q.session !== undefined && this.store.resolveSessionRef(q.session) !== live.id) {
      throw new TracedError(ErrorCodes.SESSION_NOT_ACTIVE, `events can only be pushed into the active session (${live.id})`);
    }
    const bytes = Buffer.byteLength(JSON.stringify(q.data));
    if (bytes > MAX_EVENT_DATA_BYTES) {
      throw new TracedError(ErrorCodes.INVALID_PARAMS, `event data is ${bytes} bytes; the limit is ${MAX_EVENT_DATA_BYTES}`);
    }
    if (live.state === 'paused') return { session_id: live.id, seq: null, offset_ms: null, dropped: 'paused' };
    if (live.state === 'stopping') return { session_id: live.id, seq: null, offset_ms: null, dropped: 'stopping' };
    const e = await this.record(live, q.channel, q.type, q.data, { ts: q.ts, parentSeq: q.parent_seq });
    return { session_id: live.id, seq: e.seq, offset_ms: e.offset_ms };
  }

  // ---------------------------------------------------------------- queries

  async listDevices(): Promise<DeviceList> {
    let ffmpeg: string | undefined;
    try {
      ffmpeg = (await resolveFfmpeg({ configPath: this.deps.config.capture.ffmpegPath, env: this.deps.env })).path;
    } catch {
      // listed below as a problem on platforms that need ffmpeg to list devices
    }
    return listDevices(this.deps.env, ffmpeg);
  }

  summary(id: string): SessionSummary {
    const row = this.store.getSession(id);
    if (!row) throw new TracedError(ErrorCodes.SESSION_NOT_FOUND, `no session ${id}`);
    return this.toSummary(row);
  }

  private toSummary(row: SessionRow): SessionSummary {
    const live = this.live?.id === row.id ? this.live : undefined;
    const now = this.clock.now();
    const segCounts = new Map<string, number>();
    const segLast = new Map<string, number>();
    for (const sg of this.store.segments(row.id)) {
      segCounts.set(sg.channel_id, (segCounts.get(sg.channel_id) ?? 0) + 1);
      segLast.set(sg.channel_id, Math.max(segLast.get(sg.channel_id) ?? 0, sg.created_at));
    }
    const channels: ChannelStatus[] = this.store.channels(row.id).map((c) => {
      const lc = live?.channels.get(c.channel_id);
      // A live channel's health comes from memory: its row may lag while writes fail.
      const s: ChannelStatus = { id: c.channel_id, store: c.store === 1, state: lc ? lc.state : (c.state as ChannelState) };
      const detail = lc ? lc.detail : c.detail;
      if (detail) s.detail = detail;
      const segs = segCounts.get(c.channel_id);
      if (segs !== undefined) s.segments = segs;
      const lastSeg = segLast.get(c.channel_id);
      if (lastSeg !== undefined) s.lastSegmentAt = lastSeg;
      if (lc) {
        s.events = lc.events;
        if (lc.lastEventAt !== undefined) s.lastEventAt = lc.lastEventAt;
      }
      return s;
    });
    const ended = row.ended_at ?? (live ? null : row.started_at);
    return {
      id: row.id,
      project: row.project,
      label: row.label,
      profile: (live ? live.profile : row.profile) as Profile,
      state: live ? live.state : row.state,
      started_at: row.started_at,
      ended_at: row.ended_at,
      duration_ms: Math.max(0, (live ? now : (ended ?? row.started_at)) - row.started_at),
      event_count: this.store.eventCount(row.id),
      channels,
      warnings: live ? [...live.warnings] : (JSON.parse(row.warnings) as string[]),
      error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : null,
      ...(this.deps.queue?.targetNames.length ? { uploads: this.deps.queue.sessionCounts(row.id) } : {}),
    };
  }

  /** Free space and why writes fail: a failed write, or a disk with less than LOW_SPACE_BYTES left (ffmpeg may be the one that noticed). */
  private storage(now: number): { free_bytes: number | null; problem: { code: string; message: string; since: number } | null } {
    const free = freeBytes(this.deps.paths.home) ?? null;
    if (this.storageProblem) return { free_bytes: free, problem: this.storageProblem };
    if (free !== null && free < LOW_SPACE_BYTES) {
      return { free_bytes: free, problem: { code: ErrorCodes.DISK_FULL, message: `only ${free} bytes free on the disk holding ${this.deps.paths.home}; free space to keep recording`, since: now } };
    }
    return { free_bytes: free, problem: null };
  }

  queueStatus(): QueueStatusOutput {
    const q = this.deps.queue;
    if (!q) return { enabled: false, targets: [], paused: null, counts: { pending: 0, in_flight: 0, done: 0, failed: 0 }, in_flight: 0, next_attempt_at: null, failed: [] };
    return { enabled: q.targetNames.length > 0, ...q.status() };
  }

  queueRetry(session?: string): { requeued: number } {
    const id = session === undefined ? undefined : this.store.resolveSessionRef(session);
    return { requeued: this.deps.queue?.retry(id) ?? 0 };
  }

  queuePause(): QueueStatusOutput {
    this.deps.queue?.pause('user', ErrorCodes.QUEUE_PAUSED, 'paused by the user (traced queue resume)');
    return this.queueStatus();
  }

  queueResume(): QueueStatusOutput {
    this.deps.queue?.resume();
    return this.queueStatus();
  }

  status(): StatusOutput {
    const now = this.clock.now();
    return {
      daemon: {
        pid: process.pid, version: this.deps.version, node: process.versions.node, started_at: this.startedAt,
        uptime_ms: now - this.startedAt, home: this.deps.paths.home, socket: this.deps.paths.socket,
        storage: this.storage(now),
      },
      session: this.live ? this.summary(this.live.id) : null,
      ...(this.deps.indexerStatus ? { indexer: this.deps.indexerStatus() } : {}),
    };
  }

  listSessions(q: ListSessionsInput, cwd?: string): SessionSummary[] {
    const now = this.clock.now();
    return this.store
      .listSessions({
        limit: q.limit,
        since: q.since === undefined ? undefined : parseTimeArg(q.since, now),
        until: q.until === undefined ? undefined : parseTimeArg(q.until, now),
        project: q.project === undefined ? undefined : path.resolve(cwd ?? this.deps.cwd, q.project),
      })
      .map((r) => this.toSummary(r));
  }

  getSession(q: GetSessionInput): GetSessionOutput {
    const id = this.store.resolveSessionRef(q.session);
    const events = this.store.events({ sessionId: id, limit: q.events_limit + 1 });
    return {
      session: this.summary(id),
      counts: this.store.typeCounts(id),
      events: events.slice(0, q.events_limit),
      truncated: events.length > q.events_limit,
    };
  }

  timeline(q: GetTimelineInput): GetTimelineOutput {
    const id = this.store.resolveSessionRef(q.session);
    const events = this.store.events({ sessionId: id, fromMs: q.from_ms, toMs: q.to_ms, types: q.types, channels: q.channels, afterSeq: q.after_seq, limit: q.limit + 1 });
    const page = events.slice(0, q.limit);
    const last = page[page.length - 1];
    if (this.live?.id === id) this.replay.refreshMoments(id);
    const moments = q.after_seq === undefined
      ? this.store.moments(id, q.from_ms ?? 0, q.to_ms ?? Number.MAX_SAFE_INTEGER).map((m) => ({ kind: m.kind, start_offset_ms: m.start_offset_ms, end_offset_ms: m.end_offset_ms, data: JSON.parse(m.data) as Record<string, unknown> }))
      : undefined;
    return { session_id: id, events: page, next_after_seq: events.length > q.limit && last ? last.seq : null, ...(moments ? { moments } : {}) };
  }

  async search(q: SearchInput): Promise<SearchOutput> {
    const now = this.clock.now();
    const sessionId = q.session === undefined ? undefined : this.store.resolveSessionRef(q.session);
    const since = q.since === undefined ? undefined : parseTimeArg(q.since, now);
    const until = q.until === undefined ? undefined : parseTimeArg(q.until, now);
    // Fetch more than asked: adjacent hits are merged into one moment below.
    // A trailing * ("invalid*") searches the trigram index: a substring match, and far cheaper than
    // merging the posting lists of every word with that prefix (178 ms vs ~20 ms over a million rows).
    const trigram = toTrigramQuery(q.query);
    const prefixOnly = trigram !== undefined && /(^|\s)[^\s"]+\*(?=\s|$)/.test(q.query);
    const rows = this.store.search({ match: prefixOnly ? undefined : toFtsQuery(q.query), trigram, sessionId, since, until, channels: q.channels, types: q.types, limit: q.limit * 2 });
    const hits: SearchOutput['hits'] = mergeAdjacent(rows).slice(0, q.limit);
    const warnings: string[] = [];
    const cloud = this.deps.videodb;
    // The cloud index only holds spoken words and scenes: a search filtered to other channels or types does not ask it.
    const cloudApplies = cloud && !q.channels?.length && (!q.types?.length || q.types.some((t) => 'transcript.spoken'.startsWith(t)));
    if (cloud && cloudApplies && this.deps.queue) {
      try {
        const bySession = this.deps.queue.exportedVideos('videodb');
        for (const h of await cloud.search(q.query, q.limit)) {
          const sid = bySession.get(h.video_id);
          if (!sid || (sessionId && sid !== sessionId)) continue;
          const row = this.store.getSession(sid);
          if (!row) continue;
          const ts = row.started_at + Math.round(h.start_s * 1000);
          if ((since !== undefined && ts < since) || (until !== undefined && ts > until)) continue;
          hits.push({
            session_id: sid, seq: 0, ts, offset_ms: Math.round(h.start_s * 1000), end_offset_ms: Math.round(h.end_s * 1000), channel: 'videodb',
            type: h.index === 'scene' ? 'scene' : 'transcript.spoken', snippet: h.text, score: h.score, source: 'videodb',
            replay: { session: sid, at_ms: Math.round(h.start_s * 1000) },
          });
        }
      } catch (err) {
        warnings.push(`VideoDB search failed (${(err as Error).message}); these are local results only`);
      }
    }
    return { query: q.query, hits: hits.slice(0, q.limit), ...(warnings.length ? { warnings } : {}) };
  }

  /**
   * Stores what the indexer read from a segment — its events and its progress
   * row in one transaction — and mirrors the events to the session's
   * events.jsonl. Events get the session's next seqs; their offsets are the
   * media's, not now.
   */
  appendIndexed(sessionId: string, events: IndexedEvent[], progress: IndexProgressRow): void {
    this.appendLate(sessionId, events, progress);
  }

  /**
   * Events that arrive after the fact (recognized text, terminal commands from
   * the spool), placed at their own offsets with the session's next seqs, and
   * mirrored to events.jsonl; with `progress`, the indexing row goes in the
   * same transaction.
   */
  appendLate(sessionId: string, events: IndexedEvent[], progress?: IndexProgressRow): void {
    const row = this.store.getSession(sessionId);
    if (!row) return; // the session was deleted meanwhile
    const live = this.live?.id === sessionId ? this.live : undefined;
    if (live) this.flushNow(); // keep events.jsonl in seq order
    let seq = live ? live.seq : this.store.maxSeq(sessionId);
    const inserts: EventInsert[] = events.map((e) => {
      const data = redactDeep(e.data);
      return { session_id: sessionId, seq: ++seq, parent_seq: null, ts: row.started_at + e.offset_ms, offset_ms: e.offset_ms, channel: e.channel, type: e.type, data, text: eventText(e.type, data) };
    });
    try {
      this.storeWrite(() => this.store.transaction(() => {
        this.store.appendEvents(inserts);
        if (progress) this.store.recordIndexProgress(progress);
      }));
    } catch (err) {
      throw this.storeFailed(err);
    }
    if (live) live.seq = seq;
    // The folder keeps what was indexed too: a database rebuilt from it must not index (and duplicate) again.
    if (progress) {
      try {
        fs.appendFileSync(path.join(sessionDir(this.deps.paths, sessionId), INDEX_JSONL), `${JSON.stringify(progress)}\n`);
      } catch (err) {
        this.log.warn({ err }, 'could not note indexing progress in the session folder');
      }
    }
    if (!inserts.length) return;
    const lines = inserts.map(({ text: _t, ...e }) => e);
    try {
      if (live) live.log.append(lines);
      else {
        const el = new EventLog(path.join(sessionDir(this.deps.paths, sessionId), EVENTS_JSONL), 0);
        el.append(lines);
        el.close();
      }
    } catch (err) {
      this.log.warn({ err }, 'events.jsonl append of indexed events failed');
    }
    for (const e of lines) this.deps.notify('event.recorded', e);
    this.momentsSoon(sessionId);
  }

  importRecording(q: ImportRecordingInput, cwd?: string): ImportRecordingOutput {
    const file = path.resolve(cwd ?? this.deps.cwd, q.file);
    const rec = readRecording(file);
    const r = importRecording(this.store, rec, {
      newId: q.as_new ? newSessionId(this.clock.now()) : undefined, sessionDir: (sid) => sessionDir(this.deps.paths, sid),
      mediaDir: q.media_dir === undefined ? undefined : path.resolve(cwd ?? this.deps.cwd, q.media_dir),
    });
    // The session folder gets its own copy, so the imported session survives a rebuild like any other.
    const dir = sessionDir(this.deps.paths, r.session_id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const row = this.store.getSession(r.session_id) as SessionRow;
    writeSessionJson(dir, { format: 'traced-session/1', id: row.id, project: row.project, label: row.label, profile: row.profile, state: row.state, started_at: row.started_at, ended_at: row.ended_at, imported_from: rec.meta.session.id });
    const el = new EventLog(path.join(dir, EVENTS_JSONL), 0);
    el.append(this.store.eventsAfter(r.session_id, 0));
    el.close();
    this.replay.refreshMoments(r.session_id);
    return r;
  }

  /**
   * Commands from the shell hooks' spool: each goes to the session whose time
   * it falls in (the live one, or one that has ended), at its own start time.
   * A command already stored (same session, time and text) is not stored again.
   */
  ingestTerminal(records: readonly TerminalRecord[]): number {
    let stored = 0;
    const bySession = new Map<string, IndexedEvent[]>();
    for (const r of records) {
      const live = this.live && r.start_ms >= this.live.startedAt ? this.live : undefined;
      const row = live ? this.store.getSession(live.id) : this.store.sessionAt(r.start_ms);
      if (!row) continue;
      const offset = r.start_ms - row.started_at;
      const data = { command: r.command, exit_code: r.exit_code, cwd: r.cwd, duration_ms: Math.max(0, r.end_ms - r.start_ms), shell: r.shell, in_project: r.cwd === row.project || r.cwd.startsWith(`${row.project}${path.sep}`) };
      if (this.store.hasEventAt(row.id, 'terminal.command', offset, redactDeep(data).command as string)) continue;
      const list = bySession.get(row.id) ?? [];
      list.push({ channel: 'terminal', type: 'terminal.command', offset_ms: offset, data });
      bySession.set(row.id, list);
    }
    for (const [sid, evs] of bySession) {
      this.appendLate(sid, evs);
      stored += evs.length;
    }
    return stored;
  }

  /** Applies the retention policy, when one is configured (after a session ends, and hourly). */
  retentionSoon(): void {
    const r = this.deps.config.retention;
    if (r.maxDiskGb === undefined && r.maxAgeDays === undefined && r.hardCapGb === undefined) return;
    try {
      this.prune({ dry_run: false });
    } catch (err) {
      this.log.warn({ err }, 'retention failed');
    }
  }

  /** The retention policy: list (dry run) or delete the media it allows. */
  prune(q: PruneInput): PruneOutput {
    const policy = this.deps.config.retention;
    const q2 = this.deps.queue;
    const uploaded = (g: SegmentRow): boolean => {
      if (!q2 || q2.targetNames.length === 0) return true; // local-only: nothing to wait for
      return q2.targetNames.every((t) => q2.find({ target: t, kind: 'segment', session_id: g.session_id, channel_id: g.channel_id, segment_seq: g.seq })?.state === 'done');
    };
    const dir = (id: string) => sessionDir(this.deps.paths, id);
    const plan = planPrune(this.store, policy, { now: this.clock.now(), sessionDir: dir, uploaded });
    const hard = plan.items.filter((i) => i.reason === 'hard_cap');
    let freed = 0;
    if (!q.dry_run && plan.items.length) {
      freed = applyPrune(this.store, plan, dir);
      if (hard.length) {
        // Loud: media that was never uploaded is gone.
        this.log.error({ segments: hard.length, bytes: hard.reduce((a, i) => a + i.bytes, 0) }, 'retention hard cap crossed: deleted media not yet uploaded');
        this.deps.notify('retention.hard_cap', { segments: hard.length, sessions: [...new Set(hard.map((i) => i.session_id))] });
      }
      this.log.info({ segments: plan.items.length, freed }, 'retention pruned media');
    }
    return { dry_run: q.dry_run, policy: { ...policy }, ...plan, freed_bytes: freed };
  }

  /** Brings in the AI-assistant events of a session (live or ended) that are not there yet. */
  ingestAssistant(sessionId: string): number {
    if (!this.deps.config.assistant.claudeCode) return 0;
    const row = this.store.getSession(sessionId);
    if (!row) return 0;
    const found = claudeCodeEvents({
      dir: this.deps.config.assistant.claudeDir ?? claudeProjectsDir(this.deps.env), project: row.project,
      from: row.started_at, to: row.ended_at ?? this.clock.now(), startedAt: row.started_at,
    });
    const fresh = found.filter((e) => !this.store.hasEventAt(sessionId, e.type, e.offset_ms, String(e.data.uuid)));
    if (fresh.length) this.appendLate(sessionId, fresh);
    return fresh.length;
  }

  /** The indexer reports through status once it runs. */
  attachIndexer(status: () => IndexerStatus): void {
    this.deps.indexerStatus = status;
  }

  getTranscript(q: GetTranscriptInput): GetTranscriptOutput {
    const id = this.store.resolveSessionRef(q.session);
    const events = this.store.events({ sessionId: id, types: ['transcript.segment'], fromMs: q.from_ms, toMs: q.to_ms, limit: q.limit });
    return {
      session_id: id,
      segments: events.map((e) => ({
        offset_ms: e.offset_ms, end_offset_ms: typeof e.data.end_offset_ms === 'number' ? e.data.end_offset_ms : e.offset_ms, channel: e.channel,
        text: String(e.data.text ?? ''), confidence: typeof e.data.confidence === 'number' ? e.data.confidence : null, engine: String(e.data.engine ?? ''), seq: e.seq,
      })),
      engine: this.deps.indexerStatus?.().speech.engine ?? null,
    };
  }

  // ---------------------------------------------------------------- export

  private ffmpegInfo(): Promise<FfmpegInfo> {
    this.ffmpeg ??= resolveFfmpeg({ configPath: this.deps.config.capture.ffmpegPath, env: this.deps.env });
    this.ffmpeg.catch(() => (this.ffmpeg = undefined)); // found later, once installed
    return this.ffmpeg;
  }

  /** Muxes a session (or a range) to `out`, with `export.progress` notifications. */
  async muxTo(sessionId: string, out: string, range: { display?: string | undefined; fromMs?: number | undefined; toMs?: number | undefined } = {}, signal?: AbortSignal): Promise<MuxResult> {
    const ff = await this.ffmpegInfo();
    let last = -1;
    return muxSession({
      ffmpeg: ff.path, sessionDir: sessionDir(this.deps.paths, sessionId), segments: this.store.segments(sessionId).filter((g) => g.state !== 'pruned'),
      display: range.display, fromMs: range.fromMs, toMs: range.toMs, out, tmpDir: path.join(this.deps.paths.home, 'tmp'), fps: this.deps.config.capture.fps,
      onProgress: (done, total) => {
        const pct = total ? Math.floor((100 * done) / total) : 100;
        if (pct === last) return;
        last = pct;
        this.deps.notify('export.progress', { session: sessionId, done_ms: done, total_ms: total, percent: pct });
      },
      ...(signal ? { signal } : {}),
    });
  }

  async exportSession(q: ExportSessionInput): Promise<ExportSessionOutput> {
    const id = this.store.resolveSessionRef(q.session);
    if (q.target === 'json' || q.target === 'jsonl') {
      if (this.live?.id === id) this.flushNow();
      const r = writeRecording(this.store, id, path.join(this.deps.paths.home, 'exports', `${id}.${q.target}`), q.target);
      return { session_id: id, target: q.target, export_status: 'exported', file: r.file, bytes: r.bytes, events: r.events };
    }
    if (q.target === 'raw') {
      const files = await rawChannelFiles({
        ffmpeg: (await this.ffmpegInfo()).path, sessionDir: sessionDir(this.deps.paths, id), segments: this.store.segments(id).filter((g) => g.state !== 'pruned'),
        outDir: path.join(this.deps.paths.home, 'exports', `${id}-raw`),
      });
      return { session_id: id, target: 'raw', export_status: 'exported', files };
    }
    if (q.target === 'mp4') {
      const range = q.from_ms !== undefined || q.to_ms !== undefined ? `_${q.from_ms ?? 0}-${q.to_ms ?? 'end'}` : '';
      const out = path.join(this.deps.paths.home, 'exports', `${id}${q.display ? `_${q.display.replace(':', '')}` : ''}${range}.mp4`);
      const r = await this.muxTo(id, out, { display: q.display, fromMs: q.from_ms, toMs: q.to_ms });
      return { session_id: id, target: 'mp4', export_status: 'exported', file: r.file, bytes: r.bytes, duration_ms: r.duration_ms, video: r.video, audio: r.audio };
    }
    const queue = this.deps.queue;
    if (!queue?.hasTarget('videodb')) {
      return { session_id: id, target: 'videodb', export_status: 'not_configured', error: 'no VideoDB key: set videodb.apiKey in config.json or VIDEO_DB_API_KEY' };
    }
    const key = { target: 'videodb', kind: 'export' as const, session_id: id };
    let job = queue.find(key);
    if (!job) {
      if (this.live?.id === id) throw new TracedError(ErrorCodes.SESSION_STATE, `session ${id} is still recording; it is exported to VideoDB when it stops`);
      queue.enqueue(key);
      job = queue.find(key);
    }
    const meta = job?.remote_meta ? (JSON.parse(job.remote_meta) as { stream_url?: string | null; player_url?: string | null }) : {};
    return {
      session_id: id, target: 'videodb',
      export_status: job?.state === 'done' ? 'exported' : job?.state === 'failed' ? 'failed' : 'exporting',
      video_id: job?.remote_id ?? null, stream_url: meta.stream_url ?? null, player_url: meta.player_url ?? null, error: job?.state === 'done' ? null : (job?.last_error ?? null),
    };
  }

  async getClip(q: GetClipInput): Promise<GetClipOutput> {
    const id = this.store.resolveSessionRef(q.session);
    if (q.to_ms <= q.from_ms) throw new TracedError(ErrorCodes.INVALID_PARAMS, 'to_ms must be after from_ms');
    const exported = this.deps.queue?.find({ target: 'videodb', kind: 'export', session_id: id });
    if (exported?.state === 'done' && exported.remote_id && this.deps.videodb) {
      const clip = await this.deps.videodb.clip(exported.remote_id, q.from_ms / 1000, q.to_ms / 1000);
      return { session_id: id, source: 'videodb', stream_url: clip.stream_url, from_ms: q.from_ms, to_ms: q.to_ms };
    }
    const out = path.join(this.deps.paths.home, 'exports', 'clips', `${id}_${q.from_ms}-${q.to_ms}.mp4`);
    const r = await this.muxTo(id, out, { fromMs: q.from_ms, toMs: q.to_ms });
    return { session_id: id, source: 'local', file: r.file, from_ms: q.from_ms, to_ms: q.from_ms + r.duration_ms };
  }

  // ---------------------------------------------------------------- recovery

  /** Registers segment files of a session that the database does not know (the last, unlisted ones after a kill). */
  private async recoverMedia(row: SessionRow, log: Logger): Promise<SegmentInfo[]> {
    const dir = sessionDir(this.deps.paths, row.id);
    const known = new Set(this.store.segments(row.id).map((s) => `${path.dirname(s.path)}/${s.seq}`));
    // Located once per daemon (ffmpegInfo caches it): running `ffmpeg -version` per session made recovering 100 sessions take 9 s.
    // No ffmpeg: listed segments are still registered from their lists; unlisted ones cannot be probed.
    const ffprobe = await this.ffmpegInfo().then((f) => f.ffprobe, () => 'ffprobe');
    try {
      const found = await recoverMediaSegments({ sessionDir: dir, startedAt: row.started_at, known, ffprobe });
      // One transaction for the lot: thousands of orphaned files cost one commit, not one each.
      this.store.transaction(() => {
        for (const s of found) this.registerSegmentRow(row.id, s);
      });
      if (found.length) log.warn({ segments: found.length }, 'registered media segments found on disk');
      return found;
    } catch (err) {
      // A full disk leaves the session open, to be recovered whole at a later start.
      if (isDiskFull(err)) throw err;
      log.error({ err }, 'media recovery failed');
      return [];
    }
  }

  /**
   * Cold start, before anything else: session folders the database does not
   * know (traced.db deleted or restored from an old backup) are loaded back —
   * the session from session.json, its events from events.jsonl, its media
   * from the segment files, its finished uploads from uploads.jsonl. Sessions
   * that had not ended are left open for recoverOpenSessions.
   */
  async rebuildFromFolders(): Promise<string[]> {
    const rebuilt: string[] = [];
    let names: string[];
    try {
      names = fs.readdirSync(this.deps.paths.sessionsDir);
    } catch {
      return rebuilt;
    }
    for (const id of names.filter((n) => SESSION_DIR.test(n)).sort()) {
      if (this.store.getSession(id)) continue;
      const log = this.log.child({ sessionId: id });
      try {
        await this.rebuildSession(id, log);
        rebuilt.push(id);
      } catch (err) {
        this.storeFailed(err);
        log.error({ err }, 'could not rebuild this session from its folder');
      }
    }
    if (rebuilt.length) this.log.warn({ sessions: rebuilt.length }, 'sessions rebuilt from their folders');
    return rebuilt;
  }

  private async rebuildSession(id: string, log: Logger): Promise<void> {
    const dir = sessionDir(this.deps.paths, id);
    const doc = readSessionJson(dir) ?? {};
    const events = readJsonl(path.join(dir, EVENTS_JSONL)).filter((e): e is RecordedEvent => typeof e.seq === 'number' && typeof e.type === 'string' && e.session_id === id);
    const startedAt = typeof doc.started_at === 'number' ? doc.started_at : (events[0]?.ts ?? fs.statSync(dir).mtimeMs);
    const ended = typeof doc.ended_at === 'number' && ['ended', 'failed', 'recovered'].includes(String(doc.state));
    const channels = Array.isArray(doc.channels) ? (doc.channels as { id?: unknown; store?: unknown; kind?: unknown }[]) : [];
    this.store.transaction(() => {
      this.store.insertSession({
        id, project: typeof doc.project === 'string' ? doc.project : '', label: typeof doc.label === 'string' ? doc.label : null,
        profile: typeof doc.profile === 'string' ? doc.profile : 'events', state: 'recording', started_at: Math.round(startedAt), meta: JSON.stringify({ rebuilt_from: 'session folder' }),
      });
      for (const c of channels) {
        if (typeof c.id !== 'string') continue;
        this.store.upsertChannel({ session_id: id, channel_id: c.id, kind: c.kind === 'media' ? 'media' : 'event', store: c.store === false ? 0 : 1, state: 'stopped', detail: 'rebuilt from the session folder' });
      }
      const seen = new Set<number>();
      const rows: EventInsert[] = [];
      for (const e of events) {
        if (seen.has(e.seq)) continue;
        seen.add(e.seq);
        rows.push({ ...e, parent_seq: e.parent_seq ?? null, text: eventText(e.type, e.data ?? {}) });
      }
      this.store.appendEvents(rows);
    });
    if (ended) {
      const media = await this.recoverMedia({ ...(this.store.getSession(id) as SessionRow) }, log);
      const endedAt = doc.ended_at as number;
      this.store.endSession(id, { state: doc.state as SessionState, ended_at: endedAt, end_offset_ms: Math.max(0, endedAt - startedAt) });
      log.info({ events: events.length, segments: media.length }, 'rebuilt an ended session');
    }
    // Segments already indexed stay indexed: their text came back with events.jsonl.
    this.store.transaction(() => {
      for (const p of readJsonl(path.join(dir, INDEX_JSONL))) {
        if (typeof p.channel_id === 'string' && typeof p.seq === 'number' && (p.kind === 'ocr' || p.kind === 'speech') && typeof p.state === 'string') {
          this.store.recordIndexProgress({ session_id: id, channel_id: p.channel_id, seq: p.seq, kind: p.kind, state: p.state as IndexProgressRow['state'], engine: p.engine ?? null, events: Number(p.events) || 0, detail: p.detail ?? null, done_at: Number(p.done_at) || Date.now() });
        }
      }
    });
    // Uploads that had finished are done again, so nothing is sent twice.
    const q = this.deps.queue;
    if (q) {
      for (const u of readJsonl(path.join(dir, UPLOADS_JSONL))) {
        if (typeof u.target !== 'string' || typeof u.remote_id !== 'string') continue;
        if (u.kind === 'export') q.restoreDone({ target: u.target, kind: 'export', session_id: id }, u.remote_id, u.meta ? JSON.stringify(u.meta) : null);
        else if (typeof u.channel === 'string' && typeof u.seq === 'number') q.restoreDone({ target: u.target, kind: 'segment', session_id: id, channel_id: u.channel, segment_seq: u.seq }, u.remote_id);
      }
    }
  }

  /**
   * Cold start: every session a killed daemon left open becomes `recovered`,
   * ending at its last committed event; events.jsonl gets any committed event
   * it missed. Runs before the daemon accepts requests.
   */
  async recoverOpenSessions(): Promise<string[]> {
    const recovered: string[] = [];
    for (const row of this.store.openSessions()) {
      const log = this.log.child({ sessionId: row.id });
      try {
        await this.recoverSession(row, log);
        recovered.push(row.id);
      } catch (err) {
        // Never fatal: the daemon starts and the session stays open for the next start.
        this.storeFailed(err);
        log.error({ err }, 'could not recover this session now; it is tried again at the next start');
      }
    }
    return recovered;
  }

  private async recoverSession(row: SessionRow, log: Logger): Promise<void> {
    const media = await this.recoverMedia(row, log);
    const last = this.store.lastEvent(row.id);
    const mediaEnd = media.reduce((m, s) => Math.max(m, s.start_offset_ms + s.duration_ms), 0);
    // The session ends at its last data: the last committed event or the end of the last media kept.
    const endOffset = Math.max(last?.offset_ms ?? 0, mediaEnd);
    const endTs = mediaEnd > (last?.offset_ms ?? 0) ? row.started_at + mediaEnd : (last?.ts ?? row.started_at);
    const seq = this.store.maxSeq(row.id) + 1;
    const data = { previous_state: row.state, reason: 'the daemon stopped without ending the session', media_segments_recovered: media.length };
    this.store.transaction(() => {
      this.store.appendEvents([{ session_id: row.id, seq, parent_seq: null, ts: endTs, offset_ms: endOffset, channel: 'session', type: 'session.recovered', data, text: null }]);
      this.store.endSession(row.id, { state: 'recovered', ended_at: endTs, end_offset_ms: endOffset });
      for (const c of this.store.channels(row.id)) {
        if (c.state !== 'unavailable' && c.state !== 'failed') this.store.upsertChannel({ ...c, state: 'stopped', detail: 'recovered after the daemon stopped' });
      }
    });
    const dir = sessionDir(this.deps.paths, row.id);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const jsonl = path.join(dir, EVENTS_JSONL);
      const missing = this.store.eventsAfter(row.id, lastJsonlSeq(jsonl));
      const el = new EventLog(jsonl, 0);
      el.append(missing);
      el.close();
      const doc = readSessionJson(dir) ?? { format: 'traced-session/1', id: row.id, project: row.project, profile: row.profile, started_at: row.started_at };
      writeSessionJson(dir, { ...doc, state: 'recovered', ended_at: endTs });
    } catch (err) {
      log.warn({ err }, 'could not bring the session folder up to date');
    }
    log.warn({ endTs, events: seq }, 'recovered a session left open');
    this.replay.refreshMoments(row.id);
  }
}

const SESSION_DIR = /^\d{8}-\d{6}-[a-z0-9]{4}$/;
/** Finished uploads of a session, one JSON line each: what a rebuilt database needs to not upload them again. */
export const UPLOADS_JSONL = 'uploads.jsonl';
/** Indexing progress of a session's segments, one JSON line each (see appendIndexed). */
export const INDEX_JSONL = 'index.jsonl';

/** Parsed lines of a JSONL file; torn or foreign lines are skipped. */
function readJsonl(file: string): Record<string, any>[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
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

/** Hits closer than this on the same session and kind of text are one moment. */
const MERGE_GAP_MS = 10_000;

/** Where a hit's text ends: recognized text carries its own end; other events are instants. */
function endOf(r: SearchRow): number {
  try {
    const d = JSON.parse(r.data) as { end_offset_ms?: unknown; duration_ms?: unknown };
    if (typeof d.end_offset_ms === 'number') return d.end_offset_ms;
    if (typeof d.duration_ms === 'number' && r.type.startsWith('screen.')) return r.offset_ms + d.duration_ms;
  } catch {
    // plain event
  }
  return r.offset_ms;
}

/**
 * Folds hits of one session and one kind of text (same type) that follow each
 * other within MERGE_GAP_MS into one moment spanning them, ranked as its best
 * hit; the text seen on screen for a minute is one hit, not twelve.
 */
export function mergeAdjacent(rows: readonly SearchRow[]): SearchOutput['hits'] {
  const rank = new Map(rows.map((r, i) => [r.id, i]));
  const groups = new Map<string, SearchRow[]>();
  for (const r of rows) {
    const k = `${r.session_id}\u0000${r.type}`;
    const g = groups.get(k) ?? [];
    g.push(r);
    groups.set(k, g);
  }
  const moments: { best: SearchRow; start: number; end: number; count: number; rank: number }[] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => a.offset_ms - b.offset_ms);
    let cur: (typeof moments)[number] | undefined;
    for (const r of g) {
      const r0 = rank.get(r.id) ?? 0;
      if (cur && r.offset_ms - cur.end <= MERGE_GAP_MS) {
        cur.end = Math.max(cur.end, endOf(r));
        cur.count++;
        if (r0 < cur.rank) {
          cur.best = r;
          cur.rank = r0;
        }
        continue;
      }
      cur = { best: r, start: r.offset_ms, end: endOf(r), count: 1, rank: r0 };
      moments.push(cur);
    }
  }
  moments.sort((a, b) => a.rank - b.rank);
  return moments.map((m) => ({
    session_id: m.best.session_id, seq: m.best.seq, ts: m.best.ts - (m.best.offset_ms - m.start), offset_ms: m.start, end_offset_ms: m.end,
    channel: m.best.channel, type: m.best.type, snippet: m.best.snippet, score: m.best.score, source: 'local' as const,
    matched: m.best.index, ...(m.count > 1 ? { merged: m.count } : {}), replay: { session: m.best.session_id, at_ms: m.start },
  }));
}


function dedupeSpecs(specs: ChannelSpec[]): ChannelSpec[] {
  const seen = new Map<string, ChannelSpec>();
  for (const s of specs) seen.set(s.id, s);
  return [...seen.values()];
}
