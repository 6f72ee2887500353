/**
 * `traced config set|unset` under concurrency and with a config.json that is
 * a symlink: real CLI processes racing on one file keep every key they
 * reported as set; a lock left by a killed process does not block for ever; a
 * lock held by a live one is waited for, then refused with a code; the link
 * stays a link and its target gets the change. Temp homes only.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTarget, editConfigFile, withConfigLock } from '../../src/config/config-file.js';
import { TracedError } from '../../src/errors.js';
import { BIN, tempDir } from '../helpers/env.js';

function cliSet(env: Record<string, string>, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, 'config', ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
    c.on('exit', (code) => resolve(code ?? -1));
  });
}

/** A pid that is certainly not running: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const c = spawn('true');
  await new Promise((r) => c.on('exit', r));
  return c.pid as number;
}

describe('config set under concurrency', () => {
  it('12 processes setting and unsetting different keys at once, with a stale lock from a killed process in the way: every change is kept', async () => {
    const home = tempDir('cfg-th-');
    const env = { TRACED_HOME: home, HOME: tempDir('cfg-h-') };
    const file = path.join(home, 'config.json');
    fs.writeFileSync(file, `${JSON.stringify({ capture: { fps: 3 }, logLevel: 'warn' }, null, 4)}\n`);
    fs.writeFileSync(`${file}.lock`, String(await deadPid()));
    const sets: [string, string][] = [
      ['log.maxFileMb', '7'],
      ['log.keepFiles', '4'],
      ['session.jsonlSyncMs', '250'],
      ['files.settleMs', '90'],
      ['capture.segmentSeconds', '30'],
      ['queue.concurrency', '3'],
      ['queue.maxAttempts', '9'],
      ['capture.stallMs', '9000'],
      ['logLevel', 'debug'],
      ['index.ocr.enabled', 'false'],
      ['index.speech.enabled', 'false'],
    ];
    const codes = await Promise.all([...sets.map(([k, v]) => cliSet(env, ['set', k, v])), cliSet(env, ['unset', 'capture.fps'])]);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const failed = codes.flatMap((c, i) => (c === 0 ? [] : [sets[i]?.[0] ?? 'unset']));
    expect(failed).toEqual([]);
    for (const [k, v] of sets) {
      const got = k.split('.').reduce((o: any, p) => o?.[p], doc);
      expect(String(got), k).toBe(v);
    }
    expect(doc.capture.fps).toBeUndefined();
    // The file keeps its four-space indentation; no lock or temp file is left.
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^\{\n {4}"/);
    expect(fs.readdirSync(home).filter((n) => n !== 'config.json')).toEqual([]);
  }, 120_000);

  it('waits for a lock a live process holds, then refuses with TRACED_CONFIG_INVALID naming it, writing nothing', () => {
    const file = path.join(tempDir('cfg-'), 'config.json');
    fs.writeFileSync(file, '{}\n');
    fs.writeFileSync(`${file}.lock`, String(process.pid));
    const t0 = Date.now();
    let err: unknown;
    try {
      withConfigLock(file, () => fs.writeFileSync(file, 'clobbered'), 300);
    } catch (e) {
      err = e;
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(err).toBeInstanceOf(TracedError);
    expect((err as TracedError).code).toBe('TRACED_CONFIG_INVALID');
    expect((err as TracedError).data).toMatchObject({ lock: `${file}.lock` });
    expect(fs.readFileSync(file, 'utf8')).toBe('{}\n');
    expect(fs.readFileSync(`${file}.lock`, 'utf8')).toBe(String(process.pid));
  });
});

describe('config set through a symlink', () => {
  it('set and unset write the target and keep the link; a link to a file not there yet creates that file', () => {
    const dots = tempDir('cfg-dot-');
    const home = tempDir('cfg-th-');
    const target = path.join(dots, 'traced.json');
    fs.writeFileSync(target, '{"logLevel":"warn"}\n');
    const link = path.join(home, 'config.json');
    fs.symlinkSync(path.relative(home, target), link);
    editConfigFile(link, 'capture.fps', 4);
    editConfigFile(link, 'logLevel', undefined);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(fs.readFileSync(target, 'utf8'))).toEqual({ capture: { fps: 4 } });
    expect(fs.readdirSync(dots)).toEqual(['traced.json']);

    const dangling = path.join(tempDir('cfg-th-'), 'config.json');
    const later = path.join(dots, 'later.json');
    fs.symlinkSync(later, dangling);
    expect(configTarget(dangling)).toBe(later);
    editConfigFile(dangling, 'capture.fps', 5);
    expect(fs.lstatSync(dangling).isSymbolicLink()).toBe(true);
    expect(JSON.parse(fs.readFileSync(later, 'utf8'))).toEqual({ capture: { fps: 5 } });
  });
});
