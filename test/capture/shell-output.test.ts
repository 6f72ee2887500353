/**
 * The writer behind `traced shell`: whatever way the output is cut into reads,
 * no secret reaches the cast file; binary output still gives a file every line
 * of which parses; the per-session cap stops keeping output and says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ShellOutput } from '../../src/capture/shell-output.js';
import { redact } from '../../src/timeline/redact.js';
import { castPath, parseCastLine, parseMarker, readCast, terminalText } from '../../src/timeline/terminal-cast.js';
import { tempDir } from '../helpers/env.js';
import { inText, LeakScanner, makeSecrets } from '../helpers/secrets.js';

const root = tempDir('shout-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const SID = '20261121-145012-k3x9';

function writer(maxBytes = 64 * 1024 * 1024) {
  const sessionsDir = path.join(root, `s${++n}`);
  return new ShellOutput({
    sessionsDir,
    sessionId: SID,
    sessionStartedAt: Date.now() - 5000,
    stream: `1-${n}`,
    cols: 80,
    rows: 24,
    command: 'bash',
    redact,
    now: Date.now,
    maxBytes,
  });
}

const output = (file: string) =>
  readCast(file)
    .events.filter((e) => e.code === 'o')
    .map((e) => e.data)
    .join('');

describe('ShellOutput', () => {
  it('keeps no secret however the output is split into reads (secrets cut across chunk boundaries included)', () => {
    const secrets = makeSecrets();
    const lines = secrets.map((s, i) => `\x1b[3${i % 8}mline ${i}: ${inText(s)}\x1b[0m é ✓\r\n`);
    const bytes = Buffer.from(lines.join(''));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 200 }), (cuts) => {
        const w = writer();
        const at = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        for (let i = 1; i < at.length; i++) w.write(bytes.subarray(at[i - 1], at[i]));
        w.close({ code: 0 });
        const scanner = new LeakScanner();
        for (const s of secrets) scanner.plant('terminal output', s);
        scanner.scan(w.file, fs.readFileSync(w.file));
        expect(scanner.leaks).toEqual([]);
        // Nothing but the secrets was lost: every line is there, in order, multibyte characters whole.
        const text = terminalText(output(w.file));
        for (let i = 0; i < lines.length; i++) expect(text).toContain(`line ${i}: `);
        expect(text.match(/é ✓/g)?.length).toBe(lines.length);
      }),
      { numRuns: 25 },
    );
  });

  it('writes binary and invalid UTF-8 output as lines that all parse', () => {
    const w = writer();
    const junk = Buffer.alloc(200_000);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + (i >> 3)) & 0xff;
    for (let i = 0; i < junk.length; i += 4093) w.write(junk.subarray(i, i + 4093));
    w.write(Buffer.from([0xff, 0xfe, 0xc3]));
    w.write('after the junk\n');
    w.close({ code: 0 });
    const raw = fs.readFileSync(w.file, 'utf8').split('\n').filter(Boolean);
    expect(raw.length).toBeGreaterThan(2);
    for (const l of raw) expect(parseCastLine(l), l.slice(0, 80)).toBeDefined();
    expect(output(w.file)).toContain('after the junk');
  });

  it('stops keeping output at the session cap, with one terminal.output_dropped marker and the count at exit', () => {
    const cap = 256 * 1024;
    const w = writer(cap);
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 10_000; i++) w.write(line);
    w.close({ code: 0 });
    const size = fs.statSync(w.file).size;
    expect(size).toBeLessThanOrEqual(cap + 4096);
    const markers = readCast(w.file)
      .events.filter((e) => e.code === 'm')
      .map((e) => parseMarker(e.data));
    expect(markers.filter((m) => m?.type === 'terminal.output_dropped')).toHaveLength(1);
    const exit = markers.find((m) => m?.type === 'terminal.exit');
    expect(exit?.dropped_bytes).toBeGreaterThan(1_000_000 - cap - 1);
    expect(output(w.file).length + Number(exit?.dropped_bytes)).toBeGreaterThanOrEqual(1_000_000 - 100);
  });

  it('counts other shells of the session against the cap', () => {
    const a = writer(100 * 1024);
    const dir = path.dirname(a.file);
    a.write(`${'a'.repeat(80 * 1024)}\n`);
    a.close({ code: 0 });
    const b = new ShellOutput({
      sessionsDir: path.dirname(path.dirname(dir)),
      sessionId: SID,
      sessionStartedAt: Date.now(),
      stream: 'other-1',
      cols: 80,
      rows: 24,
      command: 'sh',
      redact,
      now: Date.now,
      maxBytes: 100 * 1024,
    });
    b.write(`${'b'.repeat(40 * 1024)}\n`);
    b.close({ code: 0 });
    expect(b.bytesDropped).toBe(40 * 1024 + 1);
  });

  it('refuses stream names and session ids that could leave the session folder', () => {
    expect(() => castPath(root, '../../etc', 'x')).toThrow();
    expect(() => castPath(root, SID, '../x')).toThrow();
    expect(() => castPath(root, SID, 'a/b')).toThrow();
  });
});

describe('terminalText', () => {
  it('keeps what a person read: colours, titles and cursor moves removed, a carriage return overwrites, backspace takes back', () => {
    expect(terminalText('\x1b]0;title\x07\x1b[1;31merror\x1b[0m: bad\r\n')).toBe('error: bad\n');
    expect(terminalText('10%\r20%\r100%\n')).toBe('100%\n');
    expect(terminalText('abc\b\bX\n')).toBe('aX\n');
    expect(terminalText('\x1b[2J\x1b[Hok\x1b[?2004h\n')).toBe('ok\n');
  });

  it('never throws and never leaves an escape character, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
        expect(terminalText(Buffer.from(b).toString('utf8'))).not.toMatch(/[\x1b\x00-\x08]/);
      }),
    );
  });
});

describe('hostile output (issue 16 attack)', () => {
  it('a secret in a line too long to hold (minified JSON, 4 KB reads) is never cut in two on disk', () => {
    const gh = `ghp_${'Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2'}`;
    for (const pad of [65_520, 65_530, 65_536, 278_501]) {
      const w = writer();
      const b = Buffer.from(`{"data":"${'x'.repeat(pad)}","token":"${gh}","more":"${'y'.repeat(70_000)}"}\n`);
      for (let i = 0; i < b.length; i += 4096) w.write(b.subarray(i, i + 4096));
      w.close({ code: 0 });
      const raw = fs.readFileSync(w.file, 'utf8');
      expect(raw.includes(gh.slice(0, 14)) || raw.includes(gh.slice(-14)), `pad ${pad}`).toBe(false);
    }
  });
});
