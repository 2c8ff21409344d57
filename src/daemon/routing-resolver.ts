// Next-hop resolution against the kernel's routes (RFC 4271 §9.1.2: a route whose NEXT_HOP is not
// resolvable is excluded from the decision process; §9.1.2.2 e) the IGP cost is the tie-breaker).
//
// The resolvable set is the kernel main table minus our own BGP routes (resolving a BGP next hop
// through a BGP route is recursion that BIRD and FRR only do on request) and minus the default
// route (FRR: `ip nht resolve-via-default` is off by default). A directly connected next hop (a
// route with no gateway) costs 0, one reached through a gateway costs the route's metric + 1.
//
// Results are cached per next hop in an LRU (a few thousand distinct next hops at most, looked up
// once per attribute set and decision epoch); every change of the kernel's routes clears the cache
// and tells the routing engine, which re-runs the decision process (BGP next-hop tracking).
import { LRUCache } from 'lru-cache';
import type { StoredAttributes } from '../bgp/rib/attrs.ts';
import type { NextHopResolver } from '../bgp/rib/best-path.ts';
import { UNREACHABLE } from '../bgp/rib/best-path.ts';
import type { KernelRoutes } from '../dataplane/routes/kernel-routes.ts';
import { type KernelRoute, RT_TABLE_MAIN, RTPROT_BGP } from '../dataplane/routes/model.ts';

/** One resolvable kernel route, as bytes for prefix matching. */
interface ResolvingRoute {
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly cost: number;
}

export interface KernelResolverOptions {
  /** rtm_protocol of our own routes (config kernel.protocol); they never resolve a next hop. */
  readonly ownProtocol?: number;
  /** LRU size (distinct next hops cached). */
  readonly cacheSize?: number;
  /** Milliseconds to coalesce bursts of kernel route events before re-deciding. */
  readonly settleMs?: number;
}

/** Parses an address (IPv4 dotted or IPv6) to 4 or 16 bytes; null when it is neither. */
export function addressBytes(text: string): Uint8Array | null {
  if (text.includes(':')) {
    const [head = '', tail] = text.split('::');
    if (text.split('::').length > 2) return null;
    const parse = (s: string): number[] | null => {
      if (s === '') return [];
      const out: number[] = [];
      for (const part of s.split(':')) {
        if (part.includes('.')) {
          const v4 = addressBytes(part);
          if (v4 === null || v4.length !== 4) return null;
          out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        } else {
          if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
          out.push(Number.parseInt(part, 16));
        }
      }
      return out;
    };
    const h = parse(head);
    const t = tail === undefined ? [] : parse(tail);
    if (h === null || t === null) return null;
    const fill = tail === undefined ? 0 : 8 - h.length - t.length;
    if (fill < 0 || (tail === undefined && h.length !== 8)) return null;
    const groups = [...h, ...new Array<number>(fill).fill(0), ...t];
    const b = new Uint8Array(16);
    groups.forEach((g, i) => {
      b[2 * i] = g >> 8;
      b[2 * i + 1] = g & 0xff;
    });
    return b;
  }
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const b = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const s = parts[i]!;
    if (!/^\d{1,3}$/.test(s) || Number(s) > 255) return null;
    b[i] = Number(s);
  }
  return b;
}

/** Formats 4 or 16 address bytes (the first 16 of a 32-byte IPv6 MP next hop). */
export function formatAddressBytes(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // RFC 5952 §4.2.3: the longest run of zero groups (at least two) becomes '::'.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

function covers(route: ResolvingRoute, addr: Uint8Array): boolean {
  if (route.bytes.length !== addr.length) return false;
  let bits = route.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((route.bytes[i]! & mask) !== (addr[i]! & mask)) return false;
  }
  return true;
}

/** Which kernel routes may resolve a next hop, and at what cost; null: not usable. */
export function resolvingRoute(r: KernelRoute, ownProtocol: number): ResolvingRoute | null {
  if (r.table !== RT_TABLE_MAIN || r.protocol === ownProtocol) return null;
  const [addr = '', lenText = ''] = r.dst.split('/');
  const length = Number(lenText);
  const bytes = addressBytes(addr);
  if (bytes === null || !Number.isInteger(length) || length === 0) return null;
  if (r.type !== 'unicast') return { bytes, length, cost: UNREACHABLE };
  const direct = r.nextHops.length === 0 || r.nextHops.every((nh) => nh.gateway === undefined);
  return { bytes, length, cost: direct ? 0 : r.metric + 1 };
}

