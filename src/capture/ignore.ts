/**
 * What the files channel never looks at: VCS and dependency folders, build
 * output, editor scratch files, secret files, user globs, and what git ignores.
 * Every decision here is made from the path alone, so callers ask before they
 * stat, open or list anything: a secret file is never touched (DESIGN §11).
 */
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';

export const IGNORED_DIRS: ReadonlySet<string> = new Set([
  '.git',
  '.hg',
  '.svn',
  'node_modules',
  'bower_components',
  'dist',
  'build',
  'out',
  'target',
  '.next',
  '.nuxt',
  '.svelte-kit',
  '.turbo',
  '.parcel-cache',
  '.cache',
  'coverage',
  '.nyc_output',
  '__pycache__',
  '.pytest_cache',
  '.mypy_cache',
  '.venv',
  'venv',
  '.tox',
  '.gradle',
  '.terraform',
  '.direnv',
  '.idea',
  '.vs',
]);

/**
 * DESIGN §11's secret names as gitignore patterns, matched case-insensitively
 * (macOS and Windows file systems ignore case) against every component of a
 * path: a directory with such a name (`.ssh`, `credentials/`) is never entered.
 */
export const SECRET_FILE_PATTERNS: readonly string[] = [
  '.env*',
  '*.env',
  '*.pem',
  '*.key',
  '*.p12',
  '*.pfx',
  '*.kdbx',
  'id_rsa*',
  'id_ed25519*',
  'id_ecdsa*',
  'id_dsa*',
  '.ssh',
  '.gnupg',
  '.npmrc',
  '.netrc',
  '.pgpass',
  '.pypirc',
  'credentials*',
  'secrets.*',
  '*.secrets',
];

/** Never looked into, tracked or not. */
const VCS_DIRS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn']);

const builtinSecrets = ignore({ ignorecase: true }).add(SECRET_FILE_PATTERNS);

/** True for a base name on DESIGN §11's list (`.env.local`, `prod.env`, `id_rsa`, `server.pem` …). */
export function isSecretFile(base: string): boolean {
  return test(builtinSecrets, base);
}

/** Editor swap/backup files and other noise. */
export function isScratchFile(base: string): boolean {
  return (
    /\.(swp|swo|swx|tmp|temp|bak|orig)$/i.test(base) ||
    base.endsWith('~') ||
    base.startsWith('.#') ||
    base === '4913' ||
    base === '.DS_Store' ||
    base === 'Thumbs.db'
  );
}

/**
 * Converts a gitignore-like glob (`*`, `**`, `?`) into a RegExp over posix
 * relative paths. The channel matches globs with the `ignore` package now
 * (character classes, `!` negation); this is kept for callers of the old API.
 */
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

/** `ignore` throws on paths it cannot judge (`..`, absolute): those count as matched, so they are skipped. */
function test(rules: Ignore, rel: string): boolean {
  try {
    return rules.ignores(rel);
  } catch {
    return true; // fail closed: a path the matcher cannot read is not looked at
  }
}

export class IgnoreRules {
  /** User globs (`files.ignore`), with gitignore semantics. */
  private readonly user: Ignore;
  /** The user's `privacy.secretFiles`, apart from DESIGN §11's list so a `!` there cannot undo it. */
  private readonly userSecrets: Ignore;
  /** Paths git reported as ignored at start (directories end with `/`). */
  private readonly gitIgnored = new Set<string>();
  /** Every directory holding a file git tracks (`a`, `a/b`), from `git ls-files` at start. */
  private readonly trackedDirs = new Set<string>();
  /** The tracked files under a default-ignored directory (`build/`, `dist/` …): the rest need no entry. */
  private readonly trackedInIgnoredDirs = new Set<string>();

  constructor(
    readonly root: string,
    globs: readonly string[],
    secretFiles: readonly string[] = [],
  ) {
    this.user = ignore().add(globs);
    this.userSecrets = ignore({ ignorecase: true }).add(secretFiles);
  }

  addGitIgnored(rel: string): void {
    this.gitIgnored.add(rel);
  }

  /**
   * The files git tracks (relative posix paths). A default-ignored directory
   * (`build/`, `out/`, `target/`, `dist/` …) then hides only what git does not
   * track: a tracked `dist/index.js` is reported, a new build output beside it is not.
   */
  addTracked(rels: Iterable<string>): void {
    for (const rel of rels) {
      const parts = rel.split('/');
      if (parts.some((p) => VCS_DIRS.has(p))) continue;
      if (parts.some((p) => IGNORED_DIRS.has(p))) this.trackedInIgnoredDirs.add(rel);
      // Deepest folder first: once one is known, so is every folder above it.
      for (
        let dir = rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
        dir && !this.trackedDirs.has(dir);
        dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/')))
      ) {
        this.trackedDirs.add(dir);
      }
    }
  }

  /** True when `rel` is a directory holding a tracked file: what git ignores there is still to be watched. */
  holdsTracked(rel: string): boolean {
    return this.trackedDirs.has(rel.endsWith('/') ? rel.slice(0, -1) : rel);
  }

  /** Relative posix path of `abs` inside the root, or undefined when outside it. */
  rel(abs: string): string | undefined {
    const r = path.relative(this.root, abs);
    if (r === '') return '';
    if (r === '..' || r.startsWith(`..${path.sep}`) || path.isAbsolute(r)) return undefined;
    return r.split(path.sep).join('/');
  }

  /**
   * True when `abs`, or a directory above it, is a secret by name. A user's
   * directory-only pattern (`private/`) counts for a path of either kind: its
   * kind is not known without a stat.
   */
  isSecret(abs: string): boolean {
    const rel = this.rel(abs);
    if (rel === undefined) return true;
    if (rel === '') return false;
    return [builtinSecrets, this.userSecrets].some((rules) => test(rules, rel) || test(rules, `${rel}/`));
  }

  /**
   * Decides from the path alone: never needs to stat, open or list it. Pass
   * `isDir` once a stat has shown a directory, so directory-only user globs
   * (`docs/build/`) apply to the directory itself and not only to what is in it.
   */
  ignores(abs: string, isDir = false): boolean {
    const rel = this.rel(abs);
    if (rel === undefined) return true;
    if (rel === '') return false;
    if (this.isSecret(abs)) return true;
    const parts = rel.split('/');
    if (parts.some((p) => IGNORED_DIRS.has(p)) && (parts.some((p) => VCS_DIRS.has(p)) || !(this.trackedDirs.has(rel) || this.trackedInIgnoredDirs.has(rel))))
      return true;
    const base = parts[parts.length - 1] as string;
    if (isScratchFile(base)) return true;
    if (this.gitIgnored.has(rel) || this.gitIgnored.has(`${rel}/`)) return true;
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix += `${parts[i]}/`;
      if (this.gitIgnored.has(prefix)) return true;
    }
    return test(this.user, isDir ? `${rel}/` : rel);
  }
}
