/** Commands that replay and move sessions: replay, what-happened, annotate, export, clip, import. */
import path from 'node:path';
import type { ExportSessionOutput, ReplayAtOutput, WhatHappenedOutput } from '../../model.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import { type Args, callDaemon, type Command, type Io, progressPrinter } from '../command.js';
import { bytes, duration, offset } from '../format.js';
import { checkOutput, inFolder, moveOutput, type Output, pipeOutput, writeOutput } from '../output-file.js';
import { renderReplay, renderWhatHappened, safeData } from '../render.js';
import { offsetRange } from '../time.js';

const EXPORT_TARGETS = ['mp4', 'videodb', 'json', 'jsonl', 'raw', 'asciicast'] as const;

const TEXT_TARGETS = new Set(['json', 'jsonl', 'asciicast']);

/** `-o`, checked before the export runs: see cli/output-file.ts. */
function exportOutput(a: Args, io: Io): Output | undefined {
  if (a.values.output === undefined) return undefined;
  const target = String(a.values.target);
  return checkOutput(String(a.values.output), io.cwd, {
    flag: '-o',
    folder: target === 'raw',
    force: a.values.force === true,
    stdout: TEXT_TARGETS.has(target) ? true : `a ${target} export is not text to print; standard output takes json, jsonl and asciicast`,
  });
}

/** `-o`: the export's file(s) moved there; for videodb, its video id and URLs written there as JSON. */
async function deliver(r: ExportSessionOutput, out: Output, io: Io): Promise<ExportSessionOutput> {
  if (out.kind === 'stdout') {
    if (!r.file) throw new TracedError(ErrorCodes.EXPORT_FAILED, `the ${r.target} export named no file to print`);
    await pipeOutput(r.file, io.stdout);
    return { ...r, file: '-' };
  }
  if (out.kind === 'folder') {
    const files = (r.files ?? []).map((f) => {
      const to = inFolder(out, f.file);
      moveOutput(f.file, to);
      return { ...f, file: to.path };
    });
    return { ...r, files };
  }
  if (r.target === 'videodb') {
    const { video_id, stream_url, player_url, export_status } = r;
    writeOutput(out, `${JSON.stringify({ session_id: r.session_id, export_status, video_id, stream_url, player_url }, null, 2)}\n`);
    return { ...r, file: out.path };
  }
  if (!r.file) throw new TracedError(ErrorCodes.EXPORT_FAILED, `the ${r.target} export named no file to move to ${out.shown}`);
  moveOutput(r.file, out);
  return { ...r, file: out.path };
}

/** What an export did, per target: where the file is and what is in it. */
export function renderExport(r: ExportSessionOutput): string {
  switch (r.target) {
    case 'mp4':
      return `Wrote ${r.file} (MP4, ${duration(r.duration_ms ?? 0)}, ${bytes(r.bytes)})`;
    case 'json':
    case 'jsonl':
      return `${r.file === '-' ? 'Printed' : `Wrote ${r.file}`} (${r.target.toUpperCase()} recording, ${r.events ?? 0} events, ${bytes(r.bytes)}); load it back with: traced import ${r.file}`;
    case 'raw': {
      const files = r.files ?? [];
      const dir = files[0] ? path.dirname(files[0].file) : '';
      return files.length
        ? `Wrote ${files.length} channel file${files.length === 1 ? '' : 's'} to ${dir}:\n${files.map((f) => `  ${f.channel.padEnd(22)} ${path.basename(f.file)} (${bytes(f.bytes)})`).join('\n')}`
        : 'No channel files to write: the session has no stored media.';
    }
    case 'asciicast':
      return `${r.file === '-' ? 'Printed' : `Wrote ${r.file}`} (asciicast v2 terminal recording, ${bytes(r.bytes)}); play it with: asciinema play ${r.file}`;
    default:
      return `VideoDB: ${r.export_status}${r.video_id ? ` ${r.video_id}` : ''}${r.stream_url ? `\n  stream ${r.stream_url}` : ''}${r.player_url ? `\n  player ${r.player_url}` : ''}${r.error ? `\n  ${r.error}` : ''}${r.file ? `\nWrote ${r.file}` : ''}`;
  }
}

