/**
 * The naming rule of the wall-clock twins every reply carries: `offset_ms`
 * has `at` beside it, each `<x>_offset_ms` an `<x>_at` (and a few offsets
 * named otherwise, below). src/api/clock.ts adds them to replies; reply
 * budgets (src/timeline/budget.ts) count them before they are added.
 */

/** Offset-valued keys besides `offset_ms` / `<x>_offset_ms`, with their wall-clock twin. */
const EXTRA: Record<string, string> = { position_ms: 'position_at', from_ms: 'from_at', to_ms: 'to_at' };

/** Recorded payloads (event and moment `data`) are what was recorded: never given twins. */
export const PAYLOAD_KEY = 'data';

/** The wall-clock key for an offset key, or undefined when the key is not an offset. */
export function atKey(key: string): string | undefined {
  if (key === 'offset_ms') return 'at';
  if (key.endsWith('_offset_ms')) return `${key.slice(0, -'_offset_ms'.length)}_at`;
  return EXTRA[key];
}

/** Length of a wall-clock value, e.g. `2026-11-29T14:32:05.120+01:00`. */
const AT_LENGTH = 29;

/** Bytes of JSON the wall-clock twins will add to `value` (an upper bound: a twin already there is counted again). */
export function wallClockBytes(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, x) => n + wallClockBytes(x), 0);
  if (typeof value !== 'object' || value === null) return 0;
  let n = 0;
  for (const [k, x] of Object.entries(value)) {
    if (k === PAYLOAD_KEY) continue;
    const ak = atKey(k);
    // ,"<ak>":"<29 characters>"
    if (ak && typeof x === 'number') n += ak.length + AT_LENGTH + 6;
    n += wallClockBytes(x);
  }
  return n;
}
