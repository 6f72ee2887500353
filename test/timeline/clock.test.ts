import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { atOffset, wallClock } from '../../src/timeline/clock.js';

describe('wallClock', () => {
  it('round-trips every instant to the millisecond, with the local offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2199, 11, 31) }), (ts) => {
        const s = wallClock(ts);
        expect(s).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
        expect(new Date(s).getTime()).toBe(ts);
      }),
    );
  });
  it('adds the offset to the session start', () => {
    const start = Date.UTC(2026, 10, 29, 14, 0, 0);
    expect(new Date(atOffset(start, 90_500)).getTime()).toBe(start + 90_500);
  });
});
