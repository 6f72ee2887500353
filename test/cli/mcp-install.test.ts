/**
 * `traced mcp install|uninstall` against each client's documented file format,
 * with HOME (and the client's own dir variables) pointed at a temp directory:
 * existing servers and keys survive, a second run changes nothing, uninstall
 * takes out only our entry (giving back the original bytes), dry runs write
 * nothing, unreadable files are refused untouched. Codex's TOML output is read
 * back by a real TOML parser (Python's tomllib), for fixed and generated files.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { clientsSummary, clientTarget, type McpClient, planInstall, planUninstall, thisInstall } from '../../src/cli/commands/mcp-install.js';
import { BIN_PATH } from '../../src/version.js';
import { tempDir } from '../helpers/env.js';

const hasTomllib = spawnSync('python3', ['-c', 'import tomllib']).status === 0;
if (!hasTomllib) {
  if (process.env.CI === 'true') throw new Error('CI: python3 with tomllib (3.11+) is missing (apt-get install python3)');
  console.warn('SKIPPED TOML read-back checks: python3 with tomllib (3.11+) is not installed');
}

/** Every file parsed by Python's tomllib (a complete TOML 1.0 parser); an error for a file it refuses. */
function tomllib(files: string[]): ({ ok: true; doc: any } | { ok: false; error: string })[] {
  const py =
    'import sys,json,tomllib\nout=[]\nfor f in sys.argv[1:]:\n  try: out.append({"ok":True,"doc":tomllib.load(open(f,"rb"))})\n  except Exception as e: out.append({"ok":False,"error":str(e)})\nprint(json.dumps(out, default=str))';
  const r = spawnSync('python3', ['-c', py, ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(env: Record<string, string>, cwd: string, ...args: string[]): Promise<Run> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await main(args, { stdout: out, stderr: err, stdin: new PassThrough(), env, cwd });
  return { code, stdout, stderr };
}

function sandbox(): { home: string; env: Record<string, string>; project: string } {
  const home = tempDir('mcphome-');
  const project = tempDir('mcpproj-');
  // Only HOME: the clients' own variables (CLAUDE_CONFIG_DIR, CODEX_HOME, XDG_CONFIG_HOME) must not leak in from the machine.
  return { home, project, env: { HOME: home, PATH: process.env.PATH ?? '' } };
}

/** Every file under a directory with its bytes: what "nothing was written" is checked against. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath, e.name);
    if (e.isFile() || e.isSymbolicLink()) out[path.relative(dir, p)] = e.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : fs.readFileSync(p, 'latin1');
  }
  return out;
}

const backups = (file: string) => fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith(`${path.basename(file)}.traced-backup-`));
const ours = { command: process.execPath, args: [BIN_PATH, 'mcp'] };
const other = { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/tmp/m.json' } };

/** Each client's file with another server and keys of its own, as the client documents it. */
const fixtures: Record<Exclude<McpClient, 'codex'>, { rel: string; doc: any; entry: Record<string, unknown>; container: string }> = {
  claude: {
    rel: '.claude.json',
    container: 'mcpServers',
    // ~/.claude.json also keeps per-project (local scope) servers: one named traced must stay.
    doc: {
      numStartups: 12,
      mcpServers: { memory: { type: 'stdio', ...other } },
      projects: { '/work/app': { mcpServers: { traced: { type: 'stdio', command: '/elsewhere/node', args: ['x'] } } } },
    },
    entry: { type: 'stdio', ...ours },
  },
  cursor: { rel: '.cursor/mcp.json', container: 'mcpServers', doc: { mcpServers: { memory: other, remote: { url: 'https://example.com/mcp' } } }, entry: ours },
  vscode: {
    rel: '.config/Code/User/mcp.json',
    container: 'servers',
    doc: { servers: { memory: { type: 'stdio', ...other } }, inputs: [{ type: 'promptString', id: 'key', description: 'API key', password: true }] },
    entry: { type: 'stdio', ...ours },
  },
};

const CODEX_FIXTURE = `# Codex settings
model = "o3"
approval_policy = "on-request"

[mcp_servers.memory]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-memory"]

[mcp_servers.memory.env]
MEMORY_FILE_PATH = "/tmp/m.json"

[profiles.fast]
model = "gpt-5-mini"   # a comment that must survive
notes = """
multi-line, with [brackets] and "quotes"
"""
`;

describe('traced mcp install/uninstall (JSON clients)', () => {
  for (const [client, fx] of Object.entries(fixtures)) {
    it(`${client}: merges with the servers there, idempotent, backed up, uninstalled to the original bytes`, async () => {
      const { home, env, project } = sandbox();
      const file = path.join(home, fx.rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const original = `${JSON.stringify(fx.doc, null, 2)}\n`;
      fs.writeFileSync(file, original);

      const first = await run(env, project, 'mcp', 'install', '--client', client, '--json');
      expect(first.code, first.stderr).toBe(0);
      const r1 = JSON.parse(first.stdout).results[0];
      expect(r1).toMatchObject({ client, scope: 'user', file, action: 'added', changed: true });
      const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(doc[fx.container].traced).toEqual(fx.entry);
      // Everything else as it was.
      const { traced: _t, ...rest } = doc[fx.container];
      expect(rest).toEqual(fx.doc[fx.container]);
      expect({ ...doc, [fx.container]: undefined }).toEqual({ ...fx.doc, [fx.container]: undefined });
      expect(backups(file)).toHaveLength(1);
      expect(fs.readFileSync(path.join(path.dirname(file), backups(file)[0] as string), 'utf8')).toBe(original);

      const installed = fs.readFileSync(file, 'utf8');
      const second = await run(env, project, 'mcp', 'install', '--client', client);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/already set up .*nothing changed/);
      expect(fs.readFileSync(file, 'utf8')).toBe(installed);
      expect(backups(file)).toHaveLength(1);

      const un = await run(env, project, 'mcp', 'uninstall', '--client', client);
      expect(un.code, un.stderr).toBe(0);
      expect(fs.readFileSync(file, 'utf8')).toBe(original);
      const again = await run(env, project, 'mcp', 'uninstall', '--client', client, '--json');
      expect(JSON.parse(again.stdout).results[0]).toMatchObject({ action: 'absent', changed: false });
    });
  }

  it('creates missing files, keeps keys added to its own entry, and updates a stale one', async () => {
    const { home, env, project } = sandbox();
    const r = await run(env, project, 'mcp', 'install', '--client', 'cursor', '--client', 'vscode', '--scope', 'project');
    expect(r.code, r.stderr).toBe(0);
    const cursor = path.join(project, '.cursor', 'mcp.json');
    expect(JSON.parse(fs.readFileSync(cursor, 'utf8'))).toEqual({ mcpServers: { traced: ours } });
    expect(JSON.parse(fs.readFileSync(path.join(project, '.vscode', 'mcp.json'), 'utf8'))).toEqual({ servers: { traced: { type: 'stdio', ...ours } } });
    expect(fs.existsSync(path.join(home, '.cursor'))).toBe(false);
    // A moved install, with a key the user added.
    fs.writeFileSync(cursor, JSON.stringify({ mcpServers: { traced: { command: '/old/node', args: ['/old/traced.js', 'mcp'], disabled: false } } }));
    const up = await run(env, project, 'mcp', 'install', '--client', 'cursor', '--scope', 'project', '--json');
    expect(JSON.parse(up.stdout).results[0].action).toBe('updated');
    expect(JSON.parse(fs.readFileSync(cursor, 'utf8')).mcpServers.traced).toEqual({ ...ours, disabled: false });
  });

  it('passes a chosen TRACED_HOME on, so the assistant reaches the same daemon', async () => {
    const { home, env, project } = sandbox();
    const r = await run({ ...env, TRACED_HOME: '/data/tr "home"' }, project, 'mcp', 'install', '--client', 'claude');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(home, '.claude.json'), 'utf8')).mcpServers.traced.env).toEqual({ TRACED_HOME: '/data/tr "home"' });
  });

  it('honours CLAUDE_CONFIG_DIR, XDG_CONFIG_HOME and CODEX_HOME', () => {
    const env = { HOME: '/h', CLAUDE_CONFIG_DIR: '/c', XDG_CONFIG_HOME: '/x', CODEX_HOME: '/k' };
    expect(clientTarget('claude', 'user', env, '/p', 'linux').file).toBe('/c/.claude.json');
    expect(clientTarget('vscode', 'user', env, '/p', 'linux').file).toBe('/x/Code/User/mcp.json');
    expect(clientTarget('vscode', 'user', env, '/p', 'darwin').file).toBe('/h/Library/Application Support/Code/User/mcp.json');
    expect(clientTarget('codex', 'user', env, '/p', 'linux').file).toBe('/k/config.toml');
    expect(clientTarget('claude', 'project', env, '/p', 'linux').file).toBe('/p/.mcp.json');
    expect(clientTarget('codex', 'project', env, '/p', 'linux').file).toBe('/p/.codex/config.toml');
  });

  it('writes through a symlinked config to its target, keeping the link', async () => {
    const { home, env, project } = sandbox();
    const dotfiles = tempDir('dotfiles-');
    fs.writeFileSync(path.join(dotfiles, 'mcp.json'), JSON.stringify({ mcpServers: { memory: other } }, null, 2));
    fs.mkdirSync(path.join(home, '.cursor'));
    fs.symlinkSync(path.join(dotfiles, 'mcp.json'), path.join(home, '.cursor', 'mcp.json'));
    const r = await run(env, project, 'mcp', 'install', '--client', 'cursor');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.lstatSync(path.join(home, '.cursor', 'mcp.json')).isSymbolicLink()).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dotfiles, 'mcp.json'), 'utf8')).mcpServers).toEqual({ memory: other, traced: ours });
  });

  it('--dry-run prints the entry and writes nothing, for every client', async () => {
    const { home, env, project } = sandbox();
    fs.mkdirSync(path.join(home, '.cursor'));
    fs.writeFileSync(path.join(home, '.cursor', 'mcp.json'), JSON.stringify({ mcpServers: { memory: other } }));
    const before = { home: snapshot(home), project: snapshot(project) };
    for (const scope of ['user', 'project']) {
      const r = await run(
        env,
        project,
        'mcp',
        'install',
        '--dry-run',
        '--scope',
        scope,
        '--client',
        'claude',
        '--client',
        'cursor',
        '--client',
        'vscode',
        '--client',
        'codex',
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(JSON.stringify(process.execPath));
      expect(r.stdout).toMatch(/would add/);
      const u = await run(env, project, 'mcp', 'uninstall', '--dry-run', '--scope', scope, '--client', 'cursor');
      expect(u.code).toBe(0);
    }
    expect({ home: snapshot(home), project: snapshot(project) }).toEqual(before);
  });

  it('refuses a file with comments, a broken file and a wrong shape, leaving each as it was', async () => {
    const { home, env, project } = sandbox();
    const vscode = path.join(home, '.config', 'Code', 'User', 'mcp.json');
    fs.mkdirSync(path.dirname(vscode), { recursive: true });
    const cases: [McpClient, string, string, string][] = [
      ['vscode', vscode, '{\n  // my servers\n  "servers": { "memory": { "type": "stdio", "command": "npx", "args": [] }, },\n}\n', 'comments'],
      ['claude', path.join(home, '.claude.json'), '{"mcpServers": {"memory": ', 'invalid'],
      ['cursor', path.join(home, '.cursor', 'mcp.json'), '{"mcpServers": ["not", "an", "object"]}', 'invalid'],
      ['codex', path.join(home, '.codex', 'config.toml'), '[mcp_servers.memory\ncommand = "npx"\n', 'invalid'],
      ['codex', path.join(home, '.codex', 'config.toml'), 'mcp_servers.traced.command = "/somewhere/else"\n', 'not_tables'],
      ['codex', path.join(home, '.codex', 'config.toml'), '[mcp_servers]\ntraced = { command = "x" }\n', 'not_tables'],
    ];
    for (const [client, file, text, reason] of cases) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      for (const verb of ['install', 'uninstall']) {
        const r = await run(env, project, 'mcp', verb, '--client', client, '--json');
        expect(r.code, `${client} ${verb} ${text}`).toBe(1);
        expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'TRACED_MCP_CONFIG_UNPARSABLE', data: { file, client, reason } });
        expect(fs.readFileSync(file, 'utf8')).toBe(text);
        expect(backups(file)).toEqual([]);
      }
    }
    // One unreadable file among several: none is written.
    fs.rmSync(path.join(home, '.claude.json'));
    const r = await run(env, project, 'mcp', 'install', '--client', 'claude', '--client', 'vscode');
    expect(r.code).toBe(1);
    expect(fs.existsSync(path.join(home, '.claude.json'))).toBe(false);
    // The message says what to add by hand.
    expect(r.stderr).toContain('"servers"');
  });

  it('rejects unknown clients and scopes as usage errors', async () => {
    const { env, project } = sandbox();
    expect((await run(env, project, 'mcp', 'install', '--client', 'emacs')).code).toBe(2);
    expect((await run(env, project, 'mcp', 'install')).code).toBe(2);
    expect((await run(env, project, 'mcp', 'install', '--client', 'claude', '--scope', 'local')).code).toBe(2);
    expect((await run(env, project, 'mcp', 'instal', '--client', 'claude')).code).toBe(2);
  });
});

