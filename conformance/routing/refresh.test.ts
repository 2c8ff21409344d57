// Issue #4 §3: inbound soft reconfiguration by route refresh, and maximum prefixes per family,
// against real peers on one LAN: `tsbgp run` (softReconfigurationInbound off, the default) with an
// FRR and a BIRD 2 eBGP neighbour, each announcing three prefixes.
//   - An import policy change on `tsbgp reload` sends ROUTE-REFRESH (RFC 2918) to both peers (seen
//     on the wire and, for FRR, in its own counters); FRR and BIRD answer between BoRR and EoRR
//     (RFC 7313, both advertise enhanced route refresh); the newly accepted prefixes appear, the
//     newly rejected ones go, and no session is reset.
//   - `tsbgp neighbor X refresh-in|refresh-out` do the same on demand without a reload.
//   - A per-family maximum-prefix set by reload stops the FRR session when IPv4 unicast alone
//     exceeds its own limit (the sum with the IPv6 limit would not), with a Cease subcode 1 whose
//     data is that family's AFI/SAFI and limit (RFC 4486 §4), as captured and as FRR reports it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, runOk, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { type PeerDriver, startBird2, startFrr } from '../lib/peers/index.ts';
import { startTcpdump, type Tcpdump } from '../lib/peers/tcpdump.ts';
import { buildLan, TsbgpNode } from './harness.ts';

const TSB = '10.5.0.1';
const FRR = '10.5.0.2';
const BIRD = '10.5.0.3';

const FRR_ROUTES = ['10.71.0.0/24', '10.71.1.0/24', '10.71.2.0/24'];
const BIRD_ROUTES = ['10.72.0.0/24', '10.72.1.0/24', '10.72.2.0/24'];

/** tsbgp's config: import accepts `wanted`; `frrExtra` adds lines to the FRR neighbour. */
function config(wanted: readonly string[], frrExtra = ''): string {
  return `asn: 65001
routerId: ${TSB}
listen:
  addresses: [${TSB}]
neighbors:
  - name: frr
    address: ${FRR}
    asn: 65002
    localAddress: ${TSB}
    holdTime: 9
    import: [in]
    export: [out]
    # FRR (up to at least 10.0, FRRouting/frr#16126) answers a ROUTE-REFRESH under enhanced route
    # refresh only after its End-of-RIB, which it sends only to peers advertising graceful restart.
    gracefulRestart: helper
${frrExtra}  - { name: bird, address: ${BIRD}, asn: 65003, localAddress: ${TSB}, holdTime: 9, import: [in], export: [out] }
prefixLists:
  wanted: [${wanted.join(', ')}]
policies:
  in: { terms: [{ match: { prefixList: wanted }, action: accept }], default: reject }
  out: { terms: [{ action: accept }] }
originate: [10.99.5.0/24]
`;
}

interface Counters {
  update: number;
  routeRefresh: number;
}
interface NeighborJson {
  name: string;
  state: string;
  since: number;
  counters?: { sent: Counters; received: Counters };
  lastError?: { direction: string; text: string };
}
interface FrrNeighborJson {
  bgpState?: string;
  connectionsEstablished?: number;
  lastResetDueTo?: string;
  lastNotificationReason?: string;
  lastErrorCodeSubcode?: string;
  messageStats?: { routeRefreshRecv?: number; routeRefreshSent?: number };
  neighborCapabilities?: Record<string, unknown>;
}

/** One BGP message of a capture: sender, receiver, type and (ROUTE-REFRESH) subtype / (NOTIFICATION) data. */
interface WireMessage {
  src: string;
  dst: string;
  type: number;
  subtype?: number;
  data?: string;
}

