import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Services } from '../api/services.js';
import type { ChannelDriver } from '../capture/channel.js';
import { listDevices } from '../capture/devices.js';
import { FfmpegLocator } from '../capture/ffmpeg.js';
import { ChildRegistry } from '../capture/proc.js';
import { FilesChannel } from '../capture/files.js';
import { GitChannel } from '../capture/git.js';
import { MediaChannel } from '../capture/media.js';
import { drainSpool } from '../capture/terminal.js';
import { WindowChannel } from '../capture/window.js';
import type { Config, Env } from '../config/config.js';
import { createDaemonLogger } from '../config/logger.js';
import { ensureDataDirs, ensureHomeDir, type Paths } from '../config/paths.js';
import { setup } from '../config/setup.js';
import { Exporter, SessionMuxer } from '../export/exporter.js';
import { INDEX_KINDS, Indexer } from '../index/indexer.js';

type OcrChoice = { engine: OcrEngine | undefined; reason: string };
type SpeechChoice = { engine: SpeechEngine | undefined; reason: string };
import { pickModel, whisperWhenPulled } from '../index/models.js';
import { chooseOcr, type OcrEngine } from '../index/ocr.js';
import { chooseSpeech, type SpeechEngine, whisperAvailable } from '../index/speech.js';
import { type DaemonControl, IpcServer } from '../ipc/server.js';
import type { ChannelSpec, LiveSession } from '../model.js';
import { sessionEnv } from '../model/capture-env.js';
import { UploadQueue, type UploadTarget } from '../queue/queue.js';
import { Recovery } from '../queue/recovery.js';
import { VideoDBTarget } from '../queue/videodb.js';
import { Retention } from '../retention.js';
import { EventWriter, type Clock } from '../session/event-writer.js';
import { LateIngest } from '../session/late-ingest.js';
import { TerminalIngest } from '../session/terminal-ingest.js';
import { TerminalOutput } from '../timeline/terminal-output.js';
import { TerminalScreens } from '../timeline/terminal-screen.js';
import { Recorder, newSessionId, registerSegment, type ChannelFactory } from '../session/recorder.js';
import { StorageHealth } from '../session/storage-health.js';
import { ReadPool, type Offload } from '../timeline/read-pool.js';
import { Replay } from '../timeline/replay.js';
import { Search } from '../timeline/search.js';
import { SessionFiles, UPLOADS_JSONL } from '../timeline/session-files.js';
import { SessionViews } from '../timeline/sessions.js';
import { openStore } from '../timeline/open-store.js';
import type { Store } from '../timeline/store.js';
import { VERSION } from '../version.js';
import { acquireDaemonLock } from './lock.js';

export const systemClock: Clock = { now: () => Date.now(), mono: () => performance.now() };

export function channelFactory(config: Config, ffmpeg: FfmpegLocator, children?: ChildRegistry): ChannelFactory {
  return (spec: ChannelSpec): ChannelDriver | undefined => {
    switch (spec.id) {
      case 'files':
        return new FilesChannel({ ignore: config.files.ignore, settleMs: config.files.settleMs, secretFiles: config.privacy.secretFiles });
      case 'git':
        return new GitChannel();
      case 'window':
        return new WindowChannel(config.window.pollMs);
      default:
        if (/^(display|mic|system_audio):/.test(spec.id)) {
          return new MediaChannel(spec.id, spec.store, {
            ...config.capture,
            excludeWindows: config.privacy.excludeWindows,
            ffmpeg: () => ffmpeg.info(),
            children,
          });
        }
        return undefined;
    }
  };
}

export interface BuildOptions {
  store: Store;
  paths: Paths;
  config: Config;
  logger: Logger;
  env: Env;
  cwd: string;
  version?: string;
  clock?: Clock;
  notify: (topic: string, data: unknown) => void;
  channelFactory?: ChannelFactory;
  /** Where heavy reads run (the daemon's worker pool); inline when absent. */
  reads?: Offload | undefined;
  /** The record of long-lived children (capture ffmpeg), reaped at the next cold start. */
  children?: ChildRegistry | undefined;
  /** Upload targets by name (VideoDB when a key is configured); none: everything stays local. */
  targets?: (muxer: SessionMuxer, ffmpeg: FfmpegLocator) => Map<string, UploadTarget>;
  /** The local indexer's engines, when one runs (chosen before: choosing is async). */
  indexing?: { ocr: OcrChoice; speech: SpeechChoice } | undefined;
}

