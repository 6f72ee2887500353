/**
 * Where the CLI writes a file the user named (`export -o`, `replay --frame`):
 * the destination is checked before any work is done, and written by a temp
 * file in the destination's own folder renamed into place (one file system,
 * so the rename is atomic). Nothing at the destination is ever removed or
 * truncated unless it is a regular file and the user passed --force; nothing
 * is unlinked but the temp file this module created.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';

export type Output =
  | { kind: 'stdout' }
  /** `path` is where the bytes go: the file itself, or what a symlink named by the user points to. */
  | { kind: 'file'; path: string; shown: string; flag: string; force: boolean }
  | { kind: 'folder'; path: string; shown: string; flag: string; force: boolean };

export interface OutputRule {
  /** The flag, for messages: `-o`, `--frame`. */
  flag: string;
  /** A folder receives several files (raw export); else one file. */
  folder?: boolean;
  force: boolean;
  /** Whether `-` (standard output) is allowed, and if not, why. */
  stdout?: true | string;
}

const refuse = (msg: string, data: Record<string, unknown>) => new TracedError(ErrorCodes.OUTPUT_REFUSED, msg, { data });

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a named pipe (fifo)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function statOrNull(p: string, follow: boolean): fs.Stats | null {
  try {
    return follow ? fs.statSync(p) : fs.lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw refuse(`${p}: a part of this path is a file, not a folder`, { path: p });
    throw refuse(`${p} cannot be examined (${code ?? (err as Error).message})`, { path: p });
  }
}

/** The folder a new file goes into must exist, be a folder and be writable: it is not created (a typo would create a tree silently). */
function checkParent(dir: string, flag: string, shown: string): void {
  const st = statOrNull(dir, true);
  if (!st)
    throw refuse(`${flag} ${shown}: the folder ${dir} does not exist; create it first (mkdir -p ${JSON.stringify(dir)}) or name another place`, {
      path: dir,
    });
  if (!st.isDirectory()) throw refuse(`${flag} ${shown}: ${dir} is not a folder`, { path: dir });
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw refuse(`${flag} ${shown}: the folder ${dir} is not writable for you`, { path: dir });
  }
}

/**
 * Checks a destination before anything is produced for it. A symlink is
 * written through (to the file it names). Refused with TRACED_OUTPUT_REFUSED:
 * an empty name, `-` where standard output makes no sense, a device, fifo or
 * socket, a folder where a file is meant (and a file where a folder is), an
 * existing file without `force`, a missing or unwritable parent folder.
 */
export function checkOutput(out: string, cwd: string, rule: OutputRule): Output {
  const { flag } = rule;
  if (out === '') throw refuse(`${flag} needs a path; an empty one names nothing`, { path: out });
  if (out === '-') {
    if (rule.stdout === true) return { kind: 'stdout' };
    throw refuse(`${flag} -: ${rule.stdout ?? 'this writes a file, not standard output'}; name a file`, { path: out });
  }
  const shown = out;
  let dest = path.resolve(cwd, out);
  const link = statOrNull(dest, false);
  let st = link;
  if (link?.isSymbolicLink()) {
    st = statOrNull(dest, true);
    if (!st) throw refuse(`${flag} ${shown} is a symlink to nothing (${fs.readlinkSync(dest)}); name the file itself`, { path: dest });
    if (st.isFile() || st.isDirectory()) dest = fs.realpathSync(dest);
  }
  if (rule.folder) {
    if (st && !st.isDirectory()) throw refuse(`${flag} ${shown}: this writes one file per channel into a folder, and this is ${kindOf(st)}`, { path: dest });
    if (!st) checkParent(path.dirname(dest), flag, shown);
    return { kind: 'folder', path: dest, shown, flag, force: rule.force };
  }
  if (st) {
    if (!st.isFile()) throw refuse(`${flag} ${shown} is ${kindOf(st)}; traced writes regular files only: name a file`, { path: dest });
    if (!rule.force) throw refuse(`${flag} ${shown} already exists; pass --force to replace it, or name another file`, { path: dest });
  }
  checkParent(path.dirname(dest), flag, shown);
  return { kind: 'file', path: dest, shown, flag, force: rule.force };
}

/** A file `name` inside a folder output, checked like a file output of its own. */
export function inFolder(o: Output & { kind: 'folder' }, name: string): Output & { kind: 'file' } {
  if (!fs.existsSync(o.path)) {
    try {
      fs.mkdirSync(o.path, { mode: 0o755 }); // the folder itself (its parent was checked); never a tree
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw writeFailed(err, o.path, o.shown);
    }
  }
  return checkOutput(path.join(o.path, path.basename(name)), '/', { flag: o.flag, force: o.force }) as Output & { kind: 'file' };
}

function writeFailed(err: unknown, p: string, shown: string): TracedError {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof TracedError) return err;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new TracedError(ErrorCodes.DISK_FULL, `no space left to write ${shown} (${p})`, { cause: err });
  return refuse(`cannot write ${shown} (${p}): ${code ?? (err as Error).message}`, { path: p, errno: code });
}

/**
 * Puts a new file at `o` from `fill(tmp)`, which writes the temp file (created
 * exclusively beside the destination). Without force an existing file is never
 * replaced, even one created since checkOutput: the temp file is hard-linked
 * to the destination name, which fails if the name is taken.
 */
function commit(o: Output & { kind: 'file' }, fill: (tmp: string) => void): void {
  const tmp = path.join(path.dirname(o.path), `.${path.basename(o.path)}.${randomBytes(6).toString('hex')}.traced-tmp`);
  let made = false;
  try {
    fs.closeSync(fs.openSync(tmp, 'wx', 0o644));
    made = true;
    fill(tmp);
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (o.force) fs.renameSync(tmp, o.path);
    else {
      try {
        fs.linkSync(tmp, o.path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw refuse(`${o.shown} appeared while exporting; pass --force to replace it, or name another file`, { path: o.path });
        // A file system without hard links (FAT, some network mounts): checked again, then renamed.
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
        if (fs.existsSync(o.path)) throw refuse(`${o.shown} appeared while exporting; pass --force to replace it`, { path: o.path });
        fs.renameSync(tmp, o.path);
        made = false;
      }
    }
  } catch (err) {
    throw writeFailed(err, o.path, o.shown);
  } finally {
    if (made) fs.rmSync(tmp, { force: true }); // ours: the temp file (after a link, a second name of the delivered file)
  }
}

/** Writes bytes to a checked file output. */
export function writeOutput(o: Output & { kind: 'file' }, data: string | Uint8Array): void {
  commit(o, (tmp) => fs.writeFileSync(tmp, data));
}

/**
 * Moves a file traced produced (in its exports folder) to a checked output:
 * renamed when it is on the destination's file system, else copied into the
 * temp file; the produced file is removed only once the destination holds it.
 */
export function moveOutput(from: string, o: Output & { kind: 'file' }): void {
  commit(o, (tmp) => {
    try {
      fs.renameSync(from, tmp); // same file system: replaces our empty temp file
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      fs.copyFileSync(from, tmp); // onto our own temp file only: a failed copy may unlink it, nothing else
    }
  });
  fs.rmSync(from, { force: true });
}

/** Streams a produced file to standard output, then removes it. */
export async function pipeOutput(from: string, stdout: NodeJS.WritableStream): Promise<void> {
  const { pipeline } = await import('node:stream/promises');
  await pipeline(fs.createReadStream(from), stdout, { end: false });
  fs.rmSync(from, { force: true });
}
