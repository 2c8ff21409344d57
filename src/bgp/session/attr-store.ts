// Interned path-attribute sets. Every route in every Adj-RIB-In refers to its attributes by a small
// integer id; identical attribute sets (the common case: one UPDATE carries hundreds of prefixes,
// and peers repeat the same sets) are stored once. Ids are reference counted by the routes that
// hold them and recycled when the last reference goes.
//
// The interning key is the attribute section's wire bytes (MP_REACH_NLRI reduced to its next hop,
// MP_UNREACH_NLRI left out), prefixed with the decode options that change their meaning. Decoding is
// deterministic, so equal keys mean equal decoded attributes, without building a key per field.

import { FIELD_KINDS, type PathAttributes, settleFields, uniformAttributes } from '../codec/index.ts';
import { type HashSlot, HashSlots } from '../hash-slots.ts';
import { holeyArray } from '../holey-array.ts';
import { ID_TABLE_INITIAL } from '../id-table.ts';

export interface StoredAttributes {
  readonly id: number;
  /** Decoded attributes without mpReach / mpUnreach (the NLRI live in the Adj-RIB-In). */
  readonly attributes: Readonly<PathAttributes>;
  /** The MP_REACH_NLRI next hop (raw; 4, 16 or 32 bytes), or null for IPv4 NEXT_HOP routes. */
  readonly mpNextHop: Uint8Array | null;
}

/**
 * Sets nobody refers to are kept this long (in number of such sets) before they are forgotten:
 * without an Adj-RIB-In holding them (no soft reconfiguration inbound) a set's last reference
 * goes with each batch, and the next UPDATE carrying it would decode and intern it again.
 */
const IDLE_SETS_KEPT = 16384;
/** The idle queue's first capacity (see AttributeStore.idle). */
const IDLE_QUEUE_INITIAL = 128;
/**
 * The key slab's first size in bytes (see AttributeStore.keySlab): small enough for the start-up
 * warm-up's sets to grow it, as with the idle queue.
 */
const KEY_SLAB_INITIAL = 4096;

export class AttributeStore {
  private readonly byKey = new Map<string, number>();
  /** Byte keys by 32-bit hash: one id, or several on a collision. */
  private readonly byHash = new HashSlots();
  private entries: (StoredAttributes | undefined)[] = holeyArray();
  /** The string keys of intern() (sets whose bytes could not be keyed): rare. */
  private stringKeys: (string | undefined)[] = [];
  /**
   * The byte keys of internBytes(), back to back: set `id`'s key is
   * keySlab[keyAt[id], keyAt[id] + keyLength[id]), and keyLength 0 means it has none (a byte key
   * is never empty: it starts with the AS number size). One slab, not a Uint8Array per set: each
   * of those was three heap objects (the view, its ArrayBuffer and its data), 9,000 of the
   * ~60,000 objects a 100k table with 3,000 sets left for the GC to promote. Forgotten keys leave
   * holes, which compactKeys() closes when the slab is full.
   */
  private keySlab = new Uint8Array(KEY_SLAB_INITIAL);
  private keySlabUsed = 0;
  /** Bytes of the keys still held (keySlabUsed less the holes). */
  private keySlabLive = 0;
  private keyAt = new Int32Array(ID_TABLE_INITIAL);
  private keyLength = new Int32Array(ID_TABLE_INITIAL);
  private hashes = new Int32Array(ID_TABLE_INITIAL);
  private refs = new Int32Array(ID_TABLE_INITIAL);
  /** 1 while a set has no reference and waits in `idle` to be forgotten or used again. */
  private idleFlags = new Uint8Array(ID_TABLE_INITIAL);
  /** 1 when the set was decoded without any RFC 7606 error (see isClean). */
  private cleanFlags = new Uint8Array(ID_TABLE_INITIAL);
  /**
   * Sets in the order they went idle, each with its idling stamp (a revived set's entry is stale):
   * the queue is idle[idleHead, idleTail). Typed arrays compacted in place, not JS arrays: without
   * an Adj-RIB-In every UPDATE's set goes idle when its batch is released, and growing and
   * rebuilding JS arrays for that was ~1.8 MB of garbage per 100k routes received. They start
   * small enough for the start-up warm-up's sets to grow them: V8 treats a field that has kept its
   * first value as a constant, and the first growth in the first real table threw away the
   * optimised unref() (conformance/daemon/warm-up-deopt.test.ts).
   */
  private idle = new Int32Array(IDLE_QUEUE_INITIAL);
  private idleStamps = new Float64Array(IDLE_QUEUE_INITIAL);
  private idleHead = 0;
  private idleTail = 0;
  /** The stamp of each set's latest idling. */
  private idleAt = new Float64Array(ID_TABLE_INITIAL);
  private idleClock = 0;
  private idleCount = 0;
  private readonly free: number[] = [];
  private held = 0;

