// Issue #4 §2, "topologies to show working": the multi-reflector topologies of
// src/bgp/reflector/topology.test.ts, this time with real processes. Several `tsbgp run` daemons
// reflect for real BIRD 2 and FRR clients in network namespaces on one rack LAN; routes are read
// back from the clients' own RIBs (birdc, vtysh) and from tsbgp's CLI, and what one reflector
// sends another is read off the wire with tshark (independently of tsbgp's codec).
//
// Lab "rrt" (AS 65000, one cluster ID 10.5.0.254 on both reflectors):
//   rr1, rr2  tsbgp reflectors, peered with each other as iBGP non-clients
//   ca        BIRD 2 client of both          cb   FRR client of both
//   tor       FRR, eBGP AS 65100 to both reflectors
//   1. a client route reaches the other client through both reflectors (RFC 4456 §8 attributes)
//   5. the ToR's eBGP route reaches both clients through both reflectors, not reflected
//   3. rr1 fails (link cut, SIGKILL): the clients keep every route through rr2
//
// Lab "rrc" (AS 65000; rr3 with BIRD 2 client c3, rr4 with FRR client c4, rr3—rr4 non-clients):
//   4. one cluster ID shared by both reflectors: c3's route does not reach c4 (rr4 drops it as a
//      CLUSTER_LIST loop, RFC 4456 §8), the Calico complaint (projectcalico/calico#2735);
//   2. after `tsbgp reload` with a cluster ID per reflector, client routes cross both ways with
//      CLUSTER_LIST [rr4, rr3] / [rr3, rr4], and no session was reset.
//
// Lab "rrl" (three reflectors, three clusters: tsbgp ra and rb, BIRD 2 rc; BIRD client ka of ra,
// FRR client kb of rb): ka's route goes ra → rc → rb and, preferred there by policy, back to ra
// with CLUSTER_LIST [rb, rc, ra]; only the CLUSTER_LIST check can stop that loop, and ra does.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, waitFor } from '../lib/lab.ts';
import { type PeerDriver, startBird2, startFrr } from '../lib/peers/index.ts';
import { startTcpdump, type Tcpdump } from '../lib/peers/tcpdump.ts';
import { startBirdReflector } from './bird-reflector.ts';
import { buildLan } from './harness.ts';
import { type NeighborRow, TsbgpInstance, updatesOnWire, type WireUpdate } from './tsbgp-instances.ts';

interface ReflectorSpec {
  routerId: string;
  clusterId?: string;
  holdTime: number;
  clients: readonly (readonly [string, string])[];
  nonClients: readonly (readonly [string, string])[];
  ebgp?: readonly (readonly [string, string, number])[];
  originate?: readonly string[];
}

/** A tsbgp reflector's YAML configuration (docs/route-reflection.md). */
function reflectorConfig(s: ReflectorSpec): string {
  const common = `localAddress: ${s.routerId}, holdTime: ${s.holdTime}`;
  const lines = [
    'asn: 65000',
    `routerId: ${s.routerId}`,
    'listen:',
    `  addresses: [${s.routerId}]`,
    ...(s.clusterId !== undefined ? [`routeReflector: { clusterId: ${s.clusterId} }`] : []),
    'neighbors:',
    ...s.clients.map(
      ([name, addr]) =>
        `  - { name: ${name}, address: ${addr}, asn: 65000, ${common}, routeReflectorClient: true }`,
    ),
    ...s.nonClients.map(([name, addr]) => `  - { name: ${name}, address: ${addr}, asn: 65000, ${common} }`),
    ...(s.ebgp ?? []).map(
      ([name, addr, asn]) =>
        `  - { name: ${name}, address: ${addr}, asn: ${asn}, ${common}, import: [all], export: [all] }`,
    ),
  ];
  if (s.originate?.length) lines.push('originate:', ...s.originate.map((p) => `  - prefix: ${p}`));
  lines.push('policies:', '  all:', '    default: accept');
  return `${lines.join('\n')}\n`;
}

