// The kernel route model shared by the planner, the executors and the syncer. A route is identified
// in the kernel FIB by (family, table, destination prefix, TOS, priority); tsbgp never sets TOS, so
// the key here is (table, prefix, metric). Everything else is the route's value.
import { canonicalIp, canonicalPrefix, ipFamily } from './addr.ts';

/** RTPROT_BGP from include/uapi/linux/rtnetlink.h; iproute2 shows it as `proto bgp`. */
export const RTPROT_BGP = 186;
export const RT_TABLE_MAIN = 254;

export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';

export interface NextHop {
  /** Gateway address; absent for a directly connected (`dev X`) next hop. */
  gateway?: string;
  /** Output interface name. */
  dev?: string;
  /** RTNH_F_ONLINK: the gateway is on the link even without a covering connected route. */
  onlink?: boolean;
  /** ECMP weight, 1..256 (the kernel stores weight-1 in rtnh_hops). */
  weight?: number;
}

export interface KernelRoute {
  /** Canonical destination prefix text, e.g. `10.1.2.0/26` or `2001:db8::/64`. */
  dst: string;
  table: number;
  protocol: number;
  /** RTA_PRIORITY. IPv6 routes given 0 are stored by the kernel as 1024, see normalizeRoute. */
  metric: number;
  type: RouteType;
  /** One entry for a plain route, several for ECMP; empty for blackhole-like types. */
  nextHops: NextHop[];
  /** RTAX_MTU route metric; 0 or absent = none. */
  mtu?: number;
}

/** What a wanted route may leave out; normalizeRoute fills it in. */
export interface RouteSpec {
  dst: string;
  table?: number;
  protocol?: number;
  metric?: number;
  type?: RouteType;
  nextHops?: NextHop[];
  mtu?: number;
}

export type RouteOp = { op: 'replace'; route: KernelRoute } | { op: 'delete'; route: KernelRoute };

export function isV6(route: { dst: string }): boolean {
  return route.dst.indexOf(':') >= 0;
}

/**
 * Canonical form: prefix and gateways in canonical text, the IPv6 default metric made explicit
 * (the kernel turns priority 0 into IP6_RT_PRIO_USER = 1024), weight 1 made explicit, no next
 * hops on blackhole-like routes. Throws with a message naming the bad field.
 */
export function normalizeRoute(spec: RouteSpec, defaults: { table: number; protocol: number }): KernelRoute {
  const dst = canonicalPrefix(spec.dst);
  const v6 = dst.indexOf(':') >= 0;
  const type = spec.type ?? 'unicast';
  const metric = spec.metric ?? 0;
  if (!Number.isInteger(metric) || metric < 0 || metric > 0xffffffff) {
    throw new Error(`route ${dst}: metric ${metric} is not a 32-bit unsigned integer`);
  }
  const table = spec.table ?? defaults.table;
  if (!Number.isInteger(table) || table < 1 || table > 0xffffffff) {
    throw new Error(`route ${dst}: table ${table} is not a table id`);
  }
  const nextHops: NextHop[] = [];
  if (type === 'unicast') {
    for (const nh of spec.nextHops ?? []) {
      const out: NextHop = {};
      if (nh.gateway !== undefined) {
        const gw = canonicalIp(nh.gateway);
        if ((ipFamily(gw) === 6) !== v6)
          throw new Error(`route ${dst}: gateway ${gw} is of the other family`);
        out.gateway = gw;
      }
      if (nh.dev !== undefined) out.dev = nh.dev;
      if (nh.onlink) out.onlink = true;
      const weight = nh.weight ?? 1;
      if (!Number.isInteger(weight) || weight < 1 || weight > 256) {
        throw new Error(`route ${dst}: next-hop weight ${weight} is outside 1..256`);
      }
      out.weight = weight;
      if (!out.gateway && !out.dev) throw new Error(`route ${dst}: a next hop needs a gateway or a dev`);
      nextHops.push(out);
    }
    if (nextHops.length === 0) throw new Error(`route ${dst}: a unicast route needs at least one next hop`);
    if (nextHops.length === 1) nextHops[0]!.weight = 1;
  }
  const route: KernelRoute = {
    dst,
    table,
    protocol: spec.protocol ?? defaults.protocol,
    metric: v6 && metric === 0 ? 1024 : metric,
    type,
    nextHops,
  };
  if (spec.mtu) route.mtu = spec.mtu;
  return route;
}

/** The FIB key of a route: two routes with the same key replace each other. */
export function routeKey(r: { dst: string; table: number; metric: number }): string {
  return `${r.table} ${r.dst} ${r.metric}`;
}

function sameNextHop(a: NextHop, b: NextHop, anyDevInB: boolean): boolean {
  return (
    (a.gateway ?? '') === (b.gateway ?? '') &&
    ((anyDevInB && b.dev === undefined) || (a.dev ?? '') === (b.dev ?? '')) &&
    !!a.onlink === !!b.onlink &&
    (a.weight ?? 1) === (b.weight ?? 1)
  );
}

/**
 * True when the kernel's route needs no change to be the wanted one. Next-hop order is ignored
 * for ECMP, as the kernel may reorder them after a replace.
 */
export function routesEqual(a: KernelRoute, b: KernelRoute): boolean {
  return compareRoutes(a, b, false);
}

/**
 * True when the kernel's route `actual` is what `wanted` asks for. A wanted next hop without a
 * dev leaves the choice to the kernel, which reports the device it resolved: every dev matches.
 */
export function routeSatisfies(actual: KernelRoute, wanted: KernelRoute): boolean {
  return compareRoutes(actual, wanted, true);
}

function compareRoutes(a: KernelRoute, b: KernelRoute, anyDevInB: boolean): boolean {
  if (
    a.dst !== b.dst ||
    a.table !== b.table ||
    a.protocol !== b.protocol ||
    a.metric !== b.metric ||
    a.type !== b.type ||
    (a.mtu ?? 0) !== (b.mtu ?? 0) ||
    a.nextHops.length !== b.nextHops.length
  ) {
    return false;
  }
  if (a.nextHops.length === 1) return sameNextHop(a.nextHops[0]!, b.nextHops[0]!, anyDevInB);
  const used = new Array<boolean>(b.nextHops.length).fill(false);
  outer: for (const x of a.nextHops) {
    for (let i = 0; i < b.nextHops.length; i++) {
      if (!used[i] && sameNextHop(x, b.nextHops[i]!, anyDevInB)) {
        used[i] = true;
        continue outer;
      }
    }
    return false;
  }
  return true;
}

/** The route in `ip route` syntax (for logs, `ip -batch` and error messages). */
export function formatRouteArgs(r: KernelRoute, withValue = true): string {
  const parts: string[] = [];
  if (r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst);
  if (withValue && r.type === 'unicast') {
    if (r.nextHops.length === 1) {
      const nh = r.nextHops[0]!;
      if (nh.gateway) parts.push('via', nh.gateway);
      if (nh.dev) parts.push('dev', nh.dev);
      if (nh.onlink) parts.push('onlink');
    }
  }
  parts.push('table', String(r.table), 'proto', String(r.protocol), 'metric', String(r.metric));
  if (withValue && r.mtu) parts.push('mtu', String(r.mtu));
  if (withValue && r.type === 'unicast' && r.nextHops.length > 1) {
    for (const nh of r.nextHops) {
      parts.push('nexthop');
      if (nh.gateway) parts.push('via', nh.gateway);
      if (nh.dev) parts.push('dev', nh.dev);
      parts.push('weight', String(nh.weight ?? 1));
      if (nh.onlink) parts.push('onlink');
    }
  }
  return parts.join(' ');
}
