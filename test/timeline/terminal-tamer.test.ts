/**
 * Control sequences replayed into the screen emulator: numbers are capped so a
 * program cannot make one replay loop for minutes (`ESC[99999999S` did), also
 * when the number is split across writes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csiTamer, MAX_CSI_PARAM } from '../../src/timeline/terminal-screen.js';

describe('csiTamer', () => {
  it('caps every number of a CSI sequence, however the text is split into writes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }), fc.constantFrom('S', 'T', 'L', 'M', 'b', 'H', 'm'), (cuts, f) => {
        const text = `hello\x1b[99999999;123456${f}x\x1b[12;3Hok\x9b77777777L`;
        const tame = csiTamer();
        let out = '';
        let at = 0;
        for (const c of cuts) {
          out += tame(text.slice(at, at + c));
          at += c;
        }
        out += tame(text.slice(at), true);
        expect(out).toBe(`hello\x1b[${MAX_CSI_PARAM};${MAX_CSI_PARAM}${f}x\x1b[12;3Hok\x9b${MAX_CSI_PARAM}L`);
      }),
    );
  });
  it('leaves text without control sequences alone', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }).filter((s) => !s.includes('\x1b') && !s.includes('\x9b')),
        (s) => {
          expect(csiTamer()(s, true)).toBe(s);
        },
      ),
    );
  });
});
