import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AsPathSegmentType } from '../codec/types.ts';
import { AttrTable } from './attr-table.ts';
import { asSequence, buildAsPath, parseIpv4, type StoredAttributes } from './attrs.ts';
import {
  CandidateSet,
  DECISION_STEPS,
  DEFAULT_DECISION_OPTIONS,
  type DecisionOptions,
  DecisionProcess,
  UNREACHABLE,
} from './best-path.ts';
import { type PeerKind, PeerTable } from './peers.ts';

const LOCAL_AS = 65000;

function setup(options: Partial<DecisionOptions> = {}, unreachable: number[] = []) {
  const attrs = new AttrTable();
  const peers = new PeerTable(parseIpv4('10.0.0.1'), LOCAL_AS);
  const d = new DecisionProcess(
    attrs,
    peers,
    { ...DEFAULT_DECISION_OPTIONS, ...options },
    {
      cost: (nh) => {
        if (nh === null) return 0;
        const v = ((nh[0]! << 24) | (nh[1]! << 16) | (nh[2]! << 8) | nh[3]!) >>> 0;
        if (unreachable.includes(v)) return UNREACHABLE;
        return nh[3]!; // cost = last octet, so tests pick costs through the next hop
      },
    },
  );
  const peer = (name: string, kind: PeerKind, remoteAs: number, routerId = name): number =>
    peers.add({
      kind,
      name,
      address: Uint8Array.from(name.split('.').map(Number)),
      routerId: parseIpv4(routerId),
      remoteAs,
      rrClient: false,
    });
  const c = new CandidateSet();
  const add = (peerIdx: number, a: StoredAttributes, pathId = 0): number =>
    c.push(attrs.intern({ origin: 0, nextHop: parseIpv4('192.0.2.1'), ...a }), peerIdx, pathId, c.n);
  return { attrs, peers, d, peer, c, add };
}

