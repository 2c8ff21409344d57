// Regenerates the BGP capture and MRT fixtures in conformance/fixtures/ by running sessions
// between the real implementations in network namespaces, with tcpdump on the link.
//
//   node --import tsx conformance/capture/capture.ts [scenario ...]    (as root)
//
// With no argument every scenario runs. Each scenario is a short, scripted session so the files
// stay small (well under 200 KB); conformance/fixtures/README.md describes what each one holds.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, runOk, waitFor } from '../lib/lab.ts';
import { type PeerDriver, type PeerStartOptions, startExabgp, startPeer } from '../lib/peers/index.ts';
import { startTcpdump, type Tcpdump } from '../lib/peers/tcpdump.ts';
import type { Implementation } from '../lib/peers/types.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const PCAP_DIR = join(FIXTURES, 'pcap');
const MRT_DIR = join(FIXTURES, 'mrt');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function twoNodes(lab: Lab): Promise<void> {
  await lab.addNode('a');
  await lab.addNode('b');
  await lab.link(
    { node: 'a', ifname: 'eth0', addrs: ['10.0.0.1/24', 'fd00::1/64'] },
    { node: 'b', ifname: 'eth0', addrs: ['10.0.0.2/24', 'fd00::2/64'] },
  );
}

async function established(p: PeerDriver, neighbor: string): Promise<void> {
  await waitFor(
    `${p.implementation} session to ${neighbor}`,
    async () => (await p.sessionState(neighbor)) === 'established',
  );
}

async function routesFrom(p: PeerDriver, neighbor: string, count: number): Promise<void> {
  await waitFor(`${count} routes at ${p.implementation} from ${neighbor}`, async () => {
    const rs = await p.routes();
    return rs.filter((r) => r.from === neighbor).length >= count;
  });
}

/** Router ids by node: a is 192.0.2.1, b is 192.0.2.2. */
const ROUTER_ID = { a: '192.0.2.1', b: '192.0.2.2' } as const;

/** The two linked nodes with tcpdump on a's `ifname` (eth0, or any for Linux cooked SLL2). */
async function captureOnLink(lab: Lab, out: string, ifname = 'eth0'): Promise<Tcpdump> {
  await twoNodes(lab);
  return startTcpdump(lab, 'a', ifname, out);
}

/** Starts `impl` on `node`, with that node's router id. */
function startOn(
  lab: Lab,
  node: keyof typeof ROUTER_ID,
  impl: Implementation,
  localAs: number,
  neighbors: PeerStartOptions['neighbors'],
  originate: PeerStartOptions['originate'],
  extra: Partial<PeerStartOptions> = {},
): Promise<PeerDriver> {
  return startPeer[impl](lab, node, opts(localAs, ROUTER_ID[node], neighbors, originate, extra));
}

function opts(
  localAs: number,
  routerId: string,
  neighbors: PeerStartOptions['neighbors'],
  originate: PeerStartOptions['originate'],
  extra: Partial<PeerStartOptions> = {},
): PeerStartOptions {
  return { localAs, routerId, neighbors, originate, ...extra };
}

type Scenario = (lab: Lab, out: string) => Promise<void>;

/**
 * eBGP over IPv4 between BIRD 2 (4-octet AS 4200000001) and FRR (AS 65002): graceful restart
 * capability, communities / extended / large communities, MED; then a ROUTE-REFRESH, a withdrawal,
 * and an administrative shutdown carrying an RFC 9003 message.
 */
const ebgpV4Bird2Frr: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  const bird = await startOn(
    lab,
    'a',
    'bird2',
    4200000001,
    [
      {
        address: '10.0.0.2',
        localAddress: '10.0.0.1',
        remoteAs: 65002,
        gracefulRestart: true,
        holdTime: 60,
      },
    ],
    [
      {
        prefix: '10.1.0.0/24',
        communities: ['65000:1', '65535:65281'],
        largeCommunities: ['4200000001:1:2'],
        extCommunities: ['rt:65000:7'],
        med: 10,
      },
      { prefix: '10.1.1.0/24', communities: ['65000:2'], med: 10 },
      { prefix: '10.1.128.0/17' },
    ],
  );
  const frr = await startOn(
    lab,
    'b',
    'frr',
    65002,
    [
      {
        address: '10.0.0.1',
        localAddress: '10.0.0.2',
        remoteAs: 4200000001,
        gracefulRestart: true,
        holdTime: 90,
      },
    ],
    [
      {
        prefix: '10.2.0.0/24',
        communities: ['65002:100'],
        largeCommunities: ['65002:0:1', '65002:0:2'],
        med: 50,
      },
      { prefix: '10.2.4.0/22' },
    ],
  );
  await established(bird, '10.0.0.2');
  await routesFrom(bird, '10.0.0.2', 2);
  await routesFrom(frr, '10.0.0.1', 3);
  await bird.routeRefresh('10.0.0.2');
  await sleep(1500);
  await bird.shutdownNeighbor('10.0.0.2', 'maintenance: tsbgp capture, back in 5 minutes');
  await sleep(1000);
  await cap.stop();
};