export const replayCommands: Command[] = [
  {
    name: 'replay',
    summary: 'the state of a session at a moment (and the screen, with --frame)',
    args: [{ name: 'SESSION' }],
    options: {
      at: { type: 'string', time: 'at', required: true, help: 'the moment' },
      frame: { type: 'string', value: 'FILE.png', file: true, help: 'also write the screen at that moment to this PNG' },
      force: { type: 'boolean', help: 'replace the --frame file if it exists' },
    },
    examples: [
      'traced replay last --at 14:32',
      'traced replay last --at +12:05 --frame screen.png',
      'traced replay 20261121-145012-k3x9 --at 2026-11-21T14:58:00Z',
    ],
    run: async (a, io) => {
      const ref = a.positionals[0] as string;
      const at = String(a.values.at);
      const frameOut =
        a.values.frame === undefined
          ? undefined
          : (checkOutput(String(a.values.frame), io.cwd, { flag: '--frame', force: a.values.force === true, stdout: 'the frame is a PNG' }) as Output & {
              kind: 'file';
            });
      const r = (await callDaemon(io, 'replay_at', { session: ref, at })) as ReplayAtOutput;
      let frameNote = '';
      if (frameOut) {
        const f = (await callDaemon(io, 'get_frame', { session: ref, at })) as { png_base64: string; frame_offset_ms: number; width: number; height: number };
        writeOutput(frameOut, Buffer.from(f.png_base64, 'base64'));
        frameNote = `\nScreen: ${frameOut.path} (${f.width}x${f.height}, taken at ${offset(f.frame_offset_ms)})`;
      }
      io.stdout.write(a.values.json ? `${JSON.stringify(r, null, 2)}\n` : `${renderReplay(safeData(r))}${frameNote}\n`);
      return 0;
    },
  },
  {
    name: 'what-happened',
    summary: 'a digest: moments, files, commits, failed commands, errors on screen, what was said',
    args: [{ name: 'SESSION', optional: true }],
    options: {
      last: { type: 'string', time: 'last', value: 'DURATION', help: 'from that long ago until now (30m, 2h, 1d)' },
      since: { type: 'string', time: 'since', help: 'start of the range (default: 24 hours ago)' },
      until: { type: 'string', time: 'until', help: 'end of the range (default: now)' },
    },
    examples: ['traced what-happened --last 2h', 'traced what-happened last', 'traced what-happened --since 09:00 --until 12:00'],
    op: 'what_happened',
    params: (a) => ({ session: a.positionals[0], last: a.values.last, since: a.values.since, until: a.values.until }),
    render: (r: WhatHappenedOutput) => renderWhatHappened(r),
  },
  {
    name: 'annotate',
    summary: 'bookmark a moment of a session',
    args: [{ name: 'SESSION' }, { name: 'TEXT', rest: true }],
    options: { at: { type: 'string', time: 'at', required: true, help: 'the moment to mark' } },
    examples: ['traced annotate last --at 14:32 the cache bug starts here', 'traced annotate last --at +3:10 retry storm'],
    op: 'annotate',
    params: (a) => {
      const [ref, ...words] = a.positionals;
      if (!words.length)
        throw new TracedError(
          ErrorCodes.CLI_USAGE,
          'traced annotate needs TEXT after the session: traced annotate SESSION --at 14:32 the cache bug starts here',
        );
      return { session: ref, at: String(a.values.at), text: words.join(' ') };
    },
    render: (r: { id: number; session_id: string; offset_ms: number }) => `Bookmark ${r.id} at ${offset(r.offset_ms)} in ${r.session_id}`,
  },
  {
    name: 'export',
    summary: 'a session as an MP4 (screen + mixed audio), a JSON/JSONL recording, raw channel files, or its VideoDB video',
    args: [{ name: 'SESSION' }],
    options: {
      target: {
        type: 'string',
        choices: EXPORT_TARGETS,
        default: 'mp4',
        help: 'mp4, videodb, json / jsonl (a recording traced import loads), raw (one file per channel), asciicast (terminal output for asciinema)',
      },
      output: {
        type: 'string',
        short: 'o',
        value: 'FILE',
        file: true,
        help: 'where to put it (a folder for raw; - prints json, jsonl and asciicast); default: the exports folder in the data directory',
      },
      force: { type: 'boolean', help: 'replace an existing -o file' },
      display: { type: 'string', value: 'display:N', help: 'the display to use (mp4)' },
      from: { type: 'string', time: 'at', help: 'start (mp4)' },
      to: { type: 'string', time: 'at', help: 'end (mp4)' },
    },
    examples: [
      'traced export last -o session.mp4',
      'traced export last --target mp4 --from +5:00 --to +7:30 -o bug.mp4',
      'traced export last --target jsonl -o session.jsonl',
      'traced export last --target raw -o media/',
      'traced export last --target videodb',
    ],
    run: async (a, io) => {
      const ref = a.positionals[0] as string;
      const out = exportOutput(a, io);
      const range = await offsetRange(io, ref, a.values.from as string | undefined, a.values.to as string | undefined);
      const params = { session: ref, target: a.values.target, display: a.values.display, ...range };
      let r = (await callDaemon(io, 'export_session', params, a.values.json ? undefined : progressPrinter(io), ['export.progress'])) as ExportSessionOutput;
      if (out && r.export_status !== 'not_configured') r = await deliver(r, out, io);
      // With -o - the recording is standard output: the summary goes to stderr.
      const report = out?.kind === 'stdout' ? io.stderr : io.stdout;
      report.write(a.values.json ? `${JSON.stringify(r, null, 2)}\n` : `${renderExport(safeData(r))}\n`);
      return r.export_status === 'failed' || r.export_status === 'not_configured' ? 1 : 0;
    },
  },
  {
    name: 'clip',
    summary: 'a clip of a session: a VideoDB stream URL when exported there, else a local MP4',
    args: [{ name: 'SESSION' }],
    options: { from: { type: 'string', time: 'at', required: true, help: 'start' }, to: { type: 'string', time: 'at', required: true, help: 'end' } },
    examples: ['traced clip last --from +5:00 --to +5:30', 'traced clip last --from 14:32 --to 14:33'],
    op: 'get_clip',
    params: async (a, io) => ({
      session: a.positionals[0],
      ...(await offsetRange(io, a.positionals[0] as string, String(a.values.from), String(a.values.to))),
    }),
    render: (r: { source: string; stream_url?: string; file?: string }) => (r.source === 'videodb' ? `${r.stream_url}` : `${r.file}`),
  },
  {
    name: 'import',
    summary: 'load a JSON or JSONL session recording (from traced export --target json|jsonl)',
    args: [{ name: 'FILE' }],
    options: {
      'as-new': { type: 'boolean', help: 'import under a new session id (when the id is already here)' },
      media: { type: 'string', value: 'DIR', file: true, help: 'the folder holding the media the recording names' },
    },
    examples: ['traced import session.jsonl', 'traced import session.json --as-new --media media/'],
    op: 'import_recording',
    params: (a) => ({ file: a.positionals[0], as_new: a.values['as-new'] === true, media_dir: a.values.media }),
    render: (r: { session_id: string; events: number; media: number }) => `Imported ${r.session_id}: ${r.events} events, ${r.media} media segments`,
  },
];
