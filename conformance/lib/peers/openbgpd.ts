// Driver for OpenBGPD (portable 7.x: bgpd + bgpctl). Each instance has its own control socket in
// the lab directory; bgpd runs in the foreground (-d) and chroots to /run/openbgpd as _openbgpd.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, type SpawnedProcess, waitFor } from '../lab.ts';
import { namespacePids, newPids, stopSpawned, terminateAll } from './process.ts';
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

function openbgpdConfig(opts: PeerStartOptions, socket: string): string {
  const l: string[] = [
    `AS ${opts.localAs}`,
    `router-id ${opts.routerId}`,
    `socket "${socket}"`,
    'fib-update no',
  ];
  const listen = new Set(
    opts.neighbors.map((n) => n.localAddress).filter((a): a is string => a !== undefined),
  );
  if (opts.listen !== false) for (const a of listen) l.push(`listen on ${a}`);
  for (const r of opts.originate ?? []) {
    const set: string[] = [];
    for (const c of r.communities ?? []) set.push(`community ${c}`);
    for (const c of r.largeCommunities ?? []) set.push(`large-community ${c}`);
    for (const c of r.extCommunities ?? []) set.push(`ext-community ${c.replace(/^rt:/, 'rt ')}`);
    if (r.med !== undefined) set.push(`med ${r.med}`);
    if (r.localPref !== undefined) set.push(`localpref ${r.localPref}`);
    l.push(`network ${r.prefix}${set.length ? ` set { ${set.join(' ')} }` : ''}`);
  }
  for (const n of opts.neighbors) {
    l.push(`neighbor ${n.address} {`, `  remote-as ${n.remoteAs}`, `  descr "n-${n.address}"`);
    if (n.localAddress) l.push(`  local-address ${n.localAddress}`);
    if (n.holdTime !== undefined) l.push(`  holdtime ${n.holdTime}`);
    if (n.passive) l.push('  passive');
    if (n.port) l.push(`  port ${n.port}`);
    if (opts.fourOctetAs === false) l.push('  announce as-4byte no');
    l.push(`  announce restart ${n.gracefulRestart ? 'yes' : 'no'}`);
    const fams = neighborFamilies(n);
    for (const fam of ['ipv4', 'ipv6'] as const) {
      l.push(`  announce ${fam === 'ipv4' ? 'IPv4' : 'IPv6'} ${fams.includes(fam) ? 'unicast' : 'none'}`);
    }
    if (n.addPath === 'send' || n.addPath === 'both') l.push('  announce add-path send all');
    if (n.addPath === 'receive' || n.addPath === 'both') l.push('  announce add-path recv yes');
    if (n.remoteAs === opts.localAs) l.push('  set nexthop self');
    const nh4 = n.nextHop4;
    const nh6 = n.nextHop6;
    if (nh4 && fams.includes('ipv4') && familyOf(n.address) !== 'ipv4') l.push(`  set nexthop ${nh4}`);
    if (nh6 && fams.includes('ipv6') && familyOf(n.address) !== 'ipv6') l.push(`  set nexthop ${nh6}`);
    l.push('}');
  }
  // RFC 8212: OpenBGPD filters everything on eBGP sessions unless told otherwise.
  l.push('allow from any', 'allow to any');
  return `${l.join('\n')}\n`;
}

interface BgpctlRib {
  prefix: string;
  aspath?: string;
  exit_nexthop?: string;
  true_nexthop?: string;
  med?: number;
  metric?: number;
  localpref?: number;
  communities?: string[];
  large_communities?: string[];
  best?: boolean;
  source?: string;
  neighbor?: { remote_addr?: string };
}