/** eBGP over IPv6 transport carrying IPv6 unicast, GoBGP (AS 65001) and OpenBGPD (AS 65002), captured with -i any (SLL2). */
const ebgpV6GobgpOpenbgpd: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out, 'any');
  const gobgp = await startOn(
    lab,
    'a',
    'gobgp',
    65001,
    [{ address: 'fd00::2', localAddress: 'fd00::1', remoteAs: 65002 }],
    [
      { prefix: '2001:db8:1::/48', communities: ['65001:1'], largeCommunities: ['65001:1:1'], med: 5 },
      { prefix: '2001:db8:1:ff00::/56' },
    ],
  );
  const obgp = await startOn(
    lab,
    'b',
    'openbgpd',
    65002,
    [{ address: 'fd00::1', localAddress: 'fd00::2', remoteAs: 65001 }],
    [{ prefix: '2001:db8:2::/48', communities: ['65002:7'], med: 70 }],
  );
  await established(gobgp, 'fd00::2');
  await routesFrom(gobgp, 'fd00::2', 1);
  await routesFrom(obgp, 'fd00::1', 2);
  await obgp.routeRefresh('fd00::1');
  await sleep(1000);
  await obgp.shutdownNeighbor('fd00::1', 'OpenBGPD capture done');
  await sleep(1000);
  await cap.stop();
};

/** iBGP (AS 65001) between BIRD 2 and GoBGP with ADD-PATH send/receive for IPv4 and IPv6 over IPv4. */
const ibgpAddPathBird2Gobgp: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  const bird = await startOn(
    lab,
    'a',
    'bird2',
    65001,
    [
      {
        address: '10.0.0.2',
        localAddress: '10.0.0.1',
        remoteAs: 65001,
        addPath: 'both',
        families: ['ipv4', 'ipv6'],
        nextHop6: 'fd00::1',
      },
    ],
    [
      { prefix: '10.1.0.0/24', communities: ['65001:10'], localPref: 200 },
      { prefix: '10.1.2.0/23', largeCommunities: ['65001:2:3'] },
      { prefix: 'fd01:1::/64', communities: ['65001:11'] },
    ],
  );
  const gobgp = await startOn(
    lab,
    'b',
    'gobgp',
    65001,
    [
      {
        address: '10.0.0.1',
        localAddress: '10.0.0.2',
        remoteAs: 65001,
        addPath: 'both',
        families: ['ipv4', 'ipv6'],
      },
    ],
    [
      { prefix: '10.2.0.0/24', communities: ['65001:20'], med: 1 },
      { prefix: '10.2.1.0/24', communities: ['65001:21'] },
    ],
  );
  await established(bird, '10.0.0.2');
  await routesFrom(bird, '10.0.0.2', 2);
  await routesFrom(gobgp, '10.0.0.1', 2);
  await sleep(500);
  await gobgp.shutdownNeighbor('10.0.0.1', 'iBGP add-path capture done');
  await sleep(1000);
  await cap.stop();
};

/**
 * A 2-octet-only ExaBGP (AS 65002, no RFC 6793 capability) and BIRD 2 (AS 4200000001): BIRD's
 * OPEN carries AS_TRANS, its UPDATEs AS_PATH with 23456 plus AS4_PATH; ends with ExaBGP's Cease.
 */
const asTransExabgpBird2: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  const bird = await startOn(
    lab,
    'a',
    'bird2',
    4200000001,
    [{ address: '10.0.0.2', localAddress: '10.0.0.1', remoteAs: 65002 }],
    [{ prefix: '10.1.0.0/24', communities: ['65000:1'], largeCommunities: ['4200000001:0:1'], med: 10 }],
  );
  const exa = await startOn(
    lab,
    'b',
    'exabgp',
    65002,
    [{ address: '10.0.0.1', localAddress: '10.0.0.2', remoteAs: 23456 }],
    [
      { prefix: '10.2.0.0/24', communities: ['65002:1'], med: 20 },
      { prefix: '10.2.1.0/24', largeCommunities: ['65002:1:1'] },
    ],
    { fourOctetAs: false },
  );
  await established(bird, '10.0.0.2');
  await routesFrom(bird, '10.0.0.2', 2);
  await routesFrom(exa, '10.0.0.1', 1);
  await exa.shutdownNeighbor('10.0.0.1');
  await sleep(1000);
  await cap.stop();
};

