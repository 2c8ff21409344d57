// Workload prefixes from the kernel (issue #5 §2). A workload route is a route in the watched table
// whose single next hop is an interface matching a configured pattern (`cali*`, `tap*`): the
// route a CNI plugin (or libvirt) adds for each workload. The set is published as an rxjs
// Observable for the BGP speaker to originate, either as is or aggregated into configured blocks
// (Calico's IPAM blocks, /26 by default) with a local blackhole route per block, so traffic to an
// unused address in the block stops here instead of following a less specific route
// (calico-dataplane.md §3.2 `bird_aggr.cfg`, §1.3 "local block").
import { BehaviorSubject, type Observable } from 'rxjs';
import { distinctUntilChanged } from 'rxjs/operators';
import { bytesMatch, canonicalPrefix, parsePrefix } from '../routes/addr.ts';
import type { DataplaneLogger, KernelRoutes } from '../routes/kernel-routes.ts';
import { silentLogger } from '../routes/kernel-routes.ts';
import { type KernelRoute, type RouteSpec, RT_TABLE_MAIN, RTPROT_BGP } from '../routes/model.ts';

const RTPROT_KERNEL = 2;

export interface WorkloadAdvertisement {
  /** Prefixes to originate into BGP, sorted (IPv4 first, then IPv6, each by address text). */
  prefixes: string[];
  /** Workload prefixes seen in the kernel, with their interface, sorted by prefix. */
  workloads: Array<{ prefix: string; ifname: string }>;
  /** Blocks that need a local blackhole route (aggregation mode). */
  blackholes: string[];
}

/** Compiles `cali*`-style patterns (`*` a run of characters, `?` one) into one anchored RegExp. */
export function interfacePatternRegExp(patterns: readonly string[]): RegExp {
  if (patterns.length === 0) return /$^/;
  const alts = patterns.map((p) => {
    if (!/^[A-Za-z0-9_.:@*?-]+$/.test(p))
      throw new Error(`interface pattern "${p}" has characters not allowed in names`);
    return p.replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.');
  });
  return new RegExp(`^(?:${alts.join('|')})$`);
}

/** True when `route` is a workload route: unicast, single next hop out of a matching interface. */
export function isWorkloadRoute(
  route: KernelRoute,
  ifRe: RegExp,
  table: number,
  ourProtocol: number,
): boolean {
  if (route.type !== 'unicast' || route.table !== table || route.protocol === ourProtocol) return false;
  // Connected routes the kernel makes itself (RTPROT_KERNEL, e.g. fe80::/64 on every veth) are not
  // workloads; CNI plugins add theirs as `boot` (Calico) or `static`.
  if (route.protocol === RTPROT_KERNEL || route.dst.startsWith('fe80:')) return false;
  if (route.nextHops.length !== 1) return false;
  const dev = route.nextHops[0]!.dev;
  return dev !== undefined && ifRe.test(dev);
}

/**
 * The advertisement for a set of workload prefixes (pure). Without blocks every workload prefix is
 * originated as is. With blocks, each configured block is originated (it is this host's) with a
 * blackhole for it, and workload prefixes inside a block are covered by it and not originated on
 * their own; a workload outside every block is still originated as is.
 */
export function computeWorkloadAdvertisement(
  workloads: ReadonlyArray<{ prefix: string; ifname: string }>,
  blocks: readonly string[],
): WorkloadAdvertisement {
  const parsedBlocks = blocks.map((b) => {
    const p = parsePrefix(b);
    if (!p) throw new Error(`aggregation block "${b}" is not a prefix`);
    return { text: canonicalPrefix(b), p };
  });
  const out = new Set<string>(parsedBlocks.map((b) => b.text));
  for (const w of workloads) {
    const wp = parsePrefix(w.prefix);
    if (!wp) continue;
    const covered = parsedBlocks.some(
      (b) =>
        b.p.family === wp.family && b.p.length <= wp.length && bytesMatch(b.p.bytes, wp.bytes, b.p.length),
    );
    if (!covered) out.add(canonicalPrefix(w.prefix));
  }
  return {
    prefixes: sortPrefixes([...out]),
    workloads: [...workloads].sort(
      (a, b) => comparePrefix(a.prefix, b.prefix) || a.ifname.localeCompare(b.ifname),
    ),
    blackholes: sortPrefixes(parsedBlocks.map((b) => b.text)),
  };
}

function comparePrefix(a: string, b: string): number {
  const fa = a.includes(':') ? 6 : 4;
  const fb = b.includes(':') ? 6 : 4;
  if (fa !== fb) return fa - fb;
  const pa = parsePrefix(a)!;
  const pb = parsePrefix(b)!;
  for (let i = 0; i < pa.bytes.length; i++) {
    const d = pa.bytes[i]! - pb.bytes[i]!;
    if (d) return d;
  }
  return pa.length - pb.length;
}

