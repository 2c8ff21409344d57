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

import type {
  FamilyKey,
  UpdateGroup as PackerUpdateGroup,
  PrefixList,
  WithdrawGroup,
} from '../codec/types.ts';
import { type ExportFilter, type ExportSettings, REJECT } from '../policy/filters.ts';
import type { AttrTable } from './attr-table.ts';
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

/** What a member had of a prefix before a batch (see AnnounceBucket.push). */
export enum Before {
  /** Not known: a member whose own route this is gets a withdrawal, to be safe. */
  Unknown = 0,
  /** The group advertised nothing for the prefix: nobody needs a withdrawal. */
  Nothing = 1,
  /** The group advertised the route of `previous` (that peer itself did not get it). */
  From = 2,
}

/**
 * A bucket whose arrays grew past this many prefixes goes back to the pool with fresh small
 * arrays. Keeping grown ones (up to 4096) was measured slower, 2.5 s instead of 1.9-2.2 s at 1M:
 * a few thousand buckets each touching the start of its own 40 KB spread the export over many
 * more cache lines and pages than small arrays packed together.
 */
const POOLED_BUCKET_MAX = 64;
/** Empty buckets kept per group: about one per attribute set active in a commit. */
const POOL_SIZE = 8192;

/**
 * Empty AnnounceBuckets of one group, reused across commits. A commit touching a few thousand
 * attribute sets otherwise allocates a few thousand buckets of five typed arrays each, most of
 * them outside the JS heap (an allocation and an external-memory accounting each): during a full
 * table that was a steady source of garbage collections for "external memory pressure".
 */
export class BucketPool {
  private readonly free: AnnounceBucket[] = [];

  constructor(
    private readonly afi: 1 | 2,
    private readonly withPathIds: boolean,
  ) {}

  take(): AnnounceBucket {
    return this.free.pop() ?? new AnnounceBucket(this.afi, this.withPathIds);
  }

  give(b: AnnounceBucket): void {
    if (this.free.length >= POOL_SIZE) return;
    b.clear();
    this.free.push(b);
  }
}

/** Prefixes sharing one outgoing attribute set, with the peer each route came from. */
export class AnnounceBucket {
  readonly prefixes: PrefixListBuilder;
  sources = new Uint16Array(64);
  /** Per prefix: Before, and with Before.From the source of what was advertised. */
  before = new Uint8Array(64);
  previous = new Uint16Array(64);

  constructor(afi: 1 | 2, withPathIds: boolean) {
    this.prefixes = new PrefixListBuilder(afi, 64, withPathIds);
  }

  /** Empties the bucket for reuse by a later batch (see BucketPool). */
  clear(): void {
    this.prefixes.clear(POOLED_BUCKET_MAX);
    if (this.sources.length > POOLED_BUCKET_MAX) {
      this.sources = new Uint16Array(64);
      this.before = new Uint8Array(64);
      this.previous = new Uint16Array(64);
    }
  }

  push(
    words: Uint32Array,
    offset: number,
    length: number,
    source: number,
    pathId = 0,
    before: Before = Before.Unknown,
    previous = 0,
  ): void {
    const i = this.prefixes.count;
    if (i === this.sources.length) {
      const s = new Uint16Array(i * 2);
      s.set(this.sources);
      this.sources = s;
      const b = new Uint8Array(i * 2);
      b.set(this.before);
      this.before = b;
      const p = new Uint16Array(i * 2);
      p.set(this.previous);
      this.previous = p;
    }
    this.sources[i] = source;
    this.before[i] = before;
    this.previous[i] = previous;
    this.prefixes.push(words, offset, length, pathId);
  }

  /**
   * Whether `peer`, whose own route prefix i is (split horizon), needs a withdrawal: only if it
   * may hold an earlier advertisement of the prefix from us. Sending one for every own route
   * cost a full table of pointless withdrawals towards the peer that sent the table.
   */
  ownNeedsWithdraw(i: number, peer: number): boolean {
    const b = this.before[i]!;
    return b === Before.Unknown || (b === Before.From && this.previous[i] !== peer);
  }
}

