// The Loc-RIB of one address family: every post-import-policy path of every peer, and the best
// path (plus the multipath set) per prefix. It plays the part of BIRD's master table.
//
// Storage has no object per route (issue #4 §5):
// - prefixes are records in one Int32Array, indexed by a dense prefix index: the address words,
//   the head of the path list, and length + flags; they are found through an open-addressing hash
//   table of prefix indices (linear probing, tombstones cleared on rehash);
// - paths are records of four int32 in one pool (peer index + flags, attribute id, path id, next
//   path); a prefix's paths form a singly linked list whose head is the best path, as in BIRD.
// Records rather than one array per field, so that a lookup touches one cache line per record
// (a million-prefix withdrawal is bound by cache misses). One route costs about 40 bytes here
// plus the shared attribute set.
//
// Changes are batched: announce/withdraw only record the new paths and mark the prefix dirty;
// commit() runs the decision process once per dirty prefix and returns the prefixes whose best
// path or multipath set changed. Contract with the consumers (Adj-RIB-Out, kernel sync): process
// a commit's changes before the next commit(); prefix indices of prefixes that lost their last
// path stay valid (and readable) until then, so a consumer can still read the withdrawn prefix.

import type { PrefixList } from '../codec/types.ts';
import { holeyArray } from '../holey-array.ts';
import { bigInt32Array, releaseBigArray } from '../huge-pages.ts';
import type { AttrTable } from './attr-table.ts';
import { CandidateSet, type DecisionProcess, type Explanation } from './best-path.ts';
import { type Afi, formatPrefix, parsePrefix, strideOf } from './prefix.ts';

/** Path flag bits. */
export const PathFlag = {
  /** RFC 4724 helper: kept from before the peer's restart, not yet refreshed */
  Stale: 1,
  /** member of the prefix's multipath (ECMP) set */
  Multipath: 2,
  /** attributes replaced since the last commit */
  Changed: 4,
} as const;

const P_IN_USE = 1;
const P_DIRTY = 2;
const P_HAS_BEST = 4;
const P_PENDING_FREE = 8;
/** the selected best path was removed since the last commit (so the head is not the old best) */
const P_BEST_GONE = 16;
/** some path was added, removed or changed since the last commit (ADD-PATH export needs it) */
const P_PATHS_CHANGED = 32;

const FREE_PEER = 0xffff;

/** Batch buffers larger than this (entries) are released after use. */
const SHRINK_ABOVE = 65536;

/** Change bits reported per prefix by commit(). */
export const RibChange = {
  /** the best path is another one, or its attributes changed, or it is gone */
  Best: 1,
  /** the multipath (ECMP) set changed */
  Multipath: 2,
  /** some path of the prefix was added, removed or changed (for ADD-PATH export) */
  Paths: 4,
} as const;

// A hash slot holds (tag << 24) | (prefix index + 1): 0 is empty, -1 a tombstone. The tag is 7
// more bits of the hash, so a probe rarely has to read another prefix's record to rule it out.
const SLOT_TAG_SHIFT = 24;
const SLOT_INDEX_MASK = (1 << SLOT_TAG_SHIFT) - 1;
/**
 * Hash slots (4 bytes each) from which announce() and withdraw() load a list's slots ahead
 * (LocRib.touchSlots): 512 KiB, past which the table stops fitting a core's L2 cache.
 */
const TOUCH_FROM_SLOTS = 1 << 17;
/** From this many prefixes a rehash runs in slot order (LocRib.rehashBucketed). */
const REHASH_BUCKETED_FROM = 32_768;
/** Its sort key: 2^11 streams of writes at once, 128 KiB of cache lines, fit the L2 cache. */
const REHASH_BUCKET_BITS = 11;
/**
 * Factor by which the prefix and path records grow when full. Growing copies the records into a
 * new array, and that copy and the new array's first touch were 5.7% of the reflector's busy time
 * in a 1M table's CPU profile with ×1.5 (five growths from 132,861, copying 1.75M records).
 * Doubling grows three times and copies 0.92M. The room above the table costs address space,
 * not resident memory: arrays this large are mapped straight from the kernel, which hands a page
 * over when it is first written.
 */
export const RIB_GROWTH = 2;

/** Hash slots for a table of n prefixes: a power of two, at most 70% full. */
function slotsFor(n: number): number {
  let s = 16;
  while (s * 0.7 < n) s *= 2;
  return s;
}

/**
 * A stack of int32 in a typed array. A session loss puts a million entries on the free lists at
 * once: as a JS array of numbers that cost ~16 MB of heap and most of a full withdrawal's time
 * (element growth and copies); here it is 4 bytes an entry, given back after a big batch.
 */
class IntStack {
  items = new Int32Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.items.length) {
      const a = new Int32Array(this.length * 2);
      a.set(this.items);
      this.items = a;
    }
    this.items[this.length++] = v;
  }

  clear(): void {
    this.length = 0;
    if (this.items.length > SHRINK_ABOVE) this.items = new Int32Array(1024);
  }
}

/** The output of commit(): reused by the next commit(), copy what you keep. */
export class RibChanges {
  count = 0;
  prefix = new Int32Array(1024);
  /** the new best path (a path index) or -1 when the prefix has no eligible path any more */
  best = new Int32Array(1024);
  /** RibChange bits */
  kind = new Uint8Array(1024);

  reset(): void {
    this.count = 0;
    // A full-table batch leaves megabytes of capacity behind; give it back between batches.
    if (this.prefix.length > SHRINK_ABOVE) {
      this.prefix = new Int32Array(1024);
      this.best = new Int32Array(1024);
      this.kind = new Uint8Array(1024);
    }
  }

