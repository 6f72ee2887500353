/** Commands about traced's own files: logs (the daemon's log, readable, followed) and config (get/set/unset/path/list). */
import fs from 'node:fs';
import path from 'node:path';
import { configKeys, editConfigFile, findKey, getPath, parseConfigValue } from '../../config/config-file.js';
import { loadConfig, readConfigFile } from '../../config/config.js';
import { reachPaths } from '../../config/setup.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import { type Command, type Io, num } from '../command.js';
import { safeData, safeText } from '../render.js';
import { type Paint, painter } from '../style.js';

const LEVELS: Record<number, [string, Parameters<Paint>[0]]> = {
  10: ['TRACE', 'gray'],
  20: ['DEBUG', 'gray'],
  30: ['INFO', 'green'],
  40: ['WARN', 'yellow'],
  50: ['ERROR', 'red'],
  60: ['FATAL', 'red'],
};
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

/** One pino JSON line as `2026-11-29 14:32:05.120 INFO  [mod] message key=value …`; other lines as they are. */
export function logLine(line: string, paint: Paint): string {
  let o: Record<string, unknown>;
  try {
    const v = JSON.parse(line);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return safeText(line);
    o = safeData(v as Record<string, unknown>);
  } catch {
    return safeText(line);
  }
  const t = typeof o.time === 'number' ? new Date(o.time) : undefined;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const when = t
    ? `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`
    : '';
  const [name, color] = LEVELS[o.level as number] ?? [String(o.level ?? '?').toUpperCase(), 'white'];
  const mod = typeof o.mod === 'string' ? `[${o.mod}] ` : '';
  const err = o.err && typeof o.err === 'object' ? (o.err as { message?: unknown; stack?: unknown }) : undefined;
  const fields = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k) && k !== 'mod' && k !== 'err')
    .map(([k, v]) => `${paint('dim', `${k}=`)}${fieldValue(v)}`);
  if (err?.message) fields.push(`${paint('dim', 'err=')}${fieldValue(err.message)}`);
  return `${paint('dim', when)} ${paint(color, name.padEnd(5))} ${mod}${String(o.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}`.trim();
}

/** The last `lines` lines of a file, reading at most its last 4 MiB. */
function tail(file: string, lines: number): { text: string[]; end: number; ino: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    const start = Math.max(0, st.size - 4 * 1024 * 1024);
    const buf = Buffer.alloc(st.size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    let all = buf.toString('utf8').split('\n');
    if (start > 0) all = all.slice(1);
    if (all[all.length - 1] === '') all.pop();
    return { text: lines > 0 ? all.slice(-lines) : [], end: st.size, ino: st.ino };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Prints the daemon's log: the last `lines` lines, readable (or as stored with
 * `json`); with `follow`, new lines as they come, across rotations (current.log
 * is re-resolved), until SIGINT/SIGTERM.
 */
export async function showLogs(io: Io, opts: { lines: number; json: boolean; follow: boolean }): Promise<number> {
  const { paths } = reachPaths(io.env);
  const file = path.join(paths.logDir, 'current.log');
  const paint = painter(io.stdout, io.env);
  const print = (ls: string[]) => {
    if (ls.length) io.stdout.write(`${ls.map((l) => (opts.json ? safeText(l) : logLine(l, paint))).join('\n')}\n`);
  };
  let ino = -1;
  let pos = 0;
  if (fs.existsSync(file)) {
    const t = tail(file, opts.lines);
    print(t.text);
    [ino, pos] = [t.ino, t.end];
  } else io.stderr.write(`traced: no log yet at ${file}${opts.follow ? '; waiting for the daemon to write one' : ''}\n`);
  if (!opts.follow) return 0;
  let partial = '';
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        return; // not there (yet, or between rotations)
      }
      if (st.ino !== ino) [ino, pos, partial] = [st.ino, 0, ''];
      else if (st.size < pos) [pos, partial] = [0, ''];
      if (st.size <= pos) return;
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(Math.min(st.size - pos, 4 * 1024 * 1024));
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        pos += n;
        const parts = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        print(parts);
      } finally {
        fs.closeSync(fd);
      }
    }, 200);
    const stop = () => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/** A value to show: the VideoDB key is a secret, shown only by its last four characters. */
