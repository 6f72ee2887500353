/**
 * --from/--to for operations that take offsets (timeline, transcript, export,
 * clip): read by the one grammar (timeline/query.ts), so `--from 14:32`,
 * `--from +1:30` and `--from 90000` all work. The session's start and end are
 * asked of the daemon: a moment past the end (past now, while it records) is
 * TRACED_INVALID_TIME here, with a `+1:00` hint for a clock-looking `1:00`.
 */
import { ErrorCodes, TracedError } from '../errors.js';
import { type Moment, momentOffset, parseMoment, sessionBounds } from '../timeline/query.js';
import { callDaemon, type Io } from './command.js';

export async function offsetRange(
  io: Io,
  session: string,
  from: string | undefined,
  to: string | undefined,
): Promise<{ from_ms: number | undefined; to_ms: number | undefined }> {
  const now = Date.now();
  const read = (v: string | undefined, start?: number): Moment | undefined =>
    v === undefined ? undefined : parseMoment(v, 'at', { now, sessionStart: start });
  let mf = read(from);
  let mt = read(to);
  if (!mf && !mt) return { from_ms: undefined, to_ms: undefined };
  // The session's start and end: clock times are on its day, and no moment may be after its end (now, while it records).
  const s = (await callDaemon(io, 'get_session', { session, events_limit: 1 })) as { session: { started_at: number; ended_at: number | null } };
  const start = s.session.started_at;
  // While it records, "now" is its end; an ended session's late events (an import, a late index) are the daemon's to judge.
  const live = sessionBounds(s.session, Date.now());
  const bounds = live.live ? live : undefined;
  mf = read(from, start);
  mt = read(to, start);
  const flag = (name: string, f: () => number | undefined) => {
    try {
      return f();
    } catch (err) {
      if (err instanceof TracedError) throw new TracedError(err.code, `--${name}: ${err.message}`, { data: { ...err.data, flag: name } });
      throw err;
    }
  };
  const from_ms = flag('from', () => (mf ? momentOffset(mf, start, from) : undefined));
  const to_ms = flag('to', () => (mt ? momentOffset(mt, start, to) : undefined)); // an end past "now" reads as "to the end"
  if (from_ms !== undefined && to_ms !== undefined && from_ms > to_ms) {
    throw new TracedError(ErrorCodes.INVALID_TIME, `--from ${from} (${from_ms} ms) is after --to ${to} (${to_ms} ms): the range is empty; swap them`, {
      data: { from_ms, to_ms },
    });
  }
  // Then the start against the session's end (now, while it records): a swapped range is said as such first.
  if (mf && bounds) flag('from', () => momentOffset(mf as Moment, start, from, bounds));
  return { from_ms, to_ms };
}
