// RouteSyncer: keeps the kernel's routes of our protocol equal to the wanted set.
//
// - Start-up: dump, remove our-protocol routes nobody wants, install the wanted ones (like BIRD's
//   krt scan on start; calico-dataplane.md §3.1). Routes of other protocols are never touched.
// - Changes: setRoute/removeRoute only mark the FIB key dirty; a flush (next event-loop turn)
//   plans each dirty key against what the kernel holds, so ten changes to one prefix cost one op.
//   Flushes go in batches with a yield to the event loop between them, so BGP keepalives and
//   timers are never held up by kernel programming.
// - Errors: a refused route is counted and logged per route and retried at the next resync; it
//   never stops the rest of the batch.
// - Watching: our route deleted or changed by someone else is put back (and logged); a foreign
//   route that takes one of our keys is left alone and reported as a conflict; ENOBUFS on the
//   monitor (lost events) and link changes trigger a full resync; so does a periodic timer
//   (90 s by default, Felix's RouteRefreshInterval).
// - Stop: with graceful restart the routes stay (BIRD's `persist`), otherwise they are removed.
import type { DataplaneLogger, KernelRoutes, LinkEvent, RouteOpFailure } from './kernel-routes.ts';
import { silentLogger } from './kernel-routes.ts';
import {
  formatRouteArgs,
  type KernelRoute,
  normalizeRoute,
  type RouteOp,
  type RouteSpec,
  RT_TABLE_MAIN,
  RTPROT_BGP,
  routeKey,
  routeSatisfies,
  routesEqual,
} from './model.ts';
import { isRouteOp, planRouteKey, planRouteSync } from './plan.ts';

const ESRCH = 3;
const REPAIR_LOG_WINDOW_MS = 10_000;
const REPAIR_LOG_LIMIT = 20;

export interface RouteSyncerOptions {
  kernel: KernelRoutes;
  /** rtm_protocol of our routes (default RTPROT_BGP = 186). */
  protocol?: number;
  /** Table for wanted routes that do not name one (default main). */
  table?: number;
  /** Tables in which our-protocol routes are ours to remove (default: just `table`). */
  ownedTables?: readonly number[];
  /** Ops per kernel call before yielding to the event loop (default 1000). */
  batchSize?: number;
  /** Delay before a flush, to coalesce bursts (default 0: the next event-loop turn). */
  flushDelayMs?: number;
  /** Periodic full resync (default 90 000 ms; 0 disables). */
  resyncIntervalMs?: number;
  /** Delay of the resync that follows link changes, to absorb a flapping burst (default 250 ms). */
  linkResyncDelayMs?: number;
  /** Keep our routes in the kernel on stop (graceful restart configured). */
  keepRoutesOnStop?: boolean;
  /**
   * Graceful restart, receiving side (RFC 4724 §4.2 applied to our own FIB): at start-up adopt the
   * routes a previous process left, install what is wanted, but remove nothing until ribReady()
   * says the RIB has converged (End-of-RIB from the peers), or `pruneDeferTimeoutMs` passes.
   */
  deferPruneOnStart?: boolean;
  /** Upper bound for deferPruneOnStart (default 120 000 ms, BIRD's graceful restart time). */
  pruneDeferTimeoutMs?: number;
  logger?: DataplaneLogger;
}

export interface RouteFailureInfo {
  route: KernelRoute;
  errno: number;
  message: string;
  /** How many times this key has been refused since it last succeeded. */
  count: number;
}

export interface RouteSyncerStats {
  wanted: number;
  installed: number;
  opsApplied: number;
  failures: number;
  repairs: number;
  resyncs: number;
  conflicts: number;
  /** Keys currently refused by the kernel. */
  failing: number;
}

export class RouteSyncer {
  private readonly kernel: KernelRoutes;
  private readonly protocol: number;
  private readonly table: number;
  private readonly ownedTables: ReadonlySet<number>;
  private readonly batchSize: number;
  private readonly log: DataplaneLogger;

  private readonly wanted = new Map<string, KernelRoute>();
  /** Our-protocol routes the kernel holds, as far as we know. */
  private readonly installed = new Map<string, KernelRoute>();
  /** Foreign routes in our tables, by key (only those matter: they block our keys). */
  private readonly foreign = new Map<string, KernelRoute>();
  private readonly dirty = new Set<string>();
  private readonly failing = new Map<string, RouteFailureInfo>();
  private readonly conflictsLogged = new Set<string>();

