// Adj-RIB-In (RFC 4271 §3.2): the routes one peer advertised to us, unprocessed by policy. Kept
// compact: per family a PrefixTable from (prefix, path id) to an interned attribute-set id; no object
// per route. Every change is also queued as an entry of a batch that the Speaker publishes on its
// change stream, which the RIB (best path, policy, reflection) consumes.

import {
  endOfRibFamily,
  Family,
  type FamilyKey,
  familyAfi,
  familyKey,
  type PathAttributes,
  type PrefixList,
  PrefixListBuilder,
  parsePrefixes,
  type UpdateMessage,
} from '../codec/index.ts';
import { holeyArray } from '../holey-array.ts';
import { type AttributeStore, attributeKeyInto, type KeyScratch } from './attr-store.ts';
import { PrefixTable } from './prefix-table.ts';

/** A peer's key: its address text ('192.0.2.1', '2001:db8::1'). */
export type PeerKey = string;

export type AdjRibInEntry =
  /** These prefixes now have the attribute set `attrId` (replacing what the peer sent before). */
  | {
      readonly kind: 'announce';
      readonly family: FamilyKey;
      readonly attrId: number;
      readonly prefixes: PrefixList;
    }
  /** These prefixes were withdrawn (only prefixes that were present are listed). */
  | { readonly kind: 'withdraw'; readonly family: FamilyKey; readonly prefixes: PrefixList }
  /** The peer finished its initial table for the family (RFC 4724 §2 End-of-RIB). */
  | { readonly kind: 'end-of-rib'; readonly family: FamilyKey };

/**
 * One batch of changes from one peer, in the order they happened. Attribute ids in `announce`
 * entries are valid at least until the subscriber returns; a consumer that keeps an id past that
 * must take a reference with AttributeStore.ref() and drop it later with unref(). The same holds
 * for the prefix lists: they are reused after the batch is released, so copy what you keep.
 */
export interface AdjRibInBatch {
  readonly peer: PeerKey;
  readonly entries: readonly AdjRibInEntry[];
  /**
   * Set on the batch that empties the Adj-RIB-In because the session left Established; it is
   * published just before the 'state' event. gracefulRestartEligible repeats that event's field,
   * so a consumer may keep the routes as stale instead of applying these withdrawals.
   */
  readonly sessionDown?: { readonly gracefulRestartEligible: boolean } | undefined;
}

/** What happened to one UPDATE, for counters and logs. */
export interface UpdateOutcome {
  announced: number;
  withdrawn: number;
  /** Prefixes of families that were not negotiated, ignored (FRR and BIRD do the same). */
  ignored: number;
  endOfRib: FamilyKey | null;
}

/** Read-only view for consumers (the RIB engineer, `show routes`). */
export interface AdjRibInView {
  readonly peer: PeerKey;
  /**
   * Whether the view holds the peer's pre-policy routes, so an import policy change can re-run
   * import on them (soft reconfiguration inbound). When false, the routing engine asks the peer
   * to re-send instead (ROUTE-REFRESH, RFC 2918).
   */
  readonly retained: boolean;
  /** Where size() counts from when routes are not retained (the consumer's accepted routes). */
  countWith?(accepted: ((family: FamilyKey) => number) | null): void;
  families(): FamilyKey[];
  size(family?: FamilyKey): number;
  /** Bytes held by the prefix tables (excluding the shared attribute store). */
  readonly byteLength: number;
  /** Attribute id of a prefix, or -1. `words` holds the address at `off` (1 word IPv4, 4 IPv6). */
  lookup(family: FamilyKey, words: Uint32Array, off: number, length: number, pathId?: number): number;
  /** Every route of a family; the words array is only valid during the call. */
  forEach(
    family: FamilyKey,
    fn: (words: Uint32Array, off: number, length: number, pathId: number, attrId: number) => void,
  ): void;
}

/** Reused for every UPDATE's interning key (one thread, no re-entry). */
const keyScratch: KeyScratch = { buf: new Uint8Array(4096), multiprotocol: false };
/** applyFrame's outcome, which nobody reads: one object instead of one per UPDATE. */
const frameOutcome: UpdateOutcome = { announced: 0, withdrawn: 0, ignored: 0, endOfRib: null };
/** The attributes makeStored() stores: set around each intern call. */
const makeFrom: { attrs: PathAttributes | null } = { attrs: null };

