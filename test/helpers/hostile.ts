/**
 * Helpers for test/hostile: an arena (one temp parent holding TRACED_HOME, a
 * git project, a fake $HOME, $TMPDIR and the callers' working directory, so a
 * write anywhere but TRACED_HOME lands somewhere a snapshot sees), a daemon
 * started with its cwd inside the arena, file-system snapshots, and
 * fast-check arbitraries generated from an operation's JSON Schema (valid,
 * boundary and hostile inputs).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { BIN, git, socketAnswers, waitFor, type DaemonProc, type Home } from './env.js';

// ---------------------------------------------------------------- the arena

export interface Arena extends Home {
  /** The temp parent: everything the daemon may touch lives under it (or under /tmp, snapshotted too). */
  root: string;
  repo: string;
  /** The callers' working directory, two levels down so `../../x` still lands inside `root`. */
  cwd: string;
  userHome: string;
  tmp: string;
}

/**
 * A temp parent with TRACED_HOME, a git project with a few commits, a fake
 * $HOME and $TMPDIR, and a cwd two levels down. The daemon and `traced mcp`
 * get this env, so their own temp files and dotfiles are observable too.
 */
export async function makeArena(prefix: string): Promise<Arena> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const home = path.join(root, 'home');
  const repo = path.join(root, 'proj');
  const cwd = path.join(root, 'cwd', 'a', 'b');
  const userHome = path.join(root, 'user');
  const tmp = path.join(root, 'tmp');
  for (const d of [home, repo, cwd, userHome, tmp]) fs.mkdirSync(d, { recursive: true });
  await git(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), '# hostile\n');
  fs.writeFileSync(path.join(repo, '.gitignore'), 'ignored/\n*.log\n');
  fs.mkdirSync(path.join(repo, 'src'));
  fs.writeFileSync(path.join(repo, 'src', 'main.ts'), 'export const main = () => 1;\n');
  await git(repo, 'add', '.');
  await git(repo, 'commit', '-qm', 'initial commit');
  fs.writeFileSync(path.join(repo, 'src', 'parser.ts'), 'export function parse(s: string) { return s; }\n');
  await git(repo, 'add', '.');
  await git(repo, 'commit', '-qm', 'Teach the parser about strings');
  const env: NodeJS.ProcessEnv = { ...process.env, TRACED_HOME: home, TRACED_LOG_LEVEL: 'info', HOME: userHome, TMPDIR: tmp, TMP: tmp, TEMP: tmp };
  for (const k of [
    'TRACED_SOCKET_DIR',
    'DISPLAY',
    'WAYLAND_DISPLAY',
    'XDG_RUNTIME_DIR',
    'XDG_DATA_HOME',
    'XDG_CONFIG_HOME',
    'XDG_CACHE_HOME',
    'VIDEO_DB_API_KEY',
    'PULSE_SERVER',
    'CLAUDE_CONFIG_DIR',
  ])
    delete env[k];
  return { root, home, repo, cwd, userHome, tmp, socket: path.join(home, 'run', 'traced.sock'), env };
}

/**
 * `traced daemon` in the foreground with its working directory in the arena
 * (relative paths land there); under strace (see {@link straceArgs}) when
 * `straceLog` is given. Under strace `child` is strace: ask `status` for the
 * daemon's own pid.
 */