function shown(key: string, v: unknown): string {
  if (key === 'videodb.apiKey' && typeof v === 'string') return JSON.stringify(`…${v.slice(-4)}`);
  return v === undefined ? '(not set)' : JSON.stringify(v);
}

/** The effective config with the VideoDB key masked, for anything that prints a group of settings. */
function masked(eff: unknown): unknown {
  const c = structuredClone(eff) as { videodb?: { apiKey?: string } };
  if (typeof c.videodb?.apiKey === 'string') c.videodb.apiKey = JSON.parse(shown('videodb.apiKey', c.videodb.apiKey)) as string;
  return c;
}

export const toolCommands: Command[] = [
  {
    name: 'logs',
    summary: "the daemon's log, one readable line per entry (level, time, message, fields); -f follows it",
    args: [],
    options: {
      follow: { type: 'boolean', short: 'f', help: 'keep printing new lines until Ctrl-C' },
      lines: { type: 'string', short: 'n', int: true, min: 0, default: '50', help: 'how many of the last lines' },
    },
    examples: ['traced logs', 'traced logs -f', 'traced logs -n 200 --json | jq .msg'],
    run: (a, io) => showLogs(io, { lines: num(a.values.lines, 'lines') ?? 50, json: a.values.json === true, follow: a.values.follow === true }),
  },
  {
    name: 'config',
    summary: 'read and change config.json, checked against the configuration schema',
    args: [
      { name: 'ACTION', choices: ['get', 'set', 'unset', 'path', 'list'] },
      { name: 'KEY', optional: true },
      { name: 'VALUE', optional: true },
    ],
    examples: [
      'traced config list',
      'traced config get capture.fps',
      'traced config set capture.fps 4',
      'traced config set files.ignore "*.tmp,generated/**"',
      'traced config unset capture.fps',
      'traced config path',
    ],
    run: async (a, io) => {
      const [action, key, value] = a.positionals as [string, string | undefined, string | undefined];
      const { paths } = reachPaths(io.env);
      const file = paths.config;
      const out = (human: string, json: unknown) => io.stdout.write(a.values.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`);
      const need = (n: number, what: string) => {
        if ([key, value].filter((x) => x !== undefined).length !== n) throw new TracedError(ErrorCodes.CLI_USAGE, `usage: traced config ${action}${what}`);
      };
      if (action === 'path') {
        need(0, '');
        out(file, { file });
        return 0;
      }
      if (action === 'list') {
        need(0, '');
        const raw = readConfigFile(file);
        const eff = loadConfig({ env: io.env, file: raw, source: file });
        const safe = masked(eff);
        const rows = configKeys().map((k) => ({ key: k.key, value: getPath(safe, k.key), set: getPath(raw, k.key) !== undefined }));
        out(rows.map((r) => `${r.key} = ${r.value === undefined ? '(not set)' : JSON.stringify(r.value)}${r.set ? '  (config.json)' : ''}`).join('\n'), rows);
        return 0;
      }
      if (action === 'get') {
        need(1, ' KEY');
        findKey(key as string, { leafOnly: false });
        const eff = loadConfig({ env: io.env, file: readConfigFile(file), source: file });
        const v = getPath(masked(eff), key as string);
        out(typeof v === 'object' && v !== null ? JSON.stringify(v, null, 2) : v === undefined ? '(not set)' : JSON.stringify(v), { key, value: v });
        return 0;
      }
      if (action === 'set') {
        need(2, ' KEY VALUE');
        const k = findKey(key as string, { leafOnly: true });
        if (k.kind === 'object') throw new TracedError(ErrorCodes.CLI_USAGE, `${key} is a group of settings`);
        const v = parseConfigValue(k, value as string);
        editConfigFile(file, k.key, v);
        out(`${k.key} = ${shown(k.key, v)} in ${file}; a running daemon uses it after a restart`, {
          key: k.key,
          value: k.key === 'videodb.apiKey' ? shown(k.key, v) : v,
          file,
        });
        return 0;
      }
      need(1, ' KEY');
      const k = findKey(key as string, { leafOnly: true });
      editConfigFile(file, k.key, undefined);
      out(`${k.key} unset in ${file} (the default applies)`, { key: k.key, file });
      return 0;
    },
  },
];
