// CPU pocketsphinx spends per recorded minute of the benchmark scene
// (bench/record-cost.mjs: one espeak-ng sentence every 10 s), as the indexer
// hands it over (gated, voiced regions spliced into one file), with traced's
// decoder flags (PS_FAST in src/index/speech.ts) and with Debian's defaults,
// interleaved run by run so a loaded machine weighs on both alike. CPU is the
// waited-for children's utime+stime from /proc/self/stat. Median of --runs.
// Usage: npm run build && node bench/speech-cost.mjs [--runs 3] [--minutes 1]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PS_FAST, Pocketsphinx, transcribeRegions, voicedRegions } from '../dist/index/speech.js';
import { tempHome } from './lib.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, minutes: { type: 'string', default: '1' } } });
if (spawnSync('sh', ['-c', 'command -v pocketsphinx_continuous']).status !== 0) {
  console.log('speech-cost skipped=pocketsphinx is not installed (apt install pocketsphinx pocketsphinx-en-us)');
  process.exit(0);
}
const RATE = 16000;
const minutes = Number(values.minutes);
const home = tempHome();
const raw = path.join(home, 'say.wav');
execFileSync('espeak-ng', ['-w', raw, 'the cache invalidation test is failing again, let me look at the store']);
const wav = path.join(home, 'say16.raw');
execFileSync('sox', [raw, '-r', String(RATE), '-c', '1', '-b', '16', '-t', 'raw', wav]);
const buf = fs.readFileSync(wav);
const say = new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
// The recorded minute: a near-silent null-sink mic (±2 LSB) with the sentence every 10 s.
const pcm = new Int16Array(RATE * 60 * minutes);
let seed = 1;
for (let i = 0; i < pcm.length; i++) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  pcm[i] = (seed % 5) - 2;
}
for (let t = 3; t + say.length / RATE < 60 * minutes; t += 10) pcm.set(say, t * RATE);
const gate = voicedRegions(pcm, RATE, -55);
const voiced = gate.regions.reduce((n, r) => n + r.end - r.start, 0);

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
/** CPU seconds of this process's reaped children. */
function childCpu() {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) / TICK;
}
const cases = { fast: new Pocketsphinx(undefined), debian_defaults: new Pocketsphinx(undefined, []) };
const cpu = { fast: [], debian_defaults: [] };
const words = {};
for (let r = 0; r < Number(values.runs); r++) {
  for (const [name, engine] of Object.entries(cases)) {
    const c0 = childCpu();
    const utts = await transcribeRegions(engine, pcm, RATE, gate.regions, home);
    cpu[name].push((childCpu() - c0) / minutes);
    words[name] = utts.map((u) => u.text).join(' | ');
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fast = median(cpu.fast);
const base = median(cpu.debian_defaults);
console.log(
  `speech-cost engine=pocketsphinx flags="${PS_FAST.join(' ')}" cpu_s_per_min=${fast.toFixed(2)} debian_defaults_cpu_s_per_min=${base.toFixed(2)} ` +
    `ratio=${(fast / base).toFixed(2)} voiced_s_per_min=${(voiced / minutes).toFixed(1)} regions=${gate.regions.length} runs=${values.runs} load=${os.loadavg()[0].toFixed(1)}`,
);
console.log(`  runs: fast ${cpu.fast.map((x) => x.toFixed(2)).join(' ')}; debian defaults ${cpu.debian_defaults.map((x) => x.toFixed(2)).join(' ')}`);
console.log(`  heard (fast): ${words.fast}`);
console.log(`  heard (debian defaults): ${words.debian_defaults}`);
fs.rmSync(home, { recursive: true, force: true });
