// Replay and export on a one-hour session: 60 display segments of 60 s (1280x720 @ 2 fps), 60
// mic and 60 system-audio segments, 100,000 events. MP4 export time next to the bare ffmpeg
// concat + amix command on the same segments; get_frame next to a bare `ffmpeg -ss … -frames:v 1`
// on the same segment and moment (interleaved); replay_at p50. One RATIO line per floor.
// Usage: npm run build && node bench/replay.mjs [events=100000]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../dist/config/config.js';
import { buildServices } from '../dist/daemon/main.js';
import { findOperation, invoke } from '../dist/api/index.js';
import { resolvePaths } from '../dist/config/paths.js';
import { eventText } from '../dist/timeline/event-text.js';
import { Store } from '../dist/timeline/store.js';
import { percentiles, tempHome } from './lib.mjs';

const nEvents = Number(process.argv[2] ?? 100_000);
const home = tempHome();
const paths = resolvePaths({ env: { TRACED_HOME: home }, home });
const sid = '20260101-090000-rply';
const sdir = path.join(paths.sessionsDir, sid);
fs.mkdirSync(path.join(sdir, 'display-1'), { recursive: true });
fs.mkdirSync(path.join(sdir, 'mic-default'), { recursive: true });
fs.mkdirSync(path.join(sdir, 'system_audio-default'), { recursive: true });
const lines = Array.from(
  { length: 20 },
  (_, i) => `drawtext=text='line ${i} %{eif\\:t\\:d} src/cache/store.ts error TS2345':fontcolor=white:fontsize=16:x=10:y=${20 + i * 24}:font=Monospace`,
);
const v0 = path.join(sdir, 'display-1', '00000.mkv');
execFileSync('ffmpeg', [
  '-v',
  'error',
  '-f',
  'lavfi',
  '-i',
  'color=c=0x202020:s=1280x720:r=2',
  '-t',
  '60',
  '-vf',
  lines.join(','),
  '-c:v',
  'libx264',
  '-preset',
  'veryfast',
  '-tune',
  'stillimage,zerolatency',
  '-crf',
  '30',
  '-pix_fmt',
  'yuv420p',
  '-g',
  '240',
  v0,
]);
const a0 = path.join(sdir, 'mic-default', '00000.ogg');
execFileSync('ffmpeg', [
  '-v',
  'error',
  '-f',
  'lavfi',
  '-i',
  'sine=frequency=300:sample_rate=16000',
  '-t',
  '60',
  '-c:a',
  'libopus',
  '-b:a',
  '24k',
  '-application',
  'voip',
  a0,
]);
const store = new Store(paths.db);
const started = Date.UTC(2026, 0, 1, 9);
store.insertSession({ id: sid, project: '/work/app', label: null, profile: 'full', state: 'ended', started_at: started, meta: '{}' });
for (let i = 0; i < 60; i++) {
  for (const [ch, dir, ext, src] of [
    ['display:1', 'display-1', 'mkv', v0],
    ['mic:default', 'mic-default', 'ogg', a0],
    ['system_audio:default', 'system_audio-default', 'ogg', a0],
  ]) {
    const rel = path.join(dir, `${String(i).padStart(5, '0')}.${ext}`);
    if (path.join(sdir, rel) !== src) fs.copyFileSync(src, path.join(sdir, rel));
    store.insertSegment({
      session_id: sid,
      channel_id: ch,
      seq: i,
      path: rel,
      start_offset_ms: i * 60_000,
      duration_ms: 60_000,
      bytes: fs.statSync(src).size,
      sha256: 'x',
      state: 'complete',
      created_at: i,
    });
  }
}
const types = ['file.changed', 'window.focus', 'terminal.command', 'editor.diagnostics', 'screen.text', 'transcript.segment', 'git.commit'];
const evs = [];
for (let i = 1; i <= nEvents; i++) {
  const type = types[i % types.length];
  const offset = Math.floor((i * 3_600_000) / nEvents);
  const data =
    type === 'file.changed'
      ? { path: `src/f${i % 40}.ts`, size: i }
      : type === 'window.focus'
        ? { title: `editor ${i % 9}`, app: 'code' }
        : type === 'git.commit'
          ? { hash: i.toString(16), subject: `commit ${i}` }
          : { text: `event ${i} cache store`, command: `npm test ${i}`, exit_code: i % 3 };
  evs.push({
    session_id: sid,
    seq: i,
    parent_seq: null,
    ts: started + offset,
    offset_ms: offset,
    channel: type.split('.')[0],
    type,
    data,
    text: eventText(type, data),
  });
}
for (let i = 0; i < evs.length; i += 5000) store.appendEvents(evs.slice(i, i + 5000));
store.endSession(sid, { state: 'ended', ended_at: started + 3_600_000, end_offset_ms: 3_600_000 });
const built = buildServices({
  store,
  paths,
  config: loadConfig({ env: {}, file: {} }),
  logger: pino({ level: 'silent' }),
  env: {},
  cwd: home,
  version: 'bench',
  notify: () => undefined,
});
built.replay.refreshMoments(sid);
const call = (op, params) => invoke(findOperation(op), params, built.services);

