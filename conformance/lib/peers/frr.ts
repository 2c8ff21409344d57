// Driver for FRR: zebra + bgpd as user frr, with every socket and file in a per-instance
// directory so several FRR instances coexist on one machine; vtysh reaches them through
// --vty_socket. bgpd can run alone (-Z), but then it knows no interfaces and withdraws every IPv6
// route whose MP_REACH carries a link-local next hop (as BIRD sends on a shared link), so zebra
// runs beside it, inside the node's namespace where its kernel routes harm nothing.
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, runOk, type SpawnedProcess, waitFor } from '../lab.ts';
import { stopSpawned } from './process.ts';
import {
  canonicalAddress,
  canonicalPrefix,
  familyOf,
  isUnspecifiedAddress,
  type NormalisedRoute,
  neighborFamilies,
  normaliseState,
  type PeerDriver,
  type PeerStartOptions,
  type SessionState,
  sortRoutes,
} from './types.ts';

export const FRR_BGPD = '/usr/lib/frr/bgpd';
export const FRR_ZEBRA = '/usr/lib/frr/zebra';

function frrConfig(opts: PeerStartOptions, logFile: string, ifaceOf: Map<string, string>): string {
  if (opts.fourOctetAs === false)
    throw new Error('FRR always speaks 4-octet AS; use ExaBGP for a 2-octet peer');
  const routes = opts.originate ?? [];
  const l: string[] = [
    'frr defaults traditional',
    `log file ${logFile}`,
    'log timestamp precision 3',
    '!',
    `router bgp ${opts.localAs}`,
    ` bgp router-id ${opts.routerId}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp network import-check',
    ' no bgp default ipv4-unicast',
    ' bgp graceful-restart-disable',
  ];
  // Graceful restart is global in FRR; any neighbour asking for it turns it on for that neighbour.
  for (const n of opts.neighbors) {
    l.push(` neighbor ${n.address} remote-as ${n.remoteAs}`);
    if (n.localAddress) l.push(` neighbor ${n.address} update-source ${n.localAddress}`);
    if (n.holdTime !== undefined)
      l.push(` neighbor ${n.address} timers ${Math.floor(n.holdTime / 3)} ${n.holdTime}`);
    if (n.passive) l.push(` neighbor ${n.address} passive`);
    if (n.port) l.push(` neighbor ${n.address} port ${n.port}`);
    if (n.gracefulRestart) l.push(` neighbor ${n.address} graceful-restart`);
    // The link-local next hop that BIRD and others add on a shared link needs the interface's scope.
    const iface = n.localAddress ? ifaceOf.get(canonicalAddress(n.localAddress)) : undefined;
    if (iface && familyOf(n.address) === 'ipv6') l.push(` neighbor ${n.address} interface ${iface}`);
    if (familyOf(n.address) === 'ipv6' && neighborFamilies(n).includes('ipv4')) {
      l.push(` neighbor ${n.address} capability extended-nexthop`);
    }
    // Fast reconnects in tests: FRR otherwise waits up to 120 s before retrying.
    l.push(` neighbor ${n.address} timers connect 2`);
  }
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const mine = routes.filter((r) => familyOf(r.prefix) === fam);
    const nbrs = opts.neighbors.filter((n) => neighborFamilies(n).includes(fam));
    if (mine.length === 0 && nbrs.length === 0) continue;
    l.push(` address-family ${fam} unicast`);
    mine.forEach((r, i) => {
      l.push(`  network ${r.prefix} route-map ORIG-${fam}-${i}`);
    });
    for (const n of nbrs) {
      l.push(`  neighbor ${n.address} activate`);
      if (n.addPath === 'send' || n.addPath === 'both')
        l.push(`  neighbor ${n.address} addpath-tx-all-paths`);
      if (n.addPath === 'receive') l.push(`  neighbor ${n.address} addpath-rx-paths-limit 8`);
      if (n.remoteAs === opts.localAs) l.push(`  neighbor ${n.address} next-hop-self`);
      const nh = fam === 'ipv4' ? n.nextHop4 : n.nextHop6;
      if (nh) l.push(`  neighbor ${n.address} route-map NH-${fam}-${canonicalAddress(n.address)} out`);
    }
    l.push(' exit-address-family');
  }
  l.push('!');
  for (const fam of ['ipv4', 'ipv6'] as const) {
    routes
      .filter((r) => familyOf(r.prefix) === fam)
      .forEach((r, i) => {
        l.push(`route-map ORIG-${fam}-${i} permit 10`);
        if (r.communities?.length) l.push(` set community ${r.communities.join(' ')}`);
        if (r.largeCommunities?.length) l.push(` set large-community ${r.largeCommunities.join(' ')}`);
        if (r.extCommunities?.length) {
          l.push(` set extcommunity rt ${r.extCommunities.map((c) => c.replace(/^rt:/, '')).join(' ')}`);
        }
        if (r.med !== undefined) l.push(` set metric ${r.med}`);
        if (r.localPref !== undefined) l.push(` set local-preference ${r.localPref}`);
        l.push('!');
      });
    for (const n of opts.neighbors) {
      const nh = fam === 'ipv4' ? n.nextHop4 : n.nextHop6;
      if (!nh) continue;
      l.push(`route-map NH-${fam}-${canonicalAddress(n.address)} permit 10`);
      l.push(fam === 'ipv4' ? ` set ip next-hop ${nh}` : ` set ipv6 next-hop global ${nh}`);
      l.push('!');
    }
  }
  return `${l.join('\n')}\n`;
}

interface FrrPath {
  valid?: boolean;
  bestpath?: boolean | { overall?: boolean };
  aspath?: { string?: string; segments?: { type: string; list: number[] }[] };
  path?: string;
  community?: { string?: string };
  largeCommunity?: { string?: string };
  med?: number;
  metric?: number;
  localpref?: number;
  locPrf?: number;
  nexthops?: { ip?: string; afi?: string; scope?: string; used?: boolean }[];
  peer?: { peerId?: string; type?: string };
  peerId?: string;
}

/** Converts FRR's `show bgp <afi> unicast detail json` paths into normalised routes. */
export function parseFrrDetail(json: unknown): NormalisedRoute[] {
  const out: NormalisedRoute[] = [];
  const routes = (json as { routes?: Record<string, FrrPath[] | { paths?: FrrPath[] }> }).routes ?? {};
  for (const [prefix, entry] of Object.entries(routes)) {
    const paths = Array.isArray(entry) ? entry : (entry.paths ?? []);
    for (const p of paths) {
      // In `json detail` output the first element is a per-prefix header without path fields.
      if (p.valid === undefined && p.aspath === undefined && p.path === undefined) continue;
      const asText = p.aspath?.string ?? p.path ?? '';
      const nh = p.nexthops?.find((x) => x.scope !== 'link-local') ?? p.nexthops?.[0];
      const peerId = p.peer?.peerId ?? p.peerId;
      const r: NormalisedRoute = {
        prefix: canonicalPrefix(prefix),
        nextHop: nh?.ip ? canonicalAddress(nh.ip) : '',
        asPath: (asText.match(/\d+/g) ?? []).map(Number),
        communities: (p.community?.string ?? '').split(/\s+/).filter((c) => /^\d+:\d+$/.test(c)),
        largeCommunities: (p.largeCommunity?.string ?? '')
          .split(/\s+/)
          .filter((c) => /^\d+:\d+:\d+$/.test(c)),
        best: typeof p.bestpath === 'object' ? p.bestpath.overall === true : p.bestpath === true,
      };
      const med = p.med ?? p.metric;
      if (med !== undefined) r.med = med;
      const lp = p.localpref ?? p.locPrf;
      if (lp !== undefined) r.localPref = lp;
      // Locally originated routes carry peerId "(unspec)" / "0.0.0.0"; received ones the neighbour.
      if (peerId && /[.:]/.test(peerId) && !isUnspecifiedAddress(peerId)) {
        r.from = canonicalAddress(peerId);
      }
      if (isUnspecifiedAddress(r.nextHop)) r.nextHop = '';
      out.push(r);
    }
  }
  return out;
}

class FrrPeer implements PeerDriver {
  readonly implementation = 'frr' as const;
  readonly logPath: string;
  private proc?: SpawnedProcess;
  private zebra?: SpawnedProcess;
  private readonly dir: string;
  private readonly vtyDir: string;
  private readonly config: string;
  private readonly pidFile: string;
  private readonly zserv: string;

  constructor(
    readonly node: string,
    private readonly lab: Lab,
    private readonly opts: PeerStartOptions,
  ) {
    // One directory owned by frr: bgpd drops privileges and still writes its log, pid and sockets.
    this.dir = join(lab.dir, `${node}-frr`);
    this.vtyDir = this.dir;
    this.config = join(this.dir, 'bgpd.conf');
    this.pidFile = join(this.dir, 'bgpd.pid');
    this.zserv = join(this.dir, 'zserv.api');
    this.logPath = join(this.dir, 'bgpd.log');
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const uid = Number((await runOk('id', ['-u', 'frr'])).trim());
    const gid = Number((await runOk('id', ['-g', 'frr'])).trim());
    chownSync(this.dir, uid, gid);
    chmodSync(this.lab.dir, 0o755);
    const ifaceOf = new Map<string, string>();
    for (const line of (await this.lab.exec(this.node, 'ip', ['-o', 'addr', 'show'])).split('\n')) {
      const m = /^\d+:\s+(\S+)\s+inet6?\s+([^/\s]+)/.exec(line);
      if (m?.[1] && m[2]) ifaceOf.set(canonicalAddress(m[2]), m[1]);
    }
    writeFileSync(this.config, frrConfig(this.opts, this.logPath, ifaceOf));
    writeFileSync(this.logPath, '');
    chownSync(this.logPath, uid, gid);
    chownSync(this.config, uid, gid);
    const zebraConf = join(this.dir, 'zebra.conf');
    writeFileSync(zebraConf, `log file ${join(this.dir, 'zebra.log')}\n`);
    chownSync(zebraConf, uid, gid);
    this.zebra = this.lab.spawn(this.node, 'frr-zebra', FRR_ZEBRA, [
      ...['-f', zebraConf, '-i', join(this.dir, 'zebra.pid'), '-z', this.zserv, '--vty_socket', this.vtyDir],
      ...['-u', 'frr', '-g', 'frr', '-A', '127.0.0.1'],
    ]);
    await waitFor(`frr zebra socket ${this.zserv}`, () => {
      if (this.zebra?.child.exitCode !== null) throw new Error(`zebra exited; see ${this.zebra?.logPath}`);
      return existsSync(this.zserv);
    });
    const args = ['-f', this.config, '-i', this.pidFile, '-z', this.zserv, '--vty_socket', this.vtyDir];
    args.push('-u', 'frr', '-g', 'frr', '-A', '127.0.0.1');
    if (this.opts.listen === false) args.push('-p', '0');
    this.proc = this.lab.spawn(this.node, 'frr-bgpd', FRR_BGPD, args);
    await waitFor(`frr bgpd vty in ${this.vtyDir}`, async () => {
      if (this.proc?.child.exitCode !== null) throw new Error(`bgpd exited; see ${this.proc?.logPath}`);
      const r = await this.vtysh('show bgp summary json');
      return r.includes('{');
    });
  }

  private async vtysh(...commands: string[]): Promise<string> {
    const args = ['--vty_socket', this.vtyDir, '-d', 'bgpd'];
    for (const c of commands) args.push('-c', c);
    return this.lab.exec(this.node, 'vtysh', args);
  }

  async routes(): Promise<NormalisedRoute[]> {
    const out: NormalisedRoute[] = [];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const text = await this.vtysh(`show bgp ${fam} unicast json detail`);
      if (!text.trim()) continue;
      out.push(...parseFrrDetail(JSON.parse(text)));
    }
    return sortRoutes(out);
  }

  async routesFrom(neighbor: string): Promise<NormalisedRoute[]> {
    const n = canonicalAddress(neighbor);
    return (await this.routes()).filter((r) => r.from === n);
  }

  async sessionState(neighbor: string): Promise<SessionState> {
    const text = await this.vtysh(`show bgp neighbors ${neighbor} json`);
    const j = JSON.parse(text) as Record<string, { bgpState?: string }>;
    const entry = Object.values(j)[0];
    return normaliseState(entry?.bgpState);
  }

  async shutdownNeighbor(neighbor: string, message?: string): Promise<void> {
    const asn = this.opts.localAs;
    const msg = message ? ` message ${message}` : '';
    await this.vtysh('configure terminal', `router bgp ${asn}`, `neighbor ${neighbor} shutdown${msg}`);
  }

  async enableNeighbor(neighbor: string): Promise<void> {
    await this.vtysh(
      'configure terminal',
      `router bgp ${this.opts.localAs}`,
      `no neighbor ${neighbor} shutdown`,
    );
  }

  async routeRefresh(neighbor: string): Promise<void> {
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const n = this.opts.neighbors.find((x) => canonicalAddress(x.address) === canonicalAddress(neighbor));
      if (n && neighborFamilies(n).includes(fam))
        await this.vtysh(`clear bgp ${fam} unicast ${neighbor} soft in`);
    }
  }

  async stop(): Promise<void> {
    await stopSpawned(this.proc, this.zebra);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export async function startFrr(lab: Lab, node: string, opts: PeerStartOptions): Promise<PeerDriver> {
  const peer = new FrrPeer(node, lab, opts);
  await peer.start();
  return peer;
}