function makeStored(): { attributes: PathAttributes; mpNextHop: Uint8Array | null } {
  const attrs = makeFrom.attrs!;
  return { attributes: attrs, mpNextHop: attrs.mpReach?.nextHop.slice() ?? null };
}

/**
 * Reusable prefix lists kept per peer (each list is one UPDATE's withdrawn routes or NLRI): two
 * per UPDATE of the 1024 the session hands over at a time (Peer.processSlice).
 */
const LIST_POOL_SIZE = 2048;

export class AdjRibIn implements AdjRibInView {
  readonly peer: PeerKey;
  private keep = true;
  /** Without a table: the count of the peer's routes the consumer accepted (see countWith). */
  private accepted: ((family: FamilyKey) => number) | null = null;
  private readonly store: AttributeStore;
  private readonly tables = new Map<FamilyKey, PrefixTable>();
  private pending: AdjRibInEntry[] = holeyArray();
  /**
   * Prefix lists applyFrame parsed into, lent to the pending entries and reused once the batch
   * holding them is released: the fast path then allocates no lists per UPDATE (the lists and
   * their typed arrays were most of the receive path's garbage at a full table).
   */
  private readonly listPool: PrefixList[] = holeyArray();
  private lent: PrefixList[] = holeyArray();
  private lentToBatch: { batch: AdjRibInBatch; lists: PrefixList[] } | null = null;

  constructor(peer: PeerKey, store: AttributeStore) {
    this.peer = peer;
    this.store = store;
  }

  /**
   * See AdjRibInView.retained; the Peer sets it per session from its configuration. Without
   * retention (no soft reconfiguration inbound, the default as in FRR and BIRD) there is no table:
   * every announcement and withdrawal passes straight to the consumer, which holds the accepted
   * routes in its Loc-RIB anyway, and an import policy change is applied by route refresh.
   * That saves the table's ~32 bytes per route and a hash update per prefix on the receive path.
   * Turning retention off forgets the table; turning it on starts empty (the Peer then asks the
   * peer to re-send).
   */
  get retained(): boolean {
    return this.keep;
  }

  set retained(keep: boolean) {
    if (keep === this.keep) return;
    this.keep = keep;
    if (keep) return;
    for (const f of [...this.tables.keys()]) this.forgetFamily(f);
    this.tables.clear();
  }

  /**
   * Without retention, size() reports what the consumer accepted (as FRR counts accepted
   * prefixes for maximum-prefix without soft reconfiguration); the RIB registers its count here.
   */
  countWith(accepted: ((family: FamilyKey) => number) | null): void {
    this.accepted = accepted;
  }

  families(): FamilyKey[] {
    return [...this.tables.keys()];
  }

  size(family?: FamilyKey): number {
    if (!this.keep) {
      const count = this.accepted;
      if (count === null) return 0;
      if (family !== undefined) return count(family);
      return count(Family.IPv4Unicast) + count(Family.IPv6Unicast);
    }
    if (family !== undefined) return this.tables.get(family)?.size ?? 0;
    let n = 0;
    for (const t of this.tables.values()) n += t.size;
    return n;
  }

  /** Bytes held by the prefix tables (excluding the shared attribute store). */
  get byteLength(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.byteLength;
    return n;
  }

  lookup(family: FamilyKey, words: Uint32Array, off: number, length: number, pathId = 0): number {
    return this.tables.get(family)?.get(words, off, length, pathId) ?? -1;
  }

  forEach(
    family: FamilyKey,
    fn: (words: Uint32Array, off: number, length: number, pathId: number, attrId: number) => void,
  ): void {
    this.tables.get(family)?.forEach(fn);
  }

  private table(family: FamilyKey): PrefixTable {
    let t = this.tables.get(family);
    if (!t) {
      t = new PrefixTable(familyAfi(family) === 2 ? 2 : 1);
      this.tables.set(family, t);
    }
    return t;
  }

