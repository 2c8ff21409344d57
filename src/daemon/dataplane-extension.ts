// The dataplane beside the speaker (issue #5): the FIB that routing publishes goes into the kernel
// through a RouteSyncer, IPIP pool prefixes get their tunnel/direct form from the IP-in-IP module,
// workload routes found in the kernel go back to routing for origination, and the MTU report
// serves `tsbgp show mtu`. This is what BIRD's kernel protocol plus Felix's route table, ipip
// manager and MTU detection do for Calico.
//
// Nothing here may stop the BGP side: a kernel that refuses a route, a kernel without ipip, or a
// dataplane that fails to start is logged (and shown), never thrown into the daemon.
import type { Subscription } from 'rxjs';
import type { ConfigDiff } from '../config/diff.ts';
import type { Config } from '../config/types.ts';
import { bytesMatch, canonicalPrefix, formatIp, maskInPlace, parsePrefix } from '../dataplane/routes/addr.ts';
import type { KernelRoutes, NextHop, RouteSpec } from '../dataplane/routes/index.ts';
import { NetlinkRoutes, RouteSyncer, RT_TABLE_MAIN, RTPROT_BGP } from '../dataplane/routes/index.ts';
import {
  computeWorkloadAdvertisement,
  type WorkloadAdvertisement,
  WorkloadRouteWatcher,
} from '../dataplane/workloads/workload-routes.ts';
import type { IpipDataplaneOptions, LearnedRouteDecision, MtuReport, TunnelStatus } from '../ipip/index.ts';
import { IpipDataplane } from '../ipip/index.ts';
import type { Logger } from '../log/logger.ts';
import type { DaemonExtension, MtuReport as DaemonMtuReport } from './daemon.ts';
import type { ExtensionContext, FibFeed, FibRoute, OriginationSink } from './fib-feed.ts';
import { ipipOptionsFor, wantsIpip } from './ipip-extension.ts';

/** The origination source name under which workload prefixes go to routing. */
export const WORKLOAD_SOURCE = 'workloads';

/** How long start-up waits for the first MTU / tunl0 pass before routes go in without it. */
const IPIP_START_WAIT_MS = 5_000;
/** How long after "initial RIB complete" stale kernel routes are pruned (see signalRibReady). */
const RIB_READY_SETTLE_MS = 250;
/** CrossSubnet decisions depend on the host interface's subnets: re-check them this often. */
const UNDERLAY_CHECK_MS = 5_000;

/** What the extension needs of the IP-in-IP module (IpipDataplane; a fake in unit tests). */
export interface IpipPort {
  start(): Promise<void>;
  stop(): void;
  routeFor(prefix: string, nextHop: string): LearnedRouteDecision;
  mtuReport(): MtuReport | undefined;
  tunnelStatus(): TunnelStatus;
  underlay(): { ifname: string; subnets: readonly string[] };
}

/** The parts the extension builds; replaced in unit tests by in-memory ones. */
export interface DataplaneFactories {
  openKernel(): Promise<KernelRoutes>;
  createIpip(opts: IpipDataplaneOptions): IpipPort;
}

const realFactories: DataplaneFactories = {
  openKernel: () => NetlinkRoutes.open(),
  createIpip: (opts) => new IpipDataplane(opts),
};

/** The kernel settings the extension runs with, derived from the config (pure). */
export interface KernelSettings {
  /** Install the FIB in the kernel (`kernel` section present and enabled). */
  installFib: boolean;
  table: number;
  protocol: number;
  ecmp: boolean;
  /** Keep our routes on stop (BIRD `persist`); defaults to "some neighbour restarts gracefully". */
  persist: boolean;
  /** Remove stale routes of a previous process only once the RIB is complete (graceful restart). */
  deferPrune: boolean;
}

