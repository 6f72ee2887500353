/**
 * traced as any Node CLI is installed: `npm pack`, the tarball's contents, a
 * global install into a temp prefix from the registry this machine uses (once
 * as users run it, once with --ignore-scripts as npm 12 will), then from `/`:
 * `traced --version`, `traced doctor --json` and `traced mcp` answering a real
 * MCP client with nothing but protocol on stdout; on a Node older than 22.13
 * the message says how to get Node 22 and gives no clone-only advice. The
 * lockfile check: every dependency install script is reviewed in allowScripts,
 * and better-sqlite3 (prebuilt binaries in its package) has none to run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/env.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
// Node 22 first on PATH: npm's scripts (prepack) and the installed `traced` (#!/usr/bin/env node) run with it.
const PATH22 = `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 540_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const hasNpm = spawnSync('npm', ['--version']).status === 0;
if (!hasNpm) {
  if (process.env.CI === 'true') throw new Error('CI: npm is missing');
  console.warn('SKIPPED packaging tests: npm is not on PATH');
}

describe('the lockfile: install scripts', () => {
  it('reviews every dependency install script in allowScripts, and better-sqlite3 has none (it ships prebuilt binaries)', () => {
    const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
      .filter(([k, v]) => k && v.hasInstallScript)
      .map(([k]) => k.replace(/^.*node_modules\//, ''));
    expect(withScripts.length).toBeGreaterThan(0);
    expect(Object.keys(pkg.allowScripts).sort()).toEqual([...new Set(withScripts)].sort());
    expect(withScripts).not.toContain('better-sqlite3');
    const sqlite = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8'));
    expect(sqlite.gypfile).toBe(false); // no implicit node-gyp rebuild
    expect(fs.existsSync(path.join(ROOT, 'node_modules', 'better-sqlite3', 'prebuilds', `${process.platform}-${process.arch}.node`))).toBe(true);
    // videodb's install script fetches a recorder binary traced never runs.
    expect(pkg.allowScripts.videodb).toBe(false);
  });
});

describe.skipIf(!hasNpm)('npm pack and a global install', () => {
  const work = tempDir('pack-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: PATH22,
    HOME: path.join(work, 'home'),
    TRACED_HOME: path.join(work, 'th'),
    // The registry and cache this machine already uses, not the temp HOME's empty ones.
    npm_config_cache: process.env.npm_config_cache ?? path.join(process.env.HOME ?? '/root', '.npm'),
    npm_config_userconfig: process.env.npm_config_userconfig ?? path.join(process.env.HOME ?? '/root', '.npmrc'),
    npm_config_update_notifier: 'false',
  };
  delete env.DISPLAY;
  for (const k of Object.keys(env)) if (/^npm_(lifecycle|package)_/.test(k)) delete env[k];
  let tarball = '';
  let files: string[] = [];
  const prefixes: Record<'scripts' | 'ignoreScripts', string> = { scripts: path.join(work, 'g1'), ignoreScripts: path.join(work, 'g2') };
  const installLog: Record<string, string> = {};

  beforeAll(() => {
    fs.mkdirSync(env.HOME as string, { recursive: true });
    const out = JSON.parse(npm(['pack', '--json', '--pack-destination', work], ROOT, env));
    tarball = path.join(work, out[0].filename);
    files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const [kind, prefix] of Object.entries(prefixes)) {
      const args = ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--foreground-scripts', tarball];
      installLog[kind] = npm(kind === 'ignoreScripts' ? [...args, '--ignore-scripts'] : args, work, env);
    }
  }, 1_200_000);

  afterAll(() => {
    for (const prefix of Object.values(prefixes)) {
      const bin = path.join(prefix, 'bin', 'traced');
      if (fs.existsSync(bin)) spawnSync(bin, ['daemon', 'stop', '--force'], { env, cwd: '/', timeout: 60_000 });
    }
  });

  it('packs bin, dist, the service templates, docs and README; no tests, benches, CI, TypeScript sources or source maps', () => {
    const has = (p: string) => files.includes(`package/${p}`);
    for (const p of ['package.json', 'README.md', 'bin/traced.js', 'dist/cli/main.js', 'dist/daemon/main.js', 'dist/mcp/server.js'])
      expect(has(p), p).toBe(true);
    for (const p of ['systemd/traced.service', 'launchd/dev.traced.daemon.plist', 'windows/traced-task.xml']) expect(has(p), p).toBe(true);
    const bad = files.filter((f) => /^package\/(test|bench|src|\.ci|node_modules)\//.test(f) || /\.ts$|\.map$/.test(f) || /\/\.(git|ci)/.test(f));
    expect(bad).toEqual([]);
    // Every source module is there compiled: the tarball is not missing dist.
    const sources = fs
      .readdirSync(path.join(ROOT, 'src'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    const missing = sources.filter((f) => !has(`dist/${f.replace(/\.ts$/, '.js')}`));
    expect(missing).toEqual([]);
  });

  for (const kind of ['scripts', 'ignoreScripts'] as const) {
    describe(kind === 'scripts' ? 'installed as users run it' : 'installed with --ignore-scripts (npm 12 default)', () => {
      const bin = () => path.join(prefixes[kind], 'bin', 'traced');
      const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
        spawnSync(bin(), args, { env: { ...env, ...extra }, cwd: '/', encoding: 'utf8', timeout: 60_000 });

      it('compiled nothing: better-sqlite3 loads its prebuilt binary', () => {
        const sqlite = path.join(prefixes[kind], 'lib', 'node_modules', 'traced', 'node_modules', 'better-sqlite3');
        expect(fs.existsSync(path.join(sqlite, 'prebuilds'))).toBe(true);
        expect(fs.existsSync(path.join(sqlite, 'build'))).toBe(false);
        expect(installLog[kind]).not.toMatch(/node-gyp|gyp info/);
      });

      it('answers --version and doctor --json from /', () => {
        const v = run(['--version']);
        expect(v.status, v.stderr).toBe(0);
        expect(v.stdout).toBe(`${pkg.version}\n`);
        const d = run(['doctor', '--json']);
        expect(d.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
        const report = JSON.parse(d.stdout);
        const ids = report.checks.map((c: { id: string }) => c.id);
        for (const id of ['node', 'config', 'ffmpeg', 'database', 'mcp']) expect(ids).toContain(id);
        expect(report.checks.find((c: { id: string }) => c.id === 'database').status).toBe('ok');
      });

      it('serves MCP over stdio to the real SDK client, with nothing but protocol on stdout', async () => {
        const transport = new StdioClientTransport({ command: bin(), args: ['mcp'], cwd: '/', env: env as Record<string, string>, stderr: 'pipe' });
        let stderr = '';
        transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        const errors: unknown[] = [];
        const client = new Client({ name: 'pack-test', version: '1.0.0' });
        client.onerror = (e) => errors.push(e);
        try {
          await client.connect(transport);
          expect(client.getServerVersion()).toMatchObject({ name: 'traced', version: pkg.version });
          const tools = await client.listTools();
          expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['what_happened', 'search', 'replay_at', 'status']));
          const status = await client.callTool({ name: 'status', arguments: {} });
          expect(status.isError, JSON.stringify(status)).toBeFalsy();
        } finally {
          await client.close();
        }
        // A line on stdout that is not JSON-RPC shows up here as a parse error.
        expect(errors, stderr).toEqual([]);
      });

      it('on Node older than 22.13 says how to get Node 22, with no clone-only advice', () => {
        const old = ['/usr/bin/node', '/usr/local/bin/node'].find((n) => {
          const r = spawnSync(n, ['-p', 'process.versions.node'], { encoding: 'utf8' });
          const [maj = 0, min = 0] = r.status === 0 ? r.stdout.trim().split('.').map(Number) : [99];
          return maj < 22 || (maj === 22 && min < 13);
        });
        if (!old) {
          console.warn('SKIPPED: no Node older than 22.13 on this machine');
          return;
        }
        const r = spawnSync(bin(), ['status'], { env: { ...env, PATH: `${path.dirname(old)}:/usr/bin:/bin` }, cwd: '/', encoding: 'utf8' });
        expect(r.status).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/TRACED_NODE_VERSION: traced needs Node\.js >= 22\.13/);
        expect(r.stderr).toMatch(/Node\.js 22/);
        expect(r.stderr).toMatch(/nodejs\.org/);
        expect(r.stderr).not.toMatch(/npx|clone|repository/);
      });
    });
  }
});
