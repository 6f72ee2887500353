/** How results look to a person: the blocks several commands share. */
import type { IndexerStatus, QueueStatusOutput, ReplayAtOutput, SessionSummary, WhatHappenedOutput } from '../model.js';
import { dateTime, duration, eventLine, offset } from './format.js';
import { type Paint, stateColor } from './style.js';

const plain: Paint = (_f, t) => t;

/**
 * Control characters a terminal acts on (ESC sequences that retitle the
 * window, clear the screen, rewrite lines; C1 controls; bidi overrides that
 * reorder what is shown), except newline and tab.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Recorded text made safe to print on a terminal: each control character shown as its \u escape. */
export function safeText(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A result from the daemon with every string in it passed through safeText:
 * what every human renderer is given (the CLI's own colours are added after,
 * so they survive). `--json` output is not touched: JSON escapes controls.
 */
export function safeData<T>(v: T, depth = 0): T {
  if (typeof v === 'string') return safeText(v) as T;
  if (!v || typeof v !== 'object' || depth > 64) return v;
  if (Array.isArray(v)) return v.map((x) => safeData(x, depth + 1)) as T;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [safeText(k), safeData(x, depth + 1)])) as T;
}

export function indexerLines(ix: IndexerStatus): string {
  const part = (what: string, p: IndexerStatus['ocr']) =>
    p.engine
      ? `  ${what.padEnd(12)} ${p.engine}${p.pending_segments ? `, ${p.pending_segments} segments (${duration(p.behind_ms)} of media) to go` : ', up to date'}`
      : p.waiting_segments
        ? `  ${what.padEnd(12)} waiting: ${p.waiting_segments} segments (${duration(p.waiting_ms)} of media) kept for an engine: ${p.reason}`
        : `  ${what.padEnd(12)} off: ${p.reason}`;
  return ['Indexing:', part('screen text', ix.ocr), part('speech', ix.speech)].join('\n');
}

export function renderReplay(r: ReplayAtOutput): string {
  const lines = [`${r.session_id} at ${offset(r.offset_ms)} (${dateTime(r.ts)})${r.speaking ? ', someone is talking' : ''}`];
  if (r.window) lines.push(`  window     ${r.window.app} — ${r.window.title}`);
  if (r.last_saved) lines.push(`  last save  ${r.last_saved.path} at ${offset(r.last_saved.offset_ms)}`);
  if (r.git_head)
    lines.push(
      `  git HEAD   ${(r.git_head.hash ?? '').slice(0, 10)} ${r.git_head.subject ?? ''}${r.git_head.branch ? ` (${r.git_head.branch})` : ''}${r.git_head.from === 'git.state' ? ' (as read at start or resume)' : ''}`,
    );
  for (const m of r.moments) lines.push(`  moment     ${m.kind} ${offset(m.start_offset_ms)}–${offset(m.end_offset_ms)}`);
  for (const a of r.annotations) lines.push(`  bookmark   ${offset(a.offset_ms)} ${a.text}`);
  if (r.current.length) lines.push('Now:', ...r.current.map((e) => `  ${eventLine(e)}`));
  if (r.recent.length) lines.push('Just before:', ...r.recent.slice(-10).map((e) => `  ${eventLine(e)}`));
  if (r.transcript.length) lines.push('Said:', ...r.transcript.map((t) => `  ${offset(t.offset_ms)} ${t.text}`));
  if (r.screen_text)
    lines.push(
      `On screen (${offset(r.screen_text.offset_ms)}):`,
      ...r.screen_text.text
        .split('\n')
        .slice(0, 15)
        .map((l) => `  ${l}`),
    );
  return lines.join('\n');
}

