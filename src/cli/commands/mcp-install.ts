/**
 * `traced mcp install|uninstall --client claude|cursor|vscode|codex`: puts an
 * entry named `traced` that runs `traced mcp` with this install's absolute Node
 * and entry script into each client's own MCP config file, in the format and
 * place that client documents:
 *   claude  user: ~/.claude.json (or $CLAUDE_CONFIG_DIR/.claude.json), project: .mcp.json — `mcpServers`
 *   cursor  user: ~/.cursor/mcp.json, project: .cursor/mcp.json — `mcpServers`
 *   vscode  user: <VS Code user dir>/mcp.json, project: .vscode/mcp.json — `servers`, `"type": "stdio"`
 *   codex   user: ~/.codex/config.toml (or $CODEX_HOME), project: .codex/config.toml — `[mcp_servers.traced]`
 * Other servers and keys are kept; a second run changes nothing; a file that
 * changes is first copied to a timestamped backup; a file that cannot be read
 * (or has comments a rewrite would drop) is refused with
 * TRACED_MCP_CONFIG_UNPARSABLE and left as it is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Env } from '../../config/config.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import { BIN_PATH } from '../../version.js';
import { type Command, list } from '../command.js';
import { cutRanges, inlineEntries, nonTableDefinition, scanToml, type TomlScan, tableRanges, tomlKey, tomlString } from './toml-table.js';

export const MCP_CLIENTS = ['claude', 'cursor', 'vscode', 'codex'] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];
export type McpScope = 'user' | 'project';
const NAME = 'traced';
const LABEL: Record<McpClient, string> = { claude: 'Claude Code', cursor: 'Cursor', vscode: 'VS Code', codex: 'Codex' };

export interface ClientTarget {
  client: McpClient;
  scope: McpScope;
  file: string;
  format: 'json' | 'toml';
  /** The object (JSON) or table (TOML) that holds servers by name. */
  container: 'mcpServers' | 'servers' | 'mcp_servers';
}

/** What runs `traced mcp`: this Node and this install's entry script, by absolute path. */
export interface Launch {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export function thisInstall(env: Env): Launch {
  // A home or socket directory the user chose must be the one the assistant's traced uses too.
  const keep = Object.fromEntries(['TRACED_HOME', 'TRACED_SOCKET_DIR'].flatMap((k) => (env[k] ? [[k, env[k] as string]] : [])));
  return { command: process.execPath, args: [BIN_PATH, 'mcp'], ...(Object.keys(keep).length ? { env: keep } : {}) };
}

function vscodeUserDir(env: Env, platform: NodeJS.Platform, home: string): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Code', 'User');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Code', 'User');
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'Code', 'User');
}

/** Where a client keeps its MCP servers for a scope; `cwd` is the project for project scope. */
export function clientTarget(client: McpClient, scope: McpScope, env: Env, cwd: string, platform: NodeJS.Platform = process.platform): ClientTarget {
  const home = env.HOME || env.USERPROFILE || os.homedir();
  const user = scope === 'user';
  switch (client) {
    case 'claude':
      return {
        client,
        scope,
        format: 'json',
        container: 'mcpServers',
        file: user ? path.join(env.CLAUDE_CONFIG_DIR || home, '.claude.json') : path.join(cwd, '.mcp.json'),
      };
    case 'cursor':
      return { client, scope, format: 'json', container: 'mcpServers', file: path.join(user ? home : cwd, '.cursor', 'mcp.json') };
    case 'vscode':
      return {
        client,
        scope,
        format: 'json',
        container: 'servers',
        file: user ? path.join(vscodeUserDir(env, platform, home), 'mcp.json') : path.join(cwd, '.vscode', 'mcp.json'),
      };
    case 'codex':
      return {
        client,
        scope,
        format: 'toml',
        container: 'mcp_servers',
        file: user ? path.join(env.CODEX_HOME || path.join(home, '.codex'), 'config.toml') : path.join(cwd, '.codex', 'config.toml'),
      };
  }
}

