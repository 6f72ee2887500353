/**
 * Secrets for hostile tests: fresh random values of many kinds (the generator
 * of test/timeline/redact-corpus.test.ts, whose random parts are trimmed here
 * to what is random in every draw), the texts that carry them into each entry
 * point, and a raw-byte scanner that finds any 10-character piece of a planted
 * secret — as it is, base64'd at any alignment (standard and URL alphabet) or
 * URL-encoded — in files and request bodies.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';
export const ALNUM = UPPER + LOWER + DIGITS;
export const HEX = '0123456789abcdef';
export const B64 = ALNUM + '+/';
export const URLSAFE = ALNUM + '_-';

/** `n` characters drawn uniformly from `alphabet` by the system's CSPRNG. */
export function rand(alphabet: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
export const LOWER_ALPHABET = LOWER;
export const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)] as T;
const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/**
 * One planted secret: `value` is what appears in text; `random` is its
 * unpredictable part (a fixed prefix such as `AKIA`, or the base64 of a fixed
 * `deploy:`, is no secret), of which no 10-character piece may survive.
 */
export interface Secret {
  kind: string;
  value: string;
  random: string;
}
const secret = (kind: string, prefix: string, random: string, suffix = ''): Secret => ({ kind, value: prefix + random + suffix, random });

