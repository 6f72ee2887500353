/**
 * What the files channel never looks at: VCS and dependency folders, build
 * output, editor scratch files, secrets files (`.env`-like files are never
 * stat'd, read or reported), user globs, and what git ignores.
 */
import path from 'node:path';

export const IGNORED_DIRS: ReadonlySet<string> = new Set([
  '.git', '.hg', '.svn', 'node_modules', 'bower_components', 'dist', 'build', 'out', 'target', '.next', '.nuxt',
  '.svelte-kit', '.turbo', '.parcel-cache', '.cache', 'coverage', '.nyc_output', '__pycache__', '.pytest_cache',
  '.mypy_cache', '.venv', 'venv', '.tox', '.gradle', '.terraform', '.direnv', '.idea', '.vs',
]);

/** `.env`, `.env.local`, `prod.env`, `.envrc`: never touched. */
export function isSecretFile(base: string): boolean {
  return /^\.env(\..*)?$/i.test(base) || /\.env$/i.test(base) || base === '.envrc' || base === '.netrc' || base === '.npmrc' || base === '.pypirc';
}

/** Editor swap/backup files and other noise. */
export function isScratchFile(base: string): boolean {
  return /\.(swp|swo|swx|tmp|temp|bak|orig)$/i.test(base) || base.endsWith('~') || base.startsWith('.#') || base === '4913' || base === '.DS_Store' || base === 'Thumbs.db';
}

/** Converts a gitignore-like glob (`*`, `**`, `?`) into a RegExp over posix relative paths. */
export function globToRegExp(glob: string): RegExp {
  let g = glob.replace(/\\/g, '/');
  const anchored = g.startsWith('/');
  if (anchored) g = g.slice(1);
  if (g.endsWith('/')) g += '**';
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i] as string;
    if (c === '*') {
      if (g[i + 1] === '*') {
        re += '.*';
        i++;
        if (g[i + 1] === '/') i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern without a slash matches at any depth, like .gitignore.
  const prefix = anchored || g.includes('/') ? '^' : '^(?:.*/)?';
  return new RegExp(`${prefix}${re}(?:/.*)?$`);
}

export class IgnoreRules {
  private readonly globs: RegExp[];
  /** Paths git reported as ignored at start (directories end with `/`). */
  private readonly gitIgnored = new Set<string>();

  constructor(readonly root: string, globs: readonly string[]) {
    this.globs = globs.map(globToRegExp);
  }

  addGitIgnored(rel: string): void {
    this.gitIgnored.add(rel);
  }

  /** Relative posix path of `abs` inside the root, or undefined when outside it. */
  rel(abs: string): string | undefined {
    const r = path.relative(this.root, abs);
    if (r === '' ) return '';
    if (r.startsWith('..') || path.isAbsolute(r)) return undefined;
    return r.split(path.sep).join('/');
  }

  /** Decides from the path alone: never needs to stat or read the file. */
  ignores(abs: string): boolean {
    const rel = this.rel(abs);
    if (rel === undefined) return true;
    if (rel === '') return false;
    const parts = rel.split('/');
    for (const p of parts) if (IGNORED_DIRS.has(p)) return true;
    const base = parts[parts.length - 1] as string;
    if (isSecretFile(base) || isScratchFile(base)) return true;
    if (this.gitIgnored.has(rel) || this.gitIgnored.has(`${rel}/`)) return true;
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix += `${parts[i]}/`;
      if (this.gitIgnored.has(prefix)) return true;
    }
    return this.globs.some((g) => g.test(rel));
  }
}
