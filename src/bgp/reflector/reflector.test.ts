import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PolicyCompiler } from '../policy/compile.ts';
import { ExportFilter, type ExportSettings, ImportFilter, REJECT } from '../policy/filters.ts';
import { AttrTable } from '../rib/attr-table.ts';
import { asSequence, formatAsPath, parseIpv4, type StoredAttributes } from '../rib/attrs.ts';
import { type PeerInfo, PeerTable } from '../rib/peers.ts';
import { defaultReflectorConfig, mayAdvertise, type ReflectionRole, reflectAttributes } from './reflector.ts';

const RR_ID = parseIpv4('10.0.0.1');

describe('advertisement rules (RFC 4456 §6)', () => {
  const rr = defaultReflectorConfig(RR_ID, true);
  const plain = defaultReflectorConfig(RR_ID, false);
  const cases: [ReflectionRole, ReflectionRole, boolean, boolean][] = [
    // from, to, reflector allows, non-reflector allows
    ['client', 'client', true, false],
    ['client', 'non-client', true, false],
    ['non-client', 'client', true, false],
    ['non-client', 'non-client', false, false],
    ['ebgp', 'client', true, true],
    ['ebgp', 'non-client', true, true],
    ['local', 'non-client', true, true],
    ['client', 'ebgp', true, true],
    ['non-client', 'ebgp', true, true],
    ['ebgp', 'ebgp', true, true],
  ];
  for (const [from, to, withRr, withoutRr] of cases) {
    test(`${from} -> ${to}`, () => {
      assert.equal(mayAdvertise(from, to, rr), withRr);
      assert.equal(mayAdvertise(from, to, plain), withoutRr);
    });
  }
  test('client-to-client reflection can be turned off (§5)', () => {
    assert.equal(mayAdvertise('client', 'client', { ...rr, clientToClient: false }), false);
    assert.equal(mayAdvertise('client', 'non-client', { ...rr, clientToClient: false }), true);
  });
  test('cluster ID defaults to the router-id', () => {
    assert.equal(defaultReflectorConfig(RR_ID).clusterId, RR_ID);
  });
});

describe('reflected attributes (RFC 4456 §8)', () => {
  test('ORIGINATOR_ID set when absent and kept when present; cluster id prepended; nothing else changes', () => {
    const cfg = { enabled: true, clusterId: 0x01010101, clientToClient: true };
    const a: StoredAttributes = { origin: 0, nextHop: parseIpv4('192.0.2.9'), localPref: 150, med: 5 };
    const r = reflectAttributes(a, parseIpv4('10.9.9.9'), cfg);
    assert.equal(r.originatorId, parseIpv4('10.9.9.9'));
    assert.deepEqual(Array.from(r.clusterList!), [0x01010101]);
    assert.equal(r.nextHop, a.nextHop);
    assert.equal(r.localPref, 150);
    assert.equal(r.med, 5);
    const again = reflectAttributes({ ...r }, parseIpv4('10.8.8.8'), { ...cfg, clusterId: 0x02020202 });
    assert.equal(again.originatorId, parseIpv4('10.9.9.9'));
    assert.deepEqual(Array.from(again.clusterList!), [0x02020202, 0x01010101]);
  });

  test('sets reflected without a CLUSTER_LIST share one [cluster id] array; longer lists are new', () => {
    const cfg = { enabled: true, clusterId: 0x01010101, clientToClient: true };
    const one = reflectAttributes({ origin: 0, med: 1 }, 1, cfg);
    const two = reflectAttributes({ origin: 1, clusterList: new Uint32Array(0) }, 2, cfg);
    assert.equal(one.clusterList, two.clusterList);
    const other = reflectAttributes({ origin: 0 }, 1, { ...cfg, clusterId: 7 });
    assert.deepEqual(Array.from(other.clusterList!), [7]);
    assert.deepEqual(Array.from(one.clusterList!), [0x01010101]);
    const longer = reflectAttributes(one, 1, { ...cfg, clusterId: 9 });
    assert.deepEqual(Array.from(longer.clusterList!), [9, 0x01010101]);
    assert.notEqual(longer.clusterList, one.clusterList);
  });
});

