/**
 * Child ownership: the registry reaps a process a previous daemon recorded
 * only when pid, start time and command line all still match (never by name,
 * never a recycled pid), and `run` reports a missing program the same way
 * through the parent-death wrapper.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChildRegistry, run } from '../../src/capture/proc.js';
import { tempDir } from '../helpers/env.js';

const alive = (pid: number) => {
  try {
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
};

describe.skipIf(process.platform !== 'linux')('child registry', () => {
  it('reaps a recorded child of a previous daemon, and spares a process whose start time or command line differs', async () => {
    const dir = tempDir('kids-');
    const reg = new ChildRegistry(dir);
    const victim = spawn('sleep', ['60'], { stdio: 'ignore' });
    const bystander = spawn('sleep', ['61'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    reg.track(victim);
    reg.track(bystander);
    expect(fs.readdirSync(dir).length).toBe(2);
    // Written by "another daemon": rewrite the owner, and make the bystander's record a recycled pid.
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      const rec = JSON.parse(fs.readFileSync(p, 'utf8'));
      rec.daemon = 1;
      if (rec.pid === bystander.pid) rec.start = String(Number(rec.start) - 1);
      fs.writeFileSync(p, JSON.stringify(rec));
    }
    const killed = await reg.reap();
    expect(killed).toEqual([victim.pid]);
    expect(alive(victim.pid as number)).toBe(false);
    expect(alive(bystander.pid as number)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
    bystander.kill('SIGKILL');
  });

  it('forgets the record of a child that exited on its own', async () => {
    const dir = tempDir('kids-');
    const reg = new ChildRegistry(dir);
    const c = spawn('sleep', ['0.3'], { stdio: 'ignore' });
    const exited = new Promise((r) => c.once('exit', r));
    await new Promise((r) => setTimeout(r, 50));
    reg.track(c);
    expect(fs.readdirSync(dir).length).toBe(1);
    await exited;
    await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('says a program is missing (spawnError ENOENT) whether or not it runs through the wrapper', async () => {
    const r = await run('traced-no-such-program', ['x']);
    expect(r.spawnError?.code).toBe('ENOENT');
    expect((await run('sh', ['-c', 'exit 3'])).code).toBe(3);
  });
});