  push(prefix: number, best: number, kind: number): void {
    if (this.count === this.prefix.length) {
      const n = this.count * 2;
      const p = new Int32Array(n);
      p.set(this.prefix);
      this.prefix = p;
      const b = new Int32Array(n);
      b.set(this.best);
      this.best = b;
      const k = new Uint8Array(n);
      k.set(this.kind);
      this.kind = k;
    }
    this.prefix[this.count] = prefix;
    this.best[this.count] = best;
    this.kind[this.count] = kind;
    this.count++;
  }
}

export interface LocRibOptions {
  readonly afi: Afi;
  readonly attrs: AttrTable;
  readonly decision: DecisionProcess;
  /** expected number of prefixes (sizes the arrays up front; they grow anyway) */
  readonly initialPrefixes?: number;
}

/**
 * A walk over the prefix records on behalf of one peer's paths: removing them (session loss,
 * End-of-RIB sweep) or setting a flag on each (graceful restart's stale marking). At a full table
 * it reads a million prefix records, 0.1-0.3 s in one piece; queued, it runs inside commit(limit)
 * a slice at a time with I/O between slices, as BIRD prunes a table in bounded steps.
 *
 * Queued passes stay equivalent to running at once because nothing else touches the peer's
 * paths meanwhile: every operation on a peer's paths first finishes that peer's pass. Other peers'
 * changes to the same prefixes commute with it; the only visible difference is that a commit
 * between slices may still select a path the pass has not reached yet.
 */
interface PeerPass {
  readonly peer: number;
  /** remove the paths carrying `flag` (0: every path), or set or clear `flag` on every path */
  readonly op: 'remove' | 'set' | 'clear';
  readonly flag: number;
  /** the next prefix index to visit */
  next: number;
  /** the peer's paths not visited yet: the pass ends when this reaches 0 */
  left: number;
  /** paths removed or changed so far */
  done: number;
}

// Path record layout (int32 words).
const Q_SIZE = 4;
const Q_PEER_FLAGS = 0; // peer index (low 16 bits) | PathFlag bits << 16
const Q_ATTR = 1;
const Q_ID = 2;
const Q_NEXT = 3;

export class LocRib {
  readonly afi: Afi;
  readonly stride: 1 | 4;
  readonly attrs: AttrTable;
  readonly decision: DecisionProcess;
  // prefix records: [address words (stride), head path, length | flags << 8]
  private readonly pSize: number;
  private readonly pHeadOff: number;
  private readonly pMetaOff: number;
  /** The capacity the table starts with, and returns to when emptied (reset()). */
  private readonly initialCap: number;
  private pCap: number;
  private pRec: Int32Array;
  /** the same buffer as pRec, for the address words */
  private pWords: Uint32Array;
  private pTop = 0;
  private pFree = -1;
  private prefixCount = 0;
  // hash of prefix indices (value = index + 1, 0 = empty, -1 = tombstone)
  private slots: Int32Array;
  private mask: number;
  /** slots holding -1: deleted entries that probe chains still pass through */
  private tombstones = 0;
  // path records
  private qCap: number;
  private qRec: Int32Array;
  private qTop = 0;
  private qFree = -1;
  private pathCount = 0;
  // batching
  private dirty = new Int32Array(1024);
  private dirtyCount = 0;
  /** dirty[0 .. dirtyDone) were decided by a commit that stopped at its limit */
  private dirtyDone = 0;
  private readonly pendingFree = new IntStack();
  private readonly pendingPathFree = new IntStack();
  /** paths per peer index (max-prefix, `show neighbor`) */
  private perPeer = new Uint32Array(64);
  /** Stale paths per peer index: the count an End-of-RIB sweep removes, and when it can stop */
  private perPeerStale = new Uint32Array(64);
  /** queued passes, at most one per peer */
  private readonly passes: PeerPass[] = holeyArray();
  private readonly cand = new CandidateSet();
  /** touchSlots()'s sink for the values it loads (public: a private field nothing reads is linted as dead). */
  touched = 0;
  private readonly changes = new RibChanges();

  constructor(opts: LocRibOptions) {
    this.afi = opts.afi;
    this.stride = strideOf(opts.afi);
    this.pSize = this.stride + 2;
    this.pHeadOff = this.stride;
    this.pMetaOff = this.stride + 1;
    this.attrs = opts.attrs;
    this.decision = opts.decision;
    const n = Math.max(16, opts.initialPrefixes ?? 1024);
    this.initialCap = n;
    this.pCap = n;
    this.pRec = bigInt32Array(n * this.pSize);
    this.pWords = new Uint32Array(this.pRec.buffer, this.pRec.byteOffset, this.pRec.length);
    this.slots = bigInt32Array(slotsFor(n));
    this.mask = this.slots.length - 1;
    this.qCap = n;
    this.qRec = bigInt32Array(n * Q_SIZE);
  }

