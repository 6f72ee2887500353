/**
 * The redaction gate: every text that reaches the store, a session folder, an
 * export or an upload passes `redact` (strings) or `redactDeep` (event data).
 * A secret becomes `[REDACTED:<rule id>]`; the rules are data, in
 * `redact-rules.ts`. Recognized text (OCR, speech) goes through
 * `redactRecognized`, which also tries the joins a recognizer's stray spaces
 * broke apart.
 */
import { isTellingKey, notAFlag, RULES, shannonEntropy, type RedactionRule, type RuleMatch } from './redact-rules.js';

export type { RedactionRule } from './redact-rules.js';
export { isTellingKey } from './redact-rules.js';

/** The rules `redact` applies, in order. */
export const redactionRules: readonly RedactionRule[] = RULES;

/** Shorter than any rule's shortest match: nothing to look for. */
const MIN_SECRET_TEXT = 8;
const MARK = '[REDACTED';

/**
 * The keyword prefilter, one pass for all rules: one regex of every
 * lower-case keyword runs over the lower-cased text, resuming one character
 * after each hit so overlapping keywords are all seen (a keyword that starts
 * where a longer one does is implied by it: the map below runs its rules
 * too). One scan instead of an `includes` per keyword per rule keeps ordinary
 * text cheap. Keywords with upper case are exact and checked with `includes`.
 */
const isExact = (k: string): boolean => k !== k.toLowerCase();
const KEYWORDS = [...new Set(RULES.flatMap((r) => r.keywords.filter((k) => !isExact(k))))].sort((a, b) => b.length - a.length);
const SIEVE = new RegExp(KEYWORDS.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
/** For each keyword, the rules to run when it is present (its own and those of every keyword inside it). */
const RULES_BY_KEYWORD = new Map<string, number[]>(
  KEYWORDS.map((k) => [k, RULES.flatMap((r, i) => (r.keywords.some((x) => !isExact(x) && k.includes(x)) ? [i] : []))]),
);
const EXACT = RULES.flatMap((r, i) => r.keywords.filter(isExact).map((k) => [k, i] as const));
const ALWAYS = RULES.flatMap((r, i) => (r.keywords.length === 0 ? [i] : []));

/** Indices of the rules whose keywords occur in `text`, plus those without keywords. */
function rulesFor(text: string): Set<number> {
  const run = new Set(ALWAYS);
  for (const [k, i] of EXACT) if (text.includes(k)) run.add(i);
  const lower = text.toLowerCase();
  SIEVE.lastIndex = 0;
  for (let m = SIEVE.exec(lower); m !== null; m = SIEVE.exec(lower)) {
    for (const i of RULES_BY_KEYWORD.get(m[0]) ?? []) run.add(i);
    SIEVE.lastIndex = m.index + 1;
  }
  return run;
}

function applyRule(text: string, rule: RedactionRule): string {
  const re = rule.regex;
  re.lastIndex = 0;
  let out = '';
  let last = 0;
  let changed = false;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    let span: [number, number] | undefined = [m.index, m.index + m[0].length];
    if (rule.groups) {
      span = undefined;
      for (const g of rule.groups) {
        const at = m.indices?.[g];
        if (at) {
          span = at;
          break;
        }
      }
      if (!span) continue;
    }
    const [start, end] = span;
    const secret = text.slice(start, end);
    if (secret.includes(MARK) || start < last) continue;
    if (rule.entropy !== undefined && shannonEntropy(secret) < rule.entropy) continue;
    if (rule.accept && !rule.accept({ text, match: m, secret, start, end } satisfies RuleMatch)) continue;
    out += text.slice(last, start) + `[REDACTED:${rule.id}]`;
    last = end;
    changed = true;
  }
  re.lastIndex = 0;
  return changed ? out + text.slice(last) : text;
}

/**
 * Returns `text` with every secret the rules know replaced by
 * `[REDACTED:<rule id>]`; the text around a secret is kept. Synchronous and
 * linear in the length of `text`. Idempotent: redacting twice changes nothing.
 */
export function redact(text: string): string {
  if (text.length < MIN_SECRET_TEXT) return text;
  // Keywords are looked up in the original text: a redaction only removes
  // text (and adds markers, which no rule redacts), so a rule whose keyword
  // is absent here cannot match later.
  const run = rulesFor(text);
  let out = text;
  // A redaction can expose a neighbour to a rule that needs a boundary (a key
  // glued to the end of another): run again until nothing changes. Each pass
  // that changes something turns text into markers, so this ends; the cap
  // keeps the cost linear whatever the input.
  for (let pass = 0; pass < 4; pass++) {
    const before = out;
    for (let i = 0; i < RULES.length; i++) if (run.has(i)) out = applyRule(out, RULES[i] as RedactionRule);
    if (out === before) break;
  }
  return out;
}

