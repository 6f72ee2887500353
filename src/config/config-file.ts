/**
 * Changing config.json from the command line (`traced config set|unset`):
 * keys are the schema's dotted paths (an unknown one is refused with the
 * nearest known key), values are typed by the schema (numbers, booleans,
 * arrays parsed), the whole file is validated with loadConfig before it is
 * written, and it is written atomically (temp file, fsync, rename) with the
 * rest of its keys, their order and its indentation kept. The read-modify-write
 * holds a lock file, so parallel edits keep each other's keys; a symlinked
 * config.json is edited through the link.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, TracedError } from '../errors.js';
import { Config, distance, loadConfig, readConfigFile } from './config.js';

export type LeafKind = 'number' | 'integer' | 'boolean' | 'string' | 'enum' | 'array';
export interface ConfigKey {
  key: string;
  kind: LeafKind;
  /** enum: the values it takes. */
  values?: string[];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 10; i++) {
    const inner = (s as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def.innerType;
    if (!inner) break;
    s = inner;
  }
  return s;
}

/** Every settable key of the schema (its leaves), in schema order. */
export function configKeys(schema: z.ZodType = Config, at: string[] = []): ConfigKey[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => configKeys(v, [...at, k]));
  const key = at.join('.');
  if (s instanceof z.ZodNumber) return [{ key, kind: s.format === 'safeint' || s.isInt ? 'integer' : 'number' }];
  if (s instanceof z.ZodBoolean) return [{ key, kind: 'boolean' }];
  if (s instanceof z.ZodEnum) return [{ key, kind: 'enum', values: s.options.map(String) }];
  if (s instanceof z.ZodArray) return [{ key, kind: 'array' }];
  return [{ key, kind: 'string' }];
}

const badArgs = (message: string, data?: Record<string, unknown>) => new TracedError(ErrorCodes.CLI_USAGE, message, data ? { data } : undefined);

/** The key as the schema knows it, or TRACED_CLI_USAGE with the nearest key. Objects (`queue`) are keys for get, not for set. */
export function findKey(key: string, opts: { leafOnly: boolean }): ConfigKey | { key: string; kind: 'object' } {
  const keys = configKeys();
  const leaf = keys.find((k) => k.key === key);
  if (leaf) return leaf;
  if (!opts.leafOnly && keys.some((k) => k.key.startsWith(`${key}.`))) return { key, kind: 'object' };
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of keys) {
    // Near the whole path, or near its last part (`fps` → capture.fps).
    const d = Math.min(distance(key.toLowerCase(), k.key.toLowerCase()), distance(key.toLowerCase(), (k.key.split('.').pop() as string).toLowerCase()));
    if (d < bestD) [best, bestD] = [k.key, d];
  }
  const near = best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
  const parent = opts.leafOnly && keys.some((k) => k.key.startsWith(`${key}.`));
  throw badArgs(
    parent
      ? `"${key}" is a group of settings; set one of its keys: ${keys
          .filter((k) => k.key.startsWith(`${key}.`))
          .map((k) => k.key)
          .join(', ')}`
      : `unknown config key "${key.slice(0, 60)}"${near ? `; did you mean ${near}?` : ''} (traced config list shows every key)`,
    { key: key.slice(0, 60), ...(near ? { suggestion: near } : {}) },
  );
}

/** A value typed as the key's schema says: `5` a number, `true`/`false` a boolean, `a,b` or `["a","b"]` an array. */
export function parseConfigValue(k: ConfigKey, raw: string): unknown {
  const t = raw.trim();
  switch (k.kind) {
    case 'number':
    case 'integer': {
      const n = t === '' ? Number.NaN : Number(t);
      if (!Number.isFinite(n) || (k.kind === 'integer' && !Number.isInteger(n)))
        throw badArgs(`${k.key} takes ${k.kind === 'integer' ? 'a whole number' : 'a number'}, not ${JSON.stringify(raw.slice(0, 40))}`);
      return n;
    }
    case 'boolean':
      if (/^(true|yes|on|1)$/i.test(t)) return true;
      if (/^(false|no|off|0)$/i.test(t)) return false;
      throw badArgs(`${k.key} takes true or false, not ${JSON.stringify(raw.slice(0, 40))}`);
    case 'array': {
      if (t.startsWith('[')) {
        try {
          const v = JSON.parse(t);
          if (Array.isArray(v)) return v;
        } catch {
          // not JSON: reported below with the forms that work
        }
        throw badArgs(`${k.key} takes a JSON array (["a","b"]) or a comma-separated list (a,b), not ${JSON.stringify(raw.slice(0, 40))}`);
      }
      return t === '' ? [] : t.split(',').map((x) => x.trim());
    }
    case 'enum':
      if (!k.values?.includes(t)) throw badArgs(`${k.key} is one of ${k.values?.join(', ')}, not ${JSON.stringify(raw.slice(0, 40))}`);
      return t;
    default:
      return raw;
  }
}

export function getPath(obj: unknown, key: string): unknown {
  let v: unknown = obj;
  for (const part of key.split('.')) {
    if (!v || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function indentOf(text: string): string | number {
  const m = /\n([ \t]+)"/.exec(text);
  return m ? (m[1] as string) : 2;
}

/** Writes `text` to `file` so that a reader sees the old file or the new one, never half of one. */
function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let mode = 0o600;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    // a new file: private, it may hold an API key
  }
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true }); // ours, created exclusively above
    throw err;
  }
}

