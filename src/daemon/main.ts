/**
 * The composition root: config, paths, the single-instance lock, the logger,
 * the store, cold-start recovery, the engine and the socket, and one orderly
 * stop for SIGINT, SIGTERM and SIGHUP. Returns when the daemon has stopped;
 * the caller (the CLI) owns the process exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ChannelSpec } from '../model.js';
import { resolveFfmpeg } from '../capture/ffmpeg.js';
import { UploadQueue, type Job, type UploadTarget } from '../queue/queue.js';
import { VideoDBTarget } from '../queue/videodb.js';
import { Indexer } from '../index/indexer.js';
import { drainSpool } from '../capture/terminal.js';
import { pickModel } from '../index/models.js';
import { chooseOcr } from '../index/ocr.js';
import { chooseSpeech } from '../index/speech.js';
import { FilesChannel } from '../capture/files.js';
import { GitChannel } from '../capture/git.js';
import { WindowChannel } from '../capture/window.js';
import { MediaChannel } from '../capture/media.js';
import type { ChannelDriver } from '../capture/channel.js';
import { IpcServer } from '../ipc/server.js';
import { Store } from '../timeline/store.js';
import { VERSION } from '../version.js';
import { loadConfig, readConfigFile, type Config, type Env } from './config.js';
import { SessionEngine, UPLOADS_JSONL, type ChannelFactory } from './engine.js';
import { acquireDaemonLock } from './lock.js';
import { createDaemonLogger } from './logger.js';
import { defaultHome, ensureDataDirs, resolvePaths, sessionDir, type Paths } from './paths.js';

export interface Setup {
  config: Config;
  paths: Paths;
}

/** Config and paths for this environment; shared by the daemon, the CLI and `traced mcp`. */
export function setup(env: Env): Setup {
  const home = defaultHome(env);
  const file = readConfigFile(`${home}/config.json`);
  const config = loadConfig({ env, file });
  const paths = resolvePaths({ env, home: config.home ?? home, socketDir: config.socketDir });
  return { config, paths };
}

