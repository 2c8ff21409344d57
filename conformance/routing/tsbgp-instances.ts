// Several `tsbgp run` daemons in one Lab. harness.ts's TsbgpNode names its config file and control
// socket after the Lab (one daemon per Lab); here each instance names them after its node, so two
// or more reflectors can run side by side, be reconfigured (`tsbgp reload`) and be killed one by one.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, type RunResult, run, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { TSBGP } from './harness.ts';

/** One row of `tsbgp show neighbors --json` (the fields these tests read). */
export interface NeighborRow {
  name: string;
  address?: string;
  state: string;
  since: number;
}

/** One path of `tsbgp show route PREFIX --detail --json`. */
export interface PathRow {
  from: string;
  kind: string;
  best: boolean;
  lostAt: string | null;
  nextHop: string;
  asPath: string;
  originatorId: string | null;
  clusterList: string[];
}

export interface RouteDetailRow {
  prefix: string;
  paths: PathRow[];
}

export class TsbgpInstance {
  readonly cfgFile: string;
  readonly socket: string;
  proc: SpawnedProcess | undefined;

  constructor(
    private readonly lab: Lab,
    readonly node: string,
  ) {
    this.cfgFile = join(lab.dir, `${node}-tsbgp.yaml`);
    this.socket = join(lab.dir, `${node}-tsbgp.sock`);
  }

  /** The tsbgp CLI against this daemon's control socket. */
  cli(...args: string[]): Promise<RunResult> {
    return run(process.execPath, [TSBGP, ...args, '--control-socket', this.socket]);
  }

  /** A CLI query with --json that must succeed. */
  async json<T>(...args: string[]): Promise<T> {
    const r = await this.cli(...args, '--json');
    assert.equal(r.code, 0, `tsbgp (${this.node}) ${args.join(' ')}: ${r.stderr.trim() || r.stdout.trim()}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Writes `config` and spawns `tsbgp run` with it in this instance's node. */
  start(config: string): SpawnedProcess {
    writeFileSync(this.cfgFile, config);
    this.proc = this.lab.spawn(this.node, 'tsbgp', process.execPath, [
      TSBGP,
      'run',
      '--config',
      this.cfgFile,
      '--control-socket',
      this.socket,
    ]);
    return this.proc;
  }

  /** Rewrites the config file and has the running daemon apply it (`tsbgp reload`). */
  async reload(config: string): Promise<void> {
    writeFileSync(this.cfgFile, config);
    const r = await this.cli('reload');
    assert.equal(r.code, 0, `tsbgp (${this.node}) reload: ${r.stderr.trim() || r.stdout.trim()}`);
  }

  /** SIGKILL: the daemon gets no chance to send a NOTIFICATION. */
  async kill(): Promise<void> {
    const p = this.proc;
    assert.ok(p, `tsbgp on ${this.node} was started`);
    p.child.kill('SIGKILL');
    await p.exited;
  }

  async neighbors(): Promise<NeighborRow[]> {
    return this.json<NeighborRow[]>('show', 'neighbors');
  }

  /** Waits until `show neighbors` lists exactly `count` neighbours, all Established. */
  async waitEstablished(count: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `every session of tsbgp on ${this.node} Established`,
      async () => {
        if (this.proc?.child.exitCode !== null) throw new Error(`tsbgp exited; see ${this.proc?.logPath}`);
        const r = await this.cli('show', 'neighbors', '--json');
        if (r.code !== 0) return false;
        const ns = JSON.parse(r.stdout) as NeighborRow[];
        return ns.length === count && ns.every((n) => n.state === 'Established');
      },
      timeoutMs,
      500,
    );
  }

  /** Every path the Loc-RIB holds for `prefix`; undefined when it holds none. */
  async detail(prefix: string): Promise<RouteDetailRow | undefined> {
    const r = await this.cli('show', 'route', prefix, '--detail', '--json');
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.stdout) as RouteDetailRow[])[0];
  }

  /** Asserts that the daemon answers, and that its Loc-RIB holds no path for `prefix`. */
  async assertNotInLocRib(prefix: string, message: string): Promise<void> {
    const r = await this.cli('show', 'route', prefix, '--detail', '--json');
    assert.notEqual(r.code, 0, `${message}: tsbgp on ${this.node} has ${r.stdout}`);
    assert.match(`${r.stderr}${r.stdout}`, /no route for .* in the Loc-RIB/, message);
  }
}

/** One UPDATE as Wireshark's dissector reads it off the wire (IPv4 NLRI only). */
export interface WireUpdate {
  src: string;
  dst: string;
  /** "addr/len" of the NLRI field. */
  nlri: string[];
  originatorId: string | undefined;
  /** CLUSTER_LIST in wire order; undefined when the attribute is absent. */
  clusterList: string[] | undefined;
}

type Pair = [string, string];

/** Leaf fields of a tshark JSON subtree, in document order. */
function leaves(v: unknown, out: Pair[] = []): Pair[] {
  if (Array.isArray(v)) for (const x of v) leaves(x, out);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string') out.push([k, x]);
      else if (Array.isArray(x) && x.every((y) => typeof y === 'string')) for (const y of x) out.push([k, y]);
      else leaves(x, out);
    }
  }
  return out;
}

const asArray = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Every UPDATE in a capture (which tcpdump may still be writing: a packet cut short at the end is
 * dropped by tshark, and the next read sees it), decoded by tshark, independently of tsbgp's codec.
 */
export async function updatesOnWire(file: string): Promise<WireUpdate[]> {
  const r = await run('tshark', [
    ...['-r', file, '-d', 'tcp.port==179,bgp', '-T', 'json', '--no-duplicate-keys'],
    ...['-J', 'ip bgp', '-Y', 'bgp.type == 2'],
  ]);
  if (!r.stdout.trim()) return [];
  const packets = JSON.parse(r.stdout) as {
    _source: { layers: { ip?: Record<string, unknown>; bgp?: unknown } };
  }[];
  const out: WireUpdate[] = [];
  for (const pkt of packets) {
    const ip = pkt._source.layers.ip ?? {};
    const src = String(ip['ip.src']);
    const dst = String(ip['ip.dst']);
    for (const m of asArray(pkt._source.layers.bgp)) {
      const msg = m as Record<string, unknown>;
      if (msg['bgp.type'] !== '2') continue;
      const nlriPairs = leaves(msg['bgp.update.nlri']);
      const addrs = nlriPairs.filter(([k]) => k === 'bgp.nlri_prefix').map(([, v]) => v);
      const lens = nlriPairs.filter(([k]) => k === 'bgp.prefix_length').map(([, v]) => v);
      const attrs = leaves(msg['bgp.update.path_attributes']);
      const clusterIds = attrs.filter(([k]) => k === 'bgp.path_attribute.cluster_id').map(([, v]) => v);
      const hasClusterList = JSON.stringify(msg['bgp.update.path_attributes'] ?? {}).includes(
        'bgp.path_attribute.cluster_list',
      );
      out.push({
        src,
        dst,
        nlri: addrs.map((a, i) => `${a}/${lens[i]}`),
        originatorId: attrs.find(([k]) => k === 'bgp.update.path_attribute.originator_id')?.[1],
        clusterList: hasClusterList ? clusterIds : undefined,
      });
    }
  }
  return out;
}
