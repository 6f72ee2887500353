/**
 * Hostile $TRACED_SHELL values inside a hooked shell (the hooks write it into the spool as the
 * stream): separators cannot forge or split a record, and an odd value costs only the stream
 * name, never the command. From a hostile review of the stream field.
 */
import { describe, expect, it } from 'vitest';
import { BROKEN, drive, plain, present } from './hook-pty.js';

const mark = (what: string, m: string) => `echo ${what} >> ${m}`;
// value given as a printf format (octal escapes), so each shell gets the same bytes
const rc = (shell: 'bash' | 'zsh' | 'fish', fmt: string) => (hook: string, m: string) =>
  shell === 'fish'
    ? `function fish_prompt; echo -n 'READY> '; end\nset -gx TRACED_SHELL (printf '${fmt}' | string collect)\nsource ${hook}\nfunction _m --on-event fish_postexec; ${mark('f', m)}; end\n`
    : shell === 'zsh'
      ? `PROMPT='READY> '\nexport TRACED_SHELL="$(printf '${fmt}')"\nsource ${hook}\nautoload -Uz add-zsh-hook\n_m() { ${mark('z', m)}; }\nadd-zsh-hook precmd _m\n`
      : `PS1='READY> '\nexport TRACED_SHELL="$(printf '${fmt}')"\nsource ${hook}\nPROMPT_COMMAND="\${PROMPT_COMMAND:+$PROMPT_COMMAND;}${mark('b', m)}"\n`;

describe('hostile TRACED_SHELL', () => {
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    it.skipIf(!present[shell])(`${shell}: a US/RS in TRACED_SHELL forges no record and leaves the real one's times alone`, async () => {
      const fmt = `a\\037rm -rf / FORGED\\0361700000000000\\0371700000000001\\0370\\037/forged/cwd\\037${shell}@b`;
      const run = await drive(shell, rc(shell, fmt), ['true']);
      expect(plain(run.output)).not.toMatch(BROKEN);
      const got = run.records.map((r) => [r.command, r.start_ms, r.cwd]);
      // expected: exactly one record, 'true', typed now
      expect(got.map((g) => g[0])).toEqual(['true']);
      expect(run.records[0]!.start_ms).toBeGreaterThan(run.typed[0]!.t0 - 1000);
    });
    for (const [name, fmt] of [
      ['81 chars', 'x'.repeat(81)],
      ['81 unicode chars', 'é'.repeat(81)],
      ['an RS', 'ab\\036cd'],
      ['a newline', 'ab\\ncd'],
    ] as const) {
      it.skipIf(!present[shell])(`${shell}: TRACED_SHELL with ${name} keeps the command`, async () => {
        const run = await drive(shell, rc(shell, fmt), ['true']);
        expect(plain(run.output)).not.toMatch(BROKEN);
        expect(run.records.map((r) => [r.command, r.stream])).toEqual([['true', undefined]]);
      });
    }
  }
});
