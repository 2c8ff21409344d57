// Adj-RIB-Out with update groups (as FRR's update-groups and BIRD's per-channel buckets).
//
// Peers whose outgoing routes must be identical share one UpdateGroup: same family, session type,
// route-reflector client status, export policy chain, next-hop handling and local address, AS4
// and ADD-PATH. The export (policy + attribute rewriting) runs once per group and is cached per
// attribute set (policy/filters.ts), and the group's Adj-RIB-Out is one Int32Array indexed by
// the Loc-RIB's prefix index (the advertised attribute id, 0 = not advertised) plus the source
// peer of each advertised route: 6 bytes per prefix per group, not per peer.
//
// A batch of Loc-RIB changes (LocRib.commit()) becomes, per group, an UpdateBatch: announced
// prefixes bucketed by outgoing attribute id, so the UPDATE packer emits one attribute section
// per bucket (few UPDATEs), and a withdraw list. Withdrawals are in the same batch (send them
// first: they are what ends blackholing).
//
// ADD-PATH send (RFC 7911) groups advertise several paths per prefix (best, then the multipath
// set, then the other eligible paths, up to a limit), with the Loc-RIB path index + 1 as path id;
// their Adj-RIB-Out is per path (10 bytes per advertised path) instead of per prefix.
//
// Split horizon: a route is never sent back to the peer it was learned from (BIRD, FRR). The
// group keeps the source peer per announced prefix; forPeer() turns a member's own routes into
// withdrawals for that member (withdrawing a route a peer never had is harmless, RFC 4271 §9.2).

import { PrefixRangeGroup } from '../codec/packer.ts';
import type {
  FamilyKey,
  UpdateGroup as PackerUpdateGroup,
  PathAttributes,
  PrefixList,
  WithdrawGroup,
} from '../codec/types.ts';
import { Family } from '../codec/types.ts';
import { holeyArray } from '../holey-array.ts';
import { bigInt32Array, bigUint16Array, releaseBigArray } from '../huge-pages.ts';
import { type ExportFilter, type ExportSettings, REJECT } from '../policy/filters.ts';
import { AttrTable } from './attr-table.ts';
import { UNREACHABLE } from './best-path.ts';
import { type LocRib, PathFlag, RibChange, type RibChanges } from './loc-rib.ts';
import { PrefixListBuilder } from './prefix.ts';

/** Session properties that change what goes on the wire, besides ExportSettings. */
export interface SessionWireProperties {
  readonly fourOctetAs: boolean;
  /** RFC 7911 send for this family */
  readonly addPathSend: boolean;
  /** with addPathSend: at most this many paths per prefix (default: all; config `addPath.send: N`) */
  readonly addPathSendLimit?: number | undefined;
}

/** The grouping key: peers with equal keys get identical UPDATEs. */
export function updateGroupKey(s: ExportSettings, w: SessionWireProperties): string {
  return JSON.stringify([
    s.afi,
    s.kind,
    s.rrClient,
    s.policies ?? null,
    s.nextHop,
    s.localIpv4 ?? null,
    s.localIpv6 === undefined ? null : Array.from(s.localIpv6),
    s.localAs,
    s.reflector.enabled,
    s.reflector.clusterId,
    s.reflector.clientToClient,
    s.requireEbgpPolicy ?? true,
    w.fourOctetAs,
    w.addPathSend,
    w.addPathSend ? (w.addPathSendLimit ?? 0) : 0,
  ]);
}

/** What a member had of a prefix before a batch (see UpdateBatch.announceRoute). */
export enum Before {
  /** Not known: a member whose own route this is gets a withdrawal, to be safe. */
  Unknown = 0,
  /** The group advertised nothing for the prefix: nobody needs a withdrawal. */
  Nothing = 1,
  /** The group advertised the route of `previous` (that peer itself did not get it). */
  From = 2,
}

/**
 * A store that grew past this many routes is not kept for the next commit. Commits under load
 * hold ~1-20k routes; a full table (a peer joining, a policy change) may hold millions, and
 * keeping its ~24 bytes per route for the rest of the daemon's life would be waste.
 */
const POOLED_STORE_MAX = 65_536;
/** Range groups a store keeps for its next batches (one per bucket; see BatchStore.ranges). */
const RANGE_GROUPS_KEPT = 8192;
/** Stores kept per group: one per batch alive at a time (normally one commit). */
const POOL_SIZE = 2;

/** Home slot of an attribute id in BatchStore's bucket table (ids are dense: mix them). */
function slotOf(attrId: number, mask: number): number {
  const h = Math.imul(attrId, 0x9e3779b1);
  return (h ^ (h >>> 15)) & mask;
}

