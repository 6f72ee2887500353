/**
 * Commands from a terminal's prompt marks (OSC 133 / VS Code's 633) when no
 * shell hook reports them: the parser on its own (and on hostile bytes), then
 * through the daemon's ingest of a real cast file — one `terminal.command` per
 * command with its exit code, duration and output linked, and none when the
 * hook reported the same command.
 */
import fc from 'fast-check';
import pino from 'pino';
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
function round(cmd: string, output: string, exit: number, cwd = '/work/p'): string[] {
  return [`${OSC('133;A')}${OSC(`7;file://host${cwd}`)}\x1b[32m$\x1b[0m ${OSC('133;B')}`, `${cmd}\r\n`, `${OSC('133;C')}${output}`, `${OSC(`133;D;${exit}`)}`];
}

describe('prompt marks', () => {
  it('reads command, exit code, duration and cwd from OSC 133 and 7, with BEL or ST endings', () => {
    const m = new PromptMarks();
    const chunks = [...round('make test', 'FAIL x\r\n', 2), ...round('ls', 'a b\r\n', 0, '/tmp/o%20p')];
    const got = chunks.flatMap((c, i) => m.feed(i % 2 ? c.replaceAll('\x07', '\x1b\\') : c, i * 0.5));
    expect(got).toEqual([
      { t: 1, command: 'make test', exit_code: 2, duration_ms: 500, cwd: '/work/p' },
      { t: 3, command: 'ls', exit_code: 0, duration_ms: 500, cwd: '/tmp/o p' },
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
    expect(cut).toEqual([{ t: 2, command: 'sleep 9', exit_code: null, duration_ms: 0, cwd: null }]);
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
    const ingest = new TerminalIngest({ store: s.store, events: s.events, sessionsDir: s.paths.sessionsDir, log: pino({ level: 'silent' }), now: () => clock });
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
    return { s, id, w, ingest, print, home: s.home, advance: (ms: number) => (clock += ms), at: () => clock - startedAt };
  }

  it('one terminal.command per marked command, its output linked by get_terminal_output', async () => {
    const { s, id, ingest, print, advance, home } = await setup();
    print(round('npm test', 'AssertionError: expected 7 to equal 9\r\n', 1, home), 400);
    print(round('git log', 'abc123 first\r\n', 0, `${home}/sub`), 400);
    ingest.tick(id);
    // Held for the hook's record first: none yet.
    expect(s.store.events({ sessionId: id, types: ['terminal.command'], limit: 10 })).toHaveLength(0);
    advance(3000);
    ingest.tick(id);
    const cmds = s.store.events({ sessionId: id, types: ['terminal.command'], limit: 10 });
    expect(cmds.map((c) => [c.data.command, c.data.exit_code, c.data.source, c.data.in_project])).toEqual([
      ['npm test', 1, 'prompt_marks', true],
      ['git log', 0, 'prompt_marks', true],
    ]);
    expect(cmds[0]?.offset_ms).toBe(1200);
    expect(cmds[0]?.data.duration_ms).toBe(400);
    const out = new TerminalOutput(s.store).get({ sessionId: id, commandSeq: cmds[0]?.seq, maxBytes: 20_000 });
    expect(out.chunks.map((c) => c.text).join('\n')).toContain('AssertionError: expected 7 to equal 9');
    // A restarted daemon reading the same file stores them no second time.
    ingest.tick(id);
    expect(s.store.events({ sessionId: id, types: ['terminal.command'], limit: 10 })).toHaveLength(2);
    await s.recorder.stop();
  });

  it('a command the shell hook reported too is stored once, from the hook', async () => {
    const { s, id, ingest, print, advance, at } = await setup();
    print(round('cargo build', 'error[E0425]: cannot find value\r\n', 101, '/elsewhere'), 300);
    // The hook's record of the same command (its start a moment off the C mark).
    s.events.appendLate(id, [
      {
        channel: 'terminal',
        type: 'terminal.command',
        offset_ms: at() - 350,
        data: { command: 'cargo build', exit_code: 101, cwd: '/work/p', duration_ms: 300, shell: 'bash' },
      },
    ]);
    advance(3000);
    ingest.tick(id);
    const cmds = s.store.events({ sessionId: id, types: ['terminal.command'], limit: 10 });
    expect(cmds).toHaveLength(1);
    expect(cmds[0]?.data.shell).toBe('bash');
    await s.recorder.stop();
  });
});