  // --- record accessors ---------------------------------------------------------------------
  private pLen(p: number): number {
    return this.pRec[p * this.pSize + this.pMetaOff]! & 0xff;
  }
  private pFlags(p: number): number {
    return this.pRec[p * this.pSize + this.pMetaOff]! >>> 8;
  }
  private setPFlags(p: number, flags: number): void {
    const i = p * this.pSize + this.pMetaOff;
    this.pRec[i] = (this.pRec[i]! & 0xff) | (flags << 8);
  }
  private pHead(p: number): number {
    return this.pRec[p * this.pSize + this.pHeadOff]!;
  }
  private setPHead(p: number, q: number): void {
    this.pRec[p * this.pSize + this.pHeadOff] = q;
  }
  private qPeer(q: number): number {
    return this.qRec[q * Q_SIZE + Q_PEER_FLAGS]! & 0xffff;
  }
  private qFlags(q: number): number {
    return this.qRec[q * Q_SIZE + Q_PEER_FLAGS]! >>> 16;
  }
  private setQFlags(q: number, flags: number): void {
    const i = q * Q_SIZE + Q_PEER_FLAGS;
    this.qRec[i] = (this.qRec[i]! & 0xffff) | (flags << 16);
  }
  private qNext(q: number): number {
    return this.qRec[q * Q_SIZE + Q_NEXT]!;
  }
  private setQNext(q: number, next: number): void {
    this.qRec[q * Q_SIZE + Q_NEXT] = next;
  }

  /** Prefixes that have at least one path (or are awaiting release after losing their last one). */
  get size(): number {
    return this.prefixCount;
  }

  /** Prefixes holding paths: size without those emptied by the last commit, freed at the next or by settle(). */
  get livePrefixes(): number {
    return this.prefixCount - this.pendingFree.length;
  }

  get paths(): number {
    return this.pathCount;
  }

  /** Number of paths a peer has in this Loc-RIB (accepted prefixes: max-prefix, `show neighbor`). */
  pathsOf(peer: number): number {
    return this.perPeer[peer] ?? 0;
  }

  /** Number of a peer's paths flagged Stale (RFC 4724 helper, RFC 7313 refresh). */
  staleOf(peer: number): number {
    return this.perPeerStale[peer] ?? 0;
  }

  /** Upper bound of path indices (for consumers that keep arrays indexed by path). */
  get pathCapacity(): number {
    return this.qCap;
  }

  /** Upper bound of prefix indices (for consumers that keep arrays indexed by prefix). */
  get prefixCapacity(): number {
    return this.pCap;
  }

  // ------------------------------------------------------------------------------------------
  // Updates

  /**
   * Adds or replaces the path (peer, pathId) of every prefix in the list with attribute set
   * attrId; takes one reference on attrId per new path. With ADD-PATH the list's pathIds are used.
   * A re-announcement clears the Stale flag (RFC 4724 §4.2: the route is refreshed).
   */
  announce(peer: number, attrId: number, list: PrefixList): void {
    this.checkAfi(list);
    const s = this.stride;
    if (list.count > 1 && this.slots.length >= TOUCH_FROM_SLOTS) this.touchSlots(list);
    for (let i = 0; i < list.count; i++) {
      this.upsert(
        peer,
        list.pathIds === null ? 0 : list.pathIds[i]!,
        attrId,
        list.words,
        i * s,
        list.lengths[i]!,
      );
    }
  }

  /** Removes the path (peer, pathId) of every prefix in the list (absent ones are ignored). */
  withdraw(peer: number, list: PrefixList): void {
    this.checkAfi(list);
    const s = this.stride;
    if (list.count > 1 && this.slots.length >= TOUCH_FROM_SLOTS) this.touchSlots(list);
    for (let i = 0; i < list.count; i++) {
      this.remove(peer, list.pathIds === null ? 0 : list.pathIds[i]!, list.words, i * s, list.lengths[i]!);
    }
  }

  /**
   * Reads the home slot of every prefix in the list before the list is applied. Why: in a table
   * of a million each probe is a cache miss, and made one at a time, with an insert's work between
   * them, the misses wait in turn. A loop of independent loads lets the CPU have several in flight,
   * so the probes that follow find their lines loaded (JavaScript has no prefetch instruction; a
   * load whose value is kept is the portable one). The 1M RIB benchmark's receive phase, 250
   * prefixes per UPDATE: 387–462 ms against 442–542 without (docs/PERFORMANCE.md, twenty-fourth
   * session).
   */
  private touchSlots(list: PrefixList): void {
    const slots = this.slots;
    const mask = this.mask;
    const s = this.stride;
    let kept = 0;
    for (let i = 0; i < list.count; i++)
      kept ^= slots[this.hash(list.words, i * s, list.lengths[i]!) & mask]!;
    // Stored, so that the compiler cannot drop the loads as unused.
    this.touched = kept;
  }

  upsert(peer: number, pathId: number, attrId: number, words: Uint32Array, off: number, len: number): void {
    if (peer < 0 || peer >= FREE_PEER) throw new Error(`peer index ${peer} out of range`);
    if (this.passes.length !== 0) this.finishPassesOf(peer);
    const p = this.findOrAdd(words, off, len);
    const q0 = this.qRec;
    for (let q = this.pHead(p); q >= 0; q = q0[q * Q_SIZE + Q_NEXT]!) {
      const b = q * Q_SIZE;
      if ((q0[b + Q_PEER_FLAGS]! & 0xffff) === peer && q0[b + Q_ID]! >>> 0 === pathId >>> 0) {
        const old = q0[b + Q_ATTR]!;
        const flags = q0[b + Q_PEER_FLAGS]! >>> 16;
        if ((flags & PathFlag.Stale) !== 0) this.perPeerStale[peer]!--;
        if (old === attrId) {
          // Refresh with identical attributes: nothing for the decision process to do.
          this.setQFlags(q, flags & ~PathFlag.Stale);
          return;
        }
        this.attrs.ref(attrId);
        this.attrs.unref(old);
        q0[b + Q_ATTR] = attrId;
        this.setQFlags(q, (flags & ~PathFlag.Stale) | PathFlag.Changed);
        this.markDirty(p, P_PATHS_CHANGED);
        return;
      }
    }
    const q = this.allocPath();
    const b = q * Q_SIZE;
    const r = this.qRec;
    r[b + Q_PEER_FLAGS] = peer | (PathFlag.Changed << 16);
    r[b + Q_ATTR] = attrId;
    r[b + Q_ID] = pathId | 0;
    if (peer >= this.perPeer.length) {
      const n = Math.max(peer + 1, this.perPeer.length * 2);
      const c = new Uint32Array(n);
      c.set(this.perPeer);
      this.perPeer = c;
      const st = new Uint32Array(n);
      st.set(this.perPeerStale);
      this.perPeerStale = st;
    }
    this.perPeer[peer]!++;
    this.attrs.ref(attrId);
    // Append after the head so the current best stays first until commit() re-decides.
    const head = this.pHead(p);
    if (head < 0) {
      r[b + Q_NEXT] = -1;
      this.setPHead(p, q);
    } else {
      r[b + Q_NEXT] = this.qNext(head);
      this.setQNext(head, q);
    }
    this.markDirty(p, P_PATHS_CHANGED);
  }