/**
 * The arrays of one batch, reused across commits (see StorePool). Announced routes are appended
 * in arrival order, each tagged with its bucket (one per outgoing attribute set); seal() then
 * groups them by bucket with a counting sort, so that each bucket is one contiguous range the
 * packer reads as a PrefixList view.
 *
 * Why columns and not a set of arrays per bucket (as this was): a commit touching a few thousand
 * attribute sets then allocated (or pooled) a few thousand buckets of five typed arrays each.
 * Pooled, 3,000 of them held ~4 MB; not pooled, they were garbage that survived into the old
 * generation. This store is seven arrays per group, whatever the number of sets.
 */
class BatchStore {
  readonly stride: 1 | 4;
  count = 0;
  buckets = 0;
  sealed = false;
  // Per route, in arrival order.
  private bucketOf: Uint32Array;
  private words: Uint32Array;
  private lengths: Uint8Array;
  private pathIds: Uint32Array | null;
  private sources: Uint16Array;
  private before: Uint8Array;
  private previous: Uint16Array;
  // Per route, grouped by bucket (valid once sealed).
  gWords: Uint32Array;
  gLengths: Uint8Array;
  gPathIds: Uint32Array | null;
  gSources: Uint16Array;
  gBefore: Uint8Array;
  gPrevious: Uint16Array;
  // Per bucket.
  bucketAttr = new Uint32Array(64);
  bucketStart = new Uint32Array(64);
  bucketCount = new Uint32Array(64);
  /**
   * Attribute id -> bucket in this batch: an open-addressing table of bucket + 1 (0: empty), the
   * key being bucketAttr[bucket]. Not an array indexed by id: ids run up to the number of distinct
   * sets in the RIB (hundreds of thousands in a full Internet table), and every group keeps its
   * own stores. Not a Map: cleared and refilled by every commit, a Map reallocated its table each
   * time (5.4 MB of the 70 MB a 1M load allocated, and 2% of its profile in bucketFor).
   */
  private bucketSlots = new Int32Array(128);
  readonly withdraw: PrefixListBuilder;
  /**
   * Per bucket, the packer's range group, shared by every member the whole bucket goes to and
   * reused by the next batches in this store: one new object per bucket per member per commit was
   * the largest single source of garbage at a 100k table (~2.4 MB). A group whose source is not
   * this batch's `grouped` list is from an earlier batch, and is pointed at the new range.
   */
  private readonly ranges: (PrefixRangeGroup | undefined)[] = holeyArray();

  constructor(
    readonly afi: 1 | 2,
    readonly withPathIds: boolean,
    initial = 256,
  ) {
    this.stride = afi === 1 ? 1 : 4;
    this.bucketOf = new Uint32Array(initial);
    this.words = new Uint32Array(initial * this.stride);
    this.lengths = new Uint8Array(initial);
    this.pathIds = withPathIds ? new Uint32Array(initial) : null;
    this.sources = new Uint16Array(initial);
    this.before = new Uint8Array(initial);
    this.previous = new Uint16Array(initial);
    this.gWords = new Uint32Array(0);
    this.gLengths = new Uint8Array(0);
    this.gPathIds = withPathIds ? new Uint32Array(0) : null;
    this.gSources = new Uint16Array(0);
    this.gBefore = new Uint8Array(0);
    this.gPrevious = new Uint16Array(0);
    this.withdraw = new PrefixListBuilder(afi, 64, withPathIds);
  }

  get capacity(): number {
    return this.lengths.length;
  }

  /** The bucket of an attribute set, added when new (the caller sees `buckets` grow and takes a reference). */
  bucketFor(attrId: number): number {
    const slots = this.bucketSlots;
    const mask = slots.length - 1;
    let h = slotOf(attrId, mask);
    for (let v = slots[h]!; v !== 0; v = slots[h]!) {
      if (this.bucketAttr[v - 1] === attrId) return v - 1;
      h = (h + 1) & mask;
    }
    const b = this.buckets++;
    if (b === this.bucketAttr.length) {
      this.bucketAttr = grown(this.bucketAttr, b * 2);
      this.bucketStart = grown(this.bucketStart, b * 2);
      this.bucketCount = grown(this.bucketCount, b * 2);
    }
    this.bucketAttr[b] = attrId;
    this.bucketCount[b] = 0;
    slots[h] = b + 1;
    // At most half full, so probes stay short.
    if (2 * this.buckets > slots.length) this.rehashBuckets(slots.length * 2);
    return b;
  }

  private rehashBuckets(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    for (let b = 0; b < this.buckets; b++) {
      let h = slotOf(this.bucketAttr[b]!, mask);
      while (slots[h] !== 0) h = (h + 1) & mask;
      slots[h] = b + 1;
    }
    this.bucketSlots = slots;
  }