  private readonly counters = { opsApplied: 0, failures: 0, repairs: 0, resyncs: 0, conflicts: 0 };
  private running = false;
  private busy: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private linkTimer: NodeJS.Timeout | undefined;
  private resyncWanted = false;
  private pruneAllowed: boolean;
  private pruneTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  /** Repair logs are rate-limited: a storm of deletions must not become a storm of log lines. */
  private repairLog = { windowStart: 0, logged: 0, suppressed: 0 };

  constructor(private readonly opts: RouteSyncerOptions) {
    this.kernel = opts.kernel;
    this.protocol = opts.protocol ?? RTPROT_BGP;
    this.table = opts.table ?? RT_TABLE_MAIN;
    this.ownedTables = new Set(opts.ownedTables ?? [this.table]);
    this.batchSize = opts.batchSize ?? 1000;
    this.log = opts.logger ?? silentLogger;
    this.pruneAllowed = !opts.deferPruneOnStart;
    if (!Number.isInteger(this.protocol) || this.protocol < 1 || this.protocol > 255) {
      throw new Error(`route protocol ${this.protocol} must be 1..255`);
    }
  }

  /** Subscribes to kernel events and reconciles: removes unwanted routes of ours, installs wanted. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.kernel.watch({
      onRoute: (r, deleted) => this.onKernelRoute(r, deleted),
      protocolFilter: (p) => p !== 2, // RTPROT_KERNEL: connected routes never block a BGP prefix
      onLink: (l) => this.onLink(l),
      onOverrun: () => {
        this.log.warn({}, 'netlink monitor overrun (ENOBUFS): events lost, full resync');
        this.requestResync();
      },
    });
    // Dump only once events flow, so nothing between the dump and the subscription is missed.
    await this.kernel.whenWatching();
    if (!this.pruneAllowed) {
      this.pruneTimer = setTimeout(() => {
        this.log.warn({}, 'RIB not ready before the graceful-restart timeout; removing stale routes now');
        this.ribReady();
      }, this.opts.pruneDeferTimeoutMs ?? 120_000);
      this.pruneTimer.unref();
    }
    await this.resync('start-up');
    const every = this.opts.resyncIntervalMs ?? 90_000;
    if (every > 0) {
      this.resyncTimer = setInterval(() => this.requestResync(), every);
      this.resyncTimer.unref();
    }
  }

  /** Sets (adds or replaces) a wanted route. Throws on a malformed route, naming the field. */
  setRoute(spec: RouteSpec): void {
    const r = normalizeRoute(spec, { table: this.table, protocol: this.protocol });
    r.protocol = this.protocol;
    const k = routeKey(r);
    const cur = this.wanted.get(k);
    if (cur && routesEqual(cur, r)) return;
    this.wanted.set(k, r);
    this.markDirty(k);
  }

  /** Removes a wanted route by prefix (and table/metric when not the defaults). */
  removeRoute(dst: string, where: { table?: number; metric?: number } = {}): void {
    const probe = normalizeRoute(
      { dst, type: 'blackhole', ...(where.metric !== undefined ? { metric: where.metric } : {}) },
      { table: where.table ?? this.table, protocol: this.protocol },
    );
    const k = routeKey(probe);
    if (this.wanted.delete(k)) this.markDirty(k);
  }

  /** Replaces the whole wanted set (e.g. after a RIB rebuild); only differences reach the kernel. */
  replaceAll(specs: Iterable<RouteSpec>): void {
    const next = new Map<string, KernelRoute>();
    for (const s of specs) {
      const r = normalizeRoute(s, { table: this.table, protocol: this.protocol });
      r.protocol = this.protocol;
      next.set(routeKey(r), r);
    }
    for (const k of this.wanted.keys()) if (!next.has(k)) this.markDirty(k);
    for (const [k, r] of next) {
      const cur = this.wanted.get(k);
      if (!cur || !routesEqual(cur, r)) this.markDirty(k);
    }
    this.wanted.clear();
    for (const [k, r] of next) this.wanted.set(k, r);
  }

  /**
   * The RIB has converged after a (graceful) restart: routes of ours left by the previous process
   * and not wanted now are removed. A no-op unless deferPruneOnStart was set.
   */
  ribReady(): void {
    if (this.pruneAllowed) return;
    this.pruneAllowed = true;
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = undefined;
    this.log.info({}, 'RIB ready: removing stale routes of ours');
    this.requestResync();
  }

  /** Resolves when every change made so far has been tried in the kernel. */
  async flush(): Promise<void> {
    for (;;) {
      await this.busy;
      if (this.dirty.size === 0 && !this.resyncWanted) return;
      this.scheduleNow();
      await this.busy;
    }
  }