/** The JSON entry each client documents for a stdio server. */
function jsonEntry(client: McpClient, l: Launch): Record<string, unknown> {
  const typed = client === 'cursor' ? {} : { type: 'stdio' };
  return { ...typed, command: l.command, args: l.args, ...(l.env ? { env: l.env } : {}) };
}

function tomlLines(l: Launch): [string, string][] {
  const lines: [string, string][] = [
    ['command', `command = ${tomlString(l.command)}\n`],
    ['args', `args = [${l.args.map(tomlString).join(', ')}]\n`],
  ];
  if (l.env)
    lines.push([
      'env',
      `env = { ${Object.entries(l.env)
        .map(([k, v]) => `${tomlKey(k)} = ${tomlString(v)}`)
        .join(', ')} }\n`,
    ]);
  return lines;
}

/** The entry as a person would add it by hand (dry runs, refusals). */
export function entrySnippet(t: ClientTarget, l: Launch): string {
  if (t.format === 'toml')
    return `[${t.container}.${NAME}]\n${tomlLines(l)
      .map(([, line]) => line)
      .join('')}`;
  return JSON.stringify({ [t.container]: { [NAME]: jsonEntry(t.client, l) } }, null, 2);
}

export type PlanAction = 'added' | 'updated' | 'unchanged' | 'removed' | 'absent';
export interface Plan {
  target: ClientTarget;
  action: PlanAction;
  /** The file's text now (undefined: no file) and after the change. */
  before: string | undefined;
  after: string | undefined;
}

function unparsable(t: ClientTarget, reason: string, why: string, l?: Launch, hand?: string): TracedError {
  const byHand = hand ? ` ${hand}` : l ? ` Or add this by hand:\n${entrySnippet(t, l)}` : '';
  return new TracedError(ErrorCodes.MCP_CONFIG_UNPARSABLE, `${t.file}: ${why}; it was left as it is. Fix: correct the file (or move it aside).${byHand}`, {
    data: { file: t.file, client: t.client, reason },
  });
}

/** Comments and trailing commas out, strings kept: tells JSON-with-comments apart from a broken file. */
function stripJsonc(text: string): string {
  return text.replace(/("(?:[^"\\\n]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\/|,(?=\s*[}\]])/g, (m, str: string | undefined) => str ?? (m === ',' ? '' : ' '));
}

function parseJson(t: ClientTarget, text: string, l?: Launch): Record<string, unknown> {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    let jsonc = false;
    try {
      JSON.parse(stripJsonc(body));
      jsonc = true;
    } catch {
      // not JSON with comments either: broken
    }
    // Comments are valid where the client reads JSONC (VS Code), but a rewrite would drop them.
    if (jsonc) throw unparsable(t, 'comments', 'it has comments or trailing commas, which rewriting it would drop', l);
    throw unparsable(t, 'invalid', `it is not valid JSON (${(err as Error).message})`, l);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw unparsable(t, 'invalid', 'it is not a JSON object', l);
  const servers = (doc as Record<string, unknown>)[t.container];
  if (servers !== undefined && (!servers || typeof servers !== 'object' || Array.isArray(servers))) {
    throw unparsable(t, 'invalid', `"${t.container}" is not an object`, l);
  }
  return doc as Record<string, unknown>;
}

function renderJson(before: string, doc: Record<string, unknown>): string {
  const indent = /^([ \t]+)\S/m.exec(before)?.[1] ?? '  ';
  return `${before.startsWith('\uFEFF') ? '\uFEFF' : ''}${JSON.stringify(doc, null, indent)}\n`;
}

/** The entry as one inline-table line, for a file whose servers are an inline table or dotted keys. */
function inlineSnippet(l: Launch): string {
  const env = tomlLines(l)
    .find(([k]) => k === 'env')?.[1]
    .replace(/^env = /, '')
    .trim();
  return `${NAME} = { command = ${tomlString(l.command)}, args = [${l.args.map(tomlString).join(', ')}]${env ? `, env = ${env}` : ''} }`;
}

