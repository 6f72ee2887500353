/**
 * The terminal channel with a real bash: the hook from `traced hook bash`
 * reports a passing and a failing command with their exit codes, a command
 * carrying a token is stored redacted, and commands run while the daemon is
 * down reach the session when it comes back.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

const TOKEN = 'ghp_R2kd8Lq0ZpVt7sYwXn4mB6cJ1fHgA9eU3oTi';
const bashMajor = Number(/version (\d+)/.exec(spawnSync('bash', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
if (bashMajor < 5 && process.env.CI === 'true') throw new Error('CI: bash >= 5 is needed for the terminal hook test');

/** Runs `lines` in an interactive bash with the traced hook installed. */
function runBash(home: Home, cwd: string, lines: string[]): void {
  const hook = spawnSync(process.execPath, [path.resolve('bin/traced.js'), 'hook', 'bash'], { env: home.env, encoding: 'utf8' });
  expect(hook.status, hook.stderr).toBe(0);
  const hookFile = path.join(home.home, 'hook.sh');
  fs.writeFileSync(hookFile, hook.stdout);
  const r = spawnSync('bash', ['--norc', '--noprofile', '-i'], {
    cwd,
    env: { ...home.env, PS1: '$ ' },
    input: [`source ${hookFile}`, ...lines, 'exit 0', ''].join('\n'),
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(r.status).toBe(0);
}

describe.skipIf(bashMajor < 5)('terminal channel (bash hook)', () => {
  let home: Home;
  let daemon: DaemonProc | undefined;
  let repo: string;

  beforeAll(async () => {
    home = makeHome();
    daemon = await startDaemonProc(home);
    repo = await makeRepo();
  });
  afterAll(async () => {
    await stopDaemonProc(daemon);
  });

  it('a passing and a failing command appear with exit codes, cwd and duration; a token is stored redacted', async () => {
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', { project: repo, channels: [{ id: 'files', store: true }] });
    const id = res.result.session.id;
    runBash(home, repo, [
      'true',
      'ls does-not-exist',
      `curl -H "Authorization: token ${TOKEN}" https://api.github.com/user >/dev/null 2>&1 || true`,
      'sleep 0.4',
    ]);
    const events = await waitFor(
      async () => {
        const t = (await c.call('get_timeline', { session: id, types: ['terminal.command'] })).result.events;
        return t.length >= 4 ? t : undefined;
      },
      { what: 'four terminal commands' },
    );
    const byCmd = (re: RegExp) => events.find((e: any) => re.test(e.data.command));
    expect(byCmd(/^true$/).data).toMatchObject({ exit_code: 0, cwd: repo, shell: 'bash', in_project: true });
    expect(byCmd(/^ls does-not-exist$/).data.exit_code).toBe(2);
    const curl = byCmd(/^curl/);
    expect(curl.data.command).toContain('[REDACTED:github_token]');
    expect(JSON.stringify(events)).not.toContain(TOKEN);
    expect(byCmd(/^sleep/).data.duration_ms).toBeGreaterThanOrEqual(350);
    // Searchable, and a failing command shows in what_happened.
    const found = (await c.call('search', { query: 'does-not-exist', session: id })).result.hits;
    expect(found[0]?.type).toBe('terminal.command');
    await c.call('stop_session', {});
    const wh = (await c.call('what_happened', { session: id })).result.sessions[0];
    expect(wh.failed_commands.map((f: any) => f.command)).toContain('ls does-not-exist');
    c.close();
  });

  it('commands run while the daemon is down reach the session when it comes back', async () => {
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', { project: repo, channels: [{ id: 'files', store: true }] });
    const id = res.result.session.id;
    c.close();
    daemon!.child.kill('SIGKILL');
    await daemon!.exited;
    runBash(home, repo, ['echo while-the-daemon-is-down', 'false']);
    daemon = await startDaemonProc(home);
    const t = await cli(home, ['timeline', id, '--type', 'terminal.command', '--json']);
    const cmds = t.json.events.map((e: any) => [e.data.command, e.data.exit_code]);
    expect(cmds).toEqual([
      ['echo while-the-daemon-is-down', 0],
      ['false', 1],
    ]);
    const shown = await cli(home, ['show', id, '--json']);
    expect(shown.json.session.state).toBe('recovered');
    // Picked up once: a second start does not add them again.
    await stopDaemonProc(daemon);
    daemon = await startDaemonProc(home);
    const again = await cli(home, ['timeline', id, '--type', 'terminal.command', '--json']);
    expect(again.json.events.length).toBe(2);
  });
});
