/**
 * Opening traced.db at daemon start, and what a damaged file becomes: moved
 * aside and replaced, so the daemon starts and rebuilds from the folders.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { movedAsideDb } from '../config/paths.js';
import { ErrorCodes, TracedError } from '../errors.js';
import { Store } from './store.js';

/** SQLite's ways of saying a file is not, or no longer, a readable database. */
export function isCorruptDb(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'));
}

/**
 * Opens traced.db. A file SQLite refuses as not a database, or with a corrupt
 * header or schema, is moved aside with its -wal/-shm to
 * `traced.db.corrupt-<time>` (kept) and a new database is created: the caller
 * must rebuild it from the session folders (the daemon's cold start does); a
 * TRACED_DB_CORRUPT warning on `log` names the new place. Damage that cannot be
 * moved aside, or found only while migrating, is TRACED_DB_CORRUPT with the fix.
 * Damage inside table pages needs a full read: left to `traced doctor`.
 */
export function openStore(file: string, log?: { warn(obj: object, msg: string): void }, now: () => Date = () => new Date()): Store {
  const fix = `Fix: stop traced, move ${file} (and its -wal, -shm) out of the way, then run any traced command: sessions are rebuilt from their folders.`;
  let damage: Error | undefined;
  let probe: Database.Database | undefined;
  try {
    // Reading the schema reads the header and page 1, where garbage and a torn schema show. Read-only:
    // a writer's close would delete the -wal that is to be kept. Other errors are left to the real open.
    if (fs.existsSync(file)) (probe = new Database(file, { fileMustExist: true, readonly: true })).prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    if (isCorruptDb(err)) damage = err as Error;
  } finally {
    probe?.close();
  }
  if (damage) {
    const movedTo = movedAsideDb(file, now());
    const files: string[] = [];
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        fs.renameSync(file + suffix, movedTo + suffix);
        files.push(movedTo + suffix);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new TracedError(
          ErrorCodes.DB_CORRUPT,
          `${file} is not a readable database (${damage.message}) and cannot be moved aside (${(err as Error).message}). ${fix}`,
          { data: { file }, cause: err },
        );
      }
    }
    log?.warn(
      { code: ErrorCodes.DB_CORRUPT, moved_to: movedTo, files, reason: damage.message },
      'traced.db was not a readable database: moved aside; a new one is rebuilt from the session folders',
    );
  }
  try {
    return new Store(file);
  } catch (err) {
    const sqlite = (e: unknown) => (e as { code?: unknown } | undefined)?.code;
    const code = String(sqlite(err)).startsWith('SQLITE_') ? sqlite(err) : sqlite((err as { cause?: unknown }).cause);
    // A database this user may not write (another owner, a read-only file or mount), or cannot open at all (a directory).
    if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      const why = st?.isDirectory()
        ? `${file} is a directory, not a database file`
        : `${file} cannot be written by this user (${(err as Error).message}${st ? `; owner uid ${st.uid}, mode 0${(st.mode & 0o777).toString(8)}` : ''})`;
      const fix = st?.isDirectory() ? `move ${file} out of the way` : `chown $(id -u) ${file}* && chmod u+rw ${file}*`;
      throw new TracedError(ErrorCodes.HOME_UNWRITABLE, `${why}. Fix: ${fix}, or set TRACED_HOME to a directory you can write.`, {
        data: { file, errno: String(code) },
        cause: err,
      });
    }
    if (!isCorruptDb(err) && !isCorruptDb((err as { cause?: unknown }).cause)) throw err;
    throw new TracedError(ErrorCodes.DB_CORRUPT, `${file} is damaged (${(err as Error).message}). ${fix}`, { data: { file }, cause: err });
  }
}
