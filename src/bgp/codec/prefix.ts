// NLRI prefixes in compact form (RFC 4271 §4.3 "Network Layer Reachability Information",
// RFC 4760 §5 for MP families, RFC 7911 §3 for ADD-PATH path identifiers).
// No object per prefix and no strings: a PrefixList is three typed arrays and a count.

import { formatIPv4, formatIPv6Words, parseIPv4, parseIPv6 } from './address.ts';
import { fail } from './errors.ts';
import { type DecodeResult, NotificationCode, type PrefixList, UpdateMessageErrorSubcode } from './types.ts';

const EMPTY_LENGTHS = new Uint8Array(0);
const EMPTY_WORDS = new Uint32Array(0);

export function emptyPrefixList(afi: 1 | 2): PrefixList {
  return { afi, count: 0, lengths: EMPTY_LENGTHS, words: EMPTY_WORDS, pathIds: null };
}

/**
 * Settles the hidden class of PrefixList objects at load. Every PrefixList literal lists its
 * fields in this order, so all share one V8 hidden class, and parsePrefixes() rewrites the
 * fields of a reused list (listOf). V8 treats a field as a constant until its first rewrite, and
 * that rewrite throws away all code optimised on it: in the middle of the start-up warm-up,
 * --trace-deopt showed "code dependencies" for view, encodePrefixes, packUpdates, applyUpdate
 * and decodeUpdate at the first reused list, and some of it was not optimised again before the
 * first real table. Each field is rewritten here, with each kind of value it holds, before any
 * code is optimised on it. Kept so that the hidden class lives on.
 */
export const settledPrefixListShape: PrefixList = (() => {
  const list: PrefixList = { afi: 1, count: 0, lengths: EMPTY_LENGTHS, words: EMPTY_WORDS, pathIds: null };
  listOf(list, 2, 1, new Uint8Array(1), new Uint32Array(4), new Uint32Array(1));
  listOf(list, 1, 0, EMPTY_LENGTHS, EMPTY_WORDS, null);
  const writable = list as { afi: 1 | 2 };
  writable.afi = 2;
  writable.afi = 1;
  return list;
})();

export function prefixStride(afi: 1 | 2): number {
  return afi === 1 ? 1 : 4;
}

/** Encoded size of one prefix of this length. */
export function prefixWireLength(length: number, withPathIds: boolean): number {
  return (withPathIds ? 5 : 1) + ((length + 7) >>> 3);
}

/** The 4-octet Path Identifier that leads an NLRI entry under ADD-PATH (RFC 7911 §3). */
function readPathId(buf: Uint8Array, pos: number): number {
  return ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>> 0;
}

/** Writes a Path Identifier (RFC 7911 §3), the inverse of readPathId. */
function writePathId(buf: Uint8Array, pos: number, id: number): void {
  buf[pos] = id >>> 24;
  buf[pos + 1] = id >>> 16;
  buf[pos + 2] = id >>> 8;
  buf[pos + 3] = id;
}

function listOf(
  into: PrefixList | undefined,
  afi: 1 | 2,
  count: number,
  lengths: Uint8Array,
  words: Uint32Array,
  pathIds: Uint32Array | null,
): PrefixList {
  if (into === undefined) return { afi, count, lengths, words, pathIds };
  into.count = count;
  into.lengths = lengths;
  into.words = words;
  into.pathIds = pathIds;
  return into;
}

/**
 * Parses NLRI bytes buf[start, end) into a PrefixList. Returns a reason string when the field is
 * malformed (a length beyond the address size, or a prefix running past end). Two passes: the first
 * validates and counts so the arrays are allocated exactly (never more than the bytes justify).
 *
 * With `into`, the result is written into that list (of the same AFI and path-id layout), reusing
 * its arrays when they are large enough, and `into` is returned: a receive path parsing hundreds of
 * thousands of UPDATEs then allocates nothing per UPDATE. An empty field still returns a fresh
 * empty list, and `into` is left as it was.
 */
