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