export async function startArenaDaemon(a: Arena, straceLog?: string): Promise<DaemonProc> {
  const argv = [...(straceLog ? straceArgs(straceLog) : []), process.execPath, BIN, 'daemon'];
  const child = spawn(argv[0] as string, argv.slice(1), { env: a.env, cwd: a.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  await waitFor(
    async () => {
      if (dead) throw new Error(`daemon exited: ${err}`);
      return socketAnswers(a.socket);
    },
    { timeoutMs: 20_000, what: 'daemon socket' },
  );
  return { child, stderr: () => err + out, exited };
}

// ---------------------------------------------------------------- strace

/** Why strace cannot watch a process tree here, or undefined when it can. */
export function straceProblem(): string | undefined {
  if (process.platform !== 'linux') return `strace needs Linux (this is ${process.platform})`;
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=mkdir', '-o', '/dev/null', 'true']);
  if (r.error) return `strace is not installed (${r.error.message})`;
  if (r.status !== 0) return `strace cannot trace here: ${String(r.stderr).trim().slice(0, 200)}`;
  return undefined;
}

/** The system calls that create a name in the file system. */
const CREATING = [
  'creat',
  'open',
  'openat',
  'mkdir',
  'mkdirat',
  'rename',
  'renameat',
  'renameat2',
  'link',
  'linkat',
  'symlink',
  'symlinkat',
  'mknod',
  'mknodat',
];

/** A command prefix that logs every name-creating system call of a process tree to `log`. */
export function straceArgs(log: string): string[] {
  return ['strace', '-f', '--seccomp-bpf', '-qq', '-s', '4096', '-e', `trace=${CREATING.join(',')}`, '-o', log];
}

/**
 * Absolute paths a traced process tree created (successful mkdir, O_CREAT
 * opens, rename/link/symlink targets, mknod), from an strace log. Relative
 * paths are left out: the processes' working directories lie in the arena,
 * which the snapshot covers.
 */
export function createdPaths(log: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  const pending = new Map<string, string>();
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    let call = rest;
    if (call.endsWith('<unfinished ...>')) {
      pending.set(pid, call.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(call);
    if (resumed) {
      call = (pending.get(pid) ?? '') + (resumed[1] as string);
      pending.delete(pid);
    }
    const c = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(call);
    if (!c || Number(c[3]) < 0) continue;
    const name = c[1] as string;
    const args = c[2] as string;
    if (!CREATING.includes(name)) continue;
    if (name.startsWith('open') || name === 'creat') {
      if (name !== 'creat' && !args.includes('O_CREAT')) continue;
    }
    const strings = [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1] as string);
    const target = /^(rename|link|symlink)/.test(name) ? strings[strings.length - 1] : strings[0];
    if (target?.startsWith('/')) out.add(target);
  }
  return [...out].sort();
}

// ---------------------------------------------------------------- snapshots

/** Every path under `dir` (relative, directories with a trailing /), not descending into `skip` (absolute). */
export function listTree(dir: string, skip: readonly string[] = []): Set<string> {
  const out = new Set<string>();
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop() as string;
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const abs = path.join(d, n);
      if (skip.includes(abs)) continue;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(abs);
      } catch {
        continue;
      }
      out.add(path.relative(dir, abs) + (st.isDirectory() ? '/' : ''));
      if (st.isDirectory()) stack.push(abs);
    }
  }
  return out;
}

export interface Snapshot {
  arena: Set<string>;
  tmpTop: Set<string>;
}

/** The arena minus TRACED_HOME and the project, and the top-level names in /tmp. */
export function snapshot(a: Arena): Snapshot {
  return { arena: listTree(a.root, [a.home, a.repo]), tmpTop: new Set(fs.readdirSync(os.tmpdir())) };
}

/**
 * Paths that appeared between two snapshots outside TRACED_HOME and the
 * project. New /tmp names made by other test files running alongside (their
 * temp-dir prefixes) are not counted.
 */
export function newOutside(before: Snapshot, after: Snapshot, a: Arena, othersPrefixes: readonly string[]): string[] {
  const found: string[] = [];
  for (const p of after.arena) if (!before.arena.has(p)) found.push(path.join(a.root, p));
  for (const n of after.tmpTop) {
    if (before.tmpTop.has(n) || othersPrefixes.some((x) => n.startsWith(x))) continue;
    found.push(path.join(os.tmpdir(), n));
  }
  return found.sort();
}

// ---------------------------------------------------------------- hostile values

/** A value nested `depth` levels deep, built as text without recursion (the raw socket client sends it as is). */
export class Deep {
  constructor(
    readonly depth: number,
    readonly kind: 'array' | 'object',
  ) {}
  text(): string {
    return this.kind === 'array' ? `${'['.repeat(this.depth)}1${']'.repeat(this.depth)}` : `${'{"a":'.repeat(this.depth)}1${'}'.repeat(this.depth)}`;
  }
  /** The real value, built iteratively (JSON.stringify of it recurses: keep depth < ~4000). */
  value(): unknown {
    let v: unknown = 1;
    for (let i = 0; i < this.depth; i++) v = this.kind === 'array' ? [v] : { a: v };
    return v;
  }
  toString(): string {
    return `<${this.kind} nested ${this.depth} deep>`;
  }
}

