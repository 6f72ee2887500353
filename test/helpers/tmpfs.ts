/**
 * A small tmpfs for full-disk tests. Mounting needs root or CAP_SYS_ADMIN;
 * without it the caller skips loudly, and under CI=true it is a failure.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tempDir } from './env.js';

export interface Tmpfs {
  dir: string;
  unmount(): void;
}

/** A mounted tmpfs of `sizeMb`, or the reason it cannot be had (thrown under CI). */
export function mountTmpfs(sizeMb: number, what: string): Tmpfs | string {
  const dir = tempDir('tfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) return { dir, unmount: () => void spawnSync('umount', ['-l', dir]) };
  const why = `cannot mount a tmpfs (${(r.stderr || r.error?.message || '').trim()}); ${what} needs root or CAP_SYS_ADMIN`;
  if (process.env.CI === 'true') throw new Error(`CI: ${why}`);
  console.warn(`SKIPPED ${what}: ${why}`);
  return why;
}

/** Writes `file` until the file system refuses another byte. */
export function fillDisk(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [256 * 1024, 4096, 512, 1]) {
      const block = Buffer.alloc(size, 7);
      try {
        for (;;) fs.writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}