  push(
    bucket: number,
    words: Uint32Array,
    offset: number,
    length: number,
    source: number,
    pathId: number,
    before: Before,
    previous: number,
  ): void {
    if (this.sealed) throw new Error('UpdateBatch: a route announced after forPeer()');
    const i = this.count;
    if (i === this.lengths.length) this.grow(i * 2);
    this.bucketOf[i] = bucket;
    const o = i * this.stride;
    for (let k = 0; k < this.stride; k++) this.words[o + k] = words[offset + k]!;
    this.lengths[i] = length;
    if (this.pathIds !== null) this.pathIds[i] = pathId;
    this.sources[i] = source;
    this.before[i] = before;
    this.previous[i] = previous;
    this.bucketCount[bucket]!++;
    this.count = i + 1;
  }

  /** Groups the routes by bucket (stable: arrival order within a bucket). */
  seal(): void {
    if (this.sealed) return;
    this.sealed = true;
    const n = this.count;
    if (this.gLengths.length < n) {
      const cap = this.lengths.length;
      this.gWords = new Uint32Array(cap * this.stride);
      this.gLengths = new Uint8Array(cap);
      if (this.withPathIds) this.gPathIds = new Uint32Array(cap);
      this.gSources = new Uint16Array(cap);
      this.gBefore = new Uint8Array(cap);
      this.gPrevious = new Uint16Array(cap);
    }
    let at = 0;
    for (let b = 0; b < this.buckets; b++) {
      this.bucketStart[b] = at;
      at += this.bucketCount[b]!;
    }
    // bucketCount becomes each bucket's fill cursor below, then its count again.
    for (let b = 0; b < this.buckets; b++) this.bucketCount[b] = this.bucketStart[b]!;
    const stride = this.stride;
    for (let i = 0; i < n; i++) {
      const b = this.bucketOf[i]!;
      const j = this.bucketCount[b]!;
      this.bucketCount[b] = j + 1;
      if (stride === 1) this.gWords[j] = this.words[i]!;
      else for (let k = 0; k < 4; k++) this.gWords[j * 4 + k] = this.words[i * 4 + k]!;
      this.gLengths[j] = this.lengths[i]!;
      if (this.pathIds !== null) this.gPathIds![j] = this.pathIds[i]!;
      this.gSources[j] = this.sources[i]!;
      this.gBefore[j] = this.before[i]!;
      this.gPrevious[j] = this.previous[i]!;
    }
    for (let b = 0; b < this.buckets; b++) this.bucketCount[b] = this.bucketCount[b]! - this.bucketStart[b]!;
    this.grouped = {
      afi: this.afi,
      count: n,
      lengths: this.gLengths,
      words: this.gWords,
      pathIds: this.gPathIds,
    };
  }

  /**
   * Every route of the sealed batch as one PrefixList over the grouped arrays (bucket b is the
   * range [bucketStart[b], + bucketCount[b])), made once per seal for the packer's range groups.
   */
  grouped: PrefixList | null = null;

  /** Bucket b of the sealed batch as a range group (see `ranges`). */
  rangeGroup(
    b: number,
    family: FamilyKey,
    attributes: PathAttributes,
    mpNextHop: Uint8Array | undefined,
  ): PrefixRangeGroup {
    const source = this.grouped!;
    const start = this.bucketStart[b]!;
    const count = this.bucketCount[b]!;
    const g = this.ranges[b];
    if (g === undefined) {
      const made = new PrefixRangeGroup(family, attributes, mpNextHop, source, start, count);
      this.ranges[b] = made;
      return made;
    }
    return g.source === source ? g : g.reuse(family, attributes, mpNextHop, source, start, count);
  }

  /** Empties the store for the next batch. */
  clear(): void {
    if (this.ranges.length > RANGE_GROUPS_KEPT) this.ranges.length = RANGE_GROUPS_KEPT;
    // Slots are cleared one by one when few were used: a commit of a few routes must not pay for
    // wiping the table a full table once grew.
    if (this.buckets * 8 < this.bucketSlots.length) this.clearBucketSlots();
    else this.bucketSlots.fill(0);
    this.buckets = 0;
    this.count = 0;
    this.sealed = false;
    this.grouped = null;
    this.withdraw.clear(POOLED_STORE_MAX);
  }

  private clearBucketSlots(): void {
    const slots = this.bucketSlots;
    const mask = slots.length - 1;
    for (let b = 0; b < this.buckets; b++) {
      let h = slotOf(this.bucketAttr[b]!, mask);
      while (slots[h] !== b + 1) h = (h + 1) & mask;
      slots[h] = 0;
    }
  }

