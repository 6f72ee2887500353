/**
 * The redaction gate under attack: a corpus of secret kinds with fresh random
 * values on every run, planted in the places they turn up (shell commands,
 * JSON at depth, log lines, connection strings, URLs), must leave no secret
 * and no 8-character piece of one; a corpus of ordinary code text must come
 * through almost untouched; and hostile 256 KiB inputs must stay linear.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redact, redactDeep, redactionRules } from '../../src/timeline/redact.js';
import { HEX, LOWER, makeSecrets, pick, rand, type Secret, UPPER } from '../helpers/secrets.js';

// The generator is shared with the raw-byte secrets test: fresh values of 23 kinds, every run.

/** Every realistic place a secret of this kind turns up: the texts `redact` sees. */
function contexts(s: Secret): string[] {
  const v = s.value;
  const log = (line: string) => `2026-03-14T09:26:53.589Z INFO  [worker-3] ${line}`;
  const common = [`export SECRET_VALUE_${s.kind.toUpperCase()}=${v}`, log(`loaded credential ${v} from keychain`), `echo "${v}" | pbcopy`];
  switch (s.kind) {
    case 'aws_secret_key':
      return [
        `aws configure set aws_secret_access_key ${v}`,
        `export AWS_SECRET_ACCESS_KEY=${v}`,
        JSON.stringify({ aws_secret_access_key: v }),
        `{ "AccessKeyId": "ASIA${rand(UPPER, 16)}", "SecretAccessKey": "${v}" }`,
        `[default]\naws_access_key_id = AKIA${rand(UPPER, 16)}\naws_secret_access_key = ${v}\n`,
        `s3 = boto3.client("s3", aws_secret_access_key="${v}")`,
      ];
    case 'azure_storage_key':
      return [
        `DefaultEndpointsProtocol=https;AccountName=st${rand(LOWER, 8)};AccountKey=${v};EndpointSuffix=core.windows.net`,
        `az storage blob list --connection-string "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${v}"`,
        `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${v}`,
      ];
    case 'azure_sas':
      return [
        `BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2026-01-01T00:00:00Z&spr=https&sig=${v}`,
        `curl "https://acct.blob.core.windows.net/c/file.txt?sv=2022-11-02&sp=r&sr=b&sig=${v}"`,
      ];
    case 'twilio_auth_token':
      return [
        `curl -X POST https://api.twilio.com/2010-04-01/Accounts -u AC${rand(HEX, 32)}:${v}`,
        `TWILIO_AUTH_TOKEN=${v} node send.js`,
        JSON.stringify({ twilio: { accountSid: `AC${rand(HEX, 32)}`, authToken: v } }),
        `twilio login --auth-token ${v}`,
      ];
    case 'twilio_account_sid':
      return [`client = Client("${v}", token)`, `TWILIO_ACCOUNT_SID=${v}`, ...common];
    case 'password':
      return [
        `mysql -h db.internal -u root -p${v} app_production`,
        `mysqldump --user=admin --password=${v} app > dump.sql`,
        `mariadb -uroot -p'${v}' -e "show databases"`,
        `psql "postgresql://app:${v}@db.internal:5432/app?sslmode=require"`,
        `git clone https://deploy:${v}@git.example.com/team/app.git`,
        `redis-cli -u redis://default:${v}@cache:6379`,
        `PASSWORD=${v}`,
        `DB_PASSWORD="${v}" npm run migrate`,
        `password: ${v}`,
        `  db_password: '${v}'`,
        `--password ${v}`,
        `docker login -u me --password ${v} registry.example.com`,
        JSON.stringify({ user: 'app', password: v }),
        JSON.stringify({ api_key: v }),
        `{"client_secret": "${v}", "client_id": "abc"}`,
        `client_secret ${v}`,
        `curl -d 'grant_type=client_credentials&client_secret=${v}' https://auth.example.com/token`,
        `Server=tcp:db.example.com,1433;Database=app;User ID=sa;Password=${v};Encrypt=true`,
        `host=db port=5432 user=app password=${v} dbname=app`,
        `const apiKey = "${v}";`,
        `token = '${v}'`,
        `secret=${v}`,
        `curl -u admin:${v} https://jenkins.example.com/api/json`,
        `passphrase: ${v}`,
        `export NPM_TOKEN=${v}`,
        `X-Api-Key: ${v}`,
        `private_key=${v}`,
        `credentials=${v}`,
        log(`login failed for user=admin password=${v}`),
      ];
    case 'basic_auth':
      return [
        `curl -H "Authorization: Basic ${v}" https://api.example.com`,
        `Authorization: Basic ${v}`,
        JSON.stringify({ headers: { Authorization: `Basic ${v}` } }),
      ];
    case 'bearer':
      return [
        `curl -H "Authorization: Bearer ${v}" https://api.example.com/v1/me`,
        `Authorization: bearer ${v}`,
        log(`request headers: {"authorization":"Bearer ${v}"}`),
        `http GET api.example.com Authorization:"Bearer ${v}"`,
        `Authorization: token ${v}`,
      ];
    case 'private_key':
      return [v, JSON.stringify({ type: 'service_account', private_key: v }), `cat ~/.ssh/id_ed25519\n${v}\n$ ls`];
    default:
      return [
        ...common,
        `curl -H "Authorization: token ${v}" https://api.example.com`,
        JSON.stringify({ config: { key: v } }),
        `https://example.com/callback?key=${v}&state=xyz`,
        `KEY ${v} added`,
        `'${v}'`,
        v,
      ];
  }
}

