// Path-attribute sets as the RIB stores them, and the pure helpers that read them.
//
// The RIB keeps one immutable StoredAttributes object per distinct attribute set (see
// attr-table.ts), never one per route. It is the codec's PathAttributes without the per-UPDATE
// parts (MP_REACH_NLRI / MP_UNREACH_NLRI carry NLRI, not route properties); the MP next hop moves
// into mpNextHop so that an IPv6 route's next hop is part of its attribute set, as in BIRD.

import { AsPathSegmentType, type PathAttributes } from '../codec/types.ts';

export interface StoredAttributes
  extends Omit<PathAttributes, 'mpReach' | 'mpUnreach' | 'as4Path' | 'as4Aggregator'> {
  /** MP_REACH_NLRI next hop (RFC 4760 §3): 16 or 32 bytes for IPv6, 4 or 16 for RFC 8950. */
  mpNextHop?: Uint8Array;
}

/** RFC 1997 / RFC 3765 well-known communities. */
export const WellKnownCommunity = {
  NoExport: 0xffffff01,
  NoAdvertise: 0xffffff02,
  NoExportSubconfed: 0xffffff03,
  NoPeer: 0xffffff04,
  /** RFC 8326 */
  GracefulShutdown: 0xffff0000,
  /** RFC 7999 */
  Blackhole: 0xffff029a,
} as const;

/**
 * A StoredAttributes with every field present (undefined where absent), always in this order.
 * All sets are made here so that they share one V8 hidden class: built by object rest or spread,
 * as before, each set got a hidden class of its own (5,966 for 6,000 sets in a heap snapshot,
 * ~2 MB at 100k routes) and every property read on them was a megamorphic lookup.
 */
export function storedAttributes(
  a: Omit<StoredAttributes, 'mpNextHop'>,
  mpNextHop: Uint8Array | undefined,
): StoredAttributes {
  return {
    origin: a.origin,
    asPath: a.asPath,
    nextHop: a.nextHop,
    med: a.med,
    localPref: a.localPref,
    atomicAggregate: a.atomicAggregate,
    aggregator: a.aggregator,
    communities: a.communities,
    originatorId: a.originatorId,
    clusterList: a.clusterList,
    extendedCommunities: a.extendedCommunities,
    largeCommunities: a.largeCommunities,
    otc: a.otc,
    unknown: a.unknown,
    mpNextHop,
  };
}

/**
 * A new, writable copy of a set in the one shape, sharing its arrays (which nobody writes): what
 * export rewriting and policy change before interning the result (AttrTable.internDerived). A
 * spread (`{ ...a }`) of a frozen set made an object of another hidden class, which interning
 * then had to rebuild.
 */
export function cloneAttributes(a: StoredAttributes): StoredAttributes {
  return storedAttributes(a, a.mpNextHop);
}

/**
 * Settles the hidden class of storedAttributes() once, at load, before any code is optimised on
 * it. V8 specialises each field on the kinds of value it has seen (small integer, other number,
 * object, undefined) and on whether it was ever written after creation; code optimised on that
 * is thrown away ("code dependencies" in --trace-deopt) the first time a set breaks the pattern.
 * The warm-up's table cannot show every pattern a real one has (a MED of 0, no LOCAL_PREF, an
 * AGGREGATOR, large communities), so after it the first real table threw away the interning,
 * reflection and best-path code and optimised it again while loading. Giving every field each
 * kind here, and writing each once, leaves nothing for a real set to change.
 */
