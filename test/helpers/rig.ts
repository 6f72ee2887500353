/**
 * The capture test rig: a private Xvfb with an xterm showing text, and a
 * private PulseAudio with a null sink whose monitor is the default source, fed
 * by espeak-ng. Missing binaries skip the tests loudly, and fail them under CI.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from './env.js';

const NEEDED = ['Xvfb', 'xterm', 'pulseaudio', 'pactl', 'paplay', 'espeak-ng', 'ffmpeg', 'ffprobe'];

/** Undefined when the rig can run; otherwise the reason. Under CI=true a missing binary throws. */
export function rigMissing(): string | undefined {
  const missing = NEEDED.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  if (missing.length === 0) return undefined;
  const why = `capture rig needs ${missing.join(', ')} (apt-get install xvfb xterm pulseaudio pulseaudio-utils espeak-ng ffmpeg)`;
  if (process.env.CI === 'true') throw new Error(`CI: ${why}`);
  console.warn(`SKIPPED capture tests: ${why}`);
  return why;
}

export interface Rig {
  env: NodeJS.ProcessEnv;
  display: string;
  speak(text: string): Promise<void>;
  showText(text: string): void;
  stop(): void;
}

export async function startRig(): Promise<Rig> {
  const procs: ChildProcess[] = [];
  const n = 100 + Math.floor(Math.random() * 800);
  const display = `:${n}`;
  const xvfb = spawn('Xvfb', [display, '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  procs.push(xvfb);
  await waitFor(() => fs.existsSync(`/tmp/.X11-unix/X${n}`), { what: 'Xvfb' });
  const runtime = tempDir('pulse-');
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display, PULSE_RUNTIME_PATH: runtime, PULSE_STATE_PATH: runtime, PULSE_SERVER: `unix:${path.join(runtime, 'native')}` };
  execFileSync('pulseaudio', ['-D', '--exit-idle-time=-1', '--system=false', '--disallow-exit', '-n', '--load=module-native-protocol-unix', '--load=module-null-sink sink_name=v', '--use-pid-file=true'], { env, stdio: 'ignore' });
  await waitFor(() => spawnSync('pactl', ['info'], { env }).status === 0, { what: 'pulseaudio' });
  execFileSync('pactl', ['set-default-source', 'v.monitor'], { env });
  let term: ChildProcess | undefined;
  const rig: Rig = {
    env,
    display,
    async speak(text) {
      const wav = path.join(runtime, `say-${Date.now()}.wav`);
      execFileSync('espeak-ng', ['-w', wav, text]);
      execFileSync('paplay', ['-d', 'v', wav], { env });
    },
    showText(text) {
      term?.kill();
      term = spawn('xterm', ['-geometry', '120x30+0+0', '-fa', 'Monospace', '-fs', '14', '-e', `bash -c 'echo ${text.replace(/'/g, '')}; sleep 3600'`], { env, stdio: 'ignore' });
      procs.push(term);
    },
    stop() {
      for (const p of procs) p.kill('SIGKILL');
      spawnSync('pulseaudio', ['--kill'], { env });
    },
  };
  return rig;
}
