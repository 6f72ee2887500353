/**
 * `traced shell` with a real bash in a real pseudo-terminal, driven like a
 * person at a keyboard (node-pty from the test): a failing command's output
 * is found by search at the moment it was printed, linked to its command,
 * shown by replay_at, played by `asciinema cat` from the export; secrets
 * printed to the terminal are in no stored byte; binary output and a 100 MB
 * flood leave the shell and the daemon working (the flood past the cap with
 * its marker); a kill -9 of the daemon leaves the shell working, keeps the
 * output up to the kill, and a session started after the daemon is back
 * records the same shell again.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pty, { type IPty } from '@lydell/node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, killHomeDaemon, makeHome, makeRepo, startDaemonProc, stopDaemonProc, tempDir, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { inText, LeakScanner, makeSecrets, rand, LOWER } from '../helpers/secrets.js';

const bashMajor = Number(/version (\d+)/.exec(spawnSync('bash', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
const hasAsciinema = spawnSync('asciinema', ['--version'], { encoding: 'utf8' }).status === 0;
if (process.env.CI === 'true' && (bashMajor < 5 || !hasAsciinema)) throw new Error('CI: bash >= 5 and asciinema are needed for the traced shell test');
if (bashMajor < 5) console.warn('SKIPPED: traced shell e2e needs bash >= 5');
if (!hasAsciinema) console.warn('SKIPPED: the asciicast playback check needs asciinema (apt-get install asciinema)');
const fullScreen = ['less', 'vim', 'top', 'ps'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
if (process.env.CI === 'true' && fullScreen.length) throw new Error(`CI: the bare-terminal test needs ${fullScreen.join(', ')}`);
if (fullScreen.length) console.warn(`SKIPPED: the bare-terminal test needs ${fullScreen.join(', ')} (apt-get install less vim procps)`);

/**
 * OSC 133 prompt marks as a terminal's bash integration prints them (FinalTerm: A prompt, B input,
 * C output, D;exit) and OSC 7 for the cwd; no traced hook needed to read commands from them.
 */
const MARKS_RC = [
  `PS1=$'\\[\\e]133;A\\a\\]$ \\[\\e]133;B\\a\\]'`,
  `PS0=$'\\e]133;C\\a'`,
  `__marks() { local ec=$?; printf '\\e]133;D;%s\\a\\e]7;file://%s%s\\a' "$ec" "$HOSTNAME" "$PWD"; return $ec; }`,
  `PROMPT_COMMAND="__marks;\${PROMPT_COMMAND:-}"`,
  '',
].join('\n');

