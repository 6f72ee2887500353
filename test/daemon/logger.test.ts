import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RollingFile } from '../../src/config/logger.js';
import { tempDir } from '../helpers/env.js';

describe('RollingFile (the daemon log)', () => {
  it('rotates by size, keeps the newest files and links current.log to the newest', () => {
    const dir = tempDir('log-');
    const f = new RollingFile(dir, 'traced', 100, 3);
    for (let i = 0; i < 20; i++) expect(f.write(`${JSON.stringify({ i, pad: 'x'.repeat(40) })}\n`)).toBe(true);
    f.close();
    const files = fs
      .readdirSync(dir)
      .filter((n) => /^traced\.\d+\.log$/.test(n))
      .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
    expect(files.length).toBe(3);
    expect(fs.readlinkSync(path.join(dir, 'current.log'))).toBe(files[files.length - 1]);
    const last = fs.readFileSync(path.join(dir, files[files.length - 1]!), 'utf8');
    expect(last).toContain('"i":19');
    // A new writer continues the newest file instead of starting over.
    const again = new RollingFile(dir, 'traced', 10_000, 3);
    again.write('{"again":true}\n');
    again.close();
    expect(fs.readFileSync(path.join(dir, files[files.length - 1]!), 'utf8')).toContain('"again":true');
  });

  it('never throws on a write error: drops and counts the line, then says how many were lost', () => {
    const dir = tempDir('log-');
    const logDir = path.join(dir, 'logs');
    // maxBytes 1: every write after the first opens a new file, so a broken directory shows at once.
    const f = new RollingFile(logDir, 'traced', 1, 100);
    expect(f.write('{"a":1}\n')).toBe(true);
    // Replace the directory with a file: every open and write now fails.
    fs.rmSync(logDir, { recursive: true });
    fs.writeFileSync(logDir, 'not a directory');
    expect(f.write('{"c":3}\n')).toBe(false);
    expect(f.write('{"d":4}\n')).toBe(false);
    expect(f.dropped).toBeGreaterThanOrEqual(2);
    fs.rmSync(logDir);
    expect(f.write('{"e":5}\n')).toBe(true);
    f.close();
    const newest = fs.readlinkSync(path.join(logDir, 'current.log'));
    const text = fs.readFileSync(path.join(logDir, newest), 'utf8');
    expect(text).toMatch(/"msg":"\d+ log lines were lost to write errors"/);
    expect(text).toContain('"e":5');
    expect(f.dropped).toBe(0);
  });
});
