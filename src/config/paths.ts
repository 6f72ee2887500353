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
    socket,
    lockFile: path.join(socketDir, 'traced.lock'),
  };
}

export function sessionDir(paths: Paths, sessionId: string): string {
  return path.join(paths.sessionsDir, sessionId);
}

/**
 * Creates the socket directory as 0700 and checks that only this user can
 * enter it: the directory, not the socket's own mode, is what keeps other
 * users out on every Unix.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink()) {
    throw new TracedError(ErrorCodes.SOCKET_DIR_INSECURE, `${dir} must be a real directory`);
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new TracedError(ErrorCodes.SOCKET_DIR_INSECURE, `${dir} belongs to another user; set TRACED_SOCKET_DIR to a directory of yours`);
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

export function ensureDataDirs(paths: Paths): void {
  fs.mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  fs.mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(paths.sessionsDir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') ensurePrivateDir(paths.socketDir);
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
