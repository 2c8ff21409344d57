// Attribute interning: every distinct path-attribute set is stored once and named by a small
// integer id. Routes (Loc-RIB paths, Adj-RIB-Out entries, policy caches) hold ids, never objects,
// so a million routes sharing a few thousand sets cost a few thousand objects (BIRD's rta cache,
// FRR's attrhash).
//
// The key is a canonical binary encoding of the set (each attribute tagged by its type code, in
// a fixed order), built in a scratch array and hashed; a hash hit is confirmed by encoding the
// stored set the same way and comparing. No key is kept: the stored set is its own key. (Keys were
// strings once, two per received set at a reflector, each built through a UTF-16 scratch and
// fromCharCode: ~2 MB of garbage and 6,000 retained strings at a 100k table with 3,000 sets.)
// Interning happens once per attribute set and peer, not per prefix.
//
// Ids are reference counted. A set whose count drops to 0 is not freed at once: it stays
// findable until collect() runs, so a flap that withdraws and re-announces the same set within a
// batch re-uses the id, and caches keyed by id (policy results) stay valid. collect() tells the
// onFree listeners before an id is reused.
//
// Per id the table also keeps the fields best-path selection reads, in typed arrays, so the
// decision process never touches the objects (see best-path.ts).

import { type HashSlot, HashSlots } from '../hash-slots.ts';
import { ID_TABLE_INITIAL } from '../id-table.ts';
import { asPathLength, neighborAs, type StoredAttributes, storedAttributes } from './attrs.ts';

/** Id 0 never names a set: typed arrays use it as "none". */
export const NO_ATTR = 0;

/** Bits of AttrTable.flagsOf(). */
export const AttrFlag = {
  HasMed: 1,
  HasLocalPref: 2,
  HasOriginatorId: 4,
  HasNextHop: 8,
} as const;

export type AttrFreeListener = (id: number) => void;

/** What add() stores of a new set: a copy, the object itself, or a new object around its arrays. */
enum Keep {
  Copy,
  AsIs,
  Reshape,
}

export class AttrTable {
  /** Ids by key hash (30 bits, so always a small integer): one id, or several on a collision. */
  private readonly byHash = new HashSlots();
  private sets: (StoredAttributes | undefined)[] = [undefined];
  private refs = new Int32Array(ID_TABLE_INITIAL);
  private hashes = new Int32Array(ID_TABLE_INITIAL);
  private freeIds: number[] = [];
  private zeroRef: number[] = [];
  private listeners: AttrFreeListener[] = [];
  private live = 0;
  // Derived decision fields, indexed by id.
  private dLocalPref = new Uint32Array(ID_TABLE_INITIAL);
  private dMed = new Uint32Array(ID_TABLE_INITIAL);
  private dAsPathLen = new Uint32Array(ID_TABLE_INITIAL);
  private dNeighborAs = new Uint32Array(ID_TABLE_INITIAL);
  private dOriginatorId = new Uint32Array(ID_TABLE_INITIAL);
  private dClusterLen = new Uint16Array(ID_TABLE_INITIAL);
  private dOrigin = new Uint8Array(ID_TABLE_INITIAL);
  private dFlags = new Uint8Array(ID_TABLE_INITIAL);
  /** The key of the set being interned, and of a stored set it is compared with. */
  private readonly key = new KeyWriter();
  private readonly other = new KeyWriter();

  /** Number of distinct sets currently interned (including those awaiting collect()). */
  get size(): number {
    return this.live;
  }

  /** Returns the id of the set, adding it when new; the caller owns one reference. */
  intern(attrs: StoredAttributes): number {
    return this.add(attrs, Keep.Copy);
  }

  /**
   * As intern(), for a set the caller hands over: a new set is stored as it is, not copied. The
   * object must be the caller's own, and its arrays whole copies that nobody writes afterwards
   * (not views into a received message, which the table would pin): the decoder's output is. The
   * routing engine interns each received set this way; the copy cost an object, an array and a
   * view per array field for each new set (3,000 at a full table), all promoted by the GC.
   */
  internOwned(attrs: StoredAttributes): number {
    return this.add(attrs, attrs.unknown === undefined ? Keep.AsIs : Keep.Copy);
  }