/**
 * The file a config path names: a symlink (a dotfile manager's) is followed to
 * its target, which is what gets rewritten, so the link stays a link.
 */
export function configTarget(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    try {
      // A link to a file not there yet: the file is created where it points.
      if (fs.lstatSync(file).isSymbolicLink()) return path.resolve(path.dirname(file), fs.readlinkSync(file));
    } catch {
      // no file at all
    }
    return file;
  }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
/** A lock held longer than this by a live process is still taken as abandoned: an edit takes milliseconds. */
const LOCK_STALE_MS = 30_000;

function lockIsStale(lock: string): fs.Stats | undefined {
  let st: fs.Stats;
  let pid = Number.NaN;
  try {
    st = fs.statSync(lock);
    pid = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
  } catch {
    return undefined; // gone meanwhile: simply retry
  }
  let alive = true;
  try {
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, 0);
    else alive = Date.now() - st.mtimeMs < 1000; // being written just now, or garbage
  } catch (err) {
    alive = (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !alive || Date.now() - st.mtimeMs > LOCK_STALE_MS ? st : undefined;
}

/** Takes a stale lock away without ever taking a live one: moved aside, and put back if it turned out to be a new lock. */
function breakStaleLock(lock: string, stale: fs.Stats): void {
  const aside = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    fs.renameSync(lock, aside);
  } catch {
    return; // someone else broke it first
  }
  if (fs.statSync(aside).ino !== stale.ino) {
    try {
      fs.linkSync(aside, lock); // a fresh lock taken meanwhile: given back unless yet another exists
    } catch {
      // another holder exists now; the one moved aside had finished or will find its lock gone (its write is still atomic)
    }
  }
  fs.rmSync(aside, { force: true });
}

/**
 * Runs `fn` holding `<file>.lock` (created with O_EXCL), so concurrent
 * read-modify-writes of the config file (parallel `traced config set`) do not
 * lose each other's keys. A lock whose process is gone, or older than 30 s, is
 * stale and broken; waiting longer than `timeoutMs` is TRACED_CONFIG_INVALID naming the lock.
 */
export function withConfigLock<T>(file: string, fn: () => T, timeoutMs = 10_000): T {
  const lock = `${file}.lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(lock, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      try {
        fs.writeSync(fd, String(process.pid));
      } finally {
        fs.closeSync(fd);
      }
      try {
        return fn();
      } finally {
        try {
          if (fs.readFileSync(lock, 'utf8') === String(process.pid)) fs.unlinkSync(lock);
        } catch {
          // broken as stale by another process after a very long edit: nothing of ours to remove
        }
      }
    }
    const stale = lockIsStale(lock);
    if (stale) {
      breakStaleLock(lock, stale);
      continue;
    }
    if (Date.now() > deadline)
      throw new TracedError(
        ErrorCodes.CONFIG_INVALID,
        `${file} is being changed by another traced process (lock ${lock}); try again, or delete the lock file if no traced config command is running`,
        { data: { file, lock } },
      );
    sleepSync(wait + Math.floor(Math.random() * wait));
  }
}

/**
 * Sets (value given) or removes (undefined) `key` in the config file, after
 * checking that the result is a valid configuration; returns the new file
 * content. TRACED_CLI_USAGE for a bad key or value, TRACED_CONFIG_INVALID when
 * the file is already broken or the value is refused by the schema.
 */
export function editConfigFile(configPath: string, key: string, value: unknown): Record<string, unknown> {
  const file = configTarget(configPath);
  return withConfigLock(file, () => edit(file, key, value));
}

function edit(file: string, key: string, value: unknown): Record<string, unknown> {
  const current = readConfigFile(file);
  if (current === null || typeof current !== 'object' || Array.isArray(current))
    throw new TracedError(ErrorCodes.CONFIG_INVALID, `${file} does not hold a JSON object; fix or delete it first`, { data: { file } });
  const next = structuredClone(current) as Record<string, unknown>;
  const parts = key.split('.');
  const chain: Record<string, unknown>[] = [next];
  for (const part of parts.slice(0, -1)) {
    const cur = chain[chain.length - 1] as Record<string, unknown>;
    const child = cur[part];
    if (!child || typeof child !== 'object' || Array.isArray(child)) {
      if (value === undefined) return current as Record<string, unknown>;
      cur[part] = {};
    }
    chain.push(cur[part] as Record<string, unknown>);
  }
  const last = parts[parts.length - 1] as string;
  const holder = chain[chain.length - 1] as Record<string, unknown>;
  if (value === undefined) {
    delete holder[last];
    // Groups left empty go too: `unset` leaves the file as if the key had never been set.
    for (let i = chain.length - 1; i > 0; i--)
      if (Object.keys(chain[i] as object).length === 0) delete (chain[i - 1] as Record<string, unknown>)[parts[i - 1] as string];
  } else holder[last] = value;
  try {
    loadConfig({ env: {}, file: next, source: file });
  } catch (err) {
    if (err instanceof TracedError && err.code === ErrorCodes.CONFIG_INVALID) {
      const issues = (err.data?.issues as string[] | undefined)?.filter((i) => i.startsWith(`"${key}"`)) ?? [];
      if (issues.length) throw badArgs(`${key}: ${issues.map((i) => i.replace(`"${key}": `, '')).join('; ')}; nothing was written`, { key });
    }
    throw err;
  }
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    // no file yet: written with two-space indentation
  }
  writeAtomic(file, `${JSON.stringify(next, null, indentOf(text))}\n`);
  return next;
}
