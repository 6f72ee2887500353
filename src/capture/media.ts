/**
 * Media channels (`display:N`, `mic:<name>`, `system_audio:<name>`): one
 * ffmpeg per channel writing crash-safe segments, supervised. A finished
 * segment is fsync'd, hashed and registered; an ffmpeg that dies is restarted
 * with backoff and the gap is an event; a channel that stops producing data or
 * records only silence is `degraded`, never shown as fine.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import type { ChannelContext, ChannelDriver, SegmentInfo } from './channel.js';
import { audioInput, displayInput, listDevices, pulseSource } from './devices.js';
import { resolveFfmpeg, type FfmpegInfo } from './ffmpeg.js';
import { type ChildRegistry, spawnTied } from './proc.js';

export type { SegmentInfo } from './channel.js';
import {
  channelDirName,
  fsyncFile,
  meanVolumeDb,
  outputArgs,
  parseSegmentList,
  parseStartEpoch,
  probeDurationMs,
  segmentExt,
  seqOf,
  sha256File,
  type MediaKind,
} from './segments.js';

/** The silent-mic check reads this much of each audio segment (see meanVolumeDb). */
const LEVEL_SAMPLE_S = 10;

export interface MediaOptions {
  ffmpegPath?: string | undefined;
  /** The daemon's one ffmpeg lookup; without it the channel looks ffmpeg up itself. */
  ffmpeg?: (() => Promise<FfmpegInfo>) | undefined;
  /** Where the daemon records its long-lived children (reaped at the next cold start if they outlive it). */
  children?: ChildRegistry | undefined;
  segmentSeconds: number;
  fps: number;
  /** No new bytes for this long: degraded. */
  stallMs: number;
  /** A finished audio segment quieter than this (mean dB): degraded as silent. */
  silenceDb: number;
  /** Window title/app patterns whose focus stops screen recording. */
  excludeWindows: readonly string[];
  restartMaxMs: number;
  platform?: NodeJS.Platform;
}

interface Run {
  id: number;
  child: ChildProcess;
  listFile: string;
  startEpoch: number | undefined;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  expectedExit: boolean;
  registered: Set<number>;
}

export class MediaChannel implements ChannelDriver {
  readonly kind = 'media' as const;
  private ctx: ChannelContext | undefined;
  private ffmpeg: FfmpegInfo | undefined;
  private inputArgs: string[] = [];
  private mediaKind: MediaKind;
  private dir = '';
  private relDir = '';
  private run: Run | undefined;
  private runCounter = 0;
  private nextSeq = 0;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private paused = false;
  private privacyHold = false;
  private lastGrowthAt = 0;
  private lastSize = -1;
  private level: number | undefined;
  private silentSince: number | undefined;
  private gapStart: number | undefined;
  private gapReason = '';
  private chain: Promise<void> = Promise.resolve();
  /** Finished segments the store could not take yet (full disk); retried on every poll. */
  private unregistered: SegmentInfo[] = [];
  private readonly excluded: RegExp[];
  private readonly platform: NodeJS.Platform;

  constructor(
    readonly id: string,
    private readonly store: boolean,
    private readonly opts: MediaOptions,
  ) {
    this.mediaKind = id.startsWith('display:') ? 'video' : 'audio';
    this.platform = opts.platform ?? process.platform;
    this.excluded = opts.excludeWindows.map((p) => new RegExp(p, 'i'));
  }

  async start(ctx: ChannelContext): Promise<void> {
    this.ctx = ctx;
    try {
      this.ffmpeg = await (this.opts.ffmpeg ? this.opts.ffmpeg() : resolveFfmpeg({ configPath: this.opts.ffmpegPath, env: ctx.env }));
    } catch (err) {
      ctx.setHealth('unavailable', `${ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE}: ${(err as Error).message}`);
      return;
    }
    const input = await this.resolveInput(ctx);
    if (typeof input === 'string') {
      ctx.setHealth('unavailable', `${ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE}: ${input}`);
      return;
    }
    this.inputArgs = input;
    // store: false: segments live in a temp folder and are deleted once looked at; nothing is kept or uploaded.
    this.dir = this.store ? path.join(ctx.sessionDir, channelDirName(this.id)) : fs.mkdtempSync(path.join(os.tmpdir(), 'traced-live-'));
    this.relDir = channelDirName(this.id);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.nextSeq = existingNextSeq(this.dir);
    try {
      await this.launch();
    } catch (err) {
      const e = err as TracedError;
      ctx.setHealth('unavailable', `${ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE}: ${e.message}`);
      return;
    }
    this.pollTimer = setInterval(() => this.poll(), 500);
    this.pollTimer.unref();
  }