/** The BGP messages of a capture, in order (tshark reassembles segments; one line per frame). */
async function wireMessages(file: string): Promise<WireMessage[]> {
  const text = await runOk('tshark', [
    '-r',
    file,
    '-Y',
    'bgp.type == 5 || bgp.type == 3',
    '-T',
    'fields',
    '-e',
    'ip.src',
    '-e',
    'ip.dst',
    '-e',
    'bgp.type',
    '-e',
    'bgp.route_refresh.subtype',
    '-e',
    'bgp.notify.minor_data',
  ]);
  const out: WireMessage[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [src = '', dst = '', types = '', subtypes = '', data = ''] = line.split('\t');
    const subs = subtypes ? subtypes.split(',').map(Number) : [];
    for (const t of types.split(',').map(Number)) {
      if (t === 5) out.push({ src, dst, type: 5, subtype: subs.shift() ?? 0 });
      else if (t === 3) out.push({ src, dst, type: 3, data: data.replaceAll(':', '') });
    }
  }
  return out;
}

describe('soft reconfiguration inbound by route refresh, and maximum prefixes per family, with FRR and BIRD 2', {
  skip: !canUseNamespaces() && 'needs root',
}, () => {
  const lab = new Lab('rfr');
  const tsbgp = new TsbgpNode(lab);
  const cli = tsbgp.cli.bind(tsbgp);
  let daemon: SpawnedProcess;
  let capture: Tcpdump;
  const peers = new Map<string, PeerDriver>();

  const vtysh = (command: string): Promise<string> =>
    lab.exec('frr', 'vtysh', ['--vty_socket', join(lab.dir, 'frr-frr'), '-d', 'bgpd', '-c', command]);
  const vtysh2 = (...commands: string[]): Promise<string> =>
    lab.exec('frr', 'vtysh', [
      '--vty_socket',
      join(lab.dir, 'frr-frr'),
      '-d',
      'bgpd',
      ...commands.flatMap((c) => ['-c', c]),
    ]);
  const frrNeighbor = async (): Promise<FrrNeighborJson> => {
    const j = JSON.parse(await vtysh(`show bgp neighbors ${TSB} json`)) as Record<string, FrrNeighborJson>;
    const n = j[TSB];
    assert.ok(n, 'FRR lists tsbgp as a neighbour');
    return n;
  };
  const neighbors = async (): Promise<Map<string, NeighborJson>> => {
    const r = await cli('show', 'neighbors', '--json');
    assert.equal(r.code, 0, r.stderr);
    return new Map((JSON.parse(r.stdout) as NeighborJson[]).map((n) => [n.name, n]));
  };
  /** The peers' prefixes in tsbgp's Loc-RIB. */
  const locRib = async (): Promise<string[]> => {
    const r = await cli('show', 'routes', '--json');
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { prefix: string }[])
      .map((x) => x.prefix)
      .filter((p) => p.startsWith('10.71.') || p.startsWith('10.72.'))
      .sort();
  };
  const reload = async (text: string): Promise<void> => {
    writeFileSync(tsbgp.cfgFile, text);
    const r = await cli('reload');
    assert.equal(r.code, 0, `tsbgp reload: ${r.stderr}${r.stdout}`);
  };
  const refreshesSent = (msgs: WireMessage[], to: string): WireMessage[] =>
    msgs.filter((m) => m.type === 5 && m.src === TSB && m.dst === to && m.subtype === 0);
  const demarcations = (msgs: WireMessage[], from: string): number[] =>
    msgs.filter((m) => m.type === 5 && m.src === from && m.dst === TSB).map((m) => m.subtype ?? 0);

  before(async () => {
    await buildLan(lab, [
      ['tsb', TSB],
      ['frr', FRR],
      ['bird', BIRD],
    ]);
    capture = await startTcpdump(lab, 'tsb', 'lan', join(lab.dir, 'refresh.pcap'));
    const nb = { address: TSB, holdTime: 9 };
    peers.set(
      'frr',
      await startFrr(lab, 'frr', {
        localAs: 65002,
        routerId: FRR,
        neighbors: [{ ...nb, remoteAs: 65001, localAddress: FRR }],
        originate: FRR_ROUTES.map((prefix) => ({ prefix })),
      }),
    );
    // `frr defaults traditional` holds eBGP UPDATEs for a 30 s advertisement interval, which would
    // delay FRR's answer to a ROUTE-REFRESH by up to that long.
    await vtysh2('configure terminal', 'router bgp 65002', `neighbor ${TSB} advertisement-interval 0`);
    peers.set(
      'bird',
      await startBird2(lab, 'bird', {
        localAs: 65003,
        routerId: BIRD,
        neighbors: [{ ...nb, remoteAs: 65001, localAddress: BIRD }],
        originate: BIRD_ROUTES.map((prefix) => ({ prefix })),
      }),
    );
    daemon = tsbgp.start(config(['10.71.0.0/24', '10.71.1.0/24', '10.72.0.0/24', '10.72.1.0/24']));
    await tsbgp.waitEstablished('both sessions Established', 2);
  });

  after(async () => {
    await capture?.stop().catch(() => {});
    await lab.dispose();
  });

  test('an import policy change on reload sends ROUTE-REFRESH; routes follow the new policy without a session reset', async (t) => {
    await waitFor(
      'the first policy’s routes in the Loc-RIB',
      async () =>
        (await locRib()).join() === '10.71.0.0/24,10.71.1.0/24,10.72.0.0/24,10.72.1.0/24' ? true : undefined,
      30_000,
    );
    const caps = (await frrNeighbor()).neighborCapabilities ?? {};
    assert.ok(
      Object.keys(caps).some((k) => /enhancedRouteRefresh/i.test(k)),
      `FRR negotiated enhanced route refresh: ${Object.keys(caps).join(', ')}`,
    );
    const before = await neighbors();
    const frrBefore = await frrNeighbor();
    const t0 = Date.now();
    await reload(config(['10.71.1.0/24', '10.71.2.0/24', '10.72.1.0/24', '10.72.2.0/24']));
    let last: string[] = [];
    const rib = await waitFor(
      'the new policy’s routes in the Loc-RIB',
      async () => {
        last = await locRib();
        return last.join() === '10.71.1.0/24,10.71.2.0/24,10.72.1.0/24,10.72.2.0/24' ? last : undefined;
      },
      20_000,
      100,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; Loc-RIB has ${last.join(', ')}`);
    });
    const converged = Date.now() - t0;
    assert.equal(rib.length, 4);
    // Sessions untouched: same state-change time on our side, same connection count at FRR.
    const now = await neighbors();
    for (const name of ['frr', 'bird']) {
      assert.equal(now.get(name)?.state, 'Established');
      assert.equal(now.get(name)?.since, before.get(name)?.since, `${name}: no state change`);
      assert.equal(
        now.get(name)!.counters!.sent.routeRefresh,
        before.get(name)!.counters!.sent.routeRefresh + 1,
        `${name}: one ROUTE-REFRESH (IPv4 unicast) sent`,
      );
    }
    const frrNow = await frrNeighbor();
    assert.equal(frrNow.connectionsEstablished, frrBefore.connectionsEstablished, 'FRR saw no new session');
    assert.equal(
      frrNow.messageStats?.routeRefreshRecv,
      (frrBefore.messageStats?.routeRefreshRecv ?? 0) + 1,
      'FRR counted the ROUTE-REFRESH',
    );
    // FRR and BIRD answered between BoRR and EoRR (RFC 7313), which tsbgp counted.
    for (const name of ['frr', 'bird']) {
      assert.equal(
        now.get(name)!.counters!.received.routeRefresh - before.get(name)!.counters!.received.routeRefresh,
        2,
        `${name}: BoRR + EoRR received`,
      );
    }
    // The wire agrees: a normal ROUTE-REFRESH for AFI 1 to each peer, BoRR/EoRR back.
    const msgs = await waitFor(
      'the capture shows the refresh',
      async () => {
        const m = await wireMessages(capture.file);
        return refreshesSent(m, FRR).length >= 1 && refreshesSent(m, BIRD).length >= 1 ? m : undefined;
      },
      10_000,
      500,
    );
    assert.deepEqual(demarcations(msgs, FRR), [1, 2], 'FRR: BoRR then EoRR');
    assert.deepEqual(demarcations(msgs, BIRD), [1, 2], 'BIRD: BoRR then EoRR');
    t.diagnostic(`reload to new Loc-RIB without a reset: ${converged} ms`);
  });

  test('tsbgp neighbor X refresh-in and refresh-out, with --json', async () => {
    const before = await neighbors();
    const birdUpdatesAtPeer = before.get('bird')!.counters!.sent.update;
    const r = await cli('neighbor', 'bird', 'refresh-in', '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      direction: string;
      refreshed: { session: string; families: string[] }[];
    };
    assert.deepEqual(j.refreshed, [{ session: BIRD, families: ['ipv4-unicast'] }]);
    await waitFor(
      'BIRD’s BoRR/EoRR answer',
      async () =>
        (await neighbors()).get('bird')!.counters!.received.routeRefresh >=
        before.get('bird')!.counters!.received.routeRefresh + 2,
      10_000,
    );
    const out = await cli('neighbor', FRR, 'refresh-out');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Adj-RIB-Out re-sent: ipv4-unicast/);
    await waitFor(
      'FRR got our table again',
      async () =>
        (await neighbors()).get('frr')!.counters!.sent.update > before.get('frr')!.counters!.sent.update,
      10_000,
    );
    // Our own route is still at FRR, and the Loc-RIB did not change.
    assert.ok((await peers.get('frr')!.routesFrom(TSB)).some((x) => x.prefix === '10.99.5.0/24'));
    assert.equal((await locRib()).length, 4);
    const now = await neighbors();
    assert.equal(now.get('bird')?.since, before.get('bird')?.since);
    assert.equal(now.get('frr')?.since, before.get('frr')?.since);
    assert.ok(now.get('bird')!.counters!.sent.update >= birdUpdatesAtPeer);
  });

  test('maximum prefixes per family: IPv4 unicast over its own limit stops the session with Cease 1 naming AFI 1/SAFI 1 and the limit', async () => {
    // 2 accepted IPv4 prefixes: over the IPv4 limit of 1, under the sum with the IPv6 limit.
    await reload(
      config(
        ['10.71.1.0/24', '10.71.2.0/24', '10.72.1.0/24', '10.72.2.0/24'],
        `    maxPrefix:
      ipv4-unicast: { limit: 1 }
      ipv6-unicast: { limit: 1000 }
`,
      ),
    );
    const frr = await waitFor(
      'tsbgp stopped the FRR session',
      async () => {
        const n = (await neighbors()).get('frr');
        return n && n.state !== 'Established' && n.lastError ? n : undefined;
      },
      15_000,
    );
    assert.equal(frr.lastError?.direction, 'sent');
    assert.equal(frr.lastError?.text, 'Cease / Maximum Number of Prefixes Reached (ipv4-unicast, limit 1)');
    assert.equal((await neighbors()).get('bird')?.state, 'Established', 'BIRD has no limit');
    const atFrr = await waitFor('FRR recorded the NOTIFICATION', async () => {
      const n = await frrNeighbor();
      return n.lastErrorCodeSubcode || n.lastNotificationReason ? n : undefined;
    });
    assert.equal(atFrr.lastErrorCodeSubcode, '0601', JSON.stringify(atFrr));
    assert.match(
      `${atFrr.lastNotificationReason ?? ''} ${atFrr.lastResetDueTo ?? ''}`,
      /Maximum Number of Prefixes/i,
    );
    const cease = await waitFor('the Cease in the capture', async () =>
      (await wireMessages(capture.file)).find((m) => m.type === 3 && m.src === TSB && m.dst === FRR),
    );
    // RFC 4486 §4: AFI 1 (2 octets), SAFI 1 (1), limit 1 (4).
    assert.equal(cease.data, '00010100000001');
  });

  test('the daemon is still running', () => {
    assert.equal(daemon.child.exitCode, null);
  });
});