export function kernelSettings(config: Config): KernelSettings {
  const k = config.kernel;
  const restartsGracefully = config.neighbors.some((n) => n.gracefulRestart === 'enabled');
  const persist = k?.persist ?? restartsGracefully;
  return {
    installFib: k?.enabled === true,
    table: k === undefined || k.table === 'main' ? RT_TABLE_MAIN : k.table,
    protocol: k?.protocol ?? RTPROT_BGP,
    ecmp: k?.ecmp ?? true,
    persist,
    // Routes kept by the previous process are the forwarding state peers rely on through our
    // restart (RFC 4724 §4.1: the restarting speaker retains its forwarding state); prune them
    // only once the new RIB is complete.
    deferPrune: persist,
  };
}

function isUnspecified(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::' || addr === '';
}

/**
 * The kernel route for a FIB entry (pure). Each next hop's gateway is its BGP NEXT_HOP: with
 * direct peering that is the peer host; through a route reflector it is still the host that
 * originated the route (RFC 4456 §10 leaves NEXT_HOP alone), where the session's peer address
 * would be the reflector. The peer address stands in when the NEXT_HOP is unusable here
 * (unspecified, or of the other family, as in RFC 8950 IPv4-over-IPv6 next hops).
 * `form` gives the IP-in-IP form for a prefix and host (IPIP pools); absent: plain `via` routes.
 * Returns undefined when no next hop is usable.
 */
export function fibRouteToSpec(
  route: FibRoute,
  opts: { ecmp: boolean; form?: ((prefix: string, host: string) => LearnedRouteDecision) | undefined },
): RouteSpec | undefined {
  const dst = canonicalPrefix(route.prefix);
  const v6 = dst.includes(':');
  const nextHops: NextHop[] = [];
  const seen = new Set<string>();
  let mtu: number | undefined;
  for (const nh of route.nextHops) {
    const usable = (a: string) => !isUnspecified(a) && a.includes(':') === v6;
    const host = usable(nh.address) ? nh.address : usable(nh.peer) ? nh.peer : undefined;
    if (host === undefined) continue;
    const hops: NextHop[] = [];
    if (opts.form) {
      const d = opts.form(dst, host);
      hops.push(...(d.route.nextHops ?? []));
      if (d.route.mtu !== undefined && d.route.mtu > 0) mtu = Math.min(mtu ?? d.route.mtu, d.route.mtu);
    } else {
      hops.push({ gateway: host });
    }
    for (const h of hops) {
      const key = `${h.gateway ?? ''}|${h.dev ?? ''}|${h.onlink ? 1 : 0}`;
      if (seen.has(key)) continue;
      seen.add(key);
      nextHops.push(h);
    }
    if (!opts.ecmp && nextHops.length > 0) break;
  }
  if (nextHops.length === 0) return undefined;
  return { dst, nextHops, ...(mtu !== undefined ? { mtu } : {}) };
}

/**
 * The blocks of the pools that hold workloads (pure): each workload prefix inside a pool maps to
 * the pool's block (`blockSize`, default /26 for IPv4 and /122 for IPv6) that contains it, as
 * Calico's IPAM blocks. Workloads outside every pool have no block.
 */
export function blocksForWorkloads(
  workloads: ReadonlyArray<{ prefix: string }>,
  pools: Config['pools'],
): string[] {
  const out = new Set<string>();
  for (const w of workloads) {
    const wp = parsePrefix(w.prefix);
    if (!wp) continue;
    for (const pool of pools) {
      if (pool.disabled) continue;
      const pp = parsePrefix(pool.cidr);
      if (!pp || pp.family !== wp.family || pp.length > wp.length) continue;
      if (!bytesMatch(pp.bytes, wp.bytes, pp.length)) continue;
      const blockLen = Math.max(pool.blockSize ?? (wp.family === 4 ? 26 : 122), pp.length);
      // A workload prefix wider than a block (unusual) is originated as it is.
      if (blockLen <= wp.length) {
        const bytes = Uint8Array.from(wp.bytes);
        maskInPlace(bytes, blockLen);
        out.add(`${formatIp(wp.family, bytes)}/${blockLen}`);
      }
      break;
    }
  }
  return [...out].sort();
}