function scan(t: ClientTarget, text: string, l?: Launch): [number, number][] | undefined {
  let sc: ReturnType<typeof scanToml>;
  try {
    sc = scanToml(text);
  } catch (err) {
    throw unparsable(t, 'invalid', `traced cannot read it as TOML (${(err as Error).message})`, l);
  }
  // Servers given as an inline table or dotted keys cannot take a [mcp_servers.traced] table beside them (invalid TOML),
  // and rewriting the user's inline table would lose its layout and comments: left to the user.
  const other = nonTableDefinition(text, sc, t.container);
  if (other) {
    const where: Record<typeof other.kind, string> = {
      inline: `inside the braces of ${t.container} = { … }, after a comma:\n  ${l ? inlineSnippet(l) : ''}`,
      dotted: `as one more line:\n  ${t.container}.${l ? inlineSnippet(l) : ''}`,
      under: `under [${t.container}]:\n  ${l ? inlineSnippet(l) : ''}`,
      array: `in the form your Codex reads (an array of tables is not the documented [${t.container}.NAME] form)`,
    };
    const hand = l ? `Add traced by hand, ${where[other.kind]}` : `Remove the ${NAME} entry from ${t.container} by hand.`;
    throw unparsable(
      t,
      'not_tables',
      `${t.container} is defined by ${other.what} on line ${other.line}; traced only adds and removes [${t.container}.${NAME}] tables, and one cannot be added beside that`,
      l,
      hand,
    );
  }
  try {
    return tableRanges(text, sc, [t.container, NAME]);
  } catch (err) {
    throw unparsable(t, 'invalid', `traced cannot read it as TOML (${(err as Error).message})`, l);
  }
}

const lineEnd = (text: string, at: number) => text.indexOf('\n', at) + 1 || text.length;

/**
 * Edits that set our env entries and keep the user's: in an `env = { … }`
 * inline table (ours replaced in place, missing ones appended), or as keys of
 * a `[mcp_servers.traced.env]` sub-table or `env.NAME = …` dotted keys when
 * the user wrote it that way.
 */
function envEdits(text: string, sc: TomlScan, c: string, bounds: { header: number; bodyEnd: number; headerEnd: number }, env: Record<string, string>) {
  const edits: { at: number; end: number; text: string }[] = [];
  const ours = Object.entries(env);
  const sub = sc.headers.find((h) => h.path.length === 3 && h.path[0] === c && h.path[1] === NAME && h.path[2] === 'env' && !h.array);
  const deep = sc.keys.filter((k) => k.path.length === 4 && k.path[0] === c && k.path[1] === NAME && k.path[2] === 'env');
  const at = (pos: number, line: string) => ({ at: pos, end: pos, text: pos === text.length && !text.endsWith('\n') ? `\n${line}` : line });
  if (sub || deep.length) {
    for (const [name, v] of ours) {
      const k = deep.find((x) => x.path[3] === name);
      const prefix = k ? (k.table.length === 3 ? '' : 'env.') : sub ? '' : 'env.';
      const line = `${prefix}${tomlKey(name)} = ${tomlString(v)}\n`;
      if (k) {
        if (text.slice(k.start, k.end).trim() !== line.trim()) edits.push({ at: k.start, end: k.end, text: line });
      } else edits.push(at(sub ? lineEnd(text, sub.start) : bounds.headerEnd, line));
    }
    return edits;
  }
  const k = sc.keys.find((x) => x.start > bounds.header && x.start < bounds.bodyEnd && x.path.length === 3 && x.path[2] === 'env');
  const entries = k ? inlineEntries(text, k.valueStart) : undefined;
  const set = (name: string, v: string) => `${tomlKey(name)} = ${tomlString(v)}`;
  const parts = (entries ?? []).map((e) =>
    e.key.length === 1 && Object.hasOwn(env, e.key[0] as string)
      ? `${e.keyText} = ${tomlString(env[e.key[0] as string] as string)}`
      : `${e.keyText} = ${e.valueText}`,
  );
  for (const [name, v] of ours) if (!entries?.some((e) => e.key.length === 1 && e.key[0] === name)) parts.push(set(name, v));
  const line = `env = { ${parts.join(', ')} }\n`;
  if (!k) edits.push(at(bounds.headerEnd, line));
  else if (text.slice(k.start, k.end).trim() !== line.trim()) edits.push({ at: k.start, end: k.end, text: line });
  return edits;
}

