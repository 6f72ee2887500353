/**
 * What a search term is, how well a row's text matches it, and the snippet
 * shown for it — all computed from the row's own text and the query, never
 * from index-wide statistics that move when anything is written: FTS5's
 * bm25() changes for every row whenever any row is added, so a cursor that
 * held a bm25 score could repeat or skip results between pages. Each step
 * here is linear in the text (FTS5's snippet() is quadratic in the number of
 * matches in a row: 10 s for one 20 KB line of one repeated letter).
 */
import { ErrorCodes, TracedError } from '../errors.js';
import { queryParts } from './query.js';

/** A longer term costs the substring index one comparison per character per position; search a distinctive part instead. */
export const MAX_TERM_CHARS = 128;
/** Words and quoted phrases per query. */
export const MAX_TERMS = 32;
/** Counting stops here: a term seen this often in one row is as relevant as it gets (bm25's tf saturates long before). */
const MAX_TF = 64;
/** Matches considered when placing a snippet. */
const MAX_SNIPPET_MATCHES = 256;
/** Length of a row in words at which bm25's length factor is 1 (a fixed figure, so scores never move). */
const AVG_WORDS = 40;
const K1 = 1.2;
const B = 0.75;
/** Words shown around a word match; characters around a substring match; the most characters a snippet holds. */
const SNIPPET_WORDS = 16;
const SNIPPET_CHARS = 96;
const MAX_SNIPPET_CHARS = 240;

export interface Term {
  /** Folded words of the term (a phrase has several). */
  words: string[];
  /** The last word is a prefix (`invalid*`). */
  prefix: boolean;
  /** The term as a substring (trailing * dropped), for the trigram index. */
  raw: string;
}

/** Case folded, diacritics removed: what `unicode61 remove_diacritics 2` compares. */
export function fold(s: string): string {
  const lower = s.toLowerCase();
  return /^[\u0000-\u007f]*$/.test(lower) ? lower : lower.normalize('NFD').replace(/\p{M}+/gu, '');
}

const WORD = /[\p{L}\p{N}\p{Co}\p{M}]+/gu;

function words(s: string): string[] {
  return fold(s).match(/[\p{L}\p{N}\p{Co}]+/gu) ?? [];
}

/**
 * The terms of a query (already NFKC-normalised), as toFtsQuery reads them:
 * words and "quoted phrases", a trailing * for a prefix, OR ignored. More
 * than MAX_TERMS terms or a term longer than MAX_TERM_CHARS is
 * TRACED_SEARCH_QUERY: both would make every row cost in proportion.
 */
export function queryTerms(query: string): Term[] {
  const out: Term[] = [];
  for (const { term: raw, prefix, or } of queryParts(query)) {
    if (or) continue;
    if ([...raw].length > MAX_TERM_CHARS)
      throw new TracedError(
        ErrorCodes.SEARCH_QUERY,
        `a search term is at most ${MAX_TERM_CHARS} characters (one has ${[...raw].length}): search for a distinctive part of it`,
        { data: { limit: 'term_chars', max: MAX_TERM_CHARS } },
      );
    const w = words(raw);
    if (!w.length && !raw) continue;
    out.push({ words: w, prefix, raw });
    if (out.length > MAX_TERMS)
      throw new TracedError(ErrorCodes.SEARCH_QUERY, `a search has at most ${MAX_TERMS} words or "phrases"`, { data: { limit: 'terms', max: MAX_TERMS } });
  }
  return out;
}

function phraseAt(toks: readonly string[], i: number, t: Term): boolean {
  const n = t.words.length;
  if (n === 0 || i + n > toks.length) return false;
  for (let k = 0; k < n; k++) {
    const tok = toks[i + k] as string;
    const w = t.words[k] as string;
    if (k === n - 1 && t.prefix ? !tok.startsWith(w) : tok !== w) return false;
  }
  return true;
}

const substringRes = new WeakMap<Term, RegExp | null>();
/** Case-insensitive literal search for a term's raw text (what the trigram index matches). */
function substringRe(t: Term): RegExp | null {
  let re = substringRes.get(t);
  if (re === undefined) {
    re = t.raw.length >= 3 ? new RegExp(t.raw.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'giu') : null;
    substringRes.set(t, re);
  }
  return re;
}

function bm25(tfs: readonly number[], weights: readonly number[], length: number): number {
  const norm = K1 * (1 - B + (B * length) / AVG_WORDS);
  let s = 0;
  for (const [i, tf] of tfs.entries()) if (tf > 0) s += ((weights[i] ?? 1) * (tf * (K1 + 1))) / (tf + norm);
  // Lower is better, like FTS5's bm25().
  return -s;
}

/**
 * How well `text` matches, from the text alone: bm25 with a fixed average
 * length and the given per-term weights. `index` says which index matched:
 * whole words, or substrings.
 */
export function rowScore(text: string, terms: readonly Term[], weights: readonly number[], index: 'word' | 'substring'): number {
  if (index === 'word') {
    const toks = words(text);
    const tfs = terms.map(() => 0);
    for (let i = 0; i < toks.length; i++)
      for (const [k, t] of terms.entries()) if ((tfs[k] as number) < MAX_TF && phraseAt(toks, i, t)) tfs[k] = (tfs[k] as number) + 1;
    return bm25(tfs, weights, toks.length);
  }
  const tfs = terms.map((t) => {
    const re = substringRe(t);
    if (!re) return 0;
    re.lastIndex = 0;
    let n = 0;
    while (n < MAX_TF && re.exec(text) !== null) n++;
    return n;
  });
  return bm25(tfs, weights, text.length / 6);
}