/** JSON text of `value` with every {@link Deep} spliced in as text (any depth, no recursion). */
export function encodeJson(value: unknown): string {
  const deeps: Deep[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Deep) {
      deeps.push(v);
      return `\u0001DEEP${deeps.length - 1}\u0001`;
    }
    return v;
  });
  return text.replace(/"\\u0001DEEP(\d+)\\u0001"/g, (_m, i: string) => (deeps[Number(i)] as Deep).text());
}

/** `value` with every {@link Deep} made real, at most `maxDepth` deep (what a JSON.stringify-based client can send). */
export function materialize(value: unknown, maxDepth: number): unknown {
  if (value instanceof Deep) return new Deep(Math.min(value.depth, maxDepth), value.kind).value();
  if (Array.isArray(value)) return value.map((v) => materialize(v, maxDepth));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) setOwn(out, k, materialize((value as Record<string, unknown>)[k], maxDepth));
    return out;
  }
  return value;
}

/** Sets an own enumerable property, even `__proto__`. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A short, printable description of an input for a failure report. */
export function describe(value: unknown): string {
  const s = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Deep) return v.toString();
    if (typeof v === 'string' && v.length > 120) return `<${JSON.stringify(v.slice(0, 12))}… ${v.length} chars>`;
    return v;
  });
  return s.length > 600 ? `${s.slice(0, 600)}…` : s;
}

const protoObject = (): Record<string, unknown> =>
  JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":{"polluted":true}}') as Record<string, unknown>;

/** Hostile values for any one field. */
export function hostileValues(): unknown[] {
  return [
    // wrong types and null
    42,
    -1,
    3.5,
    true,
    false,
    'a string',
    {},
    [],
    null,
    [1, 'two', null],
    { nested: { a: 1 } },
    // deep nesting, built as text (2,000 levels as asked; deeper ones only the raw socket can carry)
    new Deep(2000, 'array'),
    new Deep(2000, 'object'),
    new Deep(6000, 'array'),
    new Deep(20_000, 'array'),
    // size
    'a'.repeat(1_000_000),
    'x'.repeat(70_000),
    Array.from({ length: 5000 }, (_, i) => i),
    // NUL and control characters
    'a\u0000b',
    '\u0000',
    'last\u0000',
    '\u001b[31mred\u001b[0m',
    'line\r\nbreak',
    '\f',
    // paths
    '../../etc/passwd',
    '../../../../../../../../etc/passwd',
    '/etc/passwd',
    '/etc/shadow',
    '/dev/zero',
    '/dev/stdin',
    '/proc/self/environ',
    '~/.ssh/id_rsa',
    '..',
    '.',
    '../../escape-dir',
    'sub/../../../escape-file',
    'C:\\Windows\\system32',
    '\\\\server\\share',
    'file:///etc/passwd',
    // prototype names
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    protoObject(),
    // unicode
    '𝕿𝖗𝖆𝖈𝖊𝖉 🧵👩‍💻',
    '\u202Etxt.exe',
    '\uD800',
    '\uDFFF\uD800',
    'ｌａｓｔ',
    'İı',
    'e\u0301\u0301\u0301',
    '\uFEFF',
    '\u2028\u2029',
    // number-ish strings
    'NaN',
    'Infinity',
    '-Infinity',
    '-0',
    '1e309',
    '0x10',
    '9'.repeat(30),
    '-9'.repeat(20),
    '99999999999999999999w',
    '1e3m',
    '',
  ];
}

/** Boundary numbers around a JSON Schema integer's range, plus the usual suspects. */
function boundaryNumbers(s: JsonSchema): unknown[] {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : undefined);
  const hi = s.maximum;
  const v: unknown[] = [
    0,
    -1,
    1,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    1e308,
    -1e308,
    0.5,
    2 ** 31,
    2 ** 32,
    -(2 ** 31),
  ];
  if (lo !== undefined) v.push(lo, lo - 1, lo + 1);
  if (hi !== undefined) v.push(hi, hi + 1, hi - 1);
  return v;
}

function boundaryStrings(s: JsonSchema): unknown[] {
  const v: unknown[] = ['', ' ', '0', '-1', 'NaN', 'Infinity', '9'.repeat(25), '-0', '1e309', 'null', 'undefined', 'true'];
  if (s.minLength !== undefined) v.push('x'.repeat(s.minLength), 'x'.repeat(Math.max(0, s.minLength - 1)));
  if (s.maxLength !== undefined) v.push('x'.repeat(s.maxLength), 'x'.repeat(s.maxLength + 1), '9'.repeat(Math.min(s.maxLength, 400)));
  if (s.enum) for (const e of s.enum) if (typeof e === 'string') v.push(e.toUpperCase(), ` ${e}`, `${e}\u0000`);
  return v;
}