  remove(peer: number, pathId: number, words: Uint32Array, off: number, len: number): boolean {
    if (this.passes.length !== 0) this.finishPassesOf(peer);
    const p = this.find(words, off, len);
    if (p < 0) return false;
    let prev = -1;
    const r = this.qRec;
    for (let q = this.pHead(p); q >= 0; prev = q, q = r[q * Q_SIZE + Q_NEXT]!) {
      const b = q * Q_SIZE;
      if ((r[b + Q_PEER_FLAGS]! & 0xffff) === peer && r[b + Q_ID]! >>> 0 === pathId >>> 0) {
        this.unlinkPath(p, prev, q);
        return true;
      }
    }
    return false;
  }

  private unlinkPath(p: number, prev: number, q: number): void {
    const next = this.qNext(q);
    if (prev < 0) {
      this.setPHead(p, next);
      // The best path went away: the prefix has no selected best until commit().
      const f = this.pFlags(p);
      if ((f & P_HAS_BEST) !== 0) this.setPFlags(p, (f & ~P_HAS_BEST) | P_BEST_GONE);
    } else this.setQNext(prev, next);
    this.attrs.unref(this.qRec[q * Q_SIZE + Q_ATTR]!);
    this.freePath(q);
    this.markDirty(p, P_PATHS_CHANGED);
  }

  /**
   * Removes every path of a peer matching flagMask (0: all of them) now, and returns the count.
   * The daemon queues the same work instead (queuePeerRemoval), so that it runs in slices.
   */
  removePeerPaths(peer: number, flagMask = 0): number {
    this.finishPassesOf(peer);
    const x: PeerPass = { peer, op: 'remove', flag: flagMask, next: 0, left: this.pathsOf(peer), done: 0 };
    this.runPass(x, Number.POSITIVE_INFINITY);
    return x.done;
  }

  /** Sets (or clears) flag bits on every path of a peer now; returns how many paths it touched. */
  setPeerPathFlags(peer: number, flag: number, on: boolean): number {
    this.finishPassesOf(peer);
    const x: PeerPass = { peer, op: on ? 'set' : 'clear', flag, next: 0, left: this.pathsOf(peer), done: 0 };
    this.runPass(x, Number.POSITIVE_INFINITY);
    return x.done;
  }

  /**
   * Queues the removal of a peer's paths, all of them (session loss without graceful restart,
   * RFC 4271 §8.2.1.1's withdrawal of the peer's routes) or only the Stale ones (End-of-RIB,
   * RFC 4724 §4.2; EoRR, RFC 7313 §4). It runs in the following commit(limit) calls, a slice
   * each, and counts in `pending` until done. Returns how many paths it removes: exact, since
   * nothing else can change the peer's paths before it finishes.
   */
  queuePeerRemoval(peer: number, which: 'all' | 'stale'): number {
    const cur = this.passes.findIndex((x) => x.peer === peer);
    if (cur >= 0) {
      const x = this.passes[cur]!;
      // Already queued: as if the first had run at once, this one finds nothing left.
      if (which === 'all' && x.op === 'remove' && x.flag === 0) return 0;
      // Another kind of pass runs to its end first (rare: a sweep cut short by a session loss).
      this.finishPassesOf(peer);
    }
    const n = which === 'all' ? this.pathsOf(peer) : this.staleOf(peer);
    if (n > 0) {
      const flag = which === 'all' ? 0 : PathFlag.Stale;
      this.passes.push({ peer, op: 'remove', flag, next: 0, left: this.pathsOf(peer), done: 0 });
    }
    return n;
  }

  /** Queues setting (or clearing) flag bits on every path of a peer, as queuePeerRemoval does. */
  queuePeerFlags(peer: number, flag: number, on: boolean): number {
    this.finishPassesOf(peer);
    const n = this.pathsOf(peer);
    if (n > 0) this.passes.push({ peer, op: on ? 'set' : 'clear', flag, next: 0, left: n, done: 0 });
    return n;
  }

  /** Finishes the queued pass of a peer, before anything else reads or changes its paths. */
  private finishPassesOf(peer: number): void {
    for (let i = 0; i < this.passes.length; i++) {
      const x = this.passes[i]!;
      if (x.peer !== peer) continue;
      this.runPass(x, Number.POSITIVE_INFINITY);
      this.passes.splice(i, 1);
      return;
    }
  }

