/**
 * Redaction corpus: every secret kind traced promises to redact, read off a
 * real screen frame by tesseract, heard as speech, and typed as a terminal
 * command — none reaches the event data, the word index or the trigram index.
 * The frame is rendered by ffmpeg and recorded as a real display segment; the
 * indexer is the daemon's. Speech is a stand-in engine returning the corpus:
 * no recognizer here can be made to hear a token reliably.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Indexer } from '../../src/index/indexer.js';
import { TesseractCli } from '../../src/index/ocr.js';
import type { SpeechEngine, Utterance } from '../../src/index/speech.js';
import type { Store } from '../../src/timeline/store.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { testServices, type TestServices } from '../helpers/services.js';

const missing = ['ffmpeg', 'tesseract'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
if (missing.length && process.env.CI === 'true') throw new Error(`CI: missing ${missing.join(', ')}`);
if (missing.length) console.warn(`SKIPPED redaction corpus: needs ${missing.join(', ')}`);

/** [kind, text as it would appear, the secret part that must never be stored]. */
const CORPUS: [string, string, string][] = [
  ['aws_access_key', 'export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
  ['aws_secret_key', 'aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY12', 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY12'],
  ['google_api_key', 'key=AIzaSyDaGmWKa4JsXZHjGw7ISLn95dB7WbbDvdE', 'AIzaSyDaGmWKa4JsXZHjGw7ISLn95dB7WbbDvdE'],
  ['github_token', 'GITHUB ghp_R2kd8Lq0ZpVt7sYwXn4mB6cJ1fHgA9eU3oTi', 'ghp_R2kd8Lq0ZpVt7sYwXn4mB6cJ1fHgA9eU3oTi'],
  ['npm_token', '//registry.npmjs.org/:_authToken npm_Q8wE2rT6yU0iO4pA7sD1fG5hJ9kL3zX8cV2b', 'npm_Q8wE2rT6yU0iO4pA7sD1fG5hJ9kL3zX8cV2b'],
  ['slack_token', 'SLACK xoxb-2048917365-AbCdEfGhIjKlMnOp', 'xoxb-2048917365-AbCdEfGhIjKlMnOp'],
  ['stripe_key', 'STRIPE sk_live_51HqZxK2eZvKYlo2CdRf7TgYh', 'sk_live_51HqZxK2eZvKYlo2CdRf7TgYh'],
  ['jwt', 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'],
  ['private_key', '-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA7bq98 -----END RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEA7bq98'],
  ['url_password', 'postgres://admin:Tr0ub4dorPass@db.internal:5432/app', 'Tr0ub4dorPass'],
  ['bearer', 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4', '9f8e7d6c5b4a39281706f5e4'],
  ['env_assignment', 'DATABASE_PASSWORD=CorrectHorseBattery', 'CorrectHorseBattery'],
];

class CorpusSpeech implements SpeechEngine {
  readonly name = 'corpus';
  async transcribe(): Promise<Utterance[]> {
    return CORPUS.map(([, text], i) => ({
      text,
      start: i,
      end: i + 0.8,
      conf: 0.9,
      words: text.split(' ').map((w, k) => ({ word: w, start: i + k * 0.1, end: i + k * 0.1 + 0.1, conf: 0.9 })),
    }));
  }
}

describe.skipIf(missing.length > 0)('redaction corpus: screen, speech and terminal text', () => {
  let store: Store;
  let engine: TestServices['recorder'];
  let events: TestServices['events'];
  let indexer: Indexer;
  let sessionId: string;

  beforeAll(async () => {
    const home = tempDir('red-');
    const t = testServices({ home });
    const paths = t.paths;
    store = t.store;
    engine = t.recorder;
    events = t.events;
    const project = tempDir('redp-');
    const started = await engine.start({ project, profile: 'events', channels: [] });
    sessionId = started.session.id;
    // A real display segment showing every secret, black on white, and a real audio segment.
    const dir = path.join(paths.sessionsDir, sessionId);
    fs.mkdirSync(path.join(dir, 'display-1'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'mic-default'), { recursive: true });
    const textFile = path.join(home, 'screen.txt');
    fs.writeFileSync(textFile, CORPUS.map(([, t]) => t).join('\n'));
    const video = path.join(dir, 'display-1', '00000.mkv');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'color=c=white:s=1600x720:r=1',
      '-t',
      '2',
      '-vf',
      `drawtext=textfile=${textFile}:fontcolor=black:fontsize=26:x=20:y=20:line_spacing=18:font=Monospace`,
      '-c:v',
      'libx264',
      '-crf',
      '12',
      '-pix_fmt',
      'yuv420p',
      video,
    ]);
    const audio = path.join(dir, 'mic-default', '00000.ogg');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=16000', '-t', '12', '-c:a', 'libopus', audio]);
    for (const [channel, rel, dur] of [
      ['display:1', 'display-1/00000.mkv', 2000],
      ['mic:default', 'mic-default/00000.ogg', 12000],
    ] as const) {
      store.insertSegment({
        session_id: sessionId,
        channel_id: channel,
        seq: 0,
        path: rel,
        start_offset_ms: 0,
        duration_ms: dur,
        bytes: 1,
        sha256: 'x',
        state: 'complete',
        created_at: Date.now(),
      });
    }
    indexer = new Indexer({
      store,
      sessionDir: (id) => path.join(paths.sessionsDir, id),
      tmpDir: home,
      ffmpeg: async () => 'ffmpeg',
      ocr: { engine: new TesseractCli(), reason: 'test' },
      speech: { engine: new CorpusSpeech(), reason: 'test' },
      ocrIntervalMs: 1000,
      duplicateThreshold: 3,
      silenceDb: -60,
      commit: (sid, evs, progress) => void events.appendLate(sid, evs, progress),
      log: pino({ level: 'silent' }),
      idleMs: 100,
    });
    indexer.start();
    await waitFor(
      () => (indexer.status().ocr.pending_segments === 0 && indexer.status().speech.pending_segments === 0 && !indexer.status().current ? true : undefined),
      { timeoutMs: 120_000, what: 'indexing' },
    );
    for (const [, text] of CORPUS) await engine.ingest({ channel: 'terminal', type: 'terminal.command', data: { command: text, exit_code: 0 } });
    await engine.stop();
  }, 180_000);

  afterAll(async () => {
    await indexer?.stop();
    store?.close();
  });

  it('indexed both segments', () => {
    const p = store.db.prepare('SELECT channel_id, kind, state, events, detail FROM index_progress').all();
    expect(p, JSON.stringify(p)).toHaveLength(2);
    for (const r of p as any[]) expect(r.state, JSON.stringify(r)).toBe('done');
  });

  const rows = (type: string) =>
    store.db.prepare('SELECT data, text FROM events WHERE session_id = ? AND type = ?').all(sessionId, type) as { data: string; text: string }[];

  /** Every 8-character piece of a secret, in the forms a recognizer misreads it as. */
  const pieces = (secret: string): string[] => {
    const norm = (x: string) =>
      x
        .toLowerCase()
        .replace(/[o0]/g, 'o')
        .replace(/[il1|]/g, 'i');
    const out: string[] = [];
    for (let i = 0; i + 8 <= secret.length; i++) out.push(norm(secret.slice(i, i + 8)));
    return out;
  };
  const normText = (x: string) =>
    x
      .toLowerCase()
      .replace(/[o0]/g, 'o')
      .replace(/[il1|]/g, 'i')
      .replace(/\s+/g, '');

  it('the screen frame was read, and what was read of each secret line is redacted', () => {
    const screen = rows('screen.text')
      .map((r) => r.text)
      .join('\n');
    expect(screen, screen).toMatch(/GITHUB|SLACK|STRIPE|Authorization/);
    console.log(`OCR of the corpus frame:\n${screen}`);
    expect((screen.match(/\[REDACTED:/g) ?? []).length, screen).toBeGreaterThanOrEqual(CORPUS.length - 2);
  });

  for (const [kind, , secret] of CORPUS) {
    it(`${kind}: redacted in speech and terminal commands as ${kind}; on screen no piece of it survives; never in data or either index`, () => {
      const speech = rows('transcript.segment')
        .map((r) => r.text)
        .join('\n');
      const terminal = rows('terminal.command')
        .map((r) => r.text)
        .join('\n');
      expect(speech).toContain(`[REDACTED:${kind}]`);
      expect(terminal).toContain(`[REDACTED:${kind}]`);
      const everything = store.db.prepare("SELECT data || COALESCE(text, '') AS all_text FROM events WHERE session_id = ?").all(sessionId) as {
        all_text: string;
      }[];
      for (const r of everything) {
        expect(r.all_text).not.toContain(secret);
        const t = normText(r.all_text);
        for (const p of pieces(secret)) expect(t.includes(p), `a piece "${p}" of the ${kind} survives in: ${r.all_text.slice(0, 300)}`).toBe(false);
      }
      const fragment = secret.slice(0, 16).replace(/"/g, '');
      expect((store.db.prepare('SELECT COUNT(*) AS n FROM events_trigram WHERE events_trigram MATCH ?').get(`"${fragment}"`) as { n: number }).n).toBe(0);
      const word = secret
        .replace(/[^A-Za-z0-9]+/g, ' ')
        .trim()
        .split(' ')
        .sort((a, b) => b.length - a.length)[0] as string;
      expect((store.db.prepare('SELECT COUNT(*) AS n FROM events_fts WHERE events_fts MATCH ?').get(`"${word}"`) as { n: number }).n).toBe(0);
    });
  }
});
