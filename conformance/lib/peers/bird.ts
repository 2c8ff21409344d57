// Drivers for BIRD 2 (Debian's bird2) and BIRD 1.6 (the version Calico ran, unpacked at
// /opt/bird1 by scripts/setup.sh because the packages conflict). BIRD 1.6 runs one daemon per
// address family (bird for IPv4, bird6 for IPv6), so its driver may run two processes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, type SpawnedProcess, waitFor } from '../lab.ts';
import {
  canonicalAddress,
  canonicalPrefix,
  type Family,
  familyOf,
  type Implementation,
  type NeighborOptions,
  type NormalisedRoute,
  neighborFamilies,
  normaliseState,
  type OriginatedRoute,
  type PeerDriver,
  type PeerStartOptions,
  type SessionState,
  sortRoutes,
} from './types.ts';

export const BIRD1_DIR = '/opt/bird1/usr/sbin';

interface BirdInstance {
  /** Which families this daemon handles (BIRD 2: both; BIRD 1.6: one each). */
  families: Family[];
  bin: string;
  ctl: string;
  socket: string;
  config: string;
  proc?: SpawnedProcess;
}

/** Filter statements that give an originated route its attributes (same syntax in 1.6 and 2). */
function attributeStatements(r: OriginatedRoute): string {
  const s: string[] = [];
  for (const c of r.communities ?? []) s.push(`bgp_community.add((${c.replace(':', ',')}));`);
  for (const c of r.largeCommunities ?? []) s.push(`bgp_large_community.add((${c.replaceAll(':', ',')}));`);
  for (const c of r.extCommunities ?? []) {
    const [kind, a, b] = c.split(':');
    s.push(`bgp_ext_community.add((${kind}, ${a}, ${b}));`);
  }
  if (r.med !== undefined) s.push(`bgp_med = ${r.med};`);
  if (r.localPref !== undefined) s.push(`bgp_local_pref = ${r.localPref};`);
  return s.join(' ');
}

function staticFilter(routes: OriginatedRoute[]): string {
  const clauses = routes
    .filter((r) => attributeStatements(r) !== '')
    .map((r) => `if net = ${r.prefix} then { ${attributeStatements(r)} }`);
  return `filter { ${clauses.join(' ')} accept; }`;
}

function protoName(i: number): string {
  return `n${i}`;
}

function bird2Config(opts: PeerStartOptions, logFile: string): string {
  const routes = opts.originate ?? [];
  const lines: string[] = [`log "${logFile}" all;`, `router id ${opts.routerId};`, 'protocol device { }'];
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const mine = routes.filter((r) => familyOf(r.prefix) === fam);
    if (mine.length === 0) continue;
    lines.push(
      `protocol static s${fam} { ${fam}; ${mine.map((r) => `route ${r.prefix} unreachable;`).join(' ')} }`,
    );
  }
  if (opts.mrt?.tableFile) {
    // BIRD writes TABLE_DUMP_V2 every period. With "always add path" every entry uses the RFC 8050
    // ADD-PATH subtypes; without, only entries that have a path id do: one table each way.
    for (const t of ['master4', 'master6']) {
      lines.push(
        `protocol mrt mrt_${t} { table "${t}"; filename "${opts.mrt.tableFile}"; period ${opts.mrt.periodSeconds ?? 60}; always add path ${t === 'master6' ? 'on' : 'off'}; }`,
      );
    }
  }
  opts.neighbors.forEach((n, i) => {
    const ibgp = n.remoteAs === opts.localAs;
    const body: string[] = [
      `local ${n.localAddress ?? ''} as ${opts.localAs};`,
      `neighbor ${n.address}${n.port ? ` port ${n.port}` : ''} as ${n.remoteAs};`,
      `hold time ${n.holdTime ?? 90};`,
      `enable as4 ${opts.fourOctetAs === false ? 'off' : 'on'};`,
      `graceful restart ${n.gracefulRestart ? 'on' : 'off'};`,
    ];
    if (n.passive) body.push('passive on;');
    if (ibgp) body.push('direct;');
    for (const fam of neighborFamilies(n)) {
      // Attributes are set on export: BIRD drops a MED towards eBGP unless the export filter set it.
      const ch: string[] = ['import all;', `export ${staticFilter(opts.originate ?? [])};`];
      if (n.addPath)
        ch.push(`add paths ${n.addPath === 'send' ? 'tx' : n.addPath === 'receive' ? 'rx' : 'on'};`);
      if (ibgp) ch.push('next hop self;', 'gateway direct;');
      const nh = fam === 'ipv4' ? n.nextHop4 : n.nextHop6;
      if (nh) ch.push(`next hop address ${nh};`);
      if (fam !== familyOf(n.address) && fam === 'ipv4') ch.push('extended next hop on;');
      body.push(`${fam} { ${ch.join(' ')} };`);
    }
    lines.push(`protocol bgp ${protoName(i)} { ${body.join(' ')} }`);
  });
  return `${lines.join('\n')}\n`;
}