// ---------------------------------------------------------------- schema → arbitraries

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  items?: JsonSchema;
  maxItems?: number;
  additionalProperties?: JsonSchema | boolean;
}

/** Values that are real in this daemon (session refs, files, cursors): valid inputs that reach the work, not just the schema. */
export type Realistic = Record<string, readonly unknown[]>;

/** Valid values for a schema node; `name` picks realistic values for fields like `session`. */
export function validArb(s: JsonSchema, name: string, real: Realistic): fc.Arbitrary<unknown> {
  const generic = genericArb(s, real);
  const known = real[name];
  return known?.length ? fc.oneof({ arbitrary: fc.constantFrom(...known), weight: 3 }, { arbitrary: generic, weight: 1 }) : generic;
}

function genericArb(s: JsonSchema, real: Realistic): fc.Arbitrary<unknown> {
  if (s.anyOf) return fc.oneof(...s.anyOf.map((x) => genericArb(x, real)));
  if (s.enum) return fc.constantFrom(...s.enum);
  switch (s.type) {
    case 'string': {
      const min = s.minLength ?? 0;
      const max = Math.min(s.maxLength ?? 80, 80);
      if (s.pattern) {
        const re = new RegExp(s.pattern);
        return fc.stringMatching(re).filter((x) => x.length >= min && x.length <= (s.maxLength ?? Infinity));
      }
      return fc.string({
        minLength: min,
        maxLength: Math.max(min, max),
        unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789 .:-_/+é🧵'.split(''), '🧵'),
      });
    }
    case 'integer': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1_000_000);
      const max = s.maximum ?? 1_000_000;
      const small = fc.integer({ min: Math.max(min, -10_000), max: Math.min(max, Math.max(min, -10_000) + 100_000) });
      return fc.oneof(
        { arbitrary: small, weight: 4 },
        { arbitrary: fc.integer({ min: Math.max(min, -Number.MAX_SAFE_INTEGER), max: Math.min(max, Number.MAX_SAFE_INTEGER) }), weight: 1 },
      );
    }
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(s.items ? genericArb(s.items, real) : fc.jsonValue(), { maxLength: Math.min(s.maxItems ?? 5, 5) });
    case 'object': {
      if (s.properties && Object.keys(s.properties).length) return objectArb(s, real);
      // A record: small JSON payloads.
      return fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectArb(s: JsonSchema, real: Realistic): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, v] of Object.entries(props)) model[k] = validArb(v, k, real);
  return fc.record(model, { requiredKeys: s.required ?? [] }) as fc.Arbitrary<Record<string, unknown>>;
}

/** Boundary values for a schema node (one field at a time). */
export function boundaryValues(s: JsonSchema): unknown[] {
  if (s.anyOf) return s.anyOf.flatMap((x) => boundaryValues(x));
  if (s.enum) return [...s.enum, ...boundaryStrings(s)];
  switch (s.type) {
    case 'string':
      return boundaryStrings(s);
    case 'integer':
    case 'number':
      return boundaryNumbers(s);
    case 'boolean':
      return [true, false];
    case 'array': {
      const item = s.items?.type === 'string' ? 'x'.repeat(s.items.maxLength ?? 10) : 1;
      const n = s.maxItems ?? 32;
      return [[], Array.from({ length: n }, () => item), Array.from({ length: n + 1 }, () => item), [''], ['x'.repeat((s.items?.maxLength ?? 64) + 1)]];
    }
    case 'object':
      return [{}, { k: 'x'.repeat(65_000) }, Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]))];
    default:
      return [];
  }
}

export type Kind = 'valid' | 'boundary' | 'hostile' | 'top';

export interface Generated {
  kind: Kind;
  /** Which field was changed (boundary/hostile), for the report. */
  field?: string;
  params: unknown;
}

/**
 * Inputs for one operation: valid objects, valid objects with one field at a
 * boundary, valid objects with one field (or one new key) hostile, and — on
 * the raw socket only — hostile `params` as a whole.
 */
