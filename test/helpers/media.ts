/** Checks on recorded media with the real ffmpeg/ffprobe. */
import { execFileSync, spawnSync } from 'node:child_process';

/** Container duration in seconds. */
export function probeDuration(file: string): number {
  return Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim());
}

/** Whether ffmpeg decodes the whole file without an error. */
export function decodes(file: string): boolean {
  return spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' }).status === 0;
}

/** Mean volume (dB) of `file` between `fromS` and `toS`; -120 for digital silence. */
export function meanDb(file: string, fromS: number, toS: number): number {
  const r = spawnSync(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-ss', String(Math.max(0, fromS)), '-to', String(toS), '-i', file, '-af', 'volumedetect', '-f', 'null', '-'],
    { encoding: 'utf8' },
  );
  const m = /mean_volume:\s*(-?[\d.]+|-inf)/.exec(r.stderr);
  return !m || m[1] === '-inf' ? -120 : Number(m[1]);
}
