/**
 * The secret rules behind the redaction gate, as data. Modelled on gitleaks'
 * rule set (each rule: an id, a regex, keywords that must occur before the
 * regex runs, an optional entropy floor for the secret) with patterns ported
 * from gitleaks (MIT) and from secretlint's recommended preset
 * (@secretlint/secretlint-rule-preset-recommend, MIT: aws, gcp, npm, slack,
 * sendgrid, shopify, github, openai, anthropic, linear, 1password, basicauth).
 * secretlint itself is not a dependency: its API is async and file-oriented,
 * and this gate runs synchronously on every event.
 *
 * Every regex here must stay linear on hostile input: no nested quantifiers,
 * no two adjacent quantifiers over overlapping classes, every open-ended run
 * bounded by a class the next token cannot start with. Trailing `\b` is not
 * used after classes that hold `-` or `_`: a key ending in one of them would
 * fail the boundary and leak whole.
 */

export interface RuleMatch {
  /** The whole text the rule ran on (with earlier rules' redactions in it). */
  readonly text: string;
  readonly match: RegExpExecArray;
  /** The secret the rule would replace, and where it lies in `text`. */
  readonly secret: string;
  readonly start: number;
  readonly end: number;
}

export interface RedactionRule {
  /** Stable id: a match becomes `[REDACTED:<id>]`. */
  readonly id: string;
  /** Flags `g` and `d`; `i` where the format is case-insensitive. */
  readonly regex: RegExp;
  /**
   * Strings one of which must occur in the text for the regex to run at all:
   * the cheap prefilter that keeps ordinary text cheap. Written in lower case
   * a keyword matches in any case; with upper case in it, exactly. Empty
   * means always run.
   */
  readonly keywords: readonly string[];
  /**
   * Capture groups that may hold the secret (the first that took part in the
   * match is replaced and the rest of the match kept). None: the whole match.
   */
  readonly groups?: readonly number[];
  /** Minimum Shannon entropy (bits per character) of the secret. */
  readonly entropy?: number;
  /** Says whether a match is a secret; rejects code and references. */
  readonly accept?: (m: RuleMatch) => boolean;
}