describe('traced mcp install/uninstall (Codex TOML)', () => {
  it.skipIf(!hasTomllib)('adds [mcp_servers.traced] beside the other tables, idempotent, and removes it to the original bytes', async () => {
    const { home, env, project } = sandbox();
    const file = path.join(home, '.codex', 'config.toml');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, CODEX_FIXTURE);
    const r = await run({ ...env, TRACED_HOME: 'C:\\tr\\"q"\t' }, project, 'mcp', 'install', '--client', 'codex');
    expect(r.code, r.stderr).toBe(0);
    const [parsed, original] = tomllib([file, writeTmp(CODEX_FIXTURE)]);
    if (!parsed?.ok || !original?.ok) throw new Error(JSON.stringify([parsed, original]));
    expect(parsed.doc.mcp_servers.traced).toEqual({ ...ours, env: { TRACED_HOME: 'C:\\tr\\"q"\t' } });
    const { traced: _t, ...others } = parsed.doc.mcp_servers;
    expect({ ...parsed.doc, mcp_servers: others }).toEqual(original.doc);
    const installed = fs.readFileSync(file, 'utf8');
    expect(installed.startsWith(CODEX_FIXTURE)).toBe(true);
    const again = await run({ ...env, TRACED_HOME: 'C:\\tr\\"q"\t' }, project, 'mcp', 'install', '--client', 'codex');
    expect(again.stdout).toMatch(/nothing changed/);
    expect(fs.readFileSync(file, 'utf8')).toBe(installed);
    expect(backups(file)).toHaveLength(1);
    expect((await run(env, project, 'mcp', 'uninstall', '--client', 'codex')).code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(CODEX_FIXTURE);
  });

  it.skipIf(!hasTomllib)('updates a stale [mcp_servers.traced] in place, keeping keys the user added to it', async () => {
    const { home, env, project } = sandbox();
    const file = path.join(home, '.codex', 'config.toml');
    fs.mkdirSync(path.dirname(file));
    const text = `[mcp_servers.traced]\ncommand = "/old/node"\nstartup_timeout_sec = 30\nargs = [\n  "/old/traced.js",\n  "mcp",\n]\n\n[mcp_servers.traced.env]\nTRACED_HOME = "/old"\n\n[other]\nx = 1\n`;
    fs.writeFileSync(file, text);
    const r = await run({ ...env, TRACED_HOME: '/new' }, project, 'mcp', 'install', '--client', 'codex', '--json');
    expect(JSON.parse(r.stdout).results[0].action, r.stderr).toBe('updated');
    const [p] = tomllib([file]);
    if (!p?.ok) throw new Error(JSON.stringify(p));
    expect(p.doc).toEqual({ mcp_servers: { traced: { ...ours, startup_timeout_sec: 30, env: { TRACED_HOME: '/new' } } }, other: { x: 1 } });
  });

  it.skipIf(!hasTomllib)('property: install into any TOML document keeps it, parses, and uninstall gives back its bytes', () => {
    const dir = tempDir('tomlprop-');
    const launch = { command: '/opt/node "22"/bin/node', args: ['/opt/trâced\\bin/traced.js', 'mcp'], env: { TRACED_HOME: '/d\u0001ata' } };
    const t = { ...clientTarget('codex', 'user', { HOME: dir }, dir), file: path.join(dir, 'x.toml') };
    const bare = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,8}$/);
    const str = fc.string({ maxLength: 12 });
    const value = fc.oneof(
      fc.integer().map(String),
      fc.boolean().map(String),
      str.map((s) =>
        JSON.stringify(s)
          .replace(/\\u007f/g, '\\u007F')
          .replace(/\u007f/g, '\\u007F'),
      ),
      str.map((s) => `'${s.replace(/['\n\r\u0000-\u001f\u007f]/g, '')}'`),
      fc.array(fc.integer(), { maxLength: 4 }).map((a) => `[${a.join(', ')}]`),
      fc.array(fc.integer(), { maxLength: 3 }).map((a) => `[\n  ${a.join(',\n  ')}${a.length ? ',' : ''}\n]`),
      fc.constant('{ a = 1, "b c" = "d" }'),
      fc.constant('"""\nline [x]\n  = y\n"""'),
      fc.constant('1979-05-27 07:32:00Z'),
    );
    const table = fc.record({
      name: fc.oneof(
        bare,
        bare.map((b) => `mcp_servers.${b === 'traced' ? 'tracer' : b}`),
        fc.constant('mcp_servers."quoted name"'),
      ),
      keys: fc.uniqueArray(bare, { maxLength: 4 }),
      values: fc.array(value, { minLength: 4, maxLength: 4 }),
      comment: fc.boolean(),
      blank: fc.boolean(),
    });
    const doc = fc
      .record({
        root: fc.uniqueArray(bare, { maxLength: 3 }),
        rootValues: fc.array(value, { minLength: 3, maxLength: 3 }),
        tables: fc.uniqueArray(table, { selector: (x) => x.name, maxLength: 4 }),
      })
      .map((d) =>
        [
          ...d.root.map((k, n) => `${k} = ${d.rootValues[n]}\n`),
          ...d.tables.map(
            (tb) =>
              `${tb.blank ? '\n' : ''}${tb.comment ? '# about it\n' : ''}[${tb.name}]\n${tb.keys.map((k, n) => `${k} = ${tb.values[n]}${n === 0 && tb.comment ? '  # why' : ''}\n`).join('')}`,
          ),
        ].join(''),
      );
    const samples = fc.sample(doc, { numRuns: 60, seed: Number(process.env.FC_SEED ?? Date.now() % 100000) });
    const files: string[] = [];
    samples.forEach((text, n) => {
      const install = planInstall(t, launch, text);
      expect(install.action).toBe('added');
      const un = planUninstall(t, install.after);
      expect(un.after, `uninstall of sample ${n}`).toBe(text);
      expect(planInstall(t, launch, install.after).action).toBe('unchanged');
      files.push(writeTmp(text, dir), writeTmp(install.after as string, dir));
    });
    const parsed = tomllib(files);
    for (let n = 0; n < samples.length; n++) {
      const [before, after] = [parsed[2 * n], parsed[2 * n + 1]];
      // Samples tomllib itself refuses (a duplicate key the generator made) say nothing about us.
      if (!before?.ok) continue;
      if (!after?.ok) throw new Error(`sample ${n} no longer parses: ${after?.error}\n${samples[n]}`);
      const { traced, ...others } = after.doc.mcp_servers;
      expect(traced).toEqual(launch);
      expect(Object.keys(others).length ? { ...after.doc, mcp_servers: others } : { ...after.doc, mcp_servers: undefined }).toEqual({
        ...before.doc,
        mcp_servers: before.doc.mcp_servers,
      });
    }
    expect(parsed.filter((p) => p.ok).length).toBeGreaterThan(samples.length);
  });
});

