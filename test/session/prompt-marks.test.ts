/**
 * Commands from a terminal's prompt marks (OSC 133 / VS Code's 633) when no
 * shell hook reports them: the parser on its own (and on hostile bytes), then
 * through the daemon's ingest of a real cast file — one `terminal.command` per
 * command with its exit code, duration and output linked, and none when the
 * hook reported the same command.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { findOperation, invoke } from '../../src/api/index.js';
import type { GetTerminalOutputOutput } from '../../src/model.js';
import { describe, expect, it } from 'vitest';
import { ShellOutput } from '../../src/capture/shell-output.js';
import { PromptMarks } from '../../src/session/prompt-marks.js';
import { TerminalIngest } from '../../src/session/terminal-ingest.js';
import { redact } from '../../src/timeline/redact.js';
import { TerminalOutput } from '../../src/timeline/terminal-output.js';
import { testServices } from '../helpers/services.js';

const OSC = (s: string) => `\x1b]${s}\x07`;
const ST = (s: string) => `\x1b]${s}\x1b\\`;

/** What bash with a FinalTerm-style integration prints for one command line. */
function round(cmd: string, output: string, exit: number, cwd = '/work/p', host = ''): string[] {
  return [
    `${OSC('133;A')}${OSC(`7;file://${host}${cwd}`)}\x1b[32m$\x1b[0m ${OSC('133;B')}`,
    `${cmd}\r\n`,
    `${OSC('133;C')}${output}`,
    `${OSC(`133;D;${exit}`)}`,
  ];
}