/** The workload advertisement for the config (pure): as is, or aggregated to pool blocks. */
export function workloadAdvertisement(
  workloads: ReadonlyArray<{ prefix: string; ifname: string }>,
  config: Config,
): WorkloadAdvertisement {
  const blocks = config.workloads?.aggregateToBlocks ? blocksForWorkloads(workloads, config.pools) : [];
  return computeWorkloadAdvertisement(workloads, blocks);
}

export interface DataplaneStatus {
  state: 'off' | 'starting' | 'running' | 'failed';
  error?: string | undefined;
  kernel?: ReturnType<RouteSyncer['stats']> | undefined;
  failures?: Array<{ route: string; errno: number; message: string; count: number }> | undefined;
  fibRoutes: number;
  workloads: number;
  originated: number;
  blackholes: string[];
}

export class DataplaneExtension implements DaemonExtension {
  readonly name = 'dataplane';
  private readonly log: Logger;
  private readonly factories: DataplaneFactories;
  private state: DataplaneStatus['state'] = 'off';
  private startError: string | undefined;
  private settings: KernelSettings | undefined;
  private config: Config | undefined;
  private ctx: ExtensionContext | undefined;
  private kernel: KernelRoutes | undefined;
  private syncer: RouteSyncer | undefined;
  private ipip: IpipPort | undefined;
  private ipipState: 'off' | 'starting' | 'running' | 'failed' = 'off';
  private ipipError: string | undefined;
  private watcher: WorkloadRouteWatcher | undefined;
  private readonly subs: Subscription[] = [];
  private underlayTimer: NodeJS.Timeout | undefined;
  private ribReadyTimer: NodeJS.Timeout | undefined;
  private underlayKey = '';
  /** The FIB as routing last published it, by canonical prefix. */
  private readonly fib = new Map<string, FibRoute>();
  /** Local blackholes for our workload blocks; they take precedence over a learned route. */
  private blackholes = new Set<string>();
  private workloadCount = 0;
  private originatedCount = 0;
  private ribReadySignalled = false;
  private readonly badRoutes = new Set<string>();

  constructor(log: Logger, factories: Partial<DataplaneFactories> = {}) {
    this.log = log;
    this.factories = { ...realFactories, ...factories };
  }

  /**
   * Starts the kernel sync, IP-in-IP and the workload watcher. `ctx` (the FIB and the origination
   * sink) comes from routing; without it only IP-in-IP / MTU runs. Never throws: a failure is
   * logged and shown, and BGP carries on.
   */
  async start(config: Config, ctx?: ExtensionContext): Promise<void> {
    this.config = config;
    this.ctx = ctx ?? this.ctx;
    this.state = 'starting';
    try {
      await this.startParts(config);
      this.state = 'running';
    } catch (e) {
      this.state = 'failed';
      this.startError = e instanceof Error ? e.message : String(e);
      this.log.error({ err: e }, `dataplane not running: ${this.startError}`);
      await this.stopParts(false).catch(() => undefined);
    }
  }

  /** Workload prefixes are originated under WORKLOAD_SOURCE when the config watches workloads. */
  originationSources(config: Config): readonly string[] {
    return config.workloads !== undefined ? [WORKLOAD_SOURCE] : [];
  }

