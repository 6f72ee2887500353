/**
 * Moments: stretches of a session with a name a person would give them.
 * Pure: events in, moments out; the engine stores them at stop and after
 * recovery or indexing. Thresholds are exported so tests and docs agree.
 *
 * - progress: from the first save of a file to the commit that includes it
 *   (saves of files that end up committed).
 * - stuck: a command failing again and again, the same file saved over and
 *   over without a commit, errors on screen that stay, or a long stretch of
 *   activity with no save or commit.
 * - research: a browser or documentation window in focus.
 * - speech: dense talk (utterances close together, adding up).
 * - idle: nothing at all happened for a while.
 */
import type { RecordedEvent } from '../model.js';
import type { MomentRow } from './store.js';

export type Moment = Omit<MomentRow, 'id' | 'session_id'>;

export const MOMENT_RULES = {
  /** Failing commands this many times within `failWindowMs` is being stuck. */
  failRepeat: 3,
  failWindowMs: 10 * 60_000,
  /** Saving one file this many times within `editWindowMs` without committing it. */
  editRepeat: 6,
  editWindowMs: 10 * 60_000,
  /** Errors on screen seen in frames spanning at least this long. */
  screenErrorMs: 60_000,
  /** Activity without a save or commit for this long. */
  noProgressMs: 15 * 60_000,
  /** No events on any channel for this long. */
  idleMs: 5 * 60_000,
  /** Utterances closer than this belong together; a stretch with at least `speechMinMs` of talk is a moment. */
  speechGapMs: 15_000,
  speechMinMs: 20_000,
  research:
    /\b(firefox|chrom(e|ium)|safari|edge|brave|opera|docs?\b|documentation|stack ?overflow|mdn|readthedocs|devdocs|github\.com\/.+\/(issues|pull)|google search)/i,
};

const SKIP_FOR_IDLE = /^(session\.|capture\.|storage\.)/;