function bird1Config(opts: PeerStartOptions, fam: Family, logFile: string): string {
  const routes = (opts.originate ?? []).filter((r) => familyOf(r.prefix) === fam);
  const lines: string[] = [`log "${logFile}" all;`, `router id ${opts.routerId};`, 'protocol device { }'];
  if (routes.length > 0) {
    lines.push(
      `protocol static originate { ${routes.map((r) => `route ${r.prefix} unreachable;`).join(' ')} }`,
    );
  }
  opts.neighbors.forEach((n, i) => {
    if (familyOf(n.address) !== fam) return;
    const ibgp = n.remoteAs === opts.localAs;
    const body: string[] = [
      `local ${n.localAddress ?? ''} as ${opts.localAs};`,
      `neighbor ${n.address}${n.port ? ` port ${n.port}` : ''} as ${n.remoteAs};`,
      `hold time ${n.holdTime ?? 90};`,
      `enable as4 ${opts.fourOctetAs === false ? 'off' : 'on'};`,
      `graceful restart ${n.gracefulRestart ? 'on' : 'off'};`,
      'import all;',
      `export ${staticFilter(routes)};`,
    ];
    if (n.passive) body.push('passive on;');
    if (n.addPath)
      body.push(`add paths ${n.addPath === 'send' ? 'tx' : n.addPath === 'receive' ? 'rx' : 'on'};`);
    if (ibgp) body.push('direct;', 'next hop self;', 'gateway direct;');
    lines.push(`protocol bgp ${protoName(i)} { ${body.join(' ')} }`);
  });
  return `${lines.join('\n')}\n`;
}

