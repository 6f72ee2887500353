/** Commands that replay and move sessions: replay, what-happened, annotate, export, clip, import. */
import fs from 'node:fs';
import path from 'node:path';
import type { ReplayAtOutput, WhatHappenedOutput } from '../../model.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import { callDaemon, type Command, num, one } from '../command.js';
import { bytes, duration, offset } from '../format.js';
import { renderReplay, renderWhatHappened } from '../render.js';

export const replayCommands: Command[] = [
  {
    name: 'replay',
    usage: 'traced replay SESSION --at TIME|MS [--frame FILE.png]',
    summary: 'the state of a session at a moment (and the screen, with --frame)',
    options: { at: { type: 'string' }, frame: { type: 'string' } },
    run: async (a, io) => {
      const ref = one(a, 'traced replay SESSION --at TIME');
      if (!ref || a.values.at === undefined)
        throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced replay SESSION --at 14:32 (or an offset in ms) [--frame out.png]');
      const at = /^\d+$/.test(String(a.values.at)) ? Number(a.values.at) : String(a.values.at);
      const r = (await callDaemon(io, 'replay_at', { session: ref, at })) as ReplayAtOutput;
      let frameNote = '';
      if (a.values.frame) {
        const f = (await callDaemon(io, 'get_frame', { session: ref, at })) as { png_base64: string; frame_offset_ms: number; width: number; height: number };
        const file = path.resolve(io.cwd, String(a.values.frame));
        fs.writeFileSync(file, Buffer.from(f.png_base64, 'base64'));
        frameNote = `\nScreen: ${file} (${f.width}x${f.height}, taken at ${offset(f.frame_offset_ms)})`;
      }
      io.stdout.write(a.values.json ? `${JSON.stringify(r, null, 2)}\n` : `${renderReplay(r)}${frameNote}\n`);
      return 0;
    },
  },
  {
    name: 'what-happened',
    usage: 'traced what-happened [SESSION] [--last 2h] [--since TIME] [--until TIME]',
    summary: 'a digest: moments, files, commits, failed commands, errors on screen, what was said',
    options: { last: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } },
    op: 'what_happened',
    params: (a) => ({ session: one(a, 'traced what-happened [SESSION]'), last: a.values.last, since: a.values.since, until: a.values.until }),
    render: (r: WhatHappenedOutput) => renderWhatHappened(r),
  },
  {
    name: 'annotate',
    usage: 'traced annotate SESSION --at TIME|MS TEXT...',
    summary: 'bookmark a moment of a session',
    options: { at: { type: 'string' } },
    op: 'annotate',
    params: (a) => {
      const [ref, ...words] = a.positionals;
      if (!ref || a.values.at === undefined || !words.length)
        throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced annotate SESSION --at 14:32 the cache bug starts here');
      return { session: ref, at: /^\d+$/.test(String(a.values.at)) ? Number(a.values.at) : String(a.values.at), text: words.join(' ') };
    },
    render: (r: { id: number; session_id: string; offset_ms: number }) => `Bookmark ${r.id} at ${offset(r.offset_ms)} in ${r.session_id}`,
  },
  {
    name: 'export',
    usage: 'traced export SESSION [--target mp4|videodb|json|jsonl|raw|asciicast] [--display display:N] [--from MS] [--to MS]',
    summary: 'the session as an MP4 (screen + mixed audio), or its VideoDB video and stream URL',
    options: { target: { type: 'string' }, display: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    op: 'export_session',
    progress: ['export.progress'],
    params: (a) => {
      const ref = one(a, 'traced export SESSION');
      if (!ref) throw new TracedError(ErrorCodes.CLI_USAGE, 'which session? usage: traced export SESSION (or "last")');
      return { session: ref, target: a.values.target, display: a.values.display, from_ms: num(a.values.from, 'from'), to_ms: num(a.values.to, 'to') };
    },
    render: (r: {
      target: string;
      export_status: string;
      file?: string;
      bytes?: number;
      duration_ms?: number;
      video_id?: string | null;
      stream_url?: string | null;
      player_url?: string | null;
      error?: string | null;
    }) =>
      r.target === 'mp4'
        ? `Wrote ${r.file} (${duration(r.duration_ms ?? 0)}, ${bytes(r.bytes)})`
        : r.target !== 'videodb' && r.file
          ? `Wrote ${r.file} (${bytes(r.bytes)})`
          : `VideoDB: ${r.export_status}${r.video_id ? ` ${r.video_id}` : ''}${r.stream_url ? `\n  stream ${r.stream_url}` : ''}${r.player_url ? `\n  player ${r.player_url}` : ''}${r.error ? `\n  ${r.error}` : ''}`,
  },
  {
    name: 'clip',
    usage: 'traced clip SESSION --from MS --to MS',
    summary: 'a clip of a session: a VideoDB stream URL when exported there, else a local MP4',
    options: { from: { type: 'string' }, to: { type: 'string' } },
    op: 'get_clip',
    params: (a) => {
      const ref = one(a, 'traced clip SESSION --from MS --to MS');
      if (!ref || a.values.from === undefined || a.values.to === undefined)
        throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced clip SESSION --from MS --to MS');
      return { session: ref, from_ms: num(a.values.from, 'from'), to_ms: num(a.values.to, 'to') };
    },
    render: (r: { source: string; stream_url?: string; file?: string }) => (r.source === 'videodb' ? `${r.stream_url}` : `${r.file}`),
  },
  {
    name: 'import',
    usage: 'traced import FILE [--as-new] [--media DIR]',
    summary: 'load a JSON or JSONL session recording (from traced export --target json|jsonl)',
    options: { 'as-new': { type: 'boolean' }, media: { type: 'string' } },
    op: 'import_recording',
    params: (a) => {
      const file = one(a, 'traced import FILE');
      if (!file) throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced import FILE [--as-new] [--media DIR]');
      return { file, as_new: a.values['as-new'] === true, media_dir: a.values.media };
    },
    render: (r: { session_id: string; events: number; media: number }) => `Imported ${r.session_id}: ${r.events} events, ${r.media} media segments`,
  },
];
