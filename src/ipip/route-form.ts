// How a route learned from a peer is installed, per IP pool mode (calico-dataplane.md §1.3, §1.4):
//   Always       PREFIX via PEER_HOST_IP dev tunl0 onlink mtu TUNNEL_MTU      (encapsulated)
//   CrossSubnet  as Always, unless PEER_HOST_IP is in one of the host interface's subnets: then
//                PREFIX via PEER_HOST_IP dev HOST_IF                          (not encapsulated)
//   Never / no pool / IPv6
//                PREFIX via PEER_HOST_IP                                      (kernel resolves)
// `onlink` because the peer's address is not on tunl0's (empty) subnet; the MTU because the
// encapsulated path is 20 bytes smaller than what the kernel would assume.
import { bytesMatch, canonicalPrefix, parsePrefix } from '../dataplane/routes/addr.ts';
import type { RouteSpec } from '../dataplane/routes/model.ts';

export type IpipMode = 'Always' | 'CrossSubnet' | 'Never';

export interface IpPool {
  cidr: string;
  ipipMode: IpipMode;
}

export interface HostUnderlay {
  /** The interface carrying the peering address (e.g. eth0). */
  ifname: string;
  /** Its IPv4 subnets as ADDRESS/LEN (e.g. 192.168.1.5/24). */
  subnets: readonly string[];
}

export type RouteForm = 'tunnel' | 'direct' | 'plain';

export interface LearnedRouteDecision {
  form: RouteForm;
  route: RouteSpec;
  /** The pool that decided (undefined when none contains the prefix). */
  pool?: IpPool;
}

export const TUNNEL_DEVICE = 'tunl0';

/** Validates pools (clear errors naming the pool) and returns them with canonical CIDRs. */
export function validatePools(pools: readonly IpPool[]): IpPool[] {
  return pools.map((p, i) => {
    const pp = parsePrefix(p.cidr);
    if (!pp) throw new Error(`ipPools[${i}]: cidr "${p.cidr}" is not a prefix`);
    if (!['Always', 'CrossSubnet', 'Never'].includes(p.ipipMode)) {
      throw new Error(
        `ipPools[${i}] (${p.cidr}): ipipMode "${p.ipipMode}" must be Always, CrossSubnet or Never`,
      );
    }
    if (pp.family === 6 && p.ipipMode !== 'Never') {
      throw new Error(
        `ipPools[${i}] (${p.cidr}): IP-in-IP carries IPv4 only; set ipipMode Never for IPv6 pools`,
      );
    }
    return { cidr: canonicalPrefix(p.cidr), ipipMode: p.ipipMode };
  });
}

/** The most specific pool containing `prefix`, or undefined. */
export function poolFor(prefix: string, pools: readonly IpPool[]): IpPool | undefined {
  const p = parsePrefix(prefix);
  if (!p) return undefined;
  let best: IpPool | undefined;
  let bestLen = -1;
  for (const pool of pools) {
    const pp = parsePrefix(pool.cidr);
    if (!pp || pp.family !== p.family || pp.length > p.length || pp.length <= bestLen) continue;
    if (bytesMatch(pp.bytes, p.bytes, pp.length)) {
      best = pool;
      bestLen = pp.length;
    }
  }
  return best;
}

/** True when `ip` lies in one of `subnets` (ADDRESS/LEN strings). */
export function inSubnets(ip: string, subnets: readonly string[]): boolean {
  const a = parsePrefix(ip);
  if (!a) return false;
  return subnets.some((s) => {
    const sp = parsePrefix(s);
    return !!sp && sp.family === a.family && bytesMatch(sp.bytes, a.bytes, sp.length);
  });
}

/** The kernel route for a prefix learned from a peer whose host address is `nextHop` (pure). */
export function routeForLearnedPrefix(args: {
  prefix: string;
  nextHop: string;
  pools: readonly IpPool[];
  underlay: HostUnderlay;
  tunnelMtu: number;
}): LearnedRouteDecision {
  const dst = canonicalPrefix(args.prefix);
  const pool = poolFor(dst, args.pools);
  const v6 = dst.includes(':');
  const plain: LearnedRouteDecision = {
    form: 'plain',
    route: { dst, nextHops: [{ gateway: args.nextHop }] },
  };
  if (pool) plain.pool = pool;
  if (!pool || v6 || pool.ipipMode === 'Never') return plain;
  if (pool.ipipMode === 'CrossSubnet' && inSubnets(args.nextHop, args.underlay.subnets)) {
    return {
      form: 'direct',
      pool,
      route: { dst, nextHops: [{ gateway: args.nextHop, dev: args.underlay.ifname }] },
    };
  }
  return {
    form: 'tunnel',
    pool,
    route: {
      dst,
      nextHops: [{ gateway: args.nextHop, dev: TUNNEL_DEVICE, onlink: true }],
      mtu: args.tunnelMtu,
    },
  };
}

/** Whether some pool encapsulates (then tunl0 is needed and workloads get the tunnel MTU). */
export function poolsUseIpip(pools: readonly IpPool[]): boolean {
  return pools.some((p) => p.ipipMode !== 'Never');
}
