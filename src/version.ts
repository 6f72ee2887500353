import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Version from package.json (one directory above src/ and dist/). */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0'; // running from an unusual layout; the version is informational only
  }
})();

/** Absolute path of the `traced` entry script, used to start a detached daemon. */
export const BIN_PATH: string = fileURLToPath(new URL('../bin/traced.js', import.meta.url));