  /** Full reconcile against a kernel dump. */
  resync(reason: string): Promise<void> {
    const run = this.busy.then(() => this.doResync(reason));
    this.busy = run.catch((e: Error) => {
      this.log.error({ err: e.message }, 'route resync failed; will retry');
      this.requestResync(1000);
    });
    return run;
  }

  stats(): RouteSyncerStats {
    return {
      wanted: this.wanted.size,
      installed: this.installed.size,
      ...this.counters,
      failing: this.failing.size,
    };
  }

  /** Routes the kernel currently refuses, with the reason (for `show` commands). */
  failures(): RouteFailureInfo[] {
    return [...this.failing.values()];
  }

  wantedRoutes(): KernelRoute[] {
    return [...this.wanted.values()];
  }

  /**
   * Stops watching. Routes stay in the kernel when keepRoutesOnStop (graceful restart: the new
   * process finds and adopts them at start-up), and are removed otherwise.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unwatch?.();
    this.unwatch = undefined;
    for (const t of [this.resyncTimer, this.linkTimer, this.pruneTimer]) if (t) clearTimeout(t);
    if (this.flushTimer) {
      clearTimeout(this.flushTimer as NodeJS.Timeout);
      clearImmediate(this.flushTimer as NodeJS.Immediate);
    }
    await this.busy;
    if (this.opts.keepRoutesOnStop) {
      this.log.info({ routes: this.installed.size }, 'stopping: keeping kernel routes (graceful restart)');
      return;
    }
    const actual = await this.kernel.dump();
    const plan = planRouteSync([], actual, { protocol: this.protocol, tables: this.ownedTables });
    await this.applyOps(plan.ops);
    this.log.info({ routes: plan.ops.length }, 'stopping: removed our kernel routes');
  }

  // -------------------------------------------------------------------------------------------

  private markDirty(k: string): void {
    this.dirty.add(k);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.running || this.flushTimer) return;
    const delay = this.opts.flushDelayMs ?? 0;
    const fire = () => {
      this.flushTimer = undefined;
      this.scheduleNow();
    };
    this.flushTimer = delay > 0 ? setTimeout(fire, delay) : setImmediate(fire);
  }

  private scheduleNow(): void {
    const run = this.busy.then(() => (this.resyncWanted ? this.doResync('requested') : this.doFlush()));
    this.busy = run.catch((e: Error) => {
      // The channel broke (e.g. ENOBUFS on replies): the kernel state is unknown, resync.
      this.log.error({ err: e.message }, 'kernel route programming failed; full resync');
      this.requestResync(1000);
    });
  }

  private requestResync(delayMs = 0): void {
    if (!this.running) return;
    this.resyncWanted = true;
    if (delayMs > 0) {
      const t = setTimeout(() => this.scheduleNow(), delayMs);
      t.unref();
    } else {
      this.scheduleNow();
    }
  }

  private async doFlush(): Promise<void> {
    while (this.dirty.size > 0 && this.running) {
      const ops: RouteOp[] = [];
      for (const k of this.dirty) {
        this.dirty.delete(k);
        const op = this.decide(k);
        if (op) ops.push(op);
        if (ops.length >= this.batchSize) break;
      }
      if (ops.length) await this.applyOps(ops);
      await yieldToEventLoop();
    }
  }

  /** The op for one key from wanted vs installed/foreign; logs conflicts once per key. */
  private decide(k: string): RouteOp | undefined {
    const actual: KernelRoute[] = [];
    const ours = this.installed.get(k);
    if (ours) actual.push(ours);
    const f = this.foreign.get(k);
    if (f) actual.push(f);
    const d = planRouteKey(this.wanted.get(k), actual, { protocol: this.protocol, tables: this.ownedTables });
    if (!d) {
      this.failing.delete(k);
      return undefined;
    }
    if (isRouteOp(d)) return d.op === 'delete' && !this.pruneAllowed ? undefined : d;
    if (!this.conflictsLogged.has(k)) {
      this.conflictsLogged.add(k);
      this.counters.conflicts++;
      this.log.warn(
        { route: formatRouteArgs(d.wanted), existing: formatRouteArgs(d.existing) },
        'a route of another protocol holds this prefix; leaving it alone',
      );
    }
    return undefined;
  }