export function inputArb(schema: JsonSchema, real: Realistic, opts: { topLevel: boolean }): fc.Arbitrary<Generated> {
  const base = objectArb(schema, real);
  const fields = Object.keys(schema.properties ?? {});
  const valid = base.map((params): Generated => ({ kind: 'valid', params }));
  const arms: { arbitrary: fc.Arbitrary<Generated>; weight: number }[] = [{ arbitrary: valid, weight: 3 }];
  const boundaryPairs = fields.flatMap((f) => boundaryValues(schema.properties?.[f] as JsonSchema).map((v) => [f, v] as const));
  if (boundaryPairs.length) {
    arms.push({
      arbitrary: fc.tuple(base, fc.constantFrom(...boundaryPairs)).map(([b, [f, v]]): Generated => {
        const params = { ...b };
        setOwn(params, f, v);
        return { kind: 'boundary', field: f, params };
      }),
      weight: 3,
    });
  }
  const targets = [...fields, '__proto__', 'constructor', 'unknown_extra_key', 'cwd'];
  arms.push({
    arbitrary: fc.tuple(base, fc.constantFrom(...targets), fc.constantFrom(...hostileValues())).map(([b, f, v]): Generated => {
      const params = { ...b };
      setOwn(params, f, v);
      return { kind: 'hostile', field: f, params };
    }),
    weight: 5,
  });
  if (opts.topLevel) {
    arms.push({
      arbitrary: fc
        .constantFrom<unknown>(null, [], [{}], 'status', 7, true, new Deep(2000, 'object'), new Deep(50_000, 'array'), protoObject())
        .map((params): Generated => ({ kind: 'top', params })),
      weight: 1,
    });
  }
  return fc.oneof(...arms);
}

/** The nastiest values, tried on every field of every operation (not left to chance). */
export function nastyValues(): unknown[] {
  return [
    null,
    new Deep(2000, 'object'),
    new Deep(2000, 'array'),
    new Deep(6000, 'array'),
    'a'.repeat(1_000_000),
    'a\u0000b',
    '../../etc/passwd',
    '/etc/passwd',
    protoObject(),
    '\uD800',
    -1,
    Number.MAX_SAFE_INTEGER,
    '99999999999999999999',
    '99999999999999999999w',
  ];
}

/**
 * A deterministic sweep: one valid base input, then every field (and an
 * unknown key, and an own `__proto__` key) set to each nasty value; fields
 * that hold objects (event data) also get each nasty value one level inside.
 */
export function sweep(schema: JsonSchema, real: Realistic, seed: number): Generated[] {
  // The base is the plainest valid input (required fields only, the first realistic value of each),
  // so the nasty value, not some other field, decides how the call ends.
  const props = schema.properties ?? {};
  const base: Record<string, unknown> = {};
  for (const [i, f] of (schema.required ?? []).entries()) {
    const known = real[f];
    base[f] = known?.length ? known[0] : fc.sample(validArb(props[f] as JsonSchema, f, {}), { numRuns: 1, seed: seed + i })[0];
  }
  const out: Generated[] = [];
  // Every realistic value of every field once (crafted cursors, huge relative times, real paths).
  for (const f of Object.keys(props)) {
    for (const v of real[f] ?? []) {
      const params = { ...base };
      setOwn(params, f, v);
      out.push({ kind: 'valid', field: f, params });
    }
  }
  // With no fields, an unknown key is all there is to attack.
  const fields = Object.keys(props).length ? [...Object.keys(props), 'unknown_extra_key', '__proto__'] : ['unknown_extra_key'];
  const nasty = nastyValues();
  // Keys the schema does not know are stripped before anything runs: a few values say so.
  const forUnknownKeys = nasty.filter(
    (v) => v instanceof Deep || (typeof v === 'string' && v.length > 1000) || (v !== null && typeof v === 'object' && !Array.isArray(v)),
  );
  for (const f of fields) {
    for (const v of props[f] ? nasty : forUnknownKeys) {
      const params = { ...base };
      setOwn(params, f, v);
      out.push({ kind: 'hostile', field: f, params });
      if (props[f]?.type === 'object') {
        const inner = { ok: 1 };
        setOwn(inner, 'k', v);
        const p2 = { ...base };
        setOwn(p2, f, inner);
        out.push({ kind: 'hostile', field: `${f}.k`, params: p2 });
      }
    }
  }
  return out;
}