  private async startParts(config: Config): Promise<void> {
    const settings = kernelSettings(config);
    this.settings = settings;
    const ctx = this.ctx;
    const wantWorkloads = config.workloads !== undefined;
    const wantSyncer = (settings.installFib && ctx !== undefined) || wantWorkloads;
    if (!ctx && (settings.installFib || wantWorkloads)) {
      this.log.warn(
        {},
        'routing publishes no FIB to this daemon: kernel routes and workload origination are off',
      );
    }
    if (wantSyncer || wantsIpip(config)) this.kernel = await this.factories.openKernel();
    if (wantsIpip(config) && this.kernel) await this.startIpip(config, this.kernel);
    if (wantSyncer && this.kernel) {
      const syncer = new RouteSyncer({
        kernel: this.kernel,
        protocol: settings.protocol,
        table: settings.table,
        keepRoutesOnStop: settings.persist,
        deferPruneOnStart: settings.deferPrune,
        pruneDeferTimeoutMs: config.gracefulRestart.restartTime * 1000,
        logger: this.log.child({ component: 'routes' }),
      });
      this.syncer = syncer;
      await syncer.start();
      this.log.info(
        {
          table: settings.table,
          protocol: settings.protocol,
          persist: settings.persist,
          ecmp: settings.ecmp,
          fib: settings.installFib,
        },
        'kernel route sync running',
      );
    }
    if (ctx && settings.installFib && this.syncer) this.followFib(ctx.fib);
    if (wantWorkloads && this.kernel && ctx) await this.startWorkloads(config, this.kernel, ctx.origination);
    // Without the FIB, the wanted set (the block blackholes) is known once the workload scan is in.
    if (this.syncer && !(ctx && settings.installFib)) this.signalRibReady();
  }

  private async startIpip(config: Config, kernel: KernelRoutes): Promise<void> {
    const ipip = this.factories.createIpip({
      ...ipipOptionsFor(config, this.log.child({ component: 'ipip' })),
      events: kernel,
      onMtuChange: (report) => {
        this.log.info({ tunnelMtu: report.tunnelMtu }, 'MTU changed: updating route MTUs');
        this.rerenderAll();
      },
    });
    this.ipip = ipip;
    this.ipipState = 'starting';
    const started = ipip.start().then(
      () => {
        if (this.ipip !== ipip) return;
        this.ipipState = 'running';
        this.underlayKey = underlayKey(ipip);
        this.rerenderAll();
      },
      (e: unknown) => {
        ipip.stop();
        if (this.ipip !== ipip) return;
        this.ipip = undefined;
        this.ipipState = 'failed';
        this.ipipError = e instanceof Error ? e.message : String(e);
        this.log.error({ err: e }, `IP-in-IP / MTU detection not running: ${this.ipipError}`);
        this.rerenderAll();
      },
    );
    // Routes in IPIP pools need the host interface and the tunnel MTU; wait a little for them,
    // but never hold the daemon: a late start re-renders every route when it completes.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([started, new Promise((r) => (timer = setTimeout(r, IPIP_START_WAIT_MS)))]);
    clearTimeout(timer);
    if (this.ipipState === 'starting') {
      this.log.warn({}, `IP-in-IP / MTU detection still starting after ${IPIP_START_WAIT_MS / 1000} s`);
    }
    this.underlayTimer = setInterval(() => {
      const cur = this.ipip;
      if (!cur || this.ipipState !== 'running') return;
      const k = underlayKey(cur);
      if (k === this.underlayKey) return;
      this.underlayKey = k;
      this.log.info({ underlay: k }, 'host interface or its subnets changed: re-deciding route forms');
      this.rerenderAll();
    }, UNDERLAY_CHECK_MS);
    this.underlayTimer.unref();
  }

  private followFib(fib: FibFeed): void {
    // Subscribe before reading the snapshot: a change between the two is applied twice, which is
    // harmless (the syncer drops unchanged routes), where the other order could lose one.
    this.subs.push(
      fib.changes.subscribe({
        next: (batch) => {
          for (const p of batch.removals) this.setFib(p, undefined);
          for (const r of batch.upserts) this.setFib(r.prefix, r);
          if (batch.initialComplete) this.signalRibReady();
        },
        error: (e: unknown) => this.log.error({ err: e }, 'the FIB feed failed: kernel routes frozen'),
      }),
    );
    for (const r of fib.snapshot()) this.setFib(r.prefix, r);
    if (fib.initialComplete()) this.signalRibReady();
  }

