import { describe, expect, it } from 'vitest';
import {
  audioInput,
  displayInput,
  parseAvfoundationDevices,
  parseDshowDevices,
  parsePactlSources,
  parseXrandrMonitors,
  parseXwininfo,
  pulseSource,
} from '../../src/capture/devices.js';
import { describeFailure } from '../../src/capture/media.js';
import { parseSegmentList, parseStartEpoch } from '../../src/capture/segments.js';

// Captured outputs of the listing commands (trimmed), one per platform.
const AVFOUNDATION = `[AVFoundation indev @ 0x7f8b1c704a80] AVFoundation video devices:
[AVFoundation indev @ 0x7f8b1c704a80] [0] FaceTime HD Camera
[AVFoundation indev @ 0x7f8b1c704a80] [1] Capture screen 0
[AVFoundation indev @ 0x7f8b1c704a80] [2] Capture screen 1
[AVFoundation indev @ 0x7f8b1c704a80] AVFoundation audio devices:
[AVFoundation indev @ 0x7f8b1c704a80] [0] MacBook Pro Microphone
[AVFoundation indev @ 0x7f8b1c704a80] [1] BlackHole 2ch
: Input/output error`;

const DSHOW = `[dshow @ 000001c5a1e0a240] "Integrated Webcam" (video)
[dshow @ 000001c5a1e0a240]   Alternative name "@device_pnp_\\\\?\\usb#vid_0bda"
[dshow @ 000001c5a1e0a240] "Microphone Array (Realtek(R) Audio)" (audio)
[dshow @ 000001c5a1e0a240]   Alternative name "@device_cm_{33D9A762-90C8-11D0-BD43-00A0C911CE86}\\wave_{1B0C}"
[dshow @ 000001c5a1e0a240] "Stereo Mix (Realtek(R) Audio)" (audio)
dummy: Immediate exit requested`;

describe('device listings', () => {
  it('parses avfoundation screens and microphones (macOS)', () => {
    const p = parseAvfoundationDevices(AVFOUNDATION);
    expect(p.screens).toEqual([
      { index: 1, name: 'Capture screen 0' },
      { index: 2, name: 'Capture screen 1' },
    ]);
    expect(p.audio.map((a) => a.name)).toEqual(['MacBook Pro Microphone', 'BlackHole 2ch']);
  });
  it('parses dshow devices (Windows)', () => {
    expect(parseDshowDevices(DSHOW)).toEqual({ video: ['Integrated Webcam'], audio: ['Microphone Array (Realtek(R) Audio)', 'Stereo Mix (Realtek(R) Audio)'] });
  });
  it('parses xrandr, xwininfo and pactl (Linux)', () => {
    expect(parseXrandrMonitors('Monitors: 2\n 0: +*eDP-1 1920/344x1080/194+0+0  eDP-1\n 1: +HDMI-1 2560/597x1440/336+1920+0  HDMI-1\n')).toEqual([
      { index: 1, width: 1920, height: 1080, x: 0, y: 0, name: 'eDP-1' },
      { index: 2, width: 2560, height: 1440, x: 1920, y: 0, name: 'HDMI-1' },
    ]);
    expect(parseXwininfo('  Width: 1280\n  Height: 720\n')).toEqual({ width: 1280, height: 720 });
    const src = parsePactlSources(
      '0\tv.monitor\tmodule-null-sink.c\ts16le 2ch 44100Hz\tIDLE\n1\talsa_input.usb-mic\tmodule-alsa-card.c\ts16le 1ch 48000Hz\tRUNNING\n',
      'alsa_input.usb-mic',
    );
    expect(src.map((s) => [s.id, s.kind, s.default])).toEqual([
      ['system_audio:v.monitor', 'monitor', false],
      ['mic:alsa_input.usb-mic', 'mic', true],
    ]);
  });
  it('builds the input arguments per platform', () => {
    expect(displayInput('linux', { display: ':1', x: 1920, y: 0, width: 2560, height: 1440 }, 2).args).toEqual([
      '-f',
      'x11grab',
      '-framerate',
      '2',
      '-video_size',
      '2560x1440',
      '-i',
      ':1+1920,0',
    ]);
    expect(displayInput('darwin', { width: 0, height: 0, index: 1 }, 2).args).toEqual([
      '-f',
      'avfoundation',
      '-capture_cursor',
      '1',
      '-framerate',
      '2',
      '-i',
      '1:none',
    ]);
    expect(displayInput('win32', { x: 0, y: 0, width: 1920, height: 1080 }, 2).args).toContain('gdigrab');
    expect(audioInput('win32', 'Microphone Array (Realtek(R) Audio)').args).toEqual(['-f', 'dshow', '-i', 'audio=Microphone Array (Realtek(R) Audio)']);
    expect(audioInput('darwin', 'default').args).toEqual(['-f', 'avfoundation', '-i', ':0']);
    expect(pulseSource('system_audio:default')).toBe('@DEFAULT_MONITOR@');
    expect(pulseSource('mic:default')).toBe('@DEFAULT_SOURCE@');
    expect(pulseSource('mic:alsa_input.usb-mic')).toBe('alsa_input.usb-mic');
  });
});

describe('ffmpeg output', () => {
  it('reads the start epoch and the segment list', () => {
    expect(parseStartEpoch("Input #0, x11grab, from ':99':\n  Duration: N/A, start: 1795273179.457123, bitrate: N/A\n")).toBe(1795273179457);
    expect(parseSegmentList('00000.mkv,0.000000,10.000000\n00001.mkv,10.000000,20.000000\n')).toEqual([
      { file: '00000.mkv', start: 0, end: 10 },
      { file: '00001.mkv', start: 10, end: 20 },
    ]);
  });
  it('says why ffmpeg stopped in one line', () => {
    expect(describeFailure('[pulse @ 0x1] Connection refused\nfoo: Input/output error\n', 1, null)).toBe('foo: Input/output error (exit code 1)');
    expect(describeFailure('av_interleaved_write_frame(): No space left on device', 1, null)).toBe('disk full: no space left on device');
    expect(describeFailure('', null, 'SIGKILL')).toBe('ffmpeg stopped (killed by SIGKILL)');
  });
});
