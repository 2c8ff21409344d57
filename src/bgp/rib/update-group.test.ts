import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeMessage, Family, packUpdates } from '../codec/index.ts';
import { PolicyCompiler } from '../policy/compile.ts';
import { ExportFilter, type ExportSettings } from '../policy/filters.ts';
import { defaultReflectorConfig } from '../reflector/reflector.ts';
import { AttrTable } from './attr-table.ts';
import { asSequence, formatAsPath, parseIpv4 } from './attrs.ts';
import { DecisionProcess } from './best-path.ts';
import { LocRib } from './loc-rib.ts';
import { PeerTable } from './peers.ts';
import { formatPrefix, prefixListOf } from './prefix.ts';
import { UpdateGroups } from './update-group.ts';

function world() {
  const attrs = new AttrTable();
  const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
  const rib = new LocRib({ afi: 1, attrs, decision: new DecisionProcess(attrs, peers) });
  const mk = (i: number, kind: 'ebgp' | 'ibgp', asn: number) =>
    peers.add({
      kind,
      name: `10.1.0.${i}`,
      address: Uint8Array.of(10, 1, 0, i),
      routerId: parseIpv4(`10.1.0.${i}`),
      remoteAs: asn,
      rrClient: false,
    });
  const compiler = new PolicyCompiler({
    policies: {
      out: { terms: [{ match: { community: ['65000:666'] }, action: 'reject' }, { action: 'accept' }] },
      short: { terms: [{ match: { prefixList: [{ prefix: '10.0.0.0/8', le: 16 }] } }] },
    },
  });
  let made = 0;
  const groups = new UpdateGroups(rib, Family.IPv4Unicast, (s) => {
    made++;
    return new ExportFilter(attrs, peers, compiler, s);
  });
  const ebgpSettings: ExportSettings = {
    afi: 1,
    kind: 'ebgp',
    rrClient: false,
    policies: ['out'],
    nextHop: 'default',
    localIpv4: parseIpv4('10.0.0.1'),
    localAs: 65000,
    reflector: defaultReflectorConfig(parseIpv4('10.0.0.1')),
  };
  const wire = { fourOctetAs: true, addPathSend: false };
  return { attrs, peers, rib, mk, groups, ebgpSettings, wire, made: () => made };
}

const texts = (l: { count: number; words: Uint32Array; lengths: Uint8Array }) =>
  Array.from({ length: l.count }, (_, i) => formatPrefix(1, l.words, i, l.lengths[i]!)).sort();

