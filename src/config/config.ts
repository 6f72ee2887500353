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
  log: z.object({ maxFileMb: z.number().positive().default(10), keepFiles: z.number().int().min(1).default(5) }).prefault({}),
  ipc: z
    .object({
      /** Frames larger than this close the connection (guarded parser). */
      maxMessageBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024),
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
      /** Terminal output a session keeps (all its `traced shell` streams); past it a `terminal.output_dropped` marker. */
      terminalOutputMaxMb: z.number().min(1).max(100_000).default(64),
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
      maxDelayMs: z
        .number()
        .int()
        .min(100)
        .default(5 * 60_000),
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

/**
 * Reads and parses a JSON config file. A missing file (or one under a path
 * that does not exist) is an empty config; so is a file of only whitespace.
 * Broken JSON is TRACED_CONFIG_INVALID with the line and column.
 */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a folder above is a file, so there is no config; the home check says what is wrong.
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw new TracedError(
      ErrorCodes.CONFIG_INVALID,
      `cannot read ${file}: ${(err as Error).message}. Fix: make it a readable file, or delete it to use the defaults.`,
      {
        data: { file },
        cause: err,
      },
    );
  }
  // Editors on Windows save a byte-order mark that JSON.parse refuses.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    const at = jsonErrorAt(text);
    // V8's own message may quote the file (an API key with it): only the place and the character are shown.
    const what = at
      ? at.offset >= text.length
        ? 'the file ends before the JSON does (a } or ] missing?)'
        : `unexpected ${JSON.stringify(text[at.offset])}`
      : 'unreadable JSON';
    throw new TracedError(
      ErrorCodes.CONFIG_INVALID,
      `${file} is not valid JSON${at ? ` at line ${at.line}, column ${at.column}` : ''}: ${what}. Fix: correct it there (JSON has no comments or trailing commas), or delete the file to use the defaults.`,
      { data: { file, ...(at ? { line: at.line, column: at.column } : {}) } },
    );
  }
}

/**
 * Where JSON.parse gave up, as a 1-based line and column: V8 names the
 * position only in some of its messages, so a small scanner finds the first
 * character that cannot continue a JSON text.
 */
export function jsonErrorAt(text: string): { line: number; column: number; offset: number } | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const str = () => {
    i++;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c) || c < 0x20) fail();
      if (c === 0x22) return void i++;
      if (c === 0x5c) {
        i++;
        if (text[i] === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail();
          }
          i++;
        } else if ('"\\/bfnrt'.includes(text[i] ?? 'x')) i++;
        else fail();
      } else i++;
    }
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '' || m[0] === '-') fail();
    i += (m as RegExpExecArray)[0].length;
  };
  // Iterative, so a hostile nesting depth cannot overflow the stack.
  const value = () => {
    const stack: ('{' | '[')[] = [];
    for (;;) {
      ws();
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        ws();
        if (text[i] === (c === '{' ? '}' : ']')) i++;
        else {
          stack.push(c);
          if (c === '{') {
            if (text[i] !== '"') fail();
            str();
            ws();
            if (text[i] !== ':') fail();
            i++;
          }
          continue;
        }
      } else if (c === '"') str();
      else if (c === 't') lit('true');
      else if (c === 'f') lit('false');
      else if (c === 'n') lit('null');
      else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) num();
      else fail();
      // After a value: close containers or go on to the next member.
      for (;;) {
        const top = stack[stack.length - 1];
        if (!top) return;
        ws();
        if (text[i] === ',') {
          i++;
          if (top === '{') {
            ws();
            if (text[i] !== '"') fail();
            str();
            ws();
            if (text[i] !== ':') fail();
            i++;
          }
          break;
        }
        if (text[i] === (top === '{' ? '}' : ']')) {
          i++;
          stack.pop();
          continue;
        }
        fail();
      }
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (at) {
    if (typeof at !== 'number') return undefined;
    // Cut short: point just past the last character written, not at trailing blank lines.
    const before = at >= text.length ? text.trimEnd() : text.slice(0, at);
    const line = before.split('\n').length;
    return { line, column: before.length - before.lastIndexOf('\n'), offset: Math.min(at, text.length) };
  }
}

/** Where each env variable lands in the config, to name the variable when its value is refused. */
const ENV_KEYS: Record<string, string> = {
  home: 'TRACED_HOME',
  socketDir: 'TRACED_SOCKET_DIR',
  logLevel: 'TRACED_LOG_LEVEL',
  'videodb.apiKey': 'VIDEO_DB_API_KEY',
  'videodb.baseUrl': 'TRACED_VIDEODB_URL',
};

/**
 * Validates file + env into a Config. Env wins over the file. The file must
 * be a JSON object; every key must be one the schema knows, at any depth (a
 * misspelt key would otherwise be dropped and its default used without a
 * word): an unknown key is TRACED_CONFIG_INVALID naming it, with the nearest
 * known key as a did-you-mean. `source` names the file in messages.
 */
