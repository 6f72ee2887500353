import { describe, expect, it } from 'vitest';
import { IgnoreRules, isSecretFile } from '../../src/capture/ignore.js';

describe('ignore rules judge paths by name alone', () => {
  it('treats every name on DESIGN §11 as secret, in any case and at any depth', () => {
    const secret = [
      '.env',
      '.ENV.local',
      'prod.env',
      '.envrc',
      'server.pem',
      'tls.key',
      'id_rsa',
      'id_rsa.pub',
      'id_ed25519',
      'id_ecdsa',
      'id_dsa',
      '.npmrc',
      '.netrc',
      '.pgpass',
      'credentials',
      'credentials.json',
      'cert.p12',
      'cert.pfx',
      'vault.kdbx',
      'secrets.yaml',
      'prod.secrets',
    ];
    for (const name of secret) expect(isSecretFile(name), name).toBe(true);
    for (const name of ['env.ts', 'environment.ts', 'keys.ts', 'secret.md', 'README.md', 'id.ts']) expect(isSecretFile(name), name).toBe(false);
    const rules = new IgnoreRules('/p', []);
    for (const rel of ['config/.env.local', 'a/b/server.pem', '.ssh/known_hosts', 'home/.ssh', '.gnupg/pubring.kbx', 'credentials/aws.txt']) {
      expect(rules.isSecret(`/p/${rel}`), rel).toBe(true);
      expect(rules.ignores(`/p/${rel}`), rel).toBe(true);
    }
    expect(rules.isSecret('/p/src/index.ts')).toBe(false);
  });

  it("adds the user's secretFiles, directory patterns included, before anything is stat'd", () => {
    const rules = new IgnoreRules('/p', [], ['*.vault', 'private/', '/config/prod.yaml']);
    for (const rel of ['notes.vault', 'a/B.VAULT', 'private', 'private/plan.txt', 'config/prod.yaml']) expect(rules.isSecret(`/p/${rel}`), rel).toBe(true);
    for (const rel of ['sub/config/prod.yaml', 'privateer.ts', 'config/dev.yaml']) expect(rules.isSecret(`/p/${rel}`), rel).toBe(false);
  });

  it('matches user ignore globs with gitignore semantics: classes, negation, directory-only', () => {
    const rules = new IgnoreRules('/p', ['[ab].log', '*.gen.ts', '!keep.gen.ts', 'docs/site/']);
    expect(rules.ignores('/p/a.log')).toBe(true);
    expect(rules.ignores('/p/c.log')).toBe(false);
    expect(rules.ignores('/p/src/x.gen.ts')).toBe(true);
    expect(rules.ignores('/p/src/keep.gen.ts')).toBe(false);
    expect(rules.ignores('/p/docs/site/i.html')).toBe(true);
    expect(rules.ignores('/p/docs/site', true)).toBe(true);
    expect(rules.ignores('/p/docs/site', false)).toBe(false);
  });

  it('never lets a negation or a path outside the project reach a secret', () => {
    const rules = new IgnoreRules('/p', ['!.env'], ['!id_rsa']);
    expect(rules.ignores('/p/.env')).toBe(true);
    expect(rules.ignores('/p/id_rsa')).toBe(true);
    expect(rules.ignores('/elsewhere/x.ts')).toBe(true);
    expect(rules.ignores('/p/../x.ts')).toBe(true);
    expect(rules.ignores('/p/..notes.md')).toBe(false); // a name beginning with two dots is inside the project
  });
});