/** What installing would do to the file's text (nothing is written here). */
export function planInstall(t: ClientTarget, l: Launch, before: string | undefined): Plan {
  const text = before ?? '';
  if (t.format === 'json') {
    const doc = parseJson(t, text, l);
    const servers = (doc[t.container] ?? {}) as Record<string, unknown>;
    const old = servers[NAME];
    const mine = jsonEntry(t.client, l);
    // Keys someone added to the entry (disabled, timeouts) stay; ours are set.
    const entry = old && typeof old === 'object' && !Array.isArray(old) ? { ...old, ...mine } : mine;
    if (isDeepStrictEqual(old, entry)) return { target: t, action: 'unchanged', before, after: before };
    const after = renderJson(text, { ...doc, [t.container]: { ...servers, [NAME]: entry } });
    return { target: t, action: old === undefined ? 'added' : 'updated', before, after };
  }
  const ranges = scan(t, text, l);
  const lines = tomlLines(l);
  const sc = scanToml(text);
  const header = sc.headers.find((h) => h.path.length === 2 && h.path[0] === t.container && h.path[1] === NAME && !h.array);
  if (!ranges || !header) {
    const kept = ranges ? cutRanges(text, ranges) : text;
    const sep = kept === '' ? '' : kept.endsWith('\n\n') ? '' : kept.endsWith('\n') ? '\n' : '\n\n';
    return { target: t, action: ranges ? 'updated' : 'added', before, after: `${kept}${sep}[${t.container}.${NAME}]\n${lines.map(([, x]) => x).join('')}` };
  }
  // Our table is there: set command, args (and env) line by line; other keys in it stay.
  const edits: { at: number; end: number; text: string }[] = [];
  const bodyEnd = sc.headers.find((h) => h.start > header.start)?.start ?? text.length;
  const headerEnd = text.indexOf('\n', header.start) + 1 || text.length;
  for (const [key, line] of lines) {
    if (key === 'env') continue;
    const k = sc.keys.find((x) => x.start > header.start && x.start < bodyEnd && x.path.length === 3 && x.path[2] === key);
    if (!k) edits.push({ at: headerEnd, end: headerEnd, text: headerEnd === text.length && !text.endsWith('\n') ? `\n${line}` : line });
    else if (text.slice(k.start, k.end).trim() !== line.trim()) edits.push({ at: k.start, end: k.end, text: line });
  }
  if (l.env) edits.push(...envEdits(text, sc, t.container, { header: header.start, bodyEnd, headerEnd }, l.env));
  if (!edits.length) return { target: t, action: 'unchanged', before, after: before };
  let after = text;
  for (const e of edits.sort((a, b) => b.at - a.at || b.end - a.end)) after = after.slice(0, e.at) + e.text + after.slice(e.end);
  return { target: t, action: 'updated', before, after };
}

/** What uninstalling would do: our entry out, everything else as it was. */
export function planUninstall(t: ClientTarget, before: string | undefined): Plan {
  if (before === undefined) return { target: t, action: 'absent', before, after: before };
  if (t.format === 'json') {
    const doc = parseJson(t, before);
    const servers = doc[t.container] as Record<string, unknown> | undefined;
    if (!servers || !(NAME in servers)) return { target: t, action: 'absent', before, after: before };
    const { [NAME]: _ours, ...rest } = servers;
    return { target: t, action: 'removed', before, after: renderJson(before, { ...doc, [t.container]: rest }) };
  }
  const ranges = scan(t, before);
  if (!ranges) return { target: t, action: 'absent', before, after: before };
  return { target: t, action: 'removed', before, after: cutRanges(before, ranges) };
}

