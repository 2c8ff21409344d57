// Driver for ExaBGP 4.2. ExaBGP keeps no RIB of its own: an API process (exabgp-api.py) records
// every received UPDATE and state change as JSON lines, and the driver replays them into a table.
// Commands (teardown, route refresh, raw announcements) go through a FIFO to the same process.
// ExaBGP is the one implementation here that can be made a 2-octet-only speaker (asn4 disable).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Lab, runOk, type SpawnedProcess, waitFor } from '../lab.ts';
import { namespacePids, newPids, stopSpawned, terminateAll } from './process.ts';
import {
  canonicalAddress,
  canonicalPrefix,
  familyOf,
  type NeighborOptions,
  type NormalisedRoute,
  neighborFamilies,
  type OriginatedRoute,
  type PeerDriver,
  type PeerStartOptions,
  type SessionState,
  sortRoutes,
} from './types.ts';

const API_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'exabgp-api.py');

function exabgpConfig(opts: PeerStartOptions, rxFile: string, cmdFifo: string): string {
  const l: string[] = [
    'process api {',
    `  run /usr/bin/python3 ${API_SCRIPT} ${rxFile} ${cmdFifo};`,
    '  encoder json;',
    '}',
  ];
  for (const n of opts.neighbors) {
    const fams = neighborFamilies(n);
    l.push(`neighbor ${n.address} {`);
    l.push(`  router-id ${opts.routerId};`);
    if (n.localAddress) l.push(`  local-address ${n.localAddress};`);
    l.push(`  local-as ${opts.localAs};`, `  peer-as ${n.remoteAs};`, `  hold-time ${n.holdTime ?? 90};`);
    if (n.passive) l.push('  passive true;');
    if (n.port) l.push(`  peer-port ${n.port};`);
    l.push(`  family { ${fams.map((f) => `${f} unicast;`).join(' ')} }`);
    const caps: string[] = ['route-refresh;'];
    if (opts.fourOctetAs === false) caps.push('asn4 disable;');
    if (n.addPath) caps.push(`add-path ${n.addPath === 'both' ? 'send/receive' : n.addPath};`);
    if (n.gracefulRestart) caps.push('graceful-restart 120;');
    l.push(`  capability { ${caps.join(' ')} }`);
    l.push(
      '  api { processes [ api ]; neighbor-changes; receive { parsed; update; notification; refresh; } }',
    );
    const routes = (opts.originate ?? []).filter((r) => fams.includes(familyOf(r.prefix)));
    if (routes.length > 0) {
      l.push('  static {');
      for (const r of routes) l.push(`    ${routeText(r, n)};`);
      l.push('  }');
    }
    l.push('}');
  }
  return `${l.join('\n')}\n`;
}

/** A path attribute given as raw bytes: ExaBGP sends it as is (flags, type code, data). */
export interface RawAttribute {
  code: number;
  flags: number;
  data: Uint8Array;
}

/** ExaBGP's text for one route ("route PREFIX next-hop ... attribute [ 0xCODE 0xFLAGS 0xDATA ]"). */
function routeText(r: OriginatedRoute, n: NeighborOptions, raw: RawAttribute[] = []): string {
  const fam = familyOf(r.prefix);
  const nh = (fam === 'ipv4' ? n.nextHop4 : n.nextHop6) ?? 'self';
  let line = `route ${r.prefix} next-hop ${nh}`;
  if (r.med !== undefined) line += ` med ${r.med}`;
  if (r.localPref !== undefined) line += ` local-preference ${r.localPref}`;
  if (r.communities?.length) line += ` community [ ${r.communities.join(' ')} ]`;
  if (r.largeCommunities?.length) line += ` large-community [ ${r.largeCommunities.join(' ')} ]`;
  if (r.extCommunities?.length) {
    line += ` extended-community [ ${r.extCommunities.map((c) => c.replace(/^rt:/, 'target:')).join(' ')} ]`;
  }
  for (const a of raw) {
    const hex = Buffer.from(a.data).toString('hex');
    line += ` attribute [ 0x${a.code.toString(16)} 0x${a.flags.toString(16)} 0x${hex} ]`;
  }
  return line;
}

