/**
 * Drives real interactive shells on a PTY with the traced hook in their rc file, for the
 * hook tests: types each line once the previous one has finished, then hangs up and
 * drains the spool.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pty from '@lydell/node-pty';
import { expect } from 'vitest';
import { drainSpool, hookSnippet, type TerminalRecord } from '../../src/capture/terminal.js';
import { tempDir } from '../helpers/env.js';

export type Shell = 'bash' | 'zsh' | 'fish';
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const bashVersion = /version (\d+)\.(\d+)/.exec(spawnSync('bash', ['--version'], { encoding: 'utf8' }).stdout ?? '');
const bashMajor = Number(bashVersion?.[1] ?? 0);
export const bashArrays = bashMajor > 5 || (bashMajor === 5 && Number(bashVersion?.[2] ?? 0) >= 1);
export const present = { bash: bashMajor >= 5, zsh: has('zsh'), fish: has('fish') };
for (const [shell, ok] of Object.entries(present)) {
  if (ok) continue;
  if (process.env.CI === 'true') throw new Error(`CI: ${shell} is needed for the hook tests (apt-get install ${shell}; bash >= 5)`);
  console.warn(`SKIPPED: ${shell} hook tests (${shell} missing, or bash < 5)`);
}

/** What a terminal shows when a hook breaks the prompt. */
export const BROKEN =
  /syntax error|unexpected|command not found|unbound variable|parameter not set|bad substitution|no such file|permission denied|bash: |zsh: |fish: /i;

export interface Typed {
  line: string;
  t0: number;
  t1: number;
}

export interface Run {
  output: string;
  typed: Typed[];
  records: TerminalRecord[];
  dir: string;
  cwd: string;
}

/** The terminal's text without colour and mode escapes. */
export const plain = (output: string): string => output.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]/g, '');

/**
 * Starts `shell` interactively on a PTY with `rc` as its startup file, types
 * each line after the previous one has finished (the marker file grew: a hook
 * of the user's that runs per prompt or per command), then hangs up.
 */
export async function drive(shell: Shell, rc: (hook: string, marker: string) => string, lines: string[], spoolDir?: string): Promise<Run> {
  const dir = tempDir('thook-');
  const cwd = path.join(dir, `it's a "dir" $HOME`);
  fs.mkdirSync(cwd);
  const data = spoolDir ?? path.join(dir, 'data');
  if (!spoolDir) fs.mkdirSync(data);
  const hook = path.join(dir, 'hook');
  fs.writeFileSync(hook, hookSnippet(shell, path.join(data, 'terminal.spool')));
  const marker = path.join(dir, 'marker');
  fs.writeFileSync(marker, '');
  // fish reads $XDG_CONFIG_HOME/fish/config.fish: --no-config would also turn on its private mode, where the hook records nothing.
  const rcFile = shell === 'zsh' ? path.join(dir, '.zshrc') : shell === 'fish' ? path.join(dir, 'config', 'fish', 'config.fish') : path.join(dir, 'rc');
  fs.mkdirSync(path.dirname(rcFile), { recursive: true });
  fs.writeFileSync(rcFile, rc(`'${hook}'`, `'${marker}'`));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    HISTFILE: path.join(dir, 'history'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'share'),
    ZDOTDIR: dir,
  };
  const argv = { bash: ['--rcfile', rcFile, '--noprofile', '-i'], zsh: ['-d', '-i'], fish: ['-i'] }[shell];
  const term = pty.spawn(shell, argv, { cols: 200, rows: 50, cwd, env });
  let output = '';
  term.onData((d) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => term.onExit(() => resolve()));
  const marks = (): number => fs.readFileSync(marker, 'utf8').split('\n').length - 1;
  const until = async (ok: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`${shell}: timed out waiting for ${what}; terminal:\n${output}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const typed: Typed[] = [];
  try {
    await until(() => output.includes('READY>'), 'the first prompt');
    for (const line of lines) {
      await new Promise((r) => setTimeout(r, 60)); // idle at the prompt: a start taken there would be early
      const before = marks();
      const t0 = Date.now();
      term.write(`${line.replace(/\n/g, '\r')}\r`);
      await until(() => marks() > before, `the hooks after ${JSON.stringify(line)}`);
      typed.push({ line, t0, t1: Date.now() });
    }
    // The hooks after the marker's (bash-preexec's later precmd functions) finish before the hang-up.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    term.kill('SIGHUP');
    await exited;
  }
  return { output, typed, records: drainSpool(data), dir: data, cwd };
}

/** One record per command that is not `skip`, in order, each inside the window it was typed in. */
export function expectExact(run: Run, shell: Shell, want: [string, number][]): void {
  const plain = run.output.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]/g, '');
  expect(plain, 'the terminal shows no error').not.toMatch(BROKEN);
  expect(
    run.records.map((r) => [r.command, r.exit_code]),
    'one record per command',
  ).toEqual(want);
  let at = 0;
  for (const r of run.records) {
    while (at < run.typed.length && run.typed[at]?.line.trim() !== r.command) at++;
    const t = run.typed[at++] as Typed;
    expect(r.shell).toBe(shell);
    expect(r.cwd).toBe(run.cwd);
    expect(r.start_ms, r.command).toBeGreaterThanOrEqual(t.t0);
    expect(r.end_ms, r.command).toBeGreaterThanOrEqual(r.start_ms);
    expect(r.end_ms, r.command).toBeLessThanOrEqual(t.t1 + 20);
  }
  const sleep = run.records.find((r) => r.command.startsWith('sleep'));
  if (sleep) expect(sleep.end_ms - sleep.start_ms).toBeGreaterThanOrEqual(300);
  expect(
    fs.readdirSync(run.dir).filter((n) => n.startsWith('terminal.cmd.')),
    'an exited bash leaves no scratch file behind a drain',
  ).toEqual([]);
}
