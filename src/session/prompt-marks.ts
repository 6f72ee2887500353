/**
 * Commands from a terminal's own prompt marks, for shells that report them
 * without traced's hook: OSC 133 (FinalTerm semantic prompts — fish 4,
 * Ghostty, kitty, WezTerm and iTerm2 shell integration) and VS Code's OSC 633.
 *
 *   ESC ] 133 ; A ST      prompt starts
 *   ESC ] 133 ; B ST      prompt ends, the command line is typed after it
 *   ESC ] 133 ; C ST      the command runs, its output starts
 *   ESC ] 133 ; D ; N ST  the command ended with exit code N
 *   ESC ] 633 ; E ; CMD   (VS Code) the exact command line, `\xAB`/`\\` escaped
 *   ESC ] 7 ; file://host/path ST   the shell's working directory
 *
 * A command runs from C to D; its text is the 633;E line when there is one,
 * else what the terminal echoed between B and C (escapes removed, a
 * backspace takes a character back). A D with no C before it (an empty line,
 * the first prompt) is no command. The marks are read from the cast file as
 * `traced shell` kept it: a chunk the gate had to strip of escapes (it held a
 * secret) lost its marks, and the command around it is not reported.
 */
import { terminalText } from '../timeline/terminal-cast.js';

export interface MarkedCommand {
  /** Session seconds the command started (its C mark). */
  t: number;
  command: string;
  exit_code: number | null;
  duration_ms: number;
  cwd: string | null;
}

const MARKS = /\x1b\](133|633|7);([^\x07\x1b]*)(?:\x07|\x1b\\)/g;
const MAX_INPUT = 4096;

export class PromptMarks {
  /** Echoed input since B (null: not after a B). */
  private input: string | null = null;
  private exact: string | null = null;
  private running: { t: number; command: string } | null = null;
  private cwd: string | null = null;

  /** Feeds one chunk of raw output printed at `t` (session seconds); returns the commands it ended. */
  feed(data: string, t: number): MarkedCommand[] {
    if (!data.includes('\x1b]')) {
      if (this.input !== null) this.keep(data);
      return [];
    }
    const done: MarkedCommand[] = [];
    let from = 0;
    MARKS.lastIndex = 0;
    for (let m = MARKS.exec(data); m; m = MARKS.exec(data)) {
      if (this.input !== null) this.keep(data.slice(from, m.index));
      from = MARKS.lastIndex;
      const [, code, body = ''] = m;
      if (code === '7') {
        this.cwd = fileUrlPath(body) ?? this.cwd;
        continue;
      }
      const [kind = '', ...params] = body.split(';');
      switch (kind) {
        case 'A':
          // A prompt while a command still runs: the command ended without saying how.
          if (this.running) done.push(this.end(t, null));
          this.input = null;
          this.exact = null;
          break;
        case 'B':
          this.input = '';
          break;
        case 'C': {
          const typed = this.input === null ? '' : commandLine(this.input);
          this.running = { t, command: (this.exact ?? typed).slice(0, MAX_INPUT) };
          this.input = null;
          this.exact = null;
          break;
        }
        case 'D':
          if (this.running) done.push(this.end(t, exitCode(params[0])));
          break;
        case 'E':
          if (code === '633' && params.length) this.exact = unescape633(params[0] ?? '');
          break;
      }
    }
    if (this.input !== null) this.keep(data.slice(from));
    return done;
  }

  private keep(text: string): void {
    if (this.input === null || this.input.length >= MAX_INPUT * 2) return;
    this.input += text;
  }

  private end(t: number, exit: number | null): MarkedCommand {
    const r = this.running as { t: number; command: string };
    this.running = null;
    return { t: r.t, command: r.command, exit_code: exit, duration_ms: Math.max(0, Math.round((t - r.t) * 1000)), cwd: this.cwd };
  }
}

/** The typed line as the terminal showed it: escapes gone, edits applied, continuation lines joined. */
function commandLine(echoed: string): string {
  return terminalText(echoed)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n');
}

function exitCode(p: string | undefined): number | null {
  if (p === undefined || !/^-?\d{1,10}$/.test(p)) return null;
  const n = Number(p);
  return Number.isSafeInteger(n) ? n : null;
}

/** VS Code escapes `;`, controls and `\` in the 633;E command line as `\xAB` and `\\`. */
function unescape633(s: string): string {
  return s.replace(/\\(\\|x([0-9a-fA-F]{2}))/g, (_, c: string, hex: string | undefined) => (hex ? String.fromCharCode(Number.parseInt(hex, 16)) : c));
}

function fileUrlPath(body: string): string | null {
  try {
    const u = new URL(body);
    if (u.protocol !== 'file:') return null;
    const p = decodeURIComponent(u.pathname);
    return p.startsWith('/') && !p.includes('\0') ? p : null;
  } catch {
    return null;
  }
}
