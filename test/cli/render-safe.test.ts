/**
 * safeText / safeData (src/cli/render.ts), the one filter between recorded
 * text and the terminal: for any string, nothing a terminal acts on is left
 * but newline and tab, nothing else changes, and the escape shown says which
 * character it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeData, safeText } from '../../src/cli/render.js';

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('safeText', () => {
  it('any string: no control characters out, text without them unchanged, newline and tab kept', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(
            fc.integer({ min: 0, max: 0x2070 }).map((c) => String.fromCharCode(c)),
            fc.constantFrom('\u001b', '\u009b', '\r', '\n', '\t', '\u202e'),
          ),
        }),
        (s) => {
          const out = safeText(s);
          expect(out).not.toMatch(CONTROL);
          if (!CONTROL.test(s)) expect(out).toBe(s);
          expect(out.split('\n').length).toBe(s.split('\n').length);
          expect(out.split('\t').length).toBe(s.split('\t').length);
        },
      ),
      { numRuns: 500 },
    );
    expect(safeText('a\u001b]0;x\u0007b')).toBe('a\\u001b]0;x\\u0007b');
  });

  it('safeData reaches every string at any depth (keys too) and leaves other values as they are', () => {
    const deep = { a: [{ b: 'x\u001b[2J', n: 3, t: true, z: null }], '\u009bk': { c: ['\r'] } };
    expect(safeData(deep)).toEqual({ a: [{ b: 'x\\u001b[2J', n: 3, t: true, z: null }], '\\u009bk': { c: ['\\u000d'] } });
  });
});
