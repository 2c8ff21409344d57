import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
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

  test('matches a map-per-segment model under churn, markers and partial takes, with compaction (property)', () => {
    // The model is the plain form of the contract: segments split by markers; in a segment one
    // entry per route in first-queued order, holding the latest state; take() hands out the
    // oldest up to the limit, an entry handed out and queued again goes to the end.
    const sets = [attrs(1), attrs(2), attrs(3)];
    const names = Array.from({ length: 12 }, (_, i) => `10.4.${i}.0/24`);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom('announce', 'announce', 'withdraw', 'take', 'take', 'marker'),
            routes: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { minLength: 1, maxLength: 6 }),
            set: fc.integer({ min: 0, max: 2 }),
            k: fc.integer({ min: 1, max: 7 }),
          }),
          { maxLength: 120 },
        ),
        (ops) => {
          const b = new OutputBacklog({ compactMin: 3 });
          type Seg = Map<string, number> | string; // route -> set index (-1: withdrawn), or a marker
          const model: Seg[] = [];
          let markers = 0;
          const last = (): Map<string, number> => {
            const l = model[model.length - 1];
            if (l instanceof Map) return l;
            const m = new Map<string, number>();
            model.push(m);
            return m;
          };
          const modelTake = (k: number): unknown => {
            for (;;) {
              const head = model[0];
              if (head === undefined) return null;
              if (typeof head === 'string') {
                model.shift();
                return { message: head };
              }
              if (head.size === 0) {
                model.shift();
                continue;
              }
              const out = new Map<number, string[]>();
              const wd: string[] = [];
              for (const [r, st] of [...head].slice(0, k)) {
                head.delete(r);
                if (st < 0) wd.push(r);
                else out.set(st, [...(out.get(st) ?? []), r]);
              }
              return {
                announce: [...out]
                  .map(([st, p]) => ({ med: st + 1, prefixes: p.sort() }))
                  .sort((x, y) => x.med - y.med),
                withdraw: wd.sort(),
              };
            }
          };
          for (const o of ops) {
            const rs = o.routes.map((i) => names[i]!);
            if (o.op === 'announce' || o.op === 'withdraw') {
              b.add(o.op === 'announce' ? announce(rs, sets[o.set]!) : withdraw(rs));
              const seg = last();
              for (const r of rs) {
                seg.set(r, o.op === 'announce' ? o.set : -1);
              }
            } else if (o.op === 'marker') {
              b.marker(Buffer.from(`M${markers}`));
              model.push(`M${markers++}`);
            } else assert.deepEqual(show(b.take(o.k)), modelTake(o.k));
            let waiting = 0;
            for (const seg of model) if (seg instanceof Map) waiting += seg.size;
            assert.equal(b.pendingRoutes, waiting);
          }
          for (let item = modelTake(5); item !== null; item = modelTake(5))
            assert.deepEqual(show(b.take(5)), item);
          assert.equal(b.take(5), null);
          assert.equal(b.size, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a backlog that never empties stays the size of what waits (consumed records are dropped)', () => {
    const b = new OutputBacklog();
    const names = Array.from({ length: 5000 }, (_, i) => `10.${5 + (i >> 8)}.${i & 255}.0/24`);
    b.add(announce(names, attrs(1)));
    const full = b.storageBytes();
    // The peer drains 1000 routes while 1000 others change, 200 times over.
    for (let round = 0; round < 200; round++) {
      b.take(1000);
      const from = (round * 1000) % 5000;
      b.add(announce(names.slice(from, from + 1000), attrs(2 + (round % 3))));
      assert.ok(b.pendingRoutes <= 5000);
    }
    assert.equal(b.pendingRoutes, 5000);
    assert.ok(b.storageBytes() <= 4 * full, `${b.storageBytes()} B against ${full} B for the first 5000`);
    let n = 0;
    for (let item = b.take(4096); item !== null; item = b.take(4096))
      if (item.kind === 'update') for (const g of item.update.announce) n += g.prefixes.count;
    assert.equal(n, 5000);
  });
});
