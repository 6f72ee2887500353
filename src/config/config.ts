/**
 * The one configuration schema. `loadConfig` is pure: it takes the environment
 * and the parsed config file and returns a validated Config. Nothing else in
 * the code base reads `process.env`.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { ErrorCodes, TracedError } from '../errors.js';

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const Config = z.object({
  /** Overrides the platform default data directory. Env: TRACED_HOME. */
  home: z.string().optional(),
  /** Directory for the IPC socket (must be short: sun_path is ~104 bytes). Env: TRACED_SOCKET_DIR. */
  socketDir: z.string().optional(),
  logLevel: LogLevel.default('info'),
  /** Rotated log files: size of one file and how many are kept. */
  log: z
    .object({ maxFileMb: z.number().positive().default(10), keepFiles: z.number().int().min(1).default(5) })
    .prefault({}),
  ipc: z
    .object({
      /** Frames larger than this close the connection (guarded parser). */
      maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      /** A client that has not answered within this time gets TRACED_IPC_TIMEOUT. */
      requestTimeoutMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  session: z
    .object({
      defaultProfile: z.enum(['full', 'audio', 'events']).default('events'),
      /** Group-commit window for events: acknowledged only after the commit. */
      commitIntervalMs: z.number().int().min(0).max(1000).default(5),
      /** events.jsonl is fsync'd at most this often (the DB is fsync'd on every commit). */
      jsonlSyncMs: z.number().int().min(0).default(1000),
    })
    .prefault({}),
  files: z
    .object({
      /** Extra ignore globs relative to the project (`*.tmp`, `generated/**`). */
      ignore: z.array(z.string()).default([]),
      /** Quiet period before a write is reported, merging bursts of appends. */
      settleMs: z.number().int().min(0).default(150),
    })
    .prefault({}),
  window: z.object({ pollMs: z.number().int().min(100).default(1000) }).prefault({}),
  capture: z
    .object({
      /** ffmpeg binary; otherwise FFMPEG_BIN, ffmpeg-static, then ffmpeg on PATH. */
      ffmpegPath: z.string().optional(),
      segmentSeconds: z.number().int().min(2).max(600).default(60),
      fps: z.number().min(0.2).max(30).default(2),
      /** A media channel whose file has not grown for this long is degraded. */
      stallMs: z.number().int().min(1000).default(10_000),
      /** Finished audio segments quieter than this mean level (dB) mark the channel silent. */
      silenceDb: z.number().max(0).default(-70),
      /** Longest wait between restarts of a dead ffmpeg. */
      restartMaxMs: z.number().int().min(500).default(10_000),
    })
    .prefault({}),
  privacy: z
    .object({
      /** Window title/app patterns (case-insensitive regular expressions) never recorded on screen. */
      excludeWindows: z.array(z.string()).default(['1password', 'keepass', 'bitwarden', 'lastpass', 'password']),
      /** Extra secret-file globs (gitignore syntax) the files channel never stats, reads or reports, on top of DESIGN §11's list. */
      secretFiles: z.array(z.string()).default([]),
    })
    .prefault({}),
  /** Local indexing of recorded media: on-screen text and speech, on this machine. */
  index: z
    .object({
      ocr: z
        .object({
          enabled: z.boolean().default(true),
          engine: z.enum(['auto', 'tesseract', 'tesseract.js']).default('auto'),
          /** One frame every this many ms of screen is read. */
          intervalMs: z.number().int().min(500).default(5000),
          /** Frames whose every 64x36 block is within this many grey levels of the last frame read are skipped. */
          duplicateThreshold: z.number().min(0).max(255).default(3),
        })
        .prefault({}),
      speech: z
        .object({
          enabled: z.boolean().default(true),
          engine: z.enum(['auto', 'whisper', 'pocketsphinx']).default('auto'),
          /** A model name from `traced models list` or a path to a ggml file; the best installed one otherwise. */
          model: z.string().optional(),
          /** Audio segments quieter than this mean level (dB) are not transcribed. */
          silenceDb: z.number().max(0).default(-55),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Media retention (off unless set): see src/retention.ts. Events and transcripts are kept. */
  retention: z
    .object({
      maxDiskGb: z.number().positive().optional(),
      maxAgeDays: z.number().positive().optional(),
      /** Past this, media not yet uploaded is deleted too (oldest first), loudly. */
      hardCapGb: z.number().positive().optional(),
    })
    .prefault({}),
  /** AI-assistant logs that become events (read-only; only lines inside the session's time and project). */
  assistant: z
    .object({
      claudeCode: z.boolean().default(true),
      /** Claude Code's projects folder; otherwise $CLAUDE_CONFIG_DIR/projects or ~/.claude/projects. */
      claudeDir: z.string().optional(),
    })
    .prefault({}),
  /** Upload queue: retries, backoff and concurrency for every target. */
  queue: z
    .object({
      /** Uploads at once: 4 hides the three round trips each upload needs (measured: 0.65x of plain POSTs at 2, 0.81x at 4). */
      concurrency: z.number().int().min(1).max(16).default(4),
      maxAttempts: z.number().int().min(1).max(100).default(8),
      /** First retry delay; doubled per attempt up to maxDelayMs, with ±25% jitter. */
      baseDelayMs: z.number().int().min(10).default(2000),
      maxDelayMs: z.number().int().min(100).default(5 * 60_000),
      /** Per-kind deadline of one attempt. */
      timeoutMs: z.object({ segment: z.number().int().min(1000).default(120_000), export: z.number().int().min(1000).default(600_000) }).prefault({}),
      /** How long `stop` waits for the session's uploads before they go on in the background. */
      flushTimeoutMs: z.number().int().min(0).default(30_000),
    })
    .prefault({}),
  /** VideoDB, the optional cloud target. Without an API key nothing is queued and nothing leaves the machine. Env: VIDEO_DB_API_KEY, TRACED_VIDEODB_URL. */
  videodb: z
    .object({
      apiKey: z.string().min(1).optional(),
      baseUrl: z.string().url().default('https://api.videodb.io'),
      /** Collection id; the account's default collection otherwise. */
      collection: z.string().default('default'),
      /** What VideoDB indexes on each session's exported video (spoken words feed cloud search). */
      index: z.object({ spokenWords: z.boolean().default(true), scenes: z.boolean().default(false) }).prefault({}),
    })
    .prefault({}),
});
export type Config = z.infer<typeof Config>;

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads and parses a JSON config file; a missing file is an empty config. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new TracedError(ErrorCodes.CONFIG_INVALID, `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TracedError(ErrorCodes.CONFIG_INVALID, `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Validates file + env into a Config. Env wins over the file. */
export function loadConfig({ env, file }: { env: Env; file: unknown }): Config {
  const base = file && typeof file === 'object' && !Array.isArray(file) ? { ...(file as Record<string, unknown>) } : {};
  if (env.TRACED_HOME) base.home = env.TRACED_HOME;
  if (env.TRACED_SOCKET_DIR) base.socketDir = env.TRACED_SOCKET_DIR;
  if (env.TRACED_LOG_LEVEL) base.logLevel = env.TRACED_LOG_LEVEL;
  if (env.VIDEO_DB_API_KEY || env.TRACED_VIDEODB_URL) {
    const v = { ...((base.videodb as Record<string, unknown> | undefined) ?? {}) };
    if (env.VIDEO_DB_API_KEY) v.apiKey = env.VIDEO_DB_API_KEY;
    if (env.TRACED_VIDEODB_URL) v.baseUrl = env.TRACED_VIDEODB_URL;
    base.videodb = v;
  }
  const parsed = Config.safeParse(base);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TracedError(ErrorCodes.CONFIG_INVALID, `invalid configuration: ${issues.join('; ')}`, { data: { issues } });
  }
  return parsed.data;
}
