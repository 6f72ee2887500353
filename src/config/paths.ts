/**
 * Where every file lives. The one module that knows the layout of TRACED_HOME
 * and the socket location per platform.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import type { Env } from './config.js';

export interface Paths {
  home: string;
  db: string;
  config: string;
  logDir: string;
  logFile: string;
  sessionsDir: string;
  socketDir: string;
  /** True when the user named the socket directory (TRACED_SOCKET_DIR or socketDir): traced never changes its mode. */
  socketDirChosen: boolean;
  socket: string;
  lockFile: string;
}

/** sun_path is 108 bytes on Linux and 104 on macOS, including the NUL. */
const MAX_SOCKET_BYTES = process.platform === 'darwin' ? 103 : 107;

export function defaultHome(env: Env, platform: NodeJS.Platform = process.platform): string {
  if (env.TRACED_HOME) return path.resolve(env.TRACED_HOME);
  const home = env.HOME ?? os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'traced');
  if (platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'traced');
  return path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'traced');
}

function defaultSocketDir(env: Env, home: string, platform: NodeJS.Platform): string {
  // An explicit TRACED_HOME gets its own socket so that several homes (tests,
  // a second profile) never talk to each other's daemon.
  if (env.TRACED_HOME) return path.join(home, 'run');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  if (platform === 'linux' && env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'traced');
  if (platform === 'darwin') return path.join(env.TMPDIR || os.tmpdir(), `traced-${uid}`);
  return path.join(os.tmpdir(), `traced-${uid}`);
}

export function resolvePaths(opts: { env: Env; home?: string; socketDir?: string; platform?: NodeJS.Platform }): Paths {
  const platform = opts.platform ?? process.platform;
  const home = path.resolve(opts.home ?? defaultHome(opts.env, platform));
  const socketDir = path.resolve(opts.socketDir ?? defaultSocketDir(opts.env, home, platform));
  const user = (opts.env.USERNAME ?? opts.env.USER ?? 'user').replace(/[^\w.-]/g, '_');
  const socket = platform === 'win32' ? `\\\\.\\pipe\\traced-${user}` : path.join(socketDir, 'traced.sock');
  if (platform !== 'win32' && Buffer.byteLength(socket) > MAX_SOCKET_BYTES) {
    throw new TracedError(
      ErrorCodes.SOCKET_PATH_TOO_LONG,
      `the socket path ${socket} is ${Buffer.byteLength(socket)} bytes; the limit is ${MAX_SOCKET_BYTES}. ` +
        'Set TRACED_SOCKET_DIR (or "socketDir" in config.json) to a shorter directory, e.g. /tmp/traced-$UID.',
      { data: { socket, limit: MAX_SOCKET_BYTES } },
    );
  }
  return {
    home,
    db: path.join(home, 'traced.db'),
    config: path.join(home, 'config.json'),
    logDir: path.join(home, 'logs'),
    logFile: path.join(home, 'logs', 'traced.log'),
    sessionsDir: path.join(home, 'sessions'),
    socketDir,
    socketDirChosen: opts.socketDir !== undefined,
    socket,
    lockFile: path.join(socketDir, 'traced.lock'),
  };
}

type Fail = (reason: string, fix: string | undefined, err?: unknown) => TracedError;

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;
const modeOf = (st: fs.Stats): string => `0${(st.mode & 0o777).toString(8)}`;
const myUid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);