/** A program in a pseudo-terminal, as the test's keyboard and screen. */
class Term {
  private out = '';
  readonly exited: Promise<{ exitCode: number; signal?: number }>;
  constructor(readonly p: IPty) {
    p.onData((d) => {
      // Keep the tail only (cut now and then, not on every read): a 100 MB flood goes through here.
      this.out += d;
      if (this.out.length > 1024 * 1024) this.out = this.out.slice(-128 * 1024);
    });
    this.exited = new Promise((r) => p.onExit(r));
  }
  static spawn(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Term {
    const e = { ...env } as Record<string, string>;
    delete e.TRACED_SHELL;
    return new Term(pty.spawn(file, args, { cols: 120, rows: 30, cwd, env: e, name: 'xterm-256color' }));
  }
  /** An echo whose output differs from the line typed (the terminal echoes what is typed: a wait must see the output). */
  static say(word: string): string {
    return `echo "${word.slice(0, 3)}""${word.slice(3)}"`;
  }
  type(line: string): void {
    this.p.write(`${line}\r`);
  }
  get text(): string {
    return this.out;
  }
  /** Waits until `s` is on screen; returns when the test saw it (wall clock). */
  async seen(s: string, timeoutMs = 20_000): Promise<number> {
    await waitFor(() => this.out.includes(s), { timeoutMs, intervalMs: 20, what: `"${s}" on the terminal` });
    return Date.now();
  }
}

describe.skipIf(bashMajor < 5)('traced shell: a real bash in a real PTY', () => {
  let home: Home;
  let daemon: DaemonProc | undefined;
  let repo: string;
  let scratch: string;
  let sh: Term;
  let sid: string;
  let startedAt: number;
  const token = rand(LOWER, 10);
  const scanner = new LeakScanner();
  const CAP_MB = 8;

  const status = async () => (await cli(home, ['status', '--json'])).json;
  const call = async (op: string, params: unknown) => {
    const r = await cli(home, ['call', op, JSON.stringify(params), '--json']);
    expect(r.code, r.stderr).toBe(0);
    return r.json;
  };
  const startSession = async () => {
    const r = await cli(home, ['start', '--project', repo, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = (await status()).session;
    return { id: s.id as string, startedAt: s.started_at as number };
  };
  const searchTerminal = (session: string, q: string) =>
    waitFor(
      async () => {
        const r = await call('search', { query: q, session });
        return r.hits.find((h: { type: string }) => h.type === 'terminal.output');
      },
      { timeoutMs: 20_000, what: `terminal hit for ${q}` },
    );

  beforeAll(async () => {
    home = makeHome({ HISTFILE: '/dev/null' });
    fs.writeFileSync(path.join(home.home, 'config.json'), JSON.stringify({ session: { terminalOutputMaxMb: CAP_MB } }));
    daemon = await startDaemonProc(home);
    repo = await makeRepo();
    scratch = tempDir('shell-scratch-');
    ({ id: sid, startedAt } = await startSession());
    const hook = await cli(home, ['hook', 'bash']);
    expect(hook.code, hook.stderr).toBe(0);
    const rc = path.join(scratch, 'rc');
    // The terminal's own prompt marks too (as Ghostty, kitty or VS Code shell integration adds them): with the
    // hook there, each command is still stored once.
    fs.writeFileSync(rc, `${hook.stdout}\n${MARKS_RC}`);
    sh = Term.spawn(process.execPath, [BIN, 'shell', '--', 'bash', '--rcfile', rc, '-i'], home.env, repo);
    await sh.seen('$ ');
  });
  afterAll(async () => {
    sh?.p.kill('SIGKILL');
    await stopDaemonProc(daemon);
    killHomeDaemon(home);
    if (scanner.leaks.length === 0) fs.rmSync(home.home, { recursive: true, force: true });
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  let failing: { offset_ms: number; command: { seq: number; command: string; exit_code: number } };

  it("finds a failing command's output by search, at the moment it was printed (±1 s), linked to the command", async () => {
    sh.type(`echo start-${token}; sleep 1.2; ls /nonexistent-${token}`);
    const printedAt = await sh.seen(`cannot access '/nonexistent-${token}'`);
    // The error line, not the echo of the typed command (which names the path too, 1.2 s earlier).
    const hit = await searchTerminal(sid, `cannot access nonexistent-${token}`);
    expect(hit.channel).toBe('terminal');
    expect(Math.abs(hit.offset_ms - (printedAt - startedAt))).toBeLessThanOrEqual(1000);
    const linked = await waitFor(async () => (await searchTerminal(sid, `cannot access nonexistent-${token}`)).command, {
      what: 'the hit linked to its command',
    });
    expect(linked.command).toContain(`ls /nonexistent-${token}`);
    expect(linked.exit_code).toBe(2);
    failing = { offset_ms: hit.offset_ms, command: linked };
    // The command's own output, by the command's seq.
    const out = await call('get_terminal_output', { session: sid, command_seq: linked.seq });
    const text = out.chunks.map((c: { text: string }) => c.text).join('\n');
    expect(text).toContain(`ls: cannot access '/nonexistent-${token}': No such file or directory`);
    expect(text).not.toMatch(/\x1b/);
  });

  it('replay_at shows the terminal screen of that moment and the command running', async () => {
    const r = await call('replay_at', { session: sid, at: failing.offset_ms + 200 });
    expect(r.terminal).toBeTruthy();
    const screen = r.terminal.lines.join('\n');
    expect(screen).toContain(`cannot access '/nonexistent-${token}'`);
    expect(screen).toContain(`start-${token}`);
    expect(r.terminal.cols).toBe(120);
    expect(r.terminal.command?.command).toContain(`/nonexistent-${token}`);
    // Before the failing line was printed, the screen does not have it yet.
    const before = await call('replay_at', { session: sid, at: failing.offset_ms - 600 });
    expect(before.terminal.lines.join('\n')).toContain(`start-${token}`);
    expect(before.terminal.lines.join('\n')).not.toContain(`cannot access '/nonexistent-${token}'`);
  });

  it.skipIf(!hasAsciinema)('exports an asciicast v2 file that asciinema cat plays', async () => {
    const r = await cli(home, ['export', sid, '--target', 'asciicast', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const file = r.json.file as string;
    const header = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0] as string);
    expect(header.version).toBe(2);
    const player = Term.spawn('asciinema', ['cat', file], process.env, scratch);
    const done = await player.exited;
    expect(done.exitCode).toBe(0);
    expect(player.text).toContain(`ls: cannot access '/nonexistent-${token}'`);
  });

  it('keeps no byte of a secret printed to the terminal (a secret cut across reads included)', async () => {
    const secrets = makeSecrets();
    const file = path.join(scratch, 'secrets.txt');
    fs.writeFileSync(file, `${secrets.map((s, i) => `\x1b[3${i % 8}mline ${i}\x1b[0m ${inText(s)}`).join('\n')}\n`);
    for (const s of secrets) scanner.plant('terminal output', s);
    // One printed in two writes with a pause between: the reads cut it in half.
    const split = makeSecrets().find((s) => s.kind === 'github_pat' || s.value.length > 30) ?? (makeSecrets()[0] as (typeof secrets)[number]);
    scanner.plant('terminal output (split)', split);
    const half = Math.floor(split.value.length / 2);
    const script = path.join(scratch, 'split.sh');
    const text = inText(split);
    const at = text.indexOf(split.value) + half;
    fs.writeFileSync(script, `printf '%s' '${text.slice(0, at)}'; sleep 0.4; printf '%s\\n' '${text.slice(at)}'; echo secrets-done-${token}\n`);
    sh.type(`cat ${file}; sh ${script}`);
    await sh.seen(`secrets-done-${token}`);
    await searchTerminal(sid, `secrets-done-${token}`);
  });

  it('binary and invalid UTF-8 output leave the shell and the daemon working', async () => {
    sh.type(`head -c 300000 /dev/urandom; printf '\\xff\\xfe\\xc3'; echo; ${Term.say(`after-binary-${token}`)}`);
    await sh.seen(`after-binary-${token}`, 30_000);
    expect((await cli(home, ['status', '--json'])).code).toBe(0);
    await searchTerminal(sid, `after-binary-${token}`);
  });

  it('a command both the hook and the prompt marks report is stored once, from the hook', async () => {
    await new Promise((r) => setTimeout(r, 4000)); // past the wait for the hook's record
    const all = (await call('get_timeline', { session: sid, types: ['terminal.command'], limit: 500 })).events;
    const mine = all.filter((e: { data: { command: string } }) => e.data.command.includes(`/nonexistent-${token}`));
    expect(mine).toHaveLength(1);
    expect(mine[0].data.source).toBeUndefined();
    expect(all.filter((e: { data: { source?: string } }) => e.data.source === 'prompt_marks')).toEqual([]);
  });

  it("without the hook, commands come from the terminal's prompt marks (OSC 133), output linked", async () => {
    const rc = path.join(scratch, 'rc-marks');
    fs.writeFileSync(rc, MARKS_RC);
    const t = Term.spawn(process.execPath, [BIN, 'shell', '--', 'bash', '--rcfile', rc, '-i'], home.env, repo);
    try {
      await t.seen('$ ');
      t.type(`ls /nomarks-${token}`);
      await t.seen(`cannot access '/nomarks-${token}'`);
      const cmd = await waitFor(
        async () =>
          (await call('get_timeline', { session: sid, types: ['terminal.command'], limit: 500 })).events.find((e: { data: { command: string } }) =>
            e.data.command.includes(`/nomarks-${token}`),
          ),
        { timeoutMs: 20_000, what: 'a terminal.command from the prompt marks' },
      );
      expect(cmd.data).toMatchObject({ command: `ls /nomarks-${token}`, exit_code: 2, source: 'prompt_marks', cwd: repo, in_project: true });
      const out = await call('get_terminal_output', { session: sid, command_seq: cmd.seq });
      expect(out.chunks.map((c: { text: string }) => c.text).join('\n')).toContain(`ls: cannot access '/nomarks-${token}'`);
      const hit = await searchTerminal(sid, `cannot access nomarks-${token}`);
      const linked = await waitFor(async () => (await searchTerminal(sid, `cannot access nomarks-${token}`)).command, { what: 'the hit linked' });
      expect(linked.seq).toBe(cmd.seq);
      expect(hit.channel).toBe('terminal');
      t.type('exit 0');
      expect((await t.exited).exitCode).toBe(0);
    } finally {
      t.p.kill('SIGKILL');
    }
  });

  it.skipIf(fullScreen.length > 0)(
    'behaves as a bare terminal: window resize, Ctrl-C, job control, less, vim and top; replay_at shows the pager screen',
    { timeout: 90_000 },
    async () => {
      const t = Term.spawn(process.execPath, [BIN, 'shell', '--', 'bash', '--norc', '-i'], { ...home.env, PS1: '$ ' }, repo);
      const mark = (w: string) => t.type(Term.say(w));
      try {
        await t.seen('$ ');
        // Resize: the program inside sees the new size.
        t.p.resize(101, 41);
        await new Promise((r) => setTimeout(r, 300));
        t.type('stty size');
        await t.seen('41 101');
        // Ctrl-C interrupts the program, not the shell (nor traced).
        t.type('sleep 30');
        await new Promise((r) => setTimeout(r, 500));
        t.p.write('\x03');
        t.type('echo "int=$?"');
        await t.seen('int=130');
        // Job control: Ctrl-Z stops the job, the shell lists it and ends it.
        t.type('sleep 31');
        await new Promise((r) => setTimeout(r, 500));
        t.p.write('\x1a');
        await t.seen('Stopped');
        t.type('jobs; kill -9 %1');
        mark(`jobs-${token}`);
        await t.seen(`jobs-${token}`);
        // less: a full-screen pager on the alternate screen, paged and quit.
        const file = path.join(scratch, 'pager.txt');
        fs.writeFileSync(file, `${Array.from({ length: 500 }, (_, i) => `less-line-${String(i + 1).padStart(3, '0')}`).join('\n')}\n`);
        t.type(`less ${file}`);
        const shownAt = await t.seen('less-line-030');
        await new Promise((r) => setTimeout(r, 1500));
        t.p.write('G');
        await t.seen('less-line-500');
        t.p.write('q');
        mark(`after-less-${token}`);
        await t.seen(`after-less-${token}`);
        // vim: insert mode, escape, :wq — the file holds what was typed.
        const edited = path.join(scratch, 'edited.txt');
        t.type(`vim -u NONE -N -n ${edited}`);
        await new Promise((r) => setTimeout(r, 1500));
        t.p.write(`ihello-vim-${token}`);
        await new Promise((r) => setTimeout(r, 300));
        t.p.write('\x1b');
        await new Promise((r) => setTimeout(r, 600)); // a key right after ESC would read as Alt+key
        t.p.write(':wq\r');
        await waitFor(() => fs.existsSync(edited), { what: 'vim wrote the file' });
        await new Promise((r) => setTimeout(r, 300));
        mark(`after-vim-${token}`);
        await t.seen(`after-vim-${token}`);
        expect(fs.readFileSync(edited, 'utf8')).toBe(`hello-vim-${token}\n`);
        // top: draws, takes its key, gives the terminal back.
        t.type('top -d 1');
        await t.seen('load average');
        // top reads keys only once it is ready for them: q until the prompt is back.
        await waitFor(
          () => {
            if (t.text.endsWith('$ ')) return true;
            t.p.write('q');
            return false;
          },
          { intervalMs: 700, timeoutMs: 15_000, what: 'top to quit' },
        );
        mark(`after-top-${token}`);
        await t.seen(`after-top-${token}`);
        // The pager's screen as it was, from the recorded output alone.
        const r = await waitFor(
          async () => {
            const x = await call('replay_at', { session: sid, at: shownAt - startedAt + 700 });
            const lines: string[] = x.terminal?.lines ?? [];
            return lines.some((l) => l.includes('less-line-001')) ? x : undefined;
          },
          { timeoutMs: 20_000, what: 'the pager on the replayed screen' },
        );
        const screen = r.terminal.lines.join('\n');
        expect(screen).toContain('less-line-030');
        expect(screen).not.toContain('less-line-500');
        expect(r.terminal.cols).toBe(101);
        t.type('exit 0');
        expect((await t.exited).exitCode).toBe(0);
      } finally {
        t.p.kill('SIGKILL');
      }
    },
  );

  it('a kill -9 of the daemon leaves the shell working and keeps the output up to the kill; a session after restart records it again', async () => {
    sh.type(Term.say(`before-kill-${token}`));
    await sh.seen(`before-kill-${token}`);
    await new Promise((r) => setTimeout(r, 1500)); // fsync'd at most a second apart
    daemon?.child.kill('SIGKILL');
    await daemon?.exited;
    sh.type(Term.say(`after-kill-${token}`));
    await sh.seen(`after-kill-${token}`);
    await sh.seen('daemon went away');
    const casts = fs
      .readdirSync(path.join(home.home, 'sessions', sid, 'terminal'))
      .map((f) => fs.readFileSync(path.join(home.home, 'sessions', sid, 'terminal', f), 'utf8'));
    expect(casts.join('')).toContain(`before-kill-${token}`);
    daemon = await startDaemonProc(home);
    // Indexed when the daemon came back, though the daemon that saw it printed was killed.
    await searchTerminal(sid, `before-kill-${token}`);
    ({ id: sid, startedAt } = await startSession());
    const hit = await waitFor(
      async () => {
        sh.type(`echo again-${token}-${Date.now()}`);
        await new Promise((r) => setTimeout(r, 1000));
        const r = await call('search', { query: `again-${token}`, session: sid });
        return r.hits.find((h: { type: string }) => h.type === 'terminal.output');
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the shell recorded in the new session' },
    );
    expect(hit.session_id).toBe(sid);
  });

  it('a 100 MB flood passes through; past the cap output is dropped with a marker and the daemon stays up', { timeout: 240_000 }, async () => {
    sh.type(`yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c 100000000; ${Term.say(`flood-done-${token}`)}`);
    await sh.seen(`flood-done-${token}`, 220_000);
    expect((await cli(home, ['status', '--json'])).code).toBe(0);
    const dropped = await waitFor(async () => (await call('get_timeline', { session: sid, types: ['terminal.output_dropped'] })).events[0], {
      what: 'terminal.output_dropped',
    });
    expect(dropped.channel).toBe('terminal');
    const dir = path.join(home.home, 'sessions', sid, 'terminal');
    const total = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    expect(total).toBeLessThanOrEqual(CAP_MB * 1024 * 1024 + 64 * 1024);
    sh.type(Term.say(`still-alive-${token}`));
    await sh.seen(`still-alive-${token}`);
  });

  it("passes the shell's exit code through", async () => {
    sh.type('exit 3');
    expect((await sh.exited).exitCode).toBe(3);
  });

  it('a raw-byte scan of everything traced stored finds no planted secret', async () => {
    await cli(home, ['stop', '--json']);
    scanner.scanTree(home.home, 'TRACED_HOME');
    expect(scanner.scannedBytes).toBeGreaterThan(CAP_MB * 1024 * 1024);
    expect(scanner.leaks).toEqual([]);
  });
});

describe.skipIf(bashMajor < 5)('traced shell without a session, nested, and with bad programs', () => {
  let home: Home;
  let scratch: string;
  beforeAll(() => {
    home = makeHome();
    scratch = tempDir('shell-plain-');
  });
  afterAll(() => {
    killHomeDaemon(home);
    fs.rmSync(home.home, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('runs unrecorded with no daemon, says so once, starts no daemon, and passes the exit code', async () => {
    const t = Term.spawn(process.execPath, [BIN, 'shell', '--', 'bash', '-c', 'echo hi-there; exit 5'], home.env, scratch);
    expect((await t.exited).exitCode).toBe(5);
    expect(t.text).toContain('hi-there');
    expect(t.text.match(/runs unrecorded/g)).toHaveLength(1);
    expect(fs.existsSync(path.join(home.home, 'run', 'traced.sock'))).toBe(false);
  });

  it('a program that exits at once, and one killed by a signal', async () => {
    const t = Term.spawn(process.execPath, [BIN, 'shell', '--', 'true'], home.env, scratch);
    expect((await t.exited).exitCode).toBe(0);
    const k = Term.spawn(process.execPath, [BIN, 'shell', '--', 'bash', '-c', 'kill -TERM $$'], home.env, scratch);
    expect((await k.exited).exitCode).toBe(128 + 15);
  });

  it('inside a recorded shell, runs the command plainly (no second recording) with its exit code', async () => {
    const env = { ...home.env, TRACED_SHELL: 'outer-1' };
    const r = spawnSync(process.execPath, [BIN, 'shell', '--', 'bash', '-c', 'echo "$TRACED_SHELL"; exit 6'], { env, encoding: 'utf8' });
    expect(r.status).toBe(6);
    expect(r.stdout).toContain('outer-1');
    expect(r.stderr).not.toContain('unrecorded');
  });

  it('`traced hook bash --shell` in .bashrc: a new terminal starts under traced shell once, sourced twice and nested alike', async () => {
    const user = tempDir('shell-user-');
    try {
      const bin = path.join(user, 'bin');
      fs.mkdirSync(bin);
      fs.writeFileSync(path.join(bin, 'traced'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
      const hook = spawnSync(process.execPath, [BIN, 'hook', 'bash', '--shell'], { env: home.env, encoding: 'utf8' });
      expect(hook.status, hook.stderr).toBe(0);
      // Sourced twice, as an rc file that evals it twice does.
      fs.writeFileSync(path.join(user, '.bashrc'), `${hook.stdout}\n${hook.stdout}\nPS1='$ '\n`);
      const env = { ...home.env, HOME: user, SHELL: '/bin/bash', PATH: `${bin}:${process.env.PATH}`, HISTFILE: '/dev/null' };
      const t = Term.spawn('bash', ['-i'], env, scratch);
      try {
        await t.seen('$ ');
        // A nested interactive shell (as in tmux or ssh to the same host) reads .bashrc again.
        t.type('bash -i');
        await new Promise((r) => setTimeout(r, 1500));
        // How many traced shells are among this shell's ancestors, and whether the marker is set.
        t.type(
          `p=$$ n=0; while [ "$p" -gt 1 ]; do case "$(ps -o args= -p "$p")" in *' shell') n=$((n+1));; esac; p=$(ps -o ppid= -p "$p" | tr -d ' '); done; echo "n=$n" "m=\${TRACED_SHELL:+set}"`,
        );
        await t.seen('m=set');
        expect(t.text).toContain('n=1 ');
        expect(t.text.match(/runs unrecorded/g)).toHaveLength(1);
        t.type('exit 0');
        await new Promise((r) => setTimeout(r, 300));
        t.type('exit 4');
        expect((await t.exited).exitCode).toBe(4);
      } finally {
        t.p.kill('SIGKILL');
      }
    } finally {
      fs.rmSync(user, { recursive: true, force: true });
    }
  });

  it('a program that does not exist is TRACED_SHELL_PTY_FAILED', async () => {
    const r = spawnSync(process.execPath, [BIN, 'shell', '--', `no-such-program-${rand(LOWER, 8)}`], { env: home.env, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('TRACED_SHELL_PTY_FAILED');
  });
});