export function computeMoments(events: readonly RecordedEvent[], endOffsetMs: number): Moment[] {
  const ev = [...events].sort((a, b) => a.offset_ms - b.offset_ms || a.seq - b.seq);
  const out: Moment[] = [];
  const add = (kind: Moment['kind'], start: number, end: number, data: Record<string, unknown>, score: number | null = null) =>
    out.push({ kind, start_offset_ms: Math.max(0, start), end_offset_ms: Math.max(start, end), score, data: JSON.stringify(data) });

  // progress: saves since the previous commit of the files each commit includes.
  const saves: RecordedEvent[] = [];
  for (const e of ev) {
    if (e.type.startsWith('file.')) saves.push(e);
    if (e.type !== 'git.commit') continue;
    const files = Array.isArray(e.data.files) ? (e.data.files as { path?: unknown }[]).map((f) => String(f.path ?? '')) : [];
    const mine = saves.filter((s) =>
      files.some((f) => f && (f === s.data.path || String(s.data.path ?? '').endsWith(f) || f.endsWith(String(s.data.path ?? '')))),
    );
    const start = mine.length ? mine[0]!.offset_ms : e.offset_ms;
    add('progress', start, e.offset_ms, { commit: e.data.hash ?? null, subject: e.data.subject ?? null, files, saves: mine.length });
    saves.splice(0, saves.length, ...saves.filter((s) => !mine.includes(s)));
  }

  // stuck: failing commands repeating.
  const fails = ev.filter((e) => /^(terminal\.command|editor\.test_run)$/.test(e.type) && Number(e.data.exit_code ?? (e.data.passed === false ? 1 : 0)) !== 0);
  for (const [start, end, group] of clusters(fails, MOMENT_RULES.failWindowMs)) {
    if (group.length >= MOMENT_RULES.failRepeat)
      add(
        'stuck',
        start,
        end,
        {
          reason: 'a command kept failing',
          failures: group.length,
          command: group[group.length - 1]!.data.command ?? group[group.length - 1]!.data.name ?? null,
        },
        group.length,
      );
  }
  // stuck: the same file saved over and over without a commit in between.
  const byFile = new Map<string, RecordedEvent[]>();
  for (const e of ev) {
    if (e.type === 'git.commit') {
      flushEdits(byFile, add);
      continue;
    }
    if (e.type === 'file.changed' && typeof e.data.path === 'string') {
      const list = byFile.get(e.data.path) ?? [];
      list.push(e);
      byFile.set(e.data.path, list);
    }
  }
  flushEdits(byFile, add);
  // stuck: errors staying on screen.
  const errs = ev.filter(
    (e) => (e.type === 'screen.text' && /\b(error|exception|failed|traceback|panic)\b/i.test(String(e.data.text ?? ''))) || e.type === 'editor.diagnostics',
  );
  for (const [start, end, group] of clusters(errs, 30_000)) {
    if (end - start >= MOMENT_RULES.screenErrorMs) add('stuck', start, end, { reason: 'errors on screen', frames: group.length }, group.length);
  }
  // stuck: a long stretch of activity with no progress.
  const progressAt = ev.filter((e) => e.type.startsWith('file.') || e.type === 'git.commit').map((e) => e.offset_ms);
  const active = ev.filter((e) => !SKIP_FOR_IDLE.test(e.type));
  let prev = active[0]?.offset_ms ?? 0;
  for (const t of [...progressAt, endOffsetMs]) {
    if (t - prev >= MOMENT_RULES.noProgressMs) {
      const busy = active.filter((e) => e.offset_ms > prev && e.offset_ms < t).length;
      if (busy >= 10) add('stuck', prev, t, { reason: 'no save or commit for a long stretch of activity', events: busy });
    }
    prev = Math.max(prev, t);
  }

  // research: a browser or docs window in focus, until focus moves elsewhere.
  const focus = ev.filter((e) => e.type === 'window.focus');
  focus.forEach((e, i) => {
    const label = `${e.data.app ?? ''} ${e.data.title ?? ''}`;
    if (!MOMENT_RULES.research.test(label)) return;
    const end = focus[i + 1]?.offset_ms ?? endOffsetMs;
    if (end - e.offset_ms >= 5000) add('research', e.offset_ms, end, { app: e.data.app ?? null, title: e.data.title ?? null });
  });

  // speech: utterances close together adding up.
  const talk = ev.filter((e) => e.type === 'transcript.segment' || e.type === 'transcript.spoken');
  for (const [start, , group] of clusters(talk, MOMENT_RULES.speechGapMs)) {
    const spoken = group.reduce((a, e) => a + Math.max(0, Number(e.data.end_offset_ms ?? e.offset_ms) - e.offset_ms), 0);
    const end = Math.max(...group.map((e) => Number(e.data.end_offset_ms ?? e.offset_ms)));
    if (spoken >= MOMENT_RULES.speechMinMs) add('speech', start, end, { utterances: group.length, spoken_ms: spoken }, spoken);
  }

  // idle: silence on every channel.
  let last = 0;
  for (const t of [...active.map((e) => e.offset_ms), endOffsetMs]) {
    if (t - last >= MOMENT_RULES.idleMs) add('idle', last, t, { quiet_ms: t - last });
    last = Math.max(last, t);
  }
  return out.sort((a, b) => a.start_offset_ms - b.start_offset_ms || a.kind.localeCompare(b.kind));
}

function flushEdits(
  byFile: Map<string, RecordedEvent[]>,
  add: (kind: Moment['kind'], start: number, end: number, data: Record<string, unknown>, score?: number | null) => void,
): void {
  for (const [file, list] of byFile) {
    for (const [start, end, group] of clusters(list, MOMENT_RULES.editWindowMs)) {
      if (group.length >= MOMENT_RULES.editRepeat)
        add('stuck', start, end, { reason: 'the same file edited over and over without a commit', file, saves: group.length }, group.length);
    }
  }
  byFile.clear();
}

/** Groups sorted events whose neighbours are closer than `gapMs`: [start, end, events]. */
function clusters(events: readonly RecordedEvent[], gapMs: number): [number, number, RecordedEvent[]][] {
  const out: [number, number, RecordedEvent[]][] = [];
  for (const e of events) {
    const cur = out[out.length - 1];
    if (cur && e.offset_ms - cur[1] <= gapMs) {
      cur[1] = e.offset_ms;
      cur[2].push(e);
    } else out.push([e.offset_ms, e.offset_ms, [e]]);
  }
  return out;
}
