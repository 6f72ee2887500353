/**
 * Path confinement for names that come from outside (recordings, IPC, folder
 * scans): session ids match one pattern, file names are plain relative names,
 * and every path is checked to stay under its root without passing through a
 * symlink before it is opened (DESIGN §11 "Paths").
 *
 * Every refusal is a `TracedError(INVALID_PARAMS)` whose message and
 * `data.field` name the caller's field, never the offending value: the value
 * is hostile input and may be anything (a secret, a path, a terminal escape).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';

/** Time-sortable, readable and safe as a directory name: `20261121-145012-k3x9`. */
import { SESSION_ID_PATTERN } from '../model.js';

export { SESSION_ID_PATTERN };

const SEGMENT = /^[A-Za-z0-9._:-]{1,255}$/;
const MAX_SEGMENTS = 3;
// O_NOFOLLOW does not exist on Windows (fs.constants leaves it undefined); there
// the lstat walk in confinedPath is the only guard.
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
// A FIFO opened for reading blocks until a writer appears; O_NONBLOCK makes the
// open return so fstat can refuse it. Harmless for regular files.
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;
const COPY_CHUNK_BYTES = 1 << 20;

function refuse(field: string, what: string): TracedError {
  return new TracedError(ErrorCodes.INVALID_PARAMS, `${field} ${what}`, { data: { field } });
}

/** Throws unless `id` is a string matching {@link SESSION_ID_PATTERN}; `field` names it in the error. */
export function assertSessionId(id: unknown, field: string): asserts id is string {
  if (typeof id !== 'string' || !SESSION_ID_PATTERN.test(id)) throw refuse(field, 'is not a session id (like 20261121-145012-k3x9)');
}

/**
 * True for a plain relative file name such as `display-1/00000.mkv`: at most
 * three `/`-separated segments of `[A-Za-z0-9._:-]`, none empty or starting
 * with `.` (so no `..`), no backslash, no NUL, not absolute, no drive letter.
 */
export function isPlainRelative(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0) return false;
  if (name.includes('\0') || name.includes('\\') || name.startsWith('/')) return false;
  const segments = name.split('/');
  if (segments.length > MAX_SEGMENTS) return false;
  // `C:foo` is a drive-relative path on Windows.
  if (/^[A-Za-z]:/.test(segments[0] ?? '')) return false;
  return segments.every((s) => SEGMENT.test(s) && !s.startsWith('.'));
}

/**
 * Resolves `rel` against `root` and returns the absolute path, or throws when
 * it would land outside `root` (or on `root` itself), holds a NUL, or when any
 * component that already exists below `root` is a symlink. `root` itself may
 * be reached through symlinks (macOS `/tmp`); nothing under it may be.
 *
 * The check and the later open are two steps: the caller still opens with
 * O_NOFOLLOW / O_EXCL (see {@link copyFileConfined}) so a symlink swapped in
 * at the last component is not followed either.
 */
export function confinedPath(root: string, rel: string, field = 'path'): string {
  if (typeof rel !== 'string' || rel.length === 0 || rel.includes('\0')) throw refuse(field, 'is not a usable relative path');
  const base = path.resolve(root);
  const full = path.resolve(base, rel);
  const inside = path.relative(base, full);
  if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    throw refuse(field, 'leads outside its folder');
  }
  let cur = base;
  for (const segment of inside.split(path.sep)) {
    cur = path.join(cur, segment);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Nothing exists from here down, so nothing below can be a symlink yet.
      if (code === 'ENOENT' || code === 'ENOTDIR') break;
      throw err;
    }
    if (st.isSymbolicLink()) throw refuse(field, 'passes through a symlink (symlinks are not followed)');
  }
  return full;
}

/**
 * Copies the regular file `src` to `dest` without following a symlink at
 * either end: the source is opened with O_NOFOLLOW and must be a regular file;
 * the bytes go to a fresh temp file beside `dest` (O_EXCL, so never through a
 * planted link) which is fsynced and renamed over `dest` (rename replaces a
 * link, it does not write through it). The caller confines both paths first
 * (see {@link confinedPath}) and creates `dest`'s folder.
 *
 * Throws INVALID_PARAMS when `src` is a symlink or not a regular file; other
 * fs errors (ENOENT for a missing source, ENOSPC) are thrown as they are.
 * Returns the bytes copied.
 */
export function copyFileConfined(src: string, dest: string, field = 'path'): number {
  let inFd: number;
  try {
    inFd = fs.openSync(src, fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refuse(field, 'is a symlink (symlinks are not followed)');
    throw err;
  }
  const tmp = `${dest}.${randomBytes(6).toString('hex')}.part`;
  let outFd: number | undefined;
  let copied = 0;
  try {
    if (!fs.fstatSync(inFd).isFile()) throw refuse(field, 'is not a regular file');
    outFd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o600);
    const buf = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    for (;;) {
      const n = fs.readSync(inFd, buf, 0, buf.length, null);
      if (n === 0) break;
      let off = 0;
      while (off < n) off += fs.writeSync(outFd, buf, off, n - off);
      copied += n;
    }
    // The DB registers the segment after this returns: the bytes must be on disk first.
    fs.fsyncSync(outFd);
    fs.closeSync(outFd);
    outFd = undefined;
    fs.renameSync(tmp, dest);
  } catch (err) {
    if (outFd !== undefined) fs.closeSync(outFd);
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    fs.closeSync(inFd);
  }
  return copied;
}

/**
 * A folder traced writes into under one of its own roots (exports, clips,
 * raw files): created when missing, refused when something else stands there
 * — above all a symlink, which would send the files elsewhere.
 */
export function ownDir(root: string, ...names: string[]): string {
  let dir = root;
  for (const name of ['', ...names]) {
    dir = name ? path.join(dir, name) : dir;
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st) {
      fs.mkdirSync(dir, { mode: 0o700 });
      continue;
    }
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new TracedError(
        ErrorCodes.HOME_UNWRITABLE,
        `${dir} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; traced writes only inside its data folder. Fix: remove ${dir} (traced makes it again)`,
        { data: { dir } },
      );
    }
  }
  return dir;
}