/** Character ranges of matches in `text`, each with the term it matched, in text order. */
function matchRanges(text: string, terms: readonly Term[], index: 'word' | 'substring'): { from: number; to: number; term: number }[] {
  const out: { from: number; to: number; term: number }[] = [];
  if (index === 'substring') {
    for (const [k, t] of terms.entries()) {
      const re = substringRe(t);
      if (!re) continue;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      let n = 0;
      while (n++ < MAX_SNIPPET_MATCHES && (m = re.exec(text)) !== null) out.push({ from: m.index, to: m.index + m[0].length, term: k });
    }
    return out.sort((a, b) => a.from - b.from);
  }
  const toks: { from: number; to: number; w: string }[] = [];
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m !== null; m = WORD.exec(text)) {
    const w = fold(m[0]);
    if (/[\p{L}\p{N}\p{Co}]/u.test(w)) toks.push({ from: m.index, to: m.index + m[0].length, w });
  }
  const ws = toks.map((t) => t.w);
  for (let i = 0; i < toks.length && out.length < MAX_SNIPPET_MATCHES; i++)
    for (const [k, t] of terms.entries())
      if (phraseAt(ws, i, t)) out.push({ from: (toks[i] as { from: number }).from, to: (toks[i + t.words.length - 1] as { to: number }).to, term: k });
  return out;
}

/**
 * A short passage of `text` around its best match (the window holding the
 * most different terms, earliest first), matches between ** **, … where text
 * was left out. Linear in the text.
 */
export function snippet(text: string, terms: readonly Term[], index: 'word' | 'substring'): string {
  const ms = matchRanges(text, terms, index);
  const span = index === 'word' ? SNIPPET_CHARS * 2 : SNIPPET_CHARS;
  let best = 0;
  let bestDistinct = 0;
  if (ms.length) {
    // Sliding window over matches: the start whose window covers the most distinct terms.
    const count = new Map<number, number>();
    let j = 0;
    for (let i = 0; i < ms.length; i++) {
      const start = (ms[i] as { from: number }).from;
      while (j < ms.length && (ms[j] as { from: number }).from < start + span) {
        const k = (ms[j] as { term: number }).term;
        count.set(k, (count.get(k) ?? 0) + 1);
        j++;
      }
      if (count.size > bestDistinct) {
        bestDistinct = count.size;
        best = i;
      }
      const k = (ms[i] as { term: number }).term;
      const c = (count.get(k) ?? 1) - 1;
      if (c === 0) count.delete(k);
      else count.set(k, c);
    }
  }
  const anchor = ms[best] ?? { from: 0, to: 0 };
  let from: number;
  let to: number;
  if (index === 'word') {
    // About SNIPPET_WORDS words, the match in the middle.
    const before = wordsBack(text, anchor.from, Math.floor(SNIPPET_WORDS / 3));
    from = before;
    to = wordsForward(text, anchor.to, SNIPPET_WORDS - Math.floor(SNIPPET_WORDS / 3) - 1);
  } else {
    from = Math.max(0, anchor.from - Math.floor(SNIPPET_CHARS / 3));
    to = Math.min(text.length, Math.max(anchor.to, from + SNIPPET_CHARS));
  }
  // One enormous word must not make an enormous snippet.
  if (to - from > MAX_SNIPPET_CHARS) {
    from = Math.max(from, anchor.from - 40);
    to = Math.min(to, from + MAX_SNIPPET_CHARS);
  }
  if (from > 0 && /[\uDC00-\uDFFF]/.test(text.charAt(from))) from--;
  if (to < text.length && /[\uDC00-\uDFFF]/.test(text.charAt(to))) to++;
  let out = from > 0 ? '…' : '';
  let at = from;
  for (const m of ms) {
    const a = Math.max(m.from, at);
    const b = Math.min(m.to, to);
    if (b <= a || a >= to) continue;
    out += `${text.slice(at, a)}**${text.slice(a, b)}**`;
    at = b;
  }
  out += text.slice(at, to);
  return out.trim() + (to < text.length ? '…' : '');
}

/** The start of the word `n` words before `pos` (scans back at most a few hundred characters). */
function wordsBack(text: string, pos: number, n: number): number {
  let i = pos;
  const stop = Math.max(0, pos - MAX_SNIPPET_CHARS);
  let seen = 0;
  while (i > stop && seen < n) {
    i--;
    while (i > stop && /\s/.test(text.charAt(i))) i--;
    while (i > stop && !/\s/.test(text.charAt(i - 1))) i--;
    seen++;
  }
  return i;
}

/** The end of the word `n` words after `pos` (scans forward at most a few hundred characters). */
function wordsForward(text: string, pos: number, n: number): number {
  let i = pos;
  const stop = Math.min(text.length, pos + MAX_SNIPPET_CHARS);
  let seen = 0;
  while (i < stop && seen < n) {
    while (i < stop && /\s/.test(text.charAt(i))) i++;
    while (i < stop && !/\s/.test(text.charAt(i))) i++;
    seen++;
  }
  return i;
}
