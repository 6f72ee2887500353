/**
 * --from/--to for operations that take offsets (timeline, transcript, export,
 * clip): read by the one grammar (timeline/query.ts), so `--from 14:32`,
 * `--from +1:30` and `--from 90000` all work. Only a wall-clock form needs the
 * session's start, asked of the daemon then.
 */
import { ErrorCodes, TracedError } from '../errors.js';
import { type Moment, momentOffset, parseMoment } from '../timeline/query.js';
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
  let start = 0;
  if (mf?.kind === 'ts' || mt?.kind === 'ts') {
    const s = (await callDaemon(io, 'get_session', { session, events_limit: 1 })) as { session: { started_at: number } };
    start = s.session.started_at;
    // Clock times are on the session's day: read again now that it is known.
    mf = read(from, start);
    mt = read(to, start);
  }
  const flag = (name: string, f: () => number | undefined) => {
    try {
      return f();
    } catch (err) {
      if (err instanceof TracedError) throw new TracedError(err.code, `--${name}: ${err.message}`, { data: { ...err.data, flag: name } });
      throw err;
    }
  };
  const from_ms = flag('from', () => (mf ? momentOffset(mf, start, from) : undefined));
  const to_ms = flag('to', () => (mt ? momentOffset(mt, start, to) : undefined));
  if (from_ms !== undefined && to_ms !== undefined && from_ms > to_ms) {
    throw new TracedError(ErrorCodes.INVALID_TIME, `--from ${from} (${from_ms} ms) is after --to ${to} (${to_ms} ms): the range is empty; swap them`, {
      data: { from_ms, to_ms },
    });
  }
  return { from_ms, to_ms };
}