// A small world: this node is a reflector; peers of every role; export to a group of a role.
function world(clusterId = RR_ID) {
  const attrs = new AttrTable();
  const peers = new PeerTable(RR_ID, 65000);
  const mk = (name: string, kind: PeerInfo['kind'], rrClient: boolean, remoteAs = 65000): number =>
    peers.add({
      kind,
      name,
      address: Uint8Array.from(name.split('.').map(Number)),
      routerId: parseIpv4(name),
      remoteAs,
      rrClient,
    });
  const client = mk('10.0.1.1', 'ibgp', true);
  const nonClient = mk('10.0.2.1', 'ibgp', false);
  const tor = mk('192.0.2.1', 'ebgp', false, 65100);
  const reflector = { enabled: true, clusterId, clientToClient: true };
  const compiler = new PolicyCompiler({ policies: { all: { terms: [{ action: 'accept' }] } } });
  const exportTo = (kind: ExportSettings['kind'], rrClient: boolean, extra: Partial<ExportSettings> = {}) =>
    new ExportFilter(attrs, peers, compiler, {
      afi: 1,
      kind,
      rrClient,
      nextHop: 'default',
      localIpv4: parseIpv4('10.0.0.1'),
      localAs: 65000,
      reflector,
      ...(kind === 'ebgp' ? { policies: ['all'] } : {}),
      ...extra,
    });
  const w = new Uint32Array(1);
  const exp = (f: ExportFilter, attrId: number, from: number): StoredAttributes | null => {
    const out = f.exportRoute(attrId, from, w, 0, 24);
    return out === REJECT ? null : attrs.get(out);
  };
  return { attrs, peers, client, nonClient, tor, exportTo, exp, compiler, reflector };
}

