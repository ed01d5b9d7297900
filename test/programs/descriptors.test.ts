/**
 * A server out of file descriptors (a low `ulimit -n`, idle clients holding
 * the rest): its failures to connect are its own, so it must not cut out or
 * suspect its healthy peers, and it recovers once descriptors free up.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { getItem, getRing, putItem } from '../../src/client/client.js';
import { parseAddress } from '../../src/protocol/address.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, startServer, type ServerProcess } from '../processes.js';
import { at } from '../helpers.js';

after(killAll);

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
const OPTIONS = ['--heartbeat', '0.2', '--suspicion-timeout', '3', '--idle-timeout', '300'];

/** Opens `count` connections to `address` that say nothing and stay open (those the server closes, close). */
function idleClients(address: string, count: number): Socket[] {
  const { host, port } = parseAddress(address);
  return Array.from({ length: count }, () => connect(port, host).on('error', () => undefined));
}

async function contentAt(server: string, item: string): Promise<string | undefined> {
  const lookup = await getItem(server, item);
  return lookup.found ? lookup.content : undefined;
}

test(
  'a server out of file descriptors cuts out nobody, counts its local errors, and recovers',
  { skip: hasPrlimit ? false : 'needs prlimit (util-linux)' },
  async (t) => {
    const servers: ServerProcess[] = [];
    t.after(() => Promise.all(servers.map((server) => server.kill())).then(() => undefined));
    const a = await startServer(['--listen', '127.0.0.1:0', ...OPTIONS]);
    servers.push(a);
    const low = await startServer(['--listen', '127.0.0.1:0', ...OPTIONS, ...at(a.address)], {}, undefined, ['prlimit', '--nofile=64:64']);
    servers.push(low);
    const c = await startServer(['--listen', '127.0.0.1:0', ...OPTIONS, ...at(low.address)]);
    servers.push(c);
    const all = [a.address, low.address, c.address];
    await waitFor(async () => (await Promise.all(all.map((s) => getRing(s)))).every((view) => sameCycle(view, all)), {
      what: 'the ring to form',
    });

    const idle = idleClients(low.address, 100);
    t.after(() => idle.forEach((socket) => socket.destroy()));
    await waitFor(() => low.output().includes('EMFILE'), { timeoutMs: 20_000, what: 'the server to run out of descriptors' });

    // Rounds pass through it (PUTs at a) while the others' views are watched, until it has
    // run into its limit again and again.
    const views: string[][] = [];
    const written: string[] = [];
    let i = 0;
    await waitFor(
      async () => {
        const name = `fd-${i++}.txt`;
        await putItem(a.address, name, `content ${name}`, undefined, { timeoutMs: 10_000 }).then(
          () => written.push(name),
          () => undefined, // not asserted: the server may be unable to take a round at all
        );
        views.push(await getRing(a.address), await getRing(c.address));
        return i >= 20 && low.output().match(/EMFILE/g)!.length >= 3;
      },
      { timeoutMs: 60_000, intervalMs: 0, what: 'rounds through the server while it runs into its limit' },
    );
    assert.equal(low.process.exitCode, null, 'the server keeps running');
    for (const view of views) assert.deepEqual([...view].sort(), [...all].sort(), 'every view keeps all three servers');
    assert.doesNotMatch(low.output(), /removing it from the ring|is unreachable|suspected/, 'it suspects and cuts out nobody');
    for (const peer of [a, c]) assert.doesNotMatch(peer.output(), /removing it from the ring|is unreachable|declared dead/);
    // Which of its operations (a probe, a round, a sync pass) meets the limit first is up to timing.
    assert.match(low.output(), /\[WARN\] .+ failed on this server: EMFILE/, 'a local error is logged');

    for (const socket of idle) socket.destroy();
    const name = await waitFor(
      () => putItem(low.address, 'after.txt', 'descriptors are back', undefined, { timeoutMs: 5_000 }).then(() => 'after.txt'),
      { timeoutMs: 30_000, what: 'a PUT at the server once its descriptors are free' },
    );
    for (const server of all) assert.equal(await contentAt(server, name), 'descriptors are back');
    for (const item of written) assert.equal(await contentAt(low.address, item), `content ${item}`);
    assert.ok(sameCycle(await getRing(low.address), all));

    const metrics = await (await fetch(`http://${low.address}/metrics`)).text();
    const local = Number(/^coop_local_errors_total\{code="EMFILE",op="connect"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    assert.ok(local > 0, `EMFILE counted: ${local}`);
    assert.match(metrics, /^coop_failures_detected_total 0$/m);
  },
);