describe('decision chain', () => {
  test('the steps are in the issue #4 order', () => {
    assert.deepEqual(
      DECISION_STEPS.map((s) => s.name),
      [
        'local-pref',
        'as-path-length',
        'origin',
        'med',
        'ebgp-over-ibgp',
        'igp-cost',
        'cluster-list-length',
        'router-id',
        'peer-address',
        'path-id',
      ],
    );
  });

  test('local preference: higher wins, before a shorter AS path', () => {
    const { d, peer, c, add } = setup();
    const p1 = peer('10.1.0.1', 'ibgp', LOCAL_AS);
    add(p1, { localPref: 100, asPath: asSequence() });
    add(p1, { localPref: 200, asPath: asSequence(1, 2, 3) }, 1);
    assert.equal(d.select(c), 1);
    assert.deepEqual(d.compare(c, 0, 1), { winner: 'b', step: 'local-pref' });
    const e = d.explain(c);
    assert.equal(e.paths[0]!.lostAt, 'local-pref');
    assert.match(e.paths[0]!.reason, /higher local-pref \(200 vs 100\) of path 1/);
  });

  test('AS_PATH length: AS_SET counts 1, confederation segments 0', () => {
    const { d, peer, c, add } = setup();
    const p1 = peer('10.1.0.1', 'ebgp', 1);
    const p2 = peer('10.1.0.2', 'ebgp', 1);
    // 1 + set(1) = 2, confed segment ignored
    add(p1, {
      asPath: buildAsPath([
        { type: AsPathSegmentType.ConfedSequence, asns: [65001, 65002, 65003] },
        { type: AsPathSegmentType.AsSequence, asns: [1] },
        { type: AsPathSegmentType.AsSet, asns: [7, 8, 9] },
      ]),
    });
    add(p2, { asPath: asSequence(1, 2, 3) });
    assert.equal(d.select(c), 0);
    assert.equal(d.compare(c, 0, 1).step, 'as-path-length');
  });

  test('origin: IGP < EGP < incomplete', () => {
    const { d, peer, c, add } = setup();
    const p1 = peer('10.1.0.1', 'ebgp', 1);
    add(p1, { origin: 2, asPath: asSequence(1) });
    add(p1, { origin: 1, asPath: asSequence(1) }, 1);
    add(p1, { origin: 0, asPath: asSequence(1) }, 2);
    assert.equal(d.select(c), 2);
    assert.equal(d.compare(c, 0, 1).step, 'origin');
  });

  test('MED is compared only between paths from the same neighbouring AS', () => {
    const { d, peer, c, add } = setup();
    const a = peer('10.1.0.1', 'ebgp', 1);
    const b = peer('10.1.0.2', 'ebgp', 2);
    add(a, { med: 50, asPath: asSequence(1, 9) });
    add(b, { med: 10, asPath: asSequence(2, 9) });
    // Different neighbour AS: MED not compared, router-id (peer 10.1.0.1 lower) decides.
    assert.equal(d.select(c), 0);
    assert.equal(d.compare(c, 0, 1).step, 'router-id');
  });

  test('always-compare-med compares across neighbouring ASes', () => {
    const { d, peer, c, add } = setup({ alwaysCompareMed: true });
    const a = peer('10.1.0.1', 'ebgp', 1);
    const b = peer('10.1.0.2', 'ebgp', 2);
    add(a, { med: 50, asPath: asSequence(1, 9) });
    add(b, { med: 10, asPath: asSequence(2, 9) });
    assert.equal(d.select(c), 1);
    assert.equal(d.compare(c, 0, 1).step, 'med');
  });

  test('missing MED counts as 0 by default and as worst when configured', () => {
    for (const [worst, expected] of [
      [false, 0],
      [true, 1],
    ] as const) {
      const { d, peer, c, add } = setup({ missingMedAsWorst: worst });
      const a = peer('10.1.0.2', 'ebgp', 1);
      const b = peer('10.1.0.1', 'ebgp', 1);
      add(a, { asPath: asSequence(1) });
      add(b, { med: 5, asPath: asSequence(1) });
      assert.equal(d.select(c), expected, `missingMedAsWorst=${worst}`);
    }
  });

  test('MED elimination is per neighbouring AS (RFC 4271 §9.1.2.2 c), independent of path order', () => {
    // Classic non-transitive triple: A(AS1, MED 10), B(AS1, MED 20), C(AS2, MED 0).
    // Rule c) removes B (beaten by A in AS1); then A vs C goes to router-id.
    const orders = [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ];
    const winners = new Set<string>();
    for (const order of orders) {
      const { d, peer, c, add } = setup();
      const peersByName = {
        A: peer('10.1.0.3', 'ebgp', 1),
        B: peer('10.1.0.1', 'ebgp', 1),
        C: peer('10.1.0.2', 'ebgp', 2),
      };
      const defs = [
        { name: 'A', p: peersByName.A, med: 10, as: 1 },
        { name: 'B', p: peersByName.B, med: 20, as: 1 },
        { name: 'C', p: peersByName.C, med: 0, as: 2 },
      ];
      const names: string[] = [];
      for (const k of order) {
        const def = defs[k]!;
        add(def.p, { med: def.med, asPath: asSequence(def.as, 100) });
        names.push(def.name);
      }
      winners.add(names[d.select(c)]!);
      const e = d.explain(c);
      const bIdx = names.indexOf('B');
      assert.equal(e.paths[bIdx]!.lostAt, 'med');
    }
    // C has router-id 10.1.0.2 < A's 10.1.0.3.
    assert.deepEqual([...winners], ['C']);
  });

  test('eBGP over iBGP, and confederation eBGP counts as internal', () => {
    const { d, peer, c, add } = setup();
    const i = peer('10.1.0.1', 'ibgp', LOCAL_AS);
    const e = peer('10.1.0.9', 'ebgp', 1);
    const ce = peer('10.1.0.2', 'confed-ebgp', 65010);
    add(i, { asPath: asSequence(1) });
    add(e, { asPath: asSequence(1) });
    add(ce, { asPath: asSequence(1) });
    assert.equal(d.select(c), 1);
    assert.equal(d.compare(c, 0, 1).step, 'ebgp-over-ibgp');
    assert.equal(d.compare(c, 0, 2).step, 'router-id');
  });

  test('IGP cost to the next hop: lower wins; an unreachable next hop is not eligible', () => {
    const { d, peer, c, add } = setup({}, [parseIpv4('192.0.2.200')]);
    const p1 = peer('10.1.0.1', 'ibgp', LOCAL_AS);
    const p2 = peer('10.1.0.2', 'ibgp', LOCAL_AS);
    const p3 = peer('10.1.0.3', 'ibgp', LOCAL_AS);
    add(p1, { nextHop: parseIpv4('192.0.2.30') });
    add(p2, { nextHop: parseIpv4('192.0.2.20') });
    add(p3, { nextHop: parseIpv4('192.0.2.200'), localPref: 500 });
    assert.equal(d.select(c), 1);
    const e = d.explain(c);
    assert.equal(e.paths[0]!.lostAt, 'igp-cost');
    assert.equal(e.paths[2]!.eligible, false);
    assert.equal(e.paths[2]!.reason, 'next hop unreachable');
  });

  test('a single path with an unreachable next hop gives no best path', () => {
    const { d, peer, c, add } = setup({}, [parseIpv4('192.0.2.200')]);
    add(peer('10.1.0.1', 'ibgp', LOCAL_AS), { nextHop: parseIpv4('192.0.2.200') });
    assert.equal(d.select(c), -1);
  });

  test('CLUSTER_LIST length, then ORIGINATOR_ID in place of the router-id', () => {
    const { d, peer, c, add } = setup();
    const p1 = peer('10.1.0.1', 'ibgp', LOCAL_AS);
    const p2 = peer('10.1.0.2', 'ibgp', LOCAL_AS);
    add(p1, { clusterList: Uint32Array.of(1, 2) });
    add(p2, { clusterList: Uint32Array.of(1) });
    assert.equal(d.select(c), 1);
    assert.equal(d.compare(c, 0, 1).step, 'cluster-list-length');

    const s2 = setup();
    const q1 = s2.peer('10.1.0.1', 'ibgp', LOCAL_AS);
    const q2 = s2.peer('10.1.0.2', 'ibgp', LOCAL_AS);
    // peer 10.1.0.1 has the lower router-id, but its route carries ORIGINATOR_ID 10.9.9.9.
    s2.add(q1, { originatorId: parseIpv4('10.9.9.9') });
    s2.add(q2, {});
    assert.equal(s2.d.select(s2.c), 1);
    assert.equal(s2.d.compare(s2.c, 0, 1).step, 'router-id');
  });

  test('peer address breaks a router-id tie', () => {
    const { d, peer, c, add } = setup();
    const p1 = peer('10.1.0.2', 'ibgp', LOCAL_AS, '1.1.1.1');
    const p2 = peer('10.1.0.1', 'ibgp', LOCAL_AS, '1.1.1.1');
    add(p1, {});
    add(p2, {});
    assert.equal(d.select(c), 1);
    assert.equal(d.compare(c, 0, 1).step, 'peer-address');
  });

  test('ADD-PATH paths of one peer fall back to the path id', () => {
    const { d, peer, c, add } = setup();
    const p1 = peer('10.1.0.1', 'ibgp', LOCAL_AS);
    add(p1, {}, 7);
    add(p1, {}, 3);
    assert.equal(d.select(c), 1);
    assert.equal(d.compare(c, 0, 1).step, 'path-id');
  });
});