function sortPrefixes(xs: string[]): string[] {
  return xs.sort(comparePrefix);
}

export interface WorkloadRouteWatcherOptions {
  kernel: KernelRoutes;
  /** Interface name patterns, e.g. ['cali*', 'tap*']. */
  interfacePatterns: readonly string[];
  /** Aggregation blocks; empty = originate workload prefixes as they are. */
  blocks?: readonly string[];
  /** Table the workload routes live in (default main). */
  table?: number;
  /** Our own route protocol: our routes are never workload routes. */
  protocol?: number;
  /** Coalescing delay for bursts (default 100 ms; the advertisement changes within 1 s). */
  debounceMs?: number;
  logger?: DataplaneLogger;
}

export class WorkloadRouteWatcher {
  private readonly ifRe: RegExp;
  private readonly table: number;
  private readonly protocol: number;
  private readonly blocks: readonly string[];
  private readonly log: DataplaneLogger;
  /** prefix -> interface name */
  private readonly current = new Map<string, string>();
  private readonly subject: BehaviorSubject<WorkloadAdvertisement>;
  private emitTimer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private running = false;

  constructor(private readonly opts: WorkloadRouteWatcherOptions) {
    this.ifRe = interfacePatternRegExp(opts.interfacePatterns);
    this.table = opts.table ?? RT_TABLE_MAIN;
    this.protocol = opts.protocol ?? RTPROT_BGP;
    this.blocks = (opts.blocks ?? []).map((b) => canonicalPrefix(b));
    this.log = opts.logger ?? silentLogger;
    this.subject = new BehaviorSubject(computeWorkloadAdvertisement([], this.blocks));
  }

  /** The advertisement, current value first, then each change. */
  get advertisement$(): Observable<WorkloadAdvertisement> {
    return this.subject.pipe(
      distinctUntilChanged(
        (a, b) =>
          a.prefixes.join() === b.prefixes.join() &&
          a.workloads.map((w) => `${w.prefix}@${w.ifname}`).join() ===
            b.workloads.map((w) => `${w.prefix}@${w.ifname}`).join(),
      ),
    );
  }

  get value(): WorkloadAdvertisement {
    return this.subject.value;
  }

  /** Blackhole routes for the blocks, for the RouteSyncer's wanted set. */
  blackholeRoutes(): RouteSpec[] {
    return this.blocks.map((dst) => ({ dst, type: 'blackhole' as const }));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.opts.kernel.watch({
      protocolFilter: (p) => p !== this.protocol,
      onRoute: (r, deleted) => this.onRoute(r, deleted),
      onLink: (l) => {
        // IPv4 routes of a deleted interface vanish without notifications: rescan.
        if (this.ifRe.test(l.name)) this.scheduleRescan();
      },
      onOverrun: () => this.scheduleRescan(),
    });
    await this.opts.kernel.whenWatching();
    await this.rescan();
  }

  stop(): void {
    this.running = false;
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.emitTimer) clearTimeout(this.emitTimer);
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    this.subject.complete();
  }

  private onRoute(r: KernelRoute, deleted: boolean): void {
    if (!this.running || !isWorkloadRoute(r, this.ifRe, this.table, this.protocol)) return;
    if (deleted) {
      if (this.current.get(r.dst) === r.nextHops[0]!.dev) this.current.delete(r.dst);
    } else {
      this.current.set(r.dst, r.nextHops[0]!.dev!);
    }
    this.scheduleEmit();
  }

  private scheduleRescan(): void {
    if (!this.running || this.rescanTimer) return;
    this.rescanTimer = setTimeout(() => {
      this.rescanTimer = undefined;
      this.rescan().catch((e: Error) => {
        this.log.error({ err: e.message }, 'workload route rescan failed; retrying');
        this.scheduleRescan();
      });
    }, this.opts.debounceMs ?? 100);
    this.rescanTimer.unref();
  }

  private async rescan(): Promise<void> {
    const routes = await this.opts.kernel.dump();
    this.current.clear();
    for (const r of routes) {
      if (isWorkloadRoute(r, this.ifRe, this.table, this.protocol))
        this.current.set(r.dst, r.nextHops[0]!.dev!);
    }
    this.emitNow();
  }

  private scheduleEmit(): void {
    if (this.emitTimer) return;
    this.emitTimer = setTimeout(() => {
      this.emitTimer = undefined;
      this.emitNow();
    }, this.opts.debounceMs ?? 100);
    this.emitTimer.unref();
  }

  private emitNow(): void {
    if (!this.running) return;
    const workloads = [...this.current].map(([prefix, ifname]) => ({ prefix, ifname }));
    this.subject.next(computeWorkloadAdvertisement(workloads, this.blocks));
  }
}
