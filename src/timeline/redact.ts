/**
 * Secret redaction applied to every text before it is indexed, stored as
 * searchable text or uploaded. Each rule replaces a match with
 * `[REDACTED:<kind>]`. Rules are ordered: specific token formats first, then
 * the generic ones (assignments, URLs with passwords).
 */
export interface RedactionRule {
  kind: string;
  pattern: RegExp;
  /** Replace only this capture group (1-based) instead of the whole match. */
  group?: number;
}

export const redactionRules: readonly RedactionRule[] = [
  { kind: 'private_key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g },
  { kind: 'aws_access_key', pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g },
  { kind: 'aws_secret_key', pattern: /(aws_secret_access_key|aws_secret_key|secret_access_key)(\s*[:=]\s*["']?)([A-Za-z0-9/+=]{40})/gi, group: 3 },
  { kind: 'github_token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g },
  { kind: 'gitlab_token', pattern: /\bglpat-[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'npm_token', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { kind: 'slack_token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g },
  { kind: 'slack_webhook', pattern: /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g },
  { kind: 'stripe_key', pattern: /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g },
  { kind: 'openai_key', pattern: /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'google_api_key', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g },
  { kind: 'bearer', pattern: /(\bbearer\s+)([A-Za-z0-9._~+/=-]{12,})/gi, group: 2 },
  { kind: 'basic_auth', pattern: /(\bauthorization:\s*basic\s+)([A-Za-z0-9+/=]{8,})/gi, group: 2 },
  { kind: 'url_password', pattern: /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s@/]+)(@)/gi, group: 2 },
  {
    // .env-style assignments: an upper-case name that says it holds a secret.
    kind: 'env_assignment',
    pattern: /(\b[A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)[A-Z0-9_]*\s*[:=]\s*)(["']?)([^\s"']{4,})(\2)/g,
    group: 3,
  },
  {
    // key: value / key=value with a secret-looking key in any case (JSON, YAML, flags).
    kind: 'password',
    pattern: /(\b(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)["']?\s*[:=]\s*)(["']?)([^\s"',;]{4,})(\2)/gi,
    group: 3,
  },
];

/** Returns `text` with every secret replaced by `[REDACTED:<kind>]`. */
export function redact(text: string): string {
  let out = text;
  for (const rule of redactionRules) {
    rule.pattern.lastIndex = 0;
    if (rule.group === undefined) {
      out = out.replace(rule.pattern, `[REDACTED:${rule.kind}]`);
    } else {
      const g = rule.group;
      out = out.replace(rule.pattern, (...m: unknown[]) => {
        const groups = m.slice(1, -2) as (string | undefined)[];
        if ((groups[g - 1] ?? '').startsWith('[REDACTED:')) return m[0] as string;
        return groups.map((part, i) => (i === g - 1 ? `[REDACTED:${rule.kind}]` : (part ?? ''))).join('');
      });
    }
  }
  return out;
}

/** Redacts every string inside a JSON value (keys are kept). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
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
          const named = (a: number) => kinds(recog(toks.slice(a, i + k).join(''))).split(',').some((x) => x && x !== 'random_token');
          let best = -1;
          for (let a = i + k - 2; a >= i && best < 0; a--) if (named(a)) best = a;
          if (best >= 0) j = best;
          else {
            const kind = kinds(recog(toks.slice(i, i + k).join('')));
            while (j + 1 < i + k && kinds(recog(toks.slice(j + 1, i + k).join(''))) === kind) j++;
          }
          // A key split in more pieces than the rule needed: take the random-looking pieces that follow.
          let end = i + k;
          while (end < toks.length && /^[A-Za-z0-9/+_=.-]{3,}$/.test(toks[end] as string) && /[0-9]/.test(toks[end] as string) && /[a-z]/.test(toks[end] as string) && /[A-Z]/.test(toks[end] as string)) end++;
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