  /**
   * Applies one decoded UPDATE. `frame` is the raw message (for the attribute interning key),
   * `families` the negotiated ones. RFC 7606 treat-as-withdraw turns every announced prefix into
   * a withdrawal.
   */
  applyUpdate(
    msg: UpdateMessage,
    frame: Uint8Array,
    fourOctetAs: boolean,
    families: ReadonlySet<FamilyKey>,
  ): UpdateOutcome {
    const out: UpdateOutcome = { announced: 0, withdrawn: 0, ignored: 0, endOfRib: null };
    const a = msg.attributes;
    const eor = endOfRibFamily(msg);
    if (eor !== null) {
      out.endOfRib = eor;
      this.pending.push({ kind: 'end-of-rib', family: eor });
      return out;
    }
    // Withdrawals first: a prefix both withdrawn and announced in one UPDATE ends up announced.
    if (msg.withdrawn.count > 0) this.withdraw(Family.IPv4Unicast, msg.withdrawn, families, out);
    if (a.mpUnreach?.nlri) {
      this.withdraw(familyKey(a.mpUnreach.afi, a.mpUnreach.safi), a.mpUnreach.nlri, families, out);
    }
    const reachV4 = msg.nlri.count > 0 ? msg.nlri : null;
    const reachMp = a.mpReach?.nlri && a.mpReach.nlri.count > 0 ? a.mpReach.nlri : null;
    if (reachV4 === null && reachMp === null) return out;
    const mpFamily = a.mpReach ? familyKey(a.mpReach.afi, a.mpReach.safi) : 0;
    if (msg.treatAsWithdraw) {
      if (reachV4) this.withdraw(Family.IPv4Unicast, reachV4, families, out);
      if (reachMp) this.withdraw(mpFamily, reachMp, families, out);
      return out;
    }
    // No closure per UPDATE: the runtime's name-keeping wrapper made that a measurable cost.
    makeFrom.attrs = a;
    const keyLength = attributeKeyInto(frame, fourOctetAs, keyScratch);
    const id =
      keyLength >= 0
        ? this.store.internBytes(keyScratch.buf, keyLength, makeStored, msg.errors.length === 0)
        : this.store.intern(`x${this.peer}`, makeStored);
    makeFrom.attrs = null;
    // Hold the set while it is being used, so an UPDATE that changes nothing does not leak it.
    this.store.ref(id);
    if (reachV4) this.announce(Family.IPv4Unicast, reachV4, id, families, out);
    if (reachMp) this.announce(mpFamily, reachMp, id, families, out);
    this.store.unref(id);
    return out;
  }

  /**
   * The fast path for the common UPDATE: IPv4 NLRI with an attribute set already interned from
   * an UPDATE that decoded without errors (AttributeStore.isClean). The attributes are not
   * decoded again, only the withdrawn routes and NLRI are parsed. Returns false when the path
   * does not apply (multiprotocol attributes, a new or erroneous set, malformed NLRI): the
   * caller then decodes the whole message, which also produces any error's NOTIFICATION.
   */
  applyFrame(
    frame: Uint8Array,
    fourOctetAs: boolean,
    v4AddPath: boolean,
    families: ReadonlySet<FamilyKey>,
    /** The message is frame[start, end) (a frame in a socket chunk). */
    start = 0,
    end = frame.length,
  ): boolean {
    const body = start + 19;
    if (end < body + 4) return false;
    const wlen = (frame[body]! << 8) | frame[body + 1]!;
    const attrLenAt = body + 2 + wlen;
    if (attrLenAt + 2 > end) return false;
    const attrStart = attrLenAt + 2;
    const nlriStart = attrStart + ((frame[attrLenAt]! << 8) | frame[attrLenAt + 1]!);
    if (nlriStart > end || nlriStart === attrStart) return false;
    // Only sections without multiprotocol attributes: their key is the section itself.
    for (let pos = attrStart; pos < nlriStart; ) {
      const code = frame[pos + 1];
      if (code === undefined || code === 14 || code === 15) return false;
      const ext = (frame[pos]! & 0x10) !== 0;
      if (pos + (ext ? 4 : 3) > nlriStart) return false;
      pos += ext ? 4 + ((frame[pos + 2]! << 8) | frame[pos + 3]!) : 3 + frame[pos + 2]!;
      if (pos > nlriStart) return false;
    }
    const id = this.store.lookupSection(fourOctetAs ? 4 : 2, frame, attrStart, nlriStart);
    if (id < 0 || !this.store.isClean(id)) return false;
    const withdrawn = wlen === 0 ? null : this.parseLent(frame, body + 2, attrLenAt, v4AddPath);
    const nlri = nlriStart >= end ? null : this.parseLent(frame, nlriStart, end, v4AddPath);
    if (typeof withdrawn === 'string' || typeof nlri === 'string') return false;
    // As applyUpdate: withdrawals first, so a prefix in both ends up announced.
    if (withdrawn !== null && withdrawn.count > 0)
      this.withdraw(Family.IPv4Unicast, withdrawn, families, frameOutcome);
    if (nlri !== null && nlri.count > 0) {
      this.store.ref(id);
      this.announce(Family.IPv4Unicast, nlri, id, families, frameOutcome);
      this.store.unref(id);
    }
    return true;
  }

