/**
 * Capture devices per platform: how to list them, how to parse what the
 * listing prints, and the ffmpeg input arguments for each channel. Linux reads
 * X11 (xwininfo/xrandr) and PulseAudio (pactl); macOS avfoundation and Windows
 * dshow/gdigrab listings are parsed from ffmpeg's own output.
 */
import type { AudioSource, Display, DeviceList } from '../model.js';
import { run, type RunOptions } from './proc.js';

export { AudioSource, Display, DeviceList } from '../model.js';

/** `xrandr --listmonitors`: ` 0: +*screen 1280/339x720/191+0+0  screen` */
export function parseXrandrMonitors(out: string): Omit<Display, 'id'>[] {
  const res: Omit<Display, 'id'>[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+):\s+\S+\s+(\d+)\/\d+x(\d+)\/\d+\+(\d+)\+(\d+)\s+(\S+)/.exec(line);
    if (m) res.push({ index: Number(m[1]) + 1, width: Number(m[2]), height: Number(m[3]), x: Number(m[4]), y: Number(m[5]), name: m[6] as string });
  }
  return res;
}

/** `xwininfo -root`: the whole screen when xrandr has nothing to say (Xvfb). */
export function parseXwininfo(out: string): { width: number; height: number } | undefined {
  const w = /Width:\s+(\d+)/.exec(out);
  const h = /Height:\s+(\d+)/.exec(out);
  return w && h ? { width: Number(w[1]), height: Number(h[1]) } : undefined;
}

/** `pactl list short sources`: `0\tv.monitor\tmodule-null-sink.c\ts16le 2ch 44100Hz\tIDLE` */
export function parsePactlSources(out: string, defaultSource: string): AudioSource[] {
  const res: AudioSource[] = [];
  for (const line of out.split('\n')) {
    const cols = line.split('\t');
    if (cols.length < 2 || !cols[1]) continue;
    const name = cols[1];
    const monitor = name.endsWith('.monitor');
    res.push({
      id: `${monitor ? 'system_audio' : 'mic'}:${name}`,
      name,
      kind: monitor ? 'monitor' : 'mic',
      description: cols[2] ?? '',
      default: name === defaultSource,
    });
  }
  return res;
}

/**
 * `ffmpeg -f avfoundation -list_devices true -i ""` (stderr):
 *   [AVFoundation indev @ 0x…] AVFoundation video devices:
 *   [AVFoundation indev @ 0x…] [0] FaceTime HD Camera
 *   [AVFoundation indev @ 0x…] [1] Capture screen 0
 *   [AVFoundation indev @ 0x…] AVFoundation audio devices:
 *   [AVFoundation indev @ 0x…] [0] MacBook Pro Microphone
 */
export function parseAvfoundationDevices(out: string): { screens: { index: number; name: string }[]; audio: { index: number; name: string }[] } {
  const screens: { index: number; name: string }[] = [];
  const audio: { index: number; name: string }[] = [];
  let section: 'video' | 'audio' | undefined;
  for (const line of out.split('\n')) {
    if (/AVFoundation video devices/.test(line)) section = 'video';
    else if (/AVFoundation audio devices/.test(line)) section = 'audio';
    else {
      const m = /\]\s*\[(\d+)\]\s+(.+)$/.exec(line);
      if (!m || !section) continue;
      const dev = { index: Number(m[1]), name: (m[2] as string).trim() };
      if (section === 'video' && /^Capture screen/.test(dev.name)) screens.push(dev);
      else if (section === 'audio') audio.push(dev);
    }
  }
  return { screens, audio };
}

/**
 * `ffmpeg -list_devices true -f dshow -i dummy` (stderr), ffmpeg ≥ 5:
 *   [dshow @ 0x…] "Microphone (Realtek Audio)" (audio)
 *   [dshow @ 0x…]   Alternative name "@device_cm_{…}"
 */
export function parseDshowDevices(out: string): { video: string[]; audio: string[] } {
  const video: string[] = [];
  const audio: string[] = [];
  let legacy: 'video' | 'audio' | undefined;
  for (const line of out.split('\n')) {
    if (/DirectShow video devices/.test(line)) legacy = 'video';
    else if (/DirectShow audio devices/.test(line)) legacy = 'audio';
    const m = /\]\s+"([^"]+)"(?:\s+\((video|audio|none)\))?\s*$/.exec(line);
    if (!m || /Alternative name/.test(line)) continue;
    const kind = (m[2] as 'video' | 'audio' | 'none' | undefined) ?? legacy;
    if (kind === 'audio') audio.push(m[1] as string);
    else if (kind === 'video') video.push(m[1] as string);
  }
  return { video, audio };
}

export interface InputSpec {
  /** ffmpeg arguments before `-i`… through the input itself. */
  args: string[];
}