  private grow(cap: number): void {
    this.bucketOf = grown(this.bucketOf, cap);
    this.words = grown(this.words, cap * this.stride);
    this.lengths = grown(this.lengths, cap);
    if (this.pathIds !== null) this.pathIds = grown(this.pathIds, cap);
    this.sources = grown(this.sources, cap);
    this.before = grown(this.before, cap);
    this.previous = grown(this.previous, cap);
  }
}

function grown<T extends Uint8Array | Uint16Array | Uint32Array>(a: T, n: number): T {
  const out = new (a.constructor as new (n: number) => T)(n);
  out.set(a);
  return out;
}

/** A group's BatchStores, reused across commits. */
export class StorePool {
  private readonly free: BatchStore[] = [];

  constructor(
    private readonly afi: 1 | 2,
    private readonly withPathIds: boolean,
  ) {}

  take(): BatchStore {
    return this.free.pop() ?? new BatchStore(this.afi, this.withPathIds);
  }

  give(s: BatchStore): void {
    if (this.free.length >= POOL_SIZE || s.capacity > POOLED_STORE_MAX) return;
    s.clear();
    this.free.push(s);
  }
}

/**
 * The outgoing changes of one group for one Loc-RIB commit: announced routes bucketed by
 * outgoing attribute set, and withdrawals. It copies the prefixes (it stays valid after the next
 * commit) and holds a reference on every attribute set it names until release().
 */
export class UpdateBatch {
  private released = false;
  private recycled = false;
  private lastId = -1;
  private lastBucket = -1;
  private readonly store: BatchStore;

  constructor(
    readonly afi: 1 | 2,
    readonly family: FamilyKey,
    private readonly attrs: AttrTable,
    /** RFC 7911: prefixes carry path identifiers */
    readonly withPathIds = false,
    private readonly pool: StorePool | null = null,
  ) {
    this.store = pool === null ? new BatchStore(afi, withPathIds) : pool.take();
  }

  get withdraw(): PrefixListBuilder {
    return this.store.withdraw;
  }

  /**
   * Adds an announcement of one prefix with outgoing attribute set `attrId`, learned from
   * `source`; `before` and `previous` say what the group advertised for it until now.
   */
  announceRoute(
    attrId: number,
    words: Uint32Array,
    offset: number,
    length: number,
    source: number,
    pathId = 0,
    before: Before = Before.Unknown,
    previous = 0,
  ): void {
    const s = this.store;
    // Consecutive changes usually share a set (they came in one UPDATE): skip the lookup.
    let b = this.lastBucket;
    if (attrId !== this.lastId) {
      const known = s.buckets;
      b = s.bucketFor(attrId);
      if (s.buckets !== known) this.attrs.ref(attrId);
      this.lastId = attrId;
      this.lastBucket = b;
    }
    s.push(b, words, offset, length, source, pathId, before, previous);
  }

  /** Number of distinct outgoing attribute sets announced. */
  get bucketCount(): number {
    return this.store.buckets;
  }

  get announcedCount(): number {
    return this.store.count;
  }

  get empty(): boolean {
    return this.store.count === 0 && this.store.withdraw.count === 0;
  }

  /**
   * The packer's input for one member peer: announce groups (one per attribute set) and one
   * withdraw group, with the peer's own routes turned into withdrawals (split horizon).
   */
  forPeer(peer: number): { announce: PackerUpdateGroup[]; withdraw: WithdrawGroup | null } {
    if (this.recycled) throw new Error('UpdateBatch: forPeer() after recycle()');
    const s = this.store;
    s.seal();
    const announce: PackerUpdateGroup[] = [];
    let withdraw: PrefixList = s.withdraw.view();
    let extra: PrefixListBuilder | null = null;
    const stride = s.stride;
    const src = s.gSources;
    for (let b = 0; b < s.buckets; b++) {
      const start = s.bucketStart[b]!;
      const end = start + s.bucketCount[b]!;
      // Own routes leave the announcement; those the peer may hold from us become withdrawals.
      let own = 0;
      let ownWithdrawn = 0;
      for (let j = start; j < end; j++) {
        if (src[j] !== peer) continue;
        own++;
        if (this.ownNeedsWithdraw(j, peer)) ownWithdrawn++;
      }
      if (own === 0) {
        // The common case: the whole bucket, as a range of the grouped arrays (no views made).
        // The set itself serves as the packer's attributes: the packer reads PathAttributes fields
        // by name and never looks at mpNextHop.
        const attributes = this.attrs.get(s.bucketAttr[b]!);
        announce.push(s.rangeGroup(b, this.family, attributes, attributes.mpNextHop));
        continue;
      }
      if (ownWithdrawn > 0) {
        extra ??= copyOf(s.withdraw, this.withPathIds);
        for (let j = start; j < end; j++)
          if (src[j] === peer && this.ownNeedsWithdraw(j, peer))
            extra.push(s.gWords, j * stride, s.gLengths[j]!, s.gPathIds === null ? 0 : s.gPathIds[j]!);
      }
      // The common case for the peer that sent the routes: nothing of this bucket is for it.
      if (own === end - start) continue;
      const keep = new PrefixListBuilder(this.afi, end - start - own, this.withPathIds);
      for (let j = start; j < end; j++)
        if (src[j] !== peer)
          keep.push(s.gWords, j * stride, s.gLengths[j]!, s.gPathIds === null ? 0 : s.gPathIds[j]!);
      const prefixes = keep.view();
      const attributes = this.attrs.get(s.bucketAttr[b]!);
      const mpNextHop = attributes.mpNextHop;
      announce.push(
        mpNextHop === undefined
          ? { family: this.family, attributes, prefixes }
          : { family: this.family, attributes, prefixes, mpNextHop },
      );
    }
    if (extra !== null) withdraw = extra.view();
    return { announce, withdraw: withdraw.count === 0 ? null : { family: this.family, prefixes: withdraw } };
  }