/**
 * ExaBGP sends UPDATEs with raw attributes to BIRD 2: an unknown optional transitive attribute
 * (passed on, RFC 4271 §5), a LARGE_COMMUNITIES of 5 bytes and a MED of 2 bytes (RFC 7606
 * treat-as-withdraw), COMMUNITIES without the Optional flag (RFC 7606 §3 c), then a valid one.
 * BIRD keeps the session up throughout.
 */
const malformedExabgpBird2: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  const bird = await startOn(
    lab,
    'a',
    'bird2',
    65001,
    [{ address: '10.0.0.2', localAddress: '10.0.0.1', remoteAs: 65002 }],
    [{ prefix: '10.1.0.0/24' }],
  );
  const exa = await startExabgp(
    lab,
    'b',
    opts(65002, '192.0.2.2', [{ address: '10.0.0.1', localAddress: '10.0.0.2', remoteAs: 65001 }], []),
  );
  await established(bird, '10.0.0.2');
  await routesFrom(exa, '10.0.0.1', 1);
  const raw = (code: number, flags: number, hex: string) => ({ code, flags, data: Buffer.from(hex, 'hex') });
  await exa.announce('10.0.0.1', { prefix: '10.9.1.0/24', communities: ['65002:1'] }, [
    raw(0xf0, 0xc0, 'deadbeef'),
  ]);
  await exa.announce('10.0.0.1', { prefix: '10.9.2.0/24' }, [raw(0x20, 0xc0, '0102030405')]);
  await exa.announce('10.0.0.1', { prefix: '10.9.3.0/24' }, [raw(0x04, 0x80, '0001')]);
  await exa.announce('10.0.0.1', { prefix: '10.9.4.0/24' }, [raw(0x08, 0x40, 'fdea0001')]);
  await exa.announce('10.0.0.1', { prefix: '10.9.5.0/24', largeCommunities: ['65002:5:5'] });
  await routesFrom(bird, '10.0.0.2', 2);
  await sleep(1000);
  if ((await bird.sessionState('10.0.0.2')) !== 'established') throw new Error('BIRD dropped the session');
  await exa.shutdownNeighbor('10.0.0.1');
  await sleep(500);
  await cap.stop();
};

/**
 * IPv4 unicast over an IPv6 session with RFC 8950 extended next hop, FRR and BIRD 2: MP_REACH_NLRI
 * for AFI 1 with an IPv6 next hop.
 */
const v4OverV6FrrBird2: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  const n = (address: string, localAddress: string, remoteAs: number) => ({
    address,
    localAddress,
    remoteAs,
    families: ['ipv4', 'ipv6'] as ('ipv4' | 'ipv6')[],
  });
  const bird = await startOn(
    lab,
    'a',
    'bird2',
    65001,
    [n('fd00::2', 'fd00::1', 65002)],
    [{ prefix: '10.1.0.0/24', communities: ['65001:4'] }, { prefix: '2001:db8:1::/48' }],
  );
  const frr = await startOn(
    lab,
    'b',
    'frr',
    65002,
    [n('fd00::1', 'fd00::2', 65001)],
    [{ prefix: '10.2.0.0/24', med: 7 }, { prefix: '2001:db8:2::/48' }],
  );
  await established(bird, 'fd00::2');
  await routesFrom(bird, 'fd00::2', 2);
  await routesFrom(frr, 'fd00::1', 2);
  await bird.shutdownNeighbor('fd00::2', 'RFC 8950 capture done');
  await sleep(500);
  await cap.stop();
};

/** FRR configured with the wrong AS for its neighbour: BIRD 2 answers the OPEN with NOTIFICATION 2/2 (Bad Peer AS). */
const badPeerAs: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  await startOn(
    lab,
    'a',
    'bird2',
    65001,
    [{ address: '10.0.0.2', localAddress: '10.0.0.1', remoteAs: 65002, passive: true }],
    [],
  );
  await startOn(
    lab,
    'b',
    'frr',
    65003,
    [{ address: '10.0.0.1', localAddress: '10.0.0.2', remoteAs: 65001 }],
    [],
  );
  await waitFor('a NOTIFICATION on the wire', async () => {
    await sleep(500);
    const r = await runOk('tshark', ['-r', out, '-Y', 'bgp.type == 3', '-T', 'fields', '-e', 'frame.number']);
    return r.trim() !== '';
  });
  await cap.stop();
};

