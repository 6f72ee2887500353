/**
 * Config and paths for this environment, shared by the daemon, the CLI and
 * `traced mcp`. Loads no database, watcher or uploader: adapters import it.
 */
import { loadConfig, readConfigFile, type Config, type Env } from './config.js';
import { defaultHome, resolvePaths, type Paths } from './paths.js';

export interface Setup {
  config: Config;
  paths: Paths;
}

export function setup(env: Env): Setup {
  const home = defaultHome(env);
  const file = readConfigFile(`${home}/config.json`);
  const config = loadConfig({ env, file });
  const paths = resolvePaths({ env, home: config.home ?? home, socketDir: config.socketDir });
  return { config, paths };
}