export function renderWhatHappened(r: WhatHappenedOutput): string {
  if (!r.sessions.length) return 'Nothing recorded in that range.';
  const out: string[] = [];
  for (const s of r.sessions) {
    out.push(`${s.id}  ${dateTime(s.started_at)}, ${duration(s.duration_ms)}  ${s.project}${s.label ? ` "${s.label}"` : ''}`);
    for (const m of s.moments) out.push(`  ${offset(m.start_offset_ms)} ${m.kind.padEnd(8)} ${duration(m.duration_ms).padStart(6)}  ${m.what}`);
    if (s.commits.length) out.push('  commits:', ...s.commits.map((c) => `    ${offset(c.offset_ms)} ${c.subject}`));
    if (s.files_touched.length)
      out.push(
        `  files: ${s.files_touched
          .slice(0, 8)
          .map((f) => `${f.path} (${f.saves})`)
          .join(', ')}`,
      );
    if (s.failed_commands.length)
      out.push(
        '  failed commands:',
        ...s.failed_commands
          .slice(0, 8)
          .map(
            (c) =>
              `    ${offset(c.offset_ms)} ${c.command} → ${c.exit_codes.join(', ') || '?'}${c.count > 1 ? ` (${c.count}×, last ${offset(c.last_offset_ms)})` : ''}`,
          ),
      );
    if (s.failures.length)
      out.push(
        '  failures:',
        ...s.failures
          .slice(0, 12)
          .map((f) => `    ${offset(f.offset_ms)} ${f.text}${f.count > 1 ? ` (${f.count}×)` : ''}${f.command ? `  ← ${f.command}` : ''}`),
      );
    if (s.said.length) out.push('  said:', ...s.said.slice(0, 8).map((t) => `    ${offset(t.offset_ms)} ${t.text}`));
    if (s.annotations.length) out.push('  bookmarks:', ...s.annotations.map((a) => `    ${offset(a.offset_ms)} ${a.text}`));
  }
  if (r.truncated) out.push('(shortened to fit; ask for one session for more)');
  return out.join('\n');
}

export function renderQueue(q: QueueStatusOutput): string {
  if (!q.enabled) return 'Uploads are off: no VideoDB key (set videodb.apiKey in config.json or VIDEO_DB_API_KEY). Everything stays on this machine.';
  const c = q.counts as Record<string, number>;
  const lines = [`Uploads to ${q.targets.join(', ')}: ${c.done ?? 0} done, ${c.pending ?? 0} pending, ${c.in_flight ?? 0} in flight, ${c.failed ?? 0} failed`];
  if (q.paused) lines.push(`PAUSED ${q.paused.code}: ${q.paused.reason}`);
  else if (q.next_attempt_at && (c.pending ?? 0) > 0) lines.push(`next attempt ${dateTime(q.next_attempt_at)}`);
  for (const f of q.failed) lines.push(`  failed ${f.session_id} ${f.channel_id} #${f.segment_seq} after ${f.attempts} attempts: ${f.last_error ?? ''}`);
  if (q.failed.length) lines.push('Retry with: traced queue retry [SESSION]');
  return lines.join('\n');
}

/** One line per channel, its state coloured when `paint` colours. */
export function channelLine(s: SessionSummary, paint: Paint = plain): string {
  const now = Date.now();
  return s.channels
    .map((c) => {
      const age = c.lastSegmentAt !== undefined && s.ended_at === null ? ` (last segment ${duration(Math.max(0, now - c.lastSegmentAt))} ago)` : '';
      return `  ${c.id.padEnd(22)} ${stateColor(c.state, paint)}${' '.repeat(Math.max(1, 13 - c.state.length))}${c.store ? '' : '(not stored) '}${c.detail ?? ''}${age}`.trimEnd();
    })
    .join('\n');
}

export function sessionBlock(s: SessionSummary, paint: Paint = plain): string {
  const lines = [
    `Session ${s.id}${s.label ? ` "${s.label}"` : ''}`,
    `  project   ${s.project}`,
    `  state     ${stateColor(s.state, paint)} (${s.profile})`,
    `  started   ${dateTime(s.started_at)}${s.ended_at ? `, ended ${dateTime(s.ended_at)}` : ''}, ${duration(s.duration_ms)}`,
    `  events    ${s.event_count}`,
    'Channels:',
    channelLine(s, paint),
  ];
  if (s.warnings.length) lines.push(paint('yellow', 'Warnings:'), ...s.warnings.map((w) => `  ${w}`));
  if (s.error) lines.push(`${paint('red', 'Error:')} ${s.error.code}: ${s.error.message}`);
  return lines.join('\n');
}