export function channelFactory(config: Config): ChannelFactory {
  return (spec: ChannelSpec): ChannelDriver | undefined => {
    switch (spec.id) {
      case 'files':
        return new FilesChannel({ ignore: config.files.ignore, settleMs: config.files.settleMs });
      case 'git':
        return new GitChannel();
      case 'window':
        return new WindowChannel(config.window.pollMs);
      default:
        if (/^(display|mic|system_audio):/.test(spec.id)) {
          return new MediaChannel(spec.id, spec.store, { ...config.capture, excludeWindows: config.privacy.excludeWindows });
        }
        return undefined;
    }
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
    store = new Store(paths.db);
    let notify = (_topic: string, _data: unknown): void => undefined;
    let muxer: SessionEngine | undefined;
    const { queue, videodb } = createQueue(store, config, paths, opts.env, log, (topic, data) => notify(topic, data), async (job, signal) => {
      if (!muxer) throw new Error('the daemon is still starting');
      return (await muxer.muxTo(job.session_id, path.join(paths.home, 'tmp', `export-${job.id}-${job.attempts}.mp4`), {}, signal)).file;
    });
    const engine = new SessionEngine({
      store, paths, config, logger: log, env: opts.env, cwd: opts.cwd, version: VERSION,
      channelFactory: channelFactory(config),
      notify: (topic, data) => notify(topic, data),
      queue,
      videodb,
    });
    muxer = engine;
    // Cold start, one pass: uploads in flight back to pending, open sessions recovered (their media
    // registered and enqueued), then every stored segment without a job gets one.
    // Shell hooks append to the spool whether or not the daemon runs. Read it before recovery, so commands
    // run while the daemon was down extend the session they belong to; then every second.
    const spoolDir = path.join(paths.home, 'spool');
    fs.mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
    const drain = () => {
      try {
        const records = drainSpool(spoolDir);
        if (records.length) log.debug({ stored: engine.ingestTerminal(records), read: records.length }, 'terminal commands');
      } catch (err) {
        log.warn({ err }, 'reading the terminal spool failed');
      }
    };
    drain();
    let tick = 0;
    const spoolTimer = setInterval(() => {
      drain();
      if (tick % 3600 === 0) engine.retentionSoon();
      // Assistant transcripts of the live session, every 15 s (and once more at stop).
      if (++tick % 15 === 0) {
        const live = engine.status().session;
        if (live) {
          try {
            engine.ingestAssistant(live.id);
          } catch (err) {
            log.warn({ err }, 'reading assistant logs failed');
          }
        }
      }
    }, 1000);
    spoolTimer.unref();
    const requeued = queue.recoverInFlight();
    await engine.rebuildFromFolders();
    const recovered = await engine.recoverOpenSessions();
    if (recovered.length) log.warn({ recovered }, 'recovered sessions at cold start');
    const backfilled = queue.targetNames.reduce((n, t) => n + queue.backfill(t), 0);
    if (requeued || backfilled) log.info({ requeued, backfilled }, 'upload queue recovered');
    // Each finished upload is also written to its session folder, so a lost database never means uploading again.
    queue.onSettled((job) => {
      if (job.state !== 'done') return;
      const line = { target: job.target, kind: job.kind, channel: job.channel_id, seq: job.segment_seq, remote_id: job.remote_id, meta: job.remote_meta ? (JSON.parse(job.remote_meta) as unknown) : null, at: Date.now() };
      try {
        fs.appendFileSync(path.join(sessionDir(paths, job.session_id), UPLOADS_JSONL), `${JSON.stringify(line)}\n`);
      } catch (err) {
        log.warn({ err, job: job.id }, 'could not note the upload in the session folder');
      }
    });
    queue.start();
    const indexer = await createIndexer(store, config, paths, opts.env, log, engine);
    indexer.start();
    engine.attachIndexer(() => indexer.status());

    server = new IpcServer({ socketPath: paths.socket, maxMessageBytes: config.ipc.maxMessageBytes, engine, logger: log });
    await server.start();
    const srv = server;
    notify = (topic, data) => {
      if (topic === 'segment.completed') indexer.wake();
      srv.notify(topic, data);
    };

    let stopping: Promise<void> | undefined;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const st = store;
    const stop = (reason: string): Promise<void> => {
      stopping ??= (async () => {
        log.info({ reason }, 'daemon stopping');
        try {
          await engine.shutdown();
        } catch (err) {
          log.error({ err }, 'engine shutdown failed');
        }
        await queue.stop();
        await indexer.stop();
        clearInterval(spoolTimer);
        drain();
        await srv.stop();
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

/** The local indexer with the OCR and speech engines this machine has (each choice and its reason shows in status). */
async function createIndexer(store: Store, config: Config, paths: Paths, env: Env, log: Logger, engine: SessionEngine): Promise<Indexer> {
  const modelsDir = path.join(paths.home, 'models');
  const [ocr, speech] = await Promise.all([
    chooseOcr({ enabled: config.index.ocr.enabled, engine: config.index.ocr.engine, env }),
    chooseSpeech({ enabled: config.index.speech.enabled, engine: config.index.speech.engine, modelFile: pickModel(modelsDir, config.index.speech.model), env }),
  ]);
  log.info({ ocr: ocr.reason, speech: speech.reason }, 'indexing engines');
  const tmpDir = path.join(paths.home, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  let ffmpeg: Promise<string> | undefined;
  return new Indexer({
    store, sessionDir: (id) => sessionDir(paths, id), tmpDir, ocr, speech,
    ffmpeg: () => (ffmpeg ??= resolveFfmpeg({ configPath: config.capture.ffmpegPath, env }).then((f) => f.path)),
    ocrIntervalMs: config.index.ocr.intervalMs, duplicateThreshold: config.index.ocr.duplicateThreshold, silenceDb: config.index.speech.silenceDb,
    commit: (sessionId, events, progress) => engine.appendIndexed(sessionId, events, progress),
    log: log.child({ mod: 'indexer' }),
  });
}

/** The upload queue with the targets this config enables: VideoDB when a key is configured, none otherwise. */
function createQueue(
  store: Store, config: Config, paths: Paths, env: Env, log: Logger, notify: (topic: string, data: unknown) => void,
  exportFile: (job: Job, signal: AbortSignal) => Promise<string>,
): { queue: UploadQueue; videodb: VideoDBTarget | undefined } {
  const targets = new Map<string, UploadTarget>();
  let videodb: VideoDBTarget | undefined;
  if (config.videodb.apiKey) {
    // Read again on every connection: a key fixed in config.json resumes an auth-paused queue.
    const apiKey = (): string | undefined => {
      try {
        return setup(env).config.videodb.apiKey;
      } catch {
        return config.videodb.apiKey;
      }
    };
    videodb = new VideoDBTarget({
      apiKey,
      baseUrl: config.videodb.baseUrl,
      collection: config.videodb.collection,
      ffmpeg: async () => (await resolveFfmpeg({ configPath: config.capture.ffmpegPath, env })).path,
      segmentFile: (job) => {
        const seg = store.getSegment(job.session_id, job.channel_id, job.segment_seq);
        if (!seg || seg.state === 'pruned') return undefined;
        return { file: path.join(sessionDir(paths, job.session_id), seg.path), media: job.channel_id.startsWith('display:') ? 'video' : 'audio' };
      },
      exportFile,
      index: config.videodb.index,
      tmpDir: path.join(paths.home, 'tmp'),
    });
    targets.set('videodb', videodb);
  }
  return { queue: new UploadQueue(store.db, targets, { ...config.queue }, log.child({ mod: 'queue' }), notify), videodb };
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