/** ffmpeg input arguments for a display on each platform. */
export function displayInput(
  platform: NodeJS.Platform,
  d: { display?: string; x?: number; y?: number; width: number; height: number; index?: number },
  fps: number,
): InputSpec {
  if (platform === 'darwin') return { args: ['-f', 'avfoundation', '-capture_cursor', '1', '-framerate', String(fps), '-i', `${d.index ?? 1}:none`] };
  if (platform === 'win32') {
    return {
      args: [
        '-f',
        'gdigrab',
        '-framerate',
        String(fps),
        '-offset_x',
        String(d.x ?? 0),
        '-offset_y',
        String(d.y ?? 0),
        '-video_size',
        `${d.width}x${d.height}`,
        '-i',
        'desktop',
      ],
    };
  }
  return { args: ['-f', 'x11grab', '-framerate', String(fps), '-video_size', `${d.width}x${d.height}`, '-i', `${d.display ?? ':0'}+${d.x ?? 0},${d.y ?? 0}`] };
}

/** ffmpeg input arguments for an audio source (mic or a sink's monitor). */
export function audioInput(platform: NodeJS.Platform, source: string): InputSpec {
  if (platform === 'darwin') return { args: ['-f', 'avfoundation', '-i', `:${source === 'default' ? '0' : source}`] };
  if (platform === 'win32') return { args: ['-f', 'dshow', '-i', `audio=${source}`] };
  return { args: ['-f', 'pulse', '-sample_rate', '16000', '-channels', '1', '-fragment_size', '3200', '-i', source] };
}

/** Pulse source for a channel: `default`, the default sink's monitor, or a named source. */
export function pulseSource(channelId: string): string {
  const [kind, name = 'default'] = channelId.split(/:(.*)/s) as [string, string | undefined];
  if (name !== 'default') return name;
  return kind === 'system_audio' ? '@DEFAULT_MONITOR@' : '@DEFAULT_SOURCE@';
}

export async function listLinuxDevices(env: RunOptions['env']): Promise<DeviceList> {
  const problems: string[] = [];
  const displays: Display[] = [];
  if (!env?.DISPLAY) {
    problems.push('no DISPLAY: screen capture needs an X11 display (set DISPLAY, or run under a desktop session)');
  } else {
    const xr = await run('xrandr', ['--listmonitors'], { env, timeoutMs: 3000 });
    const mons = xr.code === 0 ? parseXrandrMonitors(xr.stdout) : [];
    if (mons.length) {
      for (const m of mons) displays.push({ ...m, id: `display:${m.index}` });
    } else {
      const xw = await run('xwininfo', ['-root'], { env, timeoutMs: 3000 });
      const g = xw.code === 0 ? parseXwininfo(xw.stdout) : undefined;
      if (g) displays.push({ id: 'display:1', index: 1, name: env.DISPLAY, x: 0, y: 0, ...g });
      else
        problems.push(
          `the X server on ${env.DISPLAY} does not answer (xwininfo: ${xw.spawnError ? 'not installed — apt install x11-utils' : xw.stderr.trim()})`,
        );
    }
  }
  const audio: AudioSource[] = [];
  const info = await run('pactl', ['get-default-source'], { env, timeoutMs: 3000 });
  const list = await run('pactl', ['list', 'short', 'sources'], { env, timeoutMs: 3000 });
  if (list.spawnError) problems.push('pactl is not installed: apt install pulseaudio-utils (works with PipeWire too)');
  else if (list.code !== 0) problems.push(`no PulseAudio/PipeWire server answers: ${list.stderr.trim() || 'pactl failed'}`);
  else audio.push(...parsePactlSources(list.stdout, info.code === 0 ? info.stdout.trim() : ''));
  return { platform: 'linux', displays, audio, problems };
}

export async function listDevices(env: RunOptions['env'], ffmpeg: string | undefined, platform: NodeJS.Platform = process.platform): Promise<DeviceList> {
  if (platform === 'linux') return listLinuxDevices(env);
  if (!ffmpeg) return { platform, displays: [], audio: [], problems: ['no ffmpeg: install it to list capture devices'] };
  if (platform === 'darwin') {
    const r = await run(ffmpeg, ['-hide_banner', '-f', 'avfoundation', '-list_devices', 'true', '-i', ''], { env, timeoutMs: 10_000 });
    const p = parseAvfoundationDevices(r.stderr);
    return {
      platform,
      displays: p.screens.map((s, i) => ({ id: `display:${i + 1}`, index: s.index, name: s.name, width: 0, height: 0, x: 0, y: 0 })),
      audio: p.audio.map((a, i) => ({ id: `mic:${a.index}`, name: String(a.index), kind: 'mic' as const, description: a.name, default: i === 0 })),
      problems: p.screens.length ? [] : ['no screen listed: grant Screen Recording permission to your terminal in System Settings → Privacy & Security'],
    };
  }
  const r = await run(ffmpeg, ['-hide_banner', '-list_devices', 'true', '-f', 'dshow', '-i', 'dummy'], { env, timeoutMs: 10_000 });
  const p = parseDshowDevices(r.stderr);
  return {
    platform,
    displays: [{ id: 'display:1', index: 1, name: 'desktop', width: 0, height: 0, x: 0, y: 0 }],
    audio: p.audio.map((a, i) => ({ id: `mic:${a}`, name: a, kind: 'mic' as const, description: a, default: i === 0 })),
    problems: ['system audio on Windows needs a loopback device (e.g. "Stereo Mix" or a virtual cable): ffmpeg has no WASAPI loopback input'],
  };
}
