/** Commands that record and read sessions: start, stop, pause, resume, status, sessions, show, timeline, search, transcript, devices. */
import type { IndexerStatus, RecordedEvent, SessionSummary } from '../../model.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import { type Command, list, num, one, refParams, sessionRefOption } from '../command.js';
import { bytes, dateTime, duration, eventLine, offset, table } from '../format.js';
import { channelLine, indexerLines, sessionBlock } from '../render.js';

export const recordingCommands: Command[] = [
  {
    name: 'start',
    usage: 'traced start [--project DIR] [--label TEXT] [--profile full|audio|events] [--channel ID[=nostore]]...',
    summary: 'start recording a session on a project (default: the current directory)',
    options: {
      project: { type: 'string', short: 'p' },
      label: { type: 'string', short: 'l' },
      profile: { type: 'string' },
      channel: { type: 'string', multiple: true },
    },
    op: 'start_session',
    params: (a, io) => {
      const channels = list(a.values.channel)?.map((c) => {
        const [id, flag] = c.split('=');
        return { id, store: flag !== 'nostore' };
      });
      return { project: (a.values.project as string | undefined) ?? io.cwd, label: a.values.label, profile: a.values.profile, channels };
    },
    render: (r: { session: SessionSummary; warnings: string[] }) =>
      `Recording ${r.session.id} on ${r.session.project}\n${channelLine(r.session)}${r.warnings.length ? `\nWarnings:\n${r.warnings.map((w) => `  ${w}`).join('\n')}` : ''}`,
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
    render: (r: {
      indexer?: IndexerStatus;
      daemon: {
        pid: number;
        version: string;
        uptime_ms: number;
        home: string;
        storage?: { free_bytes: number | null; problem: { code: string; message: string } | null };
      };
      session: SessionSummary | null;
    }) =>
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
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      type: { type: 'string', multiple: true },
      channel: { type: 'string', multiple: true },
      after: { type: 'string' },
      limit: { type: 'string', short: 'n' },
    },
    op: 'get_timeline',
    params: (a) => {
      const ref = one(a, 'traced timeline SESSION');
      if (!ref) throw new TracedError(ErrorCodes.CLI_USAGE, 'which session? usage: traced timeline SESSION');
      return {
        session: ref,
        from_ms: num(a.values.from, 'from'),
        to_ms: num(a.values.to, 'to'),
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
    usage: 'traced search QUERY... [--session S] [--since TIME] [--until TIME] [--type T]... [--channel C]... [--limit N]',
    summary: 'search everything recorded',
    options: {
      session: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      type: { type: 'string', multiple: true },
      channel: { type: 'string', multiple: true },
      limit: { type: 'string', short: 'n' },
    },
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
    render: (r: {
      query: string;
      warnings?: string[];
      hits: { session_id: string; ts: number; offset_ms: number; end_offset_ms?: number; type: string; snippet: string; source: string; merged?: number }[];
    }) =>
      [
        ...(r.hits.length === 0
          ? [`No results for "${r.query}".`]
          : r.hits.map((h) => {
              const span =
                h.end_offset_ms !== undefined && h.end_offset_ms - h.offset_ms >= 1000
                  ? `${offset(h.offset_ms)}–${offset(h.end_offset_ms)}`
                  : offset(h.offset_ms);
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
    usage: 'traced devices',
    summary: 'displays and audio sources that can be recorded',
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