  /** Runs queued passes, visiting at most `budget` prefix records in all. */
  private runPasses(budget: number): void {
    while (this.passes.length > 0 && budget > 0) {
      const x = this.passes[0]!;
      budget -= this.runPass(x, budget);
      if (x.left === 0) this.passes.shift();
    }
  }

  /**
   * Advances a pass over at most `budget` prefix records; returns how many it visited. The
   * peer's remaining path count bounds the walk: it stops at the peer's last path instead of
   * reading the rest of a million-prefix table, and a peer with no paths costs nothing.
   */
  private runPass(x: PeerPass, budget: number): number {
    const peer = x.peer;
    const staleOnly = x.op === 'remove' && x.flag === PathFlag.Stale;
    let p = x.next;
    let visited = 0;
    for (; p < this.pTop && x.left > 0 && visited < budget; p++) {
      visited++;
      if ((this.pFlags(p) & P_IN_USE) === 0) continue;
      let prev = -1;
      let q = this.pHead(p);
      while (q >= 0) {
        const next = this.qNext(q);
        if (this.qPeer(q) !== peer) {
          prev = q;
          q = next;
          continue;
        }
        x.left--;
        const f = this.qFlags(q);
        if (x.op === 'remove') {
          if (x.flag === 0 || (f & x.flag) !== 0) {
            this.unlinkPath(p, prev, q);
            x.done++;
          } else prev = q;
        } else {
          const g = x.op === 'set' ? f | x.flag : f & ~x.flag;
          if ((f & PathFlag.Stale) !== (g & PathFlag.Stale))
            this.perPeerStale[peer]! += (g & PathFlag.Stale) !== 0 ? 1 : -1;
          this.setQFlags(q, g);
          x.done++;
          prev = q;
        }
        q = next;
      }
      // An End-of-RIB sweep can stop at the last stale path.
      if (staleOnly && this.perPeerStale[peer] === 0) x.left = 0;
    }
    x.next = p;
    if (p >= this.pTop) x.left = 0;
    return visited;
  }

  /** Marks every prefix dirty (next hops re-resolved, decision options changed). */
  markAllDirty(): void {
    for (let p = 0; p < this.pTop; p++) if ((this.pFlags(p) & P_IN_USE) !== 0) this.markDirty(p);
  }

  /** Number of prefixes waiting for commit(). */
  get pending(): number {
    let n = this.dirtyCount - this.dirtyDone;
    for (const x of this.passes) n += x.left;
    return n;
  }

  // ------------------------------------------------------------------------------------------
  // Decision

  /**
   * Runs the decision process on every prefix changed since the last commit and returns those
   * whose best path or multipath set changed. Releases the prefixes that the previous commit
   * reported as withdrawn and that are still empty.
   *
   * `limit` bounds the prefixes decided in this call (in the order they became dirty), and the
   * prefix records queued passes visit first (queuePeerRemoval, queuePeerFlags); the rest stay
   * pending for the next call. A million-route session loss then becomes a series of short
   * commits with I/O between them, and the change list stays small, instead of one long
   * event-loop stall holding a million-entry change list.
   */
  commit(limit = Number.POSITIVE_INFINITY): RibChanges {
    this.releasePending();
    // Queued passes first, in the same budget: the prefixes they change are decided below.
    if (this.passes.length !== 0) this.runPasses(limit);
    const ch = this.changes;
    ch.reset();
    const c = this.cand;
    const d = this.decision;
    const r = this.qRec;
    const end = Math.min(this.dirtyCount, this.dirtyDone + limit);
    for (let k = this.dirtyDone; k < end; k++) {
      const p = this.dirty[k]!;
      const flags = this.pFlags(p);
      const head = this.pHead(p);
      const hadBest = (flags & (P_HAS_BEST | P_BEST_GONE)) !== 0;
      const pathsBit = (flags & P_PATHS_CHANGED) !== 0 ? RibChange.Paths : 0;
      const CLEAR = P_DIRTY | P_BEST_GONE | P_PATHS_CHANGED;
      if (head < 0) {
        this.setPFlags(p, (flags & ~(CLEAR | P_HAS_BEST)) | P_PENDING_FREE);
        if (hadBest || pathsBit !== 0) ch.push(p, -1, RibChange.Best | RibChange.Multipath | pathsBit);
        this.pendingFree.push(p);
        continue;
      }
      // Load the candidates: the old best (if any) is the head.
      c.clear();
      let bestChanged = false;
      let mpChanged = false;
      for (let q = head; q >= 0; q = r[q * Q_SIZE + Q_NEXT]!) {
        const b = q * Q_SIZE;
        c.push(r[b + Q_ATTR]!, r[b + Q_PEER_FLAGS]! & 0xffff, r[b + Q_ID]! >>> 0, q);
      }
      const oldBest = (flags & P_HAS_BEST) !== 0 ? head : -1;
      const best = d.select(c);
      if (best < 0) {
        this.setPFlags(p, flags & ~(CLEAR | P_HAS_BEST));
        for (let i = 0; i < c.n; i++) {
          const q = c.handle[i]!;
          const f = this.qFlags(q);
          if ((f & PathFlag.Multipath) !== 0) mpChanged = true;
          this.setQFlags(q, f & ~(PathFlag.Multipath | PathFlag.Changed));
        }
        if (hadBest || pathsBit !== 0)
          ch.push(p, -1, (hadBest ? RibChange.Best : 0) | (mpChanged ? RibChange.Multipath : 0) | pathsBit);
        continue;
      }
      const bq = c.handle[best]!;
      if (bq !== oldBest || (this.qFlags(bq) & PathFlag.Changed) !== 0) bestChanged = true;
      // Multipath flags: clear, then set the new set, noting any difference.
      for (let i = 0; i < c.n; i++) {
        const q = c.handle[i]!;
        let inSet = false;
        for (let m = 0; m < d.multipathCount; m++) {
          if (d.multipath[m] === i) {
            inSet = true;
            break;
          }
        }
        const f = this.qFlags(q);
        const was = (f & PathFlag.Multipath) !== 0;
        if (inSet !== was || (inSet && (f & PathFlag.Changed) !== 0)) mpChanged = true;
        this.setQFlags(q, (f & ~(PathFlag.Multipath | PathFlag.Changed)) | (inSet ? PathFlag.Multipath : 0));
      }
      if (bq !== head) this.moveToHead(p, bq);
      this.setPFlags(p, (flags & ~CLEAR) | P_HAS_BEST);
      if (bestChanged || mpChanged || pathsBit !== 0)
        ch.push(p, bq, (bestChanged ? RibChange.Best : 0) | (mpChanged ? RibChange.Multipath : 0) | pathsBit);
    }
    if (end < this.dirtyCount) {
      this.dirtyDone = end;
      return ch;
    }
    this.dirtyCount = 0;
    this.dirtyDone = 0;
    if (this.dirty.length > SHRINK_ABOVE) this.dirty = new Int32Array(1024);
    return ch;
  }