  /**
   * Whether `peer`, whose own route grouped entry j is (split horizon), needs a withdrawal: only
   * if it may hold an earlier advertisement of the prefix from us. Sending one for every own
   * route cost a full table of pointless withdrawals towards the peer that sent the table.
   */
  private ownNeedsWithdraw(j: number, peer: number): boolean {
    const b = this.store.gBefore[j]!;
    return b === Before.Unknown || (b === Before.From && this.store.gPrevious[j] !== peer);
  }

  /** Drops the batch's attribute references (after the members' UPDATEs are packed). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const s = this.store;
    for (let b = 0; b < s.buckets; b++) this.attrs.unref(s.bucketAttr[b]!);
  }

  /**
   * Releases the batch and hands its arrays back to the group's pool. Only for a caller that
   * knows no view of them is still held: every forPeer() result has been packed (the export's
   * sinks pack synchronously). The batch cannot be used afterwards.
   */
  recycle(): void {
    this.release();
    if (this.recycled) return;
    this.recycled = true;
    if (this.pool !== null) this.pool.give(this.store);
  }
}

function copyOf(b: PrefixListBuilder, withPathIds: boolean): PrefixListBuilder {
  const v = b.view();
  const out = new PrefixListBuilder(v.afi, Math.max(64, v.count), withPathIds);
  const stride = v.afi === 1 ? 1 : 4;
  for (let i = 0; i < v.count; i++)
    out.push(v.words, i * stride, v.lengths[i]!, v.pathIds === null ? 0 : v.pathIds[i]!);
  return out;
}

export class UpdateGroup {
  readonly members = new Set<number>();
  /** without ADD-PATH: advertised attribute id per prefix; with ADD-PATH: first advertised path + 1 */
  private adv: Int32Array;
  private advSource: Uint16Array;
  private advertised = 0;
  /**
   * Advertised routes per source peer index: a member is sent the group's table less its own
   * routes (split horizon, forPeer), so `show neighbors` reports size − advertisedFrom(member).
   * Kept where each advertisement changes, whose source is at hand there anyway.
   */
  private fromSource = new Int32Array(64);
  // ADD-PATH send (RFC 7911): per Loc-RIB path index, the advertised attribute id, its source
  // peer, and the next advertised path of the same prefix. The path id on the wire is the path
  // index + 1: stable while the path exists, and the Loc-RIB reuses an index only after a commit
  // has reported the path's removal.
  private pathAttr = new Int32Array(0);
  private pathSource = new Uint16Array(0);
  private pathNext = new Int32Array(0);
  private readonly scratchPaths: number[] = [];
  private readonly scratchOut: number[] = [];
  private readonly pool: StorePool;

  constructor(
    readonly key: string,
    readonly rib: LocRib,
    readonly filter: ExportFilter,
    readonly family: FamilyKey,
    /** ADD-PATH send: 0 off, else the maximum number of paths per prefix */
    readonly addPathLimit = 0,
  ) {
    if (filter.settings.afi !== rib.afi)
      throw new Error('update group: export settings and Loc-RIB differ in AFI');
    this.adv = bigInt32Array(rib.prefixCapacity);
    this.advSource = bigUint16Array(addPathLimit > 0 ? 0 : rib.prefixCapacity);
    this.pool = new StorePool(rib.afi, addPathLimit > 0);
  }

  get settings(): ExportSettings {
    return this.filter.settings;
  }

  /** Number of routes (prefixes, or paths with ADD-PATH) this group currently advertises. */
  get size(): number {
    return this.advertised;
  }

  /** Number of the advertised routes that were learned from peer index `source`. */
  advertisedFrom(source: number): number {
    return source < this.fromSource.length ? this.fromSource[source]! : 0;
  }