/**
 * The outgoing changes of one group for one Loc-RIB commit. It copies the prefixes (it stays
 * valid after the next commit) and holds a reference on every attribute set it names until
 * release().
 */
export class UpdateBatch {
  readonly announce = new Map<number, AnnounceBucket>();
  readonly withdraw: PrefixListBuilder;
  private released = false;
  private lastId = -1;
  private lastBucket: AnnounceBucket | null = null;

  constructor(
    readonly afi: 1 | 2,
    readonly family: FamilyKey,
    private readonly attrs: AttrTable,
    /** RFC 7911: prefixes carry path identifiers */
    readonly withPathIds = false,
    private readonly pool: BucketPool | null = null,
  ) {
    this.withdraw = new PrefixListBuilder(afi, 64, withPathIds);
  }

  bucket(attrId: number): AnnounceBucket {
    // Consecutive changes usually share a set (they came in one UPDATE): skip the Map lookup.
    if (attrId === this.lastId && this.lastBucket !== null) return this.lastBucket;
    let b = this.announce.get(attrId);
    if (b === undefined) {
      b = this.pool === null ? new AnnounceBucket(this.afi, this.withPathIds) : this.pool.take();
      this.announce.set(attrId, b);
      this.attrs.ref(attrId);
    }
    this.lastId = attrId;
    this.lastBucket = b;
    return b;
  }

  get announcedCount(): number {
    let n = 0;
    for (const b of this.announce.values()) n += b.prefixes.count;
    return n;
  }

  get empty(): boolean {
    return this.announce.size === 0 && this.withdraw.count === 0;
  }

  /**
   * The packer's input for one member peer: announce groups (one per attribute set) and one
   * withdraw group, with the peer's own routes turned into withdrawals (split horizon).
   */
  forPeer(peer: number): { announce: PackerUpdateGroup[]; withdraw: WithdrawGroup | null } {
    const announce: PackerUpdateGroup[] = [];
    let withdraw: PrefixList = this.withdraw.view();
    let extra: PrefixListBuilder | null = null;
    for (const [attrId, b] of this.announce) {
      const list = b.prefixes.view();
      // Own routes leave the announcement; those the peer may hold from us become withdrawals.
      let own = 0;
      let ownWithdrawn = 0;
      for (let i = 0; i < list.count; i++) {
        if (b.sources[i] !== peer) continue;
        own++;
        if (b.ownNeedsWithdraw(i, peer)) ownWithdrawn++;
      }
      let prefixes = list;
      if (own > 0) {
        const stride = this.afi === 1 ? 1 : 4;
        if (ownWithdrawn > 0) {
          extra ??= copyOf(this.withdraw, this.withPathIds);
          for (let i = 0; i < list.count; i++)
            if (b.sources[i] === peer && b.ownNeedsWithdraw(i, peer))
              extra.push(
                list.words,
                i * stride,
                list.lengths[i]!,
                list.pathIds === null ? 0 : list.pathIds[i]!,
              );
        }
        // The common case for the peer that sent the routes: nothing of this bucket is for it.
        if (own === list.count) continue;
        const keep = new PrefixListBuilder(this.afi, list.count - own, this.withPathIds);
        for (let i = 0; i < list.count; i++)
          if (b.sources[i] !== peer)
            keep.push(list.words, i * stride, list.lengths[i]!, list.pathIds === null ? 0 : list.pathIds[i]!);
        prefixes = keep.view();
      }
      if (prefixes.count === 0) continue;
      const { attributes, mpNextHop } = this.attrs.split(attrId);
      announce.push(
        mpNextHop === undefined
          ? { family: this.family, attributes, prefixes }
          : { family: this.family, attributes, prefixes, mpNextHop },
      );
    }
    if (extra !== null) withdraw = extra.view();
    return { announce, withdraw: withdraw.count === 0 ? null : { family: this.family, prefixes: withdraw } };
  }

