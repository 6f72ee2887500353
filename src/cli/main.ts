/**
 * The `traced` command. Each command is a row of data: the operation it
 * calls, how its arguments become the operation's input, and how a result is
 * shown to a person. `--json` prints the operation's result as is.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';
import { findOperation, operations } from '../api/index.js';
import type { SessionSummary, RecordedEvent } from '../model.js';
import type { QueueStatusOutput } from '../api/queue.js';
import type { Env } from '../daemon/config.js';
import { setup, startDaemon } from '../daemon/main.js';
import { ErrorCodes, TracedError, toTracedError, type ErrorCode } from '../errors.js';
import { doctor, renderDoctor } from '../doctor.js';
import { runSteps, servicePlan, serviceState, waitReady, writeDefinition } from '../service.js';
import { SPOOL_FILE, hookSnippet } from '../capture/terminal.js';
import { MODEL_CATALOG, listModels, pullModel } from '../index/models.js';
import { runMcp, runMcpHttp } from '../mcp/server.js';
import { VERSION } from '../version.js';
import { connectDaemon } from './connect.js';
import { bytes, dateTime, duration, eventLine, offset, table } from './format.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin: NodeJS.ReadableStream;
  env: Env;
  cwd: string;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
interface Args {
  values: Values;
  positionals: string[];
}

interface Command {
  name: string;
  usage: string;
  summary: string;
  options?: ParseArgsConfig['options'];
  /** Operation called over IPC. */
  op?: string;
  params?(a: Args, io: Io): unknown;
  render?(result: any, a: Args): string;
  /** Notification topics shown as progress on stderr while the operation runs. */
  progress?: string[];
  /** Commands that are not a single operation call. */
  run?(a: Args, io: Io): Promise<number>;
}

const list = (v: unknown): string[] | undefined => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : undefined);
const num = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new TracedError(ErrorCodes.CLI_USAGE, `--${name} needs a number`);
  return n;
};
const one = (a: Args, usage: string): string | undefined => {
  if (a.positionals.length > 1) throw new TracedError(ErrorCodes.CLI_USAGE, `too many arguments; usage: ${usage}`);
  return a.positionals[0];
};

interface IndexerView {
  ocr: { engine: string | null; reason: string; pending_segments: number; behind_ms: number };
  speech: { engine: string | null; reason: string; pending_segments: number; behind_ms: number };
}

function indexerLines(ix: IndexerView): string {
  const part = (what: string, p: IndexerView['ocr']) =>
    p.engine
      ? `  ${what.padEnd(12)} ${p.engine}${p.pending_segments ? `, ${p.pending_segments} segments (${duration(p.behind_ms)} of media) to go` : ', up to date'}`
      : `  ${what.padEnd(12)} off: ${p.reason}`;
  return ['Indexing:', part('screen text', ix.ocr), part('speech', ix.speech)].join('\n');
}

interface ReplayView {
  session_id: string;
  offset_ms: number;
  ts: number;
  current: RecordedEvent[];
  recent: RecordedEvent[];
  moments: { kind: string; start_offset_ms: number; end_offset_ms: number }[];
  annotations: { offset_ms: number; text: string }[];
  transcript: { offset_ms: number; text: string }[];
  speaking: boolean;
  screen_text: { offset_ms: number; text: string } | null;
  window: { title: string; app: string } | null;
  last_saved: { offset_ms: number; path: string } | null;
  git_head: { hash: string | null; subject: string | null; branch: string | null } | null;
}

function renderReplay(r: ReplayView): string {
  const lines = [`${r.session_id} at ${offset(r.offset_ms)} (${dateTime(r.ts)})${r.speaking ? ', someone is talking' : ''}`];
  if (r.window) lines.push(`  window     ${r.window.app} — ${r.window.title}`);
  if (r.last_saved) lines.push(`  last save  ${r.last_saved.path} at ${offset(r.last_saved.offset_ms)}`);
  if (r.git_head) lines.push(`  git HEAD   ${(r.git_head.hash ?? '').slice(0, 10)} ${r.git_head.subject ?? ''}${r.git_head.branch ? ` (${r.git_head.branch})` : ''}`);
  for (const m of r.moments) lines.push(`  moment     ${m.kind} ${offset(m.start_offset_ms)}–${offset(m.end_offset_ms)}`);
  for (const a of r.annotations) lines.push(`  bookmark   ${offset(a.offset_ms)} ${a.text}`);
  if (r.current.length) lines.push('Now:', ...r.current.map((e) => `  ${eventLine(e)}`));
  if (r.recent.length) lines.push('Just before:', ...r.recent.slice(-10).map((e) => `  ${eventLine(e)}`));
  if (r.transcript.length) lines.push('Said:', ...r.transcript.map((t) => `  ${offset(t.offset_ms)} ${t.text}`));
  if (r.screen_text) lines.push(`On screen (${offset(r.screen_text.offset_ms)}):`, ...r.screen_text.text.split('\n').slice(0, 15).map((l) => `  ${l}`));
  return lines.join('\n');
}