  private async doResync(reason: string): Promise<void> {
    this.resyncWanted = false;
    if (!this.running) return;
    this.counters.resyncs++;
    const actual = await this.kernel.dump();
    this.installed.clear();
    this.foreign.clear();
    for (const r of actual) {
      if (!this.ownedTables.has(r.table)) continue;
      const k = routeKey(r);
      if (r.protocol === this.protocol) this.installed.set(k, r);
      else this.foreign.set(k, r);
    }
    const plan = planRouteSync(this.wanted.values(), actual, {
      protocol: this.protocol,
      tables: this.ownedTables,
    });
    for (const c of plan.conflicts) this.decide(routeKey(c.wanted));
    this.dirty.clear();
    const ops = this.pruneAllowed ? plan.ops : plan.ops.filter((o) => o.op !== 'delete');
    this.log.info(
      { reason, wanted: this.wanted.size, kernel: this.installed.size, ops: ops.length },
      'route resync',
    );
    for (let i = 0; i < ops.length; i += this.batchSize) {
      await this.applyOps(ops.slice(i, i + this.batchSize));
      await yieldToEventLoop();
    }
    // Changes made while the dump was in flight.
    if (this.dirty.size) await this.doFlush();
  }

  private async applyOps(ops: RouteOp[]): Promise<void> {
    const failures = await this.kernel.apply(ops);
    this.counters.opsApplied += ops.length;
    const failed = new Map<number, RouteOpFailure>();
    for (const f of failures) failed.set(f.index, f);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const k = routeKey(op.route);
      const f = failed.get(i);
      if (f && !(op.op === 'delete' && f.errno === ESRCH)) {
        this.recordFailure(k, op.route, f);
        continue;
      }
      if (op.op === 'replace') this.installed.set(k, op.route);
      else this.installed.delete(k);
      if (this.failing.delete(k)) this.log.info({ route: formatRouteArgs(op.route) }, 'route accepted now');
    }
  }

  private recordFailure(k: string, route: KernelRoute, f: RouteOpFailure): void {
    this.counters.failures++;
    const prev = this.failing.get(k);
    if (prev && prev.errno === f.errno && routesEqual(prev.route, route)) {
      prev.count++;
      return;
    }
    this.failing.set(k, { route, errno: f.errno, message: f.message, count: 1 });
    this.log.warn({ route: formatRouteArgs(route), errno: f.errno }, `kernel refused route: ${f.message}`);
  }

  private onKernelRoute(r: KernelRoute, deleted: boolean): void {
    if (!this.running || !this.ownedTables.has(r.table)) return;
    const k = routeKey(r);
    const want = this.wanted.get(k);
    if (r.protocol !== this.protocol) {
      if (deleted) {
        if (this.foreign.delete(k) && want) this.markDirty(k);
        return;
      }
      // A NEWROUTE with another protocol on our key replaced ours (the kernel sends no DELROUTE).
      this.foreign.set(k, r);
      if (this.installed.delete(k) && want) {
        this.log.warn({ route: formatRouteArgs(r) }, 'our route was replaced by a route of another protocol');
      }
      if (want) this.markDirty(k);
      return;
    }
    if (deleted) {
      // The FIB key is unique: whatever we had under it is gone.
      this.installed.delete(k);
      if (want && !this.dirty.has(k) && !this.failing.has(k)) {
        this.counters.repairs++;
        this.logRepair(
          { route: formatRouteArgs(want) },
          'our route was deleted by someone else; reinstalling',
        );
        this.markDirty(k);
      }
      return;
    }
    this.installed.set(k, r);
    if (want && routeSatisfies(r, want)) return;
    if (this.dirty.has(k)) return;
    if (want) {
      this.counters.repairs++;
      this.logRepair(
        { route: formatRouteArgs(r), wanted: formatRouteArgs(want) },
        'our route was changed by someone else; restoring',
      );
    } else {
      this.log.info({ route: formatRouteArgs(r) }, 'route of our protocol that we do not want; removing');
    }
    this.markDirty(k);
  }

  private logRepair(obj: object, msg: string): void {
    const now = Date.now();
    const w = this.repairLog;
    if (now - w.windowStart > REPAIR_LOG_WINDOW_MS) {
      if (w.suppressed > 0) {
        this.log.warn(
          { suppressed: w.suppressed },
          `${w.suppressed} more route repairs were not logged one by one`,
        );
      }
      w.windowStart = now;
      w.logged = 0;
      w.suppressed = 0;
    }
    if (w.logged < REPAIR_LOG_LIMIT) {
      w.logged++;
      this.log.warn(obj, msg);
    } else {
      w.suppressed++;
    }
  }

  private onLink(l: LinkEvent): void {
    // IPv4 routes through a vanished device go without notifications, and refused routes may be
    // accepted once a link is up: resync after the burst.
    if (!this.running) return;
    if (this.linkTimer) clearTimeout(this.linkTimer);
    this.linkTimer = setTimeout(() => {
      this.linkTimer = undefined;
      this.log.debug({ link: l.name }, 'link change: route resync');
      this.requestResync();
    }, this.opts.linkResyncDelayMs ?? 250);
    this.linkTimer.unref();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