/** Every service of a daemon, in dependency order; no service is assigned after construction. */
export interface Built {
  services: Services;
  store: Store;
  files: SessionFiles;
  ffmpeg: FfmpegLocator;
  health: StorageHealth;
  events: EventWriter;
  recorder: Recorder;
  sessions: SessionViews;
  replay: Replay;
  queue: UploadQueue;
  recovery: Recovery;
  late: LateIngest;
  terminal: TerminalIngest;
  indexer: Indexer | undefined;
  retention: Retention;
  exporter: Exporter;
  muxer: SessionMuxer;
  live: { current: LiveSession | undefined };
}

/** Builds the services of a daemon around an open store. Shared by the daemon and the tests. */
export function buildServices(o: BuildOptions): Built {
  const { store, paths, config, env } = o;
  const clock = o.clock ?? systemClock;
  const now = () => clock.now();
  const log = o.logger;
  const notify = o.notify;
  const startedAt = now();
  const files = new SessionFiles(paths.sessionsDir);
  const ffmpeg = new FfmpegLocator({ configPath: config.capture.ffmpegPath, env });
  const live: { current: LiveSession | undefined } = { current: undefined };
  const liveId = () => live.current?.id;
  const health = new StorageHealth({ home: paths.home, log, notify, now });
  const replay = new Replay({ store, sessionDir: (id) => files.dir(id), now, ffmpeg: () => ffmpeg.path(), liveId, reads: o.reads });
  const refreshMoments = (id: string) => replay.refreshMoments(id);
  const events = new EventWriter({
    store,
    files,
    health,
    clock,
    log,
    notify,
    commitIntervalMs: config.session.commitIntervalMs,
    jsonlSyncMs: config.session.jsonlSyncMs,
    refreshMoments,
  });
  const muxer = new SessionMuxer({ store, files, ffmpeg: () => ffmpeg.path(), tmpDir: path.join(paths.home, 'tmp'), fps: config.capture.fps, notify });
  const targets = o.targets?.(muxer, ffmpeg) ?? new Map<string, UploadTarget>();
  const queue = new UploadQueue(store.db, targets, { ...config.queue }, log.child({ mod: 'queue' }), notify);
  const videodb = targets.get('videodb') as VideoDBTarget | undefined;
  const uploads = queue.targetNames.length ? (id: string) => queue.sessionCounts(id) : undefined;
  const indexer = o.indexing && createIndexer(o, o.indexing, files, ffmpeg, events, () => live.current !== undefined);
  const sessions = new SessionViews({
    store,
    live,
    now,
    cwd: o.cwd,
    uploads,
    refreshMoments,
    storage: () => health.status(),
    indexer: indexer && (() => indexer.status()),
    reads: o.reads,
    daemon: () => ({
      pid: process.pid,
      version: o.version ?? VERSION,
      node: process.versions.node,
      started_at: startedAt,
      uptime_ms: now() - startedAt,
      home: paths.home,
      socket: paths.socket,
    }),
  });
  const search = new Search({
    store,
    now,
    reads: o.reads,
    cloud: videodb ? { search: (q, n) => videodb.search(q, n), sessionsByVideo: () => queue.sessionsByVideo() } : undefined,
  });
  const exporter = new Exporter({
    store,
    files,
    muxer,
    exportsDir: path.join(paths.home, 'exports'),
    cwd: o.cwd,
    liveId,
    flushLive: () => events.flush(),
    newSessionId: () => newSessionId(now()),
    restoreEvents: (id, evs) => events.restore(id, evs),
    gateText: (t) => events.gateText(t),
    refreshMoments,
    cloud: videodb
      ? {
          configured: () => queue.hasTarget('videodb'),
          exportJob: (id, create) => {
            const key = { target: 'videodb', kind: 'export' as const, session_id: id };
            if (create && !queue.find(key)) queue.enqueue(key);
            return queue.find(key);
          },
          clip: (videoId, fromS, toS) => videodb.clip(videoId, fromS, toS),
        }
      : undefined,
  });
  // Media the indexer will still read is kept by retention (below the hard cap): what it has an engine for, and
  // speech while it looks for a whisper model (Indexer.reads). Without an indexer nothing is held.
  const retention = new Retention({
    store,
    policy: config.retention,
    sessionDir: (id) => files.dir(id),
    now,
    log,
    notify,
    uploaded: (g) =>
      queue.targetNames.length === 0 ||
      queue.targetNames.every(
        (t) => queue.find({ target: t, kind: 'segment', session_id: g.session_id, channel_id: g.channel_id, segment_seq: g.seq })?.state === 'done',
      ),
    indexed: (g) => !indexer || !INDEX_KINDS.some((k) => indexer.reads(k.kind) && store.awaitsIndexing(g, k.kind, k.glob)),
  });
  const terminal = new TerminalIngest({ store, events, sessionsDir: paths.sessionsDir, log: log.child({ mod: 'terminal' }), now });
  const late = new LateIngest({
    store,
    events,
    now,
    env,
    assistant: config.assistant,
    live: () => (live.current ? { id: live.current.id, startedAt: live.current.startedAt } : undefined),
  });
  const recorder = new Recorder({
    store,
    files,
    events,
    health,
    clock,
    log,
    notify,
    env,
    cwd: o.cwd,
    defaultProfile: config.session.defaultProfile,
    channelFactory: o.channelFactory ?? channelFactory(config, ffmpeg, o.children),
    live,
    summary: (id) => sessions.summary(id),
    resolve: (ref) => sessions.resolve(ref),
    queue,
    flushTimeoutMs: config.queue.flushTimeoutMs,
    refreshMoments,
    afterStop: (id) => {
      if (late.assistant(id)) refreshMoments(id);
      terminal.sessionEnded(id);
      retention.soon();
    },
  });
  const recovery = new Recovery({
    store,
    files,
    log,
    ffprobe: () => ffmpeg.ffprobe(),
    queue,
    events,
    refreshMoments,
    registerSegment: (id, seg) => registerSegment(store, queue, id, seg, now()),
    writeFailed: (err) => health.failed(err),
  });
  const services: Services = {
    recorder,
    events,
    sessions,
    search,
    replay,
    exporter,
    queue,
    retention,
    devices: { list: async (callerEnv) => listDevices(sessionEnv(env, callerEnv), await ffmpeg.path().catch(() => undefined)) },
    terminal: new TerminalOutput(store, new TerminalScreens(paths.sessionsDir)),
  };
  return {
    services,
    store,
    files,
    ffmpeg,
    health,
    events,
    recorder,
    sessions,
    replay,
    queue,
    recovery,
    late,
    terminal,
    indexer,
    retention,
    exporter,
    muxer,
    live,
  };
}