export function parsePrefixes(
  buf: Uint8Array,
  start: number,
  end: number,
  afi: 1 | 2,
  withPathIds: boolean,
  into?: PrefixList,
): PrefixList | string {
  const maxLen = afi === 1 ? 32 : 128;
  let pos = start;
  let count = 0;
  while (pos < end) {
    if (withPathIds) {
      pos += 4;
      if (pos >= end) return `NLRI truncated in path identifier at byte ${pos - 4 - start}`;
    }
    const len = buf[pos] as number;
    if (len > maxLen) return `prefix length ${len} exceeds ${maxLen}`;
    pos += 1 + ((len + 7) >>> 3);
    if (pos > end) return `prefix /${len} runs past the end of the NLRI field`;
    count++;
  }
  if (count === 0) return emptyPrefixList(afi);
  const stride = afi === 1 ? 1 : 4;
  let lengths: Uint8Array;
  let words: Uint32Array;
  let pathIds: Uint32Array | null;
  if (into !== undefined && into.lengths.length >= count && (into.pathIds !== null) === withPathIds) {
    if (into.afi !== afi) throw new Error(`parsePrefixes: AFI ${afi} NLRI into an AFI ${into.afi} list`);
    lengths = into.lengths;
    words = into.words;
    pathIds = into.pathIds;
    // IPv6 words are assembled with |=.
    if (afi === 2) words.fill(0, 0, count * 4);
  } else {
    const cap = into === undefined ? count : Math.max(count, 16);
    lengths = new Uint8Array(cap);
    words = new Uint32Array(cap * stride);
    pathIds = withPathIds ? new Uint32Array(cap) : null;
  }
  pos = start;
  if (afi === 1) {
    for (let i = 0; i < count; i++) {
      if (pathIds !== null) {
        pathIds[i] = readPathId(buf, pos);
        pos += 4;
      }
      const len = buf[pos++]!;
      lengths[i] = len;
      let w = 0;
      switch ((len + 7) >>> 3) {
        case 4:
          w = (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!;
          pos += 4;
          break;
        case 3:
          w = (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8);
          pos += 3;
          break;
        case 2:
          w = (buf[pos]! << 24) | (buf[pos + 1]! << 16);
          pos += 2;
          break;
        case 1:
          w = buf[pos]! << 24;
          pos += 1;
          break;
        default:
          break;
      }
      // Host bits beyond the length are irrelevant (RFC 4271 §4.3); keep them zero.
      words[i] = len === 0 ? 0 : w & (0xffffffff << (32 - len));
    }
    return listOf(into, afi, count, lengths, words, pathIds);
  }
  for (let i = 0; i < count; i++) {
    if (pathIds !== null) {
      pathIds[i] = readPathId(buf, pos);
      pos += 4;
    }
    const len = buf[pos++]!;
    lengths[i] = len;
    const n = (len + 7) >>> 3;
    const base = i * 4;
    for (let k = 0; k < n; k++) words[base + (k >>> 2)]! |= buf[pos + k]! << (24 - 8 * (k & 3));
    pos += n;
    const lastWord = (len - 1) >>> 5;
    const rem = len & 31;
    if (len > 0 && rem !== 0) words[base + lastWord]! &= 0xffffffff << (32 - rem);
  }
  return listOf(into, afi, count, lengths, words, pathIds);
}

/**
 * parsePrefixes as a typed result: a malformed field is an UPDATE Message Error / Invalid Network
 * Field (RFC 4271 §6.3, RFC 7606 §5.3). For MRT RIB entries and other standalone NLRI.
 */
export function decodeNlri(
  buf: Uint8Array,
  start: number,
  end: number,
  afi: 1 | 2,
  withPathIds: boolean,
): DecodeResult<PrefixList> {
  const r = parsePrefixes(buf, start, end, afi, withPathIds);
  if (typeof r === 'string') {
    return fail(
      NotificationCode.UpdateMessageError,
      UpdateMessageErrorSubcode.InvalidNetworkField,
      new Uint8Array(0),
      r,
    );
  }
  return { ok: true, value: r };
}

/** Bytes needed to encode entries [from, to) of list. */
export function prefixesEncodingLength(
  list: PrefixList,
  from: number,
  to: number,
  withPathIds: boolean,
): number {
  const lengths = list.lengths;
  let total = withPathIds ? 5 * (to - from) : to - from;
  for (let i = from; i < to; i++) total += (lengths[i]! + 7) >>> 3;
  return total;
}

/** Writes entries [from, to) of list at offset; returns the offset after the last byte. */
export function encodePrefixes(
  list: PrefixList,
  from: number,
  to: number,
  withPathIds: boolean,
  buf: Uint8Array,
  offset: number,
): number {
  const { lengths, words, pathIds } = list;
  let pos = offset;
  if (list.afi === 1) {
    for (let i = from; i < to; i++) {
      if (withPathIds) {
        writePathId(buf, pos, pathIds === null ? 0 : pathIds[i]!);
        pos += 4;
      }
      const len = lengths[i]!;
      buf[pos++] = len;
      const w = words[i]!;
      const n = (len + 7) >>> 3;
      if (n > 0) buf[pos] = w >>> 24;
      if (n > 1) buf[pos + 1] = w >>> 16;
      if (n > 2) buf[pos + 2] = w >>> 8;
      if (n > 3) buf[pos + 3] = w;
      pos += (len + 7) >>> 3;
    }
    return pos;
  }
  for (let i = from; i < to; i++) {
    if (withPathIds) {
      writePathId(buf, pos, pathIds === null ? 0 : pathIds[i]!);
      pos += 4;
    }
    const len = lengths[i]!;
    buf[pos++] = len;
    const n = (len + 7) >>> 3;
    const base = i * 4;
    for (let k = 0; k < n; k++) buf[pos + k] = words[base + (k >>> 2)]! >>> (24 - 8 * (k & 3));
    pos += n;
  }
  return pos;
}

/**
 * Builds a PrefixList incrementally (for RIB export, tests, the CLI). Arrays grow by doubling;
 * finish() returns a list whose arrays are trimmed views.
 */
export class PrefixListBuilder {
  readonly afi: 1 | 2;
  private readonly stride: number;
  private count = 0;
  private lengths: Uint8Array;
  private words: Uint32Array;
  private pathIds: Uint32Array | null;

  constructor(afi: 1 | 2, withPathIds = false, capacity = 16) {
    this.afi = afi;
    this.stride = afi === 1 ? 1 : 4;
    const cap = Math.max(1, capacity);
    this.lengths = new Uint8Array(cap);
    this.words = new Uint32Array(cap * this.stride);
    this.pathIds = withPathIds ? new Uint32Array(cap) : null;
  }

  get size(): number {
    return this.count;
  }

  private grow(): void {
    const cap = this.lengths.length * 2;
    const lengths = new Uint8Array(cap);
    lengths.set(this.lengths);
    this.lengths = lengths;
    const words = new Uint32Array(cap * this.stride);
    words.set(this.words);
    this.words = words;
    if (this.pathIds !== null) {
      const ids = new Uint32Array(cap);
      ids.set(this.pathIds);
      this.pathIds = ids;
    }
  }

  /** Adds an IPv4 prefix (host bits are cleared). */
  addIPv4(word: number, length: number, pathId = 0): this {
    if (this.afi !== 1) throw new TypeError('addIPv4 on an IPv6 PrefixListBuilder');
    if (length < 0 || length > 32) throw new RangeError(`IPv4 prefix length ${length} out of range`);
    if (this.count === this.lengths.length) this.grow();
    const i = this.count++;
    this.lengths[i] = length;
    this.words[i] = length === 0 ? 0 : word & (0xffffffff << (32 - length));
    if (this.pathIds !== null) this.pathIds[i] = pathId;
    return this;
  }

  /** Adds an IPv6 prefix given as four words (host bits are cleared). */
  addIPv6(w0: number, w1: number, w2: number, w3: number, length: number, pathId = 0): this {
    if (this.afi !== 2) throw new TypeError('addIPv6 on an IPv4 PrefixListBuilder');
    if (length < 0 || length > 128) throw new RangeError(`IPv6 prefix length ${length} out of range`);
    if (this.count === this.lengths.length) this.grow();
    const i = this.count++;
    this.lengths[i] = length;
    const src = [w0, w1, w2, w3];
    for (let j = 0; j < 4; j++) {
      const bits = length - 32 * j;
      const w = src[j]!;
      this.words[i * 4 + j] = bits >= 32 ? w : bits <= 0 ? 0 : w & (0xffffffff << (32 - bits));
    }
    if (this.pathIds !== null) this.pathIds[i] = pathId;
    return this;
  }

  /** Copies entry i of another list of the same family. */
  addFrom(list: PrefixList, i: number): this {
    if (list.afi !== this.afi) throw new TypeError('addFrom across address families');
    const id = list.pathIds === null ? 0 : list.pathIds[i]!;
    if (this.afi === 1) return this.addIPv4(list.words[i]!, list.lengths[i]!, id);
    const b = i * 4;
    return this.addIPv6(
      list.words[b]!,
      list.words[b + 1]!,
      list.words[b + 2]!,
      list.words[b + 3]!,
      list.lengths[i]!,
      id,
    );
  }

  /** Adds a prefix in text form ('10.0.0.0/8', '2001:db8::/32'); throws on malformed text. */
  addText(text: string, pathId = 0): this {
    const p = parsePrefix(text);
    if (p === null) throw new TypeError(`not a prefix: ${JSON.stringify(text)}`);
    if (p.afi !== this.afi) throw new TypeError(`prefix ${text} is not of this builder's address family`);
    if (p.afi === 1) return this.addIPv4(p.words[0]!, p.length, pathId);
    return this.addIPv6(p.words[0]!, p.words[1]!, p.words[2]!, p.words[3]!, p.length, pathId);
  }

  finish(): PrefixList {
    if (this.count === 0) {
      return this.pathIds === null
        ? emptyPrefixList(this.afi)
        : { ...emptyPrefixList(this.afi), pathIds: new Uint32Array(0) };
    }
    return {
      afi: this.afi,
      count: this.count,
      lengths: this.lengths.slice(0, this.count),
      words: this.words.slice(0, this.count * this.stride),
      pathIds: this.pathIds === null ? null : this.pathIds.slice(0, this.count),
    };
  }
}

/** Text -> prefix ('10.0.0.0/8', '2001:db8::/32'), or null when malformed. Host bits are kept as given. */
export function parsePrefix(text: string): { afi: 1 | 2; length: number; words: number[] } | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const addr = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText)) return null;
  const length = Number(lenText);
  if (addr.includes(':')) {
    const w = parseIPv6(addr);
    if (w === null || length > 128) return null;
    return { afi: 2, length, words: w };
  }
  const w = parseIPv4(addr);
  if (w === null || length > 32) return null;
  return { afi: 1, length, words: [w] };
}

