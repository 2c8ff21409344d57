// The route-sync decision as a pure function: wanted routes vs the kernel's routes -> the minimal
// ordered list of operations. Ownership is by protocol number alone, as BIRD's krt and Calico's
// route table do (calico-dataplane.md §3.1): a route that does not carry our protocol is never
// deleted or replaced, even when it sits on a prefix we want; that case is reported as a conflict.
import { type KernelRoute, type RouteOp, routeKey, routeSatisfies } from './model.ts';

export interface PlanOptions {
  /** Our route protocol number (rtm_protocol). */
  protocol: number;
  /**
   * Tables we own routes in. Our-protocol routes in other tables are left alone, so two daemons
   * (or a VRF) can use the same protocol number in different tables. Undefined = every table.
   */
  tables?: ReadonlySet<number>;
}

export interface RouteConflict {
  wanted: KernelRoute;
  /** The foreign route holding the same FIB key. */
  existing: KernelRoute;
}

export interface RoutePlan {
  /** Replaces first (make-before-break), then deletes. */
  ops: RouteOp[];
  conflicts: RouteConflict[];
}

/**
 * The decision for one FIB key. `actual` is every kernel route with that key (normally 0 or 1).
 * Returns the op, a conflict, or nothing.
 */
export function planRouteKey(
  wanted: KernelRoute | undefined,
  actual: readonly KernelRoute[],
  opts: PlanOptions,
): RouteOp | RouteConflict | undefined {
  const ours = actual.find((r) => r.protocol === opts.protocol && owned(r, opts));
  if (wanted) {
    const foreign = actual.find((r) => r.protocol !== opts.protocol);
    if (foreign && !ours) return { wanted, existing: foreign };
    if (ours && routeSatisfies(ours, wanted)) return undefined;
    return { op: 'replace', route: wanted };
  }
  if (ours) return { op: 'delete', route: ours };
  return undefined;
}

function owned(r: KernelRoute, opts: PlanOptions): boolean {
  return opts.tables === undefined || opts.tables.has(r.table);
}

export function isRouteOp(x: RouteOp | RouteConflict): x is RouteOp {
  return 'op' in x;
}

/**
 * Plans a full sync. `wanted` must be normalized (normalizeRoute); when two wanted routes share a
 * FIB key the later one wins. `actual` is a kernel dump (all protocols, all tables).
 */
export function planRouteSync(
  wanted: Iterable<KernelRoute>,
  actual: Iterable<KernelRoute>,
  opts: PlanOptions,
): RoutePlan {
  const actualByKey = new Map<string, KernelRoute[]>();
  for (const r of actual) {
    const k = routeKey(r);
    const list = actualByKey.get(k);
    if (list) list.push(r);
    else actualByKey.set(k, [r]);
  }
  const wantedByKey = new Map<string, KernelRoute>();
  for (const w of wanted) wantedByKey.set(routeKey(w), w);

  const replaces: RouteOp[] = [];
  const deletes: RouteOp[] = [];
  const conflicts: RouteConflict[] = [];
  for (const [k, w] of wantedByKey) {
    const d = planRouteKey(w, actualByKey.get(k) ?? [], opts);
    if (!d) continue;
    if (isRouteOp(d)) replaces.push(d);
    else conflicts.push(d);
  }
  for (const [k, list] of actualByKey) {
    if (wantedByKey.has(k)) continue;
    for (const r of list) {
      if (r.protocol === opts.protocol && owned(r, opts)) deletes.push({ op: 'delete', route: r });
    }
  }
  return { ops: [...replaces, ...deletes], conflicts };
}