  /**
   * As intern(), for a set that export rewriting or policy derived from an interned one, made by
   * cloneAttributes() (so in the one shape) and handed over: a new set is stored as it is, frozen.
   * Its arrays are either that set's (which nobody writes: the table owns them) or new ones that
   * nobody writes afterwards (a reflected CLUSTER_LIST, a prepended AS_PATH, a policy's
   * communities or next hop), so they are shared, not copied. The copy cost each new set a slab
   * with its ArrayBuffer and backing store, and a view per array field: at a 100k table through
   * a reflector, 3,000 reflected sets, every one promoted by the GC.
   */
  internDerived(attrs: StoredAttributes): number {
    return this.add(attrs, Keep.AsIs);
  }

  private add(attrs: StoredAttributes, keep: Keep): number {
    this.key.write(attrs);
    const h = this.key.hash();
    const slot = this.byHash.get(h);
    const found = slot === undefined ? -1 : this.findIn(slot);
    if (found >= 0) {
      this.refs[found]!++;
      return found;
    }
    const id = this.allocate();
    const stored = keep === Keep.AsIs ? attrs : copyAttributes(attrs);
    this.sets[id] = Object.freeze(stored);
    this.hashes[id] = h;
    this.byHash.add(h, id, slot);
    this.refs[id] = 1;
    this.live++;
    this.derive(id, stored);
    return id;
  }

  /** The id in `slot` whose set has the key just written to this.key, or -1. */
  private findIn(slot: HashSlot): number {
    if (typeof slot === 'number') return this.hasKey(slot) ? slot : -1;
    for (const id of slot) if (this.hasKey(id)) return id;
    return -1;
  }

  private hasKey(id: number): boolean {
    this.other.write(this.sets[id]!);
    return this.key.equals(this.other);
  }

  /** The set named by id. Treat it as immutable: it is shared by every route that uses it. */
  get(id: number): StoredAttributes {
    const a = this.sets[id];
    if (a === undefined) throw new Error(`attribute set ${id} is not interned`);
    return a;
  }

  has(id: number): boolean {
    return this.sets[id] !== undefined;
  }

  ref(id: number, n = 1): void {
    this.refs[id]! += n;
  }

  unref(id: number, n = 1): void {
    const r = this.refs[id]! - n;
    this.refs[id] = r;
    if (r === 0) this.zeroRef.push(id);
    else if (r < 0) throw new Error(`attribute set ${id}: reference count below zero`);
  }

  refCount(id: number): number {
    return this.refs[id] ?? 0;
  }

