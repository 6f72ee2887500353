/**
 * Attacks on where the CLI writes a file the user named (`export -o`,
 * `replay --frame`; src/cli/output-file.ts): device nodes, fifos, dangling and
 * device symlinks, existing files, missing parents, a destination on another
 * file system (tmpfs /dev/shm vs /tmp), and a name that appears while the
 * export runs. Every case runs in temp folders; nothing under /dev or /proc is
 * ever named. What must hold: whatever was at the destination is still there,
 * unchanged, unless it was a regular file and --force was given; a refusal is
 * TRACED_OUTPUT_REFUSED, never TRACED_INTERNAL; no temp file is left behind.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOutput, inFolder, moveOutput, type Output, writeOutput } from '../../src/cli/output-file.js';
import { TracedError } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';

const isRoot = process.getuid?.() === 0;
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TracedError);
    return (err as TracedError).code;
  }
};
const fileRule = { flag: '-o', force: false };
const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes('traced-tmp'));
/** A produced file as the daemon leaves it in its exports folder. */
function produced(dir: string, body = '{"session":1}\n'): string {
  const f = path.join(dir, `export-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(f, body);
  return f;
}

describe('checkOutput refuses destinations that are not a new or --force regular file', () => {
  it('a fifo, a socket and a folder are refused and left as they were', () => {
    const dir = tempDir('out-');
    const fifo = path.join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const force of [false, true]) {
      expect(code(() => checkOutput(fifo, dir, { ...fileRule, force }))).toBe('TRACED_OUTPUT_REFUSED');
      expect(code(() => checkOutput(dir, '/', { ...fileRule, force }))).toBe('TRACED_OUTPUT_REFUSED');
    }
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    // A folder output (raw) refuses a file and a fifo too.
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'keep');
    expect(code(() => checkOutput(plain, dir, { ...fileRule, folder: true }))).toBe('TRACED_OUTPUT_REFUSED');
    expect(code(() => checkOutput(fifo, dir, { ...fileRule, folder: true }))).toBe('TRACED_OUTPUT_REFUSED');
    expect(fs.readFileSync(plain, 'utf8')).toBe('keep');
  });

  it.skipIf(!isRoot)('a character device (mknod c 1 3, a /dev/null twin) on tmpfs and on disk is refused and survives, also through a symlink', () => {
    for (const base of ['/dev/shm', undefined]) {
      if (base && !fs.existsSync(base)) continue;
      const dir = base ? fs.mkdtempSync(path.join(base, 'out-')) : tempDir('out-');
      const dev = path.join(dir, 'null');
      expect(spawnSync('mknod', ['-m', '666', dev, 'c', '1', '3']).status).toBe(0);
      const link = path.join(dir, 'stdout');
      fs.symlinkSync(dev, link);
      for (const force of [false, true]) {
        expect(code(() => checkOutput(dev, '/', { ...fileRule, force }))).toBe('TRACED_OUTPUT_REFUSED');
        expect(code(() => checkOutput(link, '/', { ...fileRule, force }))).toBe('TRACED_OUTPUT_REFUSED');
      }
      expect(fs.statSync(dev).isCharacterDevice()).toBe(true);
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('an existing file needs --force; an empty name, a missing parent, a file as parent and a dangling link are refused', () => {
    const dir = tempDir('out-');
    const f = path.join(dir, 'precious');
    fs.writeFileSync(f, 'precious');
    expect(code(() => checkOutput(f, '/', fileRule))).toBe('TRACED_OUTPUT_REFUSED');
    expect(checkOutput(f, '/', { ...fileRule, force: true })).toMatchObject({ kind: 'file', path: f });
    expect(code(() => checkOutput('', dir, fileRule))).toBe('TRACED_OUTPUT_REFUSED');
    expect(code(() => checkOutput('deep/er/x.json', dir, fileRule))).toBe('TRACED_OUTPUT_REFUSED');
    expect(fs.existsSync(path.join(dir, 'deep'))).toBe(false);
    expect(code(() => checkOutput(path.join(f, 'x.json'), '/', fileRule))).toBe('TRACED_OUTPUT_REFUSED');
    const dangling = path.join(dir, 'dangling');
    fs.symlinkSync(path.join(dir, 'nowhere'), dangling);
    expect(code(() => checkOutput(dangling, '/', { ...fileRule, force: true }))).toBe('TRACED_OUTPUT_REFUSED');
    expect(fs.readFileSync(f, 'utf8')).toBe('precious');
  });

  it('- is standard output only where the rule allows it', () => {
    expect(checkOutput('-', '/', { ...fileRule, stdout: true })).toEqual({ kind: 'stdout' });
    expect(code(() => checkOutput('-', '/', { ...fileRule, stdout: 'an mp4 is not text' }))).toBe('TRACED_OUTPUT_REFUSED');
    expect(code(() => checkOutput('-', '/', fileRule))).toBe('TRACED_OUTPUT_REFUSED');
  });

  it('any name in a temp folder: a result or TRACED_OUTPUT_REFUSED, and nothing there changes', () => {
    const dir = tempDir('out-');
    fs.writeFileSync(path.join(dir, 'a'), 'a');
    fs.mkdirSync(path.join(dir, 'd'));
    spawnSync('mkfifo', [path.join(dir, 'p')]);
    const before = fs.readdirSync(dir).sort();
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constantFrom('a', 'd', 'p', 'd/', 'a/x', '-', '', '.', '..', 'p/x', 'd/new', 'new/x')),
        fc.boolean(),
        fc.boolean(),
        (name, force, folder) => {
          try {
            checkOutput(name, dir, { flag: '-o', force, folder, stdout: folder ? 'no' : true });
          } catch (err) {
            if (!(err instanceof TracedError) || err.code !== 'TRACED_OUTPUT_REFUSED') throw err;
          }
          expect(fs.readdirSync(dir).sort()).toEqual(before);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('moveOutput and writeOutput', () => {
  it('move across file systems (/dev/shm → /tmp and back) through a temp file beside the destination, leaving none', () => {
    if (!fs.existsSync('/dev/shm')) return expect.fail('/dev/shm missing: the cross-device case cannot run');
    const shm = fs.mkdtempSync('/dev/shm/out-');
    const disk = tempDir('out-');
    try {
      expect(fs.statSync(shm).dev).not.toBe(fs.statSync(disk).dev);
      for (const [from, to] of [
        [shm, disk],
        [disk, shm],
      ] as const) {
        const src = produced(from, 'x'.repeat(100_000));
        const o = checkOutput(path.join(to, 'rec.json'), '/', fileRule) as Output & { kind: 'file' };
        moveOutput(src, o);
        expect(fs.readFileSync(o.path, 'utf8')).toHaveLength(100_000);
        expect(fs.existsSync(src)).toBe(false);
        expect(leftovers(to)).toEqual([]);
        // Again onto the same name: refused without --force, replaced with it.
        const again = produced(from, 'second');
        expect(code(() => moveOutput(again, checkOutput(path.join(to, 'rec.json'), '/', fileRule) as Output & { kind: 'file' }))).toBe('TRACED_OUTPUT_REFUSED');
        moveOutput(again, checkOutput(path.join(to, 'rec.json'), '/', { ...fileRule, force: true }) as Output & { kind: 'file' });
        expect(fs.readFileSync(path.join(to, 'rec.json'), 'utf8')).toBe('second');
        expect(leftovers(to)).toEqual([]);
      }
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  it('a file that appears between the check and the move is kept, and the export stays where it was', () => {
    const dir = tempDir('out-');
    const src = produced(tempDir('exp-'));
    const dest = path.join(dir, 'rec.json');
    const o = checkOutput(dest, '/', fileRule) as Output & { kind: 'file' };
    fs.writeFileSync(dest, 'written meanwhile');
    expect(code(() => moveOutput(src, o))).toBe('TRACED_OUTPUT_REFUSED');
    expect(fs.readFileSync(dest, 'utf8')).toBe('written meanwhile');
    expect(leftovers(dir)).toEqual([]);
  });

  it('--force through a symlink writes the file it names and keeps the link', () => {
    const dir = tempDir('out-');
    const target = path.join(tempDir('dot-'), 'real.png');
    fs.writeFileSync(target, 'old');
    fs.symlinkSync(target, path.join(dir, 'frame.png'));
    writeOutput(checkOutput('frame.png', dir, { flag: '--frame', force: true }) as Output & { kind: 'file' }, 'new');
    expect(fs.lstatSync(path.join(dir, 'frame.png')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe('new');
  });

  it('a folder output makes the folder itself (not its parents) and refuses an existing file inside it without --force', () => {
    const dir = tempDir('out-');
    const o = checkOutput('raw', dir, { ...fileRule, folder: true }) as Output & { kind: 'folder' };
    const first = inFolder(o, '/somewhere/exports/s-raw/screen.mkv');
    expect(first.path).toBe(path.join(dir, 'raw', 'screen.mkv'));
    moveOutput(produced(tempDir('exp-')), first);
    expect(code(() => inFolder(o, 'screen.mkv'))).toBe('TRACED_OUTPUT_REFUSED');
    expect(code(() => checkOutput('a/b', dir, { ...fileRule, folder: true }))).toBe('TRACED_OUTPUT_REFUSED');
  });
});
