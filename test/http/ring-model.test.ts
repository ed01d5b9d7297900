/** What the ring page shows, from a `/_ring` report, and where it draws it. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Script, createContext, runInContext } from 'node:vm';
import {
  formatBytes,
  formatSeconds,
  labelWidth,
  RING_MODEL_SOURCE,
  ringLayout,
  ringModel,
  type MemberReport,
  type RingReport,
} from '../../src/http/ring-model.js';
import { ringPage } from '../../src/http/ring-page.js';

const A = '127.0.0.1:4001';
const B = '127.0.0.1:4002';
const C = '127.0.0.1:4003';
const D = '127.0.0.1:4004';
const E = '127.0.0.1:4005';

function report(members: MemberReport[], ring: string[], extra: Partial<RingReport> = {}): RingReport {
  return { self: A, uptimeSeconds: 12, incarnation: 0, ring, members, items: 7, bytes: 2048, digest: 'abc', ...extra };
}

describe('ringModel', () => {
  test('draws the live ring in ring order and lists dead and left members apart, dead first', () => {
    const model = ringModel(
      report(
        [
          { address: E, status: 'left' },
          { address: A, status: 'alive' },
          { address: D, status: 'dead' },
          { address: C, status: 'suspect' },
          { address: B, status: 'alive' },
        ],
        [A, C, B],
      ),
    );
    assert.deepEqual(
      model.circle.map((m) => [m.address, m.status]),
      [
        [A, 'alive'],
        [C, 'suspect'],
        [B, 'alive'],
      ],
    );
    assert.deepEqual(
      model.outside.map((m) => [m.address, m.status]),
      [
        [D, 'dead'],
        [E, 'left'],
      ],
    );
    assert.deepEqual(model.counts, { alive: 2, suspect: 1, dead: 1, left: 1 });
    assert.deepEqual(
      model.circle.map((m) => m.self),
      [true, false, false],
    );
  });

  test('shows the figures the server gathered, and "–" for those it has not', () => {
    const model = ringModel(
      report(
        [
          { address: A, status: 'alive' },
          { address: B, status: 'alive', items: 1234, bytes: 5_600_000, inSync: false, version: '1.2.0', lastHeardMsAgo: 250 },
          { address: C, status: 'suspect', lastHeardMsAgo: 17_000 },
        ],
        [A, B, C],
        { version: '1.3.0', health: { ok: false, reason: 'disk full' } },
      ),
    );
    const [a, b, c] = model.circle;
    // This server's own figures come from the report's top level when its entry lacks them.
    assert.deepEqual([a!.items, a!.bytes, a!.version, a!.inSync, a!.heard], ['7', '2.0 kB', '1.3.0', '–', 'here']);
    assert.deepEqual([b!.items, b!.bytes, b!.version, b!.inSync, b!.heard], ['1,234', '5.6 MB', '1.2.0', 'no', '0.3 s']);
    assert.deepEqual([c!.items, c!.bytes, c!.version, c!.inSync, c!.heard], ['–', '–', '–', '–', '17 s']);
    assert.deepEqual(model.health, { ok: false, text: 'unhealthy: disk full' });
    assert.deepEqual(model.here, { items: '7', bytes: '2.0 kB', uptime: '12 s', version: '1.3.0' });
  });

  test('a report without the newer fields (an older server) shows unknowns, not errors', () => {
    const model = ringModel({ self: A } as RingReport);
    assert.deepEqual(model.circle, []);
    assert.equal(model.health, undefined);
    assert.deepEqual(model.here, { items: '–', bytes: '–', uptime: '–', version: '–' });
  });

  test('labels are the port alone when every member shares a host, whole addresses otherwise', () => {
    const same = ringModel(report([{ address: A, status: 'alive' }], [A, B]));
    assert.deepEqual(
      same.circle.map((m) => m.label),
      [':4001', ':4002'],
    );
    const mixed = ringModel(report([{ address: A, status: 'alive' }], [A, '[::1]:4002']));
    assert.deepEqual(
      mixed.circle.map((m) => m.label),
      [A, '[::1]:4002'],
    );
  });

  test('formats sizes and durations in their largest sensible unit', () => {
    assert.deepEqual([0, 999, 1000, 123_456, 18_400_000, 2e12].map(formatBytes), ['0 B', '999 B', '1.0 kB', '123 kB', '18.4 MB', '2.0 TB']);
    assert.deepEqual([0.25, 17, 600, 5400, 3 * 86_400].map(formatSeconds), ['0.3 s', '17 s', '10 min', '90 min', '3 d']);
    assert.deepEqual([undefined, -1, NaN, 'x'].map(formatBytes), ['–', '–', '–', '–']);
  });
});

describe('ringLayout', () => {
  test('puts this server at the top and the others clockwise in ring order', () => {
    const layout = ringLayout(4, 600, 5);
    const [top, right, bottom, left] = layout.places;
    assert.ok(Math.abs(top!.x - 300) < 1e-9 && top!.y < 300);
    assert.ok(right!.x > 300 && Math.abs(right!.y - 300) < 1e-9);
    assert.ok(Math.abs(bottom!.x - 300) < 1e-9 && bottom!.y > 300);
    assert.ok(left!.x < 300);
  });

  test('few members on a roomy drawing get their figures beside them; many, or a small drawing, get short labels', () => {
    assert.equal(ringLayout(3, 700, 5).mode, 'full');
    assert.equal(ringLayout(6, 700, 5).mode, 'full');
    assert.equal(ringLayout(3, 366, 5).mode, 'full');
    assert.equal(ringLayout(5, 366, 5).mode, 'radial');
    assert.equal(ringLayout(7, 700, 5).mode, 'radial');
  });

  for (const side of [366, 700]) {
    test(`32 members in ${side} px: inside the drawing, nodes apart, room for 12 px labels between neighbours`, () => {
      const longest = ':43591'.length;
      const layout = ringLayout(32, side, longest);
      assert.equal(layout.mode, 'radial');
      const reach = layout.radius + layout.nodeRadius + 6 + labelWidth(longest);
      assert.ok(reach <= side / 2, `labels reach ${reach} px from the centre of a ${side} px drawing`);
      const [first, second] = layout.places;
      const chord = Math.hypot(first!.x - second!.x, first!.y - second!.y);
      assert.ok(chord >= 2 * layout.nodeRadius + 2, 'neighbouring nodes do not touch');
      const labelRoom = (chord * (layout.radius + layout.nodeRadius + 6)) / layout.radius;
      assert.ok(labelRoom >= 14, `${labelRoom} px between neighbouring labels`);
    });
  }
});

describe('the page', () => {
  test('embeds the model as self-contained source that works as the module does', () => {
    const context = createContext({});
    runInContext(RING_MODEL_SOURCE, context);
    const sample = report(
      [
        { address: A, status: 'alive', items: 3 },
        { address: B, status: 'dead' },
      ],
      [A],
    );
    context.sample = sample;
    assert.equal(runInContext('JSON.stringify(ringModel(sample))', context), JSON.stringify(ringModel(sample)));
    assert.equal(runInContext('JSON.stringify(ringLayout(32, 700, 6))', context), JSON.stringify(ringLayout(32, 700, 6)));
  });

  test("is valid script and escapes the server's address", () => {
    const page = ringPage('<x>"&');
    const script = page.slice(page.indexOf('<script>') + '<script>'.length, page.indexOf('</script>'));
    assert.doesNotThrow(() => new Script(script));
    assert.ok(!page.includes('<x>"&'));
    assert.ok(page.includes('&#60;x&#62;&#34;&#38;'));
  });
});
