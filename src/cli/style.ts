/**
 * Colour and bold for people, never for pipes: through node:util styleText,
 * decided from the CLI's own env (NO_COLOR, FORCE_COLOR, TERM) and whether the
 * stream is a terminal, so `traced search x | grep` gets plain text.
 */
import { styleText } from 'node:util';
import type { Writable } from 'node:stream';
import type { Env } from '../config/config.js';

export type Format = Parameters<typeof styleText>[0];
export type Paint = (format: Format, text: string) => string;

/** Whether to colour output on `stream`: FORCE_COLOR (not 0/false) wins, then NO_COLOR, then a terminal that is not dumb. */
export function wantsColor(stream: Writable, env: Env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return (stream as { isTTY?: boolean }).isTTY === true && env.TERM !== 'dumb';
}

export function painter(stream: Writable, env: Env): Paint {
  const on = wantsColor(stream, env);
  return (format, text) => (on ? styleText(format, text, { validateStream: false }) : text);
}

/** A search snippet: the index marks matches `**like this**`; they become bold (or plain text without colour). */
export function snippet(text: string, paint: Paint): string {
  return text.replace(/\s+/g, ' ').replace(/\*\*(.+?)\*\*/g, (_m, word: string) => paint('bold', word));
}

/** A state word in its colour: green when fine, yellow when degraded, red when broken. */
export function stateColor(state: string, paint: Paint): string {
  if (/^(recording|running|ok|exported|done|ready|answers|up to date)$/.test(state)) return paint('green', state);
  if (/^(paused|degraded|silent|stalled|exporting|pending|warn(ing)?|unavailable|off)$/.test(state)) return paint('yellow', state);
  if (/^(failed|error|fail|dead|broken|stopped)$/.test(state)) return paint('red', state);
  return state;
}