  private async resolveInput(ctx: ChannelContext): Promise<string[] | string> {
    if (this.mediaKind === 'video') {
      const n = Number(this.id.split(':')[1]);
      const devs = await listDevices(ctx.env, this.ffmpeg?.path, this.platform);
      const d = devs.displays.find((x) => x.index === n) ?? (this.platform === 'linux' ? undefined : devs.displays[n - 1]);
      if (!d) return devs.problems[0] ?? `there is no display ${n} (displays: ${devs.displays.map((x) => x.id).join(', ') || 'none'})`;
      return displayInput(this.platform, { display: ctx.env.DISPLAY, x: d.x, y: d.y, width: d.width, height: d.height, index: d.index }, this.opts.fps).args;
    }
    const name = this.id.slice(this.id.indexOf(':') + 1);
    if (this.platform === 'linux') {
      const src = pulseSource(this.id);
      if (name !== 'default') {
        const devs = await listDevices(ctx.env, this.ffmpeg?.path, this.platform);
        if (!devs.audio.some((a) => a.name === name))
          return devs.problems[0] ?? `no audio source named "${name}" (sources: ${devs.audio.map((a) => a.name).join(', ') || 'none'})`;
      }
      return audioInput(this.platform, src).args;
    }
    return audioInput(this.platform, name).args;
  }

