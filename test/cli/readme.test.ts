/**
 * The README's commands against the command table: every `traced …` line in
 * its shell blocks names a command and parses (flags, values, times), and
 * the path it lays out never starts a second session while one is recording
 * (the first command already started one).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/args.js';
import { commands } from '../../src/cli/main.js';
import { ROOT } from '../helpers/env.js';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);

/** `npx traced a b "c d"  # comment` → ['a', 'b', 'c d']. */
function words(line: string): string[] | undefined {
  const m = /^(?:npx )?traced (.*)$/.exec(line.replace(/\s+#.*$/, '').trim());
  if (!m) return undefined;
  return [...(m[1] as string).matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((w) => w[1] ?? w[2] ?? (w[3] as string));
}

describe('README', () => {
  it('every traced command line in it names a command of the table and parses', () => {
    const lines = blocks.flatMap((b) => b.split('\n')).flatMap((l) => l.replace(/\s+#.*$/, '').split(/\s*(?:&&|\||;)\s*/));
    const used = lines.map(words).filter((w): w is string[] => w !== undefined && w.length > 0);
    expect(used.length).toBeGreaterThan(10);
    for (const [name, ...rest] of used) {
      if (name === '--version') continue;
      const cmd = commands.find((c) => c.name === name);
      expect(cmd, `traced ${name}`).toBeDefined();
      expect(() => parseCommandArgs(cmd as (typeof commands)[number], rest), `traced ${name} ${rest.join(' ')}`).not.toThrow();
    }
  });

  it('"Using it" stops the session the first command started before it starts another', () => {
    const first = blocks[0] as string;
    expect(first).toMatch(/traced start/);
    const using = /## Using it[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] as string;
    let recording = true;
    for (const w of using.split('\n').map(words)) {
      if (w?.[0] === 'start') {
        expect(recording, 'a start while a session records is TRACED_SESSION_ACTIVE').toBe(false);
        recording = true;
      }
      if (w?.[0] === 'stop') recording = false;
    }
  });
});
