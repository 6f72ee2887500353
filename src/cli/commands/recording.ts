/** Commands that record and read sessions: start, stop, pause, resume, status, sessions, show, timeline, search, transcript, devices. */
import type { IndexerStatus, RecordedEvent, SessionSummary } from '../../model.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import { type Command, list, num, refParams, sessionRefOption } from '../command.js';
import { bytes, dateTime, duration, eventLine, offset, table } from '../format.js';
import { channelLine, indexerLines, sessionBlock } from '../render.js';
import { painter, snippet } from '../style.js';
import { offsetRange } from '../time.js';

export const recordingCommands: Command[] = [
  {
    name: 'start',
    summary: 'start recording a session on a project (default: the current directory)',
    args: [],
    options: {
      project: { type: 'string', short: 'p', value: 'DIR', file: true, help: 'the project folder (default: the current directory)' },
      label: { type: 'string', short: 'l', value: 'TEXT', help: 'a name for the session' },
      profile: { type: 'string', choices: ['full', 'audio', 'events'], help: 'what to record (default: config session.defaultProfile)' },
      channel: { type: 'string', multiple: true, value: 'ID[=nostore]', help: 'only these channels; =nostore keeps a channel live but unstored' },
    },
    examples: ['traced start', 'traced start --label "cache bug" --profile full', 'traced start --channel files --channel git'],
    op: 'start_session',
    params: (a, io) => {
      const channels = list(a.values.channel)?.map((c) => {
        const [id, flag] = c.split('=');
        return { id, store: flag !== 'nostore' };
      });
      return { project: (a.values.project as string | undefined) ?? io.cwd, label: a.values.label, profile: a.values.profile, channels };
    },
    render: (r: { session: SessionSummary; warnings: string[] }, _a, io) =>
      `Recording ${r.session.id} on ${r.session.project}\n${channelLine(r.session, painter(io.stdout, io.env))}${r.warnings.length ? `\nWarnings:\n${r.warnings.map((w) => `  ${w}`).join('\n')}` : ''}`,
  },
  {
    name: 'stop',
    summary: 'stop the active session',
    args: [{ name: 'SESSION', optional: true }],
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
    summary: 'pause recording (nothing is recorded until resume)',
    args: [{ name: 'SESSION', optional: true }],
    options: sessionRefOption,
    op: 'pause_session',
    params: refParams,
    render: (s: SessionSummary) => `Paused ${s.id}`,
  },
  {
    name: 'resume',
    summary: 'resume a paused session',
    args: [{ name: 'SESSION', optional: true }],
    options: sessionRefOption,
    op: 'resume_session',
    params: refParams,
    render: (s: SessionSummary) => `Recording ${s.id} again`,
  },
  {
    name: 'status',
    summary: 'is traced recording? daemon and channel health',
    args: [],
    op: 'status',
    params: () => ({}),
    render: (
      r: {
        indexer?: IndexerStatus;
        daemon: {
          pid: number;
          version: string;
          uptime_ms: number;
          home: string;
          storage?: { free_bytes: number | null; problem: { code: string; message: string } | null };
        };
        session: SessionSummary | null;
      },
      _a,
      io,
    ) => {
      const paint = painter(io.stdout, io.env);
      return (
        `traced ${r.daemon.version}, daemon pid ${r.daemon.pid}, up ${duration(r.daemon.uptime_ms)}, data in ${r.daemon.home}` +
        (r.daemon.storage?.free_bytes != null ? ` (${bytes(r.daemon.storage.free_bytes)} free)` : '') +
        '\n' +
        (r.daemon.storage?.problem ? `${paint('red', 'STORAGE PROBLEM')} ${r.daemon.storage.problem.code}: ${r.daemon.storage.problem.message}\n` : '') +
        (r.session ? sessionBlock(r.session, paint) : 'No session is recording. Start one with: traced start') +
        (r.indexer ? `\n${indexerLines(r.indexer)}` : '')
      );
    },
  },
  {
    name: 'sessions',
    summary: 'list recorded sessions, newest first',
    args: [],
    options: {
      limit: { type: 'string', short: 'n', int: true, min: 1, max: 500, default: '20', help: 'at most this many' },
      since: { type: 'string', time: 'since', help: 'only sessions still running at or after this time' },
      until: { type: 'string', time: 'until', help: 'only sessions started at or before this time' },
      project: { type: 'string', value: 'DIR', file: true, help: 'only sessions of this project' },
    },
    examples: ['traced sessions --since 2h', 'traced sessions --since 09:00 --until 12:30', 'traced sessions --since 2026-11-29T14:00:00Z -n 5'],
    op: 'list_sessions',
    params: (a) => ({ limit: num(a.values.limit, 'limit'), since: a.values.since, until: a.values.until, project: a.values.project }),
    render: (r: { sessions: SessionSummary[] }) =>
      r.sessions.length === 0
        ? 'No sessions yet. Start one with: traced start'
        : table(
            ['ID', 'STARTED', 'DURATION', 'STATE', 'EVENTS', 'PROJECT'],
            r.sessions.map((s) => [
              s.id,
              dateTime(s.started_at),
              duration(s.duration_ms),
              s.state,
              String(s.event_count),
              `${s.project}${s.label ? ` "${s.label}"` : ''}`,
            ]),
          ),
  },
  {
    name: 'show',
    summary: 'a session: summary, event counts and its events (SESSION: an id, a unique prefix, or "last")',
    args: [{ name: 'SESSION' }],
    options: { limit: { type: 'string', short: 'n', int: true, min: 1, max: 5000, default: '50', help: 'how many of its first events' } },
    examples: ['traced show last', 'traced show 20261121-145012-k3x9 -n 200'],
    op: 'get_session',
    params: (a) => {
      return { session: a.positionals[0] as string, events_limit: num(a.values.limit, 'limit') };
    },
    render: (r: { session: SessionSummary; counts: Record<string, number>; events: RecordedEvent[]; truncated: boolean }, _a, io) =>
      [
        sessionBlock(r.session, painter(io.stdout, io.env)),
        'Events by type:',
        ...Object.entries(r.counts).map(([t, n]) => `  ${t.padEnd(24)} ${n}`),
        'Events:',
        ...r.events.map((e) => `  ${eventLine(e)}`),
        ...(r.truncated ? [`  … more: traced timeline ${r.session.id} --after ${r.events[r.events.length - 1]?.seq ?? 0}`] : []),
      ].join('\n'),
  },
  {
    name: 'timeline',
    summary: 'events of a session in a range, filtered by type or channel',
    args: [{ name: 'SESSION' }],
    options: {
      from: { type: 'string', time: 'at', help: 'start of the range' },
      to: { type: 'string', time: 'at', help: 'end of the range (inclusive)' },
      type: { type: 'string', multiple: true, value: 'TYPE', help: 'event types or prefixes (git.commit, file.)' },
      channel: { type: 'string', multiple: true, value: 'CHANNEL', help: 'only these channels' },
      after: { type: 'string', int: true, min: 0, value: 'SEQ', help: 'continue after this event (from a previous page)' },
      limit: { type: 'string', short: 'n', int: true, min: 1, max: 1000, help: 'at most this many events' },
    },
    examples: ['traced timeline last --from +5:00 --to +6:30', 'traced timeline last --from 14:32 --to 14:40 --type git.', 'traced timeline last --after 120'],
    op: 'get_timeline',
    params: async (a, io) => {
      const ref = a.positionals[0] as string;
      return {
        session: ref,
        ...(await offsetRange(io, ref, a.values.from as string | undefined, a.values.to as string | undefined)),
        types: list(a.values.type),
        channels: list(a.values.channel),
        after_seq: num(a.values.after, 'after'),
        limit: num(a.values.limit, 'limit'),
      };
    },
    render: (r: { events: RecordedEvent[]; next_after_seq: number | null }) =>
      [...r.events.map(eventLine), ...(r.next_after_seq !== null ? [`… more with --after ${r.next_after_seq}`] : [])].join('\n') || 'No events in that range.',
  },
  {
    name: 'search',
    summary: 'search everything recorded',
    args: [{ name: 'QUERY', rest: true }],
    options: {
      session: { type: 'string', value: 'SESSION', help: 'only this session' },
      since: { type: 'string', time: 'since', help: 'only hits at or after this time' },
      until: { type: 'string', time: 'until', help: 'only hits at or before this time' },
      type: { type: 'string', multiple: true, value: 'TYPE', help: 'event types or prefixes' },
      channel: { type: 'string', multiple: true, value: 'CHANNEL', help: 'only these channels' },
      limit: { type: 'string', short: 'n', int: true, min: 1, max: 200, default: '20', help: 'at most this many hits' },
    },
    examples: ['traced search invalidateCache', 'traced search "connection refused" --since 2h', 'traced search TypeError --session last --type screen.text'],
    op: 'search',
    params: (a) => {
      const query = a.positionals.join(' ').trim();
      if (!query) throw new TracedError(ErrorCodes.CLI_USAGE, 'what to search for? usage: traced search QUERY');
      return {
        query,
        session: a.values.session,
        since: a.values.since,
        until: a.values.until,
        types: list(a.values.type),
        channels: list(a.values.channel),
        limit: num(a.values.limit, 'limit'),
      };
    },
    render: (
      r: {
        query: string;
        warnings?: string[];
        hits: { session_id: string; ts: number; offset_ms: number; end_offset_ms?: number; type: string; snippet: string; source: string; merged?: number }[];
      },
      _a,
      io,
    ) => {
      const paint = painter(io.stdout, io.env);
      return [
        ...(r.hits.length === 0
          ? [`No results for "${r.query}".`]
          : r.hits.map((h) => {
              const span =
                h.end_offset_ms !== undefined && h.end_offset_ms - h.offset_ms >= 1000
                  ? `${offset(h.offset_ms)}–${offset(h.end_offset_ms)}`
                  : offset(h.offset_ms);
              const extra = [h.source !== 'local' ? h.source : '', h.merged ? `${h.merged} hits` : ''].filter(Boolean).join(', ');
              return `${h.session_id}  ${dateTime(h.ts)}  ${span}  ${h.type}${extra ? ` (${extra})` : ''}\n    ${snippet(h.snippet, paint)}\n    replay: traced timeline ${h.session_id} --from ${offset(Math.max(0, h.offset_ms - 5000)).replace(/\.\d+$/, '')} --to ${offset((h.end_offset_ms ?? h.offset_ms) + 5999).replace(/\.\d+$/, '')}`;
            })),
        ...(r.warnings ?? []).map((w) => `${paint('yellow', 'warning:')} ${w}`),
      ].join('\n');
    },
  },
  {
    name: 'transcript',
    summary: 'what was said in a session, with times',
    args: [{ name: 'SESSION' }],
    options: { from: { type: 'string', time: 'at', help: 'start of the range' }, to: { type: 'string', time: 'at', help: 'end of the range' } },
    examples: ['traced transcript last', 'traced transcript last --from +10:00 --to +15:00'],
    op: 'get_transcript',
    params: async (a, io) => {
      const ref = a.positionals[0] as string;
      return { session: ref, ...(await offsetRange(io, ref, a.values.from as string | undefined, a.values.to as string | undefined)) };
    },
    render: (r: {
      segments: { offset_ms: number; end_offset_ms: number; channel: string; text: string; confidence: number | null }[];
      engine: string | null;
    }) =>
      r.segments.length
        ? r.segments.map((g) => `${offset(g.offset_ms)}–${offset(g.end_offset_ms)}  ${g.channel.padEnd(14)} ${g.text}`).join('\n')
        : `No transcript yet${r.engine ? ` (engine: ${r.engine}; see traced status for how far behind indexing is)` : ': no speech engine (traced doctor says why)'}.`,
  },
  {
    name: 'devices',
    summary: 'displays and audio sources that can be recorded',
    args: [],
    op: 'list_devices',
    params: () => ({}),
    render: (r: {
      displays: { id: string; width: number; height: number; x: number; y: number; name: string }[];
      audio: { id: string; kind: string; description: string; default: boolean }[];
      problems: string[];
    }) =>
      [
        'Displays:',
        ...(r.displays.length ? r.displays.map((d) => `  ${d.id.padEnd(28)} ${d.width}x${d.height}+${d.x}+${d.y}  ${d.name}`) : ['  none']),
        'Audio sources:',
        ...(r.audio.length ? r.audio.map((a) => `  ${a.id.padEnd(28)} ${a.kind.padEnd(8)} ${a.default ? '(default) ' : ''}${a.description}`) : ['  none']),
        ...(r.problems.length ? ['Problems:', ...r.problems.map((p) => `  ${p}`)] : []),
      ].join('\n'),
  },
];