/** Converts `bgpctl -j show rib detail` into normalised routes. */
export function parseBgpctlRib(json: unknown): NormalisedRoute[] {
  const out: NormalisedRoute[] = [];
  for (const e of ((json as { rib?: BgpctlRib[] }).rib ?? []) as BgpctlRib[]) {
    const r: NormalisedRoute = {
      prefix: canonicalPrefix(e.prefix),
      nextHop: e.exit_nexthop ? canonicalAddress(e.exit_nexthop) : '',
      asPath: (e.aspath?.match(/\d+/g) ?? []).map(Number),
      communities: (e.communities ?? []).filter((c) => /^\d+:\d+$/.test(c)),
      largeCommunities: (e.large_communities ?? []).filter((c) => /^\d+:\d+:\d+$/.test(c)),
    };
    if (e.best !== undefined) r.best = e.best;
    const med = e.med ?? e.metric;
    if (med !== undefined) r.med = med;
    if (e.localpref !== undefined) r.localPref = e.localpref;
    // Locally announced networks show neighbor "LOCAL" with remote_addr "???".
    const from = e.neighbor?.remote_addr;
    if (from && /^[0-9a-fA-F.:]+$/.test(from) && !isUnspecifiedAddress(from)) r.from = canonicalAddress(from);
    if (isUnspecifiedAddress(r.nextHop)) r.nextHop = '';
    out.push(r);
  }
  return out;
}

class OpenbgpdPeer implements PeerDriver {
  readonly implementation = 'openbgpd' as const;
  readonly logPath: string;
  private proc?: SpawnedProcess;
  /** Every process of this daemon (children included), for a clean stop. */
  private pids: number[] = [];
  private readonly config: string;
  private readonly socket: string;

  constructor(
    readonly node: string,
    private readonly lab: Lab,
    private readonly opts: PeerStartOptions,
  ) {
    const base = join(lab.dir, `${node}-openbgpd`);
    this.config = `${base}.conf`;
    this.socket = `${base}.sock`;
    this.logPath = `${base}.log`;
  }

  private bgpctl(args: string[]): Promise<string> {
    return this.lab.exec(this.node, 'bgpctl', ['-s', this.socket, ...args]);
  }

  async start(): Promise<void> {
    // The chroot directory that the Debian unit would create as RuntimeDirectory.
    mkdirSync('/run/openbgpd', { recursive: true });
    writeFileSync(this.config, openbgpdConfig(this.opts, this.socket));
    await this.lab.exec(this.node, 'bgpd', ['-n', '-f', this.config]);
    const before = await namespacePids(this.lab, this.node);
    this.proc = this.lab.spawn(this.node, 'openbgpd', 'bgpd', ['-d', '-v', '-f', this.config]);
    await waitFor('openbgpd control socket', async () => {
      if (this.proc?.child.exitCode !== null) throw new Error(`bgpd exited; see ${this.proc?.logPath}`);
      await this.bgpctl(['show', 'summary']);
      return true;
    });
    // The parent, the session engine, the RDE and the RTR process.
    this.pids = await newPids(this.lab, this.node, before);
  }

  async routes(): Promise<NormalisedRoute[]> {
    const j = JSON.parse(await this.bgpctl(['-j', 'show', 'rib', 'detail'])) as unknown;
    return sortRoutes(parseBgpctlRib(j));
  }

  async routesFrom(neighbor: string): Promise<NormalisedRoute[]> {
    const j = JSON.parse(
      await this.bgpctl(['-j', 'show', 'rib', 'in', 'neighbor', neighbor, 'detail']),
    ) as unknown;
    const n = canonicalAddress(neighbor);
    return sortRoutes(parseBgpctlRib(j).map((r) => ({ ...r, from: n })));
  }

  async sessionState(neighbor: string): Promise<SessionState> {
    const j = JSON.parse(await this.bgpctl(['-j', 'show', 'neighbor', neighbor])) as {
      neighbors?: { state?: string }[];
    };
    return normaliseState(j.neighbors?.[0]?.state);
  }

  async shutdownNeighbor(neighbor: string, message?: string): Promise<void> {
    await this.bgpctl(['neighbor', neighbor, 'down', ...(message ? [message] : [])]);
  }

  async enableNeighbor(neighbor: string): Promise<void> {
    await this.bgpctl(['neighbor', neighbor, 'up']);
  }

  async routeRefresh(neighbor: string): Promise<void> {
    await this.bgpctl(['neighbor', neighbor, 'refresh']);
  }

  async stop(): Promise<void> {
    await stopSpawned(this.proc);
    await terminateAll(this.pids);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export async function startOpenbgpd(lab: Lab, node: string, opts: PeerStartOptions): Promise<PeerDriver> {
  const peer = new OpenbgpdPeer(node, lab, opts);
  await peer.start();
  return peer;
}