  /** parsePrefixes (IPv4) into a pooled list, lent until the batch that carries it is released. */
  private parseLent(
    frame: Uint8Array,
    start: number,
    end: number,
    withPathIds: boolean,
  ): PrefixList | string {
    let list: PrefixList | undefined;
    for (let i = this.listPool.length - 1; i >= 0; i--) {
      // The pool holds both layouts only on a session that renegotiated ADD-PATH: rare.
      if ((this.listPool[i]!.pathIds !== null) === withPathIds) {
        list = this.listPool[i]!;
        this.listPool[i] = this.listPool[this.listPool.length - 1]!;
        this.listPool.pop();
        break;
      }
    }
    list ??= {
      afi: 1,
      count: 0,
      lengths: new Uint8Array(16),
      words: new Uint32Array(16),
      pathIds: withPathIds ? new Uint32Array(16) : null,
    };
    const r = parsePrefixes(frame, start, end, 1, withPathIds, list);
    if (r === list) this.lent.push(list);
    else this.listPool.push(list);
    return r;
  }

  private withdraw(
    family: FamilyKey,
    list: PrefixList,
    families: ReadonlySet<FamilyKey>,
    out: UpdateOutcome,
  ): void {
    if (!families.has(family)) {
      out.ignored += list.count;
      return;
    }
    if (!this.keep) {
      // No table to say which were present: the consumer ignores what it does not hold.
      out.withdrawn += list.count;
      this.pending.push({ kind: 'withdraw', family, prefixes: list });
      return;
    }
    const t = this.tables.get(family);
    if (!t || t.size === 0) return;
    const stride = list.afi === 1 ? 1 : 4;
    let removed: PrefixListBuilder | null = null;
    let allRemoved = true;
    for (let i = 0; i < list.count; i++) {
      const pathId = list.pathIds ? list.pathIds[i]! : 0;
      const prev = t.delete(list.words, i * stride, list.lengths[i]!, pathId);
      if (prev >= 0) {
        this.store.unref(prev);
        out.withdrawn++;
        if (removed) removed.addFrom(list, i);
      } else if (allRemoved) {
        // First prefix that was not present: from here on collect the removed ones explicitly.
        allRemoved = false;
        removed = new PrefixListBuilder(list.afi, list.pathIds !== null, list.count);
        for (let j = 0; j < i; j++) removed.addFrom(list, j);
      }
    }
    const prefixes = allRemoved ? list : removed!.finish();
    if (prefixes.count > 0) this.pending.push({ kind: 'withdraw', family, prefixes });
  }

