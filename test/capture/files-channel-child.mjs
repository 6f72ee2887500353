// Runs the built FilesChannel in a process of its own, so a tracer can watch
// every system call it makes: `node files-channel-child.mjs <project> '<secretFiles JSON>'`.
// Prints `ready` once the initial scan is done, stops at the first line on
// stdin, then prints the events it recorded as one JSON line.
import pino from 'pino';
import { FilesChannel } from '../../dist/capture/files.js';

const [project, secretFiles = '[]'] = process.argv.slice(2);
const events = [];
const ctx = {
  sessionId: 'trace',
  project,
  sessionDir: project,
  startedAt: Date.now(),
  logger: pino({ level: 'silent' }),
  env: process.env,
  emit: (type, data) => events.push({ type, data }),
  setHealth: (state, detail) => {
    if (state !== 'running') process.stderr.write(`health ${state}: ${detail}\n`);
  },
  registerSegment: () => {},
};
const channel = new FilesChannel({ ignore: [], settleMs: 20, secretFiles: JSON.parse(secretFiles) });
await channel.start(ctx);
process.stdout.write('ready\n');
for await (const _line of process.stdin) break;
await channel.stop();
process.stdout.write(`${JSON.stringify(events)}\n`);
