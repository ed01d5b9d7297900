/**
 * Servers deployed as in containers: four hosts (Linux network namespaces
 * this test creates, joined through a router namespace), each server
 * listening on 0.0.0.0 and advertising its host's address by a host name,
 * all naming the first host as their seed by name (an /etc/hosts of their
 * own: `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts), all
 * started at the same moment. Runs as root where `ip netns` works; elsewhere
 * it is skipped with the reason.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../src/util/wait.js';
import { createNetwork, netnsUnavailable, ringSeenFrom, ringsOfSize } from '../netns.js';
import { killAll, runClient, startServer } from '../processes.js';

const reason = netnsUnavailable();

test(
  'four servers in four network namespaces, on 0.0.0.0, advertising and joining by host name, all started at once: one ring',
  { skip: reason },
  async () => {
    // Each host gets its own hosts file naming every host: what a container's resolver gives it.
    const network = createNetwork({ subnet: '10.78', count: 4, names: [1, 2, 3, 4].map((i) => `ring-${i}.coop.test`) });
    after(async () => {
      await killAll();
      network.destroy();
    });
    const { hosts } = network;
    const seed = `${hosts[0]!.name}:4043`;
    // Every server gets the same seed, the first one included (it finds itself there and starts the ring), as in a compose file.
    const servers = await Promise.all(
      hosts.map((host) =>
        startServer(
          ['--listen', '0.0.0.0:4043', '--advertise', `${host.name}:4043`, '--heartbeat', '0.5', '--memory'],
          { WEBSERVER_JOIN: seed },
          undefined,
          host.wrap,
        ),
      ),
    );
    hosts.forEach((host, i) =>
      assert.match(servers[i]!.output(), new RegExp(`listening on ${host.ip}:4043 \\(bound to 0\\.0\\.0\\.0:4043\\)`)),
    );

    await waitFor(() => ringsOfSize(hosts, 4), {
      timeoutMs: 20_000,
      what: 'a ring of four hosts',
    });
    // Ring names are the advertised addresses, as IPs: what every server (and the original) can dial.
    assert.deepEqual(new Set(await ringSeenFrom(hosts[3]!)), new Set(hosts.map((host) => `${host.ip}:4043`)));
    assert.match(servers[0]!.output(), /the seeds name only this server: it starts the ring/);

    const dir = mkdtempSync(join(tmpdir(), 'coop-deploy-'));
    try {
      const file = join(dir, 'hello.txt');
      writeFileSync(file, 'written at host 2');
      const put = await runClient(['-put', file, '-i', hosts[1]!.name, '-p', '4043'], {}, hosts[1]!.wrap);
      assert.equal(put.status, 0, put.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const got = await runClient(['-get', 'hello.txt', '-i', hosts[3]!.name, '-p', '4043'], {}, hosts[3]!.wrap);
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout.toString(), 'written at host 2');
  },
);
