/**
 * The searchable text of an event: its type in words plus every string in its
 * payload, redacted. One function for every channel, so search sees pushed
 * editor events exactly like recorded ones.
 */
import type { EventData } from '../model.js';
import { redact } from './redact.js';

/** Searchable text kept per event (the store holds every writer to it too). */
export const MAX_TEXT_CHARS = 16 * 1024;

function collect(value: unknown, out: string[], depth: number): void {
  if (depth > 6 || out.length > 512) return;
  if (typeof value === 'string') {
    if (value) out.push(value);
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    // numbers are kept out of the text: sizes and offsets would drown real matches
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

export function eventText(type: string, data: EventData): string | null {
  if (type.startsWith('session.')) return null;
  const parts: string[] = [type.replace(/[._]/g, ' ')];
  // Recognized text carries per-line and per-word detail: index the text once, not every copy of it.
  if ((type === 'screen.text' || type === 'transcript.segment') && typeof data.text === 'string') parts.push(data.text);
  else collect(data, parts, 0);
  // NFKC: full-width ＦＬＵＸ, ligatures and other compatibility forms are their plain letters to search (the query is
  // normalised the same way) and to the redaction patterns.
  const text = parts.join(' ').normalize('NFKC').slice(0, MAX_TEXT_CHARS);
  return redact(text);
}