  /** Number of distinct attribute sets held (referenced, or fresh and not yet referenced). */
  get size(): number {
    return this.held - this.idleCount;
  }

  /**
   * Returns the id for `key`, storing `attributes` if the key is new. The id is returned with no
   * reference taken: the caller adds one per route with ref().
   */
  intern(key: string, make: () => { attributes: PathAttributes; mpNextHop: Uint8Array | null }): number {
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    const id = this.store(make);
    this.stringKeys[id] = key;
    this.byKey.set(key, id);
    return id;
  }

  /**
   * As intern(), keyed by `key[0, length)` (see attributeKeyInto); `key` may be a scratch buffer,
   * it is copied when the set is new. Allocates nothing when the set is known.
   */
  internBytes(
    key: Uint8Array,
    length: number,
    make: () => { attributes: PathAttributes; mpNextHop: Uint8Array | null },
    clean = false,
  ): number {
    const h = hashBytes(key, length);
    const slot = this.byHash.get(h);
    const found = this.findInSlot(slot, key, length);
    if (found >= 0) return found;
    const id = this.store(make);
    this.cleanFlags[id] = clean ? 1 : 0;
    this.addKey(id, key, length);
    this.hashes[id] = h;
    this.byHash.add(h, id, slot);
    return id;
  }

  /** The id of a byte key (see internBytes), or -1; an idle set is found too (ref() revives it). */
  lookupBytes(key: Uint8Array, length: number): number {
    return this.findInSlot(this.byHash.get(hashBytes(key, length)), key, length);
  }

  /**
   * lookupBytes() of the key attributeKeyInto() would build for an attribute section without
   * MP_REACH/MP_UNREACH (`asSize` 2 or 4, then the section's bytes verbatim), hashed and compared
   * in place in the frame: no copy.
   */
  lookupSection(asSize: number, frame: Uint8Array, start: number, end: number): number {
    let h = Math.imul((0x811c9dc5 | 0) ^ asSize, 0x01000193);
    for (let i = start; i < end; i++) h = Math.imul(h ^ frame[i]!, 0x01000193);
    const slot = this.byHash.get(h);
    if (slot === undefined) return -1;
    // No closure here: this runs once per received UPDATE.
    if (typeof slot === 'number') return this.sameSection(slot, asSize, frame, start, end) ? slot : -1;
    for (const id of slot) if (this.sameSection(id, asSize, frame, start, end)) return id;
    return -1;
  }

  private sameSection(id: number, asSize: number, frame: Uint8Array, start: number, end: number): boolean {
    const slab = this.keySlab;
    const at = this.keyAt[id]!;
    if (this.keyLength[id] !== end - start + 1 || slab[at] !== asSize) return false;
    for (let i = start, j = at + 1; i < end; i++, j++) if (slab[j] !== frame[i]) return false;
    return true;
  }

  /**
   * Whether the set was decoded from an UPDATE that announced routes and had no RFC 7606 error.
   * Decoding depends only on the bytes and the AS number size (both in the key) and on whether
   * routes are announced, so another UPDATE with the same key decodes the same, without errors.
   */
  isClean(id: number): boolean {
    return this.cleanFlags[id] === 1;
  }

  private findInSlot(slot: HashSlot | undefined, key: Uint8Array, length: number): number {
    if (slot === undefined) return -1;
    if (typeof slot === 'number') return this.sameKey(slot, key, length) ? slot : -1;
    for (const id of slot) if (this.sameKey(id, key, length)) return id;
    return -1;
  }

  private sameKey(id: number, key: Uint8Array, length: number): boolean {
    if (this.keyLength[id] !== length) return false;
    const slab = this.keySlab;
    const at = this.keyAt[id]!;
    for (let i = 0; i < length; i++) if (slab[at + i] !== key[i]) return false;
    return true;
  }

  /** Appends set `id`'s byte key key[0, length) to the slab. */
  private addKey(id: number, key: Uint8Array, length: number): void {
    if (this.keySlabUsed + length > this.keySlab.length) this.compactKeys(length);
    const slab = this.keySlab;
    const at = this.keySlabUsed;
    // A byte loop: keys are tens of bytes, and set(subarray) would allocate a view.
    for (let i = 0; i < length; i++) slab[at + i] = key[i]!;
    this.keyAt[id] = at;
    this.keyLength[id] = length;
    this.keySlabUsed = at + length;
    this.keySlabLive += length;
  }