export function readTarget(t: ClientTarget): string | undefined {
  try {
    return fs.readFileSync(t.file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TracedError(ErrorCodes.MCP_CONFIG_UNPARSABLE, `cannot read ${t.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      data: { file: t.file, client: t.client, reason: 'unreadable' },
      cause: err,
    });
  }
}

const stamp = (now: Date) =>
  now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/**
 * Writes a plan: the old file is copied to `<file>.traced-backup-<UTC time>`
 * first, the new text goes to a temporary file beside it and is renamed over
 * it (a crash leaves the old file or the new, never half of one). A symlinked
 * config (dotfile managers) is written through to its target. Returns the backup's path.
 */
export function applyPlan(p: Plan, now = new Date()): { backup: string | undefined } {
  if (p.after === undefined || p.after === p.before) return { backup: undefined };
  let file = p.target.file;
  try {
    file = fs.realpathSync(file);
  } catch {
    // a new file
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let backup: string | undefined;
  let mode = 0o644;
  if (p.before !== undefined) {
    mode = fs.statSync(file).mode & 0o777;
    backup = `${file}.traced-backup-${stamp(now)}`;
    for (let n = 2; fs.existsSync(backup); n++) backup = `${file}.traced-backup-${stamp(now)}-${n}`;
    fs.copyFileSync(file, backup, fs.constants.COPYFILE_EXCL);
  } else if (p.target.scope === 'user') mode = 0o600;
  const tmp = `${file}.traced-tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, p.after, { mode, flag: 'wx' });
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return { backup };
}

/** Whether a client's file has our entry, and what it runs (for doctor). */
export function installedEntry(t: ClientTarget): { command?: string; args?: string[] } | undefined {
  const text = readTarget(t);
  if (text === undefined) return undefined;
  if (t.format === 'json') {
    const e = ((parseJson(t, text)[t.container] ?? {}) as Record<string, unknown>)[NAME] as { command?: unknown; args?: unknown } | undefined;
    if (!e || typeof e !== 'object') return undefined;
    return { command: typeof e.command === 'string' ? e.command : undefined, args: Array.isArray(e.args) ? e.args.map(String) : undefined };
  }
  const ranges = scan(t, text);
  if (!ranges) return undefined;
  const body = ranges.map(([a, b]) => text.slice(a, b)).join('');
  const str = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*"((?:[^"\\\\]|\\\\.)*)"`, 'm').exec(body)?.[1];
  const cmd = str('command');
  const arg0 = /^\s*args\s*=\s*\[\s*"((?:[^"\\]|\\.)*)"/m.exec(body)?.[1];
  const unq = (s: string | undefined) => (s === undefined ? undefined : (JSON.parse(`"${s}"`) as string));
  return { command: unq(cmd), args: arg0 === undefined ? undefined : [unq(arg0) as string] };
}

/** One line for `traced doctor`: which clients run this install, which point elsewhere. */
export function clientsSummary(env: Env, cwd: string): { status: 'ok' | 'warn'; summary: string; fix?: string } {
  const here: string[] = [];
  const stale: string[] = [];
  const other: string[] = [];
  const broken: string[] = [];
  for (const client of MCP_CLIENTS) {
    for (const scope of ['user', 'project'] as const) {
      const t = clientTarget(client, scope, env, cwd);
      const name = `${client} (${scope})`;
      let e: ReturnType<typeof installedEntry>;
      try {
        e = installedEntry(t);
      } catch {
        broken.push(`${name}: cannot read ${t.file}`);
        continue;
      }
      if (!e) continue;
      const entry = e.args?.[0];
      if (e.command === process.execPath && entry === BIN_PATH) here.push(name);
      else if (!e.command || !fs.existsSync(e.command) || !entry || !fs.existsSync(entry))
        stale.push(`${name} runs ${e.command ?? '?'} ${entry ?? '?'}, which is not there`);
      else other.push(`${name} runs another install (${entry})`);
    }
  }
  const parts = [here.length ? `${here.join(', ')} run this install` : 'no client runs this install', ...other, ...stale, ...broken];
  const fixFor = [...stale, ...broken].map((s) => s.split(' ')[0]);
  return stale.length || broken.length
    ? { status: 'warn', summary: `MCP clients: ${parts.join('; ')}`, fix: `traced mcp install --client ${[...new Set(fixFor)].join(' --client ')}` }
    : { status: 'ok', summary: `MCP clients: ${parts.join('; ')}${here.length ? '' : ' (traced mcp install --client claude|cursor|vscode|codex)'}` };
}

