/**
 * Directory creation is bounded and every way it fails has its own code and
 * reason: a path under /proc (where Node's recursive mkdir spins for ever), a
 * file in the way, a socket directory of mode 0500.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDataDirs, ensureDir, ensurePrivateDir, resolvePaths } from '../../src/config/paths.js';
import { ErrorCodes, TracedError } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';

const codeOf = (fn: () => void): { code: string; message: string } => {
  try {
    fn();
  } catch (err) {
    return err as TracedError;
  }
  throw new Error('no error');
};

describe('directories', () => {
  it('creates a deep folder one level at a time', () => {
    const dir = path.join(tempDir('dirs-'), 'a', 'b', 'c');
    ensureDir(dir, (reason) => new TracedError(ErrorCodes.HOME_UNWRITABLE, reason));
    expect(fs.statSync(dir).isDirectory()).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')('gives up at once under /proc instead of looping', () => {
    const t0 = Date.now();
    const e = codeOf(() => ensureDataDirs(resolvePaths({ env: { TRACED_HOME: '/proc/nope' } })));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(e.code).toBe(ErrorCodes.HOME_UNWRITABLE);
    expect(e.message).toContain('/proc/nope');
    expect(e.message).toMatch(/Fix: .*TRACED_HOME/);
  });

  it('names the file in the way of TRACED_HOME', () => {
    const file = path.join(tempDir('dirs-'), 'file');
    fs.writeFileSync(file, 'x');
    const e = codeOf(() => ensureDataDirs(resolvePaths({ env: { TRACED_HOME: path.join(file, 'home') } })));
    expect(e.code).toBe(ErrorCodes.HOME_UNWRITABLE);
    expect(e.message).toContain(`${file} is a file`);
  });

  it('refuses a socket directory of mode 0500, under a file, or that is a file', () => {
    const root = tempDir('dirs-');
    const closed = path.join(root, 'closed');
    fs.mkdirSync(closed, { mode: 0o500 });
    fs.chmodSync(closed, 0o500);
    const e = codeOf(() => ensurePrivateDir(closed));
    expect(e.code).toBe(ErrorCodes.SOCKET_DIR_UNUSABLE);
    expect(e.message).toContain('mode 0500');
    expect(e.message).toContain(`chmod 700 ${closed}`);
    const file = path.join(root, 'file');
    fs.writeFileSync(file, 'x');
    for (const dir of [file, path.join(file, 'run')]) {
      const f = codeOf(() => ensurePrivateDir(dir));
      expect(f.code).toBe(ErrorCodes.SOCKET_DIR_UNUSABLE);
      expect(f.message).toMatch(/is a file, not a directory/);
      expect(f.message).toContain('TRACED_SOCKET_DIR');
    }
  });
});
