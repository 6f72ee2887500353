/**
 * The capture test rig: a private Xvfb with an xterm showing text, and a
 * private PulseAudio with a null sink whose monitor is the default source, fed
 * by espeak-ng. Missing binaries skip the tests loudly, and fail them under CI.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitFor } from './env.js';
import { startXvfb } from './xvfb.js';

const NEEDED = ['Xvfb', 'xterm', 'xdotool', 'pulseaudio', 'pactl', 'paplay', 'pacat', 'espeak-ng', 'ffmpeg', 'ffprobe'];

/** Undefined when the rig can run; otherwise the reason. Under CI=true a missing binary throws. */
export function rigMissing(extra: readonly string[] = []): string | undefined {
  const missing = [...NEEDED, ...extra].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  if (missing.length === 0) return undefined;
  const why = `capture rig needs ${missing.join(', ')} (apt-get install xvfb xterm xdotool pulseaudio pulseaudio-utils espeak-ng ffmpeg tesseract-ocr pocketsphinx pocketsphinx-en-us)`;
  if (process.env.CI === 'true') throw new Error(`CI: ${why}`);
  console.warn(`SKIPPED capture tests: ${why}`);
  return why;
}

export interface Rig {
  env: NodeJS.ProcessEnv;
  display: string;
  speak(text: string): Promise<void>;
  /** Plays a 660 Hz tone for `seconds` through the speakers (system audio). */
  playSystemTone(seconds: number): Promise<void>;
  showText(text: string): void;
  /** Opens an xterm titled `title`; `focus()` gives it the X input focus (no window manager needed). */
  openWindow(title: string): { focus(): void; close(): void };
  stop(): void;
}

export async function startRig(): Promise<Rig> {
  const procs: ChildProcess[] = [];
  const { display, proc: xvfb } = await startXvfb('1280x720x24');
  procs.push(xvfb);
  const runtime = tempDir('pulse-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DISPLAY: display,
    PULSE_RUNTIME_PATH: runtime,
    PULSE_STATE_PATH: runtime,
    PULSE_SERVER: `unix:${path.join(runtime, 'native')}`,
  };
  // Two null sinks: `v` is the microphone (its monitor is the default source), `w` the speakers
  // (the default sink, whose monitor is what system_audio:default records).
  execFileSync(
    'pulseaudio',
    [
      '-D',
      '--exit-idle-time=-1',
      '--system=false',
      '--disallow-exit',
      '-n',
      '--load=module-native-protocol-unix',
      '--load=module-null-sink sink_name=v',
      '--load=module-null-sink sink_name=w',
      '--use-pid-file=true',
    ],
    { env, stdio: 'ignore' },
  );
  await waitFor(() => spawnSync('pactl', ['info'], { env }).status === 0, { what: 'pulseaudio' });
  execFileSync('pactl', ['set-default-source', 'v.monitor'], { env });
  execFileSync('pactl', ['set-default-sink', 'w'], { env });
  // A real microphone delivers samples continuously; an idle null sink renders its monitor in
  // 2 s blocks and delays a recorder's first packet by ~1.3 s (measured). Playing silence
  // into it keeps it running like a live device: first packet ~60 ms after ffmpeg starts.
  for (const sink of ['v', 'w']) procs.push(spawn('pacat', ['--playback', '-d', sink, '--latency-msec=50', '/dev/zero'], { env, stdio: 'ignore' }));
  let term: ChildProcess | undefined;
  const rig: Rig = {
    env,
    display,
    async speak(text) {
      const wav = path.join(runtime, `say-${Date.now()}.wav`);
      execFileSync('espeak-ng', ['-w', wav, text]);
      execFileSync('paplay', ['-d', 'v', wav], { env });
    },
    async playSystemTone(seconds) {
      const wav = path.join(runtime, `tone-${Date.now()}.wav`);
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=660:sample_rate=44100:duration=${seconds}`, '-af', 'volume=0.5', wav]);
      execFileSync('paplay', ['-d', 'w', wav], { env });
    },
    showText(text) {
      term?.kill();
      // The text goes through the environment, so quotes and parentheses reach the screen as they are.
      term = spawn('xterm', ['-geometry', '120x30+0+0', '-fa', 'Monospace', '-fs', '14', '-e', 'bash', '-c', 'printf "%s\\n" "$RIG_TEXT"; sleep 3600'], {
        env: { ...env, RIG_TEXT: text },
        stdio: 'ignore',
      });
      procs.push(term);
    },
    openWindow(title) {
      const w = spawn('xterm', ['-title', title, '-geometry', '80x10+100+400', '-e', 'sleep 3600'], { env, stdio: 'ignore' });
      procs.push(w);
      const find = (): string => {
        for (let i = 0; i < 50; i++) {
          const r = spawnSync('xdotool', ['search', '--onlyvisible', '--name', `^${title}$`], { env, encoding: 'utf8' });
          const id = r.stdout.trim().split('\n')[0];
          if (r.status === 0 && id) return id;
          spawnSync('sleep', ['0.1']);
        }
        throw new Error(`window "${title}" did not appear`);
      };
      return {
        focus: () => execFileSync('xdotool', ['windowfocus', '--sync', find()], { env }),
        close: () => w.kill('SIGKILL'),
      };
    },
    stop() {
      for (const p of procs) p.kill('SIGKILL');
      spawnSync('pulseaudio', ['--kill'], { env });
    },
  };
  return rig;
}
