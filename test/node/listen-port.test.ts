/** Where a server probing upward starts, and when an advertised port would name another server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCoopError } from '../../src/errors.js';
import { checkAdvertisedPort, firstPortToProbe } from '../../src/node/listen-port.js';
import { greetDelay } from '../../src/ring/seed-greeter.js';

const HOST = '127.0.1.1';

test('probing starts above the highest seed on this server’s own address, as a chain started by hand', () => {
  assert.equal(firstPortToProbe(4043, [HOST], []), 4043, 'the first server, no seed');
  assert.equal(firstPortToProbe(4043, [HOST], [{ host: HOST, port: 4043 }]), 4044, 'the second, seed :4043');
  assert.equal(firstPortToProbe(4043, [HOST], [{ host: HOST, port: 4044 }]), 4045, 'the third, seed :4044');
  assert.equal(
    firstPortToProbe(
      4043,
      [HOST],
      [
        { host: HOST, port: 4046 },
        { host: HOST, port: 4044 },
      ],
    ),
    4047,
  );
});

test('seeds on other addresses, or below the asked port, do not move it', () => {
  assert.equal(firstPortToProbe(4043, [HOST], [{ host: '10.0.0.5', port: 4043 }]), 4043);
  assert.equal(firstPortToProbe(5000, [HOST], [{ host: HOST, port: 4043 }]), 5000);
  assert.equal(firstPortToProbe(4043, ['0.0.0.0', '10.0.0.5'], [{ host: '10.0.0.5', port: 4043 }]), 4044, 'the advertised host');
});

test('an advertised port is refused when probing moved the server off the port asked; no port or no move is fine', () => {
  const bound = { host: '0.0.0.0', port: 5701 };
  assert.throws(
    () => checkAdvertisedPort({ host: '10.0.0.5', port: 5700 }, 5700, bound),
    (err: unknown) => isCoopError(err, 'BAD_ADDRESS') && /port 5700 was taken.*bound 0\.0\.0\.0:5701/.test(err.message),
  );
  checkAdvertisedPort({ host: '10.0.0.5', port: undefined }, 5700, bound);
  checkAdvertisedPort({ host: '10.0.0.5', port: 5700 }, 5700, { host: '0.0.0.0', port: 5700 });
  checkAdvertisedPort(undefined, 5700, bound);
});

test('seeds not in the ring are greeted after a pause that doubles from the first to a cap', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 40].map((rounds) => greetDelay(rounds, 5000, 30_000)),
    [5000, 10_000, 20_000, 30_000, 30_000, 30_000, 30_000],
  );
});