/**
 * Longest-prefix match of a next hop over the resolving routes. A blackhole, unreachable or
 * prohibit route as the longest match makes the next hop unreachable, as in FRR.
 */
export function resolveCost(routes: readonly ResolvingRoute[], addr: Uint8Array): number {
  let best: ResolvingRoute | null = null;
  for (const r of routes) {
    if ((best === null || r.length > best.length) && covers(r, addr)) best = r;
  }
  return best === null ? UNREACHABLE : best.cost;
}

/** The resolver the Loc-RIB's DecisionProcess calls, backed by a KernelRoutes dump and watch. */
export class KernelNextHopResolver implements NextHopResolver {
  private routes: ResolvingRoute[] = [];
  /** Keyed by the address as a number (IPv4) or its text (IPv6): no string per IPv4 lookup. */
  private readonly cache: LRUCache<string | number, number>;
  private readonly ownProtocol: number;
  private readonly settleMs: number;
  private unwatch: (() => void) | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private resyncNeeded = false;
  private readonly listeners = new Set<() => void>();
  /** How many lookups missed the cache (for tests and `show` figures). */
  misses = 0;

  constructor(
    private readonly kernel: KernelRoutes,
    opts: KernelResolverOptions = {},
  ) {
    this.ownProtocol = opts.ownProtocol ?? RTPROT_BGP;
    this.settleMs = opts.settleMs ?? 200;
    this.cache = new LRUCache<string | number, number>({ max: opts.cacheSize ?? 4096 });
  }

  /** Subscribes to route changes, then loads the table (in that order, so no change is missed). */
  async start(): Promise<void> {
    this.unwatch = this.kernel.watch({
      protocolFilter: (p) => p !== this.ownProtocol,
      onRoute: () => this.changed(),
      onOverrun: () => this.changed(),
    });
    await this.kernel.whenWatching();
    await this.load();
  }

  /** Called (coalesced) after the resolvable routes changed; the engine re-decides then. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  cost(nextHop: Uint8Array | null, _attrs: StoredAttributes): number {
    // A local route (originated by us) has no next hop to resolve.
    if (nextHop === null) return 0;
    // IPv6 MP next hops may carry a link-local after the global address (RFC 2545 §3): resolve
    // the global one.
    const addr = nextHop.length === 32 ? nextHop.subarray(0, 16) : nextHop;
    const key =
      addr.length === 4
        ? ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0
        : formatAddressBytes(addr);
    // The last IPv4 next hop asked for, before the LRU: a table's sets mostly share a few next
    // hops, and lru-cache's lookup is optimised per cache instance, so the warm-up's copy was of
    // no use to the real resolver's first table ("wrong call target" in --trace-deopt).
    if (key === this.lastKey) return this.lastCost;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (typeof key === 'number') this.remember(key, hit);
      return hit;
    }
    this.misses++;
    const cost = resolveCost(this.routes, addr);
    this.cache.set(key, cost);
    if (typeof key === 'number') this.remember(key, cost);
    return cost;
  }

  private lastKey = -1;
  private lastCost = 0;

  private remember(key: number, cost: number): void {
    this.lastKey = key;
    this.lastCost = cost;
  }

  /** Number of next hops currently cached. */
  get cached(): number {
    return this.cache.size;
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = null;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    this.listeners.clear();
  }

  private async load(): Promise<void> {
    const dump = await this.kernel.dump();
    const routes: ResolvingRoute[] = [];
    for (const r of dump) {
      const rr = resolvingRoute(r, this.ownProtocol);
      if (rr !== null) routes.push(rr);
    }
    this.routes = routes;
    this.cache.clear();
    this.lastKey = -1;
  }

  private changed(): void {
    this.resyncNeeded = true;
    if (this.settleTimer !== null) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      if (!this.resyncNeeded) return;
      this.resyncNeeded = false;
      this.load().then(
        () => {
          for (const fn of this.listeners) fn();
        },
        () => {
          // The dump failed (the socket closed under us): keep the previous table; the next
          // event tries again.
          this.resyncNeeded = true;
        },
      );
    }, this.settleMs);
  }
}
