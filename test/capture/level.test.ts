/**
 * The capture's silent-mic check reads a segment's first seconds only: a real
 * opus segment that is digital silence reads as silence, one with a signal
 * reads as its level, and the window it reads is the one asked for.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { meanVolumeDb } from '../../src/capture/segments.js';
import { tempDir } from '../helpers/env.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
if (process.env.CI === 'true' && !hasFfmpeg) throw new Error('CI: the level test needs ffmpeg');
if (!hasFfmpeg) console.warn('SKIPPED: the level test needs ffmpeg');

describe.skipIf(!hasFfmpeg)('segment level', () => {
  it('silence, a signal, and a signal that starts after the window read', async () => {
    const dir = tempDir('level-');
    const make = (name: string, filter: string) => {
      const file = path.join(dir, name);
      execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', filter, '-ac', '1', '-c:a', 'libopus', '-b:a', '24k', file]);
      return file;
    };
    const silent = make('silent.ogg', 'anullsrc=r=16000:cl=mono:d=30');
    const noise = make('noise.ogg', 'anoisesrc=d=30:a=0.05:r=16000');
    // 15 s of silence, then noise: the first 10 s are silent, the whole file is not.
    const late = make('late.ogg', "aevalsrc='if(gte(t,15),0.1*sin(2*PI*440*t),0)':s=16000:d=30");
    const s = (await meanVolumeDb('ffmpeg', silent, 10)) as number;
    const n = (await meanVolumeDb('ffmpeg', noise, 10)) as number;
    expect(s).toBeLessThan(-70);
    expect(n).toBeGreaterThan(-50);
    expect(await meanVolumeDb('ffmpeg', late, 10)).toBeLessThan(-70);
    expect(await meanVolumeDb('ffmpeg', late)).toBeGreaterThan(-50);
  });
});
