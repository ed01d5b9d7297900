/**
 * Clock skew with the real programs: one webserver runs with libfaketime an
 * hour ahead; another restarts, and its webclient PUT and HTTP DELETE of the
 * fast server's item take effect everywhere.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getItem, getRing } from '../../src/client/client.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, runClient, startServer } from '../processes.js';
import { at, tempDir } from '../helpers.js';
import { clockAhead, faketimeMissing } from '../faketime.js';

after(killAll);

const AN_HOUR_AHEAD = clockAhead('+1h');
const missing = faketimeMissing();

async function contentAt(server: string, item: string): Promise<string | undefined> {
  const lookup = await getItem(server, item);
  return lookup.found ? lookup.content : undefined;
}

test(
  'a server restarted behind a webserver an hour ahead (faketime): its PUT and DELETE of that server`s item win everywhere',
  { skip: missing },
  async (t) => {
    const files = await tempDir(t);
    const fileAt = async (dir: string, content: string): Promise<string> => {
      await mkdir(join(files, dir));
      await writeFile(join(files, dir, 'x.txt'), content);
      return join(files, dir, 'x.txt');
    };
    const common = ['--listen', '127.0.0.1:0', '--heartbeat', '0.3', '--sync-interval', '0.5'];
    const fast = await startServer([...common, '--data', await tempDir(t)], AN_HOUR_AHEAD);
    const slowDir = await tempDir(t);
    const slow = await startServer([...common, '--data', slowDir, ...at(fast.address)]);
    await waitFor(async () => (await getRing(fast.address)).length === 2, { what: 'the ring of two' });

    const [fastIp, fastPort] = [fast.address.split(':')[0]!, fast.address.split(':')[1]!];
    assert.equal((await runClient(['-put', await fileAt('fast', 'from the fast clock'), '-i', fastIp, '-p', fastPort])).status, 0);
    await waitFor(async () => (await contentAt(slow.address, 'x.txt')) === 'from the fast clock', { what: 'the fast write on slow' });

    assert.equal(await slow.kill('SIGTERM'), 0);
    const back = await startServer([
      '--listen',
      slow.address,
      '--heartbeat',
      '0.3',
      '--sync-interval',
      '0.5',
      '--data',
      slowDir,
      ...at(fast.address),
    ]);
    await waitFor(async () => (await getRing(fast.address)).length === 2 && (await getRing(back.address)).length === 2, {
      what: 'the ring of two again',
    });

    const [ip, port] = [back.address.split(':')[0]!, back.address.split(':')[1]!];
    const put = await runClient(['-put', await fileAt('slow', 'after the restart'), '-i', ip, '-p', port]);
    assert.equal(put.status, 0, put.stderr);
    for (const server of [fast, back]) {
      await waitFor(async () => (await contentAt(server.address, 'x.txt')) === 'after the restart', {
        timeoutMs: 5000,
        what: `the PUT after the restart on ${server.address}`,
      });
    }
    const got = await runClient(['-get', 'x.txt', '-i', fastIp, '-p', fastPort]);
    assert.equal(got.stdout.toString('utf8'), 'after the restart');

    const deleted = await fetch(`http://${back.address}/x.txt`, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    await deleted.text();
    for (const server of [fast, back]) {
      await waitFor(async () => !(await getItem(server.address, 'x.txt')).found, {
        timeoutMs: 5000,
        what: `the DELETE after the restart on ${server.address}`,
      });
    }
  },
);