const WHOLE_MARK = /^\[REDACTED:[a-z0-9_:.-]+\]$/;

/** What a value under a telling key becomes: the content rules' name for it when they saw it all, else the key's. */
function redactUnderKey(value: string | number, keyName: string): string {
  if (typeof value === 'string') {
    if (value === '') return value;
    const r = redact(value);
    if (WHOLE_MARK.test(r)) return r;
  }
  return `[REDACTED:key:${keyName}]`;
}

function markName(key: string): string {
  return key.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
}

interface Frame {
  src: object;
  dst: Record<string, unknown> | unknown[];
  /** The telling key this container sits under, if any: every scalar inside is a secret. */
  under: string | undefined;
}

/**
 * Redacts a JSON value at any depth and returns a copy of the same shape
 * (same keys, same array lengths). Every string is passed through `redact`;
 * under a key that names a secret (`password`, `api_key`, `clientSecret`,
 * `auth`, `credentials`… — see `isTellingKey`) every string and number, at
 * any depth below it, is replaced whole by `[REDACTED:key:<name>]` (or by
 * the rule's own marker when a rule recognized the whole value). Keys that
 * themselves hold a secret are redacted as strings; when two keys redact to
 * the same text, later ones get `#2`, `#3`… so no key is lost.
 *
 * Iterative (an explicit stack): any depth is safe. Shared and cyclic
 * references keep their sharing in the copy. Callers that need bounded input
 * check it first with `checkShape` (`shape.ts`).
 */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (value === null || typeof value !== 'object') return value;
  const seen = new Map<object, Record<string, unknown> | unknown[]>();
  const root = newContainer(value as object);
  seen.set(value as object, root);
  const stack: Frame[] = [{ src: value as object, dst: root, under: undefined }];
  for (let f = stack.pop(); f !== undefined; f = stack.pop()) {
    const { src, dst, under } = f;
    if (Array.isArray(dst)) {
      const arr = src as unknown[];
      const argv = under === undefined ? argvSecrets(arr) : undefined;
      for (let i = 0; i < arr.length; i++) {
        const mark = argv?.get(i);
        dst[i] = mark !== undefined ? mark : child(arr[i], under, stack, seen);
      }
      continue;
    }
    let renamed: Set<string> | undefined;
    for (const key of Object.keys(src)) {
      const v = (src as Record<string, unknown>)[key];
      const k = keyInfo(key);
      let outKey = k.out;
      if (outKey !== key) {
        renamed ??= new Set();
        let n = 2;
        while (renamed.has(outKey) || Object.hasOwn(src, outKey)) outKey = `${k.out}#${n++}`;
        renamed.add(outKey);
      }
      const tell = under ?? k.tell;
      const out = child(v, tell, stack, seen);
      // A `__proto__` key is data here: define it, never let assignment set the prototype.
      if (outKey === '__proto__') Object.defineProperty(dst, outKey, { value: out, enumerable: true, writable: true, configurable: true });
      else (dst as Record<string, unknown>)[outKey] = out;
    }
  }
  return root as T;
}

interface KeyInfo {
  /** The key as stored: redacted when it holds a secret itself. */
  out: string;
  /** The name a telling key gives its values' marker; undefined for other keys. */
  tell: string | undefined;
}

/** Keys repeat across events (`path`, `command`, `exit_code`): what each means is worked out once. */
const keyCache = new Map<string, KeyInfo>();
const KEY_CACHE_MAX = 4096;

function keyInfo(key: string): KeyInfo {
  const hit = keyCache.get(key);
  if (hit) return hit;
  let out = redact(key);
  // A key is a name: one that looks like a random token is a secret used as a name (a map keyed by token).
  if (out === key && looksRandom(key)) out = '[REDACTED:random_token]';
  const info: KeyInfo = { out, tell: isTellingKey(key) ? (out === key ? markName(key) : 'redacted') : undefined };
  // Only short keys are kept: a key that is a secret itself is not worth remembering.
  if (key.length <= 64) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(key, info);
  }
  return info;
}

