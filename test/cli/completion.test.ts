/**
 * `traced completion bash|zsh|fish`, loaded into the real shells: bash
 * registers the function and completes commands, subcommands and flag values
 * from the command table; zsh and fish parse the script and complete with it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/main.js';
import { cli, makeHome } from '../helpers/env.js';

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
for (const sh of ['bash', 'zsh', 'fish']) {
  if (!has(sh)) {
    if (process.env.CI === 'true') throw new Error(`CI: ${sh} is needed for the completion tests (.ci/run installs it)`);
    console.warn(`SKIPPING ${sh} completion tests: ${sh} is not installed`);
  }
}

const home = makeHome();
afterAll(() => fs.rmSync(home.home, { recursive: true, force: true }));

async function script(shell: string): Promise<string> {
  const r = await cli(home, ['completion', shell]);
  expect(r.code, r.stderr).toBe(0);
  const file = path.join(home.home, `traced.${shell}`);
  fs.writeFileSync(file, r.stdout);
  return file;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, HOME: home.home, TERM: 'dumb' } });
  expect(r.status, `${cmd}: ${r.stderr}`).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('shell completion', () => {
  it.skipIf(!has('bash'))('bash: `complete -p traced` names the function, which completes commands, subcommands and flag values', async () => {
    const file = await script('bash');
    const out = run('bash', [
      '--norc',
      '--noprofile',
      '-c',
      [
        `source ${file}`,
        'complete -p traced',
        'c() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _traced; echo "${COMPREPLY[*]}"; }',
        'c traced sta',
        'c traced ""',
        'c traced export last --target j',
        'c traced queue ""',
        'c traced sessions --l',
      ].join('\n'),
    ]).split('\n');
    expect(out[0]).toBe('complete -F _traced traced');
    expect(out[1]).toBe('start status');
    expect(out[2]?.split(' ').sort()).toEqual(commands.map((c) => c.name).sort());
    expect(out[3]).toBe('json jsonl');
    expect(out[4]?.split(' ').slice(0, 4)).toEqual(['status', 'retry', 'pause', 'resume']);
    expect(out[5]).toBe('--limit');
  });

  it.skipIf(!has('zsh'))('zsh: the script parses, registers _traced with compdef and offers commands, subcommands and flags', async () => {
    const file = await script('zsh');
    run('zsh', ['-fn', file]);
    // compinit scans every completion function on the machine (seconds under load): compdef and compadd are
    // stood in for by functions that print what the script asks of them.
    const out = run('zsh', [
      '-fc',
      [
        'typeset -A reg; compdef() { reg[$2]=$1 }; compadd() { shift; print -r -- "$*" }',
        `source ${file}`,
        'print -r -- ${reg[traced]}',
        'words=(traced sta); CURRENT=2; _traced',
        "words=(traced queue ''); CURRENT=3; _traced",
      ].join('\n'),
    ]).split('\n');
    expect(out[0]).toBe('_traced');
    expect(out[1]?.split(' ').sort()).toEqual(commands.map((c) => c.name).sort());
    expect(out[2]?.split(' ').slice(0, 5)).toEqual(['status', 'retry', 'pause', 'resume', '--json']);
  });

  it.skipIf(!has('fish'))('fish: the script parses and completes commands and --target values', async () => {
    const file = await script('fish');
    run('fish', ['--no-execute', file]);
    const out = run('fish', ['--no-config', '-c', `source ${file}; complete -C 'traced sta'; complete -C 'traced export last --target j'`]);
    const words = out
      .trim()
      .split('\n')
      .map((l) => l.split('\t')[0]);
    expect(words).toEqual(['start', 'status', 'json', 'jsonl']);
  });

  it('an unknown shell is refused with the ones there are', async () => {
    const r = await cli(home, ['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('traced: TRACED_CLI_USAGE: SHELL is one of bash, zsh, fish, not "tcsh" (traced help completion shows what it takes)\n');
  });
});