/** One path of FRR's `show bgp ipv4 unicast PREFIX json`, with the RFC 4456 attributes. */
interface FrrPath {
  from: string;
  nextHop: string;
  asPath: string;
  originatorId: string | undefined;
  clusterList: string[] | undefined;
  best: boolean;
}

async function frrPaths(lab: Lab, node: string, prefix: string): Promise<FrrPath[]> {
  const text = await lab.exec(node, 'vtysh', [
    ...['--vty_socket', join(lab.dir, `${node}-frr`), '-d', 'bgpd'],
    ...['-c', `show bgp ipv4 unicast ${prefix} json`],
  ]);
  const j = JSON.parse(text || '{}') as {
    paths?: {
      peer?: { peerId?: string };
      nexthops?: { ip?: string }[];
      aspath?: { string?: string };
      originatorId?: string;
      clusterList?: { list?: string[] };
      bestpath?: { overall?: boolean };
    }[];
  };
  return (j.paths ?? []).map((p) => ({
    from: p.peer?.peerId ?? '',
    nextHop: p.nexthops?.[0]?.ip ?? '',
    // FRR writes an empty AS path as "Local".
    asPath: p.aspath?.string === 'Local' ? '' : (p.aspath?.string ?? ''),
    originatorId: p.originatorId,
    clusterList: p.clusterList?.list,
    best: p.bestpath?.overall === true,
  }));
}

/** One path of BIRD's `show route all PREFIX`, keyed by the protocol (n0, n1: the driver's names). */
interface BirdPath {
  proto: string;
  nextHop: string;
  asPath: string;
  originatorId: string | undefined;
  clusterList: string[] | undefined;
  best: boolean;
}