// The floor under export: the same segments through one bare ffmpeg command (concat demuxer per
// channel, amix of the two audio channels, video copied, AAC audio), as a person would type it.
const floorDir = fs.mkdtempSync(path.join(home, 'floor-'));
const list = (dir, ext) => {
  const f = path.join(floorDir, `${dir}.ffconcat`);
  const body = Array.from({ length: 60 }, (_, i) => `file '${path.join(sdir, dir, `${String(i).padStart(5, '0')}.${ext}`)}'\nduration 60`).join('\n');
  fs.writeFileSync(f, `ffconcat version 1.0\n${body}\n`);
  return f;
};
const bareExport = () => {
  const out = path.join(floorDir, 'bare.mp4');
  const a = performance.now();
  const r = spawnSync('ffmpeg', [
    '-nostdin',
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    list('display-1', 'mkv'),
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    list('mic-default', 'ogg'),
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    list('system_audio-default', 'ogg'),
    '-filter_complex',
    '[1:a:0][2:a:0]amix=inputs=2:duration=longest:normalize=0[mixed]',
    '-map',
    '0:v:0',
    '-map',
    '[mixed]',
    '-c:v',
    'copy',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-ac',
    '1',
    '-movflags',
    '+faststart',
    out,
  ]);
  if (r.status !== 0) throw new Error(`bare export failed: ${r.stderr}`);
  return (performance.now() - a) / 1000;
};
// Alternate: bare, traced, bare, traced — each sees the same machine.
const bareS = [];
const tracedS = [];
let mp4;
for (let k = 0; k < 2; k++) {
  bareS.push(bareExport());
  const t0 = performance.now();
  mp4 = await call('export_session', { session: sid, target: 'mp4' });
  tracedS.push((performance.now() - t0) / 1000);
}
const exportS = Math.min(...tracedS);
const bareExportS = Math.min(...bareS);

const rand = (n) => Math.floor(Math.random() * n);
const frames = [];
const bareFrames = [];
for (let i = 0; i < 30; i++) {
  const at = rand(3_600_000);
  const seg = path.join(sdir, 'display-1', `${String(Math.floor(at / 60_000)).padStart(5, '0')}.mkv`);
  const b = performance.now();
  const r = spawnSync('ffmpeg', [
    '-nostdin',
    '-hide_banner',
    '-loglevel',
    'error',
    '-ss',
    ((at % 60_000) / 1000).toFixed(3),
    '-i',
    seg,
    '-frames:v',
    '1',
    '-y',
    path.join(floorDir, 'f.png'),
  ]);
  if (r.status !== 0) throw new Error(`bare frame failed: ${r.stderr}`);
  bareFrames.push(performance.now() - b);
  const a = performance.now();
  await call('get_frame', { session: sid, at });
  frames.push(performance.now() - a);
}
const replays = [];
for (let i = 0; i < 200; i++) {
  const a = performance.now();
  await call('replay_at', { session: sid, at: rand(3_600_000), tolerance_ms: 2000, window_ms: 60_000 });
  replays.push(performance.now() - a);
}
const pf = percentiles(frames);
const pb = percentiles(bareFrames);
const pr = percentiles(replays);
console.log(`one-hour session, 60 display + 60 mic + 60 system-audio segments, ${nEvents} events`);
console.log(
  `  MP4 export (screen + 2 audio mixed, ${(mp4.bytes / 1e6).toFixed(1)} MB): best of 2 ${exportS.toFixed(1)} s; bare ffmpeg concat+amix ${bareExportS.toFixed(1)} s`,
);
console.log(`  get_frame: p50 ${pf.p50.toFixed(0)} ms, p90 ${pf.p90.toFixed(0)} ms; bare ffmpeg -ss -frames:v 1 p50 ${pb.p50.toFixed(0)} ms`);
console.log(`  replay_at: p50 ${pr.p50.toFixed(1)} ms, p90 ${pr.p90.toFixed(1)} ms (goal p50 <= 20 ms)`);
const er = exportS / bareExportS;
const fr = pf.p50 / pb.p50;
console.log(
  `RATIO export/bare-ffmpeg = ${er.toFixed(2)}x (goal <= 1.2x: ${er <= 1.2 ? 'MET' : 'NOT MET'}; ${exportS.toFixed(1)} s vs ${bareExportS.toFixed(1)} s)`,
);
console.log(
  `RATIO get_frame/bare-ffmpeg p50 = ${fr.toFixed(2)}x (goal <= 1.3x: ${fr <= 1.3 ? 'MET' : 'NOT MET'}; ${pf.p50.toFixed(0)} ms vs ${pb.p50.toFixed(0)} ms)`,
);
store.close();
fs.rmSync(home, { recursive: true, force: true });