  private moveToHead(p: number, q: number): void {
    let prev = this.pHead(p);
    while (this.qNext(prev) !== q) prev = this.qNext(prev);
    this.setQNext(prev, this.qNext(q));
    this.setQNext(q, this.pHead(p));
    this.setPHead(p, q);
  }

  /**
   * Frees now what the last commit removed, as the next commit would first thing, and gives an
   * emptied table's memory back (reset). For the caller that has published the last commit and
   * expects no other soon: an idle daemon after a full withdrawal held the table's arrays until
   * the next route arrived, hours later perhaps (docs/PERFORMANCE.md, twenty-fourth session).
   * True when the table was emptied and its arrays replaced (update groups then fit theirs).
   */
  settle(): boolean {
    if (this.pending !== 0) return false;
    return this.releasePending();
  }

  private releasePending(): boolean {
    const freed = this.pendingFree.items;
    for (let i = 0, n = this.pendingFree.length; i < n; i++) {
      const p = freed[i]!;
      const f = this.pFlags(p) & ~P_PENDING_FREE;
      this.setPFlags(p, f);
      if (this.pHead(p) < 0 && (f & P_DIRTY) === 0 && (f & P_IN_USE) !== 0) this.freePrefix(p);
    }
    this.pendingFree.clear();
    const paths = this.pendingPathFree.items;
    for (let i = 0, n = this.pendingPathFree.length; i < n; i++) {
      const q = paths[i]!;
      this.qRec[q * Q_SIZE + Q_NEXT] = this.qFree;
      this.qFree = q;
    }
    this.pendingPathFree.clear();
    // pTop and qTop are high-water marks: more than 4,096 records ever used means pages worth
    // giving back, whether or not the arrays grew past their initial capacity.
    if (this.prefixCount === 0 && this.pathCount === 0 && (this.pTop > 4096 || this.qTop > 4096)) {
      this.reset();
      return true;
    }
    return false;
  }

  /**
   * Gives the memory of an emptied table back (after a full withdrawal): new arrays of the
   * initial capacity, whose pages the kernel maps only as they are written again.
   */
  private reset(): void {
    const n = this.initialCap;
    releaseBigArray(this.pRec);
    releaseBigArray(this.slots);
    releaseBigArray(this.qRec);
    this.pCap = n;
    this.pRec = bigInt32Array(n * this.pSize);
    this.pWords = new Uint32Array(this.pRec.buffer, this.pRec.byteOffset, this.pRec.length);
    this.pTop = 0;
    this.pFree = -1;
    this.slots = bigInt32Array(slotsFor(n));
    this.mask = this.slots.length - 1;
    this.tombstones = 0;
    this.qCap = n;
    this.qRec = bigInt32Array(n * Q_SIZE);
    this.qTop = 0;
    this.qFree = -1;
    // No prefix exists, so none is dirty.
    this.dirty = new Int32Array(1024);
    this.dirtyCount = 0;
    this.dirtyDone = 0;
  }

  // ------------------------------------------------------------------------------------------
  // Reading

  /** The prefix index of a prefix, or -1. */
  find(words: Uint32Array, off: number, len: number): number {
    const full = this.hash(words, off, len);
    const tag = full >>> 25;
    let h = full & this.mask;
    for (;;) {
      const v = this.slots[h]!;
      if (v === 0) return -1;
      if (v > 0 && v >>> SLOT_TAG_SHIFT === tag && this.sameKey((v & SLOT_INDEX_MASK) - 1, words, off, len))
        return (v & SLOT_INDEX_MASK) - 1;
      h = (h + 1) & this.mask;
    }
  }

  /** The prefix index for a prefix string (CLI/tests), or -1. */
  lookup(prefix: string): number {
    const parsed = parsePrefix(prefix);
    if (parsed.afi !== this.afi) return -1;
    return this.find(parsed.words, 0, parsed.length);
  }

  /** Best path (a path index) of a prefix, or -1. */
  bestPath(p: number): number {
    return (this.pFlags(p) & P_HAS_BEST) !== 0 ? this.pHead(p) : -1;
  }

