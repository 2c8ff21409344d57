// Route-reflection topologies from issue #4 §2, built from the real pieces: each router has its
// own AttrTable, Loc-RIB, decision process, import filters and update groups, and routers talk
// through real UPDATE messages (the codec's packer and decoder). Sessions are in-memory; the
// same topologies against BIRD/FRR/GoBGP run in conformance/ once the daemon is wired.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CodecOptions, decodeMessage, Family, packUpdates } from '../codec/index.ts';
import { PolicyCompiler } from '../policy/compile.ts';
import { ExportFilter, ImportFilter } from '../policy/filters.ts';
import { AttrTable } from '../rib/attr-table.ts';
import { asSequence, formatAsPath, formatIpv4, parseIpv4, storedFromUpdate } from '../rib/attrs.ts';
import { DEFAULT_DECISION_OPTIONS, DecisionProcess } from '../rib/best-path.ts';
import { LocRib } from '../rib/loc-rib.ts';
import { LOCAL_PEER, PeerTable } from '../rib/peers.ts';
import { prefixListOf } from '../rib/prefix.ts';
import { type UpdateBatch, UpdateGroups } from '../rib/update-group.ts';
import type { ReflectorConfig } from './reflector.ts';

const OPTS: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
const ADD_PATH_OPTS: CodecOptions = { ...OPTS, addPath: new Set([Family.IPv4Unicast]) };
const COMPILER = new PolicyCompiler({ policies: { all: { terms: [{ action: 'accept' }] } } });

interface Session {
  readonly remote: Router;
  readonly peerIdx: number;
  readonly importFilter: ImportFilter;
  /** RFC 7911 negotiated both ways on this session */
  readonly addPath: boolean;
}

class Router {
  readonly attrs = new AttrTable();
  readonly peers: PeerTable;
  readonly rib: LocRib;
  readonly groups: UpdateGroups;
  readonly sessions = new Map<string, Session>();
  readonly reflector: ReflectorConfig;

  constructor(
    readonly name: string,
    readonly asn: number,
    readonly routerId: string,
    clusterId?: string,
    maxPaths = 1,
  ) {
    const id = parseIpv4(routerId);
    this.peers = new PeerTable(id, asn);
    const decision = new DecisionProcess(this.attrs, this.peers, {
      ...DEFAULT_DECISION_OPTIONS,
      maxPathsIbgp: maxPaths,
      maxPathsEbgp: maxPaths,
    });
    this.rib = new LocRib({ afi: 1, attrs: this.attrs, decision });
    this.groups = new UpdateGroups(
      this.rib,
      Family.IPv4Unicast,
      (s) => new ExportFilter(this.attrs, this.peers, COMPILER, s),
    );
    this.reflector = {
      enabled: clusterId !== undefined,
      clusterId: parseIpv4(clusterId ?? routerId),
      clientToClient: true,
    };
  }

  originate(prefix: string): void {
    const id = this.attrs.intern({ origin: 0, asPath: asSequence(), nextHop: parseIpv4(this.routerId) });
    this.rib.announce(LOCAL_PEER, id, prefixListOf(1, [prefix]));
    this.attrs.unref(id);
  }

  /** Next hops and details of a prefix's paths, best first. */
  paths(
    prefix: string,
  ): { from: string; nextHop: string; originatorId?: string; clusterList: string[]; asPath: string }[] {
    const p = this.rib.lookup(prefix);
    if (p < 0 || this.rib.bestPath(p) < 0) return [];
    const out = [];
    for (let q = this.rib.firstPath(p); q >= 0; q = this.rib.nextPath(q)) {
      const a = this.attrs.get(this.rib.pathAttr(q));
      out.push({
        from: this.peers.get(this.rib.pathPeer(q)).name,
        nextHop: formatIpv4(a.nextHop ?? 0),
        ...(a.originatorId !== undefined ? { originatorId: formatIpv4(a.originatorId) } : {}),
        clusterList: Array.from(a.clusterList ?? [], formatIpv4),
        asPath: formatAsPath(a.asPath),
      });
    }
    return out;
  }
}