  /**
   * Moves the held keys to the front of a new slab with room for `extra` more bytes, sized so that
   * at least half of it is free (so a compaction's copy is paid for by as many bytes of new keys).
   */
  private compactKeys(extra: number): void {
    const need = this.keySlabLive + extra;
    let size = KEY_SLAB_INITIAL;
    while (size < need * 2) size *= 2;
    const from = this.keySlab;
    const slab = new Uint8Array(size);
    let to = 0;
    for (let id = 0; id < this.entries.length; id++) {
      const n = this.keyLength[id]!;
      if (n === 0) continue;
      const at = this.keyAt[id]!;
      for (let i = 0; i < n; i++) slab[to + i] = from[at + i]!;
      this.keyAt[id] = to;
      to += n;
    }
    this.keySlab = slab;
    this.keySlabUsed = to;
  }

  private store(make: () => { attributes: PathAttributes; mpNextHop: Uint8Array | null }): number {
    const id = this.free.pop() ?? this.entries.length;
    if (id >= this.refs.length) {
      const size = this.refs.length * 2;
      const refs = new Int32Array(size);
      refs.set(this.refs);
      this.refs = refs;
      const hashes = new Int32Array(size);
      hashes.set(this.hashes);
      this.hashes = hashes;
      const flags = new Uint8Array(size);
      flags.set(this.idleFlags);
      this.idleFlags = flags;
      const at = new Float64Array(size);
      at.set(this.idleAt);
      this.idleAt = at;
      const clean = new Uint8Array(size);
      clean.set(this.cleanFlags);
      this.cleanFlags = clean;
      const keyAt = new Int32Array(size);
      keyAt.set(this.keyAt);
      this.keyAt = keyAt;
      const keyLength = new Int32Array(size);
      keyLength.set(this.keyLength);
      this.keyLength = keyLength;
    }
    const { attributes, mpNextHop } = make();
    // Not Object.freeze()d: the Readonly types already keep writers out, and the two freezes per
    // new set took 20.4 ms of the first 200 ms of a 100k table in a profile (1.2 ms without), each
    // set being new then (docs/PERFORMANCE.md, tenth session).
    this.entries[id] = { id, attributes: withoutNlri(attributes), mpNextHop };
    this.refs[id] = 0;
    this.cleanFlags[id] = 0;
    this.held++;
    return id;
  }

  get(id: number): StoredAttributes | undefined {
    return this.idleFlags[id] === 1 ? undefined : this.entries[id];
  }

  refCount(id: number): number {
    return this.refs[id] ?? 0;
  }

  ref(id: number, n = 1): void {
    if (this.idleFlags[id] === 1) {
      this.idleFlags[id] = 0;
      this.idleCount--;
    }
    this.refs[id]! += n;
  }

  /** Drops n references; once none remain the set idles, and is forgotten when idling too long. */
  unref(id: number, n = 1): void {
    this.refs[id]! -= n;
    const left = this.refs[id]!;
    if (left > 0) return;
    if (left < 0) throw new Error(`attribute set ${id} released more often than referenced`);
    if (this.idleFlags[id] === 1) return;
    this.idleFlags[id] = 1;
    this.idleCount++;
    const stamp = ++this.idleClock;
    this.idleAt[id] = stamp;
    if (this.idleTail === this.idle.length) this.compactIdle();
    this.idle[this.idleTail] = id;
    this.idleStamps[this.idleTail++] = stamp;
    while (this.idleCount > IDLE_SETS_KEPT) {
      const i = this.idleHead++;
      const old = this.idle[i]!;
      if (this.isCurrentIdle(old, this.idleStamps[i]!)) this.forget(old);
    }
  }

  private isCurrentIdle(id: number, stamp: number): boolean {
    return this.idleFlags[id] === 1 && this.idleAt[id] === stamp;
  }

  /**
   * Drops the consumed head and the stale entries (sets revived since they went idle), keeping
   * the order; doubles the arrays when live entries still fill more than half of them.
   */
  private compactIdle(): void {
    let n = 0;
    for (let i = this.idleHead; i < this.idleTail; i++) {
      const id = this.idle[i]!;
      const stamp = this.idleStamps[i]!;
      if (!this.isCurrentIdle(id, stamp)) continue;
      this.idle[n] = id;
      this.idleStamps[n++] = stamp;
    }
    this.idleHead = 0;
    this.idleTail = n;
    if (n * 2 > this.idle.length) {
      const ids = new Int32Array(this.idle.length * 2);
      ids.set(this.idle.subarray(0, n));
      this.idle = ids;
      const stamps = new Float64Array(ids.length);
      stamps.set(this.idleStamps.subarray(0, n));
      this.idleStamps = stamps;
    }
  }

  /** Forgets every set nobody refers to (tests, and a peer's sets after its session ends). */
  sweepIdle(): void {
    for (let i = this.idleHead; i < this.idleTail; i++) {
      const id = this.idle[i]!;
      if (this.isCurrentIdle(id, this.idleStamps[i]!)) this.forget(id);
    }
    this.idleHead = 0;
    this.idleTail = 0;
  }

