// How much of what a developer says each speech engine gets: the sentences of
// bench/speech-corpus.json are spoken by espeak-ng at run time (16 kHz mono, as
// the indexer hands audio to engines), transcribed by every engine this machine
// has, and scored. words = share of the spoken words found in the transcript
// (as a bag: order and position are not judged); said = share of the
// transcript's words that were spoken (the rest are words nobody said, which an
// assistant reading the transcript takes as said); keywords = share of the
// corpus's key phrases found whole (the phrases search must find).
// Usage: npm run build && node bench/speech-recall.mjs [--whisper-model PATH]... [--voice en-us] [--noise] [--debian-defaults] [--verbose]
//   --debian-defaults also scores pocketsphinx without traced's decoder flags (PS_FAST), as engine=pocketsphinx_debian_defaults.
//   --noise mixes pink noise at about -50 dBFS under the speech (a desk microphone).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pocketsphinx, WhisperEngine, whisperAvailable } from '../dist/index/speech.js';
import { ROOT, tempHome } from './lib.mjs';

/** Keyword recall this corpus should reach before transcripts are worth searching by voice. */
const GOAL_KEYWORDS = 0.8;

const { values } = parseArgs({
  options: {
    'whisper-model': { type: 'string', multiple: true, default: [] },
    voice: { type: 'string', default: 'en-us' },
    noise: { type: 'boolean' },
    'debian-defaults': { type: 'boolean' },
    verbose: { type: 'boolean' },
  },
});
const corpus = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'speech-corpus.json'), 'utf8')).sentences;

const norm = (s) =>
  ` ${s
    .toLowerCase()
    .replace(/'/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()} `;
for (const s of corpus) {
  for (const k of s.keywords) if (!norm(s.say).includes(norm(k[0]))) throw new Error(`corpus: keyword "${k[0]}" is not in "${s.say}"`);
}

const home = tempHome();
const wavs = corpus.map((s, i) => {
  const raw = path.join(home, `s${i}-raw.wav`);
  const wav = path.join(home, `s${i}.wav`);
  execFileSync('espeak-ng', ['-v', values.voice, '-w', raw, s.say]);
  if (values.noise) {
    const noise = path.join(home, `s${i}-noise.wav`);
    const len = execFileSync('soxi', ['-D', raw], { encoding: 'utf8' }).trim();
    execFileSync('sox', ['-n', '-r', '22050', '-c', '1', '-b', '16', noise, 'synth', len, 'pinknoise', 'vol', '0.006']);
    execFileSync('sox', ['-m', '-v', '1', raw, '-v', '1', noise, '-r', '16000', '-c', '1', '-b', '16', wav]);
  } else execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', wav]);
  return wav;
});

const engines = [];
if (spawnSync('sh', ['-c', 'command -v pocketsphinx_continuous']).status === 0) {
  engines.push(new Pocketsphinx(undefined));
  if (values['debian-defaults']) engines.push(Object.assign(new Pocketsphinx(undefined, []), { label: 'pocketsphinx_debian_defaults' }));
} else console.log('speech-recall engine=pocketsphinx skipped=not installed (apt install pocketsphinx pocketsphinx-en-us)');
if (!values['whisper-model'].length) console.log('speech-recall engine=whisper skipped=no model given (--whisper-model PATH; traced models pull base.en)');
else if (!whisperAvailable()) console.log('speech-recall engine=whisper skipped=@napi-rs/whisper has no binary for this platform');
else for (const m of values['whisper-model']) engines.push(new WhisperEngine(path.resolve(m), 2));

for (const engine of engines) {
  let words = 0;
  let wordsHit = 0;
  let heardWords = 0;
  let keys = 0;
  let keysHit = 0;
  const t0 = performance.now();
  for (const [i, s] of corpus.entries()) {
    const heard = (await engine.transcribe(wavs[i])).map((u) => u.text).join(' ');
    const bag = new Map();
    for (const w of norm(heard).trim().split(' ').filter(Boolean)) {
      bag.set(w, (bag.get(w) ?? 0) + 1);
      heardWords++;
    }
    for (const w of norm(s.say).trim().split(' ')) {
      words++;
      if (bag.get(w)) {
        wordsHit++;
        bag.set(w, bag.get(w) - 1);
      }
    }
    const missed = [];
    for (const k of s.keywords) {
      keys++;
      if (k.some((spelling) => norm(heard).includes(norm(spelling)))) keysHit++;
      else missed.push(k[0]);
    }
    if (values.verbose) console.log(`  ${engine.name}: "${s.say}" → "${heard}"${missed.length ? `  missed: ${missed.join(', ')}` : ''}`);
  }
  const secs = (performance.now() - t0) / 1000;
  const kw = keysHit / keys;
  console.log(
    `speech-recall engine=${engine.label ?? engine.name.replace(/\s+/g, '_')} words=${(wordsHit / words).toFixed(2)} said=${heardWords ? (wordsHit / heardWords).toFixed(2) : 'n/a'} keywords=${kw.toFixed(2)} ` +
      `goal=keywords>=${GOAL_KEYWORDS}:${kw >= GOAL_KEYWORDS ? 'met' : 'missed'} sentences=${corpus.length} voice=${values.voice} seconds=${secs.toFixed(1)}${values.noise ? ' noise=pink' : ''}`,
  );
  await engine.close?.();
}
fs.rmSync(home, { recursive: true, force: true });
