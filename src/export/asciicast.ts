/**
 * `--target asciicast`: the terminal output of a session as one asciicast v2
 * file that asciinema plays (`asciinema play`, `asciinema cat`). Every
 * recorded shell of the session goes in, in time order, with `t` on the
 * session clock (seconds from the session start, or from `from_ms` when a
 * range is asked for). Output was redacted when it was recorded and passes
 * the gate's redaction again on the way out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import { commitFile } from '../timeline/session-files.js';
import { type CastEvent, castLine, castPath, listStreams, readCast } from '../timeline/terminal-cast.js';

export interface AsciicastExport {
  file: string;
  bytes: number;
  events: number;
  streams: number;
}

export function writeAsciicast(o: {
  sessionsDir: string;
  sessionId: string;
  startedAt: number;
  out: string;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  gateText: (text: string) => string;
}): AsciicastExport {
  const streams = listStreams(path.join(o.sessionsDir, o.sessionId));
  let width = 0;
  let height = 0;
  const all: (CastEvent & { n: number })[] = [];
  for (const s of streams) {
    const { header, events } = readCast(castPath(o.sessionsDir, o.sessionId, s));
    width = Math.max(width, header?.width ?? 0);
    height = Math.max(height, header?.height ?? 0);
    for (const e of events) {
      const ms = e.t * 1000;
      if ((o.fromMs !== undefined && ms < o.fromMs) || (o.toMs !== undefined && ms > o.toMs)) continue;
      if (e.code === 'o' || e.code === 'r') all.push({ ...e, n: all.length });
    }
  }
  if (!all.some((e) => e.code === 'o')) {
    throw new TracedError(
      ErrorCodes.EXPORT_NO_MEDIA,
      `session ${o.sessionId} has no terminal output${o.fromMs !== undefined || o.toMs !== undefined ? ' in that range' : ''}; record a shell with \`traced shell\``,
    );
  }
  all.sort((a, b) => a.t - b.t || a.n - b.n);
  const base = (o.fromMs ?? 0) / 1000;
  const header = {
    version: 2,
    width: width || 80,
    height: height || 24,
    timestamp: Math.floor((o.startedAt + (o.fromMs ?? 0)) / 1000),
    idle_time_limit: 2,
    title: `traced session ${o.sessionId}`,
  };
  const tmp = `${o.out}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  let bytes = 0;
  try {
    bytes += fs.writeSync(fd, `${JSON.stringify(header)}\n`);
    for (const e of all) bytes += fs.writeSync(fd, castLine({ t: Math.max(0, e.t - base), code: e.code, data: e.code === 'o' ? o.gateText(e.data) : e.data }));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  commitFile(tmp, o.out);
  return { file: o.out, bytes, events: all.length, streams: streams.length };
}