async function birdPaths(lab: Lab, node: string, prefix: string): Promise<BirdPath[]> {
  const r = await lab.tryExec(node, 'birdc', [
    '-s',
    join(lab.dir, `${node}-bird2.ctl`),
    `show route all ${prefix}`,
  ]);
  // birdc exits 1 with "Network not found" when the table has no route for the prefix.
  if (r.code !== 0 && r.stdout.includes('Network not found')) return [];
  if (r.code !== 0) throw new Error(`birdc in ${node}: ${r.stderr.trim() || r.stdout.trim()}`);
  const text = r.stdout;
  const out: BirdPath[] = [];
  let cur: BirdPath | undefined;
  for (const line of text.split('\n')) {
    const head = /\[(\w+) [^\]]*\](\s\*)?/.exec(line);
    if (head && !line.includes(': ')) {
      cur = {
        proto: head[1] ?? '',
        nextHop: '',
        asPath: '',
        originatorId: undefined,
        clusterList: undefined,
        best: head[2] !== undefined,
      };
      out.push(cur);
      continue;
    }
    const attr = /^\s+BGP\.(\w+):\s*(.*?)\s*$/.exec(line);
    if (!cur || !attr) continue;
    const [, name, value = ''] = attr;
    if (name === 'next_hop') cur.nextHop = value;
    if (name === 'as_path') cur.asPath = value;
    if (name === 'originator_id') cur.originatorId = value;
    if (name === 'cluster_list') cur.clusterList = value.split(/\s+/).filter(Boolean);
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Captures the BGP traffic between two reflectors, in the namespace of the receiving one. */
function captureBetween(lab: Lab, node: string, otherAddress: string): Promise<Tcpdump> {
  return startTcpdump(
    lab,
    node,
    'lan',
    join(lab.dir, `${node}.pcap`),
    `tcp port 179 and host ${otherAddress}`,
  );
}

/** Waits until the capture holds an UPDATE from `src` to `dst` announcing `prefix`. */
function updateOnWire(cap: Tcpdump, src: string, dst: string, prefix: string): Promise<WireUpdate> {
  return waitFor(
    `an UPDATE ${src} → ${dst} announcing ${prefix} on the wire`,
    async () =>
      (await updatesOnWire(cap.file)).find((u) => u.src === src && u.dst === dst && u.nlri.includes(prefix)),
    30_000,
    1000,
  );
}

// ---- Lab rrt: two reflectors, one cluster ------------------------------------------------------

const RR1 = '10.5.0.1';
const RR2 = '10.5.0.2';
const CA = '10.5.0.11';
const CB = '10.5.0.12';
const TOR = '10.5.0.20';
const CLUSTER = '10.5.0.254';
const PFX_A = '10.51.1.0/24';
const PFX_B = '10.51.2.0/24';
const PFX_TOR = '10.51.9.0/24';
/** Short timers: the failure test waits for the clients' hold timers (RFC 4271 §6.5). */
const HOLD = 6;

function sharedClusterConfig(self: string, other: string): string {
  return reflectorConfig({
    routerId: self,
    clusterId: CLUSTER,
    holdTime: HOLD,
    clients: [
      ['ca', CA],
      ['cb', CB],
    ],
    nonClients: [[self === RR1 ? 'rr2' : 'rr1', other]],
    ebgp: [['tor', TOR, 65100]],
  });
}

describe('two tsbgp reflectors sharing a cluster ID, BIRD 2 and FRR clients of both, an FRR ToR', {
  skip: !canUseNamespaces() && 'needs root',
}, () => {
  const lab = new Lab('rrt');
  const rr1 = new TsbgpInstance(lab, 'rr1');
  const rr2 = new TsbgpInstance(lab, 'rr2');
  let ca: PeerDriver;
  let cb: PeerDriver;
  let wire: Tcpdump | undefined;

  before(async () => {
    await buildLan(lab, [
      ['rr1', RR1],
      ['rr2', RR2],
      ['ca', CA],
      ['cb', CB],
      ['tor', TOR],
    ]);
    wire = await captureBetween(lab, 'rr2', RR1);
    // The clients' neighbour order fixes BIRD's protocol names: n0 is rr1, n1 is rr2.
    const bothReflectors = (local: string) =>
      [RR1, RR2].map((address) => ({ address, remoteAs: 65000, localAddress: local, holdTime: HOLD }));
    ca = await startBird2(lab, 'ca', {
      localAs: 65000,
      routerId: CA,
      neighbors: bothReflectors(CA),
      originate: [{ prefix: PFX_A }],
    });
    cb = await startFrr(lab, 'cb', {
      localAs: 65000,
      routerId: CB,
      neighbors: bothReflectors(CB),
      originate: [{ prefix: PFX_B }],
    });
    await startFrr(lab, 'tor', {
      localAs: 65100,
      routerId: TOR,
      neighbors: [RR1, RR2].map((address) => ({
        address,
        remoteAs: 65000,
        localAddress: TOR,
        holdTime: HOLD,
      })),
      originate: [{ prefix: PFX_TOR }],
    });
    rr1.start(sharedClusterConfig(RR1, RR2));
    rr2.start(sharedClusterConfig(RR2, RR1));
    await rr1.waitEstablished(4);
    await rr2.waitEstablished(4);
  });

  after(async () => {
    await wire?.stop();
    await lab.dispose();
  });

  test('a client route reaches the other client through both reflectors, ORIGINATOR_ID and one CLUSTER_LIST entry', async () => {
    // FRR client cb: client ca's route twice, once from each reflector, next hop kept (RFC 4456 §10).
    const atCb = await waitFor('cb holds ca’s route from rr1 and from rr2', async () => {
      const ps = await frrPaths(lab, 'cb', PFX_A);
      return ps.length === 2 ? ps : undefined;
    });
    assert.deepEqual(atCb.map((p) => p.from).sort(), [RR1, RR2]);
    for (const p of atCb) {
      assert.equal(p.nextHop, CA, `next hop unchanged on the path from ${p.from}`);
      assert.equal(p.asPath, '', 'AS path stays empty');
      assert.equal(p.originatorId, CA, `ORIGINATOR_ID is client ca (path from ${p.from})`);
      // The cluster is one entry however many of its reflectors a route passed: both add CLUSTER.
      assert.deepEqual(
        p.clusterList,
        [CLUSTER],
        `CLUSTER_LIST is the shared cluster ID (path from ${p.from})`,
      );
    }
    assert.equal(atCb.filter((p) => p.best).length, 1);

    // BIRD client ca: client cb's route from both reflectors (protocols n0 = rr1, n1 = rr2).
    const atCa = await waitFor('ca holds cb’s route from rr1 and from rr2', async () => {
      const ps = await birdPaths(lab, 'ca', PFX_B);
      return ps.length === 2 ? ps : undefined;
    });
    assert.deepEqual(atCa.map((p) => p.proto).sort(), ['n0', 'n1']);
    for (const p of atCa) {
      assert.equal(p.nextHop, CB);
      assert.equal(p.originatorId, CB);
      assert.deepEqual(p.clusterList, [CLUSTER]);
    }

    // In the reflectors: each holds the client's own path (no ORIGINATOR_ID, no CLUSTER_LIST yet).
    for (const rr of [rr1, rr2]) {
      const d = await rr.detail(PFX_A);
      assert.ok(d, `${rr.node} has ${PFX_A}`);
      const fromCa = d.paths.find((p) => p.from.startsWith('ca '));
      assert.ok(fromCa, `${rr.node} learned ${PFX_A} from ca`);
      assert.equal(fromCa.best, true);
      assert.equal(fromCa.originatorId, null);
      assert.deepEqual(fromCa.clusterList, []);
    }
    // rr1 reflects ca's route to its non-client rr2 too, with CLUSTER_LIST [CLUSTER] (tshark reads
    // it off the wire); rr2 finds its own cluster ID in the list and drops it (RFC 4456 §8).
    assert.ok(wire);
    const reflected = await updateOnWire(wire, RR1, RR2, PFX_A);
    assert.deepEqual(reflected.clusterList, [CLUSTER]);
    assert.equal(reflected.originatorId, CA);
    await sleep(1000);
    const atRr2 = await rr2.detail(PFX_A);
    assert.ok(atRr2);
    assert.deepEqual(
      atRr2.paths.map((p) => p.from.split(' ')[0]),
      ['ca'],
      'rr2’s Loc-RIB holds only the path from ca; the copy from rr1 is a cluster loop',
    );
  });

  test('the ToR’s eBGP route reaches both clients through both reflectors, not reflected, next hop kept', async () => {
    const atCb = await waitFor('cb holds the ToR route from rr1 and from rr2', async () => {
      const ps = await frrPaths(lab, 'cb', PFX_TOR);
      return ps.length === 2 ? ps : undefined;
    });
    assert.deepEqual(atCb.map((p) => p.from).sort(), [RR1, RR2]);
    for (const p of atCb) {
      assert.equal(p.nextHop, TOR, 'the ToR’s next hop (RFC 4271 §5.1.3: iBGP keeps it)');
      assert.equal(p.asPath, '65100');
      // Learned over eBGP, so advertised to iBGP peers, not reflected: no RFC 4456 attributes.
      assert.equal(p.originatorId, undefined);
      assert.equal(p.clusterList, undefined);
    }
    const atCa = await waitFor('ca holds the ToR route from rr1 and from rr2', async () => {
      const ps = await birdPaths(lab, 'ca', PFX_TOR);
      return ps.length === 2 ? ps : undefined;
    });
    for (const p of atCa) {
      assert.equal(p.nextHop, TOR);
      assert.equal(p.asPath, '65100');
      assert.equal(p.originatorId, undefined);
      assert.equal(p.clusterList, undefined);
    }
    // Each reflector prefers its own eBGP path to the iBGP copy from the other reflector.
    for (const rr of [rr1, rr2]) {
      const d = await waitFor(
        `${rr.node} holds the ToR route from tor and from its peer reflector`,
        async () => {
          const x = await rr.detail(PFX_TOR);
          return x !== undefined && x.paths.length === 2 ? x : undefined;
        },
      );
      const best = d.paths.find((p) => p.best);
      assert.ok(best, `${rr.node} selected a best path`);
      assert.ok(best.from.startsWith('tor '), `${rr.node}’s best path comes from the ToR, not ${best.from}`);
      assert.equal(best.kind, 'ebgp');
    }
  });

  test('rr1 fails (link cut, daemon killed): the clients keep every route through rr2', async () => {
    const prefixesOf = async (client: PeerDriver): Promise<string[]> => {
      const rs = [...(await client.routesFrom(RR1)), ...(await client.routesFrom(RR2))];
      return [...new Set(rs.map((r) => r.prefix))].sort();
    };
    const beforeCa = await prefixesOf(ca);
    const beforeCb = await prefixesOf(cb);
    assert.deepEqual(beforeCa, [PFX_B, PFX_TOR]);
    assert.deepEqual(beforeCb, [PFX_A, PFX_TOR]);

    // A node failure, not a clean close: cut rr1's link first so no FIN or NOTIFICATION leaves,
    // then kill the daemon. The clients notice through their hold timers.
    const cutAt = Date.now();
    await lab.exec('rr1', 'ip', ['link', 'set', 'lan', 'down']);
    await rr1.kill();
    await waitFor(
      'both clients’ sessions to rr1 are down (hold timer)',
      async () =>
        (await ca.sessionState(RR1)) !== 'established' && (await cb.sessionState(RR1)) !== 'established',
      (HOLD + 10) * 1000,
      250,
    );
    const detectedMs = Date.now() - cutAt;
    // The hold timer, not a TCP reset, took the session down.
    assert.ok(detectedMs >= (HOLD - 3) * 1000, `sessions went down after ${detectedMs} ms`);
    // The paths through rr1 are gone from the clients' RIBs ...
    await waitFor('the clients flushed the paths learned from rr1', async () => {
      return (await ca.routesFrom(RR1)).length === 0 && (await cb.routesFrom(RR1)).length === 0;
    });
    // ... and every route is still there, through rr2, and selected.
    for (const [client, expected] of [
      [ca, beforeCa],
      [cb, beforeCb],
    ] as const) {
      const via2 = await client.routesFrom(RR2);
      assert.deepEqual(
        [...new Set(via2.map((r) => r.prefix))].sort(),
        expected,
        `${client.node} keeps every route through rr2`,
      );
      assert.ok(
        via2.every((r) => r.best === true),
        `${client.node} selects the rr2 paths as best`,
      );
    }
    assert.equal((await birdPaths(lab, 'ca', PFX_B))[0]?.clusterList?.[0], CLUSTER);
    assert.equal((await frrPaths(lab, 'cb', PFX_A))[0]?.originatorId, CA);
    // rr2 saw rr1 go (its own hold timer) and kept serving both clients.
    await waitFor(
      'rr2 reports rr1 down',
      async () => (await rr2.neighbors()).find((n) => n.name === 'rr1')?.state !== 'Established',
      (HOLD + 10) * 1000,
      500,
    );
    const states = (await rr2.neighbors()).filter((n) => n.name !== 'rr1').map((n) => n.state);
    assert.deepEqual(states, ['Established', 'Established', 'Established']);
  });
});

// ---- Lab rrc: the Calico complaint and its fix ----------------------------------------------------

const RR3 = '10.6.0.1';
const RR4 = '10.6.0.2';
const C3 = '10.6.0.11';
const C4 = '10.6.0.12';
const SHARED = '10.6.0.254';
const ID3 = '10.6.0.231';
const ID4 = '10.6.0.232';
const PFX_C3 = '10.61.3.0/24';
const PFX_C4 = '10.61.4.0/24';
/** Originated by rr3 itself: crosses to c4 whatever the cluster IDs, so it marks propagation. */
const PFX_RR3 = '10.61.30.0/24';

function splitConfig(self: 'rr3' | 'rr4', clusterId: string): string {
  return reflectorConfig({
    routerId: self === 'rr3' ? RR3 : RR4,
    clusterId,
    holdTime: 9,
    clients: [self === 'rr3' ? ['c3', C3] : ['c4', C4]],
    nonClients: [self === 'rr3' ? ['rr4', RR4] : ['rr3', RR3]],
    ...(self === 'rr3' ? { originate: [PFX_RR3] } : {}),
  });
}

describe('reflectors with split clients: one shared cluster ID loses routes (the Calico complaint), one ID each works', {
  skip: !canUseNamespaces() && 'needs root',
}, () => {
  const lab = new Lab('rrc');
  const rr3 = new TsbgpInstance(lab, 'rr3');
  const rr4 = new TsbgpInstance(lab, 'rr4');
  let c3: PeerDriver;
  let c4: PeerDriver;
  let wire: Tcpdump | undefined;

  before(async () => {
    await buildLan(lab, [
      ['rr3', RR3],
      ['rr4', RR4],
      ['c3', C3],
      ['c4', C4],
    ]);
    wire = await captureBetween(lab, 'rr4', RR3);
    c3 = await startBird2(lab, 'c3', {
      localAs: 65000,
      routerId: C3,
      neighbors: [{ address: RR3, remoteAs: 65000, localAddress: C3, holdTime: 9 }],
      originate: [{ prefix: PFX_C3 }],
    });
    c4 = await startFrr(lab, 'c4', {
      localAs: 65000,
      routerId: C4,
      neighbors: [{ address: RR4, remoteAs: 65000, localAddress: C4, holdTime: 9 }],
      originate: [{ prefix: PFX_C4 }],
    });
    rr3.start(splitConfig('rr3', SHARED));
    rr4.start(splitConfig('rr4', SHARED));
    await rr3.waitEstablished(2);
    await rr4.waitEstablished(2);
  });

  after(async () => {
    await wire?.stop();
    await lab.dispose();
  });

  test('shared cluster ID: c3’s route reaches rr4 but rr4 drops it (CLUSTER_LIST loop), so c4 never gets it', async () => {
    // What does cross: rr3's own route, reflected by rr4 (from a non-client to a client).
    const marker = await waitFor(
      'c4 holds rr3’s own route via rr4',
      async () => (await frrPaths(lab, 'c4', PFX_RR3))[0],
    );
    assert.equal(marker.from, RR4);
    assert.equal(marker.originatorId, RR3);
    assert.deepEqual(marker.clusterList, [SHARED]);

    // rr3 reflected its client's route to rr4 (and rr4 its client's to rr3), on the wire with
    // CLUSTER_LIST [SHARED] ...
    assert.ok(wire);
    for (const [src, dst, prefix, origin] of [
      [RR3, RR4, PFX_C3, C3],
      [RR4, RR3, PFX_C4, C4],
    ] as const) {
      const u = await updateOnWire(wire, src, dst, prefix);
      assert.deepEqual(u.clusterList, [SHARED]);
      assert.equal(u.originatorId, origin);
    }
    // ... and each reflector found its own cluster ID in it: a loop (RFC 4456 §8), not in the Loc-RIB.
    await sleep(2000);
    await rr4.assertNotInLocRib(PFX_C3, 'rr4’s Loc-RIB has no route for c3’s prefix');
    await rr3.assertNotInLocRib(PFX_C4, 'rr3’s Loc-RIB has no route for c4’s prefix');
    assert.deepEqual(await frrPaths(lab, 'c4', PFX_C3), [], 'c4 never learns c3’s route');
    assert.deepEqual(await birdPaths(lab, 'c3', PFX_C4), [], 'c3 never learns c4’s route');
    // Each client still has its own reflector's view otherwise: the sessions are fine.
    assert.equal(await c3.sessionState(RR3), 'established');
    assert.equal(await c4.sessionState(RR4), 'established');
  });

  test('the fix, one cluster ID per reflector (`tsbgp reload`, no session reset): client routes cross both ways', async () => {
    const sessions = async (): Promise<NeighborRow[]> => [
      ...(await rr3.neighbors()),
      ...(await rr4.neighbors()),
    ];
    const before = await sessions();
    await rr3.reload(splitConfig('rr3', ID3));
    await rr4.reload(splitConfig('rr4', ID4));

    // c4 gets c3's route through rr3 then rr4: CLUSTER_LIST is rr4's ID, then rr3's (§8 prepends).
    const atC4 = await waitFor('c4 holds c3’s route with CLUSTER_LIST [ID4, ID3]', async () => {
      const p = (await frrPaths(lab, 'c4', PFX_C3))[0];
      return p?.clusterList?.join(' ') === `${ID4} ${ID3}` ? p : undefined;
    });
    assert.equal(atC4.from, RR4);
    assert.equal(atC4.nextHop, C3, 'next hop kept across two reflectors');
    assert.equal(atC4.originatorId, C3, 'ORIGINATOR_ID set once, by the first reflector');
    assert.equal(atC4.asPath, '');
    const atC3 = await waitFor('c3 holds c4’s route with CLUSTER_LIST [ID3, ID4]', async () => {
      const p = (await birdPaths(lab, 'c3', PFX_C4))[0];
      return p?.clusterList?.join(' ') === `${ID3} ${ID4}` ? p : undefined;
    });
    assert.equal(atC3.nextHop, C4);
    assert.equal(atC3.originatorId, C4);

    // In rr4: the path from rr3 carries rr3's new ID only.
    const d = await rr4.detail(PFX_C3);
    assert.ok(d, 'rr4’s Loc-RIB now has c3’s prefix');
    assert.equal(d.paths.length, 1);
    assert.ok(d.paths[0]?.from.startsWith('rr3 '));
    assert.deepEqual(d.paths[0]?.clusterList, [ID3]);
    assert.equal(d.paths[0]?.originatorId, C3);
    // The rr3's own route now reaches c4 with rr4's new ID.
    await waitFor(
      'c4 holds rr3’s route with CLUSTER_LIST [ID4]',
      async () => (await frrPaths(lab, 'c4', PFX_RR3))[0]?.clusterList?.join(' ') === ID4,
    );
    // rr4 learned c3's route from a non-client: it goes to clients only (§6), never back to rr3.
    assert.ok(wire);
    assert.equal(
      (await updatesOnWire(wire.file)).some((u) => u.src === RR4 && u.dst === RR3 && u.nlri.includes(PFX_C3)),
      false,
    );

    // Cluster IDs changed in place: every session stayed up (same state, same `since`).
    const afterReload = await sessions();
    assert.deepEqual(
      afterReload.map((n) => [n.name, n.state, n.since]),
      before.map((n) => [n.name, n.state, n.since]),
    );
    assert.equal(await c3.sessionState(RR3), 'established');
  });
});

// ---- Lab rrl: a route that comes back to its cluster --------------------------------------------

const RA = '10.7.0.1';
const RB = '10.7.0.2';
const RC = '10.7.0.3';
const KA = '10.7.0.11';
const KB = '10.7.0.12';
const PFX_KA = '10.71.1.0/24';

/** ra: client ka; rb and rc are non-clients. Cluster ID: the router-id (RFC 4456 §7 default). */
const RA_CONFIG = `asn: 65000
routerId: ${RA}
listen: { addresses: [${RA}] }
routeReflector: {}
neighbors:
  - { name: ka, address: ${KA}, asn: 65000, localAddress: ${RA}, holdTime: 9, routeReflectorClient: true }
  - { name: rb, address: ${RB}, asn: 65000, localAddress: ${RA}, holdTime: 9 }
  - { name: rc, address: ${RC}, asn: 65000, localAddress: ${RA}, holdTime: 9 }
`;

/** rb: ra, rc and kb are clients; paths from rc get LOCAL_PREF 200. */
const RB_CONFIG = `asn: 65000
routerId: ${RB}
listen: { addresses: [${RB}] }
routeReflector: {}
neighbors:
  - { name: ra, address: ${RA}, asn: 65000, localAddress: ${RB}, holdTime: 9, routeReflectorClient: true }
  - name: rc
    address: ${RC}
    asn: 65000
    localAddress: ${RB}
    holdTime: 9
    routeReflectorClient: true
    import: [prefer]
  - { name: kb, address: ${KB}, asn: 65000, localAddress: ${RB}, holdTime: 9, routeReflectorClient: true }
policies:
  prefer:
    terms:
      - set: { localPref: 200 }
        action: accept
`;

describe('three reflectors in different clusters: a route reflected back into its own cluster is dropped', {
  skip: !canUseNamespaces() && 'needs root',
}, () => {
  const lab = new Lab('rrl');
  const ra = new TsbgpInstance(lab, 'ra');
  const rb = new TsbgpInstance(lab, 'rb');
  let wire: Tcpdump | undefined;

  before(async () => {
    await buildLan(lab, [
      ['ra', RA],
      ['rb', RB],
      ['rc', RC],
      ['ka', KA],
      ['kb', KB],
    ]);
    wire = await captureBetween(lab, 'ra', RB);
    await startBird2(lab, 'ka', {
      localAs: 65000,
      routerId: KA,
      neighbors: [{ address: RA, remoteAs: 65000, localAddress: KA, holdTime: 9 }],
      originate: [{ prefix: PFX_KA }],
    });
    await startFrr(lab, 'kb', {
      localAs: 65000,
      routerId: KB,
      neighbors: [{ address: RB, remoteAs: 65000, localAddress: KB, holdTime: 9 }],
    });
    // A BIRD 2 reflector (cluster ID = its router-id) with both tsbgp reflectors as clients.
    await startBirdReflector(lab, 'rc', {
      asn: 65000,
      routerId: RC,
      localAddress: RC,
      clients: [RA, RB],
    });
    ra.start(RA_CONFIG);
    rb.start(RB_CONFIG);
    await ra.waitEstablished(3);
    await rb.waitEstablished(3);
  });

  after(async () => {
    await wire?.stop();
    await lab.dispose();
  });

  test('ra → rc → rb → ra: rb’s copy carries ra’s cluster ID, and ra drops it although it has a higher LOCAL_PREF', async () => {
    // rb holds ka's route twice: from ra (CLUSTER_LIST [ra]) and through rc ([rc, ra], LOCAL_PREF
    // 200 by rb's import policy), and selects the one through rc.
    const atRb = await waitFor('rb holds ka’s route from ra and from rc', async () => {
      const d = await rb.detail(PFX_KA);
      return d !== undefined && d.paths.length === 2 ? d : undefined;
    });
    const viaRc = atRb.paths.find((p) => p.from.startsWith('rc '));
    const viaRa = atRb.paths.find((p) => p.from.startsWith('ra '));
    assert.ok(viaRc && viaRa);
    assert.deepEqual(viaRa.clusterList, [RA]);
    assert.deepEqual(viaRc.clusterList, [RC, RA], 'BIRD prepended its cluster ID (its router-id)');
    assert.equal(viaRc.originatorId, KA);
    assert.equal(viaRc.best, true, 'LOCAL_PREF 200 wins');
    assert.equal(viaRa.lostAt, 'local-pref');

    // rb reflects its best path (from its client rc) to every other client, ra included. Client kb
    // shows what that UPDATE carries: rb's cluster ID prepended, ra's still in the list.
    const atKb = await waitFor(
      'kb holds ka’s route through rb',
      async () => (await frrPaths(lab, 'kb', PFX_KA))[0],
    );
    assert.deepEqual(atKb.clusterList, [RB, RC, RA]);
    assert.equal(atKb.originatorId, KA, 'ORIGINATOR_ID is ka, not ra: only CLUSTER_LIST can catch this loop');
    assert.equal(atKb.nextHop, KA);

    // ra received it and dropped it (RFC 4456 §8): its Loc-RIB holds only ka's own path. Accepted,
    // the copy would have won on LOCAL_PREF and ra would route ka's prefix round the ring.
    assert.ok(wire);
    const back = await updateOnWire(wire, RB, RA, PFX_KA);
    assert.deepEqual(back.clusterList, [RB, RC, RA], 'the UPDATE rb sent ra carries ra’s own cluster ID');
    assert.equal(back.originatorId, KA);
    await sleep(1000);
    const atRa = await ra.detail(PFX_KA);
    assert.ok(atRa);
    assert.deepEqual(
      atRa.paths.map((p) => [p.from.split(' ')[0], p.best]),
      [['ka', true]],
    );
  });
});