const canAccess = (p: string, mode: number): boolean => {
  try {
    fs.accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
};
const statOrUndefined = (p: string): fs.Stats | undefined => {
  try {
    return fs.statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // EACCES above it: the caller says so
  }
};

/** Why `dir` could not be made or written, in words: the errno read against what is on disk. */
function reasonFor(dir: string, err: unknown, creating: boolean): { reason: string; fix?: string | undefined } {
  const code = errnoOf(err);
  // A directory being created is refused by its parent; an existing one by itself.
  const where = creating ? path.dirname(dir) : dir;
  switch (code) {
    case 'EACCES':
    case 'EPERM': {
      // The folder that refuses: the first one above that cannot be entered, else `where` itself.
      let refusing = where;
      let verb = creating ? 'create folders in it' : 'write in it';
      for (let up = path.dirname(dir), above: string[] = []; ; up = path.dirname(up)) {
        above.unshift(up);
        if (path.dirname(up) === up) {
          const closed = above.find((a) => !canAccess(a, fs.constants.X_OK));
          if (closed) [refusing, verb] = [closed, 'enter it'];
          break;
        }
      }
      const st = statOrUndefined(refusing);
      const mine = st !== undefined && myUid() !== undefined && st.uid === myUid();
      const owner = st ? ` ${mine ? 'is yours' : `belongs to another user (uid ${st.uid})`} and has mode ${modeOf(st)}, so` : ':';
      // Another user's folder is only ours to take back when it is the one traced asked for (left by `sudo traced`).
      const fix = mine ? `chmod u+rwx ${refusing}` : st && refusing === dir ? `sudo chown -R ${myUid()} ${dir}` : undefined;
      return { reason: `permission denied: ${refusing}${owner} this user (uid ${myUid() ?? '?'}) cannot ${verb}`, fix };
    }
    case 'EROFS':
      return { reason: `${where} is on a read-only file system` };
    case 'ENOENT':
      // The parent exists (it was checked just before): it refuses new entries, as /proc and /sys do.
      return { reason: `${where} does not accept new folders (a virtual file system such as /proc or /sys?)` };
    case 'ENOTDIR':
      return { reason: `a folder above ${dir} is a file, not a directory` };
    case 'EEXIST':
      return { reason: `${dir} exists and is not a directory (a dangling symlink?)` };
    case 'ENOSPC':
      return { reason: `the disk holding ${where} is full` };
    case 'EDQUOT':
      return { reason: `the disk quota for ${where} is used up` };
    case 'ENAMETOOLONG':
    case 'ELOOP':
      return { reason: `${dir} cannot be resolved (${code})` };
    default:
      return { reason: `${code ?? 'error'}: ${(err as Error)?.message ?? String(err)}` };
  }
}

/**
 * Makes sure `dir` is a directory this process can write, creating it and any
 * missing parents (mode 0700) one level at a time. The work is bounded by the
 * depth of the path: Node's own recursive mkdir loops for ever where a parent
 * exists but refuses children with ENOENT (/proc). Every failure goes to `fail`
 * with the reason in words (a file in the way, owner and mode, read-only file
 * system, full disk): the caller picks the code and the fix.
 */
export function ensureDir(dir: string, fail: Fail): void {
  const chain: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of chain) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(d, { throwIfNoEntry: false });
    } catch (err) {
      const r = reasonFor(d, err, false);
      throw fail(r.reason, r.fix, err);
    }
    if (st) {
      if (!st.isDirectory()) throw fail(`${d} is a file, not a directory`, undefined);
      continue;
    }
    try {
      fs.mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      // Another process made it between our stat and our mkdir: fine if it is a directory.
      if (errnoOf(err) === 'EEXIST' && fs.statSync(d, { throwIfNoEntry: false })?.isDirectory()) continue;
      const r = reasonFor(d, err, true);
      throw fail(r.reason, r.fix, err);
    }
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    const r = reasonFor(dir, err, false);
    throw fail(r.reason, r.fix, err);
  }
}

/** The failure of a data directory: TRACED_HOME_UNWRITABLE naming the directory, or TRACED_DISK_FULL. */
function homeFail(home: string, dir: string): Fail {
  return (reason, fix, err) => {
    const code = errnoOf(err) === 'ENOSPC' ? ErrorCodes.DISK_FULL : ErrorCodes.HOME_UNWRITABLE;
    const how = fix ? `${fix}, or set` : 'set';
    return new TracedError(
      code,
      `cannot use ${dir} for traced's data: ${reason}. Fix: ${how} TRACED_HOME to a directory you can write (the default is ~/.local/share/traced)` +
        `${dir === home ? '' : `; traced keeps its data in ${home}`}.`,
      { data: { dir, home, reason, ...(errnoOf(err) ? { errno: errnoOf(err) } : {}) }, cause: err },
    );
  };
}

function socketFail(dir: string): Fail {
  return (reason, fix, err) =>
    new TracedError(
      ErrorCodes.SOCKET_DIR_UNUSABLE,
      `cannot use ${dir} for the daemon's socket: ${reason}. Fix: ${fix ? `${fix}, or set` : 'set'} TRACED_SOCKET_DIR (or "socketDir" in config.json) to a private directory of yours, e.g. /tmp/traced-${myUid() ?? '$UID'}.`,
      { data: { dir, reason, ...(errnoOf(err) ? { errno: errnoOf(err) } : {}) }, cause: err },
    );
}

