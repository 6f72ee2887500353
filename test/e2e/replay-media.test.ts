/**
 * Replay and export of recorded media: a two-minute session on Xvfb with a
 * mic (espeak-ng) and system audio (a tone through the speakers). The MP4
 * export has one video and one audio stream covering the session, with both
 * the speech and the tone in its mix; get_frame shows what was on screen at
 * a moment and not what came later (read back with tesseract).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, makeRepo, startDaemonProc, stopDaemonProc, tempDir, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';
import { meanDb } from '../helpers/media.js';
import { rigMissing, startRig, type Rig } from '../helpers/rig.js';

const skip = rigMissing(['tesseract']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!skip)('replay and export of recorded media', () => {
  let rig: Rig;
  let home: Home;
  let daemon: DaemonProc | undefined;
  let c: RawClient;
  let id: string;
  const t: Record<string, number> = {};

  beforeAll(async () => {
    rig = await startRig();
    rig.showText('ALPHA screen: compiling the cache module');
    home = makeHome({ DISPLAY: rig.display, PULSE_SERVER: rig.env.PULSE_SERVER, PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH });
    fs.writeFileSync(
      path.join(home.home, 'config.json'),
      JSON.stringify({ capture: { segmentSeconds: 15 }, index: { ocr: { enabled: false }, speech: { enabled: false } } }),
    );
    daemon = await startDaemonProc(home);
    c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: await makeRepo(),
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
        { id: 'system_audio:default', store: true },
      ],
    });
    expect(res.error).toBeUndefined();
    id = res.result.session.id;
    const t0 = res.result.session.started_at;
    const now = () => Date.now() - t0;
    await sleep(20_000 - now());
    t.speech0 = now();
    await rig.speak('the cache invalidation is broken again and the tests keep failing, this is the microphone speaking for a while');
    t.speech1 = now();
    await sleep(40_000 - now());
    t.tone0 = now();
    await rig.playSystemTone(5);
    t.tone1 = now();
    await sleep(60_000 - now());
    rig.showText('BRAVO screen: all tests passing now');
    t.bravo = now();
    await sleep(121_000 - now());
    const stopped = await c.call('stop_session', {});
    t.duration = stopped.result.duration_ms;
  }, 200_000);

  afterAll(async () => {
    c?.close();
    await stopDaemonProc(daemon);
    rig?.stop();
  });

  it('MP4 export of the two-minute session: its duration, one video and one audio stream, speech from the mic and the tone from system audio in the mix', async () => {
    const r = await c.call('export_session', { session: id, target: 'mp4' });
    expect(r.error).toBeUndefined();
    expect(r.result.audio).toEqual(['mic:default', 'system_audio:default']);
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', r.result.file], { encoding: 'utf8' }),
    );
    expect(probe.streams.map((s: any) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(Math.abs(Number(probe.format.duration) * 1000 - t.duration!), `mp4 ${probe.format.duration} s, session ${t.duration} ms`).toBeLessThan(1000);
    const speech = meanDb(r.result.file, t.speech0! / 1000 + 0.5, t.speech1! / 1000 - 0.5);
    const tone = meanDb(r.result.file, t.tone0! / 1000 + 0.5, t.tone1! / 1000 - 0.5);
    const quiet = meanDb(r.result.file, 80, 100);
    expect(speech, 'mic speech in the mix').toBeGreaterThan(-45);
    expect(tone, 'system-audio tone in the mix').toBeGreaterThan(-45);
    expect(quiet, 'silence elsewhere').toBeLessThan(-60);
    // The raw channel files: one per channel, each as long as its channel.
    const raw = await c.call('export_session', { session: id, target: 'raw' });
    expect(raw.result.files.map((f: any) => f.channel)).toEqual(['display:1', 'mic:default', 'system_audio:default']);
    for (const f of raw.result.files) {
      const d = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', f.file], { encoding: 'utf8' }));
      expect(d, f.channel).toBeGreaterThan(t.duration! / 1000 - 4);
    }
  }, 120_000);

  it('get_frame shows the screen as it was at that moment, not what came later', async () => {
    const dir = tempDir('frames-');
    const read = async (at: number) => {
      const f = await c.call('get_frame', { session: id, at });
      expect(f.error).toBeUndefined();
      expect(f.result).toMatchObject({ display: 'display:1', mime_type: 'image/png', width: 1280, height: 720 });
      expect(Math.abs(f.result.frame_offset_ms - at)).toBeLessThan(1000);
      const png = path.join(dir, `${at}.png`);
      fs.writeFileSync(png, Buffer.from(f.result.png_base64, 'base64'));
      return execFileSync('tesseract', [png, 'stdout', '--psm', '3'], { encoding: 'utf8', env: { ...process.env, OMP_THREAD_LIMIT: '1' } });
    };
    const early = await read(30_000);
    expect(early).toMatch(/ALPHA/);
    expect(early).not.toMatch(/BRAVO/);
    const late = await read(t.bravo! + 10_000);
    expect(late).toMatch(/BRAVO/);
    expect(late).not.toMatch(/ALPHA/);
    const replay = await c.call('replay_at', { session: id, at: 30_000 });
    expect(replay.result.frame).toMatchObject({ display: 'display:1' });
  }, 60_000);
});