export function loadConfig({ env, file, source = 'config.json' }: { env: Env; file: unknown; source?: string }): Config {
  if (file === null || typeof file !== 'object' || Array.isArray(file)) {
    const kind = file === null ? 'null' : Array.isArray(file) ? 'an array' : `a ${typeof file}`;
    throw new TracedError(
      ErrorCodes.CONFIG_INVALID,
      `${source} must hold a JSON object such as {"logLevel": "info"}, but it holds ${kind}. Fix: write {} there for the defaults, or delete the file.`,
      { data: { file: source, issues: [`(root): expected an object, got ${kind}`] } },
    );
  }
  const unknown = unknownKeys(Config, file, []);
  const issues = unknown.map((u) => `unknown key "${u.path}"${u.suggestion ? ` (did you mean "${u.suggestion}"?)` : ''}`);
  const base: Record<string, unknown> = { ...(file as Record<string, unknown>) };
  if (env.TRACED_HOME) base.home = env.TRACED_HOME;
  if (env.TRACED_SOCKET_DIR) base.socketDir = env.TRACED_SOCKET_DIR;
  if (env.TRACED_LOG_LEVEL) base.logLevel = env.TRACED_LOG_LEVEL;
  if (env.VIDEO_DB_API_KEY || env.TRACED_VIDEODB_URL) {
    const given = base.videodb;
    const v = { ...(given && typeof given === 'object' && !Array.isArray(given) ? (given as Record<string, unknown>) : {}) };
    if (env.VIDEO_DB_API_KEY) v.apiKey = env.VIDEO_DB_API_KEY;
    if (env.TRACED_VIDEODB_URL) v.baseUrl = env.TRACED_VIDEODB_URL;
    base.videodb = v;
  }
  const parsed = Config.safeParse(base);
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const at = i.path.join('.');
      const envName = ENV_KEYS[at];
      issues.push(`"${at || '(root)'}"${envName && env[envName] ? ` (from ${envName})` : ''}: ${i.message}`);
    }
  }
  if (!parsed.success || issues.length) {
    throw new TracedError(
      ErrorCodes.CONFIG_INVALID,
      `invalid configuration in ${source}: ${issues.slice(0, 10).join('; ')}${issues.length > 10 ? `; and ${issues.length - 10} more` : ''}. Fix: correct ${issues.length > 1 ? 'these' : 'it'} in ${source} (see README, "Configuration").`,
      { data: { file: source, issues, unknown_keys: unknown } },
    );
  }
  return parsed.data;
}

/** The object schema inside optional/default/prefault/nullable wrappers, if there is one. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s && i < 10; i++) {
    if (s instanceof z.ZodObject) return s.shape as Record<string, z.ZodType>;
    const def: { innerType?: z.ZodType } = (s as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def;
    s = def.innerType;
  }
  return undefined;
}

export interface UnknownKey {
  /** Dotted path of the key in the file. */
  path: string;
  /** The known key (dotted path) it most likely means. */
  suggestion?: string;
}

/** Every key of `value` the schema does not know, depth first, with the nearest known key. */
export function unknownKeys(schema: z.ZodType, value: unknown, at: string[]): UnknownKey[] {
  const shape = objectShape(schema);
  if (!shape || !value || typeof value !== 'object' || Array.isArray(value)) return [];
  const out: UnknownKey[] = [];
  for (const key of Object.keys(value)) {
    const child = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (child) {
      out.push(...unknownKeys(child, (value as Record<string, unknown>)[key], [...at, key]));
      continue;
    }
    const suggestion = suggest(key, Object.keys(shape), at) ?? suggestElsewhere(key);
    out.push({ path: [...at, key].join('.'), ...(suggestion ? { suggestion } : {}) });
  }
  return out;
}

/** The closest of `known` to `key` (case-insensitive edit distance), as a dotted path under `at`. */
function suggest(key: string, known: string[], at: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  const limit = Math.max(1, Math.floor(key.length / 3));
  return best !== undefined && bestD <= limit ? [...at, best].join('.') : undefined;
}

/** A key put at the wrong level (`segmentSeconds` at the top) is suggested at its right place. */
function suggestElsewhere(key: string): string | undefined {
  const all: string[][] = [];
  const walk = (schema: z.ZodType, at: string[]) => {
    const shape = objectShape(schema);
    if (!shape) return;
    for (const [k, v] of Object.entries(shape)) {
      all.push([...at, k]);
      walk(v, [...at, k]);
    }
  };
  walk(Config, []);
  const exact = all.find((p) => (p[p.length - 1] as string).toLowerCase() === key.toLowerCase());
  if (exact) return exact.join('.');
  const near = all.filter((p) => distance((p[p.length - 1] as string).toLowerCase(), key.toLowerCase()) <= Math.max(1, Math.floor(key.length / 4)));
  return near.length === 1 ? (near[0] as string[]).join('.') : undefined;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
export function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Math.abs(a.length - b.length);
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