describe('update groups', () => {
  test('peers with equal settings share one group; different settings do not', () => {
    const { mk, groups, ebgpSettings, wire, made } = world();
    const a = mk(1, 'ebgp', 65001);
    const b = mk(2, 'ebgp', 65002);
    const c = mk(3, 'ebgp', 65003);
    const ga = groups.join(a, ebgpSettings, wire);
    assert.equal(groups.join(b, ebgpSettings, wire), ga);
    assert.notEqual(groups.join(c, { ...ebgpSettings, nextHop: 'unchanged' }, wire), ga);
    assert.notEqual(groups.join(c, ebgpSettings, { ...wire, fourOctetAs: false }), ga);
    assert.equal(made(), 3);
    assert.equal([...groups.groups].length, 2, 'the group c left was disposed');
    assert.notEqual(
      groups.join(c, ebgpSettings, { ...wire, addPathSend: true }),
      ga,
      'ADD-PATH send is a group property',
    );
  });

  test("a group's arrays follow an emptied Loc-RIB back to its initial size, and only then", () => {
    const { attrs, rib, mk, groups, ebgpSettings, wire } = world();
    const src = mk(1, 'ebgp', 65001);
    const g = groups.join(mk(2, 'ebgp', 65002), ebgpSettings, wire);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: parseIpv4('10.1.0.1') });
    const all = Array.from({ length: 20_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const small = g.storageBytes();
    rib.announce(src, id, prefixListOf(1, all));
    for (const b of groups.process(rib.commit()).values()) b.release();
    const grown = g.storageBytes();
    assert.ok(grown > small, `${grown} > ${small}`);
    // Still advertising: nothing to give back.
    groups.fitEmptyRib();
    assert.equal(g.storageBytes(), grown);
    rib.withdraw(src, prefixListOf(1, all));
    for (const b of groups.process(rib.commit()).values()) b.release();
    assert.equal(g.size, 0);
    assert.equal(rib.settle(), true);
    groups.fitEmptyRib();
    assert.equal(g.storageBytes(), small);
    // The group serves the next table.
    rib.announce(src, id, prefixListOf(1, all.slice(0, 3)));
    const again = groups.process(rib.commit());
    assert.equal(g.size, 3);
    for (const b of again.values()) b.release();
  });

  test('one export per attribute set, prefixes bucketed by outgoing attributes, withdrawals', () => {
    const { attrs, rib, mk, groups, ebgpSettings, wire } = world();
    const src = mk(1, 'ebgp', 65001);
    const dst1 = mk(2, 'ebgp', 65002);
    const dst2 = mk(3, 'ebgp', 65003);
    const g = groups.join(dst1, ebgpSettings, wire);
    groups.join(dst2, ebgpSettings, wire);
    const setA = attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: parseIpv4('10.1.0.1') });
    const setB = attrs.intern({ origin: 0, asPath: asSequence(65001, 7), nextHop: parseIpv4('10.1.0.1') });
    const setX = attrs.intern({
      origin: 0,
      asPath: asSequence(65001),
      nextHop: 1,
      communities: Uint32Array.of(65000 * 65536 + 666),
    });
    const many = (o: number) => Array.from({ length: 100 }, (_, i) => `10.${o}.${i}.0/24`);
    rib.announce(src, setA, prefixListOf(1, many(1)));
    rib.announce(src, setB, prefixListOf(1, many(2)));
    rib.announce(src, setX, prefixListOf(1, many(3)));
    const batches = groups.process(rib.commit());
    const batch = batches.get(g)!;
    assert.equal(g.filter.evaluations, 3, 'three attribute sets, three evaluations, 300 prefixes');
    assert.equal(batch.bucketCount, 2);
    assert.equal(batch.announcedCount, 200);
    assert.equal(g.size, 200);
    const forDst = batch.forPeer(dst1);
    assert.equal(forDst.announce.length, 2);
    assert.equal(forDst.withdraw, null);
    const paths = forDst.announce.map((u) => formatAsPath(u.attributes.asPath)).sort();
    assert.deepEqual(paths, ['65000 65001', '65000 65001 7']);
    assert.equal(forDst.announce[0]!.attributes.nextHop, parseIpv4('10.0.0.1'));
    batch.release();

    // Withdraw some, change others to a rejected set: both become withdrawals.
    rib.withdraw(src, prefixListOf(1, many(1).slice(0, 10)));
    rib.announce(src, setX, prefixListOf(1, many(2).slice(0, 5)));
    const b2 = groups.process(rib.commit()).get(g)!;
    assert.equal(b2.withdraw.count, 15);
    assert.equal(b2.bucketCount, 0);
    assert.equal(g.size, 185);
    b2.release();

    // Full table for a joining peer comes from the group's Adj-RIB-Out without re-running policy.
    const evals = g.filter.evaluations;
    const full = g.fullTable();
    assert.equal(full.announcedCount, 185);
    assert.equal(g.filter.evaluations, evals);
    full.release();
  });

  /** An eBGP source and an eBGP member in one group; set(asn) interns a set whose AS_PATH ends in asn. */
  function sourceAndGroup() {
    const { attrs, rib, mk, groups, ebgpSettings, wire } = world();
    const src = mk(1, 'ebgp', 65001);
    const dst = mk(2, 'ebgp', 65002);
    const g = groups.join(dst, ebgpSettings, wire);
    const set = (asn: number) =>
      attrs.intern({ origin: 0, asPath: asSequence(65001, asn), nextHop: parseIpv4('10.1.0.1') });
    return { rib, groups, src, dst, g, set };
  }

  test('routes arriving interleaved are grouped per set in arrival order; a recycled store serves the next commit', () => {
    const { rib, groups, src, dst, g, set } = sourceAndGroup();
    const sets = [set(1), set(2), set(3)];
    // Prefix i goes to set i % 3: every consecutive pair of routes changes bucket.
    const prefixes = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    for (const [i, p] of prefixes.entries()) rib.announce(src, sets[i % 3]!, prefixListOf(1, [p]));
    const first = groups.process(rib.commit()).get(g)!;
    const out = first.forPeer(dst);
    assert.equal(out.announce.length, 3);
    for (const u of out.announce) {
      const n = Number(formatAsPath(u.attributes.asPath).split(' ').at(-1)) - 1;
      assert.deepEqual(texts(u.prefixes), prefixes.filter((_, i) => i % 3 === n).sort());
    }
    // Packed, every prefix goes out exactly once.
    const packed = packUpdates(out.announce, [], {
      fourOctetAs: true,
      extendedMessage: false,
      addPath: new Set(),
    });
    assert.equal(packed.prefixCount, 300);
    assert.throws(
      () => first.announceRoute(sets[0]!, Uint32Array.of(1), 0, 32, src),
      /announced after forPeer/,
    );
    first.recycle();
    assert.throws(() => first.forPeer(dst), /after recycle/);
    // The next commit reuses the arrays and the range groups: it must show only its own routes,
    // with their own attributes (bucket 0 held the first set's routes before).
    rib.announce(src, sets[2]!, prefixListOf(1, ['192.0.2.0/24']));
    const second = groups.process(rib.commit()).get(g)!;
    assert.equal(second.announcedCount, 1);
    assert.equal(second.bucketCount, 1);
    const again = second.forPeer(dst).announce[0]!;
    assert.deepEqual(texts(again.prefixes), ['192.0.2.0/24']);
    assert.equal(formatAsPath(again.attributes.asPath), formatAsPath(out.announce[2]!.attributes.asPath));
    const repacked = packUpdates([again], [], {
      fourOctetAs: true,
      extendedMessage: false,
      addPath: new Set(),
    });
    assert.equal(repacked.prefixCount, 1);
    second.recycle();
  });

  test('thousands of sets in one commit, then small commits: every route in its set, none left over', () => {
    const { rib, groups, src, dst, g, set: setEndingIn } = sourceAndGroup();
    const set = (n: number) => setEndingIn(64512 + n);
    const lastAs = (u: { attributes: { asPath?: Uint32Array } }) =>
      Number(formatAsPath(u.attributes.asPath!).split(' ').at(-1)) - 64512;
    // 5,000 sets, two prefixes each, interleaved: the bucket table grows well past its start.
    const sets = Array.from({ length: 5000 }, (_, n) => set(n));
    const prefixOf = (i: number) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`;
    for (let i = 0; i < 10_000; i++) rib.announce(src, sets[i % 5000]!, prefixListOf(1, [prefixOf(i)]));
    const big = groups.process(rib.commit()).get(g)!;
    assert.equal(big.bucketCount, 5000);
    const out = big.forPeer(dst);
    assert.equal(out.announce.length, 5000);
    for (const u of out.announce) {
      const n = lastAs(u);
      assert.deepEqual(texts(u.prefixes), [prefixOf(n), prefixOf(n + 5000)].sort());
    }
    big.recycle();
    // Small commits after it reuse the store: first after the big one, then after a small one
    // (the two ways the bucket table is emptied).
    for (const round of [0, 1, 2]) {
      const picked = [round * 7, round * 7 + 1, 4999 - round];
      for (const [k, n] of picked.entries())
        rib.announce(src, sets[n]!, prefixListOf(1, [`192.0.${round}.${k}/32`]));
      const small = groups.process(rib.commit()).get(g)!;
      assert.equal(small.bucketCount, 3, `round ${round}`);
      const got = small
        .forPeer(dst)
        .announce.map((u) => `${lastAs(u)}:${texts(u.prefixes).join(',')}`)
        .sort();
      assert.deepEqual(got, picked.map((n, k) => `${n}:192.0.${round}.${k}/32`).sort(), `round ${round}`);
      small.recycle();
    }
  });

  test('split horizon: a member never gets its own route back', () => {
    const { attrs, rib, mk, groups, wire, ebgpSettings } = world();
    const a = mk(1, 'ebgp', 65001);
    const b = mk(2, 'ebgp', 65002);
    const g = groups.join(a, ebgpSettings, wire);
    groups.join(b, ebgpSettings, wire);
    const fromA = attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: 1 });
    rib.announce(a, fromA, prefixListOf(1, ['10.9.0.0/16', '10.9.1.0/24']));
    const batch = groups.process(rib.commit()).get(g)!;
    const toA = batch.forPeer(a);
    const toB = batch.forPeer(b);
    // A never had these from us: neither its routes back nor withdrawals of them.
    assert.equal(toA.announce.length, 0);
    assert.equal(toA.withdraw, null);
    assert.equal(toB.withdraw, null);
    assert.deepEqual(texts(toB.announce[0]!.prefixes), ['10.9.0.0/16', '10.9.1.0/24']);
    batch.release();
    // B's route for another prefix reaches A; then A's own, shorter-path route wins: A must
    // lose the one it had from us (a withdrawal), B gets A's.
    const fromB = attrs.intern({ origin: 0, asPath: asSequence(65002, 65100), nextHop: 2 });
    rib.announce(b, fromB, prefixListOf(1, ['10.8.0.0/16']));
    const second = groups.process(rib.commit()).get(g)!;
    assert.deepEqual(texts(second.forPeer(a).announce[0]!.prefixes), ['10.8.0.0/16']);
    second.release();
    rib.announce(a, fromA, prefixListOf(1, ['10.8.0.0/16']));
    const third = groups.process(rib.commit()).get(g)!;
    assert.deepEqual(texts(third.forPeer(a).withdraw!.prefixes), ['10.8.0.0/16']);
    assert.equal(third.forPeer(a).announce.length, 0);
    assert.deepEqual(texts(third.forPeer(b).announce[0]!.prefixes), ['10.8.0.0/16']);
    third.release();
    // Per source: all three routes are A's now (prefixesSent to A is size - 3 = 0).
    assert.equal(g.size, 3);
    assert.equal(g.advertisedFrom(a), 3);
    assert.equal(g.advertisedFrom(b), 0);
    // A joining member (or a route refresh) gets the full table without its own routes or
    // withdrawals of them.
    const full = g.fullTable();
    const toAFull = full.forPeer(a);
    assert.equal(toAFull.withdraw, null);
    assert.equal(toAFull.announce.length, 0);
    full.release();
  });

  test('export policy change: recompute() sends only the differences', () => {
    const { attrs, rib, mk, groups, wire, ebgpSettings } = world();
    const src = mk(1, 'ebgp', 65001);
    const dst = mk(2, 'ebgp', 65002);
    const g = groups.join(dst, { ...ebgpSettings, policies: ['short'] }, wire);
    const id = attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: 1 });
    rib.announce(src, id, prefixListOf(1, ['10.1.0.0/16', '10.1.1.0/24', '10.2.0.0/16']));
    const b = groups.process(rib.commit()).get(g)!;
    assert.equal(g.filter.cacheable, false);
    assert.deepEqual(texts(b.forPeer(dst).announce[0]!.prefixes), ['10.1.0.0/16', '10.2.0.0/16']);
    b.release();
    const again = g.recompute();
    assert.equal(again.empty, true, 'same policy: nothing to send');
    again.release();
  });

  test('references balance: after a full withdrawal only our own references remain', () => {
    const { attrs, rib, mk, groups, wire, ebgpSettings } = world();
    const src = mk(1, 'ebgp', 65001);
    const dst = mk(2, 'ebgp', 65002);
    const g = groups.join(dst, ebgpSettings, wire);
    const id = attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: 1 });
    const l = prefixListOf(1, ['10.1.0.0/16', '10.2.0.0/16']);
    rib.announce(src, id, l);
    groups.process(rib.commit()).get(g)!.release();
    rib.withdraw(src, l);
    const b = groups.process(rib.commit()).get(g)!;
    assert.equal(b.withdraw.count, 2);
    b.release();
    rib.commit();
    attrs.unref(id);
    attrs.collect();
    attrs.collect();
    assert.equal(attrs.size, 0);
    assert.equal(rib.size, 0);
  });

  test('packed with the codec, the UPDATEs decode back to the exported routes', () => {
    const { attrs, rib, mk, groups, wire, ebgpSettings } = world();
    const src = mk(1, 'ebgp', 65001);
    const dst = mk(2, 'ebgp', 65002);
    const g = groups.join(dst, ebgpSettings, wire);
    const sets = [0, 1, 2].map((k) =>
      attrs.intern({
        origin: 0,
        asPath: asSequence(65001, 100 + k),
        nextHop: 1,
        med: k,
        communities: Uint32Array.of(k),
      }),
    );
    const expected = new Map<string, string>();
    sets.forEach((id, k) => {
      const ps = Array.from({ length: 400 }, (_, i) => `${20 + k}.${i >> 4}.${(i & 15) * 16}.0/20`);
      rib.announce(src, id, prefixListOf(1, ps));
      for (const p of ps) expected.set(p, `65000 65001 ${100 + k}`);
    });
    rib.withdraw(src, prefixListOf(1, ['20.0.0.0/20']));
    expected.delete('20.0.0.0/20');
    const batch = groups.process(rib.commit()).get(g)!;
    const input = batch.forPeer(dst);
    const opts = { fourOctetAs: true, extendedMessage: false, addPath: new Set<number>() };
    const packed = packUpdates(input.announce, input.withdraw === null ? [] : [input.withdraw], opts);
    assert.equal(packed.failed.length, 0);
    assert.ok(
      packed.messages.length >= 3 && packed.messages.length <= 6,
      `${packed.messages.length} messages`,
    );
    const got = new Map<string, string>();
    for (const m of packed.messages) {
      const r = decodeMessage(m, opts);
      assert.ok(r.ok && r.value.type === 'update');
      const u = r.value;
      assert.equal(u.attributes.nextHop, parseIpv4('10.0.0.1'), 'next hop self towards eBGP');
      assert.equal(u.attributes.med, undefined, 'MED not passed to another AS');
      for (const p of texts(u.nlri)) got.set(p, formatAsPath(u.attributes.asPath));
    }
    assert.deepEqual([...got.entries()].sort(), [...expected.entries()].sort());
    batch.release();
  });

  test('peersChanged(): a changed router-id reaches the ORIGINATOR_ID of reflected routes', () => {
    const attrs = new AttrTable();
    const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
    const rib = new LocRib({ afi: 1, attrs, decision: new DecisionProcess(attrs, peers) });
    const compiler = new PolicyCompiler({});
    const groups = new UpdateGroups(
      rib,
      Family.IPv4Unicast,
      (s) => new ExportFilter(attrs, peers, compiler, s),
    );
    const client = (i: number) => ({
      kind: 'ibgp' as const,
      name: `c${i}`,
      address: Uint8Array.of(10, 0, 1, i),
      routerId: parseIpv4(`10.0.1.${i}`),
      remoteAs: 65000,
      rrClient: true,
    });
    const c1 = peers.add(client(1));
    const c2 = peers.add(client(2));
    const settings: ExportSettings = {
      afi: 1,
      kind: 'ibgp',
      rrClient: true,
      nextHop: 'default',
      localIpv4: parseIpv4('10.0.0.1'),
      localAs: 65000,
      reflector: { enabled: true, clusterId: parseIpv4('10.0.0.1'), clientToClient: true },
    };
    const g = groups.join(c2, settings, { fourOctetAs: true, addPathSend: false });
    rib.announce(
      c1,
      attrs.intern({ origin: 0, nextHop: parseIpv4('10.0.1.1'), localPref: 100 }),
      prefixListOf(1, ['10.5.0.0/16']),
    );
    const b1 = groups.process(rib.commit()).get(g)!;
    assert.equal(b1.forPeer(c2).announce[0]!.attributes.originatorId, parseIpv4('10.0.1.1'));
    b1.release();
    peers.update(c1, { ...client(1), routerId: parseIpv4('10.9.9.9') });
    const b2 = groups.peersChanged().get(g)!;
    const u = b2.forPeer(c2).announce;
    assert.equal(u.length, 1);
    assert.equal(u[0]!.attributes.originatorId, parseIpv4('10.9.9.9'));
    assert.equal(u[0]!.attributes.nextHop, parseIpv4('10.0.1.1'), 'next hop unchanged by reflection');
    b2.release();
  });

  test('ADD-PATH send: several paths per prefix with stable path ids, limit, withdrawal by path id', () => {
    const { attrs, rib, mk, groups, ebgpSettings } = world();
    const a = mk(1, 'ebgp', 65001);
    const b = mk(2, 'ebgp', 65002);
    const c = mk(3, 'ebgp', 65003);
    const dst = mk(4, 'ebgp', 65004);
    const small = mk(5, 'ebgp', 65005);
    const g = groups.join(dst, ebgpSettings, { fourOctetAs: true, addPathSend: true });
    const g1 = groups.join(small, ebgpSettings, {
      fourOctetAs: true,
      addPathSend: true,
      addPathSendLimit: 1,
    });
    assert.notEqual(g, g1, 'the path limit is part of the group key');
    const l = prefixListOf(1, ['10.7.0.0/16']);
    rib.announce(
      a,
      attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: parseIpv4('10.1.0.1') }),
      l,
    );
    rib.announce(
      b,
      attrs.intern({ origin: 0, asPath: asSequence(65002, 9), nextHop: parseIpv4('10.1.0.2') }),
      l,
    );
    rib.announce(
      c,
      attrs.intern({ origin: 0, asPath: asSequence(65003, 9, 9), nextHop: parseIpv4('10.1.0.3') }),
      l,
    );
    const batches = groups.process(rib.commit());
    const opts = { fourOctetAs: true, extendedMessage: false, addPath: new Set([Family.IPv4Unicast]) };
    const decodeAll = (u: ReturnType<NonNullable<ReturnType<typeof batches.get>>['forPeer']>) => {
      const packed = packUpdates(u.announce, u.withdraw === null ? [] : [u.withdraw], opts);
      const ann: [number, string][] = [];
      const wd: number[] = [];
      for (const m of packed.messages) {
        const r = decodeMessage(m, opts);
        assert.ok(r.ok && r.value.type === 'update');
        for (let i = 0; i < r.value.nlri.count; i++)
          ann.push([r.value.nlri.pathIds![i]!, formatAsPath(r.value.attributes.asPath)]);
        for (let i = 0; i < r.value.withdrawn.count; i++) wd.push(r.value.withdrawn.pathIds![i]!);
      }
      return { ann: ann.sort((x, y) => x[1].localeCompare(y[1])), wd };
    };
    const first = decodeAll(batches.get(g)!.forPeer(dst));
    assert.deepEqual(
      first.ann.map((x) => x[1]),
      ['65000 65001', '65000 65002 9', '65000 65003 9 9'],
    );
    assert.equal(new Set(first.ann.map((x) => x[0])).size, 3, 'distinct path ids');
    const limited = decodeAll(batches.get(g1)!.forPeer(small));
    assert.deepEqual(
      limited.ann.map((x) => x[1]),
      ['65000 65001'],
      'limit 1: the best path only',
    );
    for (const bt of batches.values()) bt.release();
    assert.equal(g.size, 3);
    assert.deepEqual(
      [a, b, c, dst].map((p) => g.advertisedFrom(p)),
      [1, 1, 1, 0],
      'one path from each source',
    );
    assert.deepEqual(
      [a, b, c].map((p) => g1.advertisedFrom(p)),
      [1, 0, 0],
      'the best path only',
    );

    // b withdraws: only b's path id is withdrawn; the others are not re-sent.
    const idOfB = first.ann.find((x) => x[1] === '65000 65002 9')![0];
    rib.withdraw(b, l);
    const second = groups.process(rib.commit());
    const d = decodeAll(second.get(g)!.forPeer(dst));
    assert.deepEqual(d.ann, []);
    assert.deepEqual(d.wd, [idOfB]);
    assert.equal(g.advertisedFrom(b), 0, "b's path was withdrawn");
    assert.equal(second.get(g1)!.empty, true, 'the best path did not change');
    for (const bt of second.values()) bt.release();

    // A new peer joining the group gets both remaining paths.
    const full = g.fullTable();
    assert.equal(full.announcedCount, 2);
    full.release();

    // Everything withdrawn: references balance.
    rib.withdraw(a, l);
    rib.withdraw(c, l);
    for (const bt of groups.process(rib.commit()).values()) bt.release();
    rib.commit();
    assert.equal(g.size, 0);
    assert.equal(g1.size, 0);
    assert.deepEqual(
      [a, b, c].map((p) => g.advertisedFrom(p) + g1.advertisedFrom(p)),
      [0, 0, 0],
    );
  });
});