  private signalRibReady(): void {
    if (this.ribReadySignalled) return;
    this.ribReadySignalled = true;
    // Routing may say "complete" as it handles the last End-of-RIB, before publishing the routes
    // that arrived just ahead of it in the same input slice (they go out with its next commit).
    // Pruning then would delete routes a moment before they are wanted again: let them land.
    const syncer = this.syncer;
    this.ribReadyTimer = setTimeout(() => {
      this.ribReadyTimer = undefined;
      if (this.syncer !== syncer) return;
      this.log.info({ routes: this.fib.size }, 'initial RIB complete: stale kernel routes may go');
      syncer?.ribReady();
    }, RIB_READY_SETTLE_MS);
    this.ribReadyTimer.unref();
  }

  private setFib(prefix: string, route: FibRoute | undefined): void {
    let key: string;
    try {
      key = canonicalPrefix(prefix);
    } catch {
      this.logBadRoute(prefix, `prefix "${prefix}" is not a prefix`);
      return;
    }
    if (route && route.nextHops.length > 0) this.fib.set(key, route);
    else this.fib.delete(key);
    this.render(key);
  }

  /** Puts the wanted kernel route for one prefix into the syncer (or takes it out). */
  private render(prefix: string): void {
    const syncer = this.syncer;
    if (!syncer) return;
    if (this.blackholes.has(prefix)) {
      syncer.setRoute({ dst: prefix, type: 'blackhole' });
      return;
    }
    const route = this.settings?.installFib ? this.fib.get(prefix) : undefined;
    let spec: RouteSpec | undefined;
    if (route) {
      try {
        const ipip = this.ipipState === 'running' ? this.ipip : undefined;
        spec = fibRouteToSpec(route, {
          ecmp: this.settings?.ecmp ?? true,
          form: ipip ? (p, host) => ipip.routeFor(p, host) : undefined,
        });
        if (spec) syncer.setRoute(spec);
        else this.logBadRoute(prefix, 'no usable next hop');
      } catch (e) {
        spec = undefined;
        this.logBadRoute(prefix, e instanceof Error ? e.message : String(e));
      }
    }
    if (!spec) syncer.removeRoute(prefix);
    else this.badRoutes.delete(prefix);
  }

  private logBadRoute(prefix: string, why: string): void {
    if (this.badRoutes.has(prefix)) return;
    if (this.badRoutes.size < 10_000) this.badRoutes.add(prefix);
    this.log.warn({ prefix, reason: why }, `route for ${prefix} not installed: ${why}`);
  }

  private rerenderAll(): void {
    for (const p of this.fib.keys()) this.render(p);
  }

  private async startWorkloads(config: Config, kernel: KernelRoutes, sink: OriginationSink): Promise<void> {
    const w = config.workloads;
    if (!w) return;
    const watcher = new WorkloadRouteWatcher({
      kernel,
      interfacePatterns: w.interfacePatterns,
      protocol: this.settings?.protocol ?? RTPROT_BGP,
      logger: this.log.child({ component: 'workloads' }),
    });
    this.watcher = watcher;
    await watcher.start();
    const communities = w.communities ?? [];
    this.subs.push(
      watcher.advertisement$.subscribe((seen) => {
        const adv = workloadAdvertisement(seen.workloads, config);
        this.workloadCount = adv.workloads.length;
        this.originatedCount = adv.prefixes.length;
        this.setBlackholes(adv.blackholes);
        sink.setOriginated(
          WORKLOAD_SOURCE,
          adv.prefixes.map((prefix) => ({ prefix, ...(communities.length > 0 ? { communities } : {}) })),
        );
        this.log.info(
          { workloads: adv.workloads.length, originated: adv.prefixes.length, blocks: adv.blackholes.length },
          'workload prefixes changed',
        );
      }),
    );
  }