function half(local: Router, remote: Router, remoteIsClient: boolean, addPath: boolean): void {
  const kind = local.asn === remote.asn ? 'ibgp' : 'ebgp';
  const info = {
    kind,
    name: remote.name,
    address: Uint8Array.from(remote.routerId.split('.').map(Number)),
    routerId: parseIpv4(remote.routerId),
    remoteAs: remote.asn,
    rrClient: remoteIsClient,
  } as const;
  const peerIdx = local.peers.add(info);
  const importFilter = new ImportFilter({
    attrs: local.attrs,
    compiler: COMPILER,
    afi: 1,
    neighbor: info,
    ...(kind === 'ebgp' ? { policies: ['all'] } : {}),
    loop: {
      localAs: local.asn,
      allowasIn: 0,
      routerId: parseIpv4(local.routerId),
      clusterIds: local.reflector.enabled ? [local.reflector.clusterId] : [],
    },
  });
  local.sessions.set(remote.name, { remote, peerIdx, importFilter, addPath });
  const group = local.groups.join(
    peerIdx,
    {
      afi: 1,
      kind,
      rrClient: remoteIsClient,
      ...(kind === 'ebgp' ? { policies: ['all'] } : {}),
      nextHop: 'default',
      localIpv4: parseIpv4(local.routerId),
      localAs: local.asn,
      reflector: local.reflector,
    },
    { fourOctetAs: true, addPathSend: addPath },
  );
  // Initial advertisement of the current table.
  const batch = group.fullTable();
  deliver(local, remote, batch.forPeer(peerIdx));
  batch.release();
}

/** A session between a and b; `clientOf` names the side that treats the other as its client. */
function connect(
  a: Router,
  b: Router,
  opts: { bIsClientOfA?: boolean; aIsClientOfB?: boolean; addPath?: boolean } = {},
): void {
  half(a, b, opts.bIsClientOfA === true, opts.addPath === true);
  half(b, a, opts.aIsClientOfB === true, opts.addPath === true);
}

/** Session loss without graceful restart on both ends. */
function disconnect(a: Router, b: Router): void {
  for (const [local, remote] of [
    [a, b],
    [b, a],
  ] as const) {
    const s = local.sessions.get(remote.name)!;
    local.groups.leave(s.peerIdx);
    local.rib.removePeerPaths(s.peerIdx);
    s.importFilter.dispose();
    local.sessions.delete(remote.name);
  }
}

const inbox: { to: Router; from: Router; messages: Buffer[] }[] = [];

function optsFor(from: Router, to: Router): CodecOptions {
  return from.sessions.get(to.name)?.addPath === true ? ADD_PATH_OPTS : OPTS;
}

function deliver(from: Router, to: Router, u: ReturnType<UpdateBatch['forPeer']>): void {
  const packed = packUpdates(u.announce, u.withdraw === null ? [] : [u.withdraw], optsFor(from, to));
  if (packed.messages.length > 0) inbox.push({ to, from, messages: packed.messages });
}

/** Runs every router until no UPDATE is in flight (bounded, so a loop would fail the test). */
function converge(routers: Router[]): void {
  for (let round = 0; round < 50; round++) {
    while (inbox.length > 0) {
      const { to, from, messages } = inbox.shift()!;
      const s = to.sessions.get(from.name);
      if (s === undefined) continue;
      for (const m of messages) {
        const r = decodeMessage(m, s.addPath ? ADD_PATH_OPTS : OPTS);
        assert.ok(
          r.ok && r.value.type === 'update',
          r.ok ? r.value.type : `${from.name}->${to.name}: ${r.error.reason}`,
        );
        const u = r.value;
        if (u.withdrawn.count > 0) to.rib.withdraw(s.peerIdx, u.withdrawn);
        if (u.nlri.count > 0) {
          const id = to.attrs.intern(storedFromUpdate(u.attributes));
          s.importFilter.importUpdate(to.rib, s.peerIdx, id, u.nlri);
          to.attrs.unref(id);
        }
      }
    }
    let sent = false;
    for (const r of routers) {
      const batches = r.groups.process(r.rib.commit());
      for (const [g, batch] of batches) {
        if (!batch.empty) {
          for (const peerIdx of g.members) {
            const s = [...r.sessions.values()].find((x) => x.peerIdx === peerIdx)!;
            deliver(r, s.remote, batch.forPeer(peerIdx));
            sent = true;
          }
        }
        batch.release();
      }
      r.attrs.collect();
    }
    if (!sent && inbox.length === 0) return;
  }
  assert.fail('no convergence after 50 rounds');
}