/** Parses `show route all` of BIRD 1.6 or 2 into normalised routes. */
export function parseBirdRoutes(text: string, protoToNeighbor: Map<string, string>): NormalisedRoute[] {
  const out: NormalisedRoute[] = [];
  let prefix: string | undefined;
  let cur: NormalisedRoute | undefined;
  let viaNextHop = '';
  const finish = () => {
    if (cur) {
      if (!cur.nextHop) cur.nextHop = viaNextHop;
      out.push(cur);
    }
    cur = undefined;
    viaNextHop = '';
  };
  for (const line of text.split('\n')) {
    if (/^(BIRD|Table|Access restricted)/.test(line) || line.trim() === '') continue;
    // A route line: "PREFIX ... [proto time ...] * (pref) [ASx]" or, for further routes of the
    // same prefix, the same without PREFIX (indented).
    const head =
      /^(\S+)?\s+(?:unicast\s+|via\s+(\S+).*?|unreachable\s+|blackhole\s+)?\[(\S+)\s[^\]]*\](\s\*)?/.exec(
        line,
      );
    if (head && !line.includes(': ')) {
      finish();
      if (head[1]) prefix = canonicalPrefix(head[1]);
      if (!prefix) continue;
      const proto = head[3] ?? '';
      cur = {
        prefix,
        nextHop: '',
        asPath: [],
        communities: [],
        largeCommunities: [],
        best: head[4] !== undefined,
      };
      const from = protoToNeighbor.get(proto);
      if (from) cur.from = from;
      if (head[2]) viaNextHop = canonicalAddress(head[2]);
      continue;
    }
    if (!cur) continue;
    const via = /^\s+via\s+(\S+)/.exec(line);
    if (via?.[1]) {
      viaNextHop = canonicalAddress(via[1]);
      continue;
    }
    const attr = /^\s+BGP\.(\w+):\s*(.*)$/.exec(line);
    if (!attr) continue;
    const [, name, value = ''] = attr;
    switch (name) {
      case 'as_path':
        cur.asPath = (value.match(/\d+/g) ?? []).map(Number);
        break;
      case 'next_hop':
        // BIRD prints "global [link-local]" for IPv6; the first address is the one that counts.
        if (value.trim()) cur.nextHop = canonicalAddress(value.trim().split(/\s+/)[0] ?? '');
        break;
      case 'med':
        cur.med = Number(value);
        break;
      case 'local_pref':
        cur.localPref = Number(value);
        break;
      case 'community':
        cur.communities = [...value.matchAll(/\((\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}`);
        break;
      case 'large_community':
        cur.largeCommunities = [...value.matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map(
          (m) => `${m[1]}:${m[2]}:${m[3]}`,
        );
        break;
    }
  }
  finish();
  return sortRoutes(out);
}

class BirdPeer implements PeerDriver {
  readonly logPath: string;
  private readonly protoToNeighbor = new Map<string, string>();

  constructor(
    readonly implementation: Implementation,
    readonly node: string,
    private readonly lab: Lab,
    private readonly opts: PeerStartOptions,
    private readonly instances: BirdInstance[],
  ) {
    this.logPath = join(lab.dir, `${node}-${implementation}.log`);
    opts.neighbors.forEach((n, i) => {
      this.protoToNeighbor.set(protoName(i), canonicalAddress(n.address));
    });
  }

  async start(): Promise<void> {
    for (const inst of this.instances) {
      await this.lab.exec(this.node, inst.bin, ['-p', '-c', inst.config]);
      inst.proc = this.lab.spawn(this.node, `${this.implementation}-${inst.families.join('')}`, inst.bin, [
        '-f',
        '-c',
        inst.config,
        '-s',
        inst.socket,
      ]);
      await waitFor(`${this.implementation} control socket ${inst.socket}`, async () => {
        if (inst.proc?.child.exitCode !== null)
          throw new Error(`${inst.bin} exited; see ${inst.proc?.logPath}`);
        const r = await this.lab.tryExec(this.node, inst.ctl, ['-s', inst.socket, 'show status']);
        return r.code === 0 && r.stdout.includes('Daemon is up');
      });
    }
  }

  private instanceFor(neighbor: string): { inst: BirdInstance; proto: string } {
    const idx = this.opts.neighbors.findIndex(
      (n) => canonicalAddress(n.address) === canonicalAddress(neighbor),
    );
    const n = this.opts.neighbors[idx];
    if (!n) throw new Error(`${this.implementation} on ${this.node} has no neighbour ${neighbor}`);
    const inst = this.instances.find((x) => x.families.includes(familyOf(n.address)));
    if (!inst) throw new Error(`no ${this.implementation} instance for ${neighbor}`);
    return { inst, proto: protoName(idx) };
  }

  private async birdc(inst: BirdInstance, command: string): Promise<string> {
    return this.lab.exec(this.node, inst.ctl, ['-s', inst.socket, command]);
  }

  async routes(): Promise<NormalisedRoute[]> {
    const all: NormalisedRoute[] = [];
    for (const inst of this.instances) {
      const cmd = this.implementation === 'bird2' ? 'show route all table all' : 'show route all';
      all.push(...parseBirdRoutes(await this.birdc(inst, cmd), this.protoToNeighbor));
    }
    return sortRoutes(all);
  }

  async routesFrom(neighbor: string): Promise<NormalisedRoute[]> {
    const n = canonicalAddress(neighbor);
    return (await this.routes()).filter((r) => r.from === n);
  }

  async sessionState(neighbor: string): Promise<SessionState> {
    const { inst, proto } = this.instanceFor(neighbor);
    const text = await this.birdc(inst, `show protocols ${proto}`);
    const line = text.split('\n').find((l) => l.startsWith(`${proto} `));
    if (!line) return 'idle';
    // "n0  BGP  ---  up  02:00:00.000  Established" (the info column may be empty or "Active").
    const cols = line.trim().split(/\s+/);
    const info = cols.slice(5).join(' ') || cols[3];
    return normaliseState(info);
  }

  async shutdownNeighbor(neighbor: string, message?: string): Promise<void> {
    const { inst, proto } = this.instanceFor(neighbor);
    const msg = message ? ` "${message.replaceAll('"', "'")}"` : '';
    await this.birdc(inst, `disable ${proto}${msg}`);
  }

  async enableNeighbor(neighbor: string): Promise<void> {
    const { inst, proto } = this.instanceFor(neighbor);
    await this.birdc(inst, `enable ${proto}`);
  }

  async routeRefresh(neighbor: string): Promise<void> {
    const { inst, proto } = this.instanceFor(neighbor);
    await this.birdc(inst, `reload in ${proto}`);
  }

  async stop(): Promise<void> {
    for (const inst of this.instances) {
      await this.lab.tryExec(this.node, inst.ctl, ['-s', inst.socket, 'down']);
      if (inst.proc) await inst.proc.exited;
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

function neighborsNeedLocal(neighbors: NeighborOptions[]): void {
  for (const n of neighbors) {
    if (!n.localAddress) throw new Error(`BIRD needs localAddress for neighbour ${n.address}`);
  }
}

export async function startBird2(lab: Lab, node: string, opts: PeerStartOptions): Promise<PeerDriver> {
  neighborsNeedLocal(opts.neighbors);
  const base = join(lab.dir, `${node}-bird2`);
  const config = `${base}.conf`;
  writeFileSync(config, bird2Config(opts, `${base}.log`));
  const inst: BirdInstance = {
    families: ['ipv4', 'ipv6'],
    bin: 'bird',
    ctl: 'birdc',
    socket: `${base}.ctl`,
    config,
  };
  const peer = new BirdPeer('bird2', node, lab, opts, [inst]);
  await peer.start();
  return peer;
}

export async function startBird1(lab: Lab, node: string, opts: PeerStartOptions): Promise<PeerDriver> {
  neighborsNeedLocal(opts.neighbors);
  for (const n of opts.neighbors) {
    if (neighborFamilies(n).some((f) => f !== familyOf(n.address))) {
      throw new Error(
        'BIRD 1.6 carries only the transport family on a session (bird for IPv4, bird6 for IPv6)',
      );
    }
  }
  const instances: BirdInstance[] = [];
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const used =
      opts.neighbors.some((n) => familyOf(n.address) === fam) ||
      (opts.originate ?? []).some((r) => familyOf(r.prefix) === fam);
    if (!used) continue;
    const suffix = fam === 'ipv4' ? '' : '6';
    const base = join(lab.dir, `${node}-bird1${suffix}`);
    const config = `${base}.conf`;
    writeFileSync(config, bird1Config(opts, fam, `${base}.log`));
    instances.push({
      families: [fam],
      bin: join(BIRD1_DIR, `bird${suffix}`),
      ctl: join(BIRD1_DIR, `birdc${suffix}`),
      socket: `${base}.ctl`,
      config,
    });
  }
  const peer = new BirdPeer('bird1', node, lab, opts, instances);
  await peer.start();
  return peer;
}
