// The Speaker's built-in ExportSource: the locally originated prefixes of the configuration, sent
// to every established peer. Attributes are built per peer (RFC 4271 §5.1): ORIGIN IGP; AS_PATH
// empty for iBGP and our AS for eBGP; NEXT_HOP self for eBGP (and for iBGP unless the route names
// one); LOCAL_PREF only to iBGP peers. Prefixes with equal attributes are packed together.
// The RIB engineer replaces this with the Loc-RIB / Adj-RIB-Out (see ExportSource).

import {
  asPathFromSequence,
  EMPTY_AS_PATH,
  Family,
  type FamilyKey,
  Origin,
  type PathAttributes,
  type PrefixList,
  PrefixListBuilder,
  parseIPv4,
  parseIPv6Bytes,
  parsePrefix,
  type UpdateGroup,
  type WithdrawGroup,
} from '../codec/index.ts';
import type { ExportPeer, ExportSource, ExportUpdate, OriginatedRoute } from './types.ts';

interface RouteGroup {
  readonly key: string;
  readonly family: FamilyKey;
  readonly route: OriginatedRoute;
  readonly prefixes: PrefixList;
  readonly texts: readonly string[];
}

function groupKey(family: FamilyKey, r: OriginatedRoute): string {
  return JSON.stringify([
    family,
    r.communities ?? [],
    r.largeCommunities ?? [],
    r.med ?? null,
    r.localPref ?? null,
    r.nextHop ?? null,
  ]);
}

export function ipv4MappedBytes(ipv4: number): Uint8Array {
  const b = new Uint8Array(16);
  b[10] = 0xff;
  b[11] = 0xff;
  b[12] = ipv4 >>> 24;
  b[13] = (ipv4 >>> 16) & 0xff;
  b[14] = (ipv4 >>> 8) & 0xff;
  b[15] = ipv4 & 0xff;
  return b;
}

export class OriginatedRoutes implements ExportSource {
  private groups = new Map<string, RouteGroup>();
  private readonly sinks = new Set<(changes: (peer: ExportPeer) => ExportUpdate | null) => void>();
  private readonly fallbackIPv4: number;

  /** `routerId` is the IPv4 next hop of last resort (an IPv4 route over an IPv6 session). */
  constructor(routerId: number) {
    this.fallbackIPv4 = routerId;
  }

  /** Number of originated prefixes per family. */
  count(peer?: ExportPeer): number {
    let n = 0;
    for (const g of this.groups.values())
      if (!peer || peer.families.includes(g.family)) n += g.prefixes.count;
    return n;
  }

  /**
   * Replaces the originated set. Throws on a malformed prefix (the daemon validated them); sends
   * only the difference to established peers: new or changed prefixes, and withdrawals.
   */
  set(routes: readonly OriginatedRoute[]): void {
    const byKey = new Map<string, { family: FamilyKey; route: OriginatedRoute; texts: string[] }>();
    for (const r of routes) {
      const p = parsePrefix(r.prefix);
      if (p === null)
        throw new TypeError(`originated prefix ${JSON.stringify(r.prefix)} is not ADDRESS/LENGTH`);
      const family = p.afi === 1 ? Family.IPv4Unicast : Family.IPv6Unicast;
      const key = groupKey(family, r);
      let g = byKey.get(key);
      if (!g) {
        g = { family, route: r, texts: [] };
        byKey.set(key, g);
      }
      g.texts.push(r.prefix);
    }
    const next = new Map<string, RouteGroup>();
    for (const [key, g] of byKey) {
      const b = new PrefixListBuilder(g.family === Family.IPv4Unicast ? 1 : 2, false, g.texts.length);
      for (const t of g.texts) b.addText(t);
      next.set(key, { key, family: g.family, route: g.route, prefixes: b.finish(), texts: g.texts });
    }
    // Diff by prefix text: announce what is new or moved to another group, withdraw what is gone.
    const oldWhere = new Map<string, string>();
    for (const g of this.groups.values()) for (const t of g.texts) oldWhere.set(t, g.key);
    const newWhere = new Map<string, string>();
    for (const g of next.values()) for (const t of g.texts) newWhere.set(t, g.key);
    const announce: RouteGroup[] = [];
    for (const g of next.values()) {
      const changed = g.texts.filter((t) => oldWhere.get(t) !== g.key);
      if (changed.length === 0) continue;
      const b = new PrefixListBuilder(g.prefixes.afi, false, changed.length);
      for (const t of changed) b.addText(t);
      announce.push({ ...g, prefixes: b.finish(), texts: changed });
    }
    const gone = [...oldWhere.keys()].filter((t) => !newWhere.has(t));
    this.groups = next;
    if (announce.length === 0 && gone.length === 0) return;
    const withdraw = withdrawGroups(gone);
    for (const sink of this.sinks)
      sink((peer) => ({ announce: announce.flatMap((g) => this.toUpdateGroup(g, peer)), withdraw }));
  }

  initial(peer: ExportPeer): ExportUpdate {
    return { announce: [...this.groups.values()].flatMap((g) => this.toUpdateGroup(g, peer)), withdraw: [] };
  }

  attach(sink: (changes: (peer: ExportPeer) => ExportUpdate | null) => void): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /** The attributes of a group for one peer; [] when no usable next hop exists. */
  private toUpdateGroup(g: RouteGroup, peer: ExportPeer): UpdateGroup[] {
    if (!peer.families.includes(g.family)) return [];
    const r = g.route;
    const attributes: PathAttributes = {
      origin: Origin.Igp,
      asPath: peer.internal ? EMPTY_AS_PATH : asPathFromSequence([peer.localAs]),
    };
    if (r.med !== undefined) attributes.med = r.med;
    if (peer.internal) attributes.localPref = r.localPref ?? 100;
    if (r.communities && r.communities.length > 0) attributes.communities = Uint32Array.from(r.communities);
    if (r.largeCommunities && r.largeCommunities.length > 0)
      attributes.largeCommunities = Uint32Array.from(r.largeCommunities.flat());
    const localV4 = parseIPv4(peer.localAddress);
    const configured = peer.internal ? r.nextHop : undefined;
    if (g.family === Family.IPv4Unicast) {
      const nh = (configured !== undefined ? parseIPv4(configured) : null) ?? localV4 ?? this.fallbackIPv4;
      attributes.nextHop = nh;
      return [{ family: g.family, attributes, prefixes: g.prefixes }];
    }
    // IPv6 next hop (RFC 2545 §3): ours on an IPv6 session, else IPv4-mapped (as FRR does).
    const nh =
      (configured !== undefined ? parseIPv6Bytes(configured) : null) ??
      parseIPv6Bytes(peer.localAddress) ??
      (localV4 !== null ? ipv4MappedBytes(localV4) : null);
    if (nh === null) return [];
    return [{ family: g.family, attributes, prefixes: g.prefixes, mpNextHop: nh }];
  }
}

function withdrawGroups(texts: readonly string[]): WithdrawGroup[] {
  const v4 = new PrefixListBuilder(1);
  const v6 = new PrefixListBuilder(2);
  for (const t of texts) (t.includes(':') ? v6 : v4).addText(t);
  const out: WithdrawGroup[] = [];
  if (v4.size > 0) out.push({ family: Family.IPv4Unicast, prefixes: v4.finish() });
  if (v6.size > 0) out.push({ family: Family.IPv6Unicast, prefixes: v6.finish() });
  return out;
}