  private countSource(source: number, delta: number): void {
    if (source >= this.fromSource.length) {
      const n = new Int32Array(Math.max(source + 1, this.fromSource.length * 2));
      n.set(this.fromSource);
      this.fromSource = n;
    }
    this.fromSource[source]! += delta;
  }

  /** Bytes of the group's Adj-RIB-Out arrays. */
  storageBytes(): number {
    return (
      this.adv.byteLength +
      this.advSource.byteLength +
      this.pathAttr.byteLength +
      this.pathSource.byteLength +
      this.pathNext.byteLength
    );
  }

  private ensureCapacity(): void {
    const cap = this.rib.prefixCapacity;
    if (cap > this.adv.length) {
      const a = bigInt32Array(cap);
      a.set(this.adv);
      releaseBigArray(this.adv);
      this.adv = a;
      if (this.addPathLimit === 0) {
        const s = bigUint16Array(cap);
        s.set(this.advSource);
        releaseBigArray(this.advSource);
        this.advSource = s;
      }
    }
    const qcap = this.rib.pathCapacity;
    if (this.addPathLimit > 0 && qcap > this.pathAttr.length) {
      const a = bigInt32Array(qcap);
      a.set(this.pathAttr);
      releaseBigArray(this.pathAttr);
      this.pathAttr = a;
      const s = bigUint16Array(qcap);
      s.set(this.pathSource);
      releaseBigArray(this.pathSource);
      this.pathSource = s;
      const n = bigInt32Array(qcap);
      n.set(this.pathNext);
      releaseBigArray(this.pathNext);
      this.pathNext = n;
    }
  }

  /**
   * After the Loc-RIB gave an emptied table's memory back (LocRib.settle): arrays of its new,
   * initial capacity, when the group advertises nothing. Entries are 0 (nothing advertised) in
   * both, so only the size changes. True when the arrays were replaced.
   */
  fitEmptyRib(): boolean {
    if (this.advertised !== 0 || this.adv.length <= this.rib.prefixCapacity) return false;
    this.releaseArrays();
    this.adv = bigInt32Array(this.rib.prefixCapacity);
    this.advSource = bigUint16Array(this.addPathLimit > 0 ? 0 : this.rib.prefixCapacity);
    if (this.addPathLimit > 0) {
      this.pathAttr = new Int32Array(0);
      this.pathSource = new Uint16Array(0);
      this.pathNext = new Int32Array(0);
    }
    return true;
  }

  private newBatch(): UpdateBatch {
    return new UpdateBatch(this.rib.afi, this.family, this.rib.attrs, this.addPathLimit > 0, this.pool);
  }

  /** Applies one Loc-RIB commit to this group's Adj-RIB-Out and returns what to send. */
  process(changes: RibChanges): UpdateBatch {
    this.ensureCapacity();
    const batch = this.newBatch();
    const words = this.rib.prefixWords();
    const addPath = this.addPathLimit > 0;
    for (let k = 0; k < changes.count; k++) {
      const kind = changes.kind[k]!;
      const p = changes.prefix[k]!;
      if (addPath) {
        if ((kind & (RibChange.Paths | RibChange.Best)) !== 0) this.exportPaths(p, words, batch);
        continue;
      }
      if ((kind & RibChange.Best) === 0) continue; // not the best path: nothing to send without ADD-PATH
      this.exportOne(p, changes.best[k]!, words, batch);
    }
    return batch;
  }