/** An argument that names what follows it: `--password`, `aws_secret_access_key`, `X-Api-Key:`, `DB_TOKEN`. */
const ARG_KEY = /^(?:-{1,2}[A-Za-z][\w.-]*|[\w.-]*[_.-][\w.-]*:?|[A-Za-z][\w-]*:|[A-Z0-9_]+|[A-Za-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+)$/;
/** What may stand between such an argument and its value: a separator or an auth scheme. */
const ARG_FILLER = /^(?:=|:|=>|bearer|basic|token|digest)$/i;
const MYSQL_FAMILY = /(?:^|\/)(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump)$/;

/**
 * An argument vector keeps a secret's context in the element before it
 * (`["aws", "configure", "set", "aws_secret_access_key", "…"]`,
 * `["--password", "…"]`, `["mysql", "-uroot", "-p…"]`), where per-string
 * rules cannot see it. Returns the elements to replace, by index.
 */
function argvSecrets(arr: readonly unknown[]): Map<number, string> | undefined {
  let out: Map<number, string> | undefined;
  let mysql = false;
  let curl = false;
  for (let i = 0; i < arr.length; i++) {
    const a = arr[i];
    if (typeof a !== 'string' || a.length > 64) continue;
    if (MYSQL_FAMILY.test(a)) mysql = true;
    else if (mysql && /^-p[^\s]/.test(a)) (out ??= new Map()).set(i, '-p[REDACTED:mysql_password]');
    if (/(?:^|\/)curl$/.test(a)) curl = true;
    else if (curl && /^(?:-u|--user|-U|--proxy-user)$/.test(a)) {
      const v = arr[i + 1];
      const colon = typeof v === 'string' ? v.indexOf(':') : -1;
      if (typeof v === 'string' && colon >= 0 && colon < v.length - 1) (out ??= new Map()).set(i + 1, `${v.slice(0, colon)}:[REDACTED:curl_user]`);
    }
    // A plain word (`token`) names a value only when a separator follows it: in prose it is just a word.
    const keyLike = ARG_KEY.test(a) || (typeof arr[i + 1] === 'string' && /^(?:=|:|=>)$/.test(arr[i + 1] as string));
    if (!keyLike || !isTellingKey(a)) continue;
    let j = i + 1;
    while (j < arr.length && typeof arr[j] === 'string' && ARG_FILLER.test(arr[j] as string)) j++;
    const v = arr[j];
    if ((typeof v === 'string' && v !== '' && (!v.startsWith('-') || notAFlag(v))) || typeof v === 'number') {
      (out ??= new Map()).set(j, redactUnderKey(v, markName(a.replace(/^-+|[:=]+$/g, ''))));
      i = j;
    }
  }
  return out;
}

function newContainer(src: object): Record<string, unknown> | unknown[] {
  return Array.isArray(src) ? new Array<unknown>(src.length) : {};
}

function child(v: unknown, under: string | undefined, stack: Frame[], seen: Map<object, Record<string, unknown> | unknown[]>): unknown {
  if (typeof v === 'string') return under !== undefined ? redactUnderKey(v, under) : redact(v);
  if (typeof v === 'number') return under !== undefined ? redactUnderKey(v, under) : v;
  if (v === null || typeof v !== 'object') return v;
  const known = seen.get(v);
  if (known) return known;
  const dst = newContainer(v);
  seen.set(v, dst);
  stack.push({ src: v, dst, under });
  return dst;
}

/**
 * Redaction for recognized text (OCR, speech). Recognizers split tokens with
 * stray spaces ("xoxb-2048 -AbCd", "admin: pass@db", "----- BEGIN"), which
 * hides a secret from the patterns: runs of up to four adjacent tokens are
 * also tried joined, and a run that holds a secret is replaced whole.
 */
export function redactRecognized(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const norm = line.replace(/(-{3,})\s+(?=[A-Z])/g, '$1').replace(/(?<=[A-Z])\s+(-{3,})/g, '$1');
      // Exact rules first, on the line as read: they name the kind best.
      const toks = redact(norm).split(/ +/);
      const joinable = (a: number, b: number) => !toks.slice(a, b).some((t) => t.includes('[REDACTED'));
      const out: string[] = [];
      for (let i = 0; i < toks.length; ) {
        let run: [number, number] | undefined;
        for (let k = 2; k <= 4 && i + k <= toks.length && !run; k++) {
          if (!joinable(i, i + k) || recog(toks.slice(i, i + k).join('')) === toks.slice(i, i + k).join('')) continue;
          // Shortest run that still holds the secret, trimmed from the left.
          let j = i;
          // Prefer the shortest run a named rule recognizes ("sk_live_" + "51Hq…" is a stripe key; with
          // "STRIPE" in front it is only random-looking); else trim while the kind stays the same.
          const named = (a: number) =>
            kinds(recog(toks.slice(a, i + k).join('')))
              .split(',')
              .some((x) => x && x !== 'random_token');
          let best = -1;
          for (let a = i + k - 2; a >= i && best < 0; a--) if (named(a)) best = a;
          if (best >= 0) j = best;
          else {
            const kind = kinds(recog(toks.slice(i, i + k).join('')));
            while (j + 1 < i + k && kinds(recog(toks.slice(j + 1, i + k).join(''))) === kind) j++;
          }
          // A key split in more pieces than the rule needed: take the random-looking pieces that follow.
          let end = i + k;
          while (
            end < toks.length &&
            /^[A-Za-z0-9/+_=.-]{3,}$/.test(toks[end] as string) &&
            /[0-9]/.test(toks[end] as string) &&
            /[a-z]/.test(toks[end] as string) &&
            /[A-Z]/.test(toks[end] as string)
          )
            end++;
          run = [j, end];
        }
        if (!run || run[1] - run[0] < 2) {
          // No split secret here (a whole-token secret is caught by the plain pass below).
          out.push(toks[i++] as string);
          continue;
        }
        out.push(...toks.slice(i, run[0]), recog(toks.slice(run[0], run[1]).join('')));
        i = run[1];
      }
      // A fragment that continues a redacted secret ("… -AbCdEf" after "xoxb-2048…") goes with it.
      return recog(out.join(' ')).replace(/(\[REDACTED:[a-z_]+\])\s+-[A-Za-z0-9_-]{4,}/g, '$1');
    })
    .join('\n');
}