const VERB: Record<PlanAction, [string, string]> = {
  added: ['added', 'would add'],
  updated: ['updated', 'would update'],
  removed: ['removed', 'would remove'],
  unchanged: ['already set up', 'already set up'],
  absent: ['not there', 'not there'],
};

function clientsOf(values: Record<string, unknown>): McpClient[] {
  const named = list(values.client) ?? [];
  if (!named.length) throw new TracedError(ErrorCodes.CLI_USAGE, `name a client: --client ${MCP_CLIENTS.join('|')} (repeat it for several)`);
  const bad = named.find((c) => !(MCP_CLIENTS as readonly string[]).includes(c));
  if (bad !== undefined) throw new TracedError(ErrorCodes.CLI_USAGE, `unknown client "${bad}"; clients: ${MCP_CLIENTS.join(', ')}`);
  return [...new Set(named)] as McpClient[];
}

function scopeOf(values: Record<string, unknown>): McpScope {
  const s = values.scope ?? 'user';
  if (s !== 'user' && s !== 'project') throw new TracedError(ErrorCodes.CLI_USAGE, `--scope is user or project, not "${String(s)}"`);
  return s;
}

const options = {
  client: { type: 'string', multiple: true, choices: [...MCP_CLIENTS], help: 'the assistant to configure (repeat it for several)' },
  scope: { type: 'string', choices: ['user', 'project'], help: "user (default): every project; project: this folder's config file" },
  'dry-run': { type: 'boolean', help: 'print what would change and write nothing' },
} as const;

/** `traced mcp install` and `traced mcp uninstall`, as subcommands of `traced mcp`. */
export const mcpInstallCommands: (Command & { parent: string })[] = (['install', 'uninstall'] as const).map((verb) => ({
  parent: 'mcp',
  name: verb,
  usage: `traced mcp ${verb} --client ${MCP_CLIENTS.join('|')} [--scope user|project] [--dry-run] [--json]`,
  summary:
    verb === 'install'
      ? "add traced to an AI assistant's MCP config (this install's absolute Node and entry; other servers kept, a backup of the file)"
      : "remove traced from an AI assistant's MCP config (only its own entry)",
  options,
  run: async (a, io) => {
    const dry = a.values['dry-run'] === true;
    const scope = scopeOf(a.values);
    const launch = thisInstall(io.env);
    const results = [];
    // Every file is planned (and so parsed) before any is written: one unreadable file changes none.
    const plans = clientsOf(a.values).map((c) => {
      const t = clientTarget(c, scope, io.env, io.cwd);
      const before = readTarget(t);
      return verb === 'install' ? planInstall(t, launch, before) : planUninstall(t, before);
    });
    for (const p of plans) {
      const { backup } = dry ? { backup: undefined } : applyPlan(p);
      results.push({
        client: p.target.client,
        scope,
        file: p.target.file,
        action: p.action,
        changed: p.after !== p.before,
        dry_run: dry,
        backup: backup ?? null,
      });
      if (a.values.json) continue;
      const t = p.target;
      const head = `${LABEL[t.client]} (${scope}): ${VERB[p.action][dry ? 1 : 0]}`;
      if (p.action === 'unchanged') io.stdout.write(`${head} in ${t.file}; nothing changed\n`);
      else if (p.action === 'absent') io.stdout.write(`${head}: ${t.file} has no "${NAME}" entry; nothing changed\n`);
      else {
        io.stdout.write(`${head} "${NAME}" ${verb === 'install' ? 'to' : 'from'} ${t.file}${backup ? ` (backup: ${backup})` : ''}${dry ? ':' : ''}\n`);
        if (verb === 'install')
          io.stdout.write(
            dry ? `${entrySnippet(t, launch).trimEnd()}\n` : `  runs ${launch.command} ${launch.args.join(' ')}; restart ${LABEL[t.client]} to connect\n`,
          );
      }
      if (verb === 'install' && scope === 'project' && p.action !== 'unchanged') {
        io.stdout.write(`  note: ${path.basename(t.file)} holds this machine's paths; keep it out of version control if the project is shared\n`);
      }
    }
    if (a.values.json) io.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
    return 0;
  },
}));
