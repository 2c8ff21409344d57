// The interop suite: tsbgp (`tsbgp run`, as an operator runs it) against one real implementation
// per test file. Each file calls `interopSuite` with what the implementation can do; the suite
// builds one Lab for all checks of that implementation, runs every check of CHECKS in order, and
// writes one JSON result file that `matrix.ts` turns into docs/interop.md. A check that cannot
// apply to an implementation is recorded as n/a with the reason, never as a pass.
//
// Topology (one namespace each):
//   t  tsbgp, AS 4200000001 (4-octet)
//   p  eBGP peer, AS 65002, sessions over IPv4 (10.0.0.0/24) and IPv6 (fd00::/64), offers hold 30
//   q  iBGP peer, AS 4200000001, sessions over IPv4 (10.0.1.0/24) and IPv6 (fd00:1::/64)
//   r  2-octet-only eBGP peer, AS 65003 (no RFC 6793 capability, sees us as AS_TRANS), where the
//      implementation can be made so
//   m  crafted-peer.py, AS 65009: hand-built UPDATEs, well-formed and malformed (RFC 7606)
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bgpMessagesFromFrames, type CapturedMessage, CaptureParser } from '../../src/capture/index.ts';
import { controlRequest } from '../../src/control/client.ts';
import type { PeerStatus, RouteView } from '../../src/daemon/speaker-port.ts';
import { canUseNamespaces, Lab, run, runOk, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { BIRD1_DIR } from '../lib/peers/bird.ts';
import type { ExabgpPeer } from '../lib/peers/exabgp.ts';
import {
  type Implementation,
  type NeighborOptions,
  type NormalisedRoute,
  type OriginatedRoute,
  type PeerDriver,
  type PeerStartOptions,
  startPeer,
} from '../lib/peers/index.ts';
import { startTcpdump } from '../lib/peers/tcpdump.ts';
import * as wire from './wire.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSBGP = join(ROOT, 'bin', 'tsbgp.js');
const CRAFTED_PEER = join(import.meta.dirname, 'crafted-peer.py');
export const RESULTS_DIR = join(import.meta.dirname, 'results');

export type CheckStatus = 'pass' | 'fail' | 'n/a';

/** The rows of the matrix, in order. */
export const CHECKS = [
  { id: 'ebgp-v4', title: 'eBGP session over IPv4 transport (IPv4 unicast)' },
  { id: 'ebgp-v6', title: 'eBGP session over IPv6 transport (IPv6 unicast)' },
  { id: 'ibgp-v4', title: 'iBGP session over IPv4 transport (IPv4 unicast)' },
  { id: 'ibgp-v6', title: 'iBGP session over IPv6 transport (IPv6 unicast)' },
  {
    id: 'peer-initiated',
    title: 'a peer that only connects (does not listen): we accept its connection',
  },
  { id: 'hold-time', title: 'hold time: we offer 90, the peer 30, both use 30' },
  { id: 'asn4', title: '4-octet ASN (ours 4200000001): AS path as both sides see it' },
  { id: 'asn2-peer', title: '2-octet-only peer: AS_TRANS in OPEN, AS4_PATH out (and in)' },
  { id: 'routes-out', title: 'our prefixes in the peer table: communities, large communities, MED' },
  { id: 'routes-in', title: "the peer's prefixes in our Adj-RIB-In: communities, large communities, MED" },
  { id: 'ibgp-routes', title: 'iBGP routes both ways: no prepend, LOCAL_PREF kept' },
  { id: 'peer-malformed', title: 'malformed MED sent by the peer itself: treat-as-withdraw, session up' },
  { id: 'rfc7606-med', title: 'crafted: MED of length 3: treat-as-withdraw (RFC 7606 §7.4)' },
  { id: 'rfc7606-origin', title: 'crafted: ORIGIN value 5: treat-as-withdraw (RFC 7606 §7.1)' },
  {
    id: 'rfc7606-flags',
    title: 'crafted: COMMUNITIES without the Optional flag: treat-as-withdraw (RFC 7606 §3 c)',
  },
  { id: 'rfc7606-missing', title: 'crafted: AS_PATH missing: treat-as-withdraw (RFC 7606 §3 d)' },
  {
    id: 'rfc7606-aggregator',
    title: 'crafted: AGGREGATOR of length 5: attribute discard, route kept (RFC 7606 §7.7)',
  },
  { id: 'rfc7606-nlri', title: 'crafted: NLRI prefix length 33: session reset, 3/10 (RFC 7606 §5.3)' },
  {
    id: 'rfc7606-isolation',
    title: "after all malformed UPDATEs: the peer's sessions never reset, daemon running",
  },
  { id: 'notification', title: 'peer sends Cease (admin shutdown): we back off, reconnect when enabled' },
  { id: 'peer-restart', title: 'the peer restarts: sessions re-form, routes come back' },
  { id: 'daemon-restart', title: 'tsbgp restarts: sessions re-form, routes come back' },
] as const;
export type CheckId = (typeof CHECKS)[number]['id'];

/** The n/a reason of `peer-malformed` for every implementation but ExaBGP. */
export const ONLY_EXABGP_SENDS_MALFORMED =
  'only ExaBGP can be told to send a malformed attribute (its raw attribute API); the crafted-peer rows cover this lab';

export interface CheckResult {
  status: CheckStatus;
  /** What was measured or seen (hold times, AS paths), for the matrix notes. */
  detail?: string;
  /** Why it failed, or why it does not apply. */
  reason?: string;
  durationMs?: number;
}

export interface ResultFile {
  implementation: Implementation;
  label: string;
  version: string;
  date: string;
  durationMs: number;
  note?: string;
  checks: Partial<Record<CheckId, CheckResult>>;
}

export interface ImplSpec {
  impl: Implementation;
  /** Shown in the matrix header, e.g. "BIRD 2". */
  label: string;
  /** Lab tag (a few letters). */
  tag: string;
  /** Checks that cannot apply, with the reason. */
  notApplicable?: Partial<Record<CheckId, string>>;
  /**
   * How the 2-octet-only peer is told our AS. A true OLD speaker (RFC 6793 §4.2.2) ignores the
   * 4-octet AS capability and knows us as AS_TRANS; BIRD with "enable as4 off" still reads the
   * capability's ASN and refuses AS_TRANS ("Bad peer AS: 4200000001"), so it is given the real one.
   */
  twoOctetPeerKnowsUsAs?: 'AS_TRANS' | 'our real AS';
  /**
   * Make the peers of nodes p, q and r passive (they listen, we connect). ExaBGP listens only for
   * passive neighbours; the connect-only case is the peer-initiated check's own node.
   */
  peersPassive?: boolean;
  /** How this column differs from the common set-up, shown under the matrix. */
  note?: string;
}

// Addresses and ASNs of the topology.
const OUR_AS = 4200000001;
const EBGP_AS = 65002;
const AS2_AS = 65003;
const CRAFTED_AS = 65009;
const INITIATOR_AS = 65004;
const AS_TRANS = 23456;

const OUR_ROUTES: OriginatedRoute[] = [
  { prefix: '10.100.0.0/24', communities: ['64512:10'], largeCommunities: ['4200000001:1:2'], med: 10 },
  { prefix: 'fd64::/48', communities: ['64512:20'], largeCommunities: ['4200000001:3:4'], med: 20 },
];
const EBGP_ROUTES: OriginatedRoute[] = [
  { prefix: '10.2.0.0/24', communities: ['65002:1', '65002:100'], largeCommunities: ['65002:1:1'], med: 21 },
  { prefix: 'fd02::/48', communities: ['65002:2'], largeCommunities: ['65002:2:2'], med: 22 },
];
const IBGP_ROUTES: OriginatedRoute[] = [
  {
    prefix: '10.3.0.0/24',
    communities: ['64512:3'],
    largeCommunities: ['4200000001:3:3'],
    med: 33,
    localPref: 150,
  },
  { prefix: 'fd03::/48', communities: ['64512:4'], med: 34, localPref: 160 },
];
const AS2_ROUTES: OriginatedRoute[] = [{ prefix: '10.4.0.0/24', communities: ['65003:1'], med: 41 }];

function tsbgpConfig(with2OctetPeer: boolean, withInitiator: boolean): string {
  const nb = (name: string, address: string, asn: number | string, local: string, extra = '') =>
    `  - name: ${name}
    address: ${address}
    asn: ${asn}
    localAddress: ${local}
    holdTime: 90
    connectRetry: 1
    connectRetryMax: 4
    import: [all]
    export: [all]
${extra}`;
  const route = (r: OriginatedRoute) =>
    `  - prefix: ${r.prefix}
    communities: [${(r.communities ?? []).map((c) => `"${c}"`).join(', ')}]
    largeCommunities: [${(r.largeCommunities ?? []).map((c) => `"${c}"`).join(', ')}]
    med: ${r.med}
`;
  return `asn: ${OUR_AS}
routerId: 192.0.2.1
listen:
  addresses: [10.0.0.1, "fd00::1", 10.0.1.1, "fd00:1::1", 10.0.9.1${with2OctetPeer ? ', 10.0.2.1' : ''}${withInitiator ? ', 10.0.3.1' : ''}]
neighbors:
${nb('ebgp4', '10.0.0.2', EBGP_AS, '10.0.0.1')}${nb('ebgp6', 'fd00::2', EBGP_AS, 'fd00::1', '    families: [ipv6-unicast]\n')}${nb('ibgp4', '10.0.1.2', 'internal', '10.0.1.1')}${nb('ibgp6', 'fd00:1::2', 'internal', 'fd00:1::1', '    families: [ipv6-unicast]\n')}${with2OctetPeer ? nb('as2', '10.0.2.2', AS2_AS, '10.0.2.1') : ''}${withInitiator ? nb('initiator', '10.0.3.2', INITIATOR_AS, '10.0.3.1') : ''}${nb('crafted', '10.0.9.2', CRAFTED_AS, '10.0.9.1', '    passive: true\n')}originate:
${OUR_ROUTES.map(route).join('')}policies:
  all:
    default: accept
`;
}

/** tsbgp as an operator runs it, inside node `t`, with its control socket in the lab dir. */
class Tsbgp {
  proc?: SpawnedProcess;
  private starts = 0;
  readonly socket: string;
  readonly config: string;

  constructor(
    private readonly lab: Lab,
    with2OctetPeer: boolean,
    withInitiator: boolean,
  ) {
    this.socket = join(lab.dir, 'tsbgp.sock');
    this.config = join(lab.dir, 'tsbgp.yaml');
    writeFileSync(this.config, tsbgpConfig(with2OctetPeer, withInitiator));
  }

  get logPath(): string {
    return this.proc?.logPath ?? '';
  }

  async start(): Promise<void> {
    this.starts++;
    this.proc = this.lab.spawn('t', `tsbgp${this.starts}`, process.execPath, [
      ...[TSBGP, 'run', '--config', this.config, '--control-socket', this.socket],
      ...['--log-format', 'json', '--log-level', 'debug'],
    ]);
    await waitFor('tsbgp control socket', async () => {
      if (this.proc?.child.exitCode !== null) throw new Error(`tsbgp exited; see ${this.proc?.logPath}`);
      await this.request('show.status');
      return true;
    });
  }

  /** SIGTERM: Cease to every peer, exit 0. */
  async stop(): Promise<number | null> {
    const p = this.proc;
    if (!p || p.child.exitCode !== null) return p?.child.exitCode ?? null;
    p.child.kill('SIGTERM');
    return p.exited;
  }

  running(): boolean {
    return (
      this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null
    );
  }

  request<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return controlRequest<T>(this.socket, method, params, 10_000);
  }

  /** The CLI an operator types, `tsbgp ... --json`. */
  async cli<T>(...args: string[]): Promise<T> {
    const r = await run(process.execPath, [TSBGP, ...args, '--json', '--control-socket', this.socket]);
    if (r.code !== 0) throw new Error(`tsbgp ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as T;
  }

  neighbor(name: string): Promise<PeerStatus> {
    return this.request<PeerStatus>('show.neighbor', { neighbor: name });
  }

  routes(peer: string): Promise<RouteView[]> {
    return this.request<RouteView[]>('show.routes', { peer });
  }

  /** The daemon's JSON log lines since the current process started. */
  logLines(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of readFileSync(this.logPath, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a partial last line
      }
    }
    return out;
  }
}

type PeerStatusX = PeerStatus & { establishedAt?: number };

async function established(d: Tsbgp, name: string, timeoutMs = 45_000): Promise<PeerStatusX> {
  return waitFor(
    `tsbgp session ${name} Established`,
    async () => {
      const n = (await d.neighbor(name)) as PeerStatusX;
      return n.state === 'Established' ? n : undefined;
    },
    timeoutMs,
    250,
  );
}

async function peerEstablished(p: PeerDriver, neighbor: string, timeoutMs = 45_000): Promise<void> {
  await waitFor(
    `${p.implementation} (${p.node}) session to ${neighbor} established`,
    async () => (await p.sessionState(neighbor)) === 'established',
    timeoutMs,
    300,
  );
}

function routeAttrs(r: RouteView | undefined): string {
  return r ? JSON.stringify(r) : 'absent';
}

/** Asserts a route as a peer holds it against what we originated. */
function expectAtPeer(got: NormalisedRoute[], want: OriginatedRoute, asPath: number[]): NormalisedRoute {
  const r = got.find((x) => x.prefix === want.prefix);
  assert.ok(r, `${want.prefix} missing at the peer: ${JSON.stringify(got)}`);
  assert.deepEqual(r.asPath, asPath, `${want.prefix} AS path at the peer`);
  assert.deepEqual(
    r.communities,
    [...(want.communities ?? [])].sort(),
    `${want.prefix} communities at the peer`,
  );
  assert.deepEqual(
    r.largeCommunities,
    want.largeCommunities ?? [],
    `${want.prefix} large communities at the peer`,
  );
  assert.equal(r.med, want.med, `${want.prefix} MED at the peer`);
  return r;
}

/** Asserts a route in our Adj-RIB-In against what the peer originated. */
function expectOurs(got: RouteView[], want: OriginatedRoute, asPath: string): RouteView {
  const r = got.find((x) => x.prefix === want.prefix);
  assert.ok(r, `${want.prefix} missing from our Adj-RIB-In: ${JSON.stringify(got)}`);
  assert.equal(r.asPath, asPath, `${want.prefix} AS path in our Adj-RIB-In`);
  assert.deepEqual(
    [...r.communities].sort(),
    [...(want.communities ?? [])].sort(),
    `${want.prefix} communities`,
  );
  assert.deepEqual(r.largeCommunities, want.largeCommunities ?? [], `${want.prefix} large communities`);
  assert.equal(r.med, want.med, `${want.prefix} MED`);
  return r;
}

/**
 * The hold time the peer itself says it negotiated, where its CLI shows it (the drivers have no
 * such query, so this reads each implementation's own output). undefined: not shown.
 */
async function peerHoldTime(lab: Lab, p: PeerDriver, neighbor: string): Promise<number | undefined> {
  switch (p.implementation) {
    case 'bird2':
    case 'bird1': {
      const v6 = neighbor.includes(':');
      const suffix = p.implementation === 'bird2' ? 'bird2' : v6 ? 'bird16' : 'bird1';
      const ctl = p.implementation === 'bird2' ? 'birdc' : join(BIRD1_DIR, v6 ? 'birdc6' : 'birdc');
      // Both drivers name protocols n0, n1, ... by neighbour index: IPv4 is n0, IPv6 n1.
      const proto = v6 ? 'n1' : 'n0';
      const out = await lab.exec(p.node, ctl, [
        '-s',
        join(lab.dir, `${p.node}-${suffix}.ctl`),
        `show protocols all ${proto}`,
      ]);
      const m = /Hold timer:\s+[\d.]+\/(\d+)/.exec(out);
      return m ? Number(m[1]) : undefined;
    }
    case 'frr': {
      const out = await lab.exec(p.node, 'vtysh', [
        ...['--vty_socket', dirname(p.logPath), '-d', 'bgpd'],
        ...['-c', `show bgp neighbors ${neighbor} json`],
      ]);
      const j = Object.values(JSON.parse(out) as Record<string, { bgpTimerHoldTimeMsecs?: number }>)[0];
      return j?.bgpTimerHoldTimeMsecs !== undefined ? j.bgpTimerHoldTimeMsecs / 1000 : undefined;
    }
    case 'gobgp': {
      const out = await lab.exec(p.node, 'gobgp', [
        '-u',
        '127.0.0.1',
        '-p',
        '50051',
        'neighbor',
        neighbor,
        '-j',
      ]);
      const j = JSON.parse(out) as { timers?: { state?: { negotiated_hold_time?: number } } };
      return j.timers?.state?.negotiated_hold_time;
    }
    case 'openbgpd': {
      const out = await lab.exec(p.node, 'bgpctl', [
        ...['-s', join(lab.dir, `${p.node}-openbgpd.sock`)],
        ...['-j', 'show', 'neighbor', neighbor],
      ]);
      const j = JSON.parse(out) as { neighbors?: { holdtime?: number; session?: { holdtime?: number } }[] };
      const n = j.neighbors?.[0];
      return n?.session?.holdtime ?? n?.holdtime;
    }
    case 'exabgp':
      return undefined;
  }
}

/** The crafted peer (node m): a raw-bytes BGP speaker driven through a FIFO. */
class CraftedPeer {
  private readonly fifo: string;
  private readonly rx: string;

  constructor(private readonly lab: Lab) {
    this.fifo = join(lab.dir, 'crafted.cmd');
    this.rx = join(lab.dir, 'crafted.rx.jsonl');
  }

  async start(): Promise<void> {
    await runOk('mkfifo', [this.fifo]);
    writeFileSync(this.rx, '');
    this.lab.spawn('m', 'crafted', 'python3', [CRAFTED_PEER, '10.0.9.2', '10.0.9.1', this.fifo, this.rx]);
  }

  async send(msg: Buffer): Promise<void> {
    const fh = await open(this.fifo, 'w');
    try {
      await fh.write(`${msg.toString('hex')}\n`);
    } finally {
      await fh.close();
    }
  }

  received(): { type?: number; code?: number; subcode?: number; closed?: boolean }[] {
    return readFileSync(this.rx, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type?: number; code?: number; subcode?: number; closed?: boolean });
  }
}

async function implementationVersion(impl: Implementation): Promise<string> {
  const first = async (cmd: string, args: string[], re: RegExp) => {
    const r = await run(cmd, args);
    return re.exec(`${r.stdout}\n${r.stderr}`)?.[1] ?? 'unknown';
  };
  switch (impl) {
    case 'bird2':
      return `BIRD ${await first('bird', ['--version'], /version (\S+)/)}`;
    case 'bird1':
      return `BIRD ${await first(join(BIRD1_DIR, 'bird'), ['--version'], /version (\S+)/)}`;
    case 'frr':
      return `FRR ${await first('/usr/lib/frr/bgpd', ['--version'], /version (\S+)/)}`;
    case 'gobgp':
      return `GoBGP ${await first('gobgpd', ['--version'], /version (\S+)/)}`;
    case 'exabgp':
      return `ExaBGP ${await first('exabgp', ['--version'], /ExaBGP : (\S+)/)}`;
    case 'openbgpd':
      return `OpenBGPD ${await first('dpkg-query', ['-W', 'openbgpd'], /\t(\S+)/)}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Defines the node:test suite for one implementation. */
export function interopSuite(spec: ImplSpec): void {
  const na = spec.notApplicable ?? {};
  const results: Partial<Record<CheckId, CheckResult>> = {};
  const startedAt = Date.now();
  const with2OctetPeer = na['asn2-peer'] === undefined;
  const withInitiator = na['peer-initiated'] === undefined;
  let lab: Lab;
  let d: Tsbgp;
  let p: PeerDriver;
  let q: PeerDriver;
  let r: PeerDriver | undefined;
  let a: PeerDriver | undefined;
  let m: CraftedPeer;
  let setupError: Error | undefined;

  const check = (id: CheckId, fn: (note: (s: string) => void) => Promise<void>, timeout = 120_000) => {
    const title = CHECKS.find((c) => c.id === id)?.title ?? id;
    const reason = na[id];
    if (reason !== undefined) {
      results[id] = { status: 'n/a', reason };
      test(`${id}: ${title}`, { skip: `n/a: ${reason}` }, () => {});
      return;
    }
    test(`${id}: ${title}`, { timeout }, async () => {
      const t0 = Date.now();
      const notes: string[] = [];
      try {
        if (setupError) throw new Error(`set-up failed: ${setupError.message}`);
        await fn((s) => notes.push(s));
        results[id] = {
          status: 'pass',
          durationMs: Date.now() - t0,
          ...(notes.length ? { detail: notes.join('; ') } : {}),
        };
      } catch (e) {
        results[id] = {
          status: 'fail',
          reason: (e instanceof Error ? e.message : String(e)).split('\n').slice(0, 6).join(' '),
          durationMs: Date.now() - t0,
          ...(notes.length ? { detail: notes.join('; ') } : {}),
        };
        throw e;
      }
    });
  };

  describe(`interop: tsbgp <-> ${spec.label}`, { skip: !canUseNamespaces() && 'needs root' }, () => {
    before(async () => {
      lab = new Lab(spec.tag);
      try {
        for (const n of [
          't',
          'p',
          'q',
          'm',
          ...(with2OctetPeer ? ['r'] : []),
          ...(withInitiator ? ['a'] : []),
        ])
          await lab.addNode(n);
        await lab.link(
          { node: 't', ifname: 'to-p', addrs: ['10.0.0.1/24', 'fd00::1/64'] },
          { node: 'p', ifname: 'eth0', addrs: ['10.0.0.2/24', 'fd00::2/64'] },
        );
        await lab.link(
          { node: 't', ifname: 'to-q', addrs: ['10.0.1.1/24', 'fd00:1::1/64'] },
          { node: 'q', ifname: 'eth0', addrs: ['10.0.1.2/24', 'fd00:1::2/64'] },
        );
        await lab.link(
          { node: 't', ifname: 'to-m', addrs: ['10.0.9.1/24'] },
          { node: 'm', ifname: 'eth0', addrs: ['10.0.9.2/24'] },
        );
        if (with2OctetPeer) {
          await lab.link(
            { node: 't', ifname: 'to-r', addrs: ['10.0.2.1/24'] },
            { node: 'r', ifname: 'eth0', addrs: ['10.0.2.2/24'] },
          );
        }
        if (withInitiator) {
          await lab.link(
            { node: 't', ifname: 'to-a', addrs: ['10.0.3.1/24'] },
            { node: 'a', ifname: 'eth0', addrs: ['10.0.3.2/24'] },
          );
        }
        const nbr = (
          address: string,
          localAddress: string,
          remoteAs: number,
          holdTime: number,
        ): NeighborOptions => ({
          address,
          localAddress,
          remoteAs,
          holdTime,
          ...(spec.peersPassive ? { passive: true } : {}),
        });
        const start = (node: string, o: PeerStartOptions) => startPeer[spec.impl](lab, node, o);
        p = await start('p', {
          localAs: EBGP_AS,
          routerId: '192.0.2.2',
          neighbors: [nbr('10.0.0.1', '10.0.0.2', OUR_AS, 30), nbr('fd00::1', 'fd00::2', OUR_AS, 30)],
          originate: EBGP_ROUTES,
        });
        q = await start('q', {
          localAs: OUR_AS,
          routerId: '192.0.2.3',
          neighbors: [nbr('10.0.1.1', '10.0.1.2', OUR_AS, 90), nbr('fd00:1::1', 'fd00:1::2', OUR_AS, 90)],
          originate: IBGP_ROUTES,
        });
        if (with2OctetPeer) {
          r = await start('r', {
            localAs: AS2_AS,
            routerId: '192.0.2.4',
            fourOctetAs: false,
            // A 2-octet-only speaker knows a 4-octet neighbour as AS_TRANS (RFC 6793 §4.2.2).
            neighbors: [
              nbr(
                '10.0.2.1',
                '10.0.2.2',
                spec.twoOctetPeerKnowsUsAs === 'our real AS' ? OUR_AS : AS_TRANS,
                90,
              ),
            ],
            originate: AS2_ROUTES,
          });
        }
        if (withInitiator) {
          // Connects to us and does not listen (ExaBGP: not passive; the others: listen off).
          a = await start('a', {
            localAs: INITIATOR_AS,
            routerId: '192.0.2.5',
            listen: false,
            neighbors: [{ address: '10.0.3.1', localAddress: '10.0.3.2', remoteAs: OUR_AS, holdTime: 90 }],
            originate: [{ prefix: '10.5.0.0/24', communities: ['65004:1'], med: 51 }],
          });
        }
        d = new Tsbgp(lab, with2OctetPeer, withInitiator);
        await d.start();
        m = new CraftedPeer(lab);
      } catch (e) {
        setupError = e instanceof Error ? e : new Error(String(e));
      }
    });

    after(async () => {
      const file: ResultFile = {
        implementation: spec.impl,
        label: spec.label,
        version: await implementationVersion(spec.impl),
        date: new Date().toISOString(),
        durationMs: Date.now() - startedAt,
        ...(spec.note ? { note: spec.note } : {}),
        checks: results,
      };
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, `${spec.impl}.json`), `${JSON.stringify(file, null, 2)}\n`);
      if (process.env.TSBGP_KEEP_LAB) console.log(`lab kept in ${lab.dir}`);
      await lab.dispose();
    });

    // --- sessions --------------------------------------------------------------------------------
    const session =
      (name: string, peer: () => PeerDriver, peerSide: string) => async (note: (s: string) => void) => {
        const n = await established(d, name);
        await peerEstablished(peer(), peerSide);
        note(`families ${JSON.stringify(n.families)}`);
      };
    check(
      'ebgp-v4',
      session('ebgp4', () => p, '10.0.0.1'),
    );
    check(
      'ebgp-v6',
      session('ebgp6', () => p, 'fd00::1'),
    );
    check(
      'ibgp-v4',
      session('ibgp4', () => q, '10.0.1.1'),
    );
    check(
      'ibgp-v6',
      session('ibgp6', () => q, 'fd00:1::1'),
    );

    check('peer-initiated', async (note) => {
      const peer = a;
      assert.ok(peer, 'no connect-only peer');
      // The premise: nothing listens on port 179 in the peer's namespace.
      const listeners = await lab.exec('a', 'ss', ['-Hltn', 'sport = :179']);
      assert.equal(listeners.trim(), '', `the ${spec.impl} driver left a listener: ${listeners.trim()}`);
      // Connection attempts the peer made that we refused, so a failure says why.
      const refused = () =>
        d
          .logLines()
          .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('connection from 10.0.3.2 refused'));
      try {
        await established(d, 'initiator', 30_000);
      } catch (e) {
        const n = await d.neighbor('initiator');
        throw new Error(
          `${(e as Error).message}; we refused ${refused().length} connections from it (e.g. "${String(refused()[0]?.msg)}" in state ${String(refused()[0]?.state)}); our state ${n.state} (${n.reason ?? ''})`,
        );
      }
      await peerEstablished(peer, '10.0.3.1', 15_000);
      const got = await waitFor('its route', async () =>
        (await d.routes('initiator')).find((x) => x.prefix === '10.5.0.0/24'),
      );
      note(`established; ${got.prefix} received; ${refused().length} connections refused first`);
    });

    check('hold-time', async (note) => {
      for (const [name, addr] of [
        ['ebgp4', '10.0.0.1'],
        ['ebgp6', 'fd00::1'],
      ] as const) {
        const n = await established(d, name);
        // The operator's view: `tsbgp show neighbor X --json`.
        const shown = await d.cli<PeerStatus>('show', 'neighbor', name);
        assert.equal(shown.timers.holdTime, 90, `${name}: we offer 90`);
        assert.equal(shown.timers.negotiatedHoldTime, 30, `${name}: negotiated hold time`);
        assert.equal(shown.timers.negotiatedKeepalive, 10, `${name}: keepalive = hold / 3`);
        const theirs = await peerHoldTime(lab, p, addr);
        if (theirs !== undefined) assert.equal(theirs, 30, `${name}: the peer's negotiated hold time`);
        note(`${name}: ours ${n.timers.negotiatedHoldTime}, peer ${theirs ?? 'not shown'}`);
      }
    });

    // --- routes ----------------------------------------------------------------------------------
    check('asn4', async (note) => {
      const atPeer = await waitFor('the peer holds our IPv4 prefix', async () =>
        (await p.routesFrom('10.0.0.1')).find((x) => x.prefix === '10.100.0.0/24'),
      );
      assert.deepEqual(atPeer.asPath, [OUR_AS], 'the peer sees our 4-octet AS');
      const n = await d.neighbor('ebgp4');
      assert.ok(n.capabilities?.negotiated.includes('four-octet-as'), 'four-octet-as negotiated');
      assert.equal(n.remoteAs, EBGP_AS);
      const ours = await waitFor('our Adj-RIB-In has 10.2.0.0/24', async () =>
        (await d.routes('ebgp4')).find((x) => x.prefix === '10.2.0.0/24'),
      );
      assert.equal(ours.asPath, String(EBGP_AS));
      note(`peer sees [${atPeer.asPath.join(' ')}], we see [${ours.asPath}]`);
    });

    check('asn2-peer', async (note) => {
      const peer = r;
      assert.ok(peer, 'no 2-octet peer');
      const n = await established(d, 'as2');
      await peerEstablished(peer, '10.0.2.1');
      assert.ok(
        !n.capabilities?.negotiated.includes('four-octet-as'),
        'four-octet-as must not be negotiated',
      );
      assert.ok(!n.capabilities?.remote.includes('four-octet-as'), 'the peer must not offer four-octet-as');
      assert.equal(n.remoteAs, AS2_AS);
      // Out: AS_PATH [AS_TRANS] + AS4_PATH [4200000001]; the peer rebuilds the true path.
      const atPeer = await waitFor('the 2-octet peer holds our prefix', async () =>
        (await peer.routesFrom('10.0.2.1')).find((x) => x.prefix === '10.100.0.0/24'),
      );
      note(`2-octet peer sees [${atPeer.asPath.join(' ')}]`);
      assert.deepEqual(atPeer.asPath, [OUR_AS], 'AS path at the 2-octet peer (AS_PATH + AS4_PATH merged)');
      const ours = await waitFor('our Adj-RIB-In has 10.4.0.0/24', async () =>
        (await d.routes('as2')).find((x) => x.prefix === '10.4.0.0/24'),
      );
      assert.equal(ours.asPath, String(AS2_AS));
      if (spec.impl === 'exabgp') {
        const exa = peer as ExabgpPeer;
        const pcap = join(lab.dir, 'as2.pcap');
        const dump = await startTcpdump(lab, 'r', 'eth0', pcap);
        // In: a path through a 4-octet AS from a 2-octet speaker. ExaBGP with asn4 disabled
        // encodes it the RFC 6793 §4.2.2 way itself: AS_PATH [65003 23456] plus AS4_PATH
        // [65003 4200000099]; we must merge them back (§4.2.3) to [65003 4200000099].
        await exa.command(
          `neighbor 10.0.2.1 announce route 10.4.1.0/24 next-hop self as-path [ ${AS2_AS} 4200000099 ]`,
        );
        const merged = await waitFor('our Adj-RIB-In has 10.4.1.0/24', async () =>
          (await d.routes('as2')).find((x) => x.prefix === '10.4.1.0/24'),
        );
        await dump.stop();
        // What went on the wire, so a failure says which side is wrong.
        const updates = bgpMessagesFromFrames(new CaptureParser().feed(readFileSync(pcap))).filter(
          (x): x is CapturedMessage =>
            x.kind === 'message' && x.stream.src.address === '10.0.2.2' && x.bytes[18] === 2,
        );
        const codes = updates.map((u) => wire.attributeCodes(u.bytes));
        note(`ExaBGP's UPDATE carried attributes ${JSON.stringify(codes)}`);
        assert.ok(
          codes.some((c) => c.includes(17)),
          'ExaBGP sent AS4_PATH (attribute 17)',
        );
        assert.equal(merged.asPath, `${AS2_AS} 4200000099`, 'AS_PATH and AS4_PATH merged (RFC 6793 §4.2.3)');
        note(`ExaBGP (asn4 disabled) announced as-path [65003 4200000099]; we see [${merged.asPath}]`);
      }
    });

    check('routes-out', async (note) => {
      for (const [want, from] of [
        [OUR_ROUTES[0], '10.0.0.1'],
        [OUR_ROUTES[1], 'fd00::1'],
      ] as const) {
        if (!want) continue;
        const got = await waitFor(`the peer holds ${want.prefix}`, async () => {
          const rs = await p.routesFrom(from);
          return rs.some((x) => x.prefix === want.prefix) && rs;
        });
        const at = expectAtPeer(got, want, [OUR_AS]);
        note(`${want.prefix} nh ${at.nextHop}`);
      }
    });

    check('routes-in', async () => {
      for (const [want, peerName] of [
        [EBGP_ROUTES[0], 'ebgp4'],
        [EBGP_ROUTES[1], 'ebgp6'],
      ] as const) {
        if (!want) continue;
        // The operator's view: `tsbgp show routes --peer X --json`.
        await waitFor(`our Adj-RIB-In has ${want.prefix}`, async () =>
          (await d.routes(peerName)).some((x) => x.prefix === want.prefix),
        );
        expectOurs(await d.cli<RouteView[]>('show', 'routes', '--peer', peerName), want, String(EBGP_AS));
      }
    });

    check('ibgp-routes', async (note) => {
      for (const [want, from] of [
        [OUR_ROUTES[0], '10.0.1.1'],
        [OUR_ROUTES[1], 'fd00:1::1'],
      ] as const) {
        if (!want) continue;
        const got = await waitFor(`the iBGP peer holds ${want.prefix}`, async () => {
          const rs = await q.routesFrom(from);
          return rs.some((x) => x.prefix === want.prefix) && rs;
        });
        const at = expectAtPeer(got, want, []);
        note(`${want.prefix} at iBGP peer: local-pref ${at.localPref ?? 'not shown'}`);
      }
      for (const [want, peerName] of [
        [IBGP_ROUTES[0], 'ibgp4'],
        [IBGP_ROUTES[1], 'ibgp6'],
      ] as const) {
        if (!want) continue;
        await waitFor(`our Adj-RIB-In has ${want.prefix}`, async () =>
          (await d.routes(peerName)).some((x) => x.prefix === want.prefix),
        );
        const ours = expectOurs(await d.routes(peerName), want, '');
        assert.equal(ours.localPref, want.localPref, `${want.prefix} LOCAL_PREF`);
      }
    });

    // --- malformed UPDATEs ---------------------------------------------------------------------
    let ebgpBefore: PeerStatusX | undefined;
    let ibgpBefore: PeerStatusX | undefined;

    check('peer-malformed', async (note) => {
      ebgpBefore = await established(d, 'ebgp4');
      ibgpBefore = await established(d, 'ibgp4');
      const exa = p as ExabgpPeer;
      await exa.announce('10.0.0.1', { prefix: '10.2.9.0/24', med: 1 });
      await waitFor('10.2.9.0/24 arrives', async () =>
        (await d.routes('ebgp4')).some((x) => x.prefix === '10.2.9.0/24' && x.med === 1),
      );
      // The same prefix again, with a MED of 3 octets: ExaBGP sends the raw attribute as given.
      await exa.announce('10.0.0.1', { prefix: '10.2.9.0/24' }, [
        { code: 4, flags: wire.OPTIONAL, data: Buffer.from([0, 0, 2]) },
      ]);
      await waitFor('10.2.9.0/24 treated as withdrawn', async () =>
        (await d.routes('ebgp4')).every((x) => x.prefix !== '10.2.9.0/24'),
      );
      const after = await d.neighbor('ebgp4');
      assert.equal(after.state, 'Established');
      assert.equal(
        (after as PeerStatusX).establishedAt,
        ebgpBefore.establishedAt,
        'the session was not reset',
      );
      note('route withdrawn, session kept');
    });

    const craftedRoutes = async () => d.routes('crafted');
    const craftedUp = async (): Promise<PeerStatusX> => {
      const n = (await d.neighbor('crafted')) as PeerStatusX;
      assert.equal(n.state, 'Established', `the crafted session is ${n.state} (${n.reason ?? ''})`);
      const notes = m.received().filter((x) => x.type === 3);
      assert.deepEqual(notes, [], 'no NOTIFICATION sent to the crafted peer');
      return n;
    };
    let craftedSince: number | undefined;
    const base = [wire.origin(wire.ORIGIN_IGP), wire.asPath([CRAFTED_AS]), wire.nextHop('10.0.9.2')];
    const valid = (meds: number, ...prefixes: string[]) =>
      wire.update(
        [],
        [...base, wire.med(meds), wire.communities(['65009:1'])],
        prefixes.map((x) => wire.prefix4(x)),
      );
    /** Sends a malformed UPDATE, then a well-formed sentinel: once the sentinel is in, the malformed one was handled. */
    let sentinel = 0;
    const sendThenSentinel = async (msg: Buffer) => {
      await m.send(msg);
      const s = `10.9.${100 + sentinel++}.0/24`;
      await m.send(valid(1, s));
      await waitFor(`sentinel ${s}`, async () => (await craftedRoutes()).some((x) => x.prefix === s), 15_000);
    };

    check('rfc7606-med', async (note) => {
      ebgpBefore ??= await established(d, 'ebgp4');
      ibgpBefore ??= await established(d, 'ibgp4');
      await m.start();
      await m.send(wire.open(CRAFTED_AS, 90, '192.0.2.9'));
      await waitFor('our OPEN to the crafted peer', () => m.received().some((x) => x.type === 1), 15_000);
      await m.send(wire.KEEPALIVE);
      craftedSince = (await established(d, 'crafted', 15_000)).establishedAt;
      await m.send(valid(5, '10.9.1.0/24', '10.9.2.0/24', '10.9.4.0/24', '10.9.5.0/24'));
      await waitFor(
        'the four crafted prefixes',
        async () => (await craftedRoutes()).filter((x) => x.med === 5).length === 4,
        15_000,
      );
      const medOf3 = wire.attribute(wire.OPTIONAL, 4, Buffer.from([0, 0, 9]));
      await sendThenSentinel(wire.update([], [...base, medOf3], [wire.prefix4('10.9.1.0/24')]));
      const rs = await craftedRoutes();
      assert.ok(
        !rs.some((x) => x.prefix === '10.9.1.0/24'),
        `10.9.1.0/24 should be withdrawn: ${routeAttrs(rs.find((x) => x.prefix === '10.9.1.0/24'))}`,
      );
      assert.equal((await craftedUp()).establishedAt, craftedSince, 'crafted session not reset');
      note('withdrawn, session kept');
    });

    check('rfc7606-origin', async () => {
      await sendThenSentinel(
        wire.update(
          [],
          [wire.origin(5), wire.asPath([CRAFTED_AS]), wire.nextHop('10.0.9.2')],
          [wire.prefix4('10.9.2.0/24')],
        ),
      );
      const rs = await craftedRoutes();
      assert.ok(
        !rs.some((x) => x.prefix === '10.9.2.0/24'),
        `10.9.2.0/24 should be withdrawn: ${routeAttrs(rs.find((x) => x.prefix === '10.9.2.0/24'))}`,
      );
      assert.equal((await craftedUp()).establishedAt, craftedSince, 'crafted session not reset');
    });

    check('rfc7606-flags', async () => {
      // COMMUNITIES is optional transitive (RFC 1997); flags 0x40 claim well-known.
      const badFlags = wire.attribute(wire.TRANSITIVE, 8, wire.u32(65009 * 65536 + 2));
      await sendThenSentinel(wire.update([], [...base, badFlags], [wire.prefix4('10.9.4.0/24')]));
      const rs = await craftedRoutes();
      assert.ok(
        !rs.some((x) => x.prefix === '10.9.4.0/24'),
        `10.9.4.0/24 should be withdrawn: ${routeAttrs(rs.find((x) => x.prefix === '10.9.4.0/24'))}`,
      );
      assert.equal((await craftedUp()).establishedAt, craftedSince, 'crafted session not reset');
    });

    check('rfc7606-missing', async () => {
      await sendThenSentinel(
        wire.update(
          [],
          [wire.origin(wire.ORIGIN_IGP), wire.nextHop('10.0.9.2'), wire.med(6)],
          [wire.prefix4('10.9.5.0/24')],
        ),
      );
      const rs = await craftedRoutes();
      assert.ok(
        !rs.some((x) => x.prefix === '10.9.5.0/24'),
        `10.9.5.0/24 should be withdrawn: ${routeAttrs(rs.find((x) => x.prefix === '10.9.5.0/24'))}`,
      );
      assert.equal((await craftedUp()).establishedAt, craftedSince, 'crafted session not reset');
    });

    check('rfc7606-aggregator', async (note) => {
      const badAggregator = wire.attribute(
        wire.OPTIONAL | wire.TRANSITIVE,
        7,
        Buffer.from([0, 0, 0xfd, 0xf1, 10]),
      );
      await sendThenSentinel(
        wire.update(
          [],
          [...base, wire.med(7), wire.communities(['65009:7']), badAggregator],
          [wire.prefix4('10.9.3.0/24')],
        ),
      );
      const rs = await craftedRoutes();
      const got = rs.find((x) => x.prefix === '10.9.3.0/24');
      assert.ok(got, 'the route is kept without the attribute');
      assert.equal(got.med, 7, 'the other attributes are intact');
      assert.deepEqual(got.communities, ['65009:7']);
      assert.equal((await craftedUp()).establishedAt, craftedSince, 'crafted session not reset');
      note(`kept: ${JSON.stringify({ asPath: got.asPath, med: got.med, communities: got.communities })}`);
    });

    check('rfc7606-nlri', async (note) => {
      await m.send(
        wire.update(
          [],
          [...base, wire.med(8)],
          [wire.prefix4('10.9.6.0/24'), wire.prefix4('10.9.7.0/24', 33)],
        ),
      );
      const notification = await waitFor(
        'a NOTIFICATION to the crafted peer',
        () => m.received().find((x) => x.type === 3),
        15_000,
      );
      assert.equal(notification.code, 3, 'UPDATE Message Error');
      assert.equal(notification.subcode, 10, 'Invalid Network Field');
      await waitFor(
        'the crafted session is down',
        async () => (await d.neighbor('crafted')).state !== 'Established',
        10_000,
      );
      await waitFor('its routes are gone', async () => (await craftedRoutes()).length === 0, 10_000);
      note(`NOTIFICATION ${notification.code}/${notification.subcode}`);
    });

    check('rfc7606-isolation', async (note) => {
      assert.ok(d.running(), 'the daemon is running');
      const status = await d.cli<{ neighbors?: unknown[] }>('show', 'status');
      assert.ok(status, 'show status answers');
      for (const [name, before] of [
        ['ebgp4', ebgpBefore],
        ['ibgp4', ibgpBefore],
      ] as const) {
        const n = (await d.neighbor(name)) as PeerStatusX;
        assert.equal(n.state, 'Established', `${name} state`);
        assert.ok(before, `${name} was measured before`);
        assert.equal(n.establishedAt, before.establishedAt, `${name} uptime did not reset`);
      }
      assert.equal(await p.sessionState('10.0.0.1'), 'established');
      note(`ebgp4 up since ${new Date(ebgpBefore?.establishedAt ?? 0).toISOString()}`);
    });

    // --- NOTIFICATION, restarts ------------------------------------------------------------------
    check('notification', async (note) => {
      const before = await established(d, 'ebgp4');
      await p.shutdownNeighbor('10.0.0.1', 'interop maintenance');
      const down = await waitFor(
        'the Cease is received',
        async () => {
          const n = await d.neighbor('ebgp4');
          const last = n.lastError;
          return last && last.direction === 'received' && last.at > (before.establishedAt ?? 0)
            ? n
            : undefined;
        },
        20_000,
        100,
      );
      assert.equal(down.lastError?.code, 6, 'Cease');
      assert.equal(down.lastError?.subcode, 2, 'Administrative Shutdown');
      note(`received: ${down.lastError?.text}`);
      if (spec.impl === 'exabgp') {
        // ExaBGP's teardown is not a shutdown: it reconnects at once, so there is no disabled
        // period to back off in; the session must simply re-form.
        note('ExaBGP reconnects at once after its teardown: no disabled period, so back-off is not measured');
      } else {
        // While the peer refuses, we retry with back-off (connectRetry 1 s doubling to 4 s), not
        // at a fixed rate: count our connection attempts over 8 s. The peer is re-enabled
        // whatever happens, so a failure here does not take the later checks down with it.
        try {
          const t0 = Date.now();
          await sleep(8000);
          const attempts = d
            .logLines()
            .filter((l) => l.peerName === 'ebgp4' && l.to === 'Connect' && Date.parse(String(l.time)) >= t0);
          const fails = d
            .logLines()
            .filter(
              (l) => l.peerName === 'ebgp4' && l.from === 'OpenSent' && Date.parse(String(l.time)) >= t0,
            );
          note(
            `${attempts.length} connection attempts in 8 s while disabled (${fails.length} of them accepted then closed by the peer in OpenSent)`,
          );
          assert.ok(attempts.length >= 1, 'we keep trying to reconnect');
          assert.ok(
            attempts.length <= 6,
            `no back-off: ${attempts.length} attempts in 8 s with connectRetry 1 s doubling to 4 s (at most 6 expected); ${fails.length} went Connect -> OpenSent -> Active (TcpConnectionFailed)`,
          );
          assert.notEqual((await d.neighbor('ebgp4')).state, 'Established');
        } finally {
          await p.enableNeighbor('10.0.0.1');
        }
      }
      const t1 = Date.now();
      const again = await established(d, 'ebgp4', 30_000);
      assert.ok((again.establishedAt ?? 0) > (before.establishedAt ?? 0), 'a new session');
      await peerEstablished(p, '10.0.0.1', 15_000);
      await waitFor('routes back after re-enable', async () =>
        (await d.routes('ebgp4')).some((x) => x.prefix === '10.2.0.0/24'),
      );
      note(`re-established ${((Date.now() - t1) / 1000).toFixed(1)} s after enable`);
    });

    check('peer-restart', async (note) => {
      const before4 = await established(d, 'ebgp4');
      const before6 = await established(d, 'ebgp6');
      const t0 = Date.now();
      await p.restart();
      for (const [name, before] of [
        ['ebgp4', before4],
        ['ebgp6', before6],
      ] as const) {
        // The peer's Cease on shutdown sends us to Idle with the back-off of §8.1.1: 1 s doubling
        // per failure up to 60 s (fsm.ts), and the failures the earlier checks provoked in this
        // lab are forgotten only after 300 s Established (BIRD's error forget time). So the wait
        // covers the cap: GoBGP took 31–54 s here, once more than 60 s.
        await waitFor(
          `${name} re-forms after the peer restart`,
          async () => {
            const n = (await d.neighbor(name)) as PeerStatusX;
            return n.state === 'Established' && (n.establishedAt ?? 0) > (before.establishedAt ?? 0);
          },
          90_000,
        );
      }
      await waitFor(
        'routes from the restarted peer',
        async () =>
          (await d.routes('ebgp4')).some((x) => x.prefix === '10.2.0.0/24') &&
          (await d.routes('ebgp6')).some((x) => x.prefix === 'fd02::/48'),
      );
      await waitFor('the restarted peer holds our routes', async () => {
        const rs = await p.routes();
        return rs.some((x) => x.prefix === '10.100.0.0/24') && rs.some((x) => x.prefix === 'fd64::/48');
      });
      note(`re-formed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });

    check('daemon-restart', async (note) => {
      const code = await d.stop();
      assert.equal(code, 0, 'SIGTERM exits 0');
      await waitFor(
        'the peer sees the session down',
        async () => (await p.sessionState('10.0.0.1')) !== 'established',
        15_000,
        100,
      );
      const t0 = Date.now();
      await d.start();
      for (const name of ['ebgp4', 'ebgp6', 'ibgp4', 'ibgp6']) await established(d, name, 60_000);
      await peerEstablished(p, '10.0.0.1');
      await waitFor('the peer holds our routes again', async () =>
        (await p.routesFrom('10.0.0.1')).some((x) => x.prefix === '10.100.0.0/24'),
      );
      await waitFor('our Adj-RIB-In is refilled', async () =>
        (await d.routes('ebgp4')).some((x) => x.prefix === '10.2.0.0/24'),
      );
      note(`re-formed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  });
}