describe('traced mcp install (Codex TOML) where mcp_servers is not [mcp_servers.NAME] tables', () => {
  const forms: [string, string, (snippet: string) => string][] = [
    ['an inline table', 'mcp_servers = { other = { command = "y" } }\n', (x) => `mcp_servers = { other = { command = "y" }, ${x} }\n`],
    ['dotted keys at the top', 'model = "o3"\nmcp_servers.other.command = "x"\n', (x) => `model = "o3"\nmcp_servers.other.command = "x"\n${x}\n`],
    ['a key under [mcp_servers]', '[mcp_servers]\nother = { command = "x" }\n', (x) => `[mcp_servers]\nother = { command = "x" }\n${x}\n`],
    ['dotted keys under [mcp_servers]', '[mcp_servers]\nother.command = "x"\n', (x) => `[mcp_servers]\nother.command = "x"\n${x}\n`],
    ['an array of tables', '[[mcp_servers]]\nname = "x"\n', () => ''],
    ['an inline table after a table of its own', '[mcp_servers.a]\ncommand = "a"\n[x]\ny = 1\n', () => ''],
  ];
  it.skipIf(!hasTomllib)(
    'refuses with TRACED_MCP_CONFIG_UNPARSABLE, leaves the file as it was, and the text it gives to add by hand is valid TOML there',
    async () => {
      for (const [what, text, paste] of forms) {
        const { home, env, project } = sandbox();
        const file = path.join(home, '.codex', 'config.toml');
        fs.mkdirSync(path.dirname(file));
        fs.writeFileSync(file, text);
        const r = await run({ ...env, TRACED_HOME: '/d "q"' }, project, 'mcp', 'install', '--client', 'codex', '--json');
        const [parsed] = tomllib([file]);
        expect(parsed?.ok, `${what}: the file still parses`).toBe(true);
        if (what === 'an inline table after a table of its own') {
          // The one form that takes another table: installed, and still TOML.
          expect(r.code, r.stderr).toBe(0);
          continue;
        }
        expect(r.code, what).toBe(1);
        expect(JSON.parse(r.stdout).error, what).toMatchObject({ code: 'TRACED_MCP_CONFIG_UNPARSABLE', data: { reason: 'not_tables' } });
        expect(fs.readFileSync(file, 'utf8')).toBe(text);
        expect(backups(file)).toEqual([]);
        const snippet = /\n {2}((?:mcp_servers\.)?traced = \{.*\})$/m.exec(JSON.parse(r.stdout).error.message)?.[1];
        if (paste(snippet ?? '') === '') continue;
        expect(snippet, what).toBeDefined();
        const [pasted] = tomllib([writeTmp(paste(snippet as string))]);
        if (!pasted?.ok) throw new Error(`${what}: ${pasted?.error}`);
        expect(pasted.doc.mcp_servers.traced, what).toEqual({ ...ours, env: { TRACED_HOME: '/d "q"' } });
        // Uninstall refuses too, untouched.
        const u = await run(env, project, 'mcp', 'uninstall', '--client', 'codex', '--json');
        expect(u.code).toBe(1);
        expect(fs.readFileSync(file, 'utf8')).toBe(text);
      }
    },
  );

  it.skipIf(!hasTomllib)('a reinstall keeps env entries the user added, in each way TOML writes them', async () => {
    const head = `[mcp_servers.traced]\ncommand = "/old/node"\nargs = ["/old/traced.js", "mcp"]\n`;
    const forms = [
      `${head}env = { TRACED_HOME = "/old", OPENAI_LOG = "debug", "x y" = 'z' }\n`,
      `${head}env = { OPENAI_LOG = "debug", "x y" = 'z' }\n\n[other]\nk = 1\n`,
      `${head}\n[mcp_servers.traced.env]\nOPENAI_LOG = "debug"\nTRACED_HOME = "/old"\n"x y" = 'z'\n`,
      `${head}env.OPENAI_LOG = "debug"\nenv."x y" = 'z'\n`,
      `${head}env.OPENAI_LOG = "debug"\nenv.TRACED_HOME = "/old"\nenv."x y" = 'z'`,
    ];
    for (const text of forms) {
      const { home, env, project } = sandbox();
      const file = path.join(home, '.codex', 'config.toml');
      fs.mkdirSync(path.dirname(file));
      fs.writeFileSync(file, text);
      const r = await run({ ...env, TRACED_HOME: '/new' }, project, 'mcp', 'install', '--client', 'codex');
      expect(r.code, r.stderr).toBe(0);
      const [p] = tomllib([file]);
      if (!p?.ok) throw new Error(`${p?.error}\n${fs.readFileSync(file, 'utf8')}`);
      expect(p.doc.mcp_servers.traced, text).toEqual({ ...ours, env: { TRACED_HOME: '/new', OPENAI_LOG: 'debug', 'x y': 'z' } });
      const after = fs.readFileSync(file, 'utf8');
      expect((await run({ ...env, TRACED_HOME: '/new' }, project, 'mcp', 'install', '--client', 'codex')).stdout).toMatch(/nothing changed/);
      expect(fs.readFileSync(file, 'utf8')).toBe(after);
    }
  });
});

