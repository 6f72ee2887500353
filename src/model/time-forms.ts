/**
 * The forms of the one time grammar (DESIGN.md §8) as people read them, for
 * every TRACED_INVALID_TIME message: timeline/query.ts parses them, and
 * api/invalid.ts names them when a time argument fails its schema.
 */

/** The accepted forms, named in every TRACED_INVALID_TIME message (DESIGN.md §8). */
export const TIME_FORMS =
  '+90s, +1:30 or +1:02:03 (from the session start); a whole number below 10^12 (ms from the session start); ' +
  "14:32 or 14:32:05 (wall clock on the session's day, today without one); an ISO 8601 date-time (2026-11-29T14:32:00Z); " +
  'epoch ms (1764430000000); 30m, 2h, 1d (that long ago, for since/until/last)';

/** The forms a since/until bound takes: a range can span sessions, so no offsets. */
export const RANGE_FORMS =
  '14:32 or 14:32:05 (wall clock, today); an ISO 8601 date-time (2026-11-29T14:32:00Z); epoch ms (1764430000000); 30m, 2h, 1d (that long ago)';
/** What each use accepts, for messages. */
export function formsFor(use?: 'at' | 'since' | 'until' | 'last'): string {
  return use === 'last' ? 'a duration such as 30m, 2h, 1d' : use === 'since' || use === 'until' ? RANGE_FORMS : TIME_FORMS;
}
