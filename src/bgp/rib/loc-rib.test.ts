import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { mappedBytes, setHugePageArrays } from '../huge-pages.ts';
import { AttrTable } from './attr-table.ts';
import { asSequence, parseIpv4 } from './attrs.ts';
import { CandidateSet, DEFAULT_DECISION_OPTIONS, DecisionProcess } from './best-path.ts';
import { LocRib, PathFlag, RIB_GROWTH, RibChange } from './loc-rib.ts';
import { PeerTable } from './peers.ts';
import { prefixListOf } from './prefix.ts';

function setup(afi: 1 | 2 = 1, maxPaths = 1, initialPrefixes = 16) {
  const attrs = new AttrTable();
  const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
  const decision = new DecisionProcess(attrs, peers, { ...DEFAULT_DECISION_OPTIONS, maxPathsEbgp: maxPaths });
  const rib = new LocRib({ afi, attrs, decision, initialPrefixes });
  const peer = (i: number, asn = 65000 + i) =>
    peers.add({
      kind: 'ebgp',
      name: `10.1.0.${i}`,
      address: Uint8Array.of(10, 1, 0, i),
      routerId: parseIpv4(`10.1.0.${i}`),
      remoteAs: asn,
      rrClient: false,
    });
  return { attrs, peers, decision, rib, peer };
}