/** Every 8-character piece of the random part of a secret. */
function pieces(random: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 8 <= random.length; i++) out.push(random.slice(i, i + 8));
  return out;
}

function leaks(out: string, s: Secret): string[] {
  const found = out.includes(s.value) ? [s.value] : [];
  for (const p of pieces(s.random)) if (out.includes(p)) found.push(p);
  return found;
}

/** A command line split as a shell would (quotes join words and are removed): an argument vector. */
function shellWords(line: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote = '';
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = '';
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else word = (word ?? '') + ch;
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** A context that is a command line, as the argument vector a process would get; anything else whole. */
function asCommand(text: string): string[] {
  return /^[a-z][\w.-]*\s/.test(text) && !/[{\n]|BEGIN/.test(text) ? shellWords(text) : [text];
}

/** JSON with the secret at depth 10, under a key that says nothing (`value`). */
function deep(v: unknown, depth: number): unknown {
  let out: unknown = { value: v, note: 'planted', n: 1 };
  for (let i = 0; i < depth; i++) out = i % 2 ? { level: i, child: out } : [`item ${i}`, out];
  return out;
}

describe('redaction corpus: secrets with fresh random values', () => {
  const secrets = makeSecrets();

  it('plants at least 17 kinds', () => {
    expect(new Set(secrets.map((s) => s.kind)).size).toBeGreaterThanOrEqual(17);
  });

  it('leaves no secret, and no 8-character piece of one, in any context (redact)', () => {
    const failures: string[] = [];
    let planted = 0;
    for (const s of secrets) {
      for (const text of contexts(s)) {
        planted++;
        const out = redact(text);
        const l = leaks(out, s);
        if (l.length) failures.push(`${s.kind}: ${JSON.stringify(text.slice(0, 160))}\n  -> ${JSON.stringify(out.slice(0, 200))}`);
        if (!out.includes('[REDACTED:')) failures.push(`${s.kind}: no marker in ${JSON.stringify(out.slice(0, 160))}`);
      }
    }
    console.log(`redaction corpus: ${failures.length} leaks / ${planted} planted (${new Set(secrets.map((s) => s.kind)).size} kinds)`);
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('leaves none in event data at depth 10, as values and inside strings (redactDeep)', () => {
    const failures: string[] = [];
    for (const s of secrets) {
      for (const text of contexts(s)) {
        const data = { command: 'run', args: deep(text, 10), argv: asCommand(text) };
        const out = JSON.stringify(redactDeep(data));
        if (leaks(out, s).length) failures.push(`${s.kind}: ${out.slice(0, 300)}`);
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('redacts keys that are secrets themselves, keeping every key', () => {
    for (const s of secrets) {
      // A bare hex or base64 string is a secret only by context: keys are held to the formats known alone.
      if (leaks(redact(s.value), s).length > 0) continue;
      const key = s.value;
      const out = redactDeep(deep({ [key]: 'first-value', [`${key} (copy)`]: 'second-value', plain: 1 }, 10));
      const json = JSON.stringify(out);
      expect(leaks(json, s), `${s.kind}: ${json.slice(0, 300)}`).toEqual([]);
      expect(json).toContain('"plain":1');
      expect(json).toContain('"first-value"');
      expect(json).toContain('"second-value"');
    }
  });

  it('redacts values under telling keys whole, at any depth, strings and numbers alike', () => {
    const v = rand(LOWER, 12); // no shape a content rule would know
    const pin = randomInt(10_000_000, 99_999_999);
    const keys = [
      'password',
      'Password',
      'db_password',
      'dbPassword',
      'secret',
      'client_secret',
      'clientSecret',
      'token',
      'access_token',
      'refreshToken',
      'api_key',
      'apiKey',
      'API-KEY',
      'x-api-key',
      'apikey',
      'access_key',
      'secret_key',
      'private_key',
      'privateKey',
      'auth',
      'Authorization',
      'credentials',
      'passphrase',
      'PASSWD',
      'pwd',
    ];
    for (const key of keys) {
      const data = deep({ [key]: v, sibling: { [key]: pin } }, 10);
      const out = JSON.stringify(redactDeep(data));
      expect(out, key).not.toContain(v);
      expect(out, key).not.toContain(String(pin));
      expect(out, key).toContain(`[REDACTED:key:`);
    }
    expect(redactDeep({ credentials: { user: 'deploy', pass: v, port: 22 } })).toEqual({
      credentials: { user: '[REDACTED:key:credentials]', pass: '[REDACTED:key:credentials]', port: '[REDACTED:key:credentials]' },
    });
    // What is not a secret stays: counts, types, authors, booleans.
    expect(redactDeep({ max_tokens: 4096, token_type: 'bearer', tokenCount: 12, author: 'Ada', auth: true, keys: ['a'] })).toEqual({
      max_tokens: 4096,
      token_type: 'bearer',
      tokenCount: 12,
      author: 'Ada',
      auth: true,
      keys: ['a'],
    });
  });

  it('catches every kind over many fresh values (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer(), () => {
        for (const s of makeSecrets()) {
          const text = pick(contexts(s));
          const out = redact(text);
          if (leaks(out, s).length) throw new Error(`${s.kind} leaked: ${text} -> ${out}`);
        }
      }),
      { numRuns: 150 },
    );
  });
});

/** Ordinary developer text: what people search for, and must find. */
function ordinaryCorpus(): string[] {
  const hex = (n: number) => randomBytes(n).toString('hex');
  const lines = [
    `commit ${hex(20)}`,
    `Merge: ${hex(4).slice(0, 7)} ${hex(4).slice(0, 7)}`,
    `git checkout -b fix/${randomUUID().slice(0, 8)} && git rebase -i HEAD~3`,
    `git log --oneline -n 20 --author="Ada Lovelace"`,
    `${hex(4).slice(0, 7)} Fix cache invalidation when the session token expires (#1234)`,
    `session ${randomUUID()} started at 2026-01-01T12:00:00.000Z`,
    `request-id: ${randomUUID()} trace=${hex(16)}`,
    `invalidateCacheEntries getUserSessionToken refreshAccessToken validateApiKey parsePasswordPolicy`,
    `src/cache/invalidate-entries.ts src/auth/token-store.ts test/auth/password-reset.test.ts`,
    `/home/ada/projects/traced/node_modules/.pnpm/vitest@5.1.1/node_modules/vitest/dist/index.js`,
    `C:\\Users\\ada\\AppData\\Local\\Temp\\traced-${hex(3)}\\session.json`,
    `echo ${Buffer.from('hello').toString('base64')} ${Buffer.from('world!').toString('base64')} ${Buffer.from('traced').toString('base64')} | base64 -d`,
    `npm install --save-dev @types/node@22.20.5 vitest@5.1.1 @modelcontextprotocol/sdk lodash.debounce`,
    `added 312 packages, and audited 313 packages in 4s; found 0 vulnerabilities`,
    `v1.2.3 1.0.0-beta.4 ^22.13.0 ~5.1.1 >=22.13 2.0.0-rc.1+build.${randomInt(999)}`,
    `2026-03-14T09:26:53.589Z 2026-03-14 09:26:53 Sat, 14 Mar 2026 09:26:53 GMT 1741944413589`,
    `color: #ff00aa; background: rgb(12, 34, 56); border-color: #${hex(3)}; fill: hsl(210 40% 50%);`,
    `2026-03-14T09:26:53.589Z INFO  [http] GET /api/sessions?limit=50&cursor=${randomInt(9999)} 200 12ms`,
    `2026-03-14T09:26:53.589Z WARN  [queue] upload retry 3/5 in 2000ms (ECONNRESET)`,
    `2026-03-14T09:26:53.589Z ERROR [auth] token expired for user ada@example.com; please sign in again`,
    `src/cache.ts(42,17): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.`,
    `src/auth/session.ts(7,3): error TS2322: Type 'Token | undefined' is not assignable to type 'Token'.`,
    `const token = await getToken(); invalidateCache(store.ts)`,
    `const password = process.env.DB_PASSWORD ?? '';`,
    `if (!password) throw new Error('missing password');`,
    `export function validateApiKey(key: string): boolean { return key.length > 0; }`,
    `headers.authorization = \`Bearer \${token}\`;`,
    `interface Login { user: string; password: string; token?: Token; remember: boolean }`,
    `  secret: Secret;`,
    `fetch(url, { credentials: 'include', headers: { 'Content-Type': 'application/json' } })`,
    `docker run --rm -p 8080:80 -v $PWD:/app nginx:1.27-alpine`,
    `ssh -p 2222 deploy@build.example.com 'cd /srv/app && git pull'`,
    `PWD=/home/ada/projects/traced OLDPWD=/home/ada`,
    `https://github.com/org/repo/pull/123#issuecomment-${randomInt(99999999)}`,
    `http://localhost:3000/api/session?id=42&token_type=bearer`,
    `sha256:${hex(32)}`,
    `integrity sha512-${randomBytes(48).toString('base64')}`,
    `pnpm --filter @traced/cli test -- --grep "redacts the password field"`,
    `✓ test/timeline/query-redact.test.ts (16 tests) 12ms`,
    `FAIL test/auth/token.test.ts > refreshes the access token before it expires`,
    `Error: ENOENT: no such file or directory, open '/tmp/session-${hex(4)}/events.jsonl'`,
    `    at Object.openSync (node:fs:573:18)`,
    `Password reset email sent. The secret sauce is patience. Token budget: 4096 tokens.`,
    `aws s3 ls s3://my-bucket/logs/ --region eu-west-1 --profile dev`,
    `kubectl get secrets -n production -o wide`,
    `max_tokens=4096 temperature=0.2 top_p=0.9`,
    `function hashPassword(password: string, salt: Buffer): Promise<Buffer> {`,
    `const secretName = 'prod/db'; const keyId = 'alias/app';`,
    `ls -la ~/.ssh && cat ~/.gitconfig`,
    `mysql --version; mysql -u root -p`,
    `SELECT id, email FROM users WHERE created_at > '2026-01-01' ORDER BY id LIMIT 50;`,
    `https://www.example.com/search?q=password+manager&page=2`,
  ];
  return lines;
}

describe('false positives on ordinary code text', () => {
  it('redacts under 1% of the tokens of ordinary developer text', () => {
    let total = 0;
    let redacted = 0;
    const hits: string[] = [];
    for (let round = 0; round < 5; round++) {
      for (const line of ordinaryCorpus()) {
        const out = redact(line);
        const tokens = line.split(/\s+/).filter(Boolean);
        total += tokens.length;
        const n = (out.match(/\[REDACTED:/g) ?? []).length;
        redacted += n;
        if (n) hits.push(`${line} -> ${out}`);
      }
    }
    const rate = redacted / total;
    console.log(
      `false positives: ${redacted} redacted tokens / ${total} tokens = ${(rate * 100).toFixed(2)}%${hits.length ? `\n  ${[...new Set(hits)].join('\n  ')}` : ''}`,
    );
    expect(rate).toBeLessThan(0.01);
  });

  it("redacts under 1% of the tokens of this project's own source and docs", () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      if (!fs.existsSync(dir)) return;
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        // The redaction code itself is made of patterns: it is not ordinary text.
        else if (/\.(?:ts|mjs|md)$/.test(e.name) && !e.name.startsWith('redact')) files.push(p);
      }
    };
    for (const d of ['src', 'docs', 'bench']) walk(d);
    let total = 0;
    let redacted = 0;
    for (const f of files) {
      for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
        total += line.split(/\s+/).filter(Boolean).length;
        redacted += (redact(line).match(/\[REDACTED:/g) ?? []).length - (line.match(/\[REDACTED:/g) ?? []).length;
      }
    }
    console.log(`false positives in ${files.length} source files: ${redacted} / ${total} tokens = ${((redacted / total) * 100).toFixed(3)}%`);
    expect(total).toBeGreaterThan(10_000);
    expect(redacted / total).toBeLessThan(0.01);
  });

  it('keeps the text around a secret exactly', () => {
    expect(redact('postgres://admin:s3cretpass@db.local/app')).toBe('postgres://admin:[REDACTED:url_password]@db.local/app');
    expect(redact('mysql -u root -pS3cretPass1 app')).toBe('mysql -u root -p[REDACTED:mysql_password] app');
    expect(redact('AccountName=a;AccountKey=abcd1234abcd1234==;EndpointSuffix=core.windows.net')).toBe(
      'AccountName=a;AccountKey=[REDACTED:azure_storage_key];EndpointSuffix=core.windows.net',
    );
  });
});

describe('hostile input stays linear', () => {
  const N = 256 * 1024;
  const rep = (s: string) => s.repeat(Math.ceil(N / s.length)).slice(0, N);
  const inputs: Record<string, string> = {
    'repeated assignments': rep('password='),
    'keyword then blanks': 'password' + ' '.repeat(N),
    'unterminated quote': '"password": "' + 'a'.repeat(N),
    'escapes in a quote': rep('token="\\'),
    colons: rep('a:'),
    'mysql flags': 'mysql ' + rep(' -'),
    'URL user part': 'https://' + rep('a:'),
    'many URLs': rep('http://a:b'),
    'PEM without end': '-----BEGIN PRIVATE KEY-----' + 'a'.repeat(N),
    'PEM headers': rep('-----BEGIN PRIVATE KEY-----'),
    'JWT prefix': 'eyJ' + 'a'.repeat(N) + '.',
    'key prefixes': rep('sk-xoxb-ghp_AIza'),
    'tabs after key': 'secret_key' + '\t'.repeat(N) + 'x',
    'printable noise': Array.from({ length: N }, (_, i) => String.fromCharCode(32 + ((i * 7919) % 95))).join(''),
  };
  for (const [name, text] of Object.entries(inputs)) {
    it(`${name}: 256 KiB in well under a second`, () => {
      const t = performance.now();
      redact(text);
      expect(performance.now() - t).toBeLessThan(1000);
    });
  }

  it('every rule is a global regex with indices and only lower-case or exact keywords', () => {
    for (const r of redactionRules) {
      expect(r.regex.flags, r.id).toContain('g');
      expect(r.regex.flags, r.id).toContain('d');
    }
  });
});

describe('redact properties (fast-check)', () => {
  it('never throws, and redacting twice changes nothing', () => {
    const secrets = makeSecrets().map((s) => s.value);
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .array(
          fc.oneof(
            fc.constantFrom(...secrets, 'password=', 'token ', ' -p', 'mysql ', '://', ':', '@', '"', "'", 'Bearer ', 'Authorization: '),
            fc.string({ maxLength: 12 }),
          ),
          { maxLength: 12 },
        )
        .map((xs) => xs.join('')),
    );
    fc.assert(
      fc.property(text, (s) => {
        const once = redact(s);
        expect(redact(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });
});