  /** Called with an id just before it is freed (and may be reused for another set). */
  onFree(listener: AttrFreeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Frees the sets nobody references any more; returns how many. Runs until nothing more can be
   * freed: a listener that drops a cached result may release the last reference to another set.
   */
  collect(): number {
    let freed = 0;
    while (this.zeroRef.length > 0) {
      const pending = this.zeroRef;
      this.zeroRef = [];
      // Indexed loops: this runs once per commit, often unoptimised, and an unoptimised for-of
      // allocates an iterator result per element (per freed set, and again per listener).
      const listeners = this.listeners;
      for (let i = 0; i < pending.length; i++) {
        const id = pending[i]!;
        if (this.refs[id] !== 0 || this.sets[id] === undefined) continue;
        for (let j = 0; j < listeners.length; j++) listeners[j]!(id);
        // A listener may have taken a reference (it should not, but stay safe).
        if (this.refs[id] !== 0) continue;
        this.byHash.remove(this.hashes[id]!, id);
        this.sets[id] = undefined;
        this.freeIds.push(id);
        this.live--;
        freed++;
      }
    }
    return freed;
  }

  // --- derived fields (hot path of the decision process) ---
  localPrefOf(id: number): number {
    return this.dLocalPref[id]!;
  }
  medOf(id: number): number {
    return this.dMed[id]!;
  }
  asPathLengthOf(id: number): number {
    return this.dAsPathLen[id]!;
  }
  neighborAsOf(id: number): number {
    return this.dNeighborAs[id]!;
  }
  originatorIdOf(id: number): number {
    return this.dOriginatorId[id]!;
  }
  clusterListLengthOf(id: number): number {
    return this.dClusterLen[id]!;
  }
  originOf(id: number): number {
    return this.dOrigin[id]!;
  }
  flagsOf(id: number): number {
    return this.dFlags[id]!;
  }

  private allocate(): number {
    const reused = this.freeIds.pop();
    if (reused !== undefined) return reused;
    const id = this.sets.length;
    this.sets.push(undefined);
    if (id >= this.refs.length) this.grow(this.refs.length * 2);
    return id;
  }

  private grow(n: number): void {
    const g32 = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    const r = new Int32Array(n);
    r.set(this.refs);
    this.refs = r;
    const h = new Int32Array(n);
    h.set(this.hashes);
    this.hashes = h;
    this.dLocalPref = g32(this.dLocalPref);
    this.dMed = g32(this.dMed);
    this.dAsPathLen = g32(this.dAsPathLen);
    this.dNeighborAs = g32(this.dNeighborAs);
    this.dOriginatorId = g32(this.dOriginatorId);
    const c = new Uint16Array(n);
    c.set(this.dClusterLen);
    this.dClusterLen = c;
    const o = new Uint8Array(n);
    o.set(this.dOrigin);
    this.dOrigin = o;
    const f = new Uint8Array(n);
    f.set(this.dFlags);
    this.dFlags = f;
  }

  private derive(id: number, a: StoredAttributes): void {
    let flags = 0;
    if (a.med !== undefined) flags |= AttrFlag.HasMed;
    if (a.localPref !== undefined) flags |= AttrFlag.HasLocalPref;
    if (a.originatorId !== undefined) flags |= AttrFlag.HasOriginatorId;
    if (a.nextHop !== undefined || a.mpNextHop !== undefined) flags |= AttrFlag.HasNextHop;
    this.dFlags[id] = flags;
    // RFC 4271 §9.1.1: a route without LOCAL_PREF (eBGP) is ranked with the configured default,
    // which import applies; 100 is the common default (BIRD, FRR, Cisco) when nothing did.
    this.dLocalPref[id] = a.localPref ?? 100;
    this.dMed[id] = a.med ?? 0;
    this.dAsPathLen[id] = asPathLength(a.asPath);
    this.dNeighborAs[id] = neighborAs(a.asPath);
    this.dOriginatorId[id] = a.originatorId ?? 0;
    this.dClusterLen[id] = Math.min(a.clusterList?.length ?? 0, 0xffff);
    this.dOrigin[id] = a.origin ?? 2;
  }
}

/**
 * The canonical encoding of a set: each attribute tagged by its type code, in a fixed order, as
 * 32-bit words. Two sets are the same set exactly when their encodings are equal.
 */
class KeyWriter {
  private words = new Uint32Array(256);
  private length = 0;

  write(a: StoredAttributes): void {
    this.length = 0;
    if (a.origin !== undefined) this.push((1 << 24) | a.origin);
    if (a.asPath !== undefined) this.pushArray(2, a.asPath);
    if (a.nextHop !== undefined) this.push(3 << 24, a.nextHop);
    if (a.med !== undefined) this.push(4 << 24, a.med);
    if (a.localPref !== undefined) this.push(5 << 24, a.localPref);
    if (a.atomicAggregate === true) this.push(6 << 24);
    if (a.aggregator !== undefined) this.push(7 << 24, a.aggregator.asn, a.aggregator.address);
    if (a.communities !== undefined) this.pushArray(8, a.communities);
    if (a.originatorId !== undefined) this.push(9 << 24, a.originatorId);
    if (a.clusterList !== undefined) this.pushArray(10, a.clusterList);
    if (a.mpNextHop !== undefined) this.pushBytes(14, a.mpNextHop);
    if (a.extendedCommunities !== undefined) this.pushArray(16, a.extendedCommunities);
    if (a.largeCommunities !== undefined) this.pushArray(32, a.largeCommunities);
    if (a.otc !== undefined) this.push(35 << 24, a.otc);
    if (a.unknown !== undefined) {
      for (const u of a.unknown) {
        this.push((255 << 24) | (u.flags << 8) | u.code);
        this.pushBytes(255, u.data);
      }
    }
  }

