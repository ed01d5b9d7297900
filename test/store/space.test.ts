/** SpaceGuard: writes that would eat into the reserve are refused; free space is asked for sparingly. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isCoopError } from '../../src/errors.js';
import { diskCost, fits, SpaceGuard } from '../../src/store/space.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('diskCost and fits', () => {
  const costs: ReadonlyArray<[number, number]> = [
    [0, 16 * KiB],
    [1, 20 * KiB],
    [4 * KiB, 20 * KiB],
    [4 * KiB + 1, 24 * KiB],
    [MiB, MiB + 16 * KiB],
  ];
  for (const [bytes, cost] of costs) {
    test(`${bytes} bytes of content cost ${cost} on disk (whole pages and a path of the tree)`, () => {
      assert.equal(diskCost(bytes), cost);
    });
  }
  const cases: ReadonlyArray<{ free: number; claimed: number; cost: number; floor: number; expected: boolean }> = [
    { free: 10 * MiB, claimed: 0, cost: MiB, floor: 2 * MiB, expected: true },
    { free: 3 * MiB, claimed: 0, cost: MiB, floor: 2 * MiB, expected: true },
    { free: 3 * MiB, claimed: 1, cost: MiB, floor: 2 * MiB, expected: false },
    { free: 3 * MiB, claimed: 0, cost: MiB + 1, floor: 2 * MiB, expected: false },
    { free: 3 * MiB, claimed: 0, cost: MiB + 1, floor: MiB, expected: true },
  ];
  for (const { free, claimed, cost, floor, expected } of cases) {
    test(`free ${free}, claimed ${claimed}, cost ${cost}, floor ${floor}: ${expected ? 'fits' : 'does not fit'}`, () => {
      assert.equal(fits(free, claimed, cost, floor), expected);
    });
  }
});

/** A guard over a disk whose free space the test sets, on a clock the test moves. */
function guarded(
  free: number,
  reserve = 2 * MiB,
  nearBytes = 0,
): { guard: SpaceGuard; disk: { free: number; probes: number }; clock: { now: number } } {
  const disk = { free, probes: 0 };
  const clock = { now: 0 };
  const guard = new SpaceGuard({
    probe: async () => {
      disk.probes++;
      return disk.free;
    },
    reserveBytes: reserve,
    where: 'data directory /srv/data',
    now: () => clock.now,
    refreshMs: 1000,
    retryMs: 100,
    nearBytes,
  });
  return { guard, disk, clock };
}

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    assert.ok(isCoopError(err, 'NO_SPACE'), `NO_SPACE, not ${String(err)}`);
    return err.message;
  }
}

describe('SpaceGuard', () => {
  test('takes writes while they leave the reserve free, then refuses with NO_SPACE naming where and how much', async () => {
    const { guard } = guarded(3 * MiB);
    await guard.claim(500 * KiB, '"a"');
    const message = await refusal(guard.claim(600 * KiB, '"b"'));
    assert.match(message!, /^no space for "b" in data directory \/srv\/data: \d+ bytes free, 2097152 kept in reserve, \d+ needed$/);
  });

  test('asks the file system once, not per write, while far from the reserve', async () => {
    const { guard, disk, clock } = guarded(100 * MiB);
    for (let i = 0; i < 50; i++) await guard.claim(KiB, `"${i}"`);
    assert.equal(disk.probes, 1);
    clock.now = 1000;
    await guard.claim(KiB, '"later"');
    assert.equal(disk.probes, 2, 'asked again once the figure is a second old');
  });

  test('counts what was claimed since it asked, so a burst cannot overrun the reserve', async () => {
    const { guard } = guarded(2 * MiB + 100 * KiB);
    await guard.claim(60 * KiB, '"a"');
    assert.ok(await refusal(guard.claim(60 * KiB, '"b"')), 'the second no longer fits, though the disk was not asked again');
  });

  test('near the reserve it asks again (at most every retry interval), so writes resume once space is freed', async () => {
    const { guard, disk, clock } = guarded(MiB);
    assert.ok(await refusal(guard.claim(KiB, '"a"')));
    const probes = disk.probes;
    assert.ok(await refusal(guard.claim(KiB, '"b"')));
    assert.equal(disk.probes, probes, 'not asked again within the retry interval');
    disk.free = 10 * MiB;
    clock.now = 100;
    await guard.claim(KiB, '"c"');
    assert.equal(disk.probes, probes + 1);
  });

  test('a lower floor lets freeing writes (tombstones) through when content is refused', async () => {
    const { guard } = guarded(MiB + 512 * KiB);
    assert.ok(await refusal(guard.claim(0, 'a tombstone')));
    await guard.claim(0, 'a tombstone', MiB);
  });

  test('check refuses what cannot fit without claiming anything', async () => {
    const { guard } = guarded(4 * MiB);
    assert.ok(await refusal(guard.check(3 * MiB, 'an upload')));
    await guard.check(MiB, 'an upload');
    await guard.claim(MiB, 'its parts');
    await guard.claim(512 * KiB, 'its parts');
  });

  test('a write that does not fit waits for files being removed in the background, and fits once they are gone', async () => {
    const disk = { free: 2 * MiB, probes: 0 };
    let removing: { done(): void } | undefined;
    const guard = new SpaceGuard({
      probe: async () => {
        disk.probes++;
        return disk.free;
      },
      freeing: async () => {
        if (!removing) return false;
        await new Promise<void>((resolve) => (removing = { done: resolve }));
        removing = undefined;
        return true;
      },
      reserveBytes: MiB,
      where: 'x',
      now: () => 0,
    });
    assert.ok(await refusal(guard.claim(2 * MiB, '"a"')), 'nothing being removed: refused');
    removing = { done: () => undefined };
    const claim = guard.claim(2 * MiB, '"b"'); // waits in freeing(), which it reaches at once
    disk.free = 4 * MiB; // the replaced blob's space, back
    removing!.done();
    await claim;
    assert.equal(disk.probes, 2, 'the disk asked again once the removals were done');
  });

  test('a file system that cannot be asked does not block writes (the write itself reports what is wrong)', async () => {
    const guard = new SpaceGuard({ probe: () => Promise.reject(new Error('ENOENT')), reserveBytes: MiB, where: 'x' });
    await guard.claim(MiB, '"a"');
  });
});

test('SpaceGuard near the reserve asks the file system before every write, so a disk filled by another program is seen at once', async () => {
  const { guard, disk } = guarded(10 * MiB, 2 * MiB, 16 * MiB);
  await guard.claim(1024, 'a');
  await guard.claim(1024, 'b');
  assert.equal(disk.probes, 2, 'asked at each write within nearBytes of the reserve');
  disk.free = 0; // another program filled the disk
  assert.match((await refusal(guard.claim(1024, 'c')))!, /no space/);
  const probes = disk.probes;
  await refusal(guard.claim(1024, 'd'));
  assert.equal(disk.probes, probes, 'once refusing, asked at most every retry interval');
  const far = guarded(1024 * MiB, 2 * MiB, 16 * MiB);
  await far.guard.claim(1024, 'a');
  await far.guard.claim(1024, 'b');
  assert.equal(far.disk.probes, 1, 'far from the reserve, the figure of the last second serves');
});