export interface DaemonHandle {
  paths: Paths;
  /** Resolves when the daemon has fully stopped. */
  done: Promise<void>;
  stop(reason: string): Promise<void>;
}

export async function startDaemon(opts: { env: Env; cwd: string; onReady?: (paths: Paths) => void }): Promise<DaemonHandle> {
  const { config, paths } = setup(opts.env);
  // Everything the daemon writes (db, logs, media) is for this user's eyes only.
  if (process.platform !== 'win32') process.umask(0o077);
  ensureDataDirs(paths);
  const lock = await acquireDaemonLock(paths.lockFile, paths.socket);
  const logs = createDaemonLogger({ logDir: paths.logDir, level: config.logLevel, maxFileMb: config.log.maxFileMb, keepFiles: config.log.keepFiles });
  const log = logs.logger;
  let store: Store | undefined;
  let server: IpcServer | undefined;
  try {
    log.info({ version: VERSION, node: process.versions.node, home: paths.home, socket: paths.socket }, 'daemon starting');
    // Children a killed daemon left running (where no parent-death signal took them) go before anything
    // registers their segments: a recorder nobody supervises must not keep the microphone open.
    const children = new ChildRegistry(path.join(paths.home, 'run', 'children'));
    const reaped = await children.reap();
    if (reaped.length) log.warn({ pids: reaped }, 'killed children a previous daemon left running');
    store = openStore(paths.db, log);
    // Notifications go to the socket's subscribers once it listens; the indexer wakes on new segments.
    const subscribers: ((topic: string, data: unknown) => void)[] = [];
    const notify = (topic: string, data: unknown) => {
      for (const s of subscribers) s(topic, data);
    };
    // Two readers: one heavy read per core, so the loop itself stays free for IPC and capture.
    const reads = new ReadPool({ db: paths.db, size: 2, log: log.child({ mod: 'reads' }) });
    const built = buildServices({
      store,
      paths,
      config,
      logger: log,
      env: opts.env,
      cwd: opts.cwd,
      notify,
      children,
      reads: (t, m, a) => reads.run(t, m, a),
      indexing: await chooseEngines(config, paths, opts.env, log),
      targets: (muxer, ffmpeg) => videodbTargets(store as Store, config, paths, opts.env, muxer, ffmpeg),
    });
    const { recorder, recovery, queue, late, retention, events, files } = built;
    // Shell hooks append to the spool whether or not the daemon runs. Read it before recovery, so commands
    // run while the daemon was down extend the session they belong to; then every second.
    const spoolDir = path.join(paths.home, 'spool');
    ensureHomeDir(paths, spoolDir);
    const drain = () => {
      try {
        const records = drainSpool(spoolDir);
        if (records.length) log.debug({ stored: late.terminal(records), read: records.length }, 'terminal commands');
      } catch (err) {
        log.warn({ err }, 'reading the terminal spool failed');
      }
      // Output `traced shell` wrote to the session folder, indexed as it grows.
      built.terminal.tick(built.live.current?.id);
    };
    drain();
    let tick = 0;
    const spoolTimer = setInterval(() => {
      drain();
      if (tick % 3600 === 0) retention.soon();
      // Assistant transcripts of the live session, every 15 s (and once more at stop).
      if (++tick % 15 === 0) {
        const id = built.live.current?.id;
        if (id) {
          try {
            late.assistant(id);
          } catch (err) {
            log.warn({ err }, 'reading assistant logs failed');
          }
        }
      }
    }, 1000);
    spoolTimer.unref();
    // Cold start, one pass: uploads in flight back to pending, folders unknown to the DB rebuilt, open sessions
    // recovered (their media registered and enqueued), then every stored segment without a job gets one.
    const requeued = queue.recoverInFlight();
    await recovery.rebuildFromFolders();
    const recovered = await recovery.recoverOpenSessions();
    if (recovered.length) log.warn({ recovered }, 'recovered sessions at cold start');
    // Terminal output a killed daemon had not indexed yet (the shells kept it in the session folders).
    for (const s of store.listSessions({ limit: 3 })) built.terminal.ingest(s.id);
    const backfilled = queue.targetNames.reduce((n, t) => n + queue.backfill(t), 0);
    if (requeued || backfilled) log.info({ requeued, backfilled }, 'upload queue recovered');
    // Each finished upload is also written to its session folder, so a lost database never means uploading again.
    queue.onSettled((job) => {
      if (job.state !== 'done') return;
      const line = {
        target: job.target,
        kind: job.kind,
        channel: job.channel_id,
        seq: job.segment_seq,
        remote_id: job.remote_id,
        meta: job.remote_meta ? (JSON.parse(job.remote_meta) as unknown) : null,
        at: Date.now(),
      };
      try {
        files.appendLine(job.session_id, UPLOADS_JSONL, line);
      } catch (err) {
        log.warn({ err, job: job.id }, 'could not note the upload in the session folder');
      }
    });
    queue.start();
    const indexer = built.indexer as Indexer;
    indexer.start();

    // `traced daemon stop|restart` and the CLI's version check stop the daemon over the socket, as a signal would.
    let stop: (reason: string) => Promise<void> = async () => undefined;
    const control: DaemonControl = {
      startedAt: Date.now(),
      recording: () => built.live.current?.id,
      shutdown: (ifIdle) => {
        const recording = built.live.current?.id ?? null;
        if (ifIdle && recording) return { stopping: false, recording };
        void stop(ifIdle ? 'version change' : 'stop requested');
        return { stopping: true, recording };
      },
    };
    server = new IpcServer({ socketPath: paths.socket, maxMessageBytes: config.ipc.maxMessageBytes, services: built.services, logger: log, control });
    await server.start();
    const srv = server;
    subscribers.push((topic, data) => {
      if (topic === 'segment.completed') indexer.wake();
      srv.notify(topic, data);
    });

    let stopping: Promise<void> | undefined;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const st = store;
    stop = (reason: string): Promise<void> => {
      stopping ??= (async () => {
        log.info({ reason }, 'daemon stopping');
        try {
          await recorder.shutdown();
        } catch (err) {
          log.error({ err }, 'recorder shutdown failed');
        }
        await queue.stop();
        await indexer.stop();
        // The socket first: requests in flight (searches in the read pool among them) get their grace to answer.
        await srv.stop();
        await reads.close();
        clearInterval(spoolTimer);
        drain();
        events.flush();
        st.close();
        log.info('daemon stopped');
        await logs.close();
        lock.release();
        for (const s of SIGNALS) process.off(s, onSignal);
        resolveDone();
      })();
      return stopping;
    };
    const onSignal = (sig: NodeJS.Signals) => void stop(sig);
    for (const s of SIGNALS) process.on(s, onSignal);
    log.info('daemon ready');
    opts.onReady?.(paths);
    return { paths, done, stop };
  } catch (err) {
    log.error({ err }, 'daemon failed to start');
    await server?.stop(0);
    store?.close();
    await logs.close();
    lock.release();
    throw err;
  }
}

