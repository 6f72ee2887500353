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
 * the first prompt) is no command; a C while a command runs is not a new one.
 * The marks are read from the cast file as `traced shell` kept it: a chunk the
 * gate had to strip of escapes (it held a secret) lost its marks, and the
 * command around it is not reported.
 *
 * Trust: marks are bytes in the output, and any program can print them. They
 * are used only where the shell hook does not report the stream's commands
 * (see session/terminal-ingest.ts), commands are rate-limited per stream, and
 * each carries `source: "prompt_marks"` so a reader can tell.
 */
import os from 'node:os';
import { terminalText } from '../timeline/terminal-cast.js';

export interface MarkedCommand {
  /** Session seconds the command started (its C mark). */
  t: number;
  command: string;
  exit_code: number | null;
  duration_ms: number;
  cwd: string | null;
  /** Whether the cwd is on this machine (OSC 7 names the host: a shell over ssh reports the remote one's). */
  local: boolean;
}

/** One prompt mark or a run of text between marks. */
export type MarkToken = { text: string } | { code: string; body: string };

export const MARKS = /\x1b\](133|633|7);([^\x07\x1b]*)(?:\x07|\x1b\\)/g;
/** Longest command line and cwd kept (a path is at most 4096 bytes on Linux). */
const MAX_TEXT = 4096;
/**
 * Commands a stream may start, as a token bucket on the session clock: a burst of `BURST`
 * (a pasted script), then `PER_SECOND`. Marks are only bytes a program printed: past the
 * bucket a C mark is ignored, so a program printing marks in a loop cannot flood the store.
 */
const BURST = 30;
const PER_SECOND = 5;

/** The marks and the text between them, in order. */
export function markTokens(data: string): MarkToken[] {
  if (!data.includes('\x1b]')) return [{ text: data }];
  const out: MarkToken[] = [];
  let from = 0;
  const re = new RegExp(MARKS.source, 'g');
  for (let m = re.exec(data); m; m = re.exec(data)) {
    if (m.index > from) out.push({ text: data.slice(from, m.index) });
    out.push({ code: m[1] as string, body: m[2] ?? '' });
    from = re.lastIndex;
  }
  if (from < data.length) out.push({ text: data.slice(from) });
  return out;
}

export class PromptMarks {
  /** Echoed input since B (null: not after a B). */
  private input: string | null = null;
  private exact: string | null = null;
  private running: { t: number; command: string } | null = null;
  private cwd: { path: string; local: boolean } | null = null;
  private tokens = BURST;
  private tokensAt = 0;
  /** C marks ignored past the bucket. */
  ignored = 0;

  /** Text printed between marks (kept while a command line is being typed). */
  text(s: string): void {
    if (this.input === null || this.input.length >= MAX_TEXT * 2) return;
    this.input += s.slice(0, MAX_TEXT * 2 - this.input.length);
  }

  /** One mark at `t` (session seconds): whether output starts here, and the command it ended. */
  mark(code: string, body: string, t: number): { outputStarts: boolean; ended?: MarkedCommand } {
    if (code === '7') {
      this.cwd = fileUrl(body) ?? this.cwd;
      return { outputStarts: false };
    }
    const [kind = '', ...params] = body.split(';');
    switch (kind) {
      case 'A': {
        // A prompt while a command still runs: the command ended without saying how.
        const ended = this.running ? this.end(t, null) : undefined;
        this.input = null;
        this.exact = null;
        return ended ? { outputStarts: false, ended } : { outputStarts: false };
      }
      case 'B':
        this.input = '';
        return { outputStarts: false };
      case 'C': {
        if (this.running || !this.take(t)) {
          // A C inside a command (printed by the program), or one too many: not a new command.
          if (!this.running) this.ignored++;
          this.input = null;
          this.exact = null;
          return { outputStarts: false };
        }
        const typed = this.input === null ? '' : commandLine(this.input);
        this.running = { t, command: (this.exact ?? typed).slice(0, MAX_TEXT) };
        this.input = null;
        this.exact = null;
        return { outputStarts: true };
      }
      case 'D':
        return this.running ? { outputStarts: false, ended: this.end(t, exitCode(params[0])) } : { outputStarts: false };
      case 'E':
        if (code === '633' && params.length) this.exact = unescape633(params[0] ?? '').slice(0, MAX_TEXT);
        return { outputStarts: false };
      default:
        return { outputStarts: false };
    }
  }

  /** Feeds one chunk of raw output printed at `t` (session seconds); returns the commands it ended. */
  feed(data: string, t: number): MarkedCommand[] {
    const done: MarkedCommand[] = [];
    for (const tok of markTokens(data)) {
      if ('text' in tok) this.text(tok.text);
      else {
        const r = this.mark(tok.code, tok.body, t);
        if (r.ended) done.push(r.ended);
      }
    }
    return done;
  }

  private take(t: number): boolean {
    this.tokens = Math.min(BURST, this.tokens + Math.max(0, t - this.tokensAt) * PER_SECOND);
    this.tokensAt = Math.max(this.tokensAt, t);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private end(t: number, exit: number | null): MarkedCommand {
    const r = this.running as { t: number; command: string };
    this.running = null;
    return {
      t: r.t,
      command: r.command,
      exit_code: exit,
      duration_ms: Math.max(0, Math.round((t - r.t) * 1000)),
      cwd: this.cwd?.path ?? null,
      local: this.cwd?.local ?? false,
    };
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

function fileUrl(body: string): { path: string; local: boolean } | null {
  if (body.length > MAX_TEXT * 3) return null;
  try {
    const u = new URL(body);
    if (u.protocol !== 'file:') return null;
    const p = decodeURIComponent(u.pathname);
    if (!p.startsWith('/') || p.includes('\0') || p.length > MAX_TEXT) return null;
    const host = u.hostname.toLowerCase();
    return { path: p, local: host === '' || host === 'localhost' || host === os.hostname().toLowerCase() };
  } catch {
    return null;
  }
}