describe('LocRib', () => {
  test('commit(limit) decides at most limit prefixes per call; the slices add up to one commit', () => {
    // Two RIBs fed the same changes: one committed whole, one in slices of 7.
    const whole = setup();
    const sliced = setup();
    const prefixes = Array.from({ length: 100 }, (_, i) => `10.${i}.0.0/16`);
    const fill = (s: ReturnType<typeof setup>) => {
      const a = s.peer(1);
      const b = s.peer(2);
      const ax = s.attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: parseIpv4('10.1.0.1') });
      const bx = s.attrs.intern({ origin: 0, asPath: asSequence(65002, 9), nextHop: parseIpv4('10.1.0.2') });
      s.rib.announce(a, ax, prefixListOf(1, prefixes));
      s.rib.announce(b, bx, prefixListOf(1, prefixes.slice(0, 60)));
      return { a, b };
    };
    const collect = (s: ReturnType<typeof setup>, limit: number) => {
      const seen: string[] = [];
      let calls = 0;
      while (s.rib.pending > 0) {
        const ch = s.rib.commit(limit);
        calls++;
        assert.ok(ch.count <= limit, `a commit reported ${ch.count} changes, limit ${limit}`);
        for (let i = 0; i < ch.count; i++)
          seen.push(
            `${s.rib.formatPrefix(ch.prefix[i]!)} ${ch.best[i]! < 0 ? '-' : s.rib.pathPeer(ch.best[i]!)}`,
          );
      }
      return { seen, calls };
    };
    const wp = fill(whole);
    fill(sliced);
    const w = collect(whole, Number.POSITIVE_INFINITY);
    const s = collect(sliced, 7);
    assert.equal(w.calls, 1);
    assert.equal(s.calls, Math.ceil(100 / 7));
    assert.deepEqual(s.seen, w.seen);
    // A change arriving between slices waits its turn and is decided once.
    whole.rib.removePeerPaths(wp.a);
    sliced.rib.removePeerPaths(wp.a);
    const first = sliced.rib.commit(7);
    assert.equal(first.count, 7);
    assert.equal(sliced.rib.pending, 93);
    sliced.rib.removePeerPaths(wp.b);
    whole.rib.commit();
    whole.rib.removePeerPaths(wp.b);
    collect(sliced, 7);
    collect(whole, Number.POSITIVE_INFINITY);
    assert.equal(sliced.rib.pending, 0);
    sliced.rib.commit();
    whole.rib.commit();
    assert.equal(sliced.rib.livePrefixes, 0);
    assert.equal(sliced.rib.paths, 0);
    assert.equal(whole.rib.paths, 0);
  });

  test('announce, best path, replace, withdraw; changes report what moved', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const b = peer(2);
    const long = attrs.intern({ origin: 0, asPath: asSequence(65001, 1, 2), nextHop: parseIpv4('10.1.0.1') });
    const short = attrs.intern({ origin: 0, asPath: asSequence(65002), nextHop: parseIpv4('10.1.0.2') });
    const list = prefixListOf(1, ['10.0.0.0/8', '192.168.1.0/24']);
    rib.announce(a, long, list);
    let ch = rib.commit();
    assert.equal(ch.count, 2);
    assert.equal(rib.size, 2);
    const p = rib.lookup('192.168.1.0/24');
    assert.equal(rib.pathAttr(rib.bestPath(p)), long);

    rib.announce(b, short, prefixListOf(1, ['192.168.1.0/24']));
    ch = rib.commit();
    assert.equal(ch.count, 1);
    assert.equal(ch.prefix[0], p);
    assert.equal(rib.pathPeer(ch.best[0]!), b);
    assert.equal(rib.formatPrefix(p), '192.168.1.0/24');

    // Identical re-announcement: nothing changes.
    rib.announce(b, short, prefixListOf(1, ['192.168.1.0/24']));
    assert.equal(rib.commit().count, 0);

    // Withdraw the best: falls back to peer a.
    rib.withdraw(b, prefixListOf(1, ['192.168.1.0/24']));
    ch = rib.commit();
    assert.equal(ch.count, 1);
    assert.equal(rib.pathPeer(ch.best[0]!), a);

    // Withdraw the last path: reported with best -1, prefix readable until the next commit.
    rib.withdraw(a, prefixListOf(1, ['192.168.1.0/24']));
    ch = rib.commit();
    assert.equal(ch.count, 1);
    assert.equal(ch.best[0], -1);
    assert.equal(rib.formatPrefix(ch.prefix[0]!), '192.168.1.0/24');
    rib.commit();
    assert.equal(rib.lookup('192.168.1.0/24'), -1);
    assert.equal(rib.size, 1);
    assert.equal(attrs.refCount(short), 1, 'only our own reference is left');
    assert.equal(attrs.refCount(long), 2);
  });

  test('attribute change of the best path is a change; of a losing path is not', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const b = peer(2);
    const s1 = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    const s2 = attrs.intern({ asPath: asSequence(65002, 7, 7), nextHop: 2 });
    const s3 = attrs.intern({ asPath: asSequence(65002, 7, 7, 7), nextHop: 2 });
    const s4 = attrs.intern({ asPath: asSequence(65001), nextHop: 1, med: 4 });
    const l = prefixListOf(1, ['10.0.0.0/24']);
    rib.announce(a, s1, l);
    rib.announce(b, s2, l);
    rib.commit();
    rib.announce(b, s3, l);
    const losing = rib.commit();
    assert.equal(losing.count, 1);
    assert.equal(losing.kind[0], RibChange.Paths, 'only the (ADD-PATH) path set changed, not the best');
    rib.announce(a, s4, l);
    const ch = rib.commit();
    assert.equal(ch.count, 1);
    assert.equal(ch.kind[0]! & RibChange.Best, RibChange.Best);
  });

  test('IPv6 prefixes', () => {
    const { attrs, rib, peer } = setup(2);
    const a = peer(1);
    const id = attrs.intern({ asPath: asSequence(65001), mpNextHop: new Uint8Array(16).fill(1) });
    rib.announce(a, id, prefixListOf(2, ['2001:db8::/32', '2001:db8:1::/48', '::/0']));
    assert.equal(rib.commit().count, 3);
    assert.notEqual(rib.lookup('2001:db8:1::/48'), -1);
    assert.equal(rib.lookup('2001:db8:2::/48'), -1);
    assert.equal(rib.formatPrefix(rib.lookup('2001:db8:1::/48')), '2001:db8:1::/48');
    assert.throws(() => rib.announce(a, id, prefixListOf(1, ['10.0.0.0/8'])), /AFI 1 given to the AFI 2/);
  });

  test('multipath flags and multipath-only changes', () => {
    const { attrs, rib, peer } = setup(1, 4);
    const a = peer(1, 65001);
    const b = peer(2, 65001);
    const l = prefixListOf(1, ['10.0.0.0/24']);
    rib.announce(a, attrs.intern({ asPath: asSequence(65001, 9), nextHop: parseIpv4('10.1.0.1') }), l);
    rib.commit();
    rib.announce(b, attrs.intern({ asPath: asSequence(65001, 8), nextHop: parseIpv4('10.1.0.2') }), l);
    const ch = rib.commit();
    assert.equal(ch.count, 1);
    assert.equal(
      ch.kind[0],
      RibChange.Multipath | RibChange.Paths,
      'best unchanged (router-id), multipath grew',
    );
    const p = rib.lookup('10.0.0.0/24');
    assert.equal(rib.multipathOf(p).length, 2);
    assert.equal(rib.pathFlags(rib.multipathOf(p)[1]!) & PathFlag.Multipath, PathFlag.Multipath);
  });

  test('explain() lists every path with the deciding step', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const b = peer(2);
    const l = prefixListOf(1, ['10.0.0.0/24']);
    rib.announce(a, attrs.intern({ asPath: asSequence(65001, 5), nextHop: 1 }), l);
    rib.announce(b, attrs.intern({ asPath: asSequence(65002), nextHop: 2 }), l);
    rib.commit();
    const { paths, explanation } = rib.explain(rib.lookup('10.0.0.0/24'));
    assert.equal(paths.length, 2);
    const loser = explanation.paths.find((v) => !v.best)!;
    assert.equal(loser.lostAt, 'as-path-length');
    assert.equal(rib.pathPeer(paths[explanation.best]!), b);
  });

  test('stale marking and sweeping of one peer', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const b = peer(2);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    const idb = attrs.intern({ asPath: asSequence(65002, 1), nextHop: 2 });
    rib.announce(a, id, prefixListOf(1, ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']));
    rib.announce(b, idb, prefixListOf(1, ['10.0.0.0/24']));
    rib.commit();
    assert.equal(rib.setPeerPathFlags(a, PathFlag.Stale, true), 3);
    // Refresh one route: it loses the Stale flag.
    rib.announce(a, id, prefixListOf(1, ['10.0.1.0/24']));
    assert.equal(rib.commit().count, 0);
    assert.equal(rib.removePeerPaths(a, PathFlag.Stale), 2);
    const ch = rib.commit();
    assert.equal(ch.count, 2); // 10.0.0.0/24 falls back to b, 10.0.2.0/24 goes
    assert.equal(rib.paths, 2);
  });

  test('a queued session loss runs a slice per commit(limit); the peer’s next change finishes it first', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const b = peer(2);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    const idb = attrs.intern({ asPath: asSequence(65002, 7), nextHop: 2 });
    const all = Array.from({ length: 100 }, (_, i) => `10.9.${i}.0/24`);
    rib.announce(a, id, prefixListOf(1, all));
    rib.announce(b, idb, prefixListOf(1, all.slice(0, 10)));
    rib.commit();
    assert.equal(rib.queuePeerRemoval(a, 'all'), 100);
    assert.equal(rib.pathsOf(a), 100, 'nothing removed before a commit');
    assert.equal(rib.pending, 100);
    // Each commit visits at most `limit` prefix records and decides what that slice changed.
    const first = rib.commit(10);
    assert.equal(rib.pathsOf(a), 90);
    assert.equal(first.count, 10);
    assert.equal(rib.pending, 90);
    // The first ten prefixes fell back to b; the rest still have a's path as best.
    assert.equal(rib.pathPeer(rib.bestPath(rib.lookup('10.9.0.0/24'))), b);
    assert.equal(rib.pathPeer(rib.bestPath(rib.lookup('10.9.50.0/24'))), a);
    // A second removal of the same peer joins the queued pass (it finds nothing more to remove).
    assert.equal(rib.queuePeerRemoval(a, 'all'), 0);
    rib.commit(10);
    assert.equal(rib.pathsOf(a), 80);
    // The peer (a new session on the same index) announces: the pass finishes first, so the new
    // route is not taken by it.
    rib.announce(a, id, prefixListOf(1, ['10.9.99.0/24']));
    assert.equal(rib.pathsOf(a), 1);
    // The 80 prefixes the pass reached at once wait for the decision (10.9.99.0/24 among them).
    assert.equal(rib.pending, 80);
    rib.commit();
    assert.equal(rib.pending, 0);
    assert.equal(rib.livePrefixes, 11);
    assert.equal(rib.pathPeer(rib.bestPath(rib.lookup('10.9.99.0/24'))), a);
  });

  test('queued stale marking and sweeping: exact counts, and a refresh during the pass is kept', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    const all = Array.from({ length: 50 }, (_, i) => `10.8.${i}.0/24`);
    rib.announce(a, id, prefixListOf(1, all));
    rib.commit();
    assert.equal(rib.queuePeerFlags(a, PathFlag.Stale, true), 50);
    rib.commit(20);
    assert.equal(rib.staleOf(a), 20, 'twenty visited');
    // A re-announcement (graceful restart: the peer is back) finishes the marking first, then
    // refreshes its own route.
    rib.announce(a, id, prefixListOf(1, [all[40]!]));
    assert.equal(rib.staleOf(a), 49);
    assert.equal(rib.queuePeerRemoval(a, 'stale'), 49);
    rib.commit(5);
    assert.equal(rib.pathsOf(a), 45);
    rib.commit();
    assert.equal(rib.pathsOf(a), 1);
    assert.equal(rib.staleOf(a), 0);
    assert.equal(rib.pathFlags(rib.bestPath(rib.lookup(all[40]!))) & PathFlag.Stale, 0);
    // A sweep with nothing stale is no pass at all.
    assert.equal(rib.queuePeerRemoval(a, 'stale'), 0);
    assert.equal(rib.pending, 0);
  });

  test('queued passes, cut into slices by commit(limit), end where the same operations run at once end (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom(
              'announce',
              'announce',
              'announce',
              'withdraw',
              'mark',
              'sweep',
              'flush',
              'slice',
              'commit',
            ),
            peer: fc.integer({ min: 1, max: 3 }),
            attr: fc.integer({ min: 0, max: 2 }),
            prefix: fc.integer({ min: 0, max: 30 }),
            limit: fc.integer({ min: 1, max: 8 }),
          }),
          { maxLength: 250 },
        ),
        (ops) => {
          const { attrs, decision, rib, peer } = setup();
          for (let i = 1; i <= 3; i++) peer(i, 65001);
          const sets = [0, 1, 2].map((k) =>
            attrs.intern({ asPath: asSequence(65001), med: k, nextHop: k + 1 }),
          );
          // prefix -> peer -> [attr, stale]
          const model = new Map<number, Map<number, [number, boolean]>>();
          const text = (n: number) => `10.${n}.0.0/16`;
          const count = (pe: number, staleOnly: boolean) => {
            let n = 0;
            for (const m of model.values()) {
              const e = m.get(pe);
              if (e !== undefined && (!staleOnly || e[1])) n++;
            }
            return n;
          };
          const check = () => {
            rib.commit();
            assert.equal(rib.pending, 0);
            for (const pe of [1, 2, 3]) {
              assert.equal(rib.pathsOf(pe), count(pe, false), `paths of ${pe}`);
              assert.equal(rib.staleOf(pe), count(pe, true), `stale of ${pe}`);
            }
            for (const [n, paths] of model) {
              const p = rib.lookup(text(n));
              let expected = 'none';
              if (paths.size > 0) {
                const c = new CandidateSet();
                for (const [pe, [at]] of paths) c.push(at, pe, 0, pe);
                const b = decision.select(c);
                expected = `${c.peer[b]}/${c.attr[b]}`;
              }
              const q = p < 0 ? -1 : rib.bestPath(p);
              assert.equal(q < 0 ? 'none' : `${rib.pathPeer(q)}/${rib.pathAttr(q)}`, expected, text(n));
              for (let r = p < 0 ? -1 : rib.firstPath(p); r >= 0; r = rib.nextPath(r)) {
                const e = paths.get(rib.pathPeer(r));
                assert.ok(e !== undefined);
                assert.equal((rib.pathFlags(r) & PathFlag.Stale) !== 0, e[1], `stale flag ${text(n)}`);
              }
            }
          };
          for (const o of ops) {
            const l = prefixListOf(1, [text(o.prefix)]);
            if (o.op === 'announce') {
              rib.announce(o.peer, sets[o.attr]!, l);
              if (!model.has(o.prefix)) model.set(o.prefix, new Map());
              model.get(o.prefix)!.set(o.peer, [sets[o.attr]!, false]);
            } else if (o.op === 'withdraw') {
              rib.withdraw(o.peer, l);
              model.get(o.prefix)?.delete(o.peer);
            } else if (o.op === 'mark') {
              assert.equal(rib.queuePeerFlags(o.peer, PathFlag.Stale, true), count(o.peer, false));
              for (const m of model.values()) {
                const e = m.get(o.peer);
                if (e !== undefined) e[1] = true;
              }
            } else if (o.op === 'sweep' || o.op === 'flush') {
              const stale = o.op === 'sweep';
              assert.equal(rib.queuePeerRemoval(o.peer, stale ? 'stale' : 'all'), count(o.peer, stale));
              for (const m of model.values()) {
                const e = m.get(o.peer);
                if (e !== undefined && (!stale || e[1])) m.delete(o.peer);
              }
            } else if (o.op === 'slice') rib.commit(o.limit);
            else check();
          }
          check();
        },
      ),
      { numRuns: 200 },
    );
  });

  test('matches a straightforward model under random operations (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom('announce', 'announce', 'withdraw', 'commit', 'flush'),
            peer: fc.integer({ min: 1, max: 3 }),
            attr: fc.integer({ min: 0, max: 4 }),
            prefix: fc.integer({ min: 0, max: 40 }),
          }),
          { maxLength: 300 },
        ),
        (ops) => {
          const { attrs, peers, decision, rib, peer } = setup();
          for (let i = 1; i <= 3; i++) peer(i, 65001);
          const sets = [0, 1, 2, 3, 4].map((k) =>
            attrs.intern({
              asPath: asSequence(65001, ...new Array<number>(k % 3).fill(9)),
              med: k,
              nextHop: k + 1,
            }),
          );
          const model = new Map<number, Map<number, number>>(); // prefix -> peer -> attr
          const bestBefore = new Map<number, string>();
          const prefixText = (n: number) => `10.${n >> 3}.${(n & 7) * 32}.0/${19 + (n % 6)}`;
          const check = () => {
            const ch = rib.commit();
            const changed = new Set<string>();
            for (let k = 0; k < ch.count; k++) changed.add(rib.formatPrefix(ch.prefix[k]!));
            for (const [n, paths] of model) {
              const text = prefixText(n);
              const p = rib.lookup(text);
              let expected = 'none';
              if (paths.size > 0) {
                const c = new CandidateSet();
                for (const [pe, at] of paths) c.push(at, pe, 0, pe);
                const b = decision.select(c);
                expected = `${c.peer[b]}/${c.attr[b]}`;
              }
              const got =
                p < 0 || rib.bestPath(p) < 0
                  ? 'none'
                  : `${rib.pathPeer(rib.bestPath(p))}/${rib.pathAttr(rib.bestPath(p))}`;
              assert.equal(got, expected, text);
              if ((bestBefore.get(n) ?? 'none') !== expected)
                assert.ok(changed.has(text), `${text} change reported`);
              bestBefore.set(n, expected);
            }
          };
          for (const o of ops) {
            const l = prefixListOf(1, [prefixText(o.prefix)]);
            if (o.op === 'announce') {
              rib.announce(o.peer, sets[o.attr]!, l);
              if (!model.has(o.prefix)) model.set(o.prefix, new Map());
              model.get(o.prefix)!.set(o.peer, sets[o.attr]!);
            } else if (o.op === 'withdraw') {
              rib.withdraw(o.peer, l);
              model.get(o.prefix)?.delete(o.peer);
            } else if (o.op === 'flush') {
              // Session loss: every path of the peer goes, wherever it sits in the table.
              let had = 0;
              for (const m of model.values()) if (m.delete(o.peer)) had++;
              assert.equal(rib.removePeerPaths(o.peer), had);
              assert.equal(rib.pathsOf(o.peer), 0);
            } else check();
          }
          check();
          let paths = 0;
          for (const m of model.values()) paths += m.size;
          assert.equal(rib.paths, paths);
          // every reference held by the RIB is accounted for (plus ours)
          let refs = 0;
          for (const id of sets) refs += attrs.refCount(id) - 1;
          assert.equal(refs, paths);
          assert.ok(peers.capacity >= 4);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('hash table survives growth and deletions of many prefixes', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    const all: string[] = [];
    for (let i = 0; i < 5000; i++)
      all.push(`${10 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16}.0/${20 + (i % 5)}`);
    rib.announce(a, id, prefixListOf(1, all));
    assert.equal(rib.commit().count, 5000);
    const half = all.filter((_, i) => i % 2 === 0);
    rib.withdraw(a, prefixListOf(1, half));
    assert.equal(rib.commit().count, 2500);
    rib.commit();
    for (let i = 0; i < all.length; i++) assert.equal(rib.lookup(all[i]!) >= 0, i % 2 === 1, all[i]);
    rib.announce(a, id, prefixListOf(1, half));
    assert.equal(rib.commit().count, 2500);
    for (const p of all) assert.ok(rib.lookup(p) >= 0);
  });

  test('a big table (rehashed in slot order from 32,768 prefixes) finds every prefix, with tombstones', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    // 100,000 distinct /24s and /32s spread over the address space: growth passes 32,768 twice.
    const all: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const w = Math.imul(i, 0x9e3779b1) >>> 0;
      all.push(
        i % 4 === 0
          ? `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${i & 255}/32`
          : `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.0/24`,
      );
    }
    const unique = [...new Set(all)];
    rib.announce(a, id, prefixListOf(1, unique));
    assert.equal(rib.commit().count, unique.length);
    const gone = unique.filter((_, i) => i % 3 === 0);
    rib.withdraw(a, prefixListOf(1, gone));
    rib.commit();
    rib.commit();
    // Re-growing over tombstones: a rehash that lost or duplicated an entry shows up here.
    const more = unique.map((p) => p.replace(/^(\d+)\./, (_, x: string) => `${(Number(x) + 128) & 255}.`));
    const known = new Set(unique);
    const fresh = [...new Set(more.filter((p) => !known.has(p)))].slice(0, 60_000);
    rib.announce(a, id, prefixListOf(1, fresh));
    rib.commit();
    const present = new Set([...unique.filter((_, i) => i % 3 !== 0), ...fresh]);
    for (const p of unique) assert.equal(rib.lookup(p) >= 0, present.has(p), p);
    for (const p of fresh) assert.ok(rib.lookup(p) >= 0, p);
    assert.equal(rib.size, present.size);
  });

  test('an emptied table returns to its initial capacity, not below it', () => {
    const { attrs, rib, peer } = setup(1, 1, 6000);
    const a = peer(1);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    for (const size of [5000, 10000]) {
      const all = Array.from({ length: size }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
      rib.announce(a, id, prefixListOf(1, all));
      rib.commit();
      // 10,000 prefixes outgrow 6,000 once: to 6,000 × RIB_GROWTH.
      assert.equal(rib.prefixCapacity, size > 6000 ? 6000 * RIB_GROWTH : 6000, `${size} prefixes`);
      rib.withdraw(a, prefixListOf(1, all));
      rib.commit();
      rib.commit();
      assert.equal(rib.size, 0);
      assert.equal(rib.prefixCapacity, 6000, `after withdrawing ${size}`);
      assert.equal(rib.pathCapacity, 6000);
    }
  });

  test('lists applied to a table large enough for touchSlots() end as in a small one', () => {
    // 131,072 prefixes of room: 262,144 slots, past TOUCH_FROM_SLOTS; 16: far below it.
    const big = setup(1, 1, 131_072);
    const small = setup(1, 1, 16);
    const all = Array.from({ length: 3_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    for (const { attrs, rib, peer } of [big, small]) {
      const a = peer(1);
      const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
      rib.announce(a, id, prefixListOf(1, all));
      rib.commit();
      rib.withdraw(
        a,
        prefixListOf(
          1,
          all.filter((_, i) => i % 3 === 0),
        ),
      );
      rib.commit();
      // Again, over the tombstones the withdrawals left.
      rib.announce(
        a,
        id,
        prefixListOf(
          1,
          all.filter((_, i) => i % 6 === 0),
        ),
      );
      rib.commit();
    }
    assert.equal(big.rib.size, small.rib.size);
    for (const p of all) assert.equal(big.rib.lookup(p) >= 0, small.rib.lookup(p) >= 0, p);
    assert.equal(big.rib.size, 2_000 + 500);
  });

  test('settle() frees what the last commit removed without another commit, and only then', () => {
    const { attrs, rib, peer } = setup(1, 1, 6000);
    const a = peer(1);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    const all = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    rib.announce(a, id, prefixListOf(1, all));
    // Undecided changes: nothing may be freed yet.
    assert.equal(rib.settle(), false);
    rib.commit();
    assert.equal(rib.prefixCapacity, 6000 * RIB_GROWTH);
    rib.withdraw(a, prefixListOf(1, all.slice(0, 9_000)));
    rib.commit();
    // Not empty: settled, but the arrays stay.
    assert.equal(rib.settle(), false);
    assert.equal(rib.prefixCapacity, 6000 * RIB_GROWTH);
    rib.withdraw(a, prefixListOf(1, all.slice(9_000)));
    rib.commit();
    // The commit that emptied the table keeps its records until the next commit or settle().
    assert.equal(rib.prefixCapacity, 6000 * RIB_GROWTH);
    assert.equal(rib.settle(), true);
    assert.equal(rib.prefixCapacity, 6000);
    assert.equal(rib.pathCapacity, 6000);
    assert.equal(rib.settle(), false);
    // And the table works after it.
    rib.announce(a, id, prefixListOf(1, all.slice(0, 10)));
    rib.commit();
    assert.equal(rib.size, 10);
    assert.ok(rib.lookup('10.0.3.0/24') >= 0);
  });

  test('a fully withdrawn table gives its memory back and works again; per-peer counts', () => {
    const { attrs, rib, peer } = setup();
    const a = peer(1);
    const b = peer(2);
    const id = attrs.intern({ asPath: asSequence(65001), nextHop: 1 });
    const all = Array.from({ length: 10000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    rib.announce(a, id, prefixListOf(1, all));
    rib.announce(b, id, prefixListOf(1, all.slice(0, 10)));
    rib.commit();
    assert.equal(rib.pathsOf(a), 10000);
    assert.equal(rib.pathsOf(b), 10);
    const before = rib.storageBytes();
    rib.withdraw(a, prefixListOf(1, all));
    rib.withdraw(b, prefixListOf(1, all.slice(0, 10)));
    assert.equal(rib.commit().count, 10000);
    rib.commit();
    assert.equal(rib.size, 0);
    assert.equal(rib.pathsOf(a), 0);
    assert.ok(rib.storageBytes() < before / 10, `${rib.storageBytes()} < ${before / 10}`);
    rib.announce(a, id, prefixListOf(1, all.slice(0, 3000)));
    assert.equal(rib.commit().count, 3000);
    for (const p of all.slice(0, 3000)) assert.ok(rib.lookup(p) >= 0, p);
    assert.equal(rib.lookup(all[3000]!), -1);
  });
  test('a table grown onto huge-page arrays (and one on ordinary arrays) finds, decides and forgets the same', () => {
    // 300k IPv4 prefixes: the records, the path pool and the hash slots all grow past 2 MiB,
    // where they move to mappings of their own (huge-pages.ts).
    const n = 300_000;
    const words = new Uint32Array(n);
    for (let i = 0; i < n; i++) words[i] = (0x0a000000 + i * 256) >>> 0;
    const run = (huge: boolean) => {
      setHugePageArrays(huge);
      try {
        const s = setup();
        const a = s.peer(1);
        const ax = s.attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: parseIpv4('10.1.0.1') });
        const mappedBefore = mappedBytes;
        for (let i = 0; i < n; i++) s.rib.upsert(a, 0, ax, words, i, 24);
        s.rib.commit();
        const mapped = mappedBytes - mappedBefore;
        let found = 0;
        for (let i = 0; i < n; i++) {
          const p = s.rib.find(words, i, 24);
          if (p >= 0 && s.rib.pathPeer(s.rib.bestPath(p)) === a) found++;
        }
        // Withdraw every other prefix: the rest must still be found, the withdrawn ones not.
        for (let i = 0; i < n; i += 2) s.rib.remove(a, 0, words, i, 24);
        s.rib.commit();
        let kept = 0;
        let gone = 0;
        for (let i = 0; i < n; i++) {
          const p = s.rib.find(words, i, 24);
          if (i % 2 === 1 && p >= 0 && s.rib.bestPath(p) >= 0) kept++;
          if (i % 2 === 0 && (p < 0 || s.rib.bestPath(p) < 0)) gone++;
        }
        return { found, kept, gone, mapped };
      } finally {
        setHugePageArrays(true);
      }
    };
    const huge = run(true);
    const plain = run(false);
    assert.ok(huge.mapped > 8 * 1024 * 1024, `mapped ${huge.mapped} B: the big arrays were mappings`);
    assert.equal(plain.mapped, 0);
    for (const r of [huge, plain]) {
      assert.equal(r.found, n);
      assert.equal(r.kept, n / 2);
      assert.equal(r.gone, n / 2);
    }
  });
});
