// Runs the test suite's local VideoDB server in its own process (as the cloud
// would be) and prints its URL on stdout. Used by bench/queue.mjs.
import { FakeVideoDB } from '../test/helpers/videodb-server.ts';

const server = await new FakeVideoDB().start();
server.asyncUploads = false;
process.stdout.write(`${server.url}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