describe('route reflection topologies (issue #4 §2)', () => {
  test('two reflectors in one cluster, clients attached to both', () => {
    const rr1 = new Router('rr1', 64512, '10.0.0.1', '244.0.0.1');
    const rr2 = new Router('rr2', 64512, '10.0.0.2', '244.0.0.1');
    const c1 = new Router('c1', 64512, '10.0.1.1');
    const c2 = new Router('c2', 64512, '10.0.1.2');
    connect(rr1, rr2);
    for (const c of [c1, c2]) {
      connect(rr1, c, { bIsClientOfA: true });
      connect(rr2, c, { bIsClientOfA: true });
    }
    c1.originate('10.244.1.0/26');
    converge([rr1, rr2, c1, c2]);
    const got = c2.paths('10.244.1.0/26');
    assert.deepEqual(got.map((p) => p.from).sort(), ['rr1', 'rr2'], 'one copy per reflector');
    for (const p of got) {
      assert.equal(p.nextHop, '10.0.1.1', 'next hop of the originating client');
      assert.equal(p.originatorId, '10.0.1.1');
      assert.deepEqual(p.clusterList, ['244.0.0.1']);
    }
    // RR2 holds the route from C1 directly; the copy reflected by RR1 was a cluster loop.
    assert.deepEqual(
      rr2.paths('10.244.1.0/26').map((p) => p.from),
      ['c1'],
    );
    // C1 does not get its own route back.
    assert.deepEqual(
      c1.paths('10.244.1.0/26').map((p) => p.from),
      ['local'],
    );
  });

  test('a client of two reflectors keeps every route when one reflector fails', () => {
    const rr1 = new Router('rr1', 64512, '10.0.0.1', '244.0.0.1');
    const rr2 = new Router('rr2', 64512, '10.0.0.2', '244.0.0.1');
    const c1 = new Router('c1', 64512, '10.0.1.1');
    const c2 = new Router('c2', 64512, '10.0.1.2');
    connect(rr1, rr2);
    for (const c of [c1, c2]) {
      connect(rr1, c, { bIsClientOfA: true });
      connect(rr2, c, { bIsClientOfA: true });
    }
    c1.originate('10.244.1.0/26');
    c2.originate('10.244.2.0/26');
    converge([rr1, rr2, c1, c2]);
    disconnect(rr1, c1);
    disconnect(rr1, c2);
    disconnect(rr1, rr2);
    converge([rr1, rr2, c1, c2]);
    assert.deepEqual(
      c2.paths('10.244.1.0/26').map((p) => p.from),
      ['rr2'],
    );
    assert.deepEqual(
      c1.paths('10.244.2.0/26').map((p) => p.from),
      ['rr2'],
    );
  });

  test('the Calico complaint: a shared cluster ID hides clients that peer with one reflector only', () => {
    const build = (id1: string, id2: string) => {
      const rr1 = new Router('rr1', 64512, '10.0.0.1', id1);
      const rr2 = new Router('rr2', 64512, '10.0.0.2', id2);
      const c1 = new Router('c1', 64512, '10.0.1.1');
      const c2 = new Router('c2', 64512, '10.0.1.2');
      connect(rr1, rr2);
      connect(rr1, c1, { bIsClientOfA: true });
      connect(rr2, c2, { bIsClientOfA: true });
      c1.originate('10.244.1.0/26');
      converge([rr1, rr2, c1, c2]);
      return { rr2, c2 };
    };
    const shared = build('244.0.0.1', '244.0.0.1');
    assert.deepEqual(shared.rr2.paths('10.244.1.0/26'), [], "RR2 drops RR1's reflection (CLUSTER_LIST loop)");
    assert.deepEqual(shared.c2.paths('10.244.1.0/26'), []);
    // The fix: distinct cluster IDs (reflectors in different clusters, peering with each other).
    const distinct = build('244.0.0.1', '244.0.0.2');
    const p = distinct.c2.paths('10.244.1.0/26');
    assert.equal(p.length, 1);
    assert.deepEqual(p[0]!.clusterList, ['244.0.0.2', '244.0.0.1']);
    assert.equal(p[0]!.originatorId, '10.0.1.1');
    assert.equal(p[0]!.nextHop, '10.0.1.1');
  });

  test('routes learned from an eBGP ToR reach every client, unreflected, next hop kept', () => {
    const tor = new Router('tor', 65007, '192.0.2.1');
    const rr = new Router('rr', 64512, '10.0.0.1', '244.0.0.1');
    const c1 = new Router('c1', 64512, '10.0.1.1');
    const nc = new Router('nc', 64512, '10.0.2.1');
    connect(tor, rr);
    connect(rr, c1, { bIsClientOfA: true });
    connect(rr, nc);
    tor.originate('0.0.0.0/0');
    converge([tor, rr, c1, nc]);
    for (const r of [c1, nc]) {
      const p = r.paths('0.0.0.0/0');
      assert.equal(p.length, 1, r.name);
      assert.equal(p[0]!.nextHop, '192.0.2.1');
      assert.equal(p[0]!.asPath, '65007');
      assert.equal(p[0]!.originatorId, undefined);
      assert.deepEqual(p[0]!.clusterList, []);
    }
    // And a client's route goes out to the ToR with our AS and next hop self, no RR attributes.
    c1.originate('10.244.1.0/26');
    converge([tor, rr, c1, nc]);
    const atTor = tor.paths('10.244.1.0/26');
    assert.equal(atTor.length, 1);
    assert.equal(atTor[0]!.asPath, '64512');
    assert.equal(atTor[0]!.nextHop, '10.0.0.1');
    assert.deepEqual(atTor[0]!.clusterList, []);
    // The non-client gets the client's route too (client -> non-client), but not vice versa for
    // routes between non-clients: nc's route reaches the client only.
    nc.originate('10.99.0.0/24');
    converge([tor, rr, c1, nc]);
    assert.equal(c1.paths('10.99.0.0/24').length, 1);
    assert.equal(nc.paths('10.244.1.0/26').length, 1);
  });

  test('ADD-PATH: a reflector gives a client both paths of an anycast prefix, for ECMP', () => {
    const rr = new Router('rr', 64512, '10.0.0.1', '244.0.0.1');
    const c1 = new Router('c1', 64512, '10.0.1.1');
    const c2 = new Router('c2', 64512, '10.0.1.2');
    const c3 = new Router('c3', 64512, '10.0.1.3', undefined, 4);
    const plain = new Router('c4', 64512, '10.0.1.4', undefined, 4);
    connect(rr, c1, { bIsClientOfA: true });
    connect(rr, c2, { bIsClientOfA: true });
    connect(rr, c3, { bIsClientOfA: true, addPath: true });
    connect(rr, plain, { bIsClientOfA: true });
    c1.originate('10.96.0.10/32');
    c2.originate('10.96.0.10/32');
    converge([rr, c1, c2, c3, plain]);
    const p = c3.rib.lookup('10.96.0.10/32');
    const mp = c3.rib.multipathOf(p).map((q) => formatIpv4(c3.attrs.get(c3.rib.pathAttr(q)).nextHop!));
    assert.deepEqual(mp.sort(), ['10.0.1.1', '10.0.1.2'], 'two paths from one peer, both in the ECMP set');
    assert.equal(plain.paths('10.96.0.10/32').length, 1, 'without ADD-PATH only the best path');
    // One origin goes away: c3 keeps the other path.
    c1.rib.withdraw(LOCAL_PEER, prefixListOf(1, ['10.96.0.10/32']));
    converge([rr, c1, c2, c3, plain]);
    assert.deepEqual(
      c3.paths('10.96.0.10/32').map((x) => x.nextHop),
      ['10.0.1.2'],
    );
  });
});