type ExaAsPath = (number | number[])[] | Record<string, { element: string; value: number[] }>;
interface ExaEvent {
  type?: string;
  neighbor?: {
    address?: { local?: string; peer?: string };
    state?: string;
    message?: {
      update?: {
        attribute?: {
          'as-path'?: ExaAsPath;
          med?: number;
          'local-preference'?: number;
          community?: [number, number][];
          'large-community'?: [number, number, number][];
        };
        announce?: Record<string, Record<string, ({ nlri: string } | string)[]>>;
        withdraw?: Record<string, ({ nlri: string } | string)[]>;
      };
    };
  };
}

function nlriText(n: { nlri: string; 'path-information'?: string } | string): {
  prefix: string;
  pathId: string;
} {
  if (typeof n === 'string') return { prefix: n, pathId: '' };
  return { prefix: n.nlri, pathId: n['path-information'] ?? '' };
}

/** Replays ExaBGP's JSON event lines into the routes currently held and the session states. */
export function replayExabgpEvents(text: string): {
  routes: NormalisedRoute[];
  states: Map<string, SessionState>;
} {
  const table = new Map<string, NormalisedRoute>();
  const states = new Map<string, SessionState>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let ev: ExaEvent;
    try {
      ev = JSON.parse(line) as ExaEvent;
    } catch {
      continue;
    }
    const peerAddr = ev.neighbor?.address?.peer;
    if (!peerAddr) continue;
    const peer = canonicalAddress(peerAddr);
    if (ev.type === 'state' && ev.neighbor?.state) {
      const s = ev.neighbor.state;
      states.set(peer, s === 'up' ? 'established' : s === 'connected' ? 'opensent' : 'idle');
      if (s === 'down') {
        for (const [k, r] of table) if (r.from === peer) table.delete(k);
      }
      continue;
    }
    const u = ev.neighbor?.message?.update;
    if (ev.type !== 'update' || !u) continue;
    for (const entries of Object.values(u.withdraw ?? {})) {
      for (const e of entries) {
        const { prefix, pathId } = nlriText(e);
        table.delete(`${peer} ${canonicalPrefix(prefix)} ${pathId}`);
      }
    }
    const a = u.attribute ?? {};
    const rawPath = a['as-path'];
    const asPath: number[] = Array.isArray(rawPath)
      ? rawPath.flat()
      : Object.values(rawPath ?? {}).flatMap((seg) => seg.value);
    for (const byNextHop of Object.values(u.announce ?? {})) {
      for (const [nextHop, entries] of Object.entries(byNextHop)) {
        for (const e of entries) {
          const { prefix, pathId } = nlriText(e);
          const r: NormalisedRoute = {
            prefix: canonicalPrefix(prefix),
            nextHop: canonicalAddress(nextHop),
            asPath,
            communities: (a.community ?? []).map(([x, y]) => `${x}:${y}`),
            largeCommunities: (a['large-community'] ?? []).map(([x, y, z]) => `${x}:${y}:${z}`),
            from: peer,
          };
          if (a.med !== undefined) r.med = a.med;
          if (a['local-preference'] !== undefined) r.localPref = a['local-preference'];
          table.set(`${peer} ${r.prefix} ${pathId}`, r);
        }
      }
    }
  }
  return { routes: sortRoutes([...table.values()]), states };
}

class ExabgpPeer implements PeerDriver {
  readonly implementation = 'exabgp' as const;
  readonly logPath: string;
  private proc?: SpawnedProcess;
  /** Every process of this daemon (children included), for a clean stop. */
  private pids: number[] = [];
  private readonly config: string;
  private readonly rxFile: string;
  private readonly cmdFifo: string;

  constructor(
    readonly node: string,
    private readonly lab: Lab,
    private readonly opts: PeerStartOptions,
  ) {
    const base = join(lab.dir, `${node}-exabgp`);
    this.config = `${base}.conf`;
    this.rxFile = `${base}.rx.jsonl`;
    this.cmdFifo = `${base}.cmd`;
    this.logPath = `${base}.log`;
  }