describe('multipath', () => {
  const nh = (x: number) => parseIpv4(`192.0.2.${x}`);

  test('disabled by default: only the best path', () => {
    const { d, peer, c, add } = setup();
    add(peer('10.1.0.1', 'ebgp', 1), { asPath: asSequence(1, 5), nextHop: nh(1) });
    add(peer('10.1.0.2', 'ebgp', 1), { asPath: asSequence(1, 5), nextHop: nh(1 + 256 * 0) + 1 });
    d.select(c);
    assert.equal(d.multipathCount, 1);
  });

  test('eBGP: same neighbouring AS and equal up to IGP cost, capped at maxPathsEbgp', () => {
    const { d, peer, c, add } = setup({ maxPathsEbgp: 2 });
    add(peer('10.1.0.1', 'ebgp', 1), { asPath: asSequence(1, 5), nextHop: nh(1) });
    add(peer('10.1.0.2', 'ebgp', 1), { asPath: asSequence(1, 6), nextHop: nh(1) + 0 });
    add(peer('10.1.0.3', 'ebgp', 1), { asPath: asSequence(1, 7), nextHop: nh(1) });
    // all three have the same next hop: counted once
    d.select(c);
    assert.equal(d.multipathCount, 1);

    const s = setup({ maxPathsEbgp: 2 });
    s.add(s.peer('10.1.0.3', 'ebgp', 1), { asPath: asSequence(1, 5), nextHop: nh(1) });
    s.add(s.peer('10.1.0.2', 'ebgp', 1), { asPath: asSequence(1, 6), nextHop: nh(1) + 0x100 });
    s.add(s.peer('10.1.0.1', 'ebgp', 1), { asPath: asSequence(1, 7), nextHop: nh(1) + 0x200 });
    const best = s.d.select(s.c);
    assert.equal(best, 2); // lowest router-id
    assert.deepEqual(Array.from(s.d.multipath.subarray(0, s.d.multipathCount)), [2, 1]);
  });

  test('eBGP: different neighbouring AS only with multipath-relax', () => {
    for (const relax of [false, true]) {
      const s = setup({ maxPathsEbgp: 4, multipathRelax: relax });
      s.add(s.peer('10.1.0.1', 'ebgp', 1), { asPath: asSequence(1, 5), nextHop: nh(1) });
      s.add(s.peer('10.1.0.2', 'ebgp', 2), { asPath: asSequence(2, 5), nextHop: nh(1) + 0x100 });
      s.d.select(s.c);
      assert.equal(s.d.multipathCount, relax ? 2 : 1, `relax=${relax}`);
    }
  });

  test('a path that loses before the IGP step (e.g. on MED) is never a multipath member', () => {
    const s = setup({ maxPathsEbgp: 4 });
    s.add(s.peer('10.1.0.1', 'ebgp', 1), { asPath: asSequence(1, 5), med: 1, nextHop: nh(1) });
    s.add(s.peer('10.1.0.2', 'ebgp', 1), { asPath: asSequence(1, 5), med: 2, nextHop: nh(1) + 0x100 });
    s.d.select(s.c);
    assert.equal(s.d.multipathCount, 1);
  });

  test('a path with a higher IGP cost is not a multipath member', () => {
    const s = setup({ maxPathsIbgp: 4 });
    s.add(s.peer('10.1.0.1', 'ibgp', LOCAL_AS), { nextHop: nh(1) });
    s.add(s.peer('10.1.0.2', 'ibgp', LOCAL_AS), { nextHop: nh(2) });
    s.d.select(s.c);
    assert.equal(s.d.multipathCount, 1);
  });

  test('iBGP: equal paths to distinct next hops, optional equal CLUSTER_LIST length', () => {
    for (const equalCl of [false, true]) {
      const s = setup({ maxPathsIbgp: 4, ibgpMultipathEqualClusterLength: equalCl });
      // next hops 192.0.2.1 / 192.0.3.1 / 192.0.4.1 all have cost 1 (last octet)
      s.add(s.peer('10.1.0.1', 'ibgp', LOCAL_AS), { nextHop: nh(1) });
      s.add(s.peer('10.1.0.2', 'ibgp', LOCAL_AS), { nextHop: nh(1) + 0x100 });
      s.add(s.peer('10.1.0.3', 'ibgp', LOCAL_AS), { nextHop: nh(1) + 0x200, clusterList: Uint32Array.of(9) });
      assert.equal(s.d.select(s.c), 0);
      assert.equal(s.d.multipathCount, equalCl ? 2 : 3, `equal-cluster-length=${equalCl}`);
    }
  });

  test('eBGP and iBGP paths are never mixed', () => {
    const s = setup({ maxPathsIbgp: 4, maxPathsEbgp: 4 });
    s.add(s.peer('10.1.0.1', 'ebgp', 1), { asPath: asSequence(1), nextHop: nh(1) });
    s.add(s.peer('10.1.0.2', 'ibgp', LOCAL_AS), { asPath: asSequence(1), nextHop: nh(1) + 0x100 });
    s.d.select(s.c);
    assert.equal(s.d.multipathCount, 1);
  });

  test('hundreds of paths for one prefix (a route server)', () => {
    const s = setup({ maxPathsEbgp: 64 });
    for (let i = 0; i < 300; i++) {
      const p = s.peer(`10.${1 + (i >> 8)}.${i & 255}.1`, 'ebgp', 1);
      s.add(p, { asPath: asSequence(1, 5), nextHop: nh(1) + (i << 8) });
    }
    assert.equal(s.d.select(s.c), 0, 'lowest router-id');
    assert.equal(s.d.multipathCount, 64);
  });

  test('MED per neighbouring AS with many paths (the linear-time path) agrees with the rule', () => {
    const s = setup({ maxPathsEbgp: 1 });
    // 20 paths: AS 1 with MEDs 20..11, AS 2 with MEDs 10..1; router-ids make AS 1's best win at the end.
    for (let i = 0; i < 20; i++) {
      const as = i < 10 ? 1 : 2;
      const p = s.peer(`10.${as}.0.${i + 1}`, 'ebgp', as);
      s.add(p, { asPath: asSequence(as, 9), med: 20 - i, nextHop: nh(1) + (i << 8) });
    }
    const best = s.d.select(s.c);
    const e = s.d.explain(s.c);
    const survivors = e.paths.filter((v) => v.lostAt !== 'med').map((v) => v.index);
    assert.deepEqual(survivors, [9, 19], 'lowest MED of each neighbouring AS');
    assert.equal(best, 9, 'then router-id 10.1.0.10 < 10.2.0.20');
  });
});