describe('prompt marks', () => {
  it('reads command, exit code, duration and cwd from OSC 133 and 7, with BEL or ST endings', () => {
    const m = new PromptMarks();
    const chunks = [...round('make test', 'FAIL x\r\n', 2), ...round('ls', 'a b\r\n', 0, '/tmp/o%20p', 'far.example')];
    const got = chunks.flatMap((c, i) => m.feed(i % 2 ? c.replaceAll('\x07', '\x1b\\') : c, i * 0.5));
    expect(got).toEqual([
      { t: 1, command: 'make test', exit_code: 2, duration_ms: 500, cwd: '/work/p', local: true },
      { t: 3, command: 'ls', exit_code: 0, duration_ms: 500, cwd: '/tmp/o p', local: false },
    ]);
    void ST;
  });

  it("takes the typed line as the terminal showed it (backspaces applied) and VS Code's exact 633;E line", () => {
    const m = new PromptMarks();
    const typed = m.feed(`${OSC('133;B')}gti\b\b\bgit status\r\n${OSC('133;C')}clean\r\n${OSC('133;D;0')}`, 5);
    expect(typed[0]?.command).toBe('git status');
    const exact = m.feed(`${OSC('633;A')}$ ${OSC('633;B')}echo a\r\n${OSC('633;E;echo a\\x3b b \\\\ c;nonce')}${OSC('633;C')}a\r\n${OSC('633;D;1')}`, 6);
    expect(exact[0]).toMatchObject({ command: 'echo a; b \\ c', exit_code: 1 });
  });

  it('no command for a D without C (an empty line), and a prompt during a command ends it with no exit code', () => {
    const m = new PromptMarks();
    expect(m.feed(`${OSC('133;A')}$ ${OSC('133;B')}\r\n${OSC('133;D')}`, 1)).toEqual([]);
    const cut = m.feed(`${OSC('133;A')}$ ${OSC('133;B')}sleep 9\r\n${OSC('133;C')}^C\r\n${OSC('133;A')}`, 2);
    expect(cut).toEqual([{ t: 2, command: 'sleep 9', exit_code: null, duration_ms: 0, cwd: null, local: false }]);
  });

  it('hostile marks: huge exit codes, junk URLs, endless input, random bytes — never throws, stays bounded', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.constantFrom(
              OSC('133;A'),
              OSC('133;B'),
              OSC('133;C'),
              OSC('133;D;99999999999999999999'),
              OSC('133;D;-1'),
              OSC('7;not a url'),
              OSC('7;file://h/a%00b'),
              OSC('633;E;\\x'),
            ),
            fc.string({ minLength: 5000, maxLength: 20000 }),
          ),
          { maxLength: 40 },
        ),
        (chunks) => {
          const m = new PromptMarks();
          chunks.forEach((c, i) => {
            for (const cmd of m.feed(c, i)) {
              expect(cmd.command.length).toBeLessThanOrEqual(4096);
              expect(cmd.duration_ms).toBeGreaterThanOrEqual(0);
              expect(cmd.exit_code === null || Number.isSafeInteger(cmd.exit_code)).toBe(true);
              expect(cmd.cwd === null || !cmd.cwd.includes('\0')).toBe(true);
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('prompt marks through the ingest', () => {
  async function setup() {
    const s = testServices();
    const r = await s.recorder.start({ project: s.home, channels: [] } as never);
    const id = (r as { session: { id: string } }).session.id;
    const startedAt = s.store.getSession(id)?.started_at ?? 0;
    let clock = startedAt;
    const deps = { store: s.store, events: s.events, sessionsDir: s.paths.sessionsDir, log: pino({ level: 'silent' }), now: () => clock };
    const ingest = new TerminalIngest(deps);
    const w = new ShellOutput({
      sessionsDir: s.paths.sessionsDir,
      sessionId: id,
      sessionStartedAt: startedAt,
      stream: '9-m',
      cols: 80,
      rows: 24,
      command: 'bash',
      redact,
      now: () => clock,
      maxBytes: 1 << 30,
    });
    const print = (chunks: string[], stepMs: number) => {
      for (const c of chunks) {
        clock += stepMs;
        w.write(c);
        (w as unknown as { flushAll(): void }).flushAll();
      }
    };
    const cmds = () => s.store.events({ sessionId: id, types: ['terminal.command'], limit: 100_000 });
    const hook = (command: string, offsetMs: number, extra: Record<string, unknown> = {}) =>
      s.events.appendLate(id, [
        {
          channel: 'terminal',
          type: 'terminal.command',
          offset_ms: offsetMs,
          data: { command, exit_code: 0, cwd: s.home, duration_ms: 10, shell: 'bash', ...extra },
        },
      ]);
    return { s, id, w, ingest, print, cmds, hook, home: s.home, at: () => clock - startedAt, restart: () => new TerminalIngest(deps) };
  }

  it('one terminal.command per marked command, at once, its output linked by get_terminal_output', async () => {
    const { s, id, ingest, print, home, cmds } = await setup();
    print(round('npm test', 'AssertionError: expected 7 to equal 9\r\n', 1, home), 400);
    print(round('git log', 'abc123 first\r\n', 0, `${home}/sub`), 400);
    print(round('ssh box ls', 'x\r\n', 0, home, 'box.example'), 400);
    ingest.tick(id);
    expect(cmds().map((c) => [c.data.command, c.data.exit_code, c.data.source, c.data.in_project])).toEqual([
      ['npm test', 1, 'prompt_marks', true],
      ['git log', 0, 'prompt_marks', true],
      // OSC 7 names another host: not this machine, so not in the project whatever the path.
      ['ssh box ls', 0, 'prompt_marks', false],
    ]);
    expect(cmds()[0]?.offset_ms).toBe(1200);
    expect(cmds()[0]?.data.duration_ms).toBe(400);
    const out = new TerminalOutput(s.store).get({ sessionId: id, commandSeq: cmds()[0]?.seq, maxBytes: 20_000 });
    expect(out.chunks.map((c) => c.text).join('\n')).toContain('AssertionError: expected 7 to equal 9');
    await s.recorder.stop();
  });

  it('a restarted daemon reads on after the marks it used (chunks of marks only included): no command twice', async () => {
    const { s, id, ingest, print, cmds, restart } = await setup();
    print([`${OSC('133;A')}$ ${OSC('133;B')}`, 'true\r\n', `${OSC('133;C')}${OSC('133;D;0')}`], 200);
    ingest.tick(id);
    expect(cmds()).toHaveLength(1);
    restart().ingest(id);
    restart().ingest(id);
    expect(cmds()).toHaveLength(1);
    await s.recorder.stop();
  });

  it("a stream the hook reports (its records name the stream) uses the hook's records only: none from marks, forged or not", async () => {
    const { s, id, ingest, print, hook, home, at, cmds } = await setup();
    hook('cargo build', at() + 100, { stream: '9-m', exit_code: 101 });
    print(round('cargo build', 'error[E0425]\r\n', 101, home), 300);
    // Later a program prints marks of its own (a log of another session, or on purpose).
    print([`${OSC('133;B')}git push --force\r\n${OSC('133;C')}${OSC('133;D;1')}\r\n`], 2000);
    ingest.tick(id);
    expect(cmds().map((c) => [c.data.command, c.data.source ?? 'hook'])).toEqual([['cargo build', 'hook']]);
    await s.recorder.stop();
  });

  it('an older hook record (no stream) suppresses only the same command at the same moment, not another shell’s', async () => {
    const { s, id, ingest, print, hook, home, at, cmds } = await setup();
    hook('make  test', at() + 1000); // the same command, whitespace aside
    hook('ls', at() + 2200); // another shell's command, 1.4 s from the next one
    print(round('make test', 'ok\r\n', 0, home), 300);
    print(round('rm -rf build', '\r\n', 0, home), 300);
    ingest.tick(id);
    expect(cmds().map((c) => [c.data.command, c.data.source ?? 'hook'])).toEqual([
      ['make  test', 'hook'],
      ['rm -rf build', 'prompt_marks'],
      ['ls', 'hook'],
    ]);
    await s.recorder.stop();
  });

  it('hostile marks stay bounded: a 60 KB cwd, a C/D loop, output split at every C, and a real command after them', async () => {
    const { s, id, ingest, print, home, cmds } = await setup();
    const before = fs.statSync(s.paths.db).size;
    print([`${OSC(`7;file://h/${'a'.repeat(60_000)}`)}\n${`${OSC('133;C')}${OSC('133;D;1')}x\n`.repeat(20_000)}`], 10);
    print(round('npm test', 'real output\r\n', 1, home), 5000);
    ingest.tick(id);
    const all = cmds();
    // A burst of 30, then 5 a second on the session clock: not one per 18 bytes.
    expect(all.length).toBeLessThanOrEqual(40);
    expect(all.every((c) => c.data.cwd === null || String(c.data.cwd).length <= 4096)).toBe(true);
    expect(all.at(-1)?.data).toMatchObject({ command: 'npm test', exit_code: 1 });
    expect(s.store.events({ sessionId: id, types: ['terminal.output'], limit: 100_000 }).length).toBeLessThan(100);
    expect(fs.statSync(s.paths.db).size - before).toBeLessThan(8 * 1024 * 1024);
    await s.recorder.stop();
  });

  it('secrets in typed lines, 633;E escapes and %-encoded OSC 7 are redacted; a token typed with a typo fixed by backspace too', async () => {
    const { s, id, ingest, print, cmds } = await setup();
    const AWS = 'AKIAIOSFODNN7EXAMPLE';
    const GH = `ghp_${'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5'}`;
    const esc = (x: string) => [...x].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const pct = (x: string) => [...x].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    print([`${OSC('133;A')}$ ${OSC('133;B')}`, `export AWS_ACCESS_KEY_ID=${AWS}\r\n`, OSC('133;C'), OSC('133;D;0')], 200);
    print([`${OSC('633;A')}$ ${OSC('633;B')}`, 'x\r\n', `${OSC(`633;E;git clone https://${esc(GH)}@github.com/o/r`)}${OSC('633;C')}`, OSC('633;D;0')], 200);
    print([`${OSC(`7;file://h/tmp/${pct(AWS)}/${pct(GH)}`)}${OSC('133;A')}$ ${OSC('133;B')}`, 'ls\r\n', OSC('133;C'), OSC('133;D;0')], 200);
    const typo = `${GH.slice(0, 20)}Z\b \b${GH.slice(20)}`;
    print([`${OSC('133;A')}$ ${OSC('133;B')}`, `curl -H "Authorization: token ${typo}" x\r\n`, OSC('133;C'), OSC('133;D;0')], 200);
    ingest.tick(id);
    expect(cmds()).toHaveLength(4);
    const rows = JSON.stringify(s.store.db.prepare("SELECT data, text FROM events WHERE session_id = ? AND type LIKE 'terminal.%'").all(id));
    const decoded = rows.replace(/\\\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
    const cast = fs
      .readdirSync(path.join(s.paths.sessionsDir, id, 'terminal'))
      .map((f) => fs.readFileSync(path.join(s.paths.sessionsDir, id, 'terminal', f), 'utf8'));
    const jsonl = fs.readFileSync(path.join(s.paths.sessionsDir, id, 'events.jsonl'), 'utf8');
    for (const [where, text] of [
      ['events', decoded],
      ['cast', cast.join('')],
      ['events.jsonl', jsonl],
    ] as const) {
      expect(text, where).not.toContain(AWS);
      expect(text, where).not.toContain(GH);
      // Neither half of the token typed with a typo: the edit is applied before the rules look.
      expect(text, where).not.toContain(GH.slice(20));
      expect(text, where).not.toContain(GH.slice(4, 20));
    }
    await s.recorder.stop();
  });

  it('a huge command line (control characters, 6 JSON bytes each) keeps get_terminal_output within a tiny budget, moving on every page', async () => {
    const { s, id, ingest, print, cmds } = await setup();
    print(
      [`${OSC('633;A')}$ ${OSC('633;B')}`, 'x\r\n', `${OSC(`633;E;${'\\x01'.repeat(4000)}`)}${OSC('633;C')}${'out line\r\n'.repeat(200)}`, OSC('633;D;0')],
      100,
    );
    ingest.tick(id);
    const seq = cmds()[0]?.seq;
    let after: number | undefined;
    let char: number | undefined;
    let text = '';
    let pages = 0;
    for (; pages < 200; pages++) {
      const params = { session: id, command_seq: seq, max_bytes: 1000, ...(after ? { after_seq: after } : {}), ...(char ? { after_char: char } : {}) };
      const page = (await invoke(findOperation('get_terminal_output') as never, params, s.services)) as GetTerminalOutputOutput;
      expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(1000);
      expect(page.command?.command.endsWith('…')).toBe(true);
      text += page.chunks.map((c) => c.text).join('\n');
      if (page.next_after_seq === null) break;
      after = page.next_after_seq;
      char = page.next_after_char ?? undefined;
    }
    expect(pages).toBeLessThan(60);
    expect(text.match(/out line/g)).toHaveLength(200);
    await s.recorder.stop();
  });
});