/** The OCR and speech engines this machine has (each choice and its reason shows in status). */
async function chooseEngines(config: Config, paths: Paths, env: Env, log: Logger): Promise<{ ocr: OcrChoice; speech: SpeechChoice }> {
  const modelsDir = path.join(paths.home, 'models');
  const [ocr, speech] = await Promise.all([
    chooseOcr({ enabled: config.index.ocr.enabled, engine: config.index.ocr.engine, env }),
    chooseSpeech({ enabled: config.index.speech.enabled, engine: config.index.speech.engine, modelFile: pickModel(modelsDir, config.index.speech.model), env }),
  ]);
  log.info({ ocr: ocr.reason, speech: speech.reason }, 'indexing engines');
  return { ocr, speech };
}

/** The local indexer: it reads finished segments and hands what it read to the event writer. */
function createIndexer(
  o: BuildOptions,
  engines: { ocr: OcrChoice; speech: SpeechChoice },
  files: SessionFiles,
  ffmpeg: FfmpegLocator,
  events: EventWriter,
  recording: () => boolean,
): Indexer {
  const { config, paths } = o;
  const tmpDir = path.join(paths.home, 'tmp');
  ensureHomeDir(paths, tmpDir);
  return new Indexer({
    store: o.store,
    sessionDir: (id) => files.dir(id),
    tmpDir,
    ocr: engines.ocr,
    speech: engines.speech,
    ffmpeg: () => ffmpeg.path(),
    ocrIntervalMs: config.index.ocr.intervalMs,
    duplicateThreshold: config.index.ocr.duplicateThreshold,
    silenceDb: config.index.speech.silenceDb,
    // Only where a whisper model can load: elsewhere nothing is waited for (status says off, retention holds nothing).
    ...(config.index.speech.enabled && config.index.speech.engine !== 'pocketsphinx' && whisperAvailable()
      ? { rechooseSpeech: whisperWhenPulled({ dir: path.join(paths.home, 'models'), configured: config.index.speech.model, env: o.env }) }
      : {}),
    commit: (sessionId, evs, progress) => void events.appendLate(sessionId, evs, progress),
    log: o.logger.child({ mod: 'indexer' }),
    recording,
  });
}