/**
 * Creates the socket directory as 0700 and checks that only this user can
 * enter it: the directory, not the socket's own mode, is what keeps other
 * users out on every Unix. A directory that cannot be made or written (a file
 * in the way, a read-only or foreign parent, mode 0500) is
 * TRACED_SOCKET_DIR_UNUSABLE; a symlink or another user's directory is
 * TRACED_SOCKET_DIR_INSECURE.
 */
export function ensurePrivateDir(dir: string, opts: { mayTighten?: boolean } = {}): void {
  const fail = socketFail(dir);
  let st0: fs.Stats | undefined;
  try {
    st0 = fs.lstatSync(dir, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR and the like: ensureDir below finds the file in the way and says so
  }
  if (st0?.isSymbolicLink()) throw new TracedError(ErrorCodes.SOCKET_DIR_INSECURE, `${dir} must be a real directory, not a symlink`);
  if (st0 && !st0.isDirectory()) throw fail(`${dir} is a file, not a directory`, undefined);
  if (!st0) ensureDir(dir, fail);
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink()) {
    throw new TracedError(ErrorCodes.SOCKET_DIR_INSECURE, `${dir} must be a real directory`);
  }
  if (myUid() !== undefined && st.uid !== myUid()) {
    throw new TracedError(ErrorCodes.SOCKET_DIR_INSECURE, `${dir} belongs to another user; set TRACED_SOCKET_DIR to a directory of yours`);
  }
  // Checked on the mode, not with access(): root may write anywhere, but a 0500 directory says someone meant it closed.
  if ((st.mode & 0o700) !== 0o700) {
    throw fail(`it has mode ${modeOf(st)}; the daemon must create its socket and lock file in it`, `chmod 700 ${dir}`);
  }
  if ((st.mode & 0o077) !== 0) {
    // Only a folder traced made for itself is tightened: a folder the user named (/tmp, a shared dir) is never changed.
    if (st0 && opts.mayTighten === false) {
      throw new TracedError(
        ErrorCodes.SOCKET_DIR_INSECURE,
        `${dir} has mode ${modeOf(st)}: other users could enter it, and traced does not change the mode of a folder you named. Fix: point TRACED_SOCKET_DIR (or "socketDir") at a private folder of its own, e.g. /tmp/traced-${myUid() ?? '$UID'}, or chmod 700 ${dir} if it is yours alone.`,
        { data: { dir, mode: modeOf(st) } },
      );
    }
    fs.chmodSync(dir, 0o700);
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    const r = reasonFor(dir, err, false);
    throw fail(r.reason, r.fix, err);
  }
}

/**
 * Creates TRACED_HOME, its logs and sessions folders and the socket directory,
 * or throws TRACED_HOME_UNWRITABLE / TRACED_SOCKET_DIR_UNUSABLE (TRACED_DISK_FULL
 * on a full disk) naming the directory, the reason and the fix. Fast on any
 * path, including ones under /proc or under a regular file.
 */
/** A folder under TRACED_HOME (spool, run, models…), created the bounded way with TRACED_HOME_UNWRITABLE when it cannot be. */
export function ensureHomeDir(paths: Paths, dir: string): void {
  ensureDir(dir, homeFail(paths.home, dir));
}

export function ensureDataDirs(paths: Paths): void {
  for (const dir of [paths.home, paths.logDir, paths.sessionsDir]) ensureDir(dir, homeFail(paths.home, dir));
  if (process.platform !== 'win32') ensurePrivateDir(paths.socketDir, { mayTighten: !paths.socketDirChosen });
}

/** Free bytes on the disk holding `dir` (or its nearest existing parent); undefined when unknown. */
export function freeBytes(dir: string): number | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      const st = fs.statfsSync(d);
      return st.bavail * st.bsize;
    } catch {
      if (path.dirname(d) === d) return undefined;
    }
  }
}

/** Where a damaged traced.db is moved at `at` (its -wal and -shm keep their suffixes after this name). */
export function movedAsideDb(db: string, at: Date): string {
  return `${db}.corrupt-${at.toISOString().replace(/[:.]/g, '-')}`;
}

/** Damaged databases moved aside so far, oldest first (their -wal/-shm companions not listed). */
export function movedAsideDbs(db: string): string[] {
  const prefix = `${path.basename(db)}.corrupt-`;
  try {
    return fs
      .readdirSync(path.dirname(db))
      .filter((n) => n.startsWith(prefix) && !/-(wal|shm)$/.test(n))
      .sort()
      .map((n) => path.join(path.dirname(db), n));
  } catch {
    return []; // no home yet: nothing was ever moved
  }
}