  private setBlackholes(blocks: readonly string[]): void {
    const next = new Set(blocks);
    const old = this.blackholes;
    this.blackholes = next;
    for (const b of old) if (!next.has(b)) this.render(b);
    for (const b of next) if (!old.has(b)) this.render(b);
  }

  async applyConfig(config: Config, diff: ConfigDiff): Promise<void> {
    const relevant = ['kernel', 'pools', 'ipip', 'mtu', 'workloads', 'gracefulRestart'].some((k) =>
      diff.otherSections.includes(k),
    );
    const neighboursChanged =
      diff.addedNeighbors.length + diff.removedNeighbors.length + diff.resetNeighbors.length > 0;
    const old = this.settings;
    this.config = config;
    if (!relevant && !(neighboursChanged && wantsIpip(config))) return;
    // A new table or protocol makes our old routes someone else's: take them out first. Otherwise
    // keep them, and the new syncer adopts what is still wanted without a gap in forwarding.
    const next = kernelSettings(config);
    const keep = old !== undefined && old.table === next.table && old.protocol === next.protocol;
    this.log.info({ keepRoutes: keep }, 'dataplane settings changed: restarting the dataplane');
    await this.stopParts(!keep);
    this.ribReadySignalled = false;
    await this.start(config);
    // The routing FIB did not restart: it is as complete as it was.
    if (this.ctx?.fib.initialComplete()) this.signalRibReady();
  }

  async stop(): Promise<void> {
    await this.stopParts(false);
    this.state = 'off';
  }

  /** Stops every part; `removeRoutes` forces our kernel routes out even when persist is set. */
  private async stopParts(removeRoutes: boolean): Promise<void> {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    if (this.underlayTimer) clearInterval(this.underlayTimer);
    this.underlayTimer = undefined;
    if (this.ribReadyTimer) clearTimeout(this.ribReadyTimer);
    this.ribReadyTimer = undefined;
    this.watcher?.stop();
    this.watcher = undefined;
    this.ipip?.stop();
    this.ipip = undefined;
    this.ipipState = 'off';
    const syncer = this.syncer;
    this.syncer = undefined;
    if (syncer) {
      if (removeRoutes) syncer.replaceAll([]);
      await syncer.flush().catch(() => undefined);
      await syncer.stop();
    }
    await this.kernel?.close();
    this.kernel = undefined;
    this.fib.clear();
    this.blackholes = new Set();
  }

  /** Kernel sync and workload state, for logs and a `show` command. */
  status(): DataplaneStatus {
    return {
      state: this.state,
      ...(this.startError !== undefined ? { error: this.startError } : {}),
      ...(this.syncer ? { kernel: this.syncer.stats() } : {}),
      ...(this.syncer
        ? {
            failures: this.syncer.failures().map((f) => ({
              route: f.route.dst,
              errno: f.errno,
              message: f.message,
              count: f.count,
            })),
          }
        : {}),
      fibRoutes: this.fib.size,
      workloads: this.workloadCount,
      originated: this.originatedCount,
      blackholes: [...this.blackholes].sort(),
    };
  }

  mtuReport(): DaemonMtuReport {
    const config = this.config;
    if (!config || !wantsIpip(config) || this.ipipState === 'off')
      return { state: 'off', reason: 'no IP pool with IP-in-IP, and no ipip or mtu section' };
    if (this.ipipState === 'failed' || !this.ipip)
      return { state: 'failed', error: this.ipipError ?? 'unknown' };
    const report = this.ipip.mtuReport();
    if (!report) return { state: this.ipipState, reason: 'the MTU is not detected yet' };
    return { ...report, state: this.ipipState, tunnel: this.ipip.tunnelStatus() };
  }
}

function underlayKey(ipip: IpipPort): string {
  const u = ipip.underlay();
  return `${u.ifname} ${[...u.subnets].sort().join(',')} ${ipip.mtuReport()?.tunnelMtu ?? 0}`;
}