interface WhatHappenedView {
  sessions: { id: string; project: string; label: string | null; started_at: number; duration_ms: number; moments: { kind: string; start_offset_ms: number; duration_ms: number; what: string }[]; files_touched: { path: string; saves: number }[]; commits: { offset_ms: number; subject: string }[]; failed_commands: { offset_ms: number; command: string; exit_code: number | null }[]; errors_on_screen: { offset_ms: number; text: string }[]; said: { offset_ms: number; text: string }[]; annotations: { offset_ms: number; text: string }[] }[];
  truncated: boolean;
}

function renderWhatHappened(r: WhatHappenedView): string {
  if (!r.sessions.length) return 'Nothing recorded in that range.';
  const out: string[] = [];
  for (const s of r.sessions) {
    out.push(`${s.id}  ${dateTime(s.started_at)}, ${duration(s.duration_ms)}  ${s.project}${s.label ? ` "${s.label}"` : ''}`);
    for (const m of s.moments) out.push(`  ${offset(m.start_offset_ms)} ${m.kind.padEnd(8)} ${duration(m.duration_ms).padStart(6)}  ${m.what}`);
    if (s.commits.length) out.push('  commits:', ...s.commits.map((c) => `    ${offset(c.offset_ms)} ${c.subject}`));
    if (s.files_touched.length) out.push(`  files: ${s.files_touched.slice(0, 8).map((f) => `${f.path} (${f.saves})`).join(', ')}`);
    if (s.failed_commands.length) out.push('  failed commands:', ...s.failed_commands.slice(0, 8).map((c) => `    ${offset(c.offset_ms)} ${c.command} → ${c.exit_code}`));
    if (s.errors_on_screen.length) out.push('  errors on screen:', ...s.errors_on_screen.slice(0, 8).map((e) => `    ${offset(e.offset_ms)} ${e.text}`));
    if (s.said.length) out.push('  said:', ...s.said.slice(0, 8).map((t) => `    ${offset(t.offset_ms)} ${t.text}`));
    if (s.annotations.length) out.push('  bookmarks:', ...s.annotations.map((a) => `    ${offset(a.offset_ms)} ${a.text}`));
  }
  if (r.truncated) out.push('(shortened to fit; ask for one session for more)');
  return out.join('\n');
}

function renderQueue(q: QueueStatusOutput): string {
  if (!q.enabled) return 'Uploads are off: no VideoDB key (set videodb.apiKey in config.json or VIDEO_DB_API_KEY). Everything stays on this machine.';
  const c = q.counts as Record<string, number>;
  const lines = [`Uploads to ${q.targets.join(', ')}: ${c.done ?? 0} done, ${c.pending ?? 0} pending, ${c.in_flight ?? 0} in flight, ${c.failed ?? 0} failed`];
  if (q.paused) lines.push(`PAUSED ${q.paused.code}: ${q.paused.reason}`);
  else if (q.next_attempt_at && (c.pending ?? 0) > 0) lines.push(`next attempt ${dateTime(q.next_attempt_at)}`);
  for (const f of q.failed) lines.push(`  failed ${f.session_id} ${f.channel_id} #${f.segment_seq} after ${f.attempts} attempts: ${f.last_error ?? ''}`);
  if (q.failed.length) lines.push('Retry with: traced queue retry [SESSION]');
  return lines.join('\n');
}

function channelLine(s: SessionSummary): string {
  const now = Date.now();
  return s.channels
    .map((c) => {
      const age = c.lastSegmentAt !== undefined && s.ended_at === null ? ` (last segment ${duration(Math.max(0, now - c.lastSegmentAt))} ago)` : '';
      return `  ${c.id.padEnd(22)} ${c.state.padEnd(12)} ${c.store ? '' : '(not stored) '}${c.detail ?? ''}${age}`.trimEnd();
    })
    .join('\n');
}

function sessionBlock(s: SessionSummary): string {
  const lines = [
    `Session ${s.id}${s.label ? ` "${s.label}"` : ''}`,
    `  project   ${s.project}`,
    `  state     ${s.state} (${s.profile})`,
    `  started   ${dateTime(s.started_at)}${s.ended_at ? `, ended ${dateTime(s.ended_at)}` : ''}, ${duration(s.duration_ms)}`,
    `  events    ${s.event_count}`,
    'Channels:',
    channelLine(s),
  ];
  if (s.warnings.length) lines.push('Warnings:', ...s.warnings.map((w) => `  ${w}`));
  if (s.error) lines.push(`Error: ${s.error.code}: ${s.error.message}`);
  return lines.join('\n');
}

const sessionRefOption = { session: { type: 'string' } } as const;
const refParams = (a: Args) => {
  const ref = a.positionals[0] ?? (a.values.session as string | undefined);
  return ref === undefined ? {} : { session: ref };
};