/** Fresh values, every call: 26 secrets of 23 kinds. */
export function makeSecrets(): Secret[] {
  return [
    secret('aws_access_key', pick(['AKIA', 'ASIA']), rand(UPPER + DIGITS, 16)),
    secret('aws_secret_key', '', rand(B64, 40)),
    secret('azure_storage_key', '', rand(B64, 86), '=='),
    secret('azure_sas', '', encodeURIComponent(randomBytes(32).toString('base64'))),
    secret('twilio_api_key', 'SK', rand(HEX, 32)),
    secret('twilio_account_sid', 'AC', rand(HEX, 32)),
    secret('twilio_auth_token', '', rand(HEX, 32)),
    secret('google_api_key', 'AIza', rand(URLSAFE, 34) + pick(['-', '_'])),
    secret('google_api_key', 'AIza', rand(URLSAFE, 35)),
    secret('github_token', pick(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']), rand(ALNUM, 36)),
    secret('github_token', 'github_pat_', rand(ALNUM, 22) + '_' + rand(ALNUM + '_', 59)),
    secret('gitlab_token', 'glpat-', rand(URLSAFE, 20)),
    secret('slack_token', pick(['xoxb-', 'xoxp-', 'xoxa-', 'xoxr-', 'xoxs-']), `${rand(DIGITS, 12)}-${rand(DIGITS, 13)}-${rand(ALNUM, 24)}`),
    secret('slack_webhook', 'https://hooks.slack.com/services/', `T${rand(UPPER + DIGITS, 10)}/B${rand(UPPER + DIGITS, 10)}/${rand(ALNUM, 24)}`),
    secret('stripe_key', pick(['sk_live_', 'rk_live_']), rand(ALNUM, 24 + randomInt(76))),
    secret('openai_key', 'sk-', rand(ALNUM, 48)),
    secret('openai_key', 'sk-proj-', rand(URLSAFE, 74) + 'T3BlbkFJ' + rand(URLSAFE, 74)),
    secret('anthropic_key', 'sk-ant-api03-', rand(URLSAFE, 93), 'AA'),
    secret('npm_token', 'npm_', rand(ALNUM, 36)),
    secret('pypi_token', 'pypi-AgEIcHlwaS5vcmc', rand(URLSAFE, 60 + randomInt(100))),
    secret('sendgrid_key', 'SG.', `${rand(URLSAFE, 22)}.${rand(URLSAFE, 43)}`),
    (() => {
      const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
      const payload = b64url(JSON.stringify({ sub: randomUUID(), iat: randomInt(2 ** 31), nonce: rand(ALNUM, 12) }));
      const sig = b64url(randomBytes(32));
      // The payload's base64 holds fixed JSON at fixed alignments: only the signature is random in every draw.
      return { kind: 'jwt', value: `${header}.${payload}.${sig}`, random: sig };
    })(),
    (() => {
      const body =
        randomBytes(600)
          .toString('base64')
          .match(/.{1,64}/g)
          ?.join('\n') ?? '';
      const type = pick(['RSA ', 'EC ', 'OPENSSH ', '', 'ENCRYPTED ']);
      return { kind: 'private_key', value: `-----BEGIN ${type}PRIVATE KEY-----\n${body}\n-----END ${type}PRIVATE KEY-----`, random: body.replace(/\n/g, '') };
    })(),
    secret('password', '', rand(ALNUM + '!$*_~-', 20)),
    (() => {
      const value = Buffer.from(`deploy:${rand(ALNUM, 20)}`).toString('base64');
      // The first 9 characters encode `deploy:`; the 10th mixes in the first random byte.
      return { kind: 'basic_auth', value, random: value.slice(10) };
    })(),
    secret('bearer', '', rand(URLSAFE + '.', 40)),
  ];
}

export const kindCount = (xs: readonly Secret[]): number => new Set(xs.map((s) => s.kind)).size;

/**
 * The secret in a line of text where the rules must know it: bare for the
 * formats known alone, after its telling name for those that are secrets
 * only by context (a bare 40-character base64 string is not an AWS key).
 */
export function inText(s: Secret): string {
  const v = s.value;
  switch (s.kind) {
    case 'aws_secret_key':
      return `aws_secret_access_key = ${v}`;
    case 'azure_storage_key':
      return `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${v};EndpointSuffix=core.windows.net`;
    case 'azure_sas':
      return `https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sr=b&sig=${v}`;
    case 'twilio_auth_token':
      return `TWILIO_AUTH_TOKEN=${v}`;
    case 'password':
      return `password=${v}`;
    case 'basic_auth':
      return `Authorization: Basic ${v}`;
    case 'bearer':
      return `Authorization: Bearer ${v}`;
    case 'private_key':
      return v;
    default:
      return `using ${v} here`;
  }
}

/** The secret in a file (or folder) name, or undefined when no name can hold it (a `/`, a newline, too long). */
export function inFileName(s: Secret): string | undefined {
  const v = s.value;
  let name: string;
  switch (s.kind) {
    case 'aws_secret_key':
      name = `aws_secret_access_key=${v}.txt`;
      break;
    case 'azure_storage_key':
      name = `AccountKey=${v}.txt`;
      break;
    case 'azure_sas':
      // What wget names a download: the URL's last segment with its query.
      name = `f.txt?sv=2022-11-02&sig=${v}`;
      break;
    case 'twilio_auth_token':
      name = `TWILIO_AUTH_TOKEN=${v}.txt`;
      break;
    case 'password':
      name = `password=${v}.txt`;
      break;
    case 'basic_auth':
      name = `Authorization: Basic ${v}.txt`;
      break;
    case 'bearer':
      name = `Authorization: Bearer ${v}.txt`;
      break;
    default:
      name = `notes-${v}.txt`;
  }
  return /[/\n\0]/.test(name) || Buffer.byteLength(name) > 240 ? undefined : name;
}

/**
 * Secrets that fit in file names: every kind a name can hold, drawn again
 * until its random part has no `/` (base64 kinds hold one half the time).
 */
export function makeFileNameSecrets(): Secret[] {
  const out: (Secret | undefined)[] = makeSecrets().map(() => undefined);
  for (let round = 0; round < 60; round++) {
    makeSecrets().forEach((s, i) => {
      if (out[i] === undefined && inFileName(s) !== undefined) out[i] = s;
    });
  }
  return out.filter((s): s is Secret => s !== undefined);
}

/** A shell command line that uses the secret the way people do. */
export function inCommand(s: Secret): string {
  const v = s.value;
  switch (s.kind) {
    case 'aws_secret_key':
      return `aws configure set aws_secret_access_key ${v}`;
    case 'github_token':
      return `export GITHUB_TOKEN=${v}`;
    case 'password':
      return `mysql -h 127.0.0.1 -u root -p'${v}' app_production`;
    case 'bearer':
      return `curl -s -m 1 -H "Authorization: Bearer ${v}" http://127.0.0.1:9/api`;
    case 'basic_auth':
      return `curl -s -m 1 -H "Authorization: Basic ${v}" http://127.0.0.1:9/api`;
    case 'azure_storage_key':
      return `export AZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${v}'`;
    case 'azure_sas':
      return `curl -s -m 1 'http://127.0.0.1:9/c/f.txt?sv=2022-11-02&sr=b&sig=${v}'`;
    case 'twilio_auth_token':
      return `TWILIO_AUTH_TOKEN=${v} true`;
    case 'private_key':
      return `printf '%s\\n' '${v}' > /dev/null`;
    default:
      return `echo '${v}' > /dev/null`;
  }
}

/** JSON with `leaf` at depth `depth`, under keys that say nothing. */
export function deep(leaf: unknown, depth: number): unknown {
  let out: unknown = { value: leaf, note: 'planted', n: 1 };
  for (let i = 0; i < depth; i++) out = i % 2 ? { level: i, child: out } : [`item ${i}`, out];
  return out;
}

/** JSON with the object `obj` as the innermost level of `depth` levels. */
export function deepObject(obj: Record<string, unknown>, depth: number): unknown {
  let out: unknown = obj;
  for (let i = 0; i < depth; i++) out = i % 2 ? { level: i, child: out } : [`item ${i}`, out];
  return out;
}

// ------------------------------------------------------------------ the scan

export const PIECE = 10;

interface Planted {
  entry: string;
  secret: Secret;
}

export interface Leak {
  entry: string;
  kind: string;
  /** Where the piece was found: a file (relative to the scan root) or a request. */
  where: string;
  offset: number;
  /** raw, base64, base64url or urlencoded. */
  form: string;
  /** The bytes around the hit, escaped (test secrets: printing them is fine). */
  context: string;
}

/** The text forms a secret may take on its way to a file or a request body. */
function forms(random: string): [string, string][] {
  const out: [string, string][] = [['raw', random]];
  const bytes = Buffer.from(random, 'utf8');
  for (const [name, enc] of [
    ['base64', 'base64'],
    ['base64url', 'base64url'],
  ] as const) {
    // Inside a larger base64 text the secret starts at any of three byte alignments: drop the
    // 4-character groups that mix in the neighbours' bytes, keep the core every alignment gives.
    for (let k = 0; k < 3; k++) {
      const s = Buffer.concat([Buffer.alloc(k, 0x41), bytes])
        .toString(enc)
        .replace(/=+$/, '');
      const core = s.slice(k ? 4 : 0, s.length - 4);
      if (core.length >= PIECE) out.push([name, core]);
    }
  }
  const url = encodeURIComponent(random);
  if (url !== random) out.push(['urlencoded', url]);
  return out;
}

/**
 * Remembers what was planted where and finds it again: every 10-character
 * piece of every form of every planted secret goes in one map, and a scan
 * slides a 10-byte window over the bytes (latin1, so bytes and characters are
 * one to one; every piece is ASCII).
 */
export class LeakScanner {
  private readonly planted: Planted[] = [];
  private readonly pieces = new Map<string, { p: number; form: string }[]>();
  readonly leaks: Leak[] = [];
  private readonly leakedSet = new Set<number>();
  scannedBytes = 0;
  scannedFiles = 0;

  plant(entry: string, secret: Secret): void {
    const p = this.planted.length;
    this.planted.push({ entry, secret });
    for (const [form, text] of forms(secret.random)) {
      for (let i = 0; i + PIECE <= text.length; i++) {
        const piece = text.slice(i, i + PIECE);
        const list = this.pieces.get(piece) ?? [];
        if (!list.some((x) => x.p === p)) list.push({ p, form });
        this.pieces.set(piece, list);
      }
    }
  }

  entries(): string[] {
    return [...new Set(this.planted.map((x) => x.entry))];
  }

  plantedIn(entry: string): Secret[] {
    return this.planted.filter((x) => x.entry === entry).map((x) => x.secret);
  }

  leakedIn(entry: string): Secret[] {
    return this.planted.filter((x, i) => x.entry === entry && this.leakedSet.has(i)).map((x) => x.secret);
  }

  scan(where: string, buf: Buffer): void {
    this.scannedBytes += buf.length;
    this.scannedFiles++;
    const s = buf.toString('latin1');
    // One hit per secret per place is enough to name it.
    const seen = new Set<number>();
    for (let i = 0; i + PIECE <= s.length; i++) {
      const hits = this.pieces.get(s.slice(i, i + PIECE));
      if (!hits) continue;
      for (const h of hits) {
        if (seen.has(h.p)) continue;
        seen.add(h.p);
        this.leakedSet.add(h.p);
        const pl = this.planted[h.p] as Planted;
        this.leaks.push({
          entry: pl.entry,
          kind: pl.secret.kind,
          where,
          offset: i,
          form: h.form,
          context: JSON.stringify(s.slice(Math.max(0, i - 60), i + PIECE + 30)),
        });
      }
    }
  }

  /** Every regular file under `root` (symlinks, sockets and FIFOs are not read). */
  scanTree(root: string, label = path.basename(root)): void {
    const walk = (dir: string) => {
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        return;
      }
      for (const n of names) {
        const p = path.join(dir, n);
        const st = fs.lstatSync(p, { throwIfNoEntry: false });
        if (!st) continue;
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) this.scan(`${label}/${path.relative(root, p)}`, fs.readFileSync(p));
      }
    };
    walk(root);
  }
}
