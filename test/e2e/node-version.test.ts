import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from '../helpers/env.js';

/** A Node older than 22.13 on this machine, if there is one (the system Node here is 20). */
function oldNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const v = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
      const [maj, min] = v.split('.').map(Number);
      if ((maj ?? 0) < 22 || (maj === 22 && (min ?? 0) < 13)) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

const old = oldNode();

describe('start-up check', () => {
  it.skipIf(!old)('refuses an older Node with a clear message', () => {
    if (!old) console.warn('SKIPPED: no Node older than 22.13 on this machine to try');
    const r = spawnSync(old as string, [BIN, 'status'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/TRACED_NODE_VERSION: traced needs Node\.js >= 22\.13/);
    expect(r.stdout).toBe('');
  });
});