  /** Drops the batch's attribute references (after the members' UPDATEs are packed). */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const id of this.announce.keys()) this.attrs.unref(id);
  }

  /**
   * Releases the batch and hands its buckets back to the group's pool. Only for a caller that
   * knows no view of them is still held: every forPeer() result has been packed (the export's
   * sinks pack synchronously). The batch is empty afterwards.
   */
  recycle(): void {
    this.release();
    if (this.pool !== null) for (const b of this.announce.values()) this.pool.give(b);
    this.announce.clear();
    this.lastId = -1;
    this.lastBucket = null;
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
  // ADD-PATH send (RFC 7911): per Loc-RIB path index, the advertised attribute id, its source
  // peer, and the next advertised path of the same prefix. The path id on the wire is the path
  // index + 1: stable while the path exists, and the Loc-RIB reuses an index only after a commit
  // has reported the path's removal.
  private pathAttr = new Int32Array(0);
  private pathSource = new Uint16Array(0);
  private pathNext = new Int32Array(0);
  private readonly scratchPaths: number[] = [];
  private readonly scratchOut: number[] = [];
  private readonly pool: BucketPool;

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
    this.adv = new Int32Array(rib.prefixCapacity);
    this.advSource = new Uint16Array(addPathLimit > 0 ? 0 : rib.prefixCapacity);
    this.pool = new BucketPool(rib.afi, addPathLimit > 0);
  }

  get settings(): ExportSettings {
    return this.filter.settings;
  }

  /** Number of routes (prefixes, or paths with ADD-PATH) this group currently advertises. */
  get size(): number {
    return this.advertised;
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
      const a = new Int32Array(cap);
      a.set(this.adv);
      this.adv = a;
      if (this.addPathLimit === 0) {
        const s = new Uint16Array(cap);
        s.set(this.advSource);
        this.advSource = s;
      }
    }
    const qcap = this.rib.pathCapacity;
    if (this.addPathLimit > 0 && qcap > this.pathAttr.length) {
      const a = new Int32Array(qcap);
      a.set(this.pathAttr);
      this.pathAttr = a;
      const s = new Uint16Array(qcap);
      s.set(this.pathSource);
      this.pathSource = s;
      const n = new Int32Array(qcap);
      n.set(this.pathNext);
      this.pathNext = n;
    }
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
        if (old !== 0) attrs.unref(old);
        else this.advertised++;
        this.pathAttr[q] = out;
        this.pathSource[q] = source;
        batch.bucket(out).push(words, off, len, source, q + 1);
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
    if (old !== 0) rib.attrs.unref(old);
    else this.advertised++;
    this.adv[p] = out;
    this.advSource[p] = source;
    batch.bucket(out).push(words, off, len, source, 0, before, previous);
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
        batch
          .bucket(a)
          .push(words, rib.prefixOffset(p), rib.prefixLength(p), this.advSource[p]!, 0, Before.Nothing);
        continue;
      }
      for (let q = a - 1; q >= 0; q = this.pathNext[q]!) {
        batch
          .bucket(this.pathAttr[q]!)
          .push(words, rib.prefixOffset(p), rib.prefixLength(p), this.pathSource[q]!, q + 1);
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
  dispose(): void {
    for (let p = 0; p < this.adv.length; p++) {
      const a = this.adv[p]!;
      if (a === 0) continue;
      if (this.addPathLimit === 0) this.rib.attrs.unref(a);
      else for (let q = a - 1; q >= 0; q = this.pathNext[q]!) this.rib.attrs.unref(this.pathAttr[q]!);
    }
    this.adv = new Int32Array(0);
    this.advertised = 0;
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

  /** Applies a Loc-RIB commit to every group. */
  process(changes: RibChanges): Map<UpdateGroup, UpdateBatch> {
    const out = new Map<UpdateGroup, UpdateBatch>();
    for (const g of this.byKey.values()) out.set(g, g.process(changes));
    return out;
  }
}