  firstPath(p: number): number {
    return this.pHead(p);
  }
  nextPath(q: number): number {
    return this.qNext(q);
  }
  pathPeer(q: number): number {
    return this.qPeer(q);
  }
  pathAttr(q: number): number {
    return this.qRec[q * Q_SIZE + Q_ATTR]!;
  }
  pathIdOf(q: number): number {
    return this.qRec[q * Q_SIZE + Q_ID]! >>> 0;
  }
  pathFlags(q: number): number {
    return this.qFlags(q);
  }
  prefixLength(p: number): number {
    return this.pLen(p);
  }
  /** The words array holding prefix addresses (valid until the next update); see prefixOffset. */
  prefixWords(): Uint32Array {
    return this.pWords;
  }
  prefixOffset(p: number): number {
    return p * this.pSize;
  }
  formatPrefix(p: number): string {
    return formatPrefix(this.afi, this.pWords, p * this.pSize, this.pLen(p));
  }

  /** Calls fn for every prefix that has a best path. */
  forEachBest(fn: (prefix: number, bestPath: number) => void): void {
    for (let p = 0; p < this.pTop; p++) {
      if ((this.pFlags(p) & (P_IN_USE | P_HAS_BEST)) === (P_IN_USE | P_HAS_BEST)) fn(p, this.pHead(p));
    }
  }

  /** Every prefix holding at least one path, with or without a best path (show, per peer). */
  forEachPrefix(fn: (prefix: number) => void): void {
    for (let p = 0; p < this.pTop; p++) {
      if ((this.pFlags(p) & P_IN_USE) !== 0 && this.pHead(p) >= 0) fn(p);
    }
  }

  /** Path indices of the multipath set of a prefix, best first. */
  multipathOf(p: number): number[] {
    const out: number[] = [];
    const best = this.bestPath(p);
    if (best < 0) return out;
    out.push(best);
    for (let q = this.qNext(best); q >= 0; q = this.qNext(q)) {
      if ((this.qFlags(q) & PathFlag.Multipath) !== 0) out.push(q);
    }
    return out;
  }

  /** Every path of a prefix with the step that decided against it (`show route PREFIX --detail`). */
  explain(p: number): { paths: number[]; explanation: Explanation } {
    const c = new CandidateSet();
    const paths: number[] = [];
    for (let q = this.pHead(p); q >= 0; q = this.qNext(q)) {
      c.push(this.pathAttr(q), this.qPeer(q), this.pathIdOf(q), q);
      paths.push(q);
    }
    return { paths, explanation: this.decision.explain(c) };
  }