/** Shannon entropy of `s` in bits per character. */
export function shannonEntropy(s: string): number {
  if (!s) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

// ----------------------------------------------------------- key = value forms

/** Values that are code or a reference to a secret, never a secret themselves. */
const LITERAL =
  /^(?:null|undefined|none|nil|true|false|yes|no|on|off|await|new|this|self|function|async|yield|typeof|void|return|string|number|boolean|bool|str|int|any|unknown|object|required|optional|include|omit|same-origin|redacted|\*+|x{3,}|\.{3}|<[^>]*>)$/i;
const REFERENCE =
  /^(?:\$\{\{|\$\{[A-Za-z_][\w.]*\}|\$[A-Z_][A-Z0-9_]*$|\$\(|%[A-Za-z_]\w*%|\{\{|process\.env|os\.environ|import\.meta\.env|env\.|ENV\[|secrets\.|vars\.)/;
const IDENT_PATH = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;
const IDENT_NO_DIGIT = /^[A-Za-z_$][A-Za-z_$]*$/;
const KEY_CHAR = /[A-Za-z0-9_.-]/;

/** The whole key a keyword ends (`DATABASE_PASSWORD`, `--api-key`), read back from the keyword. */
function keyBefore(text: string, at: number): string {
  let s = at;
  while (s > 0 && at - s < 64 && KEY_CHAR.test(text[s - 1] as string)) s--;
  return text.slice(s, at);
}

/** A value shaped like a secret: long enough and mixing letters with digits, or random-looking. */
export function looksSecret(v: string): boolean {
  if (v.length < 8) return false;
  if (/[A-Za-z]/.test(v) && /[0-9]/.test(v)) return true;
  return v.length >= 16 && shannonEntropy(v) >= 3.5;
}

/** A value after `--password` that starts with `-` is the next option (`-h`, `--verbose`) unless it looks like a secret. */
export function notAFlag(v: string): boolean {
  return looksSecret(v) && !/^--?[A-Za-z][A-Za-z-]*(?:=.*)?$/.test(v);
}

/**
 * Acceptance for `KEY=value`, `KEY: value`, `"KEY": "value"`, `KEY value` and
 * `--key value`, with groups: 1 keyword, 2 key's closing quote, 3 a `=`/`:`
 * separator, 4 a blank separator, 5 double-quoted value, 6 single-quoted
 * value, 7 bare value.
 */
function acceptAssignment(opts: { envOnly?: boolean }) {
  return ({ text, match, secret, end }: RuleMatch): boolean => {
    const keyword = match[1] ?? '';
    const key = keyBefore(text, match.index) + keyword;
    if (opts.envOnly && !/^[A-Z0-9_]+$/.test(key)) return false;
    if (/^(?:OLD)?PWD$/.test(key)) return false; // the shell's working directory, not a password
    const quoted = match[5] !== undefined || match[6] !== undefined;
    const v = secret;
    if (!v) return false;
    if (REFERENCE.test(v)) return false;
    const next = text[quoted ? end + 1 : end] ?? '';
    if (match[4]) {
      // `KEY value`: a flag takes any value; a bare word must be followed by something secret-shaped.
      if (key.startsWith('-')) return (!v.startsWith('-') || notAFlag(v)) && v.length >= 2 && !LITERAL.test(v);
      // `validateApiKey parsePasswordPolicy` is code: a camelCase name is no key here, nor a camelCase value.
      if (/[a-z][A-Z]/.test(key) || /^[a-z]+(?:[A-Z][a-z]+)+$/.test(v)) return false;
      return looksSecret(v) && !/^(?:\.{0,2}\/|~\/|[a-z]+:\/\/)/.test(v);
    }
    if (quoted) return !LITERAL.test(v);
    const sep = match[3] ?? '';
    const envStyle = !/\s/.test(sep) && sep !== '=>';
    if (LITERAL.test(v)) return false;
    if (v.toLowerCase() === keyword.toLowerCase() || v === key) return false; // f(password=password)
    if (next === '(' || next === '[') return false; // a call or an index: code
    if (envStyle) return v.length >= 2;
    if (v.length < 4 || IDENT_PATH.test(v)) return false;
    // `token: Token;` `secret: SecretRef,` in code: a type or a variable, not a value.
    if (IDENT_NO_DIGIT.test(v) && /^[;,)}|>?&=]?$/.test(next) && next !== '') return false;
    return true;
  };
}

/** An Authorization header's value, unless it is code that reads one (`req.headers.authorization`). */
function acceptHeader({ text, secret, end }: RuleMatch): boolean {
  return (
    !/^(?:bearer|basic|token|digest|apikey|sso-key|negotiate|ntlm)$/i.test(secret) &&
    !REFERENCE.test(secret) &&
    !IDENT_PATH.test(secret) &&
    !LITERAL.test(secret) &&
    text[end] !== '(' &&
    text[end] !== '['
  );
}

const VALUE = String.raw`(?:"((?:[^"\\\n]|\\.){0,1024})"|'((?:[^'\\\n]|\\.){0,1024})'|([^\s"'\x60,;&|()[\]{}<>]{1,1024}))`;
const SEP = String.raw`(["']?)(?:([ \t]*(?:=>|:=|[:=])[ \t]*)|([ \t]+))(?!=)`;
/** As SEP without the blank form; the empty group keeps the group numbers the same. */
const SEP_NO_BLANK = String.raw`(["']?)([ \t]*(?:=>|:=|[:=])[ \t]*)()(?!=)`;
/** Capture groups of a value in the assignment regexes (double quoted, single quoted, bare). */
const VALUE_GROUPS = [5, 6, 7] as const;

const GENERIC_KEY = '(passw(?:or)?d|passphrase|pwd|secret(?:[_-]?key)?|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)';
const ENV_KEY = '(PASSW(?:OR)?D|PASSPHRASE|PWD|SECRET(?:_?KEY)?|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)';
const ASSIGN_KEYWORDS = ['pass', 'pwd', 'secret', 'token', 'key', 'credential'];

// -------------------------------------------------------------------- the rules

/**
 * Ordered: exact token formats first (they name the kind best), then the
 * contextual ones (URLs, headers, command lines), then key = value forms.
 */
export const RULES: readonly RedactionRule[] = [
  {
    id: 'private_key',
    regex: /-----BEGIN[ A-Z0-9]{0,64}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]{0,64}PRIVATE KEY(?: BLOCK)?-----|$)/dg,
    keywords: ['private key'],
  },
  {
    id: 'aws_access_key',
    regex: /(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}(?![A-Z0-9])/dg,
    keywords: ['akia', 'asia', 'agpa', 'aida', 'aroa', 'aipa', 'anpa', 'anva', 'a3t'],
  },
  {
    // 40 characters after a telling name: `aws_secret_access_key = …`, `AWS_SECRET_ACCESS_KEY=…`,
    // `"SecretAccessKey": "…"`, `aws configure set aws_secret_access_key …`.
    id: 'aws_secret_key',
    regex: /secret[_.-]?(?:access[_.-]?)?key["']?(?:[ \t]*(?:=>|[:=])[ \t]*|[ \t]+)["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/dgi,
    keywords: ['secret'],
    groups: [1],
  },
  {
    id: 'github_token',
    regex: /(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})/dg,
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
  },
  { id: 'gitlab_token', regex: /gl(?:pat|dt|rt|ptt|ft|soat)-[A-Za-z0-9_-]{20,}/dg, keywords: ['glpat-', 'gldt-', 'glrt-', 'glptt-', 'glft-', 'glsoat-'] },
  { id: 'npm_token', regex: /npm_[A-Za-z0-9]{36,}/dg, keywords: ['npm_'] },
  { id: 'pypi_token', regex: /pypi-[A-Za-z0-9_-]{50,}/dg, keywords: ['pypi-'] },
  { id: 'slack_token', regex: /\bxox[abposre]-[A-Za-z0-9-]{10,}/dg, keywords: ['xox'] },
  { id: 'slack_webhook', regex: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]+/dg, keywords: ['hooks.slack.com'] },
  { id: 'stripe_key', regex: /\b(?:sk|rk|pk)_(?:live|test|prod)_[A-Za-z0-9]{10,}/dg, keywords: ['_live_', '_test_', '_prod_'] },
  { id: 'anthropic_key', regex: /\bsk-ant-[A-Za-z0-9_-]{20,}/dg, keywords: ['sk-ant-'] },
  { id: 'openai_key', regex: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/dg, keywords: ['sk-'], entropy: 3 },
  // `AIza` + 35: the key may end in `-` or `_`, so no boundary after it.
  { id: 'google_api_key', regex: /AIza[0-9A-Za-z_-]{35}/dg, keywords: ['aiza'] },
  { id: 'sendgrid_key', regex: /\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}/dg, keywords: ['sg.'] },
  // The auth token that follows an account SID (`-u AC…:token`) goes first; then the SID itself.
  // Exact keywords (upper case): `ac` and `sk` are in half of all text once lower-cased.
  { id: 'twilio_auth_token', regex: /\bAC[0-9a-fA-F]{32}:([0-9a-fA-F]{32})\b/dg, keywords: ['AC'], groups: [1] },
  { id: 'twilio_account_sid', regex: /\bAC[0-9a-fA-F]{32}\b/dg, keywords: ['AC'] },
  { id: 'twilio_api_key', regex: /\bSK[0-9a-fA-F]{32}\b/dg, keywords: ['SK'] },
  { id: 'shopify_token', regex: /\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}/dg, keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'] },
  { id: 'linear_key', regex: /\blin_api_[A-Za-z0-9]{40}/dg, keywords: ['lin_api_'] },
  { id: 'onepassword_token', regex: /\bops_eyJ[A-Za-z0-9+/]{64,}={0,3}/dg, keywords: ['ops_eyj'] },
  { id: 'huggingface_token', regex: /\bhf_[A-Za-z0-9]{34,}/dg, keywords: ['hf_'] },
  { id: 'docker_pat', regex: /\bdckr_pat_[A-Za-z0-9_-]{20,}/dg, keywords: ['dckr_pat_'] },
  { id: 'databricks_token', regex: /\bdapi[a-f0-9]{32}(?:-\d)?\b/dg, keywords: ['dapi'] },
  {
    id: 'azure_storage_key',
    regex: /\b(?:AccountKey|SharedAccessKey)[ \t]*=[ \t]*([^;\s"']+)/dgi,
    keywords: ['accountkey', 'sharedaccesskey'],
    groups: [1],
  },
  { id: 'azure_sas', regex: /\bSharedAccessSignature[ \t]*=[ \t]*([^;\s"']+)/dgi, keywords: ['sharedaccesssignature'], groups: [1] },
  { id: 'azure_sas', regex: /[?&]sig=([A-Za-z0-9%+/=_-]{16,})/dg, keywords: ['sig='], groups: [1] },
  { id: 'jwt', regex: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/dg, keywords: ['eyj'] },
  {
    // scheme://user:password@host — the password may itself hold `@`: the last `@` before the path ends it.
    id: 'url_password',
    regex: /\b[a-z][a-z0-9+.-]{0,31}:\/\/[^\s:/@'"]{1,256}:([^\s/?#'"]{1,256})@/dgi,
    keywords: ['://'],
    groups: [1],
  },
  { id: 'bearer', regex: /\bbearer[ \t]+([A-Za-z0-9._~+/=-]{12,})/dgi, keywords: ['bearer'], groups: [1] },
  { id: 'basic_auth', regex: /\bauthorization["']?[ \t]*[:=][ \t]*["'`]?basic[ \t]+([A-Za-z0-9+/=]{8,})/dgi, keywords: ['basic'], groups: [1] },
  {
    // Any other Authorization header value (`token …`, a short bearer, a raw key).
    id: 'authorization',
    regex: /\bauthorization["']?[ \t]*[:=][ \t]*["'`]?(?:(?:bearer|basic|token|digest|apikey|sso-key)[ \t]+)?([^\s"',;]{6,1024})/dgi,
    keywords: ['authorization'],
    groups: [1],
    accept: acceptHeader,
  },
  {
    // mysql -uroot -pS3cret (the password glued to -p), only on mysql-family command lines.
    id: 'mysql_password',
    regex:
      /\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump)\b[^\n|;&]{0,512}?[ \t]-p(?![ \t])("[^"\n]{0,256}"|'[^'\n]{0,256}'|[^\s'"]{1,256})/dg,
    keywords: ['mysql', 'mariadb'],
    groups: [1],
  },
  {
    id: 'curl_user',
    regex: /\bcurl\b[^\n|;&]{0,512}?[ \t](?:-u|--user)[ \t]*["']?[^\s:'"]{1,256}:([^\s'"]{1,256})/dg,
    keywords: ['curl'],
    groups: [1],
  },
  {
    // DATABASE_PASSWORD=…, GITHUB_TOKEN: … — an upper-case name that says it holds a secret.
    id: 'env_assignment',
    regex: new RegExp(ENV_KEY + SEP_NO_BLANK + VALUE, 'gd'),
    keywords: ASSIGN_KEYWORDS,
    groups: VALUE_GROUPS,
    accept: acceptAssignment({ envOnly: true }),
  },
  {
    // password=…, "api_key": "…", token: …, --password …, client_secret …, in any case.
    id: 'secret_assignment',
    regex: new RegExp(GENERIC_KEY + SEP + VALUE, 'gid'),
    keywords: ASSIGN_KEYWORDS,
    groups: VALUE_GROUPS,
    accept: acceptAssignment({}),
  },
];

/**
 * Object keys whose values are secrets whatever they look like: `password`,
 * `dbPassword`, `X-Api-Key`, `client_secret`, `auth`, `credentials`… Tested on
 * the key lower-cased with everything but letters and digits removed, as a
 * suffix: `max_tokens`, `tokenCount`, `author` and `token_type` are not telling.
 */
const TELLING_KEY =
  /(?:password|passwd|passphrase|pwd|secret|secretkey|token|apikey|accesskey|privatekey|clientsecret|auth|authorization|credential|credentials|cookie|sessionkey|signingkey|encryptionkey)$/;

export function isTellingKey(key: string): boolean {
  if (key.length > 128) return false;
  return TELLING_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}
