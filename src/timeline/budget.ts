/**
 * Reply budgets: every list a read view returns is cut to a byte budget as
 * well as a count, so a default reply fits an assistant's context and any
 * reply fits one IPC frame. What is cut is never lost: the view returns a
 * continuation that starts exactly after the last item returned.
 */
import { wallClockBytes } from '../model/clock.js';

/** Default budget of a reply's lists (bytes of JSON): about 10k tokens. */
export const DEFAULT_REPLY_BYTES = 40_000;
/** What a reply holds besides its list: ids, a continuation, keys. */
const ENVELOPE_BYTES = 400;

/** The most a caller can ask for: below the default 1 MiB IPC frame, with room for the envelope. */
export const MAX_REPLY_BYTES = 900_000;

/**
 * The longest prefix of `items` (at most `limit`) whose JSON fits in
 * `maxBytes - used`; the first item is always taken so a page is never empty
 * while items remain (a single item is bounded by the event size limit).
 */
export function fitPage<T>(items: readonly T[], limit: number, maxBytes: number, used = 0): { page: T[]; more: boolean } {
  const page: T[] = [];
  // The reply around the list (ids, continuation, keys) is counted too, so the whole reply fits.
  let bytes = used + ENVELOPE_BYTES;
  for (const item of items) {
    if (page.length >= limit) return { page, more: true };
    const size = itemBytes(item);
    if (page.length > 0 && bytes + size > maxBytes) return { page, more: true };
    page.push(item);
    bytes += size;
  }
  return { page, more: false };
}

/** Bytes one list item takes in a reply (the wall-clock `at` beside each offset, added after the page is cut, included). */
export function itemBytes(item: unknown): number {
  return Buffer.byteLength(JSON.stringify(item)) + 1 + wallClockBytes(item);
}

/** Whether one item alone, in a reply's envelope, fits `maxBytes`. */
export function fitsAlone(item: unknown, maxBytes: number, used = 0): boolean {
  return used + ENVELOPE_BYTES + itemBytes(item) <= maxBytes;
}