  private announce(
    family: FamilyKey,
    list: PrefixList,
    id: number,
    families: ReadonlySet<FamilyKey>,
    out: UpdateOutcome,
  ): void {
    if (!families.has(family)) {
      out.ignored += list.count;
      return;
    }
    if (!this.keep) {
      out.announced += list.count;
      // The pending entry holds its own reference until the batch is released.
      this.store.ref(id);
      this.pending.push({ kind: 'announce', family, attrId: id, prefixes: list });
      return;
    }
    const t = this.table(family);
    const stride = list.afi === 1 ? 1 : 4;
    let changed: PrefixListBuilder | null = null;
    let allChanged = true;
    let refs = 0;
    for (let i = 0; i < list.count; i++) {
      const pathId = list.pathIds ? list.pathIds[i]! : 0;
      const prev = t.set(list.words, i * stride, list.lengths[i]!, pathId, id);
      if (prev !== id) {
        refs++;
        if (prev >= 0) this.store.unref(prev);
        out.announced++;
        if (changed) changed.addFrom(list, i);
      } else if (allChanged) {
        allChanged = false;
        changed = new PrefixListBuilder(list.afi, list.pathIds !== null, list.count);
        for (let j = 0; j < i; j++) changed.addFrom(list, j);
      }
    }
    if (refs > 0) this.store.ref(id, refs);
    const prefixes = allChanged ? list : changed!.finish();
    if (prefixes.count > 0) {
      // The pending entry holds its own reference until the batch is released.
      this.store.ref(id);
      this.pending.push({ kind: 'announce', family, attrId: id, prefixes });
    }
  }

  /**
   * Removes every route (session down, RFC 4271 §8.2.2 "deletes all routes"), queueing them as
   * withdrawals so the RIB sees each one go.
   */
  clear(): number {
    let n = 0;
    for (const [family, t] of this.tables) {
      if (t.size === 0) continue;
      const afi = familyAfi(family) === 2 ? 2 : 1;
      const b = new PrefixListBuilder(afi, true, t.size);
      t.forEach((words, off, length, pathId, attrId) => {
        if (afi === 1) b.addIPv4(words[off]!, length, pathId);
        else b.addIPv6(words[off]!, words[off + 1]!, words[off + 2]!, words[off + 3]!, length, pathId);
        this.store.unref(attrId);
      });
      n += t.size;
      t.clear();
      this.pending.push({ kind: 'withdraw', family, prefixes: b.finish() });
    }
    return n;
  }

  /**
   * Drops one family's routes without queueing withdrawals: the peer is about to re-send the
   * family (ROUTE-REFRESH, RFC 2918 §4; BoRR, RFC 7313 §4), so every re-advertised route is then
   * published as an announcement and reaches the consumer, which keeps (and, with RFC 7313,
   * sweeps) what it has meanwhile. Returns the number of routes dropped.
   */
  forgetFamily(family: FamilyKey): number {
    const t = this.tables.get(family);
    if (!t || t.size === 0) return 0;
    const n = t.size;
    t.forEach((_words, _off, _length, _pathId, attrId) => {
      this.store.unref(attrId);
    });
    t.clear();
    return n;
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Takes the queued changes as one batch (or null when there are none). */
  drain(): AdjRibInBatch | null {
    if (this.pending.length === 0) return null;
    const entries = this.pending;
    this.pending = holeyArray();
    const batch = { peer: this.peer, entries };
    if (this.lent.length > 0) {
      this.lentToBatch = { batch, lists: this.lent };
      this.lent = holeyArray();
    }
    return batch;
  }

  /**
   * Drops the references a drained batch held; call after the batch was delivered. Its prefix
   * lists may be reused from now on: a consumer copies what it keeps (AdjRibInBatch).
   */
  release(batch: AdjRibInBatch): void {
    // Indexed loops: these run once per batch of 1,024 UPDATEs, often before V8 optimises them,
    // and an unoptimised for-of allocates an iterator result per element.
    const entries = batch.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.kind === 'announce') this.store.unref(e.attrId);
    }
    if (this.lentToBatch?.batch !== batch) return;
    // Only small lists return: reusing a big one for the next one-prefix UPDATE spreads the
    // receive path over more memory (see POOLED_BUCKET_MAX in update-group.ts).
    const lists = this.lentToBatch.lists;
    for (let i = 0; i < lists.length; i++) {
      const l = lists[i]!;
      if (this.listPool.length < LIST_POOL_SIZE && l.lengths.length <= 256) this.listPool.push(l);
    }
    this.lentToBatch = null;
  }
}
