#!/usr/bin/env node
// Plain JavaScript that every Node can parse, so an old Node gets a clear
// message instead of a syntax error from the compiled code.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  // Only a clone has the devDependency `node` installed: there, npx runs the Node 22 it pins.
  const { existsSync } = await import('node:fs');
  const clone = existsSync(new URL('../node_modules/node/package.json', import.meta.url));
  process.stderr.write(
    `traced: TRACED_NODE_VERSION: traced needs Node.js >= 22.13; this is ${process.version} (${process.execPath}).\n` +
      'Get Node.js 22 LTS or newer: from https://nodejs.org, your package manager, or a version manager (`fnm install 22`, `nvm install 22`, `volta install node@22`).\n' +
      'Then make it the `node` on your PATH (`node --version` shows it) and run traced again; if you installed traced with `npm install -g`, install it again with that Node.\n' +
      (clone ? 'In this clone, `npx traced …` runs it with the Node 22 the project pins.\n' : ''),
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
