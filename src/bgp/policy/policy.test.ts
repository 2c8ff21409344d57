import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AttrTable } from '../rib/attr-table.ts';
import {
  asSequence,
  formatAsPath,
  parseIpv4,
  type StoredAttributes,
  WellKnownCommunity,
} from '../rib/attrs.ts';
import { DecisionProcess } from '../rib/best-path.ts';
import { LocRib } from '../rib/loc-rib.ts';
import { type PeerInfo, PeerTable } from '../rib/peers.ts';
import { parsePrefix, prefixListOf } from '../rib/prefix.ts';
import { parseCommunity, parseExtCommunity, parseLargeCommunity } from './communities.ts';
import { evaluateChain, PolicyCompiler, PolicyConfigError, type RouteInput } from './compile.ts';
import type { PolicyDefinitionsConfig } from './config.ts';
import { ImportFilter, REJECT } from './filters.ts';
import { MaxPrefixGuard } from './max-prefix.ts';

const EBGP_PEER: PeerInfo = {
  kind: 'ebgp',
  name: 'tor1',
  address: Uint8Array.of(192, 0, 2, 1),
  routerId: parseIpv4('192.0.2.1'),
  remoteAs: 65100,
  rrClient: false,
};

function route(prefix: string, attrs: StoredAttributes, from: PeerInfo = EBGP_PEER): RouteInput {
  const p = parsePrefix(prefix);
  return { afi: p.afi, words: p.words, offset: 0, length: p.length, attrs, from, localAs: 65000 };
}

function run(defs: PolicyDefinitionsConfig, policy: string, r: RouteInput) {
  const c = new PolicyCompiler(defs);
  return evaluateChain(c.chain([policy], 'test'), r, false);
}

describe('community parsing', () => {
  test('standard, large, extended and well-known', () => {
    assert.equal(parseCommunity('65000:100'), 65000 * 65536 + 100);
    assert.equal(parseCommunity('no-export'), WellKnownCommunity.NoExport);
    assert.deepEqual(parseLargeCommunity('4200000000:1:2'), [4200000000, 1, 2]);
    assert.deepEqual(parseExtCommunity('rt:65000:100'), [0x0002fde8, 100]);
    assert.deepEqual(parseExtCommunity('rt:4200000000:7'), [
      0x02020000 + Math.floor(4200000000 / 65536),
      (4200000000 % 65536) * 65536 + 7,
    ]);
    assert.deepEqual(parseExtCommunity('soo:10.0.0.1:5'), [0x01030a00, 0x00010005]);
    assert.throws(() => parseCommunity('70000:1'), /larger than 65535/);
    assert.throws(() => parseExtCommunity('xx:1:2'), /unknown kind/);
  });
});