/**
 * OpenBGPD (hold time 3 s) and BIRD 1.6 over IPv4: once established, BIRD is frozen, so
 * OpenBGPD's hold timer expires and it sends NOTIFICATION 4/0.
 */
const holdTimerBird1Openbgpd: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  const obgp = await startOn(
    lab,
    'a',
    'openbgpd',
    65001,
    [{ address: '10.0.0.2', localAddress: '10.0.0.1', remoteAs: 65002, holdTime: 3 }],
    [{ prefix: '10.1.0.0/24', communities: ['65001:3'] }],
  );
  const bird1 = await startOn(
    lab,
    'b',
    'bird1',
    65002,
    [{ address: '10.0.0.1', localAddress: '10.0.0.2', remoteAs: 65001, holdTime: 3 }],
    [{ prefix: '10.2.0.0/24', communities: ['65002:3'], med: 3 }],
  );
  await established(obgp, '10.0.0.2');
  await routesFrom(obgp, '10.0.0.2', 1);
  await routesFrom(bird1, '10.0.0.1', 1);
  // BIRD is frozen (SIGSTOP): its kernel still acknowledges OpenBGPD's segments, so OpenBGPD's
  // send queue stays empty and its NOTIFICATION reaches the wire when the hold timer fires.
  const pids = await runOk('ip', ['netns', 'pids', lab.nsName('b')]);
  for (const pid of pids.split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGSTOP');
  await waitFor(
    'hold timer expiry',
    async () => (await obgp.sessionState('10.0.0.2')) !== 'established',
    15_000,
  );
  await sleep(1000);
  await cap.stop();
};

/** BIRD 1.6 (bird6) and FRR over IPv6, eBGP with graceful restart, and FRR's shutdown message. */
const ebgpV6Bird1Frr: Scenario = async (lab, out) => {
  const cap = await captureOnLink(lab, out);
  const bird1 = await startOn(
    lab,
    'a',
    'bird1',
    65001,
    [{ address: 'fd00::2', localAddress: 'fd00::1', remoteAs: 65002, gracefulRestart: true }],
    [{ prefix: '2001:db8:10::/48', communities: ['65001:6'], largeCommunities: ['65001:6:6'], med: 6 }],
  );
  const frr = await startOn(
    lab,
    'b',
    'frr',
    65002,
    [{ address: 'fd00::1', localAddress: 'fd00::2', remoteAs: 65001, gracefulRestart: true }],
    [{ prefix: '2001:db8:20::/48', communities: ['65002:6'] }, { prefix: '2001:db8:21::/48' }],
  );
  await established(bird1, 'fd00::2');
  await routesFrom(bird1, 'fd00::2', 2);
  await routesFrom(frr, 'fd00::1', 1);
  await frr.shutdownNeighbor('fd00::1', 'FRR says goodbye');
  await sleep(1000);
  await cap.stop();
};

/**
 * MRT fixtures: GoBGP dumps BGP4MP_MESSAGE_AS4 updates and a TABLE_DUMP_V2 RIB while it learns
 * routes from BIRD 2 (IPv4 and IPv6); BIRD 2 dumps its own TABLE_DUMP_V2 tables (with the RFC 8050
 * ADD-PATH variants) while learning from an ADD-PATH GoBGP session.
 */
