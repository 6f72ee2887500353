/**
 * `traced doctor` against real machines states: the real ffmpeg found and
 * named with its source; a missing ffmpeg and a full disk reported as
 * failures, each with a fix, and a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, makeHome, tempDir } from '../helpers/env.js';
import { fillDisk, mountTmpfs } from '../helpers/tmpfs.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
if (!hasFfmpeg) {
  if (process.env.CI === 'true') throw new Error('CI: ffmpeg is missing (apt-get install ffmpeg)');
  console.warn('SKIPPED part of the doctor tests: ffmpeg is not installed');
}

const check = (r: any, id: string) => r.json.checks.find((c: any) => c.id === id);

describe('traced doctor', () => {
  it.skipIf(!hasFfmpeg)('finds ffmpeg on PATH and through FFMPEG_BIN, with its version and source', async () => {
    const home = makeHome();
    const r = await cli(home, ['doctor', '--json']);
    expect(r.json, r.stderr).toBeDefined();
    const ff = check(r, 'ffmpeg');
    expect(ff.status).toBe('ok');
    expect(ff.data.source).toBe('PATH');
    expect(ff.data.version).toMatch(/^\d|^n\d|^N-/);
    expect(check(r, 'node').status).toBe('ok');
    expect(check(r, 'database').status).toBe('ok');
    // No display in this environment: a warning with a fix, not a failure.
    expect(check(r, 'display').status).toBe('warn');
    expect(check(r, 'display').fix).toBeTruthy();
    const bin = spawnSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' }).stdout.trim();
    const viaEnv = await cli({ ...home, env: { ...home.env, FFMPEG_BIN: bin } }, ['doctor', '--json']);
    expect(check(viaEnv, 'ffmpeg').data).toMatchObject({ source: 'FFMPEG_BIN', path: bin });
    // Human output: one line per check.
    const human = await cli(home, ['doctor']);
    expect(human.stdout).toMatch(/^ok\s+ffmpeg\s+ffmpeg \S+ from PATH/m);
  });

  describe('a broken machine', () => {
    const disk = mountTmpfs(2, 'the doctor full-disk test');
    afterAll(() => {
      if (typeof disk !== 'string') disk.unmount();
    });

    it('reports a missing ffmpeg and a full disk, each with a fix, and exits 1', async (ctx) => {
      if (typeof disk === 'string') return ctx.skip();
      fillDisk(path.join(disk.dir, 'filler'));
      const emptyBin = tempDir('nobin-');
      const home = makeHome({ TRACED_HOME: disk.dir, FFMPEG_BIN: path.join(emptyBin, 'ffmpeg'), PATH: emptyBin });
      const r = await cli(home, ['doctor', '--json']);
      expect(r.code).toBe(1);
      expect(r.json.ok).toBe(false);
      const ff = check(r, 'ffmpeg');
      expect(ff.status).toBe('fail');
      expect(ff.fix).toMatch(/install ffmpeg|FFMPEG_BIN/);
      const d = check(r, 'disk');
      expect(d.status).toBe('fail');
      expect(d.data.free_bytes).toBeLessThan(100 * 1024 * 1024);
      expect(d.fix).toMatch(/free space/);
      // The human form names both problems and their fixes.
      const human = await cli(home, ['doctor']);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/^FAIL\s+ffmpeg/m);
      expect(human.stdout).toMatch(/^FAIL\s+disk\s+disk full/m);
      expect(human.stdout.match(/fix: /g)?.length).toBeGreaterThanOrEqual(2);
      expect(fs.existsSync(path.join(disk.dir, 'traced.db')), 'doctor changes nothing').toBe(false);
    });
  });
});
