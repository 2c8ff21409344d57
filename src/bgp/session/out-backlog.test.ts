import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Family, type PathAttributes } from '../codec/index.ts';
import { prefixListFromStrings, prefixListToStrings } from '../codec/prefix.ts';
import { type BacklogItem, OutputBacklog } from './out-backlog.ts';
import type { ExportUpdate } from './types.ts';

const attrs = (med: number): PathAttributes => ({
  origin: 0,
  nextHop: 0x0a000001,
  med,
});

function announce(prefixes: string[], a: PathAttributes, pathIds?: number[]): ExportUpdate {
  return {
    announce: [
      { family: Family.IPv4Unicast, attributes: a, prefixes: prefixListFromStrings(1, prefixes, pathIds) },
    ],
    withdraw: [],
  };
}

function withdraw(prefixes: string[], pathIds?: number[]): ExportUpdate {
  return {
    announce: [],
    withdraw: [{ family: Family.IPv4Unicast, prefixes: prefixListFromStrings(1, prefixes, pathIds) }],
  };
}

/** An item as text: per announce group its MED and prefixes, then the withdrawn prefixes. */
function show(item: BacklogItem | null): unknown {
  if (item === null) return null;
  if (item.kind === 'message') return { message: item.bytes.toString() };
  const withIds = (l: { pathIds: Uint32Array | null }) => l.pathIds !== null;
  return {
    announce: item.update.announce
      .map((g) => ({
        med: g.attributes.med ?? 0,
        prefixes: prefixListToStrings(g.prefixes, withIds(g.prefixes)).sort(),
      }))
      .sort((a, b) => a.med - b.med),
    withdraw: item.update.withdraw
      .flatMap((g) => prefixListToStrings(g.prefixes, withIds(g.prefixes)))
      .sort(),
  };
}

describe('OutputBacklog', () => {
  test('each route keeps only its latest state', () => {
    const b = new OutputBacklog();
    const x = attrs(10);
    const y = attrs(20);
    b.add(announce(['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'], x));
    b.add(announce(['10.0.1.0/24'], y));
    b.add(withdraw(['10.0.2.0/24']));
    b.add(withdraw(['10.0.4.0/24']));
    b.add(announce(['10.0.4.0/24'], x));
    assert.equal(b.pendingRoutes, 4);
    assert.deepEqual(show(b.take(100)), {
      announce: [
        { med: 10, prefixes: ['10.0.3.0/24', '10.0.4.0/24'] },
        { med: 20, prefixes: ['10.0.1.0/24'] },
      ],
      withdraw: ['10.0.2.0/24'],
    });
    assert.equal(b.size, 0);
    assert.equal(b.take(100), null);
  });

  test('a batch withdrawing and announcing one route leaves it announced (withdrawals apply first)', () => {
    const b = new OutputBacklog();
    b.add({ ...announce(['10.9.0.0/16'], attrs(1)), withdraw: withdraw(['10.9.0.0/16']).withdraw });
    assert.deepEqual(show(b.take(10)), { announce: [{ med: 1, prefixes: ['10.9.0.0/16'] }], withdraw: [] });
  });

  test('markers split the backlog: changes before an End-of-RIB go out before it', () => {
    const b = new OutputBacklog();
    b.add(announce(['10.0.1.0/24'], attrs(1)));
    b.marker(Buffer.from('EoR'));
    b.add(withdraw(['10.0.1.0/24']));
    assert.equal(b.size, 3);
    assert.deepEqual(show(b.take(10)), { announce: [{ med: 1, prefixes: ['10.0.1.0/24'] }], withdraw: [] });
    assert.deepEqual(show(b.take(10)), { message: 'EoR' });
    assert.deepEqual(show(b.take(10)), { announce: [], withdraw: ['10.0.1.0/24'] });
    assert.equal(b.take(10), null);
  });

  test('take() hands out at most the asked number of routes, oldest first', () => {
    const b = new OutputBacklog();
    const names = Array.from({ length: 10 }, (_, i) => `10.1.${i}.0/24`);
    b.add(announce(names, attrs(5)));
    const sizes: number[] = [];
    const seen: string[] = [];
    for (let item = b.take(4); item !== null; item = b.take(4)) {
      assert.equal(item.kind, 'update');
      if (item.kind !== 'update') break;
      const got = prefixListToStrings(item.update.announce[0]!.prefixes);
      sizes.push(got.length);
      seen.push(...got);
    }
    assert.deepEqual(sizes, [4, 4, 2]);
    assert.deepEqual(seen, names);
  });

  test('ADD-PATH: one prefix with two path ids is two routes; IPv6 keeps all four words', () => {
    const b = new OutputBacklog();
    b.add(announce(['10.2.0.0/24', '10.2.0.0/24'], attrs(1), [1, 2]));
    b.add(withdraw(['10.2.0.0/24'], [1]));
    const v6 = prefixListFromStrings(2, ['2001:db8:1:2::/64', '2001:db8::/32']);
    b.add({
      announce: [
        {
          family: Family.IPv6Unicast,
          attributes: attrs(7),
          prefixes: v6,
          mpNextHop: new Uint8Array(16),
        },
      ],
      withdraw: [],
    });
    assert.equal(b.pendingRoutes, 4);
    const item = b.take(10);
    assert.ok(item !== null && item.kind === 'update');
    const byFamily = (f: number) => item.update.announce.filter((g) => g.family === f);
    assert.deepEqual(prefixListToStrings(byFamily(Family.IPv4Unicast)[0]!.prefixes, true), [
      '10.2.0.0/24 path-id 2',
    ]);
    const six = byFamily(Family.IPv6Unicast)[0]!;
    assert.deepEqual(prefixListToStrings(six.prefixes), ['2001:db8:1:2::/64', '2001:db8::/32']);
    assert.ok(six.mpNextHop instanceof Uint8Array);
    assert.deepEqual(prefixListToStrings(item.update.withdraw[0]!.prefixes, true), ['10.2.0.0/24 path-id 1']);
  });

  test('a flapping table costs one entry per route however often it flaps', () => {
    const b = new OutputBacklog();
    const names = Array.from({ length: 200 }, (_, i) => `10.3.${i}.0/24`);
    for (let round = 0; round < 500; round++) {
      // A new attribute object each round, as a changing MED gives a new attribute set.
      b.add(round % 2 === 0 ? announce(names, attrs(round)) : withdraw(names));
      assert.ok(b.pendingRoutes <= names.length);
    }
    b.add(announce(names, attrs(1000)));
    assert.equal(b.pendingRoutes, 200);
    assert.equal(b.peakRoutes, 200);
    assert.deepEqual(show(b.take(1000)), {
      announce: [{ med: 1000, prefixes: [...names].sort() }],
      withdraw: [],
    });
  });
});