describe('matches', () => {
  const defs: PolicyDefinitionsConfig = {
    prefixLists: {
      pods: [{ prefix: '10.244.0.0/16', ge: 24, le: 26 }, '0.0.0.0/0', { prefix: '2001:db8::/32', le: 64 }],
    },
    policies: {
      pods: { terms: [{ match: { prefixList: 'pods' }, action: 'accept' }] },
      inline: { terms: [{ match: { prefixList: [{ prefix: '10.0.0.0/8', ge: 16 }] } }] },
      tagged: { terms: [{ match: { community: ['65000:*', 65001 * 65536 + 1] } }] },
      big: { terms: [{ match: { largeCommunity: ['65000:1:*', [65010, 2, 3]] } }] },
      rt: { terms: [{ match: { extCommunity: ['rt:65000:100'] } }] },
      transit: { terms: [{ match: { asPath: '_65100_' } }, { match: { asPath: '^65200$' } }] },
      contains: { terms: [{ match: { asPathContains: [65300] } }] },
      origin: { terms: [{ match: { originAs: [65300, 65000] } }] },
      nh: { terms: [{ match: { nextHop: ['192.0.2.0/24', '2001:db8::1'] } }] },
      nbr: { terms: [{ match: { neighbor: ['192.0.2.0/30', 'tor9'] } }] },
      v6: { terms: [{ match: { family: 'ipv6-unicast' } }] },
      both: {
        terms: [{ match: { prefixList: [{ prefix: '10.0.0.0/8', le: 24 }], community: ['65000:1'] } }],
      },
    },
  };
  const base: StoredAttributes = {
    origin: 0,
    asPath: asSequence(65100, 65300),
    nextHop: parseIpv4('192.0.2.1'),
  };

  test('prefix lists: ge/le ranges, exact entries, IPv6, inline entries', () => {
    const ok = (p: string, policy = 'pods') => run(defs, policy, route(p, base)).accept;
    assert.equal(ok('10.244.1.0/24'), true);
    assert.equal(ok('10.244.1.64/26'), true);
    assert.equal(ok('10.244.0.0/16'), false, 'shorter than ge');
    assert.equal(ok('10.244.1.128/27'), false, 'longer than le');
    assert.equal(ok('0.0.0.0/0'), true, 'exact default route');
    assert.equal(ok('10.0.0.0/8'), false, 'an exact entry matches only its own length');
    assert.equal(ok('2001:db8:1::/48'), true);
    assert.equal(ok('2001:db8:1::/80'), false);
    assert.equal(ok('10.1.0.0/16', 'inline'), true);
    assert.equal(ok('10.1.2.128/25', 'inline'), true, 'ge alone: up to /32');
    assert.equal(ok('10.0.0.0/8', 'inline'), false);
  });

  test('communities (text with wildcards, or numbers), large and extended communities', () => {
    const c = (...v: string[]) => ({ ...base, communities: Uint32Array.from(v.map(parseCommunity)) });
    assert.equal(run(defs, 'tagged', route('1.0.0.0/8', c('65000:7'))).accept, true);
    assert.equal(run(defs, 'tagged', route('1.0.0.0/8', c('65001:1'))).accept, true);
    assert.equal(run(defs, 'tagged', route('1.0.0.0/8', c('65001:7'))).accept, false);
    assert.equal(
      run(defs, 'big', route('1.0.0.0/8', { ...base, largeCommunities: Uint32Array.of(65000, 1, 99) }))
        .accept,
      true,
    );
    assert.equal(
      run(defs, 'big', route('1.0.0.0/8', { ...base, largeCommunities: Uint32Array.of(65010, 2, 3) })).accept,
      true,
    );
    assert.equal(
      run(defs, 'big', route('1.0.0.0/8', { ...base, largeCommunities: Uint32Array.of(65000, 2, 99) }))
        .accept,
      false,
    );
    assert.equal(
      run(defs, 'rt', route('1.0.0.0/8', { ...base, extendedCommunities: Uint32Array.of(0x0002fde8, 100) }))
        .accept,
      true,
    );
    assert.equal(run(defs, 'rt', route('1.0.0.0/8', base)).accept, false);
  });

  test('AS-path regular expressions with _ boundaries, AS-path list, origin AS', () => {
    assert.equal(run(defs, 'transit', route('1.0.0.0/8', base)).accept, true);
    assert.equal(
      run(defs, 'transit', route('1.0.0.0/8', { ...base, asPath: asSequence(651000) })).accept,
      false,
      '_ is a boundary',
    );
    assert.equal(
      run(defs, 'transit', route('1.0.0.0/8', { ...base, asPath: asSequence(65200) })).accept,
      true,
    );
    assert.equal(run(defs, 'contains', route('1.0.0.0/8', base)).accept, true);
    assert.equal(
      run(defs, 'contains', route('1.0.0.0/8', { ...base, asPath: asSequence(65100) })).accept,
      false,
    );
    assert.equal(run(defs, 'origin', route('1.0.0.0/8', base)).accept, true);
    assert.equal(
      run(defs, 'origin', route('1.0.0.0/8', { ...base, asPath: asSequence(65300, 1) })).accept,
      false,
    );
    assert.equal(
      run(defs, 'origin', route('1.0.0.0/8', { ...base, asPath: asSequence() })).accept,
      true,
      'own route: our AS',
    );
  });

  test('next hop, neighbour (address, prefix or name), family, and AND of conditions', () => {
    assert.equal(run(defs, 'nh', route('1.0.0.0/8', base)).accept, true);
    assert.equal(
      run(defs, 'nh', route('1.0.0.0/8', { ...base, nextHop: parseIpv4('198.51.100.1') })).accept,
      false,
    );
    const v6nh = Uint8Array.of(0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    assert.equal(run(defs, 'nh', route('2001:db8::/32', { origin: 0, mpNextHop: v6nh })).accept, true);
    assert.equal(run(defs, 'nbr', route('1.0.0.0/8', base)).accept, true, '192.0.2.1 is in 192.0.2.0/30');
    const other = { ...EBGP_PEER, name: 'tor2', address: Uint8Array.of(192, 0, 2, 9) };
    assert.equal(run(defs, 'nbr', route('1.0.0.0/8', base, other)).accept, false);
    assert.equal(run(defs, 'nbr', route('1.0.0.0/8', base, { ...other, name: 'tor9' })).accept, true);
    assert.equal(run(defs, 'v6', route('2001:db8::/32', base)).accept, true);
    assert.equal(run(defs, 'v6', route('1.0.0.0/8', base)).accept, false);
    const c1 = { ...base, communities: Uint32Array.of(parseCommunity('65000:1')) };
    assert.equal(run(defs, 'both', route('10.1.0.0/16', c1)).accept, true);
    assert.equal(run(defs, 'both', route('10.1.0.0/16', base)).accept, false);
    assert.equal(run(defs, 'both', route('11.1.0.0/16', c1)).accept, false);
  });
});

describe('actions and chains', () => {
  const base: StoredAttributes = {
    origin: 0,
    asPath: asSequence(65100),
    nextHop: parseIpv4('192.0.2.1'),
    communities: Uint32Array.of(parseCommunity('65000:1'), parseCommunity('65001:2')),
    largeCommunities: Uint32Array.of(65000, 1, 1),
  };

  test('set local-pref, MED, communities, large communities, prepend, next hop', () => {
    const defs: PolicyDefinitionsConfig = {
      policies: {
        p: {
          terms: [
            {
              set: {
                localPref: 200,
                med: 50,
                communities: { remove: ['65000:*'], add: ['65010:10', 'no-export', '65001:2'] },
                largeCommunities: { add: ['65000:2:2', [65000, 1, 1]] },
                asPathPrepend: { count: 2 },
                nextHop: 'self',
              },
              action: 'continue',
            },
            { match: { community: ['65010:10'] }, set: { asPathPrepend: { asn: 65999 } } },
          ],
        },
      },
    };
    const out = run(defs, 'p', route('1.0.0.0/8', base));
    assert.equal(out.accept, true);
    assert.equal(out.attrs.localPref, 200);
    assert.equal(out.attrs.med, 50);
    assert.deepEqual(Array.from(out.attrs.communities!), [
      parseCommunity('65001:2'),
      parseCommunity('65010:10'),
      WellKnownCommunity.NoExport,
    ]);
    assert.deepEqual(Array.from(out.attrs.largeCommunities!), [65000, 1, 1, 65000, 2, 2]);
    assert.equal(formatAsPath(out.attrs.asPath), '65999 65000 65000 65100');
    assert.equal(out.nextHop, 'self');
    assert.notEqual(out.attrs, base);
    assert.equal(base.localPref, undefined, 'input untouched');
  });

  test('set (replace) and remove; reject; defaults; unchanged input object when nothing changes', () => {
    const defs: PolicyDefinitionsConfig = {
      policies: {
        replace: { terms: [{ set: { communities: { set: ['1:1'] }, largeCommunities: { set: [] } } }] },
        drop: { terms: [{ match: { community: ['65001:2'] }, action: 'reject' }, { action: 'accept' }] },
        noop: { terms: [{ set: {} }] },
        setSame: { terms: [{ set: { communities: { add: ['65000:1'] } } }] },
        fallthrough: { terms: [{ match: { community: ['9:9'] } }] },
        openDefault: { terms: [{ match: { community: ['9:9'] }, action: 'reject' }], default: 'accept' },
        setIpv4: { terms: [{ set: { nextHop: '198.51.100.7' } }] },
      },
    };
    const r = run(defs, 'replace', route('1.0.0.0/8', base));
    assert.deepEqual(Array.from(r.attrs.communities!), [parseCommunity('1:1')]);
    assert.equal(r.attrs.largeCommunities, undefined);
    assert.equal(run(defs, 'drop', route('1.0.0.0/8', base)).accept, false);
    assert.equal(run(defs, 'noop', route('1.0.0.0/8', base)).attrs, base);
    assert.equal(
      run(defs, 'setSame', route('1.0.0.0/8', base)).attrs,
      base,
      'adding a present community changes nothing',
    );
    const f = run(defs, 'fallthrough', route('1.0.0.0/8', base));
    assert.equal(f.accept, false, 'no term decides: the default is reject');
    assert.equal(f.decidedBy, 'policy fallthrough default');
    assert.equal(run(defs, 'openDefault', route('1.0.0.0/8', base)).accept, true);
    const nh = run(defs, 'setIpv4', route('1.0.0.0/8', base));
    assert.equal(nh.attrs.nextHop, parseIpv4('198.51.100.7'));
    assert.equal(nh.nextHop, 'unchanged', 'an explicit next hop is not overwritten by next-hop-self');
  });

  test('a chain applies its policies in order, each to the previous result; a reject ends it', () => {
    const c = new PolicyCompiler({
      policies: {
        setLp: { terms: [{ set: { localPref: 300 } }] },
        needLp300: { terms: [{ match: { community: ['65000:1'] }, set: { med: 1 } }], default: 'reject' },
        rejectAll: { terms: [], default: 'reject' },
      },
    });
    const ok = evaluateChain(c.chain(['setLp', 'needLp300'], 't'), route('1.0.0.0/8', base), false);
    assert.equal(ok.accept, true);
    assert.equal(ok.attrs.localPref, 300);
    assert.equal(ok.attrs.med, 1);
    assert.equal(
      evaluateChain(c.chain(['rejectAll', 'setLp'], 't'), route('1.0.0.0/8', base), true).accept,
      false,
    );
    assert.equal(
      evaluateChain([], route('1.0.0.0/8', base), true).accept,
      true,
      'empty chain: the neighbour default',
    );
    assert.equal(evaluateChain([], route('1.0.0.0/8', base), false).accept, false);
  });

  test('configuration errors name what is wrong', () => {
    assert.throws(
      () => new PolicyCompiler({ policies: { p: { terms: [{ match: { prefixList: 'nope' } }] } } }),
      /policy 'p' term 1: unknown prefix list 'nope'/,
    );
    assert.throws(
      () => new PolicyCompiler({ prefixLists: { l: ['10.0.0.1/8'] } }),
      /prefix list 'l' entry 1: .*host bits/,
    );
    assert.throws(
      () => new PolicyCompiler({ prefixLists: { l: [{ prefix: '10.0.0.0/8', ge: 4 }] } }),
      /needs 8 <= ge <= le <= 32/,
    );
    assert.throws(
      () => new PolicyCompiler({ policies: { p: { terms: [{ match: { asPath: '((' } }] } } }),
      /bad AS-path regular expression/,
    );
    assert.throws(
      () => new PolicyCompiler({ policies: { p: { terms: [{ set: { asPathPrepend: { count: 0 } } }] } } }),
      PolicyConfigError,
    );
    assert.throws(
      () => new PolicyCompiler({ policies: { p: { terms: [{ match: { community: ['x:y'] } }] } } }),
      /policy 'p' term 1: community 'x:y'/,
    );
    assert.throws(
      () => new PolicyCompiler({}).chain(['missing'], 'neighbor x'),
      /neighbor x: unknown policy 'missing'/,
    );
  });
});

describe('ImportFilter', () => {
  function world() {
    const attrs = new AttrTable();
    const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
    const rib = new LocRib({ afi: 1, attrs, decision: new DecisionProcess(attrs, peers) });
    const peer = peers.add(EBGP_PEER);
    const loop = {
      localAs: 65000,
      allowasIn: 0,
      routerId: parseIpv4('10.0.0.1'),
      clusterIds: [parseIpv4('10.0.0.1')],
    };
    return { attrs, peers, rib, peer, loop };
  }

  test('RFC 8212: eBGP without import policy accepts nothing, and says so', () => {
    const { attrs, rib, peer, loop } = world();
    const f = new ImportFilter({
      attrs,
      compiler: new PolicyCompiler({}),
      afi: 1,
      neighbor: EBGP_PEER,
      loop,
    });
    assert.equal(f.rfc8212Blocked, true);
    const id = attrs.intern({ origin: 0, asPath: asSequence(65100), nextHop: 1 });
    const r = f.importUpdate(rib, peer, id, prefixListOf(1, ['10.0.0.0/24']));
    assert.equal(r.accepted, 0);
    assert.equal(rib.commit().count, 0);
    const open = new ImportFilter({
      attrs,
      compiler: new PolicyCompiler({}),
      afi: 1,
      neighbor: EBGP_PEER,
      loop,
      requireEbgpPolicy: false,
    });
    assert.equal(open.rfc8212Blocked, false);
    assert.equal(open.importUpdate(rib, peer, id, prefixListOf(1, ['10.0.0.0/24'])).accepted, 1);
  });

  test('one evaluation per attribute set for a prefix-independent policy, however many prefixes', () => {
    const { attrs, rib, peer, loop } = world();
    const compiler = new PolicyCompiler({ policies: { lp: { terms: [{ set: { localPref: 300 } }] } } });
    const f = new ImportFilter({ attrs, compiler, afi: 1, neighbor: EBGP_PEER, loop, policies: ['lp'] });
    assert.equal(f.cacheable, true);
    const sets = [1, 2, 3].map((k) =>
      attrs.intern({ origin: 0, asPath: asSequence(65100, k), nextHop: 1, localPref: 5 }),
    );
    for (let round = 0; round < 3; round++) {
      for (const [k, id] of sets.entries()) {
        const prefixes = Array.from({ length: 50 }, (_, i) => `10.${k}.${i}.0/24`);
        f.importUpdate(rib, peer, id, prefixListOf(1, prefixes));
      }
    }
    assert.equal(f.evaluations, 3);
    rib.commit();
    const best = rib.bestPath(rib.lookup('10.1.7.0/24'));
    assert.equal(attrs.get(rib.pathAttr(best)).localPref, 300, 'eBGP LOCAL_PREF ignored, policy sets it');
  });

  test('the cache entry is dropped when its input set is freed (ids may be reused)', () => {
    const { attrs, loop } = world();
    const compiler = new PolicyCompiler({ policies: { lp: { terms: [{ set: { localPref: 300 } }] } } });
    const f = new ImportFilter({ attrs, compiler, afi: 1, neighbor: EBGP_PEER, loop, policies: ['lp'] });
    const id = attrs.intern({ origin: 0, asPath: asSequence(65100), nextHop: 1 });
    const out = f.resultFor(id, null, 0, 0);
    assert.equal(attrs.refCount(out), 1, 'held by the cache');
    attrs.unref(id);
    attrs.collect();
    assert.equal(attrs.refCount(out), 0);
    attrs.collect();
    assert.equal(attrs.size, 0, 'nothing leaks');
    const reused = attrs.intern({ origin: 2, asPath: asSequence(65100, 7), nextHop: 1 });
    const out2 = f.resultFor(reused, null, 0, 0);
    assert.equal(attrs.get(out2).origin, 2);
    assert.equal(f.evaluations, 2);
  });

  test('prefix-dependent policy is evaluated per prefix', () => {
    const { attrs, rib, peer, loop } = world();
    const compiler = new PolicyCompiler({
      policies: { p: { terms: [{ match: { prefixList: [{ prefix: '10.0.0.0/8', le: 24 }] } }] } },
    });
    const f = new ImportFilter({ attrs, compiler, afi: 1, neighbor: EBGP_PEER, loop, policies: ['p'] });
    assert.equal(f.cacheable, false);
    const id = attrs.intern({ origin: 0, asPath: asSequence(65100), nextHop: 1 });
    const r = f.importUpdate(rib, peer, id, prefixListOf(1, ['10.1.0.0/24', '10.1.0.0/25', '11.0.0.0/8']));
    assert.deepEqual([r.accepted, r.rejected], [1, 2]);
    rib.commit();
    assert.equal(rib.size, 1);
    assert.equal(attrs.refCount(id), 2, 'ours + one path');
  });

  test('loop checks: own AS (allowas-in), ORIGINATOR_ID, CLUSTER_LIST; a rejected update withdraws', () => {
    const { attrs, rib, peer, loop } = world();
    const compiler = new PolicyCompiler({ policies: { all: { terms: [{ action: 'accept' }] } } });
    const mk = (allowasIn: number) =>
      new ImportFilter({
        attrs,
        compiler,
        afi: 1,
        neighbor: EBGP_PEER,
        loop: { ...loop, allowasIn },
        policies: ['all'],
      });
    const f = mk(0);
    const l = prefixListOf(1, ['10.0.0.0/24']);
    const good = attrs.intern({ origin: 0, asPath: asSequence(65100), nextHop: 1 });
    f.importUpdate(rib, peer, good, l);
    rib.commit();
    assert.equal(rib.size, 1);
    const looped = attrs.intern({ origin: 0, asPath: asSequence(65100, 65000, 7), nextHop: 1 });
    assert.equal(f.importUpdate(rib, peer, looped, l).loop, 'as-path-loop');
    assert.equal(rib.commit().best[0], -1, 'the earlier route is withdrawn');
    assert.equal(mk(1).resultFor(looped, null, 0, 0) > 0, true, 'allowas-in 1');
    const twice = attrs.intern({ origin: 0, asPath: asSequence(65000, 65000), nextHop: 1 });
    assert.equal(mk(1).resultFor(twice, null, 0, 0), REJECT);
    const orig = attrs.intern({ origin: 0, nextHop: 1, originatorId: parseIpv4('10.0.0.1') });
    assert.equal(f.resultFor(orig, null, 0, 0), REJECT);
    const cl = attrs.intern({ origin: 0, nextHop: 1, clusterList: Uint32Array.of(5, parseIpv4('10.0.0.1')) });
    assert.equal(f.resultFor(cl, null, 0, 0), REJECT);
  });
});

describe('MaxPrefixGuard', () => {
  test('warning once at the threshold, teardown over the limit with RFC 4486 data', () => {
    const g = new MaxPrefixGuard({ limit: 100, restartAfterSeconds: 30 }, 1, 1);
    assert.equal(g.check(10).kind, 'ok');
    assert.deepEqual(g.check(75), { kind: 'warning', count: 75, threshold: 75, limit: 100 });
    assert.equal(g.check(80).kind, 'ok', 'warned once');
    assert.equal(g.check(100).kind, 'ok', 'at the limit is allowed');
    const d = g.check(101);
    assert.equal(d.kind, 'teardown');
    if (d.kind === 'teardown') {
      assert.equal(d.notification.code, 6);
      assert.equal(d.notification.subcode, 1);
      assert.deepEqual(Array.from(d.notification.data), [0, 1, 1, 0, 0, 0, 100]);
      assert.equal(d.restartAfterSeconds, 30);
    }
    g.reset();
    assert.equal(g.check(50).kind, 'ok');
    assert.equal(g.check(90).kind, 'warning');
  });

  test('warning-only never tears down', () => {
    const g = new MaxPrefixGuard({ limit: 10, warningPercent: 50, warningOnly: true }, 2, 1);
    assert.equal(g.check(5).kind, 'warning');
    assert.equal(g.check(11).kind, 'over-limit');
    assert.equal(g.check(12).kind, 'ok');
    assert.throws(() => new MaxPrefixGuard({ limit: 0 }, 1, 1), /positive integer/);
  });
});
