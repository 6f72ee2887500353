/** Human output: tables, durations, clock times, one-line event descriptions. */
import type { RecordedEvent } from '../model.js';

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** `+01:02.345` (or `+1:01:02.345`) from the session start. */
export function offset(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const milli = ms % 1000;
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(milli).padStart(3, '0')}`;
  return h ? `+${h}:${mmss}` : `+${mmss}`;
}

export function clock(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}

export function dateTime(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${clock(ts)}`;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

/** What an event says, in one line. */
export function describeEvent(e: Pick<RecordedEvent, 'type' | 'data'>): string {
  const d = e.data;
  if (e.type.startsWith('file.')) return `${str(d.path)}${d.size !== undefined ? ` (${bytes(d.size)})` : ''}`;
  if (e.type === 'git.commit') {
    const files = Array.isArray(d.files) ? (d.files as { path?: string }[]).map((f) => f.path).join(', ') : '';
    return `${str(d.hash).slice(0, 8)} ${str(d.subject)}${files ? `  [${files}]` : ''}`;
  }
  if (e.type.startsWith('git.')) return [str(d.from) && `${str(d.from)} → ${str(d.to)}`, str(d.branch), str(d.message)].filter(Boolean).join('  ');
  if (e.type === 'window.focus') return `${str(d.app)}: ${str(d.title)}`;
  if (e.type === 'session.started') return `${str(d.project)} (${str(d.profile)})`;
  const parts = Object.entries(d)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => `${k}=${String(v)}`);
  const line = parts.join(' ');
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

export function eventLine(e: Pick<RecordedEvent, 'offset_ms' | 'ts' | 'channel' | 'type' | 'data'>): string {
  return `${offset(e.offset_ms)}  ${clock(e.ts)}  ${e.channel.padEnd(8)} ${e.type.padEnd(20)} ${describeEvent(e)}`.trimEnd();
}

/** 1536 → "1.5 KB"; powers of 1024, one decimal below 10. */
export function bytes(n: unknown): string {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
