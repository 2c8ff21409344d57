import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalIp, canonicalPrefix, formatIp, prefixContains, writeIp } from './addr.ts';
import { formatRouteArgs, type KernelRoute, normalizeRoute, type RouteSpec, routesEqual } from './model.ts';
import { planRouteSync } from './plan.ts';

const D = { table: 254, protocol: 186 };
const n = (s: RouteSpec) => normalizeRoute(s, D);

describe('addresses', () => {
  test('canonical forms', () => {
    assert.equal(canonicalPrefix('10.1.2.77/24'), '10.1.2.0/24');
    assert.equal(canonicalPrefix('2001:DB8:0:0:1::/64'), '2001:db8::/64');
    assert.equal(canonicalPrefix('10.0.0.1'), '10.0.0.1/32');
    assert.equal(canonicalIp('2001:db8:0:0:0:0:2:1'), '2001:db8::2:1');
    assert.equal(canonicalIp('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1');
    assert.equal(canonicalIp('::ffff:1.2.3.4'), '::ffff:102:304');
    assert.equal(canonicalIp('::'), '::');
    assert.throws(() => canonicalPrefix('10.0.0.256/8'), /not an IPv4 or IPv6 prefix/);
    assert.throws(() => canonicalPrefix('10.0.0.0/33'), /10.0.0.0\/33/);
    assert.throws(() => canonicalIp('1::2::3'), /not an IPv4/);
  });

  test('IPv6 text round-trips through bytes', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const b = new Uint8Array(16);
        assert.equal(writeIp(ip, b, 0), 6);
        const text = formatIp(6, b);
        const b2 = new Uint8Array(16);
        writeIp(text, b2, 0);
        assert.deepEqual(b2, b);
        assert.equal(formatIp(6, b2), text);
      }),
    );
  });

  test('prefix containment', () => {
    assert.ok(prefixContains('10.1.0.0/16', '10.1.2.0/26'));
    assert.ok(!prefixContains('10.1.2.0/26', '10.1.0.0/16'));
    assert.ok(!prefixContains('10.1.0.0/16', '10.2.0.1'));
    assert.ok(prefixContains('2001:db8::/32', '2001:db8:1::5'));
  });
});

describe('normalizeRoute', () => {
  test('fills defaults and the IPv6 kernel metric', () => {
    const r = n({ dst: '2001:db8::1/64', nextHops: [{ gateway: '2001:db8::0:1' }] });
    assert.deepEqual(r, {
      dst: '2001:db8::/64',
      table: 254,
      protocol: 186,
      metric: 1024,
      type: 'unicast',
      nextHops: [{ gateway: '2001:db8::1', weight: 1 }],
    });
    assert.equal(n({ dst: '10.0.0.0/8', type: 'blackhole', nextHops: [{ dev: 'x' }] }).nextHops.length, 0);
  });

  test('rejects bad input naming the field', () => {
    assert.throws(() => n({ dst: '10.0.0.0/8' }), /needs at least one next hop/);
    assert.throws(() => n({ dst: '10.0.0.0/8', nextHops: [{ gateway: '2001::1' }] }), /other family/);
    assert.throws(() => n({ dst: '10.0.0.0/8', nextHops: [{ gateway: '1.1.1.1', weight: 0 }] }), /weight 0/);
    assert.throws(() => n({ dst: '10.0.0.0/8', metric: -1, nextHops: [{ dev: 'a' }] }), /metric -1/);
  });

  test('ECMP equality ignores next-hop order but not weights', () => {
    const a = n({
      dst: '10.0.0.0/24',
      nextHops: [
        { gateway: '1.1.1.1', weight: 2 },
        { gateway: '2.2.2.2', weight: 1 },
      ],
    });
    const b = n({
      dst: '10.0.0.0/24',
      nextHops: [
        { gateway: '2.2.2.2', weight: 1 },
        { gateway: '1.1.1.1', weight: 2 },
      ],
    });
    const c = n({
      dst: '10.0.0.0/24',
      nextHops: [
        { gateway: '2.2.2.2', weight: 2 },
        { gateway: '1.1.1.1', weight: 1 },
      ],
    });
    assert.ok(routesEqual(a, b));
    assert.ok(!routesEqual(a, c));
    assert.match(formatRouteArgs(a), /nexthop via 1.1.1.1 weight 2 nexthop via 2.2.2.2 weight 1/);
  });
});