  /** Starts one ffmpeg run; resolves once the first frame arrived, rejects if ffmpeg dies first. */
  private launch(): Promise<void> {
    const ctx = this.ctx as ChannelContext;
    const ff = this.ffmpeg as FfmpegInfo;
    const id = ++this.runCounter;
    const listFile = path.join(this.dir, `list-${process.pid}-${id}.csv`);
    const args = [
      '-nostdin',
      '-hide_banner',
      '-loglevel',
      'info',
      '-nostats',
      '-y',
      ...this.inputArgs,
      ...outputArgs(this.mediaKind, {
        segmentSeconds: this.opts.segmentSeconds,
        startNumber: this.nextSeq,
        listFile,
        pattern: path.join(this.dir, `%05d.${segmentExt(this.mediaKind)}`),
        fps: this.opts.fps,
      }),
    ];
    ctx.logger.debug({ args }, 'starting ffmpeg');
    const child = spawnTied(ff.path, args, { stdio: ['ignore', 'ignore', 'pipe'], env: ctx.env as NodeJS.ProcessEnv, windowsHide: true });
    this.opts.children?.track(child);
    const run: Run = {
      id,
      child,
      listFile,
      startEpoch: undefined,
      stderr: '',
      expectedExit: false,
      registered: new Set(),
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    };
    this.run = run;
    this.lastGrowthAt = Date.now();
    this.lastSize = -1;
    return new Promise((resolve, reject) => {
      let started = false;
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        run.stderr = (run.stderr + d).slice(-16_384);
        if (!started && run.startEpoch === undefined) {
          const epoch = parseStartEpoch(run.stderr);
          if (epoch !== undefined) {
            run.startEpoch = epoch;
            started = true;
            this.onStarted(run);
            resolve();
          }
        }
      });
      child.once('error', (err) => {
        if (!started) reject(new TracedError(ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE, `cannot run ${ff.path}: ${err.message}`));
      });
      void run.exited.then(({ code, signal }) => {
        if (!started) {
          reject(new TracedError(ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE, describeFailure(run.stderr, code, signal)));
          return;
        }
        this.chain = this.chain.then(() => this.onExit(run, code, signal));
      });
    });
  }

  private onStarted(run: Run): void {
    const ctx = this.ctx as ChannelContext;
    try {
      // Recovery reads this to place the run's segments on the session clock after a kill.
      fs.writeFileSync(
        path.join(this.dir, `run-${process.pid}-${run.id}.json`),
        JSON.stringify({ start_epoch_ms: run.startEpoch, first_seq: this.nextSeq, list: path.basename(run.listFile) }),
      );
    } catch (err) {
      ctx.logger.warn({ err }, 'could not write the run file; recovery falls back to the segment list');
    }
    if (this.gapStart !== undefined) {
      const to = run.startEpoch ?? Date.now();
      ctx.emit(
        'capture.gap',
        { channel: this.id, reason: this.gapReason, from_ts: this.gapStart, to_ts: to, duration_ms: Math.max(0, to - this.gapStart) },
        { ts: this.gapStart },
      );
      this.gapStart = undefined;
    }
    ctx.setHealth('running', this.healthDetail());
  }

  private healthDetail(): string {
    // Stable text: it changes when the channel does, not every second (each change is a row write and a notification).
    const parts = [`segment ${this.nextSeq}`];
    if (this.level !== undefined) parts.push(`level ${this.level.toFixed(0)} dB`);
    parts.push(`restarts ${this.restarts}`);
    return parts.join(', ');
  }

  /** Registers finished segments from the list; checks that data keeps flowing. */
  private poll(): void {
    const run = this.run;
    const ctx = this.ctx;
    if (!run || !ctx || this.stopped) return;
    if (this.unregistered.length) this.registerPending();
    this.chain = this.chain.then(() => this.collect(run, false)).catch((err: unknown) => ctx.logger.error({ err }, 'registering segments failed'));
    const current = path.join(this.dir, `${String(this.nextSeq).padStart(5, '0')}.${segmentExt(this.mediaKind)}`);
    let size = -1;
    try {
      size = fs.statSync(current).size;
    } catch {
      // not created yet
    }
    const now = Date.now();
    if (size !== this.lastSize) {
      this.lastSize = size;
      this.lastGrowthAt = now;
    }
    if (run.child.exitCode !== null || this.paused || this.privacyHold) return;
    if (now - this.lastGrowthAt > this.opts.stallMs) {
      ctx.setHealth('degraded', `no data for ${Math.round((now - this.lastGrowthAt) / 1000)}s (${this.healthDetail()})`);
    } else if (this.silentSince !== undefined) {
      ctx.setHealth('degraded', `silent: level ${this.level?.toFixed(0)} dB since ${new Date(this.silentSince).toISOString()} (${this.healthDetail()})`);
    } else {
      ctx.setHealth('running', this.healthDetail());
    }
  }

  /** Reads the run's segment list and registers what is new; `final` also takes the unlisted last file (after a kill). */
  private async collect(run: Run, final: boolean): Promise<void> {
    let entries: ReturnType<typeof parseSegmentList> = [];
    try {
      entries = parseSegmentList(fs.readFileSync(run.listFile, 'utf8'));
    } catch {
      // no segment finished yet
    }
    let lastEnd = 0;
    // A run that died (full disk, lost device) may list a segment it could not write: check those before keeping them.
    const suspect = final && !run.expectedExit;
    for (const e of entries) {
      const seq = seqOf(e.file);
      lastEnd = e.end;
      if (seq === undefined || run.registered.has(seq)) continue;
      const file = path.join(this.dir, e.file);
      if (!(await this.usable(file, suspect))) {
        run.registered.add(seq);
        this.ctx?.logger.warn({ seq, file: e.file }, 'dropping an unreadable segment');
        fs.rmSync(file, { force: true });
        continue;
      }
      await this.register(run, seq, Math.round(e.start * 1000), Math.round((e.end - e.start) * 1000), false);
    }
    if (!final) return;
    // After a crash or SIGKILL the segment in progress is not listed: probe it and keep what it holds.
    const ext = segmentExt(this.mediaKind);
    for (let seq = this.nextSeq; ; seq++) {
      const file = path.join(this.dir, `${String(seq).padStart(5, '0')}.${ext}`);
      if (run.registered.has(seq)) continue;
      if (!fs.existsSync(file)) break;
      const dur = (await probeDurationMs((this.ffmpeg as FfmpegInfo).ffprobe, file)) ?? 0;
      if (dur <= 0) {
        fs.rmSync(file, { force: true }); // nothing decodable in it
        continue;
      }
      await this.register(run, seq, Math.round(lastEnd * 1000), dur, true);
      lastEnd += dur / 1000;
    }
  }

  /** Non-empty, and when `probe`, decodable enough for ffprobe to give a duration. */
  private async usable(file: string, probe: boolean): Promise<boolean> {
    let size = 0;
    try {
      size = fs.statSync(file).size;
    } catch {
      return false;
    }
    if (size === 0) return false;
    if (!probe || !this.ffmpeg) return true;
    return ((await probeDurationMs(this.ffmpeg.ffprobe, file)) ?? 0) > 0;
  }

  private async register(run: Run, seq: number, startInRunMs: number, durationMs: number, repaired: boolean): Promise<void> {
    const ctx = this.ctx as ChannelContext;
    run.registered.add(seq);
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    const name = `${String(seq).padStart(5, '0')}.${segmentExt(this.mediaKind)}`;
    const file = path.join(this.dir, name);
    if (this.mediaKind === 'audio' && this.ffmpeg) {
      this.level = await meanVolumeDb(this.ffmpeg.path, file, LEVEL_SAMPLE_S);
      if (this.level !== undefined && this.level < this.opts.silenceDb) this.silentSince ??= Date.now() - durationMs;
      else this.silentSince = undefined;
    }
    if (!this.store) {
      fs.rmSync(file, { force: true });
      return;
    }
    fsyncFile(file);
    const bytes = fs.statSync(file).size;
    const sha256 = await sha256File(file);
    const startOffset = (run.startEpoch ?? ctx.startedAt) - ctx.startedAt + startInRunMs;
    this.unregistered.push({
      channel: this.id,
      seq,
      path: path.join(this.relDir, name),
      start_offset_ms: Math.max(0, startOffset),
      duration_ms: durationMs,
      bytes,
      sha256,
      repaired,
    });
    this.registerPending();
  }

  /** Hands finished segments to the store in order; what it cannot take now stays queued (the file is safe on disk). */
  private registerPending(): void {
    const ctx = this.ctx as ChannelContext;
    while (this.unregistered.length) {
      const seg = this.unregistered[0] as SegmentInfo;
      try {
        ctx.registerSegment(seg);
      } catch (err) {
        ctx.logger.warn({ err, seq: seg.seq, waiting: this.unregistered.length }, 'segment not registered yet; retrying');
        return;
      }
      this.unregistered.shift();
    }
  }

  private async onExit(run: Run, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const ctx = this.ctx as ChannelContext;
    await this.collect(run, true);
    if (run.expectedExit || this.stopped) return;
    const why = describeFailure(run.stderr, code, signal);
    ctx.logger.warn({ code, signal, why }, 'ffmpeg exited; restarting');
    this.gapStart ??= Date.now();
    this.gapReason = why;
    ctx.emit('capture.interrupted', { channel: this.id, code, signal, reason: why });
    ctx.setHealth('failed', `${why}; restarting (restarts ${this.restarts})`);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopped || this.paused || this.privacyHold) return;
    const delay = Math.min(this.opts.restartMaxMs, 500 * 2 ** Math.min(this.restarts, 10));
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped || this.paused || this.privacyHold) return;
      this.launch()
        .then(() => {
          // healthy again: the next failure starts the backoff over after a quiet minute
          setTimeout(() => {
            if (this.run?.child.exitCode === null) this.restarts = 0;
          }, 60_000).unref();
        })
        .catch((err: unknown) => {
          this.ctx?.setHealth('failed', `${(err as Error).message}; retrying`);
          this.scheduleRestart();
        });
    }, delay);
    this.restartTimer.unref();
  }

  /** SIGINT (ffmpeg finishes the segment), a deadline, then SIGKILL; the last segment is registered either way. */
  private async endRun(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.expectedExit = true;
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGINT');
      const t = setTimeout(() => run.child.kill('SIGKILL'), 5000);
      await run.exited;
      clearTimeout(t);
    }
    await this.chain;
    await this.collect(run, true);
    this.run = undefined;
  }

  async pause(): Promise<void> {
    this.paused = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.endRun();
    this.ctx?.setHealth('paused', 'not recording while the session is paused');
  }

  async resume(): Promise<void> {
    this.paused = false;
    if (!this.privacyHold && !this.stopped && this.inputArgs.length) await this.launch().catch(() => this.scheduleRestart());
  }

  /** Privacy: a focused window matching `excludeWindows` stops screen frames until focus leaves it. */
  async onWindowFocus(w: { title: string; app: string }): Promise<void> {
    if (this.mediaKind !== 'video' || !this.inputArgs.length || this.stopped) return;
    const hit = this.excluded.some((re) => re.test(w.title) || re.test(w.app));
    if (hit && !this.privacyHold) {
      this.privacyHold = true;
      this.gapStart = Date.now();
      this.gapReason = 'privacy: excluded window focused';
      await this.endRun();
      this.ctx?.emit('capture.privacy_hold', { channel: this.id, app: w.app });
      this.ctx?.setHealth('paused', 'an excluded window has focus: no frames recorded');
    } else if (!hit && this.privacyHold) {
      this.privacyHold = false;
      if (!this.paused) await this.launch().catch(() => this.scheduleRestart());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.endRun();
    await this.chain;
    if (this.unregistered.length) this.registerPending();
    if (!this.store && this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function existingNextSeq(dir: string): number {
  let next = 0;
  for (const f of fs.readdirSync(dir)) {
    const s = seqOf(f);
    if (s !== undefined) next = Math.max(next, s + 1);
  }
  return next;
}

/** One line saying why ffmpeg stopped, from its stderr. */
export function describeFailure(stderr: string, code: number | null, signal: NodeJS.Signals | null): string {
  if (/No space left on device/i.test(stderr)) return 'disk full: no space left on device';
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Input|Output|Stream|Duration|Metadata|\s)/.test(l));
  const err = lines.reverse().find((l) => /error|cannot|could not|no such|refused|invalid|failed|denied/i.test(l));
  const how = signal ? `killed by ${signal}` : `exit code ${code}`;
  return err ? `${err} (${how})` : `ffmpeg stopped (${how})`;
}
