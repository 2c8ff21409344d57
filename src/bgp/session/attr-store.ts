// Interned path-attribute sets. Every route in every Adj-RIB-In refers to its attributes by a small
// integer id; identical attribute sets (the common case: one UPDATE carries hundreds of prefixes,
// and peers repeat the same sets) are stored once. Ids are reference counted by the routes that
// hold them and recycled when the last reference goes.
//
// The interning key is the attribute section's wire bytes (MP_REACH_NLRI reduced to its next hop,
// MP_UNREACH_NLRI left out), prefixed with the decode options that change their meaning. Decoding is
// deterministic, so equal keys mean equal decoded attributes, without building a key per field.

import type { PathAttributes } from '../codec/index.ts';

export interface StoredAttributes {
  readonly id: number;
  /** Decoded attributes without mpReach / mpUnreach (the NLRI live in the Adj-RIB-In). */
  readonly attributes: Readonly<PathAttributes>;
  /** The MP_REACH_NLRI next hop (raw; 4, 16 or 32 bytes), or null for IPv4 NEXT_HOP routes. */
  readonly mpNextHop: Uint8Array | null;
}

export class AttributeStore {
  private readonly byKey = new Map<string, number>();
  private entries: (StoredAttributes | undefined)[] = [];
  private keys: (string | undefined)[] = [];
  private refs = new Int32Array(1024);
  private readonly free: number[] = [];

  /** Number of distinct attribute sets held. */
  get size(): number {
    return this.byKey.size;
  }

  /**
   * Returns the id for `key`, storing `attributes` if the key is new. The id is returned with no
   * reference taken: the caller adds one per route with ref().
   */
  intern(key: string, make: () => { attributes: PathAttributes; mpNextHop: Uint8Array | null }): number {
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    const id = this.free.pop() ?? this.entries.length;
    if (id >= this.refs.length) {
      const refs = new Int32Array(this.refs.length * 2);
      refs.set(this.refs);
      this.refs = refs;
    }
    const { attributes, mpNextHop } = make();
    const stored: PathAttributes = { ...attributes };
    delete stored.mpReach;
    delete stored.mpUnreach;
    this.entries[id] = Object.freeze({ id, attributes: Object.freeze(stored), mpNextHop });
    this.keys[id] = key;
    this.refs[id] = 0;
    this.byKey.set(key, id);
    return id;
  }

  get(id: number): StoredAttributes | undefined {
    return this.entries[id];
  }

  refCount(id: number): number {
    return this.refs[id] ?? 0;
  }

  ref(id: number, n = 1): void {
    this.refs[id]! += n;
  }

  /** Drops n references; the set is forgotten when none remain. */
  unref(id: number, n = 1): void {
    this.refs[id]! -= n;
    const left = this.refs[id]!;
    if (left > 0) return;
    if (left < 0) throw new Error(`attribute set ${id} released more often than referenced`);
    const key = this.keys[id];
    if (key !== undefined) this.byKey.delete(key);
    this.entries[id] = undefined;
    this.keys[id] = undefined;
    this.free.push(id);
  }
}

/**
 * The interning key of an UPDATE's attributes: the wire bytes of the path attribute section with
 * MP_REACH_NLRI cut to (AFI, SAFI, next hop) and MP_UNREACH_NLRI omitted. `frame` is the whole
 * message, header included. Returns null when the frame is too short to hold the fields (the
 * decoder will have refused it already).
 */
export function attributeKey(frame: Uint8Array, fourOctetAs: boolean): string | null {
  const body = 19;
  if (frame.length < body + 4) return null;
  const wlen = (frame[body]! << 8) | frame[body + 1]!;
  let pos = body + 2 + wlen;
  if (pos + 2 > frame.length) return null;
  const alen = (frame[pos]! << 8) | frame[pos + 1]!;
  pos += 2;
  const end = pos + alen;
  if (end > frame.length) return null;
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  let key = fourOctetAs ? '4' : '2';
  while (pos < end) {
    const flags = frame[pos]!;
    const code = frame[pos + 1]!;
    const ext = (flags & 0x10) !== 0;
    const hdr = ext ? 4 : 3;
    if (pos + hdr > end) return null;
    const len = ext ? (frame[pos + 2]! << 8) | frame[pos + 3]! : frame[pos + 2]!;
    const next = pos + hdr + len;
    if (next > end) return null;
    if (code === 14) {
      // AFI(2) SAFI(1) NHlen(1) NH(NHlen)
      const nhl = frame[pos + hdr + 3] ?? 0;
      key += buf.toString('latin1', pos + hdr, Math.min(next, pos + hdr + 4 + nhl));
    } else if (code !== 15) {
      key += buf.toString('latin1', pos, next);
    }
    pos = next;
  }
  return key;
}
