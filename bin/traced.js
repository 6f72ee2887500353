#!/usr/bin/env node
// Plain JavaScript that every Node can parse, so an old Node gets a clear
// message instead of a syntax error from the compiled code.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    `traced: TRACED_NODE_VERSION: traced needs Node.js >= 22.13; this is ${process.version} (${process.execPath}).\n` +
      'Install Node.js 22 or newer (your package manager, nodejs.org, or a version manager such as fnm or nvm) and run traced with it.\n' +
      'In a clone of the traced repository, `npx traced …` runs it with the Node 22 the project pins.\n',
  );
  process.exit(1);
}
// The version needs nothing but package.json: answer it before loading the CLI.
if (['--version', '-v', 'version'].includes(process.argv[2] ?? '') && process.argv.length === 3) {
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
  process.exit(0);
}
const { main } = await import('../dist/cli/main.js');
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
// The daemon and `traced mcp` return only when they are done; anything still
// holding the loop (a stray timer in a library) must not keep the CLI alive.
if (process.argv[2] !== 'daemon' && process.argv[2] !== 'mcp') setTimeout(() => process.exit(code), 200).unref();
else setTimeout(() => process.exit(code), 3000).unref();
