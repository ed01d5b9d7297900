/**
 * Starting servers as users do: the README's chain of three on one host
 * (default port, each naming the one before), started at the same moment, in
 * a network namespace of the test's own so that ports 4043... are free and
 * the host name resolves to 127.0.1.1 as on a stock Ubuntu; and a listen port
 * probed upward with an advertised port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, runProgram, startServer, WEBSERVER } from '../processes.js';
import { createSandbox, sandboxUnavailable } from '../sandbox.js';
import { ringThrough } from '../netns.js';

const HOST = '127.0.1.1';

/** The ring as `webclient --ring` shows it through the server at `port`; [] when the client fails. */
const ringAt = (wrap: string[], port: number): Promise<string[]> => ringThrough(wrap, HOST, port);

test(
  '`webserver & webserver -p 4043 & webserver -p 4044 &` started at the same moment: one ring of three, every time',
  { skip: sandboxUnavailable() },
  async (t) => {
    const sandbox = createSandbox(HOST);
    t.after(async () => {
      await killAll();
      sandbox.destroy();
    });
    const commands = [['--memory'], ['--memory', '-p', '4043'], ['--memory', '-p', '4044']];
    for (let round = 1; round <= 3; round++) {
      const servers = await Promise.all(commands.map((args) => startServer([...args, '--heartbeat', '0.5'], {}, undefined, sandbox.wrap)));
      const expected = [4043, 4044, 4045].map((port) => `${HOST}:${port}`);
      assert.deepEqual(
        servers.map((server) => server.address),
        expected,
        `round ${round}: each above its seed, whatever the order they bound in`,
      );
      await waitFor(
        async () => {
          const views = await Promise.all([4043, 4044, 4045].map((port) => ringAt(sandbox.wrap, port)));
          return views.every((view) => view.length === 3 && sameCycle(view, expected));
        },
        { timeoutMs: 30_000, what: `round ${round}: one ring of three, the same at every server` },
      );
      await Promise.all(servers.map((server) => server.kill('SIGKILL')));
    }
  },
);

test('--listen PORT+ with --advertise HOST:PORT exits 1 when PORT is taken; --advertise HOST takes the bound port', async (t) => {
  t.after(killAll);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const { port } = taken.address() as { port: number };

  const args = ['--listen', `127.0.0.1:${port}+`, '--advertise', `127.0.0.1:${port}`, '--memory'];
  // Fails (rather than hangs) where the server starts: it would be left running by runProgram.
  await assert.rejects(startServer(args), /exited early[\s\S]*--advertise names port \d+, but port \d+ was taken/);
  const run = await runProgram(WEBSERVER, args);
  const output = run.stdout.toString() + run.stderr;
  assert.equal(run.status, 1, output);
  assert.match(output, new RegExp(`--advertise names port ${port}, but port ${port} was taken and this server bound 127\\.0\\.0\\.1:\\d+`));
  assert.doesNotMatch(output, /listening on/);

  const server = await startServer(['--listen', `127.0.0.1:${port}+`, '--advertise', '127.0.0.1', '--memory']);
  assert.notEqual(server.address, `127.0.0.1:${port}`);
  assert.match(server.output(), new RegExp(`listening on ${server.address.replace(/\./g, '\\.')}\\n`));
});
