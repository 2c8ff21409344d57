// Driver for GoBGP (gobgpd + the gobgp CLI over gRPC). The gRPC API listens on loopback inside the
// node's namespace, so the default port never collides between instances. Originated routes are
// added through the CLI after start, as operators do with GoBGP.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, type SpawnedProcess, waitFor } from '../lab.ts';
import { stopSpawned } from './process.ts';
import {
  canonicalAddress,
  canonicalPrefix,
  communityFromNumber,
  type Family,
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

const API = '127.0.0.1:50051';

function gobgpConfig(opts: PeerStartOptions): string {
  if (opts.fourOctetAs === false) throw new Error('GoBGP cannot be made 2-octet only; use ExaBGP');
  const l: string[] = [
    '[global.config]',
    `  as = ${opts.localAs}`,
    `  router-id = "${opts.routerId}"`,
    `  port = ${opts.listen === false ? -1 : 179}`,
  ];
  for (const n of opts.neighbors) {
    l.push(
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${n.address}"`,
      `    peer-as = ${n.remoteAs}`,
    );
    l.push('  [neighbors.timers.config]', `    hold-time = ${n.holdTime ?? 90}`, '    connect-retry = 2');
    l.push('  [neighbors.transport.config]');
    if (n.localAddress) l.push(`    local-address = "${n.localAddress}"`);
    if (n.passive) l.push('    passive-mode = true');
    if (n.port) l.push(`    remote-port = ${n.port}`);
    if (n.gracefulRestart) {
      l.push('  [neighbors.graceful-restart.config]', '    enabled = true', '    restart-time = 120');
    }
    for (const fam of neighborFamilies(n)) {
      l.push(
        '  [[neighbors.afi-safis]]',
        '    [neighbors.afi-safis.config]',
        `      afi-safi-name = "${fam}-unicast"`,
      );
      if (n.gracefulRestart)
        l.push('    [neighbors.afi-safis.mp-graceful-restart.config]', '      enabled = true');
      if (n.addPath) {
        l.push('    [neighbors.afi-safis.add-paths.config]');
        if (n.addPath !== 'send') l.push('      receive = true');
        if (n.addPath !== 'receive') l.push('      send-max = 8');
      }
    }
  }
  if (opts.mrt?.updatesFile) {
    l.push(
      '[[mrt-dump]]',
      '  [mrt-dump.config]',
      '    dump-type = "updates"',
      `    file-name = "${opts.mrt.updatesFile}"`,
    );
  }
  if (opts.mrt?.tableFile) {
    l.push(
      '[[mrt-dump]]',
      '  [mrt-dump.config]',
      '    dump-type = "table"',
      `    file-name = "${opts.mrt.tableFile}"`,
    );
    l.push(`    dump-interval = ${opts.mrt.periodSeconds ?? 60}`);
  }
  return `${l.join('\n')}\n`;
}

interface GobgpAttr {
  type: number;
  value?: number | { ASN?: number; LocalData1?: number; LocalData2?: number }[];
  as_paths?: { segment_type: number; asns: number[] }[];
  nexthop?: string;
  metric?: number;
  communities?: number[];
  nlri?: unknown;
}
interface GobgpPath {
  nlri?: { prefix?: string };
  attrs?: GobgpAttr[];
  best?: boolean;
  'source-id'?: string;
  'neighbor-ip'?: string;
  stale?: boolean;
}

/** Converts `gobgp ... rib -j` (a map prefix -> paths) into normalised routes. */
export function parseGobgpRib(json: unknown): NormalisedRoute[] {
  const out: NormalisedRoute[] = [];
  for (const [prefix, paths] of Object.entries((json ?? {}) as Record<string, GobgpPath[]>)) {
    for (const p of paths) {
      const r: NormalisedRoute = {
        prefix: canonicalPrefix(p.nlri?.prefix ?? prefix),
        nextHop: '',
        asPath: [],
        communities: [],
        largeCommunities: [],
      };
      if (p.best !== undefined) r.best = p.best;
      for (const a of p.attrs ?? []) {
        switch (a.type) {
          case 2:
            r.asPath = (a.as_paths ?? []).flatMap((s) => s.asns);
            break;
          case 3:
            if (a.nexthop) r.nextHop = canonicalAddress(a.nexthop);
            break;
          case 4:
            r.med = a.metric ?? 0;
            break;
          case 5:
            if (typeof a.value === 'number') r.localPref = a.value;
            break;
          case 8:
            r.communities = (a.communities ?? []).map(communityFromNumber);
            break;
          case 14: {
            const nh = (a as { nexthop?: string }).nexthop;
            if (nh) r.nextHop = canonicalAddress(nh);
            break;
          }
          case 32:
            if (Array.isArray(a.value)) {
              r.largeCommunities = a.value.map(
                (c) => `${c.ASN ?? 0}:${c.LocalData1 ?? 0}:${c.LocalData2 ?? 0}`,
              );
            }
            break;
        }
      }
      const from = p['neighbor-ip'];
      if (from && from !== '<nil>' && !isUnspecifiedAddress(from)) r.from = canonicalAddress(from);
      if (isUnspecifiedAddress(r.nextHop)) r.nextHop = '';
      out.push(r);
    }
  }
  return out;
}

class GobgpPeer implements PeerDriver {
  readonly implementation = 'gobgp' as const;
  readonly logPath: string;
  private proc?: SpawnedProcess;
  private readonly config: string;

  constructor(
    readonly node: string,
    private readonly lab: Lab,
    private readonly opts: PeerStartOptions,
  ) {
    this.config = join(lab.dir, `${node}-gobgpd.toml`);
    this.logPath = join(lab.dir, `${node}-gobgpd.log`);
  }

  private gobgp(args: string[]): Promise<string> {
    const [host, port] = API.split(':');
    return this.lab.exec(this.node, 'gobgp', ['-u', host ?? '127.0.0.1', '-p', port ?? '50051', ...args]);
  }

  async start(): Promise<void> {
    writeFileSync(this.config, gobgpConfig(this.opts));
    this.proc = this.lab.spawn(this.node, 'gobgpd', 'gobgpd', [
      '-f',
      this.config,
      '-t',
      'toml',
      '--api-hosts',
      API,
      '-l',
      'info',
      '--pprof-disable',
    ]);
    await waitFor('gobgpd API', async () => {
      if (this.proc?.child.exitCode !== null) throw new Error(`gobgpd exited; see ${this.proc?.logPath}`);
      await this.gobgp(['global', '-j']);
      return true;
    });
    for (const r of this.opts.originate ?? []) {
      const fam = familyOf(r.prefix);
      const args = ['global', 'rib', '-a', fam, 'add', r.prefix, 'origin', 'igp'];
      // GoBGP needs a next hop for its own IPv6 routes; it rewrites it per neighbour when sending.
      if (fam === 'ipv6') args.push('nexthop', this.localNextHop('ipv6') ?? '::');
      if (r.med !== undefined) args.push('med', String(r.med));
      if (r.localPref !== undefined) args.push('local-pref', String(r.localPref));
      if (r.communities?.length) args.push('community', r.communities.join(','));
      if (r.largeCommunities?.length) args.push('large-community', r.largeCommunities.join(','));
      if (r.extCommunities?.length) args.push('rt', ...r.extCommunities.map((c) => c.replace(/^rt:/, '')));
      await this.gobgp(args);
    }
  }

  private localNextHop(fam: Family): string | undefined {
    return this.opts.neighbors.find((n) => n.localAddress && familyOf(n.localAddress) === fam)?.localAddress;
  }

  async routes(): Promise<NormalisedRoute[]> {
    const out: NormalisedRoute[] = [];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const text = await this.gobgp(['global', 'rib', '-a', fam, '-j']);
      if (text.trim()) out.push(...parseGobgpRib(JSON.parse(text)));
    }
    return sortRoutes(out);
  }

  async routesFrom(neighbor: string): Promise<NormalisedRoute[]> {
    const n = canonicalAddress(neighbor);
    const out: NormalisedRoute[] = [];
    const nb = this.opts.neighbors.find((x) => canonicalAddress(x.address) === n);
    for (const fam of nb ? neighborFamilies(nb) : (['ipv4', 'ipv6'] as const)) {
      const text = await this.gobgp(['neighbor', neighbor, 'adj-in', '-a', fam, '-j']);
      if (!text.trim()) continue;
      for (const r of parseGobgpRib(JSON.parse(text))) {
        r.from = n;
        out.push(r);
      }
    }
    return sortRoutes(out);
  }

  async sessionState(neighbor: string): Promise<SessionState> {
    const j = JSON.parse(await this.gobgp(['neighbor', neighbor, '-j'])) as {
      state?: { session_state?: number | string };
    };
    return normaliseState(j.state?.session_state);
  }

  async shutdownNeighbor(neighbor: string, message?: string): Promise<void> {
    // --reason is a flag of `gobgp neighbor` itself, so it goes before the address.
    await this.gobgp(['neighbor', ...(message ? ['--reason', message] : []), neighbor, 'disable']);
  }

  async enableNeighbor(neighbor: string): Promise<void> {
    await this.gobgp(['neighbor', neighbor, 'enable']);
  }

  async routeRefresh(neighbor: string): Promise<void> {
    await this.gobgp(['neighbor', neighbor, 'softresetin']);
  }

  async stop(): Promise<void> {
    await stopSpawned(this.proc);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export async function startGobgp(lab: Lab, node: string, opts: PeerStartOptions): Promise<PeerDriver> {
  const peer = new GobgpPeer(node, lab, opts);
  await peer.start();
  return peer;
}
