/**
 * No child outlives the daemon. The daemon alone is killed with SIGKILL (its
 * children untouched, as a crash or the OOM killer would leave them) during a
 * `full` capture, ten times; every process it had started must be gone within
 * 2 s, no segment may be written after the kill, and the recovered session
 * ends at the kill.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { rigMissing, startRig, type Rig } from '../helpers/rig.js';

const skip = rigMissing();

/** Live (not zombie) processes whose parent is `pid`, with their command names. */
function childrenOf(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid && rest[0] !== 'Z') out.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Media files of a session folder with their modification times. */
function mediaFiles(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!fs.existsSync(dir)) return out;
  for (const sub of fs.readdirSync(dir)) {
    const p = path.join(dir, sub);
    if (!fs.statSync(p).isDirectory()) continue;
    for (const f of fs.readdirSync(p)) if (/\.(mkv|ogg)$/.test(f)) out.set(path.join(sub, f), fs.statSync(path.join(p, f)).mtimeMs);
  }
  return out;
}

describe.skipIf(skip)('no child outlives the daemon', () => {
  let rig: Rig;
  let home: Home;
  let repo: string;
  const procs: DaemonProc[] = [];

  beforeAll(async () => {
    rig = await startRig();
    rig.showText('orphans');
    home = makeHome({ DISPLAY: rig.display, PULSE_SERVER: rig.env.PULSE_SERVER, PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH });
    repo = await makeRepo();
  });
  afterAll(async () => {
    for (const p of procs) await stopDaemonProc(p);
    rig?.stop();
  });

  it('kill -9 of the daemon alone during full capture, 10 times: 0 children alive 2 s later, 0 segments after the kill', async () => {
    const kills = 10;
    let orphans = 0;
    let lateSegments = 0;
    const sessions: { id: string; killedAt: number }[] = [];
    for (let k = 0; k < kills; k++) {
      const d = await startDaemonProc(home);
      procs.push(d);
      const started = await cli(home, ['start', '--profile', 'full', '--json'], { cwd: repo });
      expect(started.code, started.stderr).toBe(0);
      const id = started.json.session.id as string;
      const dir = path.join(home.home, 'sessions', id);
      // Both recorders running (their first media bytes on disk), and the children they are.
      await waitFor(() => [...mediaFiles(dir).keys()].some((f) => f.endsWith('.mkv')) && [...mediaFiles(dir).keys()].some((f) => f.endsWith('.ogg')), {
        timeoutMs: 20_000,
        what: 'display and mic segments',
      });
      const pid = d.child.pid as number;
      const kids = childrenOf(pid);
      expect(kids.filter((c) => c.comm === 'ffmpeg').length, JSON.stringify(kids)).toBeGreaterThanOrEqual(2);
      // Only the daemon: its children are left exactly as a crash would leave them.
      process.kill(pid, 'SIGKILL');
      const killedAt = Date.now();
      await d.exited;
      await new Promise((r) => setTimeout(r, 2000));
      const left = kids.filter((c) => alive(c.pid));
      orphans += left.length;
      expect(left, `kill ${k + 1}: still running ${JSON.stringify(left)}`).toEqual([]);
      // Nothing wrote media after the kill (a 300 ms allowance for a write already in the kernel).
      const late = [...mediaFiles(dir)].filter(([, mtime]) => mtime > killedAt + 300);
      lateSegments += late.length;
      expect(late, `kill ${k + 1}: written after the kill`).toEqual([]);
      sessions.push({ id, killedAt });
    }
    // The next start recovers every session, each ending at its kill.
    const d = await startDaemonProc(home);
    procs.push(d);
    for (const s of sessions) {
      const shown = await cli(home, ['show', s.id, '--json', '--limit', '1']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.json.session.state).toBe('recovered');
      expect(Math.abs(shown.json.session.ended_at - s.killedAt), `${s.id} ends at its kill`).toBeLessThan(3000);
    }
    await stopDaemonProc(d);
    console.log(`orphans after ${kills} daemon-only kills: ${orphans} children alive 2 s later, ${lateSegments} media files written after a kill`);
  }, 400_000);
});