/** VideoDB when a key is configured; no target otherwise. */
function videodbTargets(store: Store, config: Config, paths: Paths, env: Env, muxer: SessionMuxer, ffmpeg: FfmpegLocator): Map<string, UploadTarget> {
  const targets = new Map<string, UploadTarget>();
  if (!config.videodb.apiKey) return targets;
  // Read again on every connection: a key fixed in config.json resumes an auth-paused queue.
  const apiKey = (): string | undefined => {
    try {
      return setup(env).config.videodb.apiKey;
    } catch {
      return config.videodb.apiKey;
    }
  };
  const files = new SessionFiles(paths.sessionsDir);
  targets.set(
    'videodb',
    new VideoDBTarget({
      apiKey,
      baseUrl: config.videodb.baseUrl,
      collection: config.videodb.collection,
      ffmpeg: () => ffmpeg.path(),
      segmentFile: (job) => {
        const seg = store.getSegment(job.session_id, job.channel_id, job.segment_seq);
        if (!seg || seg.state === 'pruned') return undefined;
        return { file: path.join(files.dir(job.session_id), seg.path), media: job.channel_id.startsWith('display:') ? 'video' : 'audio' };
      },
      exportFile: async (job, signal) =>
        (await muxer.mux(job.session_id, path.join(paths.home, 'tmp', `export-${job.id}-${job.attempts}.mp4`), {}, signal)).file,
      index: config.videodb.index,
      tmpDir: path.join(paths.home, 'tmp'),
    }),
  );
  return targets;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