  /**
   * ADD-PATH: advertises the prefix's eligible paths (best first, then the multipath set, then
   * the rest) up to the limit, withdraws path ids no longer advertised, skips unchanged ones.
   */
  private exportPaths(p: number, words: Uint32Array, batch: UpdateBatch): void {
    const rib = this.rib;
    const attrs = rib.attrs;
    const off = rib.prefixOffset(p);
    const len = rib.prefixLength(p);
    const want = this.scratchPaths;
    const outs = this.scratchOut;
    want.length = 0;
    outs.length = 0;
    const best = rib.bestPath(p);
    if (best >= 0) {
      // best, then multipath members, then the other eligible paths
      const order: number[] = [best];
      for (let q = rib.nextPath(best); q >= 0; q = rib.nextPath(q))
        if ((rib.pathFlags(q) & PathFlag.Multipath) !== 0) order.push(q);
      for (let q = rib.nextPath(best); q >= 0; q = rib.nextPath(q))
        if (
          (rib.pathFlags(q) & PathFlag.Multipath) === 0 &&
          rib.decision.igpCost(rib.pathAttr(q)) !== UNREACHABLE
        )
          order.push(q);
      for (const q of order) {
        if (want.length >= this.addPathLimit) break;
        const out = this.filter.exportRoute(rib.pathAttr(q), rib.pathPeer(q), words, off, len);
        if (out === REJECT || out <= 0) continue;
        if (!this.filter.cacheable) {
          // exportRoute gave us a reference: keep it only if we advertise a change below
          this.scratchOwned.push(out);
        }
        want.push(q);
        outs.push(out);
      }
    }
    // Withdraw what is no longer wanted.
    for (let q = this.adv[p]! - 1; q >= 0; ) {
      const next = this.pathNext[q]!;
      if (!want.includes(q)) {
        batch.withdraw.push(words, off, len, q + 1);
        attrs.unref(this.pathAttr[q]!);
        this.pathAttr[q] = 0;
        this.advertised--;
        this.countSource(this.pathSource[q]!, -1);
      }
      q = next;
    }
    // Announce new or changed paths and relink the advertised list in preference order.
    let head = 0;
    for (let i = want.length - 1; i >= 0; i--) {
      const q = want[i]!;
      const out = outs[i]!;
      const source = rib.pathPeer(q);
      const old = this.pathAttr[q]!;
      if (old !== out || this.pathSource[q] !== source) {
        attrs.ref(out);
        if (old !== 0) {
          attrs.unref(old);
          this.countSource(this.pathSource[q]!, -1);
        } else this.advertised++;
        this.countSource(source, 1);
        this.pathAttr[q] = out;
        this.pathSource[q] = source;
        batch.announceRoute(out, words, off, len, source, q + 1);
      }
      this.pathNext[q] = head - 1;
      head = q + 1;
    }
    this.adv[p] = head;
    for (const o of this.scratchOwned) attrs.unref(o);
    this.scratchOwned.length = 0;
  }

  private readonly scratchOwned: number[] = [];

  private exportOne(p: number, best: number, words: Uint32Array, batch: UpdateBatch): void {
    const rib = this.rib;
    const off = rib.prefixOffset(p);
    const len = rib.prefixLength(p);
    let out = REJECT;
    let source = 0;
    let owned = false;
    if (best >= 0) {
      source = rib.pathPeer(best);
      out = this.filter.exportRoute(rib.pathAttr(best), source, words, off, len);
      owned = !this.filter.cacheable && out > 0;
    }
    const old = this.adv[p]!;
    if (out === REJECT || out <= 0) {
      if (old !== 0) {
        batch.withdraw.push(words, off, len);
        this.adv[p] = 0;
        this.advertised--;
        this.countSource(this.advSource[p]!, -1);
        rib.attrs.unref(old);
      }
      return;
    }
    if (out === old && source === this.advSource[p]) {
      if (owned) rib.attrs.unref(out);
      return; // identical advertisement already sent
    }
    if (!owned) rib.attrs.ref(out);
    const before = old !== 0 ? Before.From : Before.Nothing;
    const previous = this.advSource[p]!;
    if (old !== 0) {
      rib.attrs.unref(old);
      this.countSource(previous, -1);
    } else this.advertised++;
    this.countSource(source, 1);
    this.adv[p] = out;
    this.advSource[p] = source;
    batch.announceRoute(out, words, off, len, source, 0, before, previous);
  }

  /** Everything this group advertises, as one batch (a peer joining the group, route refresh). */
  fullTable(): UpdateBatch {
    const rib = this.rib;
    const batch = this.newBatch();
    const words = rib.prefixWords();
    const n = Math.min(this.adv.length, rib.prefixCapacity);
    for (let p = 0; p < n; p++) {
      const a = this.adv[p]!;
      if (a === 0) continue;
      if (this.addPathLimit === 0) {
        // For a peer joining: it holds nothing from us yet, so its own routes need no withdrawal.
        batch.announceRoute(
          a,
          words,
          rib.prefixOffset(p),
          rib.prefixLength(p),
          this.advSource[p]!,
          0,
          Before.Nothing,
        );
        continue;
      }
      for (let q = a - 1; q >= 0; q = this.pathNext[q]!) {
        batch.announceRoute(
          this.pathAttr[q]!,
          words,
          rib.prefixOffset(p),
          rib.prefixLength(p),
          this.pathSource[q]!,
          q + 1,
        );
      }
    }
    return batch;
  }

  /**
   * Re-runs the export for every Loc-RIB prefix (export policy changed: issue #4 "outbound, by
   * recomputing Adj-RIB-Out", no session reset) and returns only the differences.
   */
  recompute(): UpdateBatch {
    this.filter.invalidate();
    this.ensureCapacity();
    const rib = this.rib;
    const batch = this.newBatch();
    const words = rib.prefixWords();
    const seen = new Uint8Array(this.adv.length);
    rib.forEachBest((p, best) => {
      seen[p] = 1;
      if (this.addPathLimit > 0) this.exportPaths(p, words, batch);
      else this.exportOne(p, best, words, batch);
    });
    for (let p = 0; p < this.adv.length; p++) {
      if (seen[p] !== 0 || this.adv[p] === 0) continue;
      if (this.addPathLimit > 0) this.exportPaths(p, words, batch);
      else this.exportOne(p, -1, words, batch);
    }
    return batch;
  }