  private forget(id: number): void {
    this.idleFlags[id] = 0;
    this.idleCount--;
    this.held--;
    const key = this.stringKeys[id];
    if (key !== undefined) {
      this.byKey.delete(key);
      this.stringKeys[id] = undefined;
    }
    const length = this.keyLength[id]!;
    if (length > 0) {
      this.byHash.remove(this.hashes[id]!, id);
      this.keySlabLive -= length;
      this.keyLength[id] = 0;
    }
    this.entries[id] = undefined;
    this.free.push(id);
  }
}

/** FNV-1a over key[0, length), as an int32. */
function hashBytes(key: Uint8Array, length: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  return h;
}

/** Where attributeKeyInto writes; `multiprotocol` says whether MP_REACH/MP_UNREACH were seen. */
export interface KeyScratch {
  buf: Uint8Array;
  multiprotocol: boolean;
}

/**
 * The interning key of an UPDATE's attributes, written into `scratch.buf` (grown as needed);
 * returns its length, or -1 when the frame is too short to hold the fields (the decoder will
 * have refused it already). The key is the wire bytes of the path attribute section with
 * MP_REACH_NLRI cut to (AFI, SAFI, next hop) and MP_UNREACH_NLRI omitted, after one byte for the
 * AS number size. `frame` is the whole message, header included. Building it allocates nothing,
 * so the common case of a known attribute set costs a copy and a hash.
 */
export function attributeKeyInto(frame: Uint8Array, fourOctetAs: boolean, scratch: KeyScratch): number {
  const body = 19;
  if (frame.length < body + 4) return -1;
  const wlen = (frame[body]! << 8) | frame[body + 1]!;
  let pos = body + 2 + wlen;
  if (pos + 2 > frame.length) return -1;
  const alen = (frame[pos]! << 8) | frame[pos + 1]!;
  pos += 2;
  const end = pos + alen;
  if (end > frame.length) return -1;
  if (scratch.buf.length < alen + 1) scratch.buf = new Uint8Array(Math.max(alen + 1, scratch.buf.length * 2));
  const out = scratch.buf;
  out[0] = fourOctetAs ? 4 : 2;
  scratch.multiprotocol = false;
  let n = 1;
  while (pos < end) {
    const flags = frame[pos]!;
    const code = frame[pos + 1]!;
    const ext = (flags & 0x10) !== 0;
    const hdr = ext ? 4 : 3;
    if (pos + hdr > end) return -1;
    const len = ext ? (frame[pos + 2]! << 8) | frame[pos + 3]! : frame[pos + 2]!;
    const next = pos + hdr + len;
    if (next > end) return -1;
    let from = pos;
    let to = next;
    if (code === 14 || code === 15) scratch.multiprotocol = true;
    if (code === 14) {
      // AFI(2) SAFI(1) NHlen(1) NH(NHlen): the next hop is part of the set, the NLRI are not.
      from = pos + hdr;
      to = Math.min(next, pos + hdr + 4 + (frame[pos + hdr + 3] ?? 0));
      out[n++] = 14;
    }
    // A byte loop: keys are tens of bytes, and a subarray per attribute cost more than the copy.
    if (code !== 15) for (let i = from; i < to; i++) out[n++] = frame[i]!;
    pos = next;
  }
  return n;
}

/**
 * The attributes without MP_REACH / MP_UNREACH (their NLRI live in the Adj-RIB-In), every other
 * field present and in one order, so that all stored sets share one V8 hidden class. Copying with
 * spread and then deleting the two fields, as before, left each set in dictionary mode with a
 * hidden class of its own (~3,000 of them for 3,000 sets in a heap snapshot).
 */
function withoutNlri(a: PathAttributes): PathAttributes {
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
    as4Path: a.as4Path,
    as4Aggregator: a.as4Aggregator,
    largeCommunities: a.largeCommunities,
    otc: a.otc,
    unknown: a.unknown,
  };
}

/**
 * Settles withoutNlri()'s hidden class at load: each field is built with each kind of value and
 * written once, as settleStoredShape in rib/attrs.ts does for the Loc-RIB's sets. Without it the
 * object literal's fields were specialised on the warm-up's sets, and the first real set without
 * a MED threw withoutNlri's code away ("not a Smi" in --trace-deopt). Kept so the class lives on.
 */
export const settledSessionShape: PathAttributes = (() => {
  let a = withoutNlri(uniformAttributes(undefined));
  for (const kind of FIELD_KINDS) a = withoutNlri(uniformAttributes(kind));
  settleFields(a);
  return Object.freeze(a);
})();
