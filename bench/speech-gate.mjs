// CPU the speech gate saves on a segment that is mostly silence: a 60 s opus
// segment (quiet pink noise, as a desk microphone hears a room) with one
// espeak-ng sentence in it, transcribed whole (as before the gate) and gated
// (only the voiced stretch, padded). CPU is the process's own time plus its
// waited-for children's (ffmpeg, pocketsphinx) from /proc/self/stat, so whisper
// in its worker thread counts too. Median of --runs.
// Usage: npm run build && node bench/speech-gate.mjs [--runs 3] [--whisper-model PATH]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pocketsphinx, transcribeRegions, voicedRegions, WhisperEngine, whisperAvailable } from '../dist/index/speech.js';
import { tempHome } from './lib.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'whisper-model': { type: 'string' } } });
const RATE = 16000;
const home = tempHome();
const raw = path.join(home, 'say.wav');
execFileSync('espeak-ng', ['-v', 'en-us', '-w', raw, 'the harbor cache is failing again after the deploy']);
const noise = path.join(home, 'noise.wav');
execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', noise, 'synth', '60', 'pinknoise', 'vol', '0.003']);
const placed = path.join(home, 'placed.wav');
execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', placed, 'pad', '20']);
const mix = path.join(home, 'mix.wav');
execFileSync('sox', ['-m', '-v', '1', noise, '-v', '1', placed, mix, 'trim', '0', '60']);
const seg = path.join(home, 'seg.ogg');
execFileSync('ffmpeg', ['-v', 'error', '-i', mix, '-ar', '16000', '-ac', '1', '-c:a', 'libopus', '-b:a', '24k', seg]);
const spoken = Number(execFileSync('soxi', ['-D', raw], { encoding: 'utf8' }));

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
/** CPU seconds of this process and its reaped children. */
function cpu() {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // After the command name: state is field 3, so utime..cstime (fields 14–17) sit at 11–14 here.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
}

function decode() {
  const pcmFile = path.join(home, 'a.pcm');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', seg, '-ar', String(RATE), '-ac', '1', '-f', 's16le', '-c:a', 'pcm_s16le', pcmFile]);
  const b = fs.readFileSync(pcmFile);
  return new Int16Array(b.buffer, b.byteOffset, b.length >> 1);
}

async function measure(engine, gated) {
  const c0 = cpu();
  const t0 = performance.now();
  const pcm = decode();
  const all = [{ start: 0, end: pcm.length / RATE }];
  const regions = gated ? voicedRegions(pcm, RATE, -55).regions : all;
  const utts = regions.length ? await transcribeRegions(engine, pcm, RATE, regions, home) : [];
  return {
    cpu: cpu() - c0,
    wall: (performance.now() - t0) / 1000,
    voiced: regions.reduce((n, r) => n + r.end - r.start, 0),
    text: utts.map((u) => `${u.start.toFixed(1)}s "${u.text}"`).join(' | '),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const engines = [];
if (spawnSync('sh', ['-c', 'command -v pocketsphinx_continuous']).status === 0) engines.push(new Pocketsphinx(undefined));
if (values['whisper-model'] && whisperAvailable()) engines.push(new WhisperEngine(path.resolve(values['whisper-model']), 2));
console.log(`segment: 60.0 s, one sentence of ${spoken.toFixed(1)} s at 20 s over pink noise`);
for (const engine of engines) {
  const res = { whole: [], gated: [] };
  for (let i = 0; i < Number(values.runs); i++) {
    for (const mode of ['whole', 'gated']) res[mode].push(await measure(engine, mode === 'gated'));
  }
  const w = median(res.whole.map((r) => r.cpu));
  const g = median(res.gated.map((r) => r.cpu));
  console.log(`  whole: ${res.whole[0].text || '(nothing)'}`);
  console.log(`  gated: ${res.gated[0].text || '(nothing)'}`);
  console.log(
    `speech-gate engine=${engine.name.replace(/\s+/g, '_')} whole_cpu_s=${w.toFixed(2)} gated_cpu_s=${g.toFixed(2)} saved=${(1 - g / w).toFixed(2)} ` +
      `voiced_s=${res.gated[0].voiced.toFixed(1)} whole_wall_s=${median(res.whole.map((r) => r.wall)).toFixed(2)} gated_wall_s=${median(res.gated.map((r) => r.wall)).toFixed(2)} runs=${values.runs}`,
  );
  await engine.close?.();
}
fs.rmSync(home, { recursive: true, force: true });