/**
 * A recognizer misreads characters ("AKIAITOS…", "dB/Wbb"), which defeats
 * exact formats; what stays true of a key is that it looks random. Tokens of
 * 20+ characters mixing upper case, lower case and digits are redacted in
 * recognized text. Hex hashes and UUIDs (one case) are kept: they are what
 * people search for.
 */
const RANDOM_TOKEN = /[A-Za-z0-9+/_=.-]{20,}/g;

/** Key formats with the slack a recognizer needs: a misread or extra character still matches. */
const RECOGNIZED_RULES: { kind: string; pattern: RegExp }[] = [
  { kind: 'aws_access_key', pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{12,20}\b/g },
  { kind: 'google_api_key', pattern: /\bAIza[0-9A-Za-z_\-/+]{28,42}/g },
];

function kinds(redacted: string): string {
  return [...redacted.matchAll(/\[REDACTED:([a-z_]+)\]/g)].map((m) => m[1]).join(',');
}

/** The exact rules, then the recognizer-tolerant ones, then random-looking tokens. */
function recog(text: string): string {
  let out = redact(text);
  for (const r of RECOGNIZED_RULES) out = out.replace(r.pattern, `[REDACTED:${r.kind}]`);
  return out.replace(RANDOM_TOKEN, (t) => (looksRandom(t) ? '[REDACTED:random_token]' : t));
}

function looksRandom(t: string): boolean {
  const core = t.replace(/[^A-Za-z0-9]/g, '');
  if (core.length < 20 || !/[a-z]/.test(core) || !/[A-Z]/.test(core) || !/[0-9]/.test(core)) return false;
  // Case changes between letters: identifiers change case a few times (camelCase), keys constantly.
  const letters = core.replace(/[0-9]/g, '');
  let changes = 0;
  for (let i = 1; i < letters.length; i++) if (/[a-z]/.test(letters[i] as string) !== /[a-z]/.test(letters[i - 1] as string)) changes++;
  return letters.length > 0 && changes / letters.length > 0.25;
}

/**
 * Keeps the pieces (words, lines) of a redacted text consistent with it: a
 * piece containing a token that does not survive in `redactedWhole` — a secret
 * only the context gave away — becomes `[REDACTED]` there too.
 */
export function redactPieces(redactedWhole: string, piece: string): string {
  const r = redactRecognized(piece);
  return r
    .split(/(\s+)/)
    .map((t) => (/^\s*$/.test(t) || t.startsWith('[REDACTED') || redactedWhole.includes(t) ? t : '[REDACTED]'))
    .join('');
}
