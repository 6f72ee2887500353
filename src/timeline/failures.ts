/**
 * Failure lines: the lines of tool output a person looks for when something
 * broke — a failing test's name, an assertion, a compiler error, a stack
 * trace's first line, a package manager giving up. Text in (on-screen text
 * read by OCR, terminal output), failure lines out; pure and bounded.
 *
 * The patterns are a maintained list, one entry per tool and form, tried in
 * order (the first that matches a line names it). Adding a tool: add its
 * entries above the generic ones at the end, and add realistic output with its
 * negatives (summaries that report success) to test/timeline/failures.test.ts.
 *
 * Summary lines count only when they report a failure: "1 failed" is one,
 * "0 failed", "no errors", "Found 0 errors" are not.
 */

export type FailureKind =
  /** A test that failed, named. */
  | 'test'
  /** What an assertion expected and got. */
  | 'assertion'
  /** A compiler or type checker refusing the code. */
  | 'compile'
  /** A linter reporting an error (warnings are not failures). */
  | 'lint'
  /** An exception, panic or crash while running. */
  | 'runtime'
  /** A package manager or build tool giving up. */
  | 'package'
  /** A run's summary reporting failures. */
  | 'summary'
  /** An error line no more specific pattern names. */
  | 'error';

export interface FailurePattern {
  /** The tool (or runtime) whose output this is, e.g. `vitest`, `tsc`, `python`. */
  tool: string;
  kind: FailureKind;
  /** Tested against one line with ANSI codes removed and runs of blanks collapsed. */
  re: RegExp;
}

/** A failure line found in a text. */
export interface FailureLine {
  /** The line as shown (blanks collapsed, at most MAX_LINE_CHARS). */
  line: string;
  tool: string;
  kind: FailureKind;
  /** Index of the line in the text (0-based). */
  index: number;
}

/** Longest line kept (characters); longer lines are cut. */
export const MAX_LINE_CHARS = 300;
/** Lines of a text looked at: the rest is ignored (a text is bounded by the event size anyway). */
const MAX_LINES = 5000;

const N = '[1-9]\\d*'; // a count that is not zero
const re = (s: string, flags = '') => new RegExp(s, flags);

/** Exception names shared by JavaScript and Python; the tool is told apart by the rest of the text. */
const EXCEPTION =
  /^(?:Uncaught |Unhandled(?:PromiseRejection)?:? )?(?:[A-Za-z_][\w$]*\.){0,6}([A-Z][\w$]*(?:Error|Exception|Failure))(?: \[[A-Z_0-9]+\])?(?::\s*\S.*)?$/;