describe('planRouteSync', () => {
  const opts = { protocol: 186 };
  const r1 = n({ dst: '10.1.0.0/26', nextHops: [{ gateway: '192.168.0.2', dev: 'tunl0', onlink: true }] });
  const r2 = n({ dst: '10.2.0.0/26', nextHops: [{ gateway: '192.168.0.3' }], mtu: 1440 });
  const bh = n({ dst: '10.3.0.0/26', type: 'blackhole' });

  test('installs what is missing and leaves equal routes alone', () => {
    const plan = planRouteSync([r1, r2, bh], [r1], opts);
    assert.deepEqual(
      plan.ops.map((o) => [o.op, o.route.dst]),
      [
        ['replace', '10.2.0.0/26'],
        ['replace', '10.3.0.0/26'],
      ],
    );
    assert.deepEqual(planRouteSync([r1], [{ ...r1, nextHops: [{ ...r1.nextHops[0]! }] }], opts).ops, []);
  });

  test('replaces changed routes (next hop, mtu, type) and deletes unwanted ours after the replaces', () => {
    const changed: KernelRoute = { ...r2, mtu: 1480 };
    const stale = n({ dst: '10.9.0.0/24', nextHops: [{ gateway: '192.168.0.9' }] });
    const plan = planRouteSync([r2, r1], [stale, changed, { ...r1, type: 'blackhole', nextHops: [] }], opts);
    assert.deepEqual(
      plan.ops.map((o) => [o.op, o.route.dst, o.route.mtu]),
      [
        ['replace', '10.2.0.0/26', 1440],
        ['replace', '10.1.0.0/26', undefined],
        ['delete', '10.9.0.0/24', undefined],
      ],
    );
  });

  test('never touches routes of another protocol; a foreign route on our key is a conflict', () => {
    const kernelStatic: KernelRoute = { ...r1, protocol: 4 };
    const connected: KernelRoute = n({ dst: '192.168.0.0/24', protocol: 2, nextHops: [{ dev: 'eth0' }] });
    const plan = planRouteSync([r1], [kernelStatic, connected], opts);
    assert.deepEqual(plan.ops, []);
    assert.equal(plan.conflicts.length, 1);
    assert.equal(plan.conflicts[0]!.existing.protocol, 4);
    // Nothing wanted: still only our own routes go.
    const plan2 = planRouteSync([], [kernelStatic, connected, r2], opts);
    assert.deepEqual(
      plan2.ops.map((o) => [o.op, o.route.dst]),
      [['delete', '10.2.0.0/26']],
    );
  });

  test('same prefix in another table or at another metric is another route', () => {
    const other = { ...r1, table: 100 };
    const plan = planRouteSync([r1], [other], { protocol: 186, tables: new Set([254]) });
    assert.deepEqual(
      plan.ops.map((o) => [o.op, o.route.table]),
      [['replace', 254]],
    );
    const plan2 = planRouteSync([r1], [other], { protocol: 186 });
    assert.deepEqual(
      plan2.ops.map((o) => [o.op, o.route.table]),
      [
        ['replace', 254],
        ['delete', 100],
      ],
    );
    const lowMetric = { ...r1, metric: 10 };
    assert.equal(planRouteSync([r1, lowMetric], [r1], opts).ops.length, 1);
  });

  test('property: applying the plan to the actual set yields the wanted set (plus foreign routes)', () => {
    const prefixes = ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '2001:db8::/64', '2001:db8:1::/64'];
    const arbRoute = fc.record({
      p: fc.constantFrom(...prefixes),
      gw: fc.integer({ min: 1, max: 3 }),
      proto: fc.constantFrom(186, 186, 4),
      mtu: fc.constantFrom(0, 1440),
    });
    const build = (x: { p: string; gw: number; proto: number; mtu: number }) =>
      n({
        dst: x.p,
        protocol: x.proto,
        mtu: x.mtu,
        nextHops: [{ gateway: x.p.includes(':') ? `2001:db8::${x.gw}` : `192.168.0.${x.gw}` }],
      });
    fc.assert(
      fc.property(fc.array(arbRoute, { maxLength: 6 }), fc.array(arbRoute, { maxLength: 6 }), (w, a) => {
        const wanted = w.map(build).map((r) => ({ ...r, protocol: 186 }));
        const actualMap = new Map<string, KernelRoute>();
        for (const r of a.map(build)) actualMap.set(`${r.dst} ${r.metric}`, r);
        const plan = planRouteSync(wanted, actualMap.values(), opts);
        const after = new Map(actualMap);
        for (const op of plan.ops) {
          const k = `${op.route.dst} ${op.route.metric}`;
          if (op.op === 'replace') after.set(k, op.route);
          else after.delete(k);
        }
        const wantedMap = new Map(wanted.map((r) => [`${r.dst} ${r.metric}`, r]));
        for (const [k, r] of after) {
          if (r.protocol !== 186) {
            assert.deepEqual(r, actualMap.get(k), 'foreign routes are untouched');
            continue;
          }
          assert.ok(wantedMap.has(k), `our route ${k} is wanted`);
          assert.ok(routesEqual(r, wantedMap.get(k)!));
        }
        for (const [k] of wantedMap) {
          const r = after.get(k)!;
          assert.ok(r.protocol === 186 || plan.conflicts.some((c) => c.wanted.dst === r.dst));
        }
        // Minimal: nothing is replaced that already equals the wanted route.
        for (const op of plan.ops) {
          if (op.op !== 'replace') continue;
          const before = actualMap.get(`${op.route.dst} ${op.route.metric}`);
          assert.ok(!before || !routesEqual(before, op.route));
        }
      }),
    );
  });
});
