/**
 * A server whose log reader goes away: its standard output or standard error
 * is a pipe to a process that exits. The server drops the lines it cannot
 * write (and counts them), keeps serving, and still leaves the ring and exits
 * 0 on SIGTERM.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { getItem, getRing, putItem } from '../../src/client/client.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, startServer, WEBSERVER } from '../processes.js';
import { at } from '../helpers.js';

after(killAll);

function exitOf(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** A reader that takes what comes through its standard input until it has seen `mark`, then exits. */
function readerUntil(mark: string): { child: ChildProcess; exited: Promise<number | string> } {
  const script = `let seen = ''; process.stdin.on('data', (chunk) => { seen += chunk; if (seen.includes(${JSON.stringify(mark)})) process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.on('error', () => undefined);
  return { child, exited: exitOf(child) };
}

for (const stream of ['stdout', 'stderr'] as const) {
  test(`a server whose ${stream} reader exits drops those lines, counts them, keeps serving and leaves on SIGTERM`, async (t) => {
    // A long heartbeat: the other server can only learn of the leave from the leave itself.
    const a = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '30']);
    // NODE_DEBUG=net makes Node write a line to standard error for every connection, as a debugging operator would see it.
    const reader = readerUntil(stream === 'stdout' ? 'listening on' : 'NET');
    const child = spawn(process.execPath, [WEBSERVER, '--listen', '127.0.0.1:0', '--heartbeat', '30', ...at(a.address)], {
      env: { ...process.env, NO_COLOR: '1', WEBSERVER_MEMORY: '1', ...(stream === 'stderr' ? { NODE_DEBUG: 'net' } : {}) },
      stdio: stream === 'stdout' ? ['ignore', reader.child.stdin!, 'pipe'] : ['ignore', 'pipe', reader.child.stdin!],
    });
    const exited = exitOf(child);
    let ended = false;
    void exited.then(() => (ended = true));
    t.after(() => {
      child.kill('SIGKILL');
      reader.child.kill('SIGKILL');
    });
    // The pipe's only reader is the reader process: the test's copy of its write end goes.
    reader.child.stdin!.destroy();
    let output = '';
    const collected = stream === 'stdout' ? child.stderr! : child.stdout!;
    collected.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));

    assert.equal(await reader.exited, 0);
    const b =
      stream === 'stdout'
        ? await waitFor(
            async () => {
              if (ended) throw new Error(`the server exited:\n${output}`);
              // The address is not on standard error: ask the other server who joined.
              return (await getRing(a.address)).find((member) => member !== a.address);
            },
            { what: 'the server to join' },
          )
        : await waitFor(() => /listening on (\S+)/.exec(output)?.[1], { what: 'the server to print its address' });
    await waitFor(async () => sameCycle(await getRing(a.address), [a.address, b]) && sameCycle(await getRing(b), [a.address, b]), {
      what: 'the ring of two',
    });

    // Every PUT and GET logs (and, with NODE_DEBUG, every connection): none of it has a reader any more.
    for (let i = 0; i < 20; i++) {
      assert.equal(await putItem(b, `after-${i}.txt`, `written ${i}`), '200 OK');
      assert.deepEqual(await getItem(b, `after-${i}.txt`), { found: true, content: `written ${i}`, encoding: undefined });
    }
    const dropped = await waitFor(
      async () => {
        const metrics = await (await fetch(`http://${b}/metrics`)).text();
        const count = new RegExp(`^coop_log_lines_dropped_total\\{[^}]*stream="${stream}"[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1];
        return count !== undefined && Number(count) > 0 && Number(count);
      },
      { what: `the dropped ${stream} lines to be counted` },
    );
    t.diagnostic(`${dropped} ${stream} lines dropped`);
    assert.equal(ended, false);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    await waitFor(async () => sameCycle(await getRing(a.address), [a.address]), { timeoutMs: 3000, what: 'the ring to drop the leaver' });
    assert.deepEqual(await getItem(a.address, 'after-19.txt'), { found: true, content: 'written 19', encoding: undefined });
  });
}