  /** Releases all references (the group is going away). */
  /** Gives the pages of the Adj-RIB-Out arrays back (releaseBigArray); the caller replaces them. */
  private releaseArrays(): void {
    for (const a of [this.adv, this.advSource, this.pathAttr, this.pathSource, this.pathNext])
      releaseBigArray(a);
  }

  dispose(): void {
    for (let p = 0; p < this.adv.length; p++) {
      const a = this.adv[p]!;
      if (a === 0) continue;
      if (this.addPathLimit === 0) this.rib.attrs.unref(a);
      else for (let q = a - 1; q >= 0; q = this.pathNext[q]!) this.rib.attrs.unref(this.pathAttr[q]!);
    }
    this.releaseArrays();
    this.adv = new Int32Array(0);
    this.advertised = 0;
    this.fromSource.fill(0);
    this.filter.dispose();
  }
}

/** The update groups of one Loc-RIB (one family). */
export class UpdateGroups {
  private readonly byKey = new Map<string, UpdateGroup>();
  private readonly byPeer = new Map<number, UpdateGroup>();

  constructor(
    readonly rib: LocRib,
    readonly family: FamilyKey,
    private readonly makeFilter: (settings: ExportSettings) => ExportFilter,
  ) {}

  /** Number of groups and the bytes of their Adj-RIB-Out arrays (`tsbgp show memory`). */
  storage(): { groups: number; bytes: number } {
    let bytes = 0;
    for (const g of this.byKey.values()) bytes += g.storageBytes();
    return { groups: this.byKey.size, bytes };
  }

  /**
   * Puts a peer in the group for its settings (creating the group when new). The caller sends
   * the returned group's fullTable() to the peer (initial advertisement) and End-of-RIB after it.
   */
  join(peer: number, settings: ExportSettings, wire: SessionWireProperties): UpdateGroup {
    this.leave(peer);
    const key = updateGroupKey(settings, wire);
    let g = this.byKey.get(key);
    if (g === undefined) {
      const limit = wire.addPathSend ? Math.max(1, Math.min(wire.addPathSendLimit ?? 0xffff, 0xffff)) : 0;
      g = new UpdateGroup(key, this.rib, this.makeFilter(settings), this.family, limit);
      this.byKey.set(key, g);
      // A new group starts from the current Loc-RIB.
      g.recompute().release();
    }
    g.members.add(peer);
    this.byPeer.set(peer, g);
    return g;
  }

  leave(peer: number): void {
    const g = this.byPeer.get(peer);
    if (g === undefined) return;
    this.byPeer.delete(peer);
    g.members.delete(peer);
    if (g.members.size === 0) {
      this.byKey.delete(g.key);
      g.dispose();
    }
  }

  /**
   * Export results are cached per (attribute set, source peer index). Call this after
   * PeerTable.update() or remove(): a peer's role or router-id (ORIGINATOR_ID) may have changed,
   * or its index may be reused. Returns, per group, the differences to send.
   */
  peersChanged(): Map<UpdateGroup, UpdateBatch> {
    const out = new Map<UpdateGroup, UpdateBatch>();
    for (const g of this.byKey.values()) out.set(g, g.recompute());
    return out;
  }

  groupOf(peer: number): UpdateGroup | undefined {
    return this.byPeer.get(peer);
  }

  get groups(): IterableIterator<UpdateGroup> {
    return this.byKey.values();
  }

  /** After LocRib.settle() emptied the table: every group's arrays at its new capacity. */
  fitEmptyRib(): void {
    for (const g of this.byKey.values()) g.fitEmptyRib();
  }

  /** Applies a Loc-RIB commit to every group. */
  process(changes: RibChanges): Map<UpdateGroup, UpdateBatch> {
    const out = new Map<UpdateGroup, UpdateBatch>();
    for (const g of this.byKey.values()) out.set(g, g.process(changes));
    return out;
  }
}

/**
 * An UpdateBatch (with its store and withdrawal list) kept for the process's life, for the reason
 * given at keptPackerShapes in codec/packer.ts: batches live for one commit, and a full collection
 * between loads that found none threw away exportOne, announceRoute, forPeer and release.
 */
export const keptBatchShape: UpdateBatch = new UpdateBatch(
  1,
  Family.IPv4Unicast,
  new AttrTable(),
  false,
  null,
);
