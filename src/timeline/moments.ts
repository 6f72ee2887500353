/**
 * Moments: stretches of a session with a name a person would give them.
 * Pure: events in, moments out; the engine stores them at stop and after
 * recovery or indexing. Thresholds are exported so tests and docs agree.
 *
 * - progress: from the first save of a file to the commit that includes it
 *   (saves of files that end up committed).
 * - stuck: one command failing again and again (per command: two commands
 *   failing in turn are two stories), the same file edited over and over
 *   without a commit, failure lines on screen that stay, or a long stretch of
 *   activity with no save or commit.
 * - research: a browser or documentation viewer in focus.
 * - speech: dense talk (utterances close together, adding up).
 * - idle: nothing at all happened for a while.
 */
import type { RecordedEvent } from '../model.js';
import { failureLines } from './failures.js';
import type { MomentRow } from './store.js';

export type Moment = Omit<MomentRow, 'id' | 'session_id'>;

export const MOMENT_RULES = {
  /** One command (by `commandKey`) failing this many times, each within `failWindowMs` of the one before, is being stuck. */
  failRepeat: 3,
  failWindowMs: 10 * 60_000,
  /** Editing one file this many times within `editWindowMs` without committing it. */
  editRepeat: 6,
  editWindowMs: 10 * 60_000,
  /** Saves of one file closer than this are one edit (editor autosave writes every second or so). */
  editBurstMs: 30_000,
  /** Errors on screen seen in frames spanning at least this long. */
  screenErrorMs: 60_000,
  /** Activity without a save or commit for this long. */
  noProgressMs: 15 * 60_000,
  /** No events on any channel for this long. */
  idleMs: 5 * 60_000,
  /** Utterances closer than this belong together; a stretch with at least `speechMinMs` of talk is a moment. */
  speechGapMs: 15_000,
  speechMinMs: 20_000,
  /** Apps (window class) that are reading: browsers and documentation viewers. */
  researchApp: /\b(firefox|chrom(e|ium)|safari|msedge|microsoft-edge|brave|opera|vivaldi|epiphany|zeal|devdocs|dash)\b/i,
  /** When the app is not known: a title only a browser or a documentation site has. */
  researchTitle: /(mozilla firefox|google chrome|chromium|microsoft\S* edge|brave|stack ?overflow|mdn web docs|readthedocs|devdocs)\s*$/i,
};

/** Not activity of the person: the recorder's own bookkeeping, and the repository state noted at start. */
const SKIP_FOR_IDLE = /^(session\.|capture\.|storage\.|git\.state$)/;

