// In-memory kernel for unit tests of anything that programs routes (the syncer, the BGP-to-kernel
// glue). It keeps the FIB semantics the syncer relies on: a route's key is (table, prefix,
// metric); replace creates or overwrites; delete of a missing route is ESRCH; a next hop on an
// unknown device is ENODEV. Tests can refuse routes, and play "someone else" changing the kernel.
import type { KernelRoutes, LinkEvent, RouteOpFailure, RouteWatchHandlers } from './kernel-routes.ts';
import { formatRouteArgs, type KernelRoute, type RouteOp, routeKey } from './model.ts';

export class FakeRoutes implements KernelRoutes {
  readonly name = 'fake';
  readonly routes = new Map<string, KernelRoute>();
  readonly links = new Set<string>(['lo', 'eth0']);
  /** Prefixes the fake kernel refuses, with the errno it answers. */
  readonly refuse = new Map<string, number>();
  /** Every op applied, in order (for assertions on batching and minimality). */
  readonly log: RouteOp[] = [];
  applyCalls = 0;
  private readonly watchers = new Set<RouteWatchHandlers>();

  constructor(initial: KernelRoute[] = []) {
    for (const r of initial) this.routes.set(routeKey(r), r);
  }

  async apply(ops: readonly RouteOp[]): Promise<RouteOpFailure[]> {
    this.applyCalls++;
    const failures: RouteOpFailure[] = [];
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index]!;
      this.log.push(op);
      const k = routeKey(op.route);
      const fail = (errno: number) =>
        failures.push({ index, errno, message: `${op.op} ${formatRouteArgs(op.route)}: errno ${errno}` });
      if (op.op === 'delete') {
        const cur = this.routes.get(k);
        if (!cur || cur.protocol !== op.route.protocol) {
          fail(3);
          continue;
        }
        this.routes.delete(k);
        this.emitRoute(cur, true);
        continue;
      }
      const refused = this.refuse.get(op.route.dst);
      if (refused) {
        fail(refused);
        continue;
      }
      if (op.route.nextHops.some((nh) => nh.dev && !this.links.has(nh.dev))) {
        fail(19);
        continue;
      }
      this.routes.set(k, op.route);
      this.emitRoute(op.route, false);
    }
    return failures;
  }

  async dump(): Promise<KernelRoute[]> {
    return [...this.routes.values()].map((r) => ({ ...r, nextHops: r.nextHops.map((nh) => ({ ...nh })) }));
  }

  watch(handlers: RouteWatchHandlers): () => void {
    this.watchers.add(handlers);
    return () => this.watchers.delete(handlers);
  }

  async whenWatching(): Promise<void> {}

  async close(): Promise<void> {
    this.watchers.clear();
  }

  /** Someone else (an operator, another daemon) adds or replaces a route. */
  externalReplace(route: KernelRoute): void {
    this.routes.set(routeKey(route), route);
    this.emitRoute(route, false);
  }

  /** Someone else deletes a route. */
  externalDelete(route: KernelRoute): void {
    const k = routeKey(route);
    const cur = this.routes.get(k);
    if (!cur) return;
    this.routes.delete(k);
    this.emitRoute(cur, true);
  }

  /** Routes vanish without a notification (as IPv4 routes do when their device goes away). */
  silentDelete(pred: (r: KernelRoute) => boolean): void {
    for (const [k, r] of this.routes) if (pred(r)) this.routes.delete(k);
  }

  overrun(): void {
    for (const h of this.watchers) h.onOverrun?.();
  }

  linkEvent(ev: LinkEvent): void {
    if (ev.deleted) this.links.delete(ev.name);
    else this.links.add(ev.name);
    for (const h of this.watchers) h.onLink?.(ev);
  }

  private emitRoute(route: KernelRoute, deleted: boolean): void {
    // Like netlink notifications, events reach watchers after the call that caused them returns.
    queueMicrotask(() => this.deliver(route, deleted));
  }

  private deliver(route: KernelRoute, deleted: boolean): void {
    for (const h of this.watchers) {
      if (h.protocolFilter && !h.protocolFilter(route.protocol)) continue;
      h.onRoute?.(route, deleted);
    }
  }
}
