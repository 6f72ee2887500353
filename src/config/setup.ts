/**
 * Config and paths for this environment, shared by the daemon, the CLI and
 * `traced mcp`. Loads no database, watcher or uploader: adapters import it.
 */
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import { loadConfig, readConfigFile, type Config, type Env } from './config.js';
import { defaultHome, resolvePaths, type Paths } from './paths.js';

export interface Setup {
  config: Config;
  paths: Paths;
}

/** Reads config.json in the home and the environment; TRACED_CONFIG_INVALID when either is wrong. */
export function setup(env: Env): Setup {
  const home = defaultHome(env);
  const source = path.join(home, 'config.json');
  const file = readConfigFile(source);
  const config = loadConfig({ env, file, source });
  const paths = resolvePaths({ env, home: config.home ?? home, socketDir: config.socketDir });
  return { config, paths };
}

/**
 * Where a daemon that is already running listens, even when config.json has
 * since been broken: the paths from a valid setup, or else from the
 * environment and the file's `home`/`socketDir` where those are still plain
 * strings (the daemon was started with an earlier, valid file). `problem` is
 * the TRACED_CONFIG_INVALID that made the guess necessary. Other errors throw.
 */
export function reachPaths(env: Env): { paths: Paths; problem?: TracedError } {
  try {
    return { paths: setup(env).paths };
  } catch (err) {
    if (!(err instanceof TracedError) || err.code !== ErrorCodes.CONFIG_INVALID) throw err;
    const home = defaultHome(env);
    let file: Record<string, unknown> = {};
    try {
      const f = readConfigFile(path.join(home, 'config.json'));
      if (f && typeof f === 'object' && !Array.isArray(f)) file = f as Record<string, unknown>;
    } catch {
      // unreadable or not JSON: nothing to take from it, the defaults are the guess
    }
    const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
    const paths = resolvePaths({ env, home: str(env.TRACED_HOME) ?? str(file.home) ?? home, socketDir: str(env.TRACED_SOCKET_DIR) ?? str(file.socketDir) });
    return { paths, problem: err };
  }
}