/** Entry i of list as text ('10.0.0.0/8'); with the path id appended as ' path-id N' when present. */
export function formatPrefix(list: PrefixList, i: number, withPathId = false): string {
  const len = list.lengths[i] ?? 0;
  let text: string;
  if (list.afi === 1) text = `${formatIPv4(list.words[i] ?? 0)}/${len}`;
  else {
    const b = i * 4;
    text = `${formatIPv6Words(list.words[b] ?? 0, list.words[b + 1] ?? 0, list.words[b + 2] ?? 0, list.words[b + 3] ?? 0)}/${len}`;
  }
  if (withPathId && list.pathIds !== null) text += ` path-id ${list.pathIds[i] ?? 0}`;
  return text;
}

/** All entries as text (tests/CLI). */
export function prefixListToStrings(list: PrefixList, withPathId = false): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.count; i++) out.push(formatPrefix(list, i, withPathId));
  return out;
}

/** Text prefixes of one family -> PrefixList (tests/CLI); throws on malformed text. */
export function prefixListFromStrings(
  afi: 1 | 2,
  texts: readonly string[],
  pathIds?: readonly number[],
): PrefixList {
  const b = new PrefixListBuilder(afi, pathIds !== undefined, texts.length);
  texts.forEach((t, i) => {
    b.addText(t, pathIds?.[i] ?? 0);
  });
  return b.finish();
}

/** Value equality of two lists (count entries; a missing pathIds array equals all-zero ids only if both null). */
export function prefixListsEqual(a: PrefixList, b: PrefixList): boolean {
  if (a.afi !== b.afi || a.count !== b.count) return false;
  if ((a.pathIds === null) !== (b.pathIds === null)) return false;
  const stride = a.afi === 1 ? 1 : 4;
  for (let i = 0; i < a.count; i++) {
    if (a.lengths[i] !== b.lengths[i]) return false;
    if (a.pathIds !== null && a.pathIds[i] !== b.pathIds![i]) return false;
  }
  for (let i = 0; i < a.count * stride; i++) if (a.words[i] !== b.words[i]) return false;
  return true;
}