function settleStoredShape(): StoredAttributes {
  const words = Uint32Array.of(1);
  const bytes = Uint8Array.of(1);
  const a = storedAttributes({}, undefined);
  const b = storedAttributes(
    {
      origin: 0,
      asPath: words,
      nextHop: 0,
      med: 0,
      localPref: 0,
      atomicAggregate: true,
      aggregator: { asn: 0, address: 0 },
      communities: words,
      originatorId: 0,
      clusterList: words,
      extendedCommunities: words,
      largeCommunities: words,
      otc: 0,
      unknown: [],
    },
    bytes,
  );
  // Numbers beyond V8's small integers (2^30 and up: most IPv4 addresses, many MEDs).
  const c = storedAttributes(
    {
      origin: 2,
      nextHop: 0xc0000201,
      med: 0xffffffff,
      localPref: 0xffffffff,
      originatorId: 0xc0000201,
      otc: 0xfffffffe,
    },
    undefined,
  );
  for (const o of [a, b, c]) {
    o.origin = o.origin === undefined ? 1 : undefined;
    o.asPath = o.asPath === undefined ? words : undefined;
    o.nextHop = o.nextHop === undefined ? 1 : undefined;
    o.med = o.med === undefined ? 1 : undefined;
    o.localPref = o.localPref === undefined ? 1 : undefined;
    o.atomicAggregate = o.atomicAggregate === undefined ? true : undefined;
    o.aggregator = o.aggregator === undefined ? { asn: 1, address: 1 } : undefined;
    o.communities = o.communities === undefined ? words : undefined;
    o.originatorId = o.originatorId === undefined ? 1 : undefined;
    o.clusterList = o.clusterList === undefined ? words : undefined;
    o.extendedCommunities = o.extendedCommunities === undefined ? words : undefined;
    o.largeCommunities = o.largeCommunities === undefined ? words : undefined;
    o.otc = o.otc === undefined ? 1 : undefined;
    o.unknown = o.unknown === undefined ? [] : undefined;
    o.mpNextHop = o.mpNextHop === undefined ? bytes : undefined;
  }
  return b;
}
/**
 * Kept so that the settled hidden class lives on: V8 frees a hidden class once no object has it,
 * and a daemon that has no routes yet may have no attribute set.
 */
export const settledStoredShape: StoredAttributes = Object.freeze(settleStoredShape());

/** Builds the stored form of an UPDATE's attributes (drops MP NLRI, keeps the MP next hop). */
export function storedFromUpdate(attrs: PathAttributes): StoredAttributes {
  return storedAttributes(attrs, attrs.mpReach?.nextHop);
}

// ---------------------------------------------------------------------------------------------
// AS_PATH helpers over the codec's flat form: per segment a header word (type << 24) | count,
// then count ASNs.

/**
 * RFC 4271 §9.1.2.2 a): an AS_SET counts 1, each AS in an AS_SEQUENCE counts 1; RFC 5065 §5.3:
 * confederation segments count 0.
 */
export function asPathLength(path: Uint32Array | undefined): number {
  if (path === undefined) return 0;
  let len = 0;
  let i = 0;
  while (i < path.length) {
    const header = path[i]!;
    const type = header >>> 24;
    const count = header & 0xffffff;
    if (type === AsPathSegmentType.AsSequence) len += count;
    else if (type === AsPathSegmentType.AsSet) len += 1;
    i += 1 + count;
  }
  return len;
}

/**
 * The AS a route was received from, for MED comparison (RFC 4271 §9.1.2.2 c): the first AS of
 * the first non-confederation segment when that segment is an AS_SEQUENCE. 0 when the route was
 * originated inside our AS (or confederation) or starts with an AS_SET.
 */
export function neighborAs(path: Uint32Array | undefined): number {
  if (path === undefined) return 0;
  let i = 0;
  while (i < path.length) {
    const header = path[i]!;
    const type = header >>> 24;
    const count = header & 0xffffff;
    if (type === AsPathSegmentType.AsSequence) return count > 0 ? path[i + 1]! : 0;
    if (type === AsPathSegmentType.AsSet) return 0;
    i += 1 + count;
  }
  return 0;
}

/**
 * The originating AS (RFC 6811 §2): the last AS of the final segment when it is an AS_SEQUENCE.
 * 0 for an empty path (our own routes; the caller substitutes the local AS) and -1 when the path
 * ends in an AS_SET (origin undetermined).
 */
export function originAs(path: Uint32Array | undefined): number {
  if (path === undefined) return 0;
  let i = 0;
  let last = 0;
  while (i < path.length) {
    const header = path[i]!;
    const type = header >>> 24;
    const count = header & 0xffffff;
    if (type === AsPathSegmentType.AsSequence) {
      if (count > 0) last = path[i + count]!;
    } else if (type === AsPathSegmentType.AsSet) {
      last = -1;
    }
    i += 1 + count;
  }
  return last;
}

/** True when asn occurs more than `allowed` times anywhere in the path (sets and confed segments too). */
export function asPathContains(path: Uint32Array | undefined, asn: number, allowed = 0): boolean {
  if (path === undefined) return false;
  let seen = 0;
  let i = 0;
  while (i < path.length) {
    const count = path[i]! & 0xffffff;
    for (let k = i + 1; k <= i + count; k++) {
      if (path[k] === asn && ++seen > allowed) return true;
    }
    i += 1 + count;
  }
  return false;
}

