import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseReflogLine } from '../../src/capture/git.js';
import { IgnoreRules, globToRegExp, isSecretFile } from '../../src/capture/ignore.js';
import { parseWmClass, windowProbeFor } from '../../src/capture/window.js';
import { ROOT } from '../helpers/env.js';

describe('reflog lines', () => {
  it('parses a commit line', () => {
    const e = parseReflogLine(`${'a'.repeat(40)} ${'b'.repeat(40)} Jane Doe <jane@example.com> 1795272878 +0100\tcommit: Fix: the cache`);
    expect(e).toEqual({ old: 'a'.repeat(40), new: 'b'.repeat(40), ts: 1795272878000, message: 'commit: Fix: the cache' });
    expect(parseReflogLine('garbage')).toBeUndefined();
  });
});

describe('ignore rules', () => {
  const rules = new IgnoreRules('/p', ['*.gen.ts', 'docs/build/']);
  rules.addGitIgnored('tmp/');
  rules.addGitIgnored('secret.txt');
  it('ignores dependency, build, VCS, secrets, scratch, user and git-ignored paths', () => {
    for (const p of [
      'node_modules/a/b.js',
      '.git/HEAD',
      'dist/x.js',
      'src/.env',
      '.env.local',
      'a/b.swp',
      'x.gen.ts',
      'docs/build/i.html',
      'tmp/a/b',
      'secret.txt',
      '/elsewhere/x',
    ]) {
      expect(rules.ignores(p.startsWith('/') ? p : `/p/${p}`), p).toBe(true);
    }
    for (const p of ['src/index.ts', 'README.md', 'docs/guide.md', 'environment.ts']) expect(rules.ignores(`/p/${p}`), p).toBe(false);
  });
  it('recognises .env-like files', () => {
    expect(['.env', '.env.production', 'prod.env', '.envrc'].every(isSecretFile)).toBe(true);
    expect(isSecretFile('env.ts')).toBe(false);
  });
  it('matches globs like .gitignore', () => {
    expect(globToRegExp('*.log').test('a/b/c.log')).toBe(true);
    expect(globToRegExp('/root.txt').test('a/root.txt')).toBe(false);
    expect(globToRegExp('src/**/gen').test('src/a/b/gen/x.ts')).toBe(true);
  });
});

describe('window probes', () => {
  it('reads the class from xprop output', () => {
    expect(parseWmClass('WM_CLASS(STRING) = "xterm", "XTerm"\n')).toBe('XTerm');
    expect(parseWmClass('WM_CLASS:  not found.')).toBe('');
  });
  it('says why there is no probe', () => {
    expect(windowProbeFor('linux', {})).toMatch(/no DISPLAY/);
    expect(typeof windowProbeFor('linux', { DISPLAY: ':0' })).toBe('function');
    expect(typeof windowProbeFor('darwin', {})).toBe('function');
  });
});

describe('layering', () => {
  it('keeps MCP and node-ipc out of the engine, capture, queue and timeline', () => {
    const offenders: string[] = [];
    for (const dir of ['daemon', 'capture', 'queue', 'timeline', 'api']) {
      const abs = path.join(ROOT, 'src', dir);
      if (!fs.existsSync(abs)) continue;
      for (const f of fs.readdirSync(abs, { recursive: true }) as string[]) {
        if (!f.endsWith('.ts')) continue;
        const text = fs.readFileSync(path.join(abs, f), 'utf8');
        if (/from '(@modelcontextprotocol\/sdk[^']*|node-ipc)'/.test(text)) offenders.push(`${dir}/${f}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