describe('export through the reflector', () => {
  const clientRoute: StoredAttributes = { origin: 0, nextHop: parseIpv4('10.0.1.1'), localPref: 100 };

  test('client route: reflected to clients and non-clients with ORIGINATOR_ID/CLUSTER_LIST, next hop kept', () => {
    const { attrs, client, exportTo, exp } = world();
    const id = attrs.intern(clientRoute);
    for (const rrClient of [true, false]) {
      const out = exp(exportTo('ibgp', rrClient), id, client);
      assert.ok(out !== null);
      assert.equal(out.originatorId, parseIpv4('10.0.1.1'));
      assert.deepEqual(Array.from(out.clusterList!), [RR_ID]);
      assert.equal(out.nextHop, parseIpv4('10.0.1.1'), 'next hop unchanged');
      assert.equal(out.localPref, 100);
    }
  });

  test('non-client route: to clients only', () => {
    const { attrs, nonClient, exportTo, exp } = world();
    const id = attrs.intern(clientRoute);
    assert.ok(exp(exportTo('ibgp', true), id, nonClient) !== null);
    assert.equal(exp(exportTo('ibgp', false), id, nonClient), null);
  });

  test('eBGP (ToR) route: to every iBGP peer, unreflected, LOCAL_PREF added, next hop kept', () => {
    const { attrs, tor, exportTo, exp } = world();
    const id = attrs.intern({
      origin: 0,
      asPath: asSequence(65100),
      nextHop: parseIpv4('192.0.2.1'),
      med: 7,
    });
    for (const rrClient of [true, false]) {
      const out = exp(exportTo('ibgp', rrClient), id, tor);
      assert.ok(out !== null);
      assert.equal(out.originatorId, undefined);
      assert.equal(out.clusterList, undefined);
      assert.equal(out.localPref, 100);
      assert.equal(out.med, 7, 'MED is kept inside the AS');
      assert.equal(out.nextHop, parseIpv4('192.0.2.1'));
    }
  });

  test('to eBGP: our AS prepended, LOCAL_PREF/MED/RR attributes removed, next hop self', () => {
    const { attrs, client, exportTo, exp } = world();
    const id = attrs.intern({
      ...clientRoute,
      asPath: asSequence(),
      med: 3,
      originatorId: 5,
      clusterList: Uint32Array.of(9),
    });
    const out = exp(exportTo('ebgp', false), id, client);
    assert.ok(out !== null);
    assert.equal(formatAsPath(out.asPath), '65000');
    assert.equal(out.localPref, undefined);
    assert.equal(out.med, undefined);
    assert.equal(out.originatorId, undefined);
    assert.equal(out.clusterList, undefined);
    assert.equal(out.nextHop, parseIpv4('10.0.0.1'));
  });

  test('RFC 8212 on export: an eBGP group without policy advertises nothing', () => {
    const { attrs, client, exportTo, exp } = world();
    const f = exportTo('ebgp', false, { policies: undefined });
    assert.equal(f.rfc8212Blocked, true);
    assert.equal(exp(f, attrs.intern(clientRoute), client), null);
  });

  test('well-known communities: NO_ADVERTISE, NO_EXPORT, NO_EXPORT_SUBCONFED', () => {
    const { attrs, tor, exportTo, exp } = world();
    const withC = (c: number) =>
      attrs.intern({ origin: 0, asPath: asSequence(65100), nextHop: 1, communities: Uint32Array.of(c) });
    const NO_EXPORT = 0xffffff01;
    const NO_ADVERTISE = 0xffffff02;
    const NO_SUBCONFED = 0xffffff03;
    const ibgp = exportTo('ibgp', false);
    const ebgp = exportTo('ebgp', false);
    const confed = exportTo('confed-ebgp', false);
    assert.equal(exp(ibgp, withC(NO_ADVERTISE), tor), null);
    assert.ok(exp(ibgp, withC(NO_EXPORT), tor) !== null);
    assert.equal(exp(ebgp, withC(NO_EXPORT), tor), null);
    assert.ok(exp(confed, withC(NO_EXPORT), tor) !== null, 'NO_EXPORT stays inside the confederation');
    assert.equal(exp(confed, withC(NO_SUBCONFED), tor), null);
    assert.ok(exp(ibgp, withC(NO_SUBCONFED), tor) !== null);
  });
});

describe('reflectors sharing a cluster ID (calico#2735)', () => {
  // RR1 and RR2 peer with each other as non-clients. Client C1 peers with RR1 only.
  function reflectFromRr1(clusterRr1: number, clusterRr2: number) {
    const rr1 = world(clusterRr1);
    const c1Route = rr1.attrs.intern({ origin: 0, nextHop: parseIpv4('10.0.1.1'), localPref: 100 });
    const toRr2 = rr1.exportTo('ibgp', false);
    const sent = rr1.exp(toRr2, c1Route, rr1.client);
    assert.ok(sent !== null);
    // RR2 receives it: loop check with RR2's own router-id and cluster ID.
    const attrs = new AttrTable();
    const rr2Peer: PeerInfo = {
      kind: 'ibgp',
      name: '10.0.0.1',
      address: Uint8Array.of(10, 0, 0, 1),
      routerId: RR_ID,
      remoteAs: 65000,
      rrClient: false,
    };
    const f = new ImportFilter({
      attrs,
      compiler: new PolicyCompiler({}),
      afi: 1,
      neighbor: rr2Peer,
      loop: { localAs: 65000, allowasIn: 0, routerId: parseIpv4('10.0.0.2'), clusterIds: [clusterRr2] },
    });
    return f.resultFor(attrs.intern(sent), null, 0, 0);
  }

  test("same cluster ID: RR2 drops RR1's client route as a cluster loop (RFC 4456 §8)", () => {
    const shared = parseIpv4('244.0.0.1');
    assert.equal(reflectFromRr1(shared, shared), REJECT);
  });

  test('distinct cluster IDs: RR2 accepts it and can reflect it to its own clients', () => {
    assert.notEqual(reflectFromRr1(parseIpv4('244.0.0.1'), parseIpv4('244.0.0.2')), REJECT);
  });
});