/**
 * The AS path as operators read it: "64512 64513 {64514 64515} (65001 65002)", sets in braces,
 * confederation sequences in parentheses, confederation sets in brackets (as FRR and BIRD print).
 */
export function formatAsPath(path: Uint32Array | undefined): string {
  if (path === undefined || path.length === 0) return '';
  const parts: string[] = [];
  let i = 0;
  while (i < path.length) {
    const header = path[i]!;
    const type = header >>> 24;
    const count = header & 0xffffff;
    const asns = Array.from(path.subarray(i + 1, i + 1 + count)).join(' ');
    if (type === AsPathSegmentType.AsSequence) parts.push(asns);
    else if (type === AsPathSegmentType.AsSet) parts.push(`{${asns}}`);
    else if (type === AsPathSegmentType.ConfedSequence) parts.push(`(${asns})`);
    else parts.push(`[${asns}]`);
    i += 1 + count;
  }
  return parts.filter((p) => p !== '').join(' ');
}

/** Builds a flat AS path from segments (used by policy prepend, the reflector tests and benches). */
export function buildAsPath(
  segments: readonly { readonly type: number; readonly asns: readonly number[] }[],
): Uint32Array {
  let size = 0;
  for (const s of segments) size += 1 + s.asns.length;
  const out = new Uint32Array(size);
  let o = 0;
  for (const s of segments) {
    out[o++] = ((s.type & 0xff) << 24) | s.asns.length;
    for (const a of s.asns) out[o++] = a >>> 0;
  }
  return out;
}

/** A plain AS_SEQUENCE path. */
export function asSequence(...asns: number[]): Uint32Array {
  return asns.length === 0 ? new Uint32Array(0) : buildAsPath([{ type: AsPathSegmentType.AsSequence, asns }]);
}

/**
 * Prepends asn `times` times (RFC 4271 §5.1.2): into the leading AS_SEQUENCE when there is one
 * with room, else as a new AS_SEQUENCE segment in front.
 */
export function asPathPrepend(path: Uint32Array | undefined, asn: number, times = 1): Uint32Array {
  if (times <= 0) return path ?? new Uint32Array(0);
  const src = path ?? new Uint32Array(0);
  if (src.length > 0 && src[0]! >>> 24 === AsPathSegmentType.AsSequence) {
    const count = src[0]! & 0xffffff;
    const out = new Uint32Array(src.length + times);
    out[0] = (AsPathSegmentType.AsSequence << 24) | (count + times);
    out.fill(asn >>> 0, 1, 1 + times);
    out.set(src.subarray(1), 1 + times);
    return out;
  }
  const out = new Uint32Array(src.length + 1 + times);
  out[0] = (AsPathSegmentType.AsSequence << 24) | times;
  out.fill(asn >>> 0, 1, 1 + times);
  out.set(src, 1 + times);
  return out;
}

/** RFC 5065 §5.3: removes leading confederation segments (when exporting out of the confederation). */
export function asPathStripConfed(path: Uint32Array | undefined): Uint32Array | undefined {
  if (path === undefined) return undefined;
  let i = 0;
  while (i < path.length) {
    const type = path[i]! >>> 24;
    if (type !== AsPathSegmentType.ConfedSequence && type !== AsPathSegmentType.ConfedSet) break;
    i += 1 + (path[i]! & 0xffffff);
  }
  return i === 0 ? path : path.slice(i);
}

// ---------------------------------------------------------------------------------------------
// Address helpers (attribute sets only; prefixes use prefix.ts)

export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: '${text}'`);
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) throw new Error(`not an IPv4 address: '${text}'`);
    const n = Number(p);
    if (n > 255) throw new Error(`not an IPv4 address: '${text}'`);
    v = v * 256 + n;
  }
  return v >>> 0;
}

/** The next hop of a stored set as bytes (4 for the IPv4 NEXT_HOP, else the MP next hop), or null. */
export function nextHopBytes(a: StoredAttributes): Uint8Array | null {
  if (a.mpNextHop !== undefined) return a.mpNextHop;
  if (a.nextHop !== undefined) {
    const n = a.nextHop;
    return Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  }
  return null;
}
