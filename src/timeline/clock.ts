/**
 * The one wall-clock format of replies: ISO 8601 in the daemon's local time
 * with its UTC offset and milliseconds, e.g. `2026-11-29T14:32:05.120+01:00`.
 * Every `offset_ms` a reply carries has an `at` beside it in this form, so an
 * assistant can say "at 14:32" without arithmetic and the value still parses
 * back (`new Date(at)`, and the time grammar accepts it).
 */
const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, '0');

export function wallClock(ts: number): string {
  const d = new Date(ts);
  if (!Number.isFinite(d.getTime())) return new Date(0).toISOString();
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

/** `at` for an offset into a session that started at `startedAt` (epoch ms). */
export function atOffset(startedAt: number, offsetMs: number): string {
  return wallClock(startedAt + offsetMs);
}