const WRAPPER = /^(?:[A-Za-z_]\w*=(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'"]\S*)?|sudo|time|command|nice|nohup|env|exec|noglob)\s+/;

/**
 * What makes two command lines the same command: blanks trimmed and
 * collapsed, and what only changes how it runs stripped from the front —
 * environment assignments (`CI=1 npm test`) and the wrappers `sudo`, `time`,
 * `command`, `nice`, `nohup`, `env`, `exec`, `noglob` (their options are
 * kept: `sudo -u x make` stays apart from `make`). Arguments are kept, so
 * `npm test -- cache` and `npm test` are different commands.
 */
export function commandKey(command: string): string {
  let s = command.trim();
  for (let i = 0; i < 32 && WRAPPER.test(s); i++) s = s.replace(WRAPPER, '');
  return s.replace(/\s+/g, ' ');
}

/** A command run: its key, whether it failed, or undefined when the event does not say. */
function runOf(e: RecordedEvent): { key: string; label: unknown; failed: boolean; code: number | null } | undefined {
  if (e.type !== 'terminal.command' && e.type !== 'editor.test_run') return undefined;
  const code = typeof e.data.exit_code === 'number' ? e.data.exit_code : null;
  const failed = code !== null ? code !== 0 : typeof e.data.passed === 'boolean' ? !e.data.passed : undefined;
  if (failed === undefined) return undefined;
  const label = e.type === 'editor.test_run' ? (e.data.name ?? e.data.command ?? null) : (e.data.command ?? null);
  // A test run the editor reported and a shell command of the same text are different runs.
  return { key: `${e.type === 'editor.test_run' ? 'editor:' : ''}${commandKey(String(label ?? ''))}`, label, failed, code };
}

/** Two paths name the same file: equal, or one is the other below a folder (project vs repository root). */
function samePath(a: string, b: string): boolean {
  if (!a || !b) return false;
  if (a === b) return true;
  const [long, short] = a.length > b.length ? [a, b] : [b, a];
  return long.endsWith(`/${short}`);
}

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
    const mine = saves.filter((s) => files.some((f) => samePath(f, String(s.data.path ?? ''))));
    const start = mine.length ? mine[0]!.offset_ms : e.offset_ms;
    add('progress', start, e.offset_ms, { commit: e.data.hash ?? null, subject: e.data.subject ?? null, files, saves: mine.length });
    saves.splice(0, saves.length, ...saves.filter((s) => !mine.includes(s)));
  }

  // stuck: one command failing again and again, from its first failure to its next success.
  const byCommand = new Map<string, { e: RecordedEvent; run: NonNullable<ReturnType<typeof runOf>> }[]>();
  for (const e of ev) {
    const run = runOf(e);
    if (!run) continue;
    const list = byCommand.get(run.key) ?? [];
    list.push({ e, run });
    byCommand.set(run.key, list);
  }
  for (const [key, runs] of byCommand) {
    let group: (typeof runs)[number][] = [];
    const close = (success?: RecordedEvent) => {
      const last = group[group.length - 1];
      if (last && group.length >= MOMENT_RULES.failRepeat) {
        const resolved = success !== undefined && success.offset_ms - last.e.offset_ms <= MOMENT_RULES.failWindowMs;
        add(
          'stuck',
          group[0]!.e.offset_ms,
          resolved ? success.offset_ms : last.e.offset_ms,
          {
            reason: 'a command kept failing',
            command: last.run.label ?? null,
            key,
            failures: group.length,
            exit_codes: [...new Set(group.map((g) => g.run.code).filter((c) => c !== null))].sort((a, b) => a - b),
            resolved,
          },
          group.length,
        );
      }
      group = [];
    };
    for (const r of runs) {
      if (r.run.failed) {
        const last = group[group.length - 1];
        if (last && r.e.offset_ms - last.e.offset_ms > MOMENT_RULES.failWindowMs) close();
        group.push(r);
      } else close(r.e);
    }
    close();
  }
  // stuck: the same file edited over and over without a commit in between (an autosave burst is one edit).
  const byFile = new Map<string, RecordedEvent[]>();
  for (const e of ev) {
    if (e.type === 'git.commit') {
      flushEdits(byFile, add);
      continue;
    }
    if (e.type === 'file.changed' && typeof e.data.path === 'string') {
      const list = byFile.get(e.data.path) ?? [];
      const prev = list[list.length - 1];
      if (prev && e.offset_ms - prev.offset_ms < MOMENT_RULES.editBurstMs) list[list.length - 1] = e;
      else list.push(e);
      byFile.set(e.data.path, list);
    }
  }
  flushEdits(byFile, add);
  // stuck: failure lines (not the word "error": "0 errors" is good news) or error diagnostics staying on screen.
  const errs = ev.filter(
    (e) =>
      (e.type === 'screen.text' && failureLines(String(e.data.text ?? '')).length > 0) ||
      (e.type === 'editor.diagnostics' && (e.data.severity ?? 'error') === 'error'),
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
    // By app: an editor with docs/ open or a file named edge.ts is not reading.
    const app = String(e.data.app ?? '');
    if (app ? !MOMENT_RULES.researchApp.test(app) : !MOMENT_RULES.researchTitle.test(String(e.data.title ?? ''))) return;
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