  /** Bytes of the typed arrays (the route storage proper, without the attribute sets). */
  storageBytes(): number {
    return this.pRec.byteLength + this.slots.byteLength + this.qRec.byteLength + this.dirty.byteLength;
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  private checkAfi(list: PrefixList): void {
    if (list.afi !== this.afi)
      throw new Error(`prefix list of AFI ${list.afi} given to the AFI ${this.afi} Loc-RIB`);
  }

  private markDirty(p: number, extra = 0): void {
    const f = this.pFlags(p);
    if ((f & P_DIRTY) !== 0) {
      if ((f & extra) !== extra) this.setPFlags(p, f | extra);
      return;
    }
    this.setPFlags(p, f | P_DIRTY | extra);
    if (this.dirtyCount === this.dirty.length) {
      const d = new Int32Array(this.dirty.length * 2);
      d.set(this.dirty);
      this.dirty = d;
    }
    this.dirty[this.dirtyCount++] = p;
  }

  private hash(words: Uint32Array, off: number, len: number): number {
    let h = Math.imul(len + 1, 0x9e3779b1);
    for (let i = 0; i < this.stride; i++) {
      h = Math.imul(h ^ words[off + i]!, 0x85ebca6b);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  private sameKey(p: number, words: Uint32Array, off: number, len: number): boolean {
    const o = p * this.pSize;
    if ((this.pRec[o + this.pMetaOff]! & 0xff) !== len) return false;
    for (let i = 0; i < this.stride; i++) if (this.pWords[o + i] !== words[off + i]) return false;
    return true;
  }

  private findOrAdd(words: Uint32Array, off: number, len: number): number {
    const full = this.hash(words, off, len);
    const tag = full >>> 25;
    let h = full & this.mask;
    let tomb = -1;
    for (;;) {
      const v = this.slots[h]!;
      if (v === 0) break;
      if (v > 0) {
        // The tag rejects most other prefixes on the probe path without reading their record:
        // that read is a cache miss each in a table of a million.
        if (v >>> SLOT_TAG_SHIFT === tag && this.sameKey((v & SLOT_INDEX_MASK) - 1, words, off, len))
          return (v & SLOT_INDEX_MASK) - 1;
      } else if (tomb < 0) tomb = h;
      h = (h + 1) & this.mask;
    }
    const p = this.allocPrefix();
    const o = p * this.pSize;
    for (let i = 0; i < this.stride; i++) this.pWords[o + i] = words[off + i]!;
    this.pRec[o + this.pHeadOff] = -1;
    this.pRec[o + this.pMetaOff] = len | (P_IN_USE << 8);
    const slot = (tag << SLOT_TAG_SHIFT) | (p + 1);
    if (tomb >= 0) {
      this.slots[tomb] = slot;
      this.tombstones--;
    } else this.slots[h] = slot;
    this.prefixCount++;
    if (this.prefixCount + this.tombstones > this.slots.length * 0.7) {
      // Grow when live entries need it; otherwise just clear the tombstones.
      this.rehash(this.prefixCount > this.slots.length * 0.45 ? this.slots.length * 2 : this.slots.length);
    }
    return p;
  }

  private rehash(size: number): void {
    releaseBigArray(this.slots);
    this.slots = bigInt32Array(size);
    this.mask = size - 1;
    this.tombstones = 0;
    if (this.prefixCount >= REHASH_BUCKETED_FROM) {
      this.rehashBucketed();
      return;
    }
    for (let p = 0; p < this.pTop; p++) {
      if ((this.pFlags(p) & P_IN_USE) === 0) continue;
      const full = this.hash(this.pWords, p * this.pSize, this.pLen(p));
      let h = full & this.mask;
      while (this.slots[h] !== 0) h = (h + 1) & this.mask;
      this.slots[h] = ((full >>> 25) << SLOT_TAG_SHIFT) | (p + 1);
    }
  }

  /**
   * rehash() for a big table, in slot order. Inserting prefixes in record order writes each to a
   * random slot: a cache miss each, 83 of the 240 ms a million upserts took. Here a counting sort
   * first groups the (home slot, slot value) pairs by the top REHASH_BUCKET_BITS of the home,
   * writing to 2^11 sequential streams, and the inserts then walk the new table from start to
   * end. Costs 8 bytes per prefix of scratch while it runs.
   */
  private rehashBucketed(): void {
    const slots = this.slots;
    const mask = this.mask;
    const bits = 31 - Math.clz32(slots.length);
    const shift = Math.max(0, bits - REHASH_BUCKET_BITS);
    const starts = new Int32Array((1 << (bits - shift)) + 1);
    for (let p = 0; p < this.pTop; p++) {
      if ((this.pFlags(p) & P_IN_USE) === 0) continue;
      starts[((this.hash(this.pWords, p * this.pSize, this.pLen(p)) & mask) >>> shift) + 1]!++;
    }
    for (let b = 1; b < starts.length; b++) starts[b]! += starts[b - 1]!;
    const pairs = bigInt32Array(2 * this.prefixCount);
    for (let p = 0; p < this.pTop; p++) {
      if ((this.pFlags(p) & P_IN_USE) === 0) continue;
      const full = this.hash(this.pWords, p * this.pSize, this.pLen(p));
      const k = starts[(full & mask) >>> shift]!++;
      pairs[2 * k] = full & mask;
      pairs[2 * k + 1] = ((full >>> 25) << SLOT_TAG_SHIFT) | (p + 1);
    }
    for (let k = 0; k < pairs.length; k += 2) {
      let h = pairs[k]!;
      while (slots[h] !== 0) h = (h + 1) & mask;
      slots[h] = pairs[k + 1]!;
    }
    releaseBigArray(pairs);
  }

  private freePrefix(p: number): void {
    // A tombstone keeps the probe chains of other entries intact; findOrAdd reuses it and
    // rehash() clears them all (cheaper than backward-shift deletion, which must re-hash every
    // entry after the hole: a cache miss each on a million-prefix withdrawal).
    let h = this.hash(this.pWords, p * this.pSize, this.pLen(p)) & this.mask;
    while (this.slots[h]! <= 0 || (this.slots[h]! & SLOT_INDEX_MASK) !== p + 1) h = (h + 1) & this.mask;
    this.slots[h] = -1;
    this.tombstones++;
    const o = p * this.pSize;
    this.pRec[o + this.pMetaOff] = 0;
    this.pRec[o + this.pHeadOff] = this.pFree;
    this.pFree = p;
    this.prefixCount--;
  }

  private allocPrefix(): number {
    if (this.pFree >= 0) {
      const p = this.pFree;
      this.pFree = this.pHead(p);
      return p;
    }
    if (this.pTop === this.pCap) this.growPrefixes();
    if (this.pTop + 1 >= SLOT_INDEX_MASK)
      throw new RangeError(`Loc-RIB full: at most ${SLOT_INDEX_MASK - 1} prefixes per family`);
    return this.pTop++;
  }

  private growPrefixes(): void {
    const n = Math.ceil(this.pCap * RIB_GROWTH);
    const r = bigInt32Array(n * this.pSize);
    r.set(this.pRec);
    releaseBigArray(this.pRec);
    this.pRec = r;
    this.pWords = new Uint32Array(r.buffer, r.byteOffset, r.length);
    this.pCap = n;
  }

  private allocPath(): number {
    this.pathCount++;
    if (this.qFree >= 0) {
      const q = this.qFree;
      this.qFree = this.qNext(q);
      return q;
    }
    if (this.qTop === this.qCap) this.growPaths();
    return this.qTop++;
  }

  private freePath(q: number): void {
    const b = q * Q_SIZE;
    const w = this.qRec[b + Q_PEER_FLAGS]!;
    this.perPeer[w & 0xffff]!--;
    if (((w >>> 16) & PathFlag.Stale) !== 0) this.perPeerStale[w & 0xffff]!--;
    this.qRec[b + Q_PEER_FLAGS] = FREE_PEER;
    this.qRec[b + Q_ATTR] = 0;
    // Reusable only after the next commit: path indices are ADD-PATH path ids towards peers,
    // and the Adj-RIB-Out must see this path's removal before the index names another path.
    this.pendingPathFree.push(q);
    this.pathCount--;
  }

  private growPaths(): void {
    const n = Math.ceil(this.qCap * RIB_GROWTH);
    const r = bigInt32Array(n * Q_SIZE);
    r.set(this.qRec);
    releaseBigArray(this.qRec);
    this.qRec = r;
    this.qCap = n;
  }
}
