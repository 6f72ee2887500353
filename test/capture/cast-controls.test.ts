/**
 * Secrets in terminal output that the raw bytes break up but the terminal shows
 * whole: a control it does not show (NUL, BEL, DEL, SO/SI, ENQ) inside a token,
 * and a token printed in two halves a moment apart (held back, not flushed
 * apart). Each writes a real cast file, scanned raw for every planted secret.
 * (From a hostile review: the first was a regression of a faster redaction gate.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ShellOutput } from '../../src/capture/shell-output.js';
import { redact } from '../../src/timeline/redact.js';
import { terminalText } from '../../src/timeline/terminal-cast.js';
import { tempDir } from '../helpers/env.js';
import { inText, LeakScanner, makeSecrets } from '../helpers/secrets.js';

const root = tempDir('atk-cast-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
function writer() {
  return new ShellOutput({
    sessionsDir: path.join(root, `s${++n}`),
    sessionId: '20261121-145012-k3x9',
    sessionStartedAt: Date.now() - 5000,
    stream: `1-${n}`,
    cols: 80,
    rows: 24,
    command: 'bash',
    redact,
    now: Date.now,
    maxBytes: 64 * 1024 * 1024,
  });
}
// Insert a control the terminal ignores (NUL, BEL, DEL, ...) in the middle of each secret's value.
function split(s: { value: string }, line: string, c: string) {
  const mid = Math.floor(s.value.length / 2);
  return line.replace(s.value, s.value.slice(0, mid) + c + s.value.slice(mid));
}
describe('cast redaction with invisible controls inside a token', () => {
  for (const [name, c] of [
    ['NUL', '\x00'],
    ['BEL', '\x07'],
    ['DEL', '\x7f'],
    ['SO/SI', '\x0e\x0f'],
    ['ENQ', '\x05'],
  ] as const) {
    it(`${name} inside a secret, PTY line ending \\r\\n`, () => {
      const secrets = makeSecrets().filter((s) => s.kind !== 'private_key');
      const w = writer();
      for (const s of secrets) w.write(Buffer.from(split(s, `out: ${inText(s)}`, c) + '\r\n'));
      w.close({ code: 0 });
      const scanner = new LeakScanner();
      for (const s of secrets) scanner.plant('terminal output', s);
      scanner.scan(w.file, fs.readFileSync(w.file));
      // what the terminal shows contains the whole secret:
      expect(terminalText(split(secrets[0]!, inText(secrets[0]!), c))).toContain(secrets[0]!.value);
      expect(scanner.leaks.map((l) => l.kind)).toEqual([]);
    });
  }
});

describe('a token printed in two halves with a pause', () => {
  it('half, 1.2 s pause, other half: the terminal shows one token', async () => {
    const s = makeSecrets().find((x) => x.kind === 'github_token')!;
    const w = writer();
    const mid = Math.floor(s.value.length / 2);
    w.write(Buffer.from(`token: ${s.value.slice(0, mid)}`));
    await new Promise((r) => setTimeout(r, 1200));
    w.write(Buffer.from(`${s.value.slice(mid)}\r\n`));
    w.close({ code: 0 });
    const scanner = new LeakScanner();
    scanner.plant('terminal output', s);
    scanner.scan(w.file, fs.readFileSync(w.file));
    expect(scanner.leaks.map((l) => l.kind)).toEqual([]);
  });
});