export const FAILURE_PATTERNS: readonly FailurePattern[] = [
  // ---- test runners
  { tool: 'vitest', kind: 'test', re: /^(?:[×✗✕xX❯>]\s+)?FAIL\s+\S+\s+(?:>|\[)\s*\S/ },
  { tool: 'vitest', kind: 'test', re: /^[×✗]\s+\S.*\s>\s+\S/ },
  { tool: 'vitest', kind: 'summary', re: re(`^❯\\s+\\S+\\s+\\(\\d+ tests? \\| ${N} failed\\b`) },
  { tool: 'vitest', kind: 'summary', re: re(`^(?:Tests|Test Files)\\s+${N} failed\\b`) },
  { tool: 'jest', kind: 'test', re: /^FAIL\s+\S+\.(?:test|spec)\.[cm]?[jt]sx?\b/ },
  { tool: 'jest', kind: 'test', re: /^●\s+\S.*›\s*\S/ },
  { tool: 'jest', kind: 'test', re: /^✕\s+\S/ },
  { tool: 'jest', kind: 'assertion', re: /^expect\(received\)\.\w+/ },
  { tool: 'jest', kind: 'summary', re: re(`^(?:Tests|Test Suites):\\s+${N} failed\\b`) },
  { tool: 'mocha', kind: 'summary', re: re(`^${N} failing\\b`) },
  { tool: 'pytest', kind: 'test', re: /^(?:FAILED|ERROR)\s+\S+\.py(?:::\S+)?/ },
  { tool: 'pytest', kind: 'assertion', re: /^E\s+(?:assert\b|AssertionError|[A-Z]\w*(?:Error|Exception)\b|where\b|[+-] )/ },
  { tool: 'pytest', kind: 'summary', re: re(`^=+ (?:.*, )?${N} (?:failed|errors?)\\b.*=+$`) },
  { tool: 'go test', kind: 'test', re: /^--- FAIL: \S+/ },
  { tool: 'go test', kind: 'assertion', re: /^\S+_test\.go:\d+: \S/ },
  { tool: 'go test', kind: 'summary', re: /^FAIL(?:\s+\S+(?:\s+[\d.]+s)?)?$/ },
  { tool: 'unittest', kind: 'test', re: /^(?:FAIL|ERROR): \w+ \([\w.]+\)/ },
  { tool: 'unittest', kind: 'summary', re: /^FAILED \((?:failures|errors)=\d+/ },
  { tool: 'cargo test', kind: 'test', re: /^test \S+ \.\.\. FAILED$/ },
  { tool: 'cargo test', kind: 'summary', re: /^test result: FAILED\b/ },
  { tool: 'cargo test', kind: 'package', re: /^error: test failed\b/ },
  // ---- assertions (Node's assert, chai; Python's bare AssertionError is caught below)
  { tool: 'assert', kind: 'assertion', re: /^(?:Uncaught )?AssertionError(?: \[ERR_ASSERTION\])?:\s*\S/ },
  // ---- compilers, type checkers, linters
  { tool: 'tsc', kind: 'compile', re: /^\S+(?:\(\d+,\d+\):|:\d+:\d+ -) error TS\d+: / },
  { tool: 'tsc', kind: 'summary', re: re(`^Found ${N} errors?\\b`) },
  { tool: 'eslint', kind: 'lint', re: /^\d+:\d+ error \S.*$/ },
  { tool: 'eslint', kind: 'summary', re: re(`^[✖xX] \\d+ problems? \\(${N} errors?\\b`) },
  { tool: 'rustc', kind: 'compile', re: /^error\[E\d{4}\]: \S/ },
  { tool: 'cargo', kind: 'package', re: /^error: (?:could not compile|failed to|no matching package|aborting due to)\b/ },
  { tool: 'gcc/clang', kind: 'compile', re: /^\S+:\d+(?::\d+)?: (?:fatal )?error: \S/ },
  {
    tool: 'gcc/clang',
    kind: 'compile',
    re: /^(?:\S*\/)?(?:ld|collect2|ld\.lld|clang|gcc|cc)(?:\S*)?: (?:error: )?(?:.*undefined reference|.*symbol\(s\) not found|ld returned \d+ exit status)/,
  },
  { tool: 'go build', kind: 'compile', re: /^\S+\.go:\d+:\d+: \S/ },
  { tool: 'make', kind: 'package', re: /^make(?:\[\d+\])?: \*\*\* .*Error \d+/ },
  // ---- runtimes
  { tool: 'python', kind: 'runtime', re: /^Traceback \(most recent call last\):?$/ },
  { tool: 'go', kind: 'runtime', re: /^panic: \S/ },
  { tool: 'go', kind: 'runtime', re: /^fatal error: (?:all goroutines are asleep|concurrent map|runtime:|out of memory|stack overflow)/ },
  { tool: 'rust', kind: 'runtime', re: /^thread '[^']*' panicked at\b/ },
  { tool: 'java', kind: 'runtime', re: /^Exception in thread "[^"]*" \S/ },
  { tool: 'exception', kind: 'runtime', re: /^(?:Uncaught )?Error(?: \[[A-Z_0-9]+\])?: \S/ },
  { tool: 'node', kind: 'runtime', re: /^\[UnhandledPromiseRejection: \S/ },
  { tool: 'exception', kind: 'runtime', re: EXCEPTION },
  // ---- package managers and build tools
  { tool: 'npm', kind: 'package', re: /^npm (?:ERR!|error) (?!(?:A complete log|This is probably not a problem|There is likely additional|\s*$))\S/ },
  { tool: 'yarn', kind: 'package', re: /^error (?:Command failed|An unexpected error)/ },
  { tool: 'pnpm', kind: 'package', re: /\bERR_PNPM_[A-Z_]+\b/ },
  { tool: 'pip', kind: 'package', re: /^(?:ERROR: (?:Could not|No matching|Failed|Cannot|pip's dependency)|error: subprocess-exited-with-error)/ },
  { tool: 'gradle', kind: 'package', re: /^(?:BUILD FAILED|FAILURE: Build failed)/ },
  { tool: 'maven', kind: 'package', re: /^\[ERROR\] \S/ },
  // ---- anything else that says error at the start of a line
  { tool: 'generic', kind: 'error', re: /^(?:error|fatal|ERROR|FATAL)(?:\[[\w-]+\])?: \S/ },
];

/** Lines that only look like failures: summaries of success, and code on screen. */
const ZERO = /\b0 (?:failed|failing|failures|errors?)\b|\bno (?:errors|failures|problems)\b/i;
const NONZERO = /\b[1-9]\d* (?:failed|failing|failures|errors?)\b/i;
const SUCCESS = /^(?:ok|PASS|✓|√)\s/;
/** `error: null,` in an object literal, `error: 'x'` in code: a key and a literal, nothing a tool prints. */
const CODE_LITERAL = /^\w+: (?:null|undefined|true|false|\d+|'[^']*'|"[^"]*"|`[^`]*`|\w+|\[\]|\{\}|\{)?[,;{]?$/;
/** A word every pattern above needs: most lines of a screen have none, and skip the list. Keep it in step with the list. */
const MAY_FAIL = /fail|err|exception|panic|traceback|assert|fatal|unhandled|undefined reference|symbol\(s\) not found|[●×✗✕✖❯]|^E\s|\.go:\d|expect\(/i;
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

/**
 * The failure lines of a text, in order, each once per place it occurs. The
 * tool of a `TypeError: …` or similar line is `node` or `python` when the text
 * shows which (a `Traceback`/`File "…", line N` or an `at f (file.js:1:2)`
 * frame), `exception` otherwise.
 */
export function failureLines(text: string): FailureLine[] {
  const out: FailureLine[] = [];
  const lines = text.replace(ANSI, '').split(/\r\n|\r|\n/, MAX_LINES);
  let runtime: 'node' | 'python' | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/[\s\u00a0]+/g, ' ').trim();
    if (line.length < 3) continue;
    const probe = line.slice(0, MAX_LINE_CHARS * 2);
    if (!runtime) {
      if (/^Traceback \(most recent|^File "[^"]+", line \d+/.test(probe)) runtime = 'python';
      else if (/^at (?:\S+ \()?(?:file:\/\/|node:|\/|[A-Za-z]:\\)?\S+:\d+:\d+\)?$/.test(probe)) runtime = 'node';
    }
    if (!MAY_FAIL.test(probe)) continue;
    if (SUCCESS.test(probe) || (ZERO.test(probe) && !NONZERO.test(probe))) continue;
    const p = FAILURE_PATTERNS.find((f) => f.re.test(probe));
    if (!p) continue;
    if (p.tool === 'generic' && CODE_LITERAL.test(probe)) continue;
    out.push({ line: line.slice(0, MAX_LINE_CHARS), tool: p.tool, kind: p.kind, index: i });
  }
  if (runtime) for (const f of out) if (f.tool === 'exception') f.tool = runtime;
  return out;
}

/**
 * What makes two failure lines the same failure: case, blanks, timings
 * (`5ms`, `(0.00s)`, `in 0.12s`) and OCR's stray marks at the start ignored.
 */
export function failureKey(line: string): string {
  return line
    .toLowerCase()
    .replace(/\(?\b(?:in )?\d+(?:\.\d+)?\s?(?:ms|s)\b\)?/g, '')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/\s+/g, ' ')
    .trim();
}