  async start(): Promise<void> {
    if (!existsSync(this.cmdFifo)) await runOk('mkfifo', [this.cmdFifo]);
    writeFileSync(this.rxFile, '');
    writeFileSync(this.config, exabgpConfig(this.opts, this.rxFile, this.cmdFifo));
    const passive = this.opts.neighbors.filter((n) => n.passive && n.localAddress);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      'exabgp.daemon.user': 'root',
      'exabgp.daemon.drop': 'false',
      'exabgp.api.cli': 'false',
      'exabgp.log.destination': 'stdout',
      'exabgp.log.level': 'INFO',
      'exabgp.tcp.bind': passive.map((n) => n.localAddress).join(' '),
      'exabgp.tcp.port': '179',
      // Reconnect quickly after a NOTIFICATION or a dropped session.
      'exabgp.tcp.delay': '0',
    };
    const before = await namespacePids(this.lab, this.node);
    this.proc = this.lab.spawn(this.node, 'exabgp', 'exabgp', [this.config], env);
    await waitFor('exabgp API process', async () => {
      if (this.proc?.child.exitCode !== null) throw new Error(`exabgp exited; see ${this.proc?.logPath}`);
      const r = await this.lab.tryExec(this.node, 'pgrep', ['-f', this.rxFile]);
      return r.code === 0;
    });
    // ExaBGP and its API helper: both must be gone before a restart reuses the FIFO and files.
    this.pids = await newPids(this.lab, this.node, before);
  }

  /** Sends one ExaBGP API command (e.g. "neighbor 10.0.0.1 announce route 10.9.0.0/24 next-hop self"). */
  async command(text: string): Promise<void> {
    const fh = await open(this.cmdFifo, 'w');
    try {
      await fh.write(`${text}\n`);
    } finally {
      await fh.close();
    }
  }

  /**
   * Announces a route to one neighbour at run time, optionally with raw path attributes: the way
   * to send a malformed attribute (wrong length, flags or value) or an unknown one on purpose.
   */
  async announce(neighbor: string, route: OriginatedRoute, raw: RawAttribute[] = []): Promise<void> {
    const n = this.neighbor(neighbor);
    await this.command(`neighbor ${n.address} announce ${routeText(route, n, raw)}`);
  }

  async withdraw(neighbor: string, prefix: string): Promise<void> {
    const n = this.neighbor(neighbor);
    const fam = familyOf(prefix);
    const nh = (fam === 'ipv4' ? n.nextHop4 : n.nextHop6) ?? 'self';
    await this.command(`neighbor ${n.address} withdraw route ${prefix} next-hop ${nh}`);
  }

  private neighbor(address: string): NeighborOptions {
    const n = this.opts.neighbors.find((x) => canonicalAddress(x.address) === canonicalAddress(address));
    if (!n) throw new Error(`exabgp on ${this.node} has no neighbour ${address}`);
    return n;
  }

  private replay() {
    return replayExabgpEvents(readFileSync(this.rxFile, 'utf8'));
  }

  async routes(): Promise<NormalisedRoute[]> {
    return this.replay().routes;
  }

  async routesFrom(neighbor: string): Promise<NormalisedRoute[]> {
    const n = canonicalAddress(neighbor);
    return this.replay().routes.filter((r) => r.from === n);
  }

  async sessionState(neighbor: string): Promise<SessionState> {
    return this.replay().states.get(canonicalAddress(neighbor)) ?? 'idle';
  }

  /** ExaBGP sends Cease / Administrative Shutdown (RFC 4486 subcode 2); it has no RFC 9003 text. */
  async shutdownNeighbor(neighbor: string): Promise<void> {
    await this.command(`neighbor ${neighbor} teardown 2`);
  }

  /** ExaBGP reconnects by itself after a teardown. */
  async enableNeighbor(): Promise<void> {}

  async routeRefresh(neighbor: string): Promise<void> {
    const n = this.opts.neighbors.find((x) => canonicalAddress(x.address) === canonicalAddress(neighbor));
    for (const fam of n ? neighborFamilies(n) : (['ipv4'] as const)) {
      await this.command(`neighbor ${neighbor} announce route-refresh ${fam} unicast`);
    }
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

export async function startExabgp(lab: Lab, node: string, opts: PeerStartOptions): Promise<ExabgpPeer> {
  const peer = new ExabgpPeer(node, lab, opts);
  await peer.start();
  return peer;
}

export type { ExabgpPeer };