  /** FNV-1a over the words, folded to 30 bits: V8 keeps such numbers as small integers. */
  hash(): number {
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < this.length; i++) h = Math.imul(h ^ this.words[i]!, 0x01000193);
    return (h ^ (h >>> 30)) & 0x3fffffff;
  }

  equals(o: KeyWriter): boolean {
    if (o.length !== this.length) return false;
    for (let i = 0; i < this.length; i++) if (o.words[i] !== this.words[i]) return false;
    return true;
  }

  private push(a: number, b?: number, c?: number): void {
    this.pushWord(a);
    if (b !== undefined) this.pushWord(b);
    if (c !== undefined) this.pushWord(c);
  }

  private pushWord(v: number): void {
    if (this.length === this.words.length) {
      const b = new Uint32Array(this.words.length * 2);
      b.set(this.words);
      this.words = b;
    }
    this.words[this.length++] = v;
  }

  private pushArray(tag: number, arr: Uint32Array): void {
    this.push((tag << 24) | arr.length);
    for (let i = 0; i < arr.length; i++) this.pushWord(arr[i]!);
  }

  private pushBytes(tag: number, bytes: Uint8Array): void {
    this.push((tag << 24) | bytes.length);
    let w = 0;
    for (let i = 0; i < bytes.length; i++) {
      w = (w << 8) | bytes[i]!;
      if ((i & 3) === 3) {
        this.pushWord(w >>> 0);
        w = 0;
      }
    }
    if ((bytes.length & 3) !== 0) this.pushWord(w >>> 0);
  }
}

const hashWriter = new KeyWriter();

/** The hash AttrTable files a set under (exported for the collision test). */
export function attributeKeyHash(a: StoredAttributes): number {
  hashWriter.write(a);
  return hashWriter.hash();
}

/**
 * Copies the arrays of a set so the table never pins a received message's buffer. The 32-bit
 * arrays share one buffer: a typed array with a buffer of its own costs ~300 bytes besides its
 * data (the ArrayBuffer object, its backing-store record and malloc's header), and sets have up to
 * five of them.
 */
function copyAttributes(a: StoredAttributes): StoredAttributes {
  const words =
    (a.asPath?.length ?? 0) +
    (a.communities?.length ?? 0) +
    (a.clusterList?.length ?? 0) +
    (a.extendedCommunities?.length ?? 0) +
    (a.largeCommunities?.length ?? 0);
  const slab = new Uint32Array(words);
  // No closure here: tsx's keepNames wraps every closure it creates in __name(), a
  // defineProperty per call, which showed in the convergence profile.
  let at = 0;
  const asPath = placed(slab, at, a.asPath);
  at += a.asPath?.length ?? 0;
  const communities = placed(slab, at, a.communities);
  at += a.communities?.length ?? 0;
  const clusterList = placed(slab, at, a.clusterList);
  at += a.clusterList?.length ?? 0;
  const ext = placed(slab, at, a.extendedCommunities);
  at += a.extendedCommunities?.length ?? 0;
  const large = placed(slab, at, a.largeCommunities);
  return storedAttributes(
    {
      origin: a.origin,
      asPath,
      nextHop: a.nextHop,
      med: a.med,
      localPref: a.localPref,
      atomicAggregate: a.atomicAggregate,
      aggregator: a.aggregator,
      communities,
      originatorId: a.originatorId,
      clusterList,
      extendedCommunities: ext,
      largeCommunities: large,
      otc: a.otc,
      unknown: a.unknown === undefined ? undefined : copyUnknown(a.unknown),
    },
    a.mpNextHop?.slice(),
  );
}

/** A copy of src in slab at `at` (a view), or undefined. */
function placed(slab: Uint32Array, at: number, src: Uint32Array | undefined): Uint32Array | undefined {
  if (src === undefined) return undefined;
  const v = slab.subarray(at, at + src.length);
  v.set(src);
  return v;
}

function copyUnknown(
  list: NonNullable<StoredAttributes['unknown']>,
): NonNullable<StoredAttributes['unknown']> {
  const out: NonNullable<StoredAttributes['unknown']> = [];
  for (const u of list) out.push({ flags: u.flags, code: u.code, data: u.data.slice() });
  return out;
}