async function mrtFixtures(lab: Lab): Promise<void> {
  await twoNodes(lab);
  // GoBGP passes the dump file name through Go's time.Format, which rewrites digits and tokens
  // such as "pm" or "Mon": the directory name uses only letters that form no token.
  const safe = 'qwxyz';
  const suffix = Array.from({ length: 10 }, () => safe[Math.floor(Math.random() * safe.length)]).join('');
  const work = join(tmpdir(), `tsbgqxw${suffix}`);
  mkdirSync(work, { recursive: true });
  const bird = await startOn(
    lab,
    'a',
    'bird2',
    4200000001,
    [
      { address: '10.0.0.2', localAddress: '10.0.0.1', remoteAs: 65002, addPath: 'both' },
      { address: 'fd00::2', localAddress: 'fd00::1', remoteAs: 65002 },
    ],
    [
      { prefix: '10.1.0.0/24', communities: ['65000:1'], largeCommunities: ['4200000001:1:1'], med: 10 },
      { prefix: '10.1.1.0/24' },
      { prefix: '2001:db8:1::/48', communities: ['65000:6'] },
    ],
    { mrt: { tableFile: join(work, 'bird-%N.mrt'), periodSeconds: 2 } },
  );
  const gobgp = await startOn(
    lab,
    'b',
    'gobgp',
    65002,
    [
      { address: '10.0.0.1', localAddress: '10.0.0.2', remoteAs: 4200000001, addPath: 'both' },
      { address: 'fd00::1', localAddress: 'fd00::2', remoteAs: 4200000001 },
    ],
    [
      { prefix: '10.2.0.0/24', communities: ['65002:1'], med: 20 },
      { prefix: '2001:db8:2::/48', largeCommunities: ['65002:2:2'] },
    ],
    // GoBGP's table dumps come at most once a minute, too slow here; BIRD provides TABLE_DUMP_V2.
    { mrt: { updatesFile: join(work, 'gobgp-updates.mrt') } },
  );
  await established(bird, '10.0.0.2');
  await established(bird, 'fd00::2');
  await routesFrom(gobgp, '10.0.0.1', 2);
  await routesFrom(gobgp, 'fd00::1', 1);
  await routesFrom(bird, '10.0.0.2', 1);
  await routesFrom(bird, 'fd00::2', 1);
  await sleep(4500);
  await gobgp.stop();
  await bird.stop();
  mkdirSync(MRT_DIR, { recursive: true });
  for (const f of readdirSync(work)) {
    if (statSync(join(work, f)).size === 0) continue;
    copyFileSync(join(work, f), join(MRT_DIR, f));
    console.log(`wrote ${join(MRT_DIR, f)} (${statSync(join(work, f)).size} bytes)`);
  }
  rmSync(work, { recursive: true, force: true });
}

const SCENARIOS: Record<string, { file: string; run: Scenario; impls: Implementation[] }> = {
  'ebgp-v4-bird2-frr': { file: 'ebgp-v4-bird2-frr.pcap', run: ebgpV4Bird2Frr, impls: ['bird2', 'frr'] },
  'ebgp-v6-gobgp-openbgpd': {
    file: 'ebgp-v6-gobgp-openbgpd.pcapng',
    run: ebgpV6GobgpOpenbgpd,
    impls: ['gobgp', 'openbgpd'],
  },
  'ibgp-addpath-bird2-gobgp': {
    file: 'ibgp-addpath-bird2-gobgp.pcap',
    run: ibgpAddPathBird2Gobgp,
    impls: ['bird2', 'gobgp'],
  },
  'as-trans-exabgp-bird2': {
    file: 'as-trans-exabgp-bird2.pcap',
    run: asTransExabgpBird2,
    impls: ['exabgp', 'bird2'],
  },
  'bad-peer-as-frr-bird2': { file: 'bad-peer-as-frr-bird2.pcap', run: badPeerAs, impls: ['frr', 'bird2'] },
  'hold-timer-openbgpd-bird1': {
    file: 'hold-timer-openbgpd-bird1.pcap',
    run: holdTimerBird1Openbgpd,
    impls: ['openbgpd', 'bird1'],
  },
  'ebgp-v6-bird1-frr': { file: 'ebgp-v6-bird1-frr.pcap', run: ebgpV6Bird1Frr, impls: ['bird1', 'frr'] },
  'malformed-exabgp-bird2': {
    file: 'malformed-exabgp-bird2.pcap',
    run: malformedExabgpBird2,
    impls: ['exabgp', 'bird2'],
  },
  'v4-over-v6-frr-bird2': {
    file: 'v4-over-v6-frr-bird2.pcap',
    run: v4OverV6FrrBird2,
    impls: ['frr', 'bird2'],
  },
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? wanted : [...Object.keys(SCENARIOS), 'mrt'];
  mkdirSync(PCAP_DIR, { recursive: true });
  for (const name of names) {
    const lab = new Lab('cap');
    try {
      if (name === 'mrt') {
        await mrtFixtures(lab);
        continue;
      }
      const s = SCENARIOS[name];
      if (!s) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}, mrt`);
      const raw = join(lab.dir, 'raw.pcap');
      await s.run(lab, raw);
      const dest = join(PCAP_DIR, s.file);
      // One fixture is kept as pcapng so both container formats are covered.
      if (s.file.endsWith('.pcapng')) await runOk('editcap', ['-F', 'pcapng', raw, dest]);
      else copyFileSync(raw, dest);
      if (!existsSync(dest)) throw new Error(`no capture written for ${name}`);
      console.log(`wrote ${dest} (${statSync(dest).size} bytes)`);
    } finally {
      await lab.dispose();
    }
  }
}

await main();