describe('traced doctor: MCP clients', () => {
  it('names the clients that run this install and warns about entries pointing at a missing install', async () => {
    const { home, env, project } = sandbox();
    expect(clientsSummary(env, project)).toMatchObject({ status: 'ok', summary: expect.stringMatching(/no client runs this install/) });
    await run(env, project, 'mcp', 'install', '--client', 'claude', '--client', 'codex');
    const ok = clientsSummary(env, project);
    expect(ok.status).toBe('ok');
    expect(ok.summary).toMatch(/claude \(user\), codex \(user\) run this install/);
    fs.mkdirSync(path.join(project, '.cursor'));
    fs.writeFileSync(
      path.join(project, '.cursor', 'mcp.json'),
      JSON.stringify({ mcpServers: { traced: { command: '/gone/node', args: ['/gone/traced.js', 'mcp'] } } }),
    );
    const stale = clientsSummary(env, project);
    expect(stale.status).toBe('warn');
    expect(stale.summary).toMatch(/cursor \(project\) runs \/gone\/node/);
    expect(stale.fix).toBe('traced mcp install --client cursor');
    expect(thisInstall(env)).toEqual(ours);
    expect(home).toBeTruthy();
  });
});

function writeTmp(text: string, dir = tempDir('toml-')): string {
  const f = path.join(dir, `${Math.random().toString(36).slice(2)}.toml`);
  fs.writeFileSync(f, text);
  return f;
}