export const commands: Command[] = [
  {
    name: 'start',
    usage: 'traced start [--project DIR] [--label TEXT] [--profile full|audio|events] [--channel ID[=nostore]]...',
    summary: 'start recording a session on a project (default: the current directory)',
    options: { project: { type: 'string', short: 'p' }, label: { type: 'string', short: 'l' }, profile: { type: 'string' }, channel: { type: 'string', multiple: true } },
    op: 'start_session',
    params: (a, io) => {
      const channels = list(a.values.channel)?.map((c) => {
        const [id, flag] = c.split('=');
        return { id, store: flag !== 'nostore' };
      });
      return { project: (a.values.project as string | undefined) ?? io.cwd, label: a.values.label, profile: a.values.profile, channels };
    },
    render: (r: { session: SessionSummary; warnings: string[] }) => `Recording ${r.session.id} on ${r.session.project}\n${channelLine(r.session)}${r.warnings.length ? `\nWarnings:\n${r.warnings.map((w) => `  ${w}`).join('\n')}` : ''}`,
  },
  {
    name: 'stop',
    usage: 'traced stop [SESSION]',
    summary: 'stop the active session',
    options: sessionRefOption,
    op: 'stop_session',
    params: refParams,
    progress: ['upload.progress'],
    render: (s: SessionSummary) =>
      `Stopped ${s.id} after ${duration(s.duration_ms)}: ${s.event_count} events` +
      (s.uploads
        ? s.uploads.pending + s.uploads.in_flight === 0
          ? `; ${s.uploads.done} uploads done${s.uploads.failed ? `, ${s.uploads.failed} failed (traced queue)` : ''}`
          : `; ${s.uploads.done} of ${s.uploads.done + s.uploads.pending + s.uploads.in_flight + s.uploads.failed} uploaded, the rest continue in the background (traced queue)`
        : ''),
  },
  {
    name: 'pause',
    usage: 'traced pause',
    summary: 'pause recording (nothing is recorded until resume)',
    options: sessionRefOption,
    op: 'pause_session',
    params: refParams,
    render: (s: SessionSummary) => `Paused ${s.id}`,
  },
  {
    name: 'resume',
    usage: 'traced resume',
    summary: 'resume a paused session',
    options: sessionRefOption,
    op: 'resume_session',
    params: refParams,
    render: (s: SessionSummary) => `Recording ${s.id} again`,
  },
  {
    name: 'status',
    usage: 'traced status',
    summary: 'is traced recording? daemon and channel health',
    op: 'status',
    params: () => ({}),
    render: (r: { indexer?: IndexerView; daemon: { pid: number; version: string; uptime_ms: number; home: string; storage?: { free_bytes: number | null; problem: { code: string; message: string } | null } }; session: SessionSummary | null }) =>
      `traced ${r.daemon.version}, daemon pid ${r.daemon.pid}, up ${duration(r.daemon.uptime_ms)}, data in ${r.daemon.home}` +
      (r.daemon.storage?.free_bytes != null ? ` (${bytes(r.daemon.storage.free_bytes)} free)` : '') +
      '\n' +
      (r.daemon.storage?.problem ? `STORAGE PROBLEM ${r.daemon.storage.problem.code}: ${r.daemon.storage.problem.message}\n` : '') +
      (r.session ? sessionBlock(r.session) : 'No session is recording. Start one with: traced start') +
      (r.indexer ? `\n${indexerLines(r.indexer)}` : ''),
  },
  {
    name: 'sessions',
    usage: 'traced sessions [--limit N] [--since TIME] [--until TIME] [--project DIR]',
    summary: 'list recorded sessions, newest first',
    options: { limit: { type: 'string', short: 'n' }, since: { type: 'string' }, until: { type: 'string' }, project: { type: 'string' } },
    op: 'list_sessions',
    params: (a) => ({ limit: num(a.values.limit, 'limit'), since: a.values.since, until: a.values.until, project: a.values.project }),
    render: (r: { sessions: SessionSummary[] }) =>
      r.sessions.length === 0
        ? 'No sessions yet. Start one with: traced start'
        : table(
            ['ID', 'STARTED', 'DURATION', 'STATE', 'EVENTS', 'PROJECT'],
            r.sessions.map((s) => [s.id, dateTime(s.started_at), duration(s.duration_ms), s.state, String(s.event_count), `${s.project}${s.label ? ` "${s.label}"` : ''}`]),
          ),
  },
  {
    name: 'show',
    usage: 'traced show SESSION [--limit N]   (SESSION: an id, a unique prefix, or "last")',
    summary: 'a session: summary, event counts and its events',
    options: { limit: { type: 'string', short: 'n' } },
    op: 'get_session',
    params: (a) => {
      const ref = one(a, 'traced show SESSION');
      if (!ref) throw new TracedError(ErrorCodes.CLI_USAGE, 'which session? usage: traced show SESSION (or "last")');
      return { session: ref, events_limit: num(a.values.limit, 'limit') };
    },
    render: (r: { session: SessionSummary; counts: Record<string, number>; events: RecordedEvent[]; truncated: boolean }) =>
      [
        sessionBlock(r.session),
        'Events by type:',
        ...Object.entries(r.counts).map(([t, n]) => `  ${t.padEnd(24)} ${n}`),
        'Events:',
        ...r.events.map((e) => `  ${eventLine(e)}`),
        ...(r.truncated ? [`  … more: traced timeline ${r.session.id} --after ${r.events[r.events.length - 1]?.seq ?? 0}`] : []),
      ].join('\n'),
  },
  {
    name: 'timeline',
    usage: 'traced timeline SESSION [--from MS] [--to MS] [--type T]... [--channel C]... [--after SEQ] [--limit N]',
    summary: 'events of a session in a range, filtered by type or channel',
    options: { from: { type: 'string' }, to: { type: 'string' }, type: { type: 'string', multiple: true }, channel: { type: 'string', multiple: true }, after: { type: 'string' }, limit: { type: 'string', short: 'n' } },
    op: 'get_timeline',
    params: (a) => {
      const ref = one(a, 'traced timeline SESSION');
      if (!ref) throw new TracedError(ErrorCodes.CLI_USAGE, 'which session? usage: traced timeline SESSION');
      return { session: ref, from_ms: num(a.values.from, 'from'), to_ms: num(a.values.to, 'to'), types: list(a.values.type), channels: list(a.values.channel), after_seq: num(a.values.after, 'after'), limit: num(a.values.limit, 'limit') };
    },
    render: (r: { events: RecordedEvent[]; next_after_seq: number | null }) =>
      [...r.events.map(eventLine), ...(r.next_after_seq !== null ? [`… more with --after ${r.next_after_seq}`] : [])].join('\n') || 'No events in that range.',
  },
  {
    name: 'search',
    usage: 'traced search QUERY... [--session S] [--since TIME] [--until TIME] [--type T]... [--channel C]... [--limit N]',
    summary: 'search everything recorded',
    options: { session: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, type: { type: 'string', multiple: true }, channel: { type: 'string', multiple: true }, limit: { type: 'string', short: 'n' } },
    op: 'search',
    params: (a) => {
      const query = a.positionals.join(' ').trim();
      if (!query) throw new TracedError(ErrorCodes.CLI_USAGE, 'what to search for? usage: traced search QUERY');
      return { query, session: a.values.session, since: a.values.since, until: a.values.until, types: list(a.values.type), channels: list(a.values.channel), limit: num(a.values.limit, 'limit') };
    },
    render: (r: { query: string; warnings?: string[]; hits: { session_id: string; ts: number; offset_ms: number; end_offset_ms?: number; type: string; snippet: string; source: string; merged?: number }[] }) =>
      [
        ...(r.hits.length === 0
          ? [`No results for "${r.query}".`]
          : r.hits.map((h) => {
              const span = h.end_offset_ms !== undefined && h.end_offset_ms - h.offset_ms >= 1000 ? `${offset(h.offset_ms)}–${offset(h.end_offset_ms)}` : offset(h.offset_ms);
              const extra = [h.source !== 'local' ? h.source : '', h.merged ? `${h.merged} hits` : ''].filter(Boolean).join(', ');
              return `${h.session_id}  ${dateTime(h.ts)}  ${span}  ${h.type}${extra ? ` (${extra})` : ''}\n    ${h.snippet.replace(/\s+/g, ' ')}\n    replay: traced timeline ${h.session_id} --from ${Math.max(0, h.offset_ms - 5000)} --to ${(h.end_offset_ms ?? h.offset_ms) + 5000}`;
            })),
        ...(r.warnings ?? []).map((w) => `warning: ${w}`),
      ].join('\n'),
  },
  {
    name: 'transcript',
    usage: 'traced transcript SESSION [--from MS] [--to MS]',
    summary: 'what was said in a session, with times',
    options: { from: { type: 'string' }, to: { type: 'string' } },
    op: 'get_transcript',
    params: (a) => {
      const ref = one(a, 'traced transcript SESSION');
      if (!ref) throw new TracedError(ErrorCodes.CLI_USAGE, 'which session? usage: traced transcript SESSION (or "last")');
      return { session: ref, from_ms: num(a.values.from, 'from'), to_ms: num(a.values.to, 'to') };
    },
    render: (r: { segments: { offset_ms: number; end_offset_ms: number; channel: string; text: string; confidence: number | null }[]; engine: string | null }) =>
      r.segments.length
        ? r.segments.map((g) => `${offset(g.offset_ms)}–${offset(g.end_offset_ms)}  ${g.channel.padEnd(14)} ${g.text}`).join('\n')
        : `No transcript yet${r.engine ? ` (engine: ${r.engine}; see traced status for how far behind indexing is)` : ': no speech engine (traced doctor says why)'}.`,
  },
  {
    name: 'devices',
    usage: 'traced devices',
    summary: 'displays and audio sources that can be recorded',
    op: 'list_devices',
    params: () => ({}),
    render: (r: { displays: { id: string; width: number; height: number; x: number; y: number; name: string }[]; audio: { id: string; kind: string; description: string; default: boolean }[]; problems: string[] }) =>
      [
        'Displays:',
        ...(r.displays.length ? r.displays.map((d) => `  ${d.id.padEnd(28)} ${d.width}x${d.height}+${d.x}+${d.y}  ${d.name}`) : ['  none']),
        'Audio sources:',
        ...(r.audio.length ? r.audio.map((a) => `  ${a.id.padEnd(28)} ${a.kind.padEnd(8)} ${a.default ? '(default) ' : ''}${a.description}`) : ['  none']),
        ...(r.problems.length ? ['Problems:', ...r.problems.map((p) => `  ${p}`)] : []),
      ].join('\n'),
  },
  {
    name: 'export',
    usage: 'traced export SESSION [--target mp4|videodb] [--display display:N] [--from MS] [--to MS]',
    summary: 'the session as an MP4 (screen + mixed audio), or its VideoDB video and stream URL',
    options: { target: { type: 'string' }, display: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    op: 'export_session',
    progress: ['export.progress'],
    params: (a) => {
      const ref = one(a, 'traced export SESSION');
      if (!ref) throw new TracedError(ErrorCodes.CLI_USAGE, 'which session? usage: traced export SESSION (or "last")');
      return { session: ref, target: a.values.target, display: a.values.display, from_ms: num(a.values.from, 'from'), to_ms: num(a.values.to, 'to') };
    },
    render: (r: { target: string; export_status: string; file?: string; bytes?: number; duration_ms?: number; video_id?: string | null; stream_url?: string | null; player_url?: string | null; error?: string | null }) =>
      r.target === 'mp4'
        ? `Wrote ${r.file} (${duration(r.duration_ms ?? 0)}, ${bytes(r.bytes)})`
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
      if (!ref || a.values.from === undefined || a.values.to === undefined) throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced clip SESSION --from MS --to MS');
      return { session: ref, from_ms: num(a.values.from, 'from'), to_ms: num(a.values.to, 'to') };
    },
    render: (r: { source: string; stream_url?: string; file?: string }) => (r.source === 'videodb' ? `${r.stream_url}` : `${r.file}`),
  },
  {
    name: 'hook',
    usage: 'traced hook bash|zsh|fish   (then: eval "$(traced hook bash)" in ~/.bashrc)',
    summary: 'a shell snippet that reports each command (cwd, exit code, duration) to traced, with no process per command',
    run: async (a, io) => {
      const shell = one(a, 'traced hook bash|zsh|fish');
      if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced hook bash|zsh|fish');
      const { paths } = setup(io.env);
      const dir = path.join(paths.home, 'spool');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      io.stdout.write(hookSnippet(shell, path.join(dir, SPOOL_FILE)));
      return 0;
    },
  },
  {
    name: 'replay',
    usage: 'traced replay SESSION --at TIME|MS [--frame FILE.png]',
    summary: 'the state of a session at a moment (and the screen, with --frame)',
    options: { at: { type: 'string' }, frame: { type: 'string' } },
    run: async (a, io) => {
      const ref = one(a, 'traced replay SESSION --at TIME');
      if (!ref || a.values.at === undefined) throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced replay SESSION --at 14:32 (or an offset in ms) [--frame out.png]');
      const at = /^\d+$/.test(String(a.values.at)) ? Number(a.values.at) : String(a.values.at);
      const r = (await callDaemon(io, 'replay_at', { session: ref, at })) as ReplayView;
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
    render: (r: WhatHappenedView) => renderWhatHappened(r),
  },
  {
    name: 'annotate',
    usage: 'traced annotate SESSION --at TIME|MS TEXT...',
    summary: 'bookmark a moment of a session',
    options: { at: { type: 'string' } },
    op: 'annotate',
    params: (a) => {
      const [ref, ...words] = a.positionals;
      if (!ref || a.values.at === undefined || !words.length) throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced annotate SESSION --at 14:32 the cache bug starts here');
      return { session: ref, at: /^\d+$/.test(String(a.values.at)) ? Number(a.values.at) : String(a.values.at), text: words.join(' ') };
    },
    render: (r: { id: number; session_id: string; offset_ms: number }) => `Bookmark ${r.id} at ${offset(r.offset_ms)} in ${r.session_id}`,
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
  {
    name: 'queue',
    usage: 'traced queue [status|retry [SESSION]|pause|resume]',
    summary: 'the upload queue: what is pending, done and failed; retry failed uploads; pause or resume uploads',
    run: async (a, io) => {
      const [sub = 'status', ref, ...extra] = a.positionals;
      if (extra.length) throw new TracedError(ErrorCodes.CLI_USAGE, 'too many arguments; usage: traced queue [status|retry [SESSION]|pause|resume]');
      const op = { status: 'queue_status', retry: 'queue_retry', pause: 'queue_pause', resume: 'queue_resume' }[sub];
      if (!op) throw new TracedError(ErrorCodes.CLI_USAGE, `unknown queue command "${sub}"; usage: traced queue [status|retry [SESSION]|pause|resume]`);
      const result = (await callDaemon(io, op, sub === 'retry' && ref ? { session: ref } : {})) as QueueStatusOutput | { requeued: number };
      if (a.values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else io.stdout.write(`${'requeued' in result ? `Requeued ${result.requeued} failed upload${result.requeued === 1 ? '' : 's'}.` : renderQueue(result)}\n`);
      return 0;
    },
  },
  {
    name: 'models',
    usage: 'traced models [list|pull NAME]',
    summary: 'speech models for local transcripts: what is installed; download one (verified against its published SHA-1)',
    run: async (a, io) => {
      const [sub = 'list', name, ...extra] = a.positionals;
      if (extra.length || (sub === 'pull' && !name) || !['list', 'pull'].includes(sub)) {
        throw new TracedError(ErrorCodes.CLI_USAGE, `usage: traced models [list|pull NAME]; names: ${MODEL_CATALOG.map((m) => m.name).join(', ')}`);
      }
      const { paths } = setup(io.env);
      const dir = path.join(paths.home, 'models');
      if (sub === 'list') {
        const installed = listModels(dir);
        if (a.values.json) io.stdout.write(`${JSON.stringify({ dir, installed, available: MODEL_CATALOG }, null, 2)}\n`);
        else {
          io.stdout.write(
            `${[
              `Models in ${dir}:`,
              ...(installed.length ? installed.map((m) => `  ${m.name.padEnd(10)} ${bytes(m.bytes)}  ${m.file}`) : ['  none: transcripts use pocketsphinx (weak). Install one: traced models pull base.en']),
              'Available:',
              ...MODEL_CATALOG.map((m) => `  ${m.name.padEnd(10)} ${String(m.mb).padStart(4)} MB  sha1 ${m.sha1}`),
            ].join('\n')}\n`,
          );
        }
        return 0;
      }
      const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
      let lastPct = -1;
      const m = await pullModel({
        name: name as string, dir, baseUrl: io.env.TRACED_MODELS_URL,
        onProgress: (got, total) => {
          const pct = total ? Math.floor((100 * got) / total) : -1;
          if (pct === lastPct || pct < 0) return;
          lastPct = pct;
          if (tty) io.stderr.write(`\rdownloading ${name} ${pct}%`);
          else if (pct % 25 === 0) io.stderr.write(`downloading ${name} ${pct}%\n`);
        },
      });
      if (tty) io.stderr.write('\n');
      io.stdout.write(a.values.json ? `${JSON.stringify(m, null, 2)}\n` : `Installed ${m.name} (${bytes(m.bytes)}, SHA-1 verified) at ${m.file}. The daemon uses it after a restart (traced stop; it starts again on the next command).\n`);
      return 0;
    },
  },
  {
    name: 'prune',
    usage: 'traced prune [--dry-run]',
    summary: 'delete the media the retention policy allows (config retention.*); --dry-run only lists it',
    options: { 'dry-run': { type: 'boolean' } },
    op: 'prune',
    params: (a) => ({ dry_run: a.values['dry-run'] === true }),
    render: (r: { dry_run: boolean; policy: Record<string, number>; items: { session_id: string; channel_id: string; seq: number; bytes: number; uploaded: boolean; reason: string }[]; total_bytes: number; after_bytes: number; freed_bytes: number; kept_unuploaded_bytes: number }) =>
      [
        Object.keys(r.policy).length ? `Policy: ${Object.entries(r.policy).map(([k, v]) => `${k} ${v}`).join(', ')}` : 'No retention policy (set retention.maxDiskGb / maxAgeDays / hardCapGb in config.json): nothing is deleted.',
        ...r.items.map((i) => `  ${r.dry_run ? 'would delete' : 'deleted'} ${i.session_id} ${i.channel_id} #${i.seq} ${bytes(i.bytes)} (${i.reason}${i.uploaded ? '' : ', NOT UPLOADED'})`),
        `Media ${bytes(r.total_bytes)} → ${bytes(r.after_bytes)}${r.dry_run ? ' (dry run: nothing deleted)' : `, freed ${bytes(r.freed_bytes)}`}${r.kept_unuploaded_bytes ? `; ${bytes(r.kept_unuploaded_bytes)} over budget kept because it is not uploaded yet` : ''}`,
      ].join('\n'),
  },
  {
    name: 'service',
    usage: 'traced service install|uninstall|status|start|stop|logs [--dry-run] [--lines N]',
    summary: 'run traced at login under launchd, systemd (user) or the Windows logon task',
    options: { 'dry-run': { type: 'boolean' }, lines: { type: 'string', short: 'n' } },
    run: async (a, io) => {
      const sub = one(a, 'traced service install|uninstall|status|start|stop|logs');
      const plan = servicePlan(io.env);
      const dry = a.values['dry-run'] === true;
      const show = (steps: string[][]) => steps.map((s) => `  ${s.join(' ')}`).join('\n');
      const report = (rows: { cmd: string; code: number | null; out: string }[]) => {
        for (const r of rows) io.stdout.write(`${r.code === 0 ? 'ok  ' : 'FAIL'} ${r.cmd}${r.code === 0 ? '' : `: ${r.out}`}\n`);
        return rows.every((r) => r.code === 0);
      };
      switch (sub) {
        case 'install': {
          if (dry) {
            io.stdout.write(`Would write ${plan.file} (${plan.manager}):\n${plan.content}\nThen run:\n${show(plan.install)}\n`);
            return 0;
          }
          writeDefinition(plan);
          io.stdout.write(`Wrote ${plan.file}\n`);
          if (!report(await runSteps(plan.install, io.env))) return 1;
          const ready = await waitReady(io.env, 15_000);
          io.stdout.write(ready ? 'traced is running and answers; it starts at every login.\n' : 'Installed, but the daemon does not answer yet: traced service logs\n');
          return ready ? 0 : 1;
        }
        case 'uninstall': {
          if (dry) {
            io.stdout.write(`Would run:\n${show(plan.uninstall)}\nand remove ${plan.file}\n`);
            return 0;
          }
          report(await runSteps(plan.uninstall, io.env));
          fs.rmSync(plan.file, { force: true });
          io.stdout.write(`Removed ${plan.file}; recorded data stays in place.\n`);
          return 0;
        }
        case 'start':
        case 'stop': {
          const steps = sub === 'start' ? plan.start : plan.stop;
          if (dry) {
            io.stdout.write(`Would run:\n${show(steps)}\n`);
            return 0;
          }
          if (!report(await runSteps(steps, io.env))) return 1;
          if (sub === 'start') {
            const ready = await waitReady(io.env, 15_000);
            io.stdout.write(ready ? 'traced answers.\n' : 'Started, but the daemon does not answer: traced service logs\n');
            return ready ? 0 : 1;
          }
          return 0;
        }
        case 'status': {
          const st = await serviceState(io.env);
          io.stdout.write(a.values.json ? `${JSON.stringify(st, null, 2)}\n` : `${st.manager}: ${st.installed ? `installed (${st.file})` : 'not installed'}; ${st.active}; daemon ${st.answering ? 'answers' : 'does not answer'}\n`);
          return 0;
        }
        case 'logs': {
          const { paths } = setup(io.env);
          const file = path.join(paths.logDir, 'current.log');
          const n = num(a.values.lines, 'lines') ?? 50;
          const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n) : [`no log yet at ${file}`];
          io.stdout.write(`${lines.join('\n')}\n`);
          return 0;
        }
        default:
          throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced service install|uninstall|status|start|stop|logs [--dry-run]');
      }
    },
  },
  {
    name: 'doctor',
    usage: 'traced doctor [--json]',
    summary: 'check ffmpeg, display, audio, devices, socket, disk and database; exit 1 with fixes when something is wrong',
    run: async (a, io) => {
      const report = await doctor(io.env);
      io.stdout.write(a.values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDoctor(report)}\n`);
      return report.ok ? 0 : 1;
    },
  },
  {
    name: 'call',
    usage: "traced call OPERATION ['{\"json\":\"params\"}']",
    summary: 'call any operation with JSON params (prints JSON)',
    run: async (a, io) => {
      const [name, json] = a.positionals;
      if (!name || !findOperation(name)) {
        throw new TracedError(ErrorCodes.CLI_USAGE, `usage: traced call OPERATION [JSON]; operations: ${operations.map((o) => o.name).join(', ')}`);
      }
      let params: unknown = {};
      if (json) {
        try {
          params = JSON.parse(json);
        } catch {
          throw new TracedError(ErrorCodes.CLI_USAGE, 'the params are not valid JSON');
        }
      }
      const result = await callDaemon(io, name, params);
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    },
  },
  {
    name: 'daemon',
    usage: 'traced daemon',
    summary: 'run the daemon in the foreground (what service managers run)',
    run: async (_a, io) => {
      const handle = await startDaemon({
        env: io.env,
        cwd: io.cwd,
        onReady: (paths) => io.stderr.write(`traced daemon ${VERSION} ready on ${paths.socket} (pid ${process.pid}); logs in ${paths.logDir}\n`),
      });
      await handle.done;
      return 0;
    },
  },
  {
    name: 'mcp',
    usage: 'traced mcp [--http [--port N]]',
    summary: 'MCP server for AI assistants: stdio, or Streamable HTTP on 127.0.0.1 behind a bearer token with --http',
    options: { http: { type: 'boolean' }, port: { type: 'string' } },
    run: async (a, io) => {
      if (!a.values.http) {
        await runMcp({ env: io.env, cwd: io.cwd, stdin: io.stdin, stdout: io.stdout });
        return 0;
      }
      // The token: TRACED_MCP_TOKEN, else one made now and kept in a file only this user can read.
      let token = io.env.TRACED_MCP_TOKEN;
      const { paths } = setup(io.env);
      const tokenFile = path.join(paths.home, 'run', 'mcp-http.token');
      if (!token) {
        fs.mkdirSync(path.dirname(tokenFile), { recursive: true, mode: 0o700 });
        token = fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : crypto.randomBytes(24).toString('base64url');
        fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      }
      await runMcpHttp({
        env: io.env, cwd: io.cwd, port: num(a.values.port, 'port') ?? 7311, token,
        onListening: (url) => io.stderr.write(`traced mcp listening on ${url} (Authorization: Bearer <token>${io.env.TRACED_MCP_TOKEN ? ' from TRACED_MCP_TOKEN' : `, the token is in ${tokenFile}`})\n`),
      });
      return 0;
    },
  },
];

/** Exit codes: 0 ok, 1 failure, 2 usage, 3 daemon unreachable/running, 4 not found, 5 wrong session state. */
export function exitCode(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.CLI_USAGE:
    case ErrorCodes.INVALID_PARAMS:
    case ErrorCodes.SEARCH_QUERY:
      return 2;
    case ErrorCodes.DAEMON_UNREACHABLE:
    case ErrorCodes.DAEMON_RUNNING:
    case ErrorCodes.DAEMON_STOPPING:
      return 3;
    case ErrorCodes.SESSION_NOT_FOUND:
    case ErrorCodes.PROJECT_NOT_FOUND:
      return 4;
    case ErrorCodes.SESSION_ACTIVE:
    case ErrorCodes.SESSION_NOT_ACTIVE:
    case ErrorCodes.SESSION_STATE:
      return 5;
    default:
      return 1;
  }
}

async function callDaemon(io: Io, method: string, params: unknown, onProgress?: (topic: string, data: unknown) => void, topics?: string[]): Promise<unknown> {
  const { paths } = setup(io.env);
  const client = await connectDaemon(paths, { env: io.env });
  try {
    if (onProgress && topics?.length) await client.subscribe(topics, onProgress);
    return await client.call(method, params, { cwd: io.cwd });
  } finally {
    client.close();
  }
}

/** Upload progress on stderr: a bar redrawn in place on a terminal, a line per change otherwise. */
function progressPrinter(io: Io): (topic: string, data: unknown) => void {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  return (_topic, data) => {
    const e = data as { percent?: number };
    if (typeof e?.percent === 'number') {
      const line = `exporting ${String(e.percent).padStart(3)}%`;
      io.stderr.write(tty ? `\r${line}${e.percent >= 100 ? '\n' : ''}` : e.percent % 25 === 0 ? `${line}\n` : '');
      return;
    }
    const p = data as { done: number; failed: number; total: number; finished: boolean; timed_out: boolean; paused: string | null };
    if (!p || typeof p.total !== 'number' || p.total === 0) return;
    const width = 24;
    const filled = Math.round((width * (p.done + p.failed)) / p.total);
    const line = `uploading [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''}${p.paused ? ` paused: ${p.paused}` : ''}`;
    io.stderr.write(tty ? `\r${line}${p.finished || p.timed_out || p.paused ? '\n' : ''}` : `${line}\n`);
  };
}

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `traced ${VERSION}: records your work session and answers "what happened?"`,
    '',
    'Usage: traced COMMAND [options] [--json]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json for machine-readable output. `traced COMMAND --help` shows its options.',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. Never calls process.exit. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(`${help()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  const json = rest.includes('--json');
  try {
    if (!cmd) throw new TracedError(ErrorCodes.CLI_USAGE, `unknown command "${name}"; run traced help`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`usage: ${cmd.usage}\n${cmd.summary}\n`);
      return 0;
    }
    let parsed: Args;
    try {
      const p = parseArgs({ args: rest, options: { ...(cmd.options ?? {}), json: { type: 'boolean' } }, allowPositionals: true, strict: true });
      parsed = { values: p.values as Values, positionals: p.positionals };
    } catch (err) {
      throw new TracedError(ErrorCodes.CLI_USAGE, `${(err as Error).message}; usage: ${cmd.usage}`);
    }
    if (cmd.run) return await cmd.run(parsed, io);
    const params = cmd.params ? cmd.params(parsed, io) : {};
    const result = await callDaemon(io, cmd.op as string, params, cmd.progress && !json ? progressPrinter(io) : undefined, cmd.progress);
    io.stdout.write(json || !cmd.render ? `${JSON.stringify(result, null, 2)}\n` : `${cmd.render(result, parsed)}\n`);
    return 0;
  } catch (err) {
    const e = toTracedError(err);
    if (json) io.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
    io.stderr.write(`traced: ${e.code}: ${e.message}\n`);
    return exitCode(e.code);
  }
}

