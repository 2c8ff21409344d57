// The UPDATE packer: prefixes that share an attribute set go into as few UPDATEs as the
// negotiated maximum message size allows (4096, or 65535 with RFC 8654), like BIRD's export
// buckets. IPv4 unicast uses the Withdrawn Routes / NLRI fields; every other family (and IPv4
// with an RFC 8950 IPv6 next hop) uses MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760), which is
// placed first in the attribute block (RFC 7606 §5.1).

import { encodePathAttributesWithin, pathAttributesLength } from './attributes.ts';
import { encodePrefixes } from './prefix.ts';
import {
  AttributeCode,
  AttributeFlag,
  type CodecOptions,
  Family,
  type FamilyKey,
  familyAfi,
  familyName,
  familySafi,
  isPrefixFamily,
  MessageType,
  maxMessageLength,
  type PackedUpdates,
  type PathAttributes,
  type PrefixList,
  type UpdateGroup,
  type WithdrawGroup,
} from './types.ts';

/**
 * An UpdateGroup whose prefixes are entries [start, start + count) of a larger list: an
 * Adj-RIB-Out batch holds every bucket's prefixes in one set of arrays, grouped by bucket. The
 * packer reads the range in place; `prefixes` makes views of it only for a consumer that asks
 * for them (the output backlog, tests), so a commit does not build a PrefixList and two typed
 * array views per bucket per peer (a fifth of what a 1M-route load allocated). A copy made with
 * object spread is a plain UpdateGroup: it has to say `prefixes` itself, and is packed from it.
 */
export class PrefixRangeGroup implements UpdateGroup {
  private view: PrefixList | null = null;
  family!: FamilyKey;
  attributes!: PathAttributes;
  mpNextHop: Uint8Array | undefined;
  /** the list the range is taken from; valid as long as the group is */
  source!: PrefixList;
  start!: number;
  count!: number;

  constructor(
    family: FamilyKey,
    attributes: PathAttributes,
    mpNextHop: Uint8Array | undefined,
    source: PrefixList,
    start: number,
    count: number,
  ) {
    this.reuse(family, attributes, mpNextHop, source, start, count);
  }

  /**
   * Points the group at another range, for an owner that reuses its groups from one batch to the
   * next (update-group.ts) and knows the previous batch's groups are packed and dropped.
   */
  reuse(
    family: FamilyKey,
    attributes: PathAttributes,
    mpNextHop: Uint8Array | undefined,
    source: PrefixList,
    start: number,
    count: number,
  ): this {
    this.family = family;
    this.attributes = attributes;
    this.mpNextHop = mpNextHop;
    this.source = source;
    this.start = start;
    this.count = count;
    this.view = null;
    return this;
  }

  get prefixes(): PrefixList {
    if (this.view === null) {
      const { afi, lengths, words, pathIds } = this.source;
      const s = this.start;
      const e = s + this.count;
      const stride = afi === 1 ? 1 : 4;
      this.view = {
        afi,
        count: this.count,
        lengths: lengths.subarray(s, e),
        words: words.subarray(s * stride, e * stride),
        pathIds: pathIds === null ? null : pathIds.subarray(s, e),
      };
    }
    return this.view;
  }
}

/** Output blocks hold many messages; chunks are the filled parts of blocks. */
const BLOCK_SIZE = 1 << 20;

class Output {
  readonly chunks: Buffer[] = [];
  /** length of every message, in order, to cut chunks into messages on demand */
  readonly lengths: number[] = [];
  /** the block the next message goes into, at pos */
  block: Buffer = Buffer.allocUnsafe(0);
  pos = 0;
  private chunkStart = 0;

  /** Makes room for a message of up to size octets at block[pos]. */
  reserve(size: number): void {
    if (this.block.length - this.pos < size) {
      this.closeChunk();
      this.block = Buffer.allocUnsafe(Math.max(BLOCK_SIZE, size));
      this.pos = 0;
      this.chunkStart = 0;
    }
  }

  commit(length: number): void {
    this.lengths.push(length);
    this.pos += length;
  }

  closeChunk(): void {
    if (this.pos > this.chunkStart) this.chunks.push(this.block.subarray(this.chunkStart, this.pos));
    this.chunkStart = this.pos;
  }
}

class Packed implements PackedUpdates {
  private cut: Buffer[] | null = null;
  constructor(
    readonly chunks: Buffer[],
    private readonly lengths: number[],
    readonly prefixCount: number,
    readonly failed: { group: UpdateGroup; reason: string }[],
  ) {}

  get messageCount(): number {
    return this.lengths.length;
  }

  get messages(): Buffer[] {
    if (this.cut === null) {
      const out: Buffer[] = [];
      let m = 0;
      for (const chunk of this.chunks) {
        let at = 0;
        while (at < chunk.length) {
          const len = this.lengths[m++]!;
          out.push(chunk.subarray(at, at + len));
          at += len;
        }
      }
      this.cut = out;
    }
    return this.cut;
  }
}

/** Scratch for one group's attribute block (never larger than an extended message). */
const SCRATCH = Buffer.allocUnsafe(65536);

/**
 * Encoded attribute blocks of frozen attribute objects, one cache per AS number size. The RIB
 * hands the packer the same frozen (interned) object for an attribute set on every commit, so a
 * set is encoded once rather than once per commit and update group: 1M one-prefix UPDATEs through
 * a reflector re-encoded its 3,000 sets ~300k times, 7% of the profile. Only frozen objects are
 * cached, since nothing can change their fields; the RIB never writes into an interned set's
 * arrays either. Entries go with their objects (a WeakMap). Two maps, not one holding a pair: the
 * pair was an array per set, and a copy of SCRATCH (a Buffer) a Buffer; a plain Uint8Array of at
 * most 64 octets lives in V8's heap without an ArrayBuffer or a backing store of its own.
 */
const blockCache2 = new WeakMap<PathAttributes, Uint8Array>();
const blockCache4 = new WeakMap<PathAttributes, Uint8Array>();

/**
 * The encoded path attributes of a group (MP_REACH/MP_UNREACH excluded), at most `room` octets,
 * or the length they would need, negated, when they do not fit. The result may be SCRATCH: use
 * it before the next call.
 */
function attributeBlock(a: PathAttributes, opts: CodecOptions, room: number): Uint8Array | number {
  const frozen = Object.isFrozen(a);
  const cache = opts.fourOctetAs ? blockCache4 : blockCache2;
  if (frozen) {
    const block = cache.get(a);
    if (block !== undefined && block.length <= room) return block;
  }
  const attrs = attributesWithoutMp(a);
  const len = encodePathAttributesWithin(attrs, opts, SCRATCH, 0, room);
  if (len < 0) return -pathAttributesLength(attrs, opts);
  if (!frozen) return SCRATCH.subarray(0, len);
  const block = new Uint8Array(len);
  block.set(SCRATCH.subarray(0, len));
  cache.set(a, block);
  return block;
}

function writeUpdateHeader(buf: Uint8Array, at: number, length: number): void {
  buf.fill(0xff, at, at + 16);
  buf[at + 16] = length >>> 8;
  buf[at + 17] = length;
  buf[at + 18] = MessageType.Update;
}

/**
 * How many entries from `from` fit in `room` octets; sizes follow RFC 4271 §4.3 (+4 per path id).
 */
function fitPrefixes(list: PrefixList, from: number, n: number, room: number, withPathIds: boolean): number {
  const lengths = list.lengths;
  const fixed = withPathIds ? 5 : 1;
  let j = from;
  while (j < n) {
    const sz = fixed + ((lengths[j]! + 7) >>> 3);
    if (sz > room) break;
    room -= sz;
    j++;
  }
  return j;
}

function attributesWithoutMp(attrs: PathAttributes): PathAttributes {
  if (attrs.mpReach === undefined && attrs.mpUnreach === undefined) return attrs;
  const copy = { ...attrs };
  delete copy.mpReach;
  delete copy.mpUnreach;
  return copy;
}

/** Writes an MP attribute header for a value of valueLength; returns the new offset. */
function writeMpHeader(buf: Uint8Array, p: number, code: number, valueLength: number): number {
  if (valueLength > 255) {
    buf[p] = AttributeFlag.Optional | AttributeFlag.ExtendedLength;
    buf[p + 1] = code;
    buf[p + 2] = valueLength >>> 8;
    buf[p + 3] = valueLength;
    return p + 4;
  }
  buf[p] = AttributeFlag.Optional;
  buf[p + 1] = code;
  buf[p + 2] = valueLength;
  return p + 3;
}

/**
 * An UPDATE with no Withdrawn Routes: Withdrawn Routes Length 0, then Total Path Attribute Length
 * (RFC 4271 §4.3), at the octets after the 19-octet header.
 */
function writeNoWithdrawnAndAttributesLength(buf: Uint8Array, at: number, attrLen: number): void {
  buf[at + 19] = 0;
  buf[at + 20] = 0;
  buf[at + 21] = attrLen >>> 8;
  buf[at + 22] = attrLen;
}

/** AFI (2 octets) and SAFI (1) of an MP_REACH_NLRI / MP_UNREACH_NLRI value (RFC 4760 §3, §4). */
function writeAfiSafi(buf: Uint8Array, p: number, family: FamilyKey): void {
  const afi = familyAfi(family);
  buf[p] = afi >>> 8;
  buf[p + 1] = afi;
  buf[p + 2] = familySafi(family);
}

/**
 * Packs withdrawals, then announcements, into UPDATE messages of at most the negotiated size.
 * Withdrawals of IPv4 unicast use the Withdrawn Routes field; others MP_UNREACH_NLRI. Each group's
 * attribute block is encoded once and copied into each of its messages. Groups that cannot be
 * sent (their attributes alone exceed the message size, or the family has no prefix NLRI) are
 * reported in failed, not thrown.
 */
export function packUpdates(
  groups: readonly UpdateGroup[],
  withdrawals: readonly WithdrawGroup[],
  opts: CodecOptions,
): PackedUpdates {
  const out = new Output();
  const max = maxMessageLength(opts);
  const failed: { group: UpdateGroup; reason: string }[] = [];
  let prefixCount = 0;

  for (let wi = 0; wi < withdrawals.length; wi++) {
    const w = withdrawals[wi]!;
    const list = w.prefixes;
    if (list.count === 0) continue;
    const withIds = opts.addPath.has(w.family);
    if (w.family === Family.IPv4Unicast) {
      let i = 0;
      while (i < list.count) {
        const j = fitPrefixes(list, i, list.count, max - 23, withIds);
        out.reserve(max);
        const buf = out.block;
        const at = out.pos;
        const end = encodePrefixes(list, i, j, withIds, buf, at + 21);
        const wlen = end - at - 21;
        buf[at + 19] = wlen >>> 8;
        buf[at + 20] = wlen;
        buf[end] = 0;
        buf[end + 1] = 0;
        writeUpdateHeader(buf, at, end + 2 - at);
        out.commit(end + 2 - at);
        prefixCount += j - i;
        i = j;
      }
      continue;
    }
    // MP_UNREACH_NLRI: header(<= 4) + AFI(2) + SAFI(1) + NLRI
    let i = 0;
    while (i < list.count) {
      const j = fitPrefixes(list, i, list.count, max - 23 - 4 - 3, withIds);
      out.reserve(max);
      const buf = out.block;
      const at = out.pos;
      // write the NLRI after a provisional 4-octet header, then fix up
      const valueStart = at + 23 + 4;
      const end = encodePrefixes(list, i, j, withIds, buf, valueStart + 3);
      const valueLength = end - valueStart;
      let p = at + 23;
      if (valueLength <= 255) {
        buf.copyWithin(valueStart - 1 + 3, valueStart + 3, end);
        p = writeMpHeader(buf, p, AttributeCode.MpUnreachNlri, valueLength);
      } else p = writeMpHeader(buf, p, AttributeCode.MpUnreachNlri, valueLength);
      writeAfiSafi(buf, p, w.family);
      const msgEnd = p + valueLength;
      writeNoWithdrawnAndAttributesLength(buf, at, msgEnd - at - 23);
      writeUpdateHeader(buf, at, msgEnd - at);
      out.commit(msgEnd - at);
      prefixCount += j - i;
      i = j;
    }
  }

  // Indexed loops, here and above: packing often runs before V8 optimises it, and an
  // unoptimised for-of allocates an iterator result per group.
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi]!;
    // A range group is read in place (see PrefixRangeGroup); [first, last) of list is the group.
    const ranged = g instanceof PrefixRangeGroup;
    const list = ranged ? g.source : g.prefixes;
    const first = ranged ? g.start : 0;
    const last = ranged ? g.start + g.count : list.count;
    if (last === first) continue;
    if (!isPrefixFamily(g.family) || list.afi !== familyAfi(g.family)) {
      failed.push({ group: g, reason: `family ${familyName(g.family)} cannot carry these prefixes` });
      continue;
    }
    const withIds = opts.addPath.has(g.family);
    const block = attributeBlock(g.attributes, opts, max - 23);
    if (typeof block === 'number') {
      failed.push({
        group: g,
        reason: `attribute set of ${-block} octets does not fit a ${max}-octet UPDATE`,
      });
      continue;
    }
    const attrLen = block.length;

    if (g.family === Family.IPv4Unicast && g.mpNextHop === undefined) {
      const room = max - 23 - attrLen;
      let i = first;
      while (i < last) {
        const j = fitPrefixes(list, i, last, room, withIds);
        if (j === i) {
          failed.push({ group: g, reason: `attribute set of ${attrLen} octets leaves no room for a prefix` });
          break;
        }
        out.reserve(max);
        const buf = out.block;
        const at = out.pos;
        writeNoWithdrawnAndAttributesLength(buf, at, attrLen);
        buf.set(block, at + 23);
        const end = encodePrefixes(list, i, j, withIds, buf, at + 23 + attrLen);
        writeUpdateHeader(buf, at, end - at);
        out.commit(end - at);
        prefixCount += j - i;
        i = j;
      }
      continue;
    }

    // MP_REACH_NLRI: header(<= 4) + AFI(2) + SAFI(1) + NH len(1) + NH + reserved(1) + NLRI
    const nh = g.mpNextHop;
    if (nh === undefined) {
      failed.push({ group: g, reason: `family ${familyName(g.family)} needs mpNextHop` });
      continue;
    }
    const mpFixed = 5 + nh.length;
    const room = max - 23 - attrLen - 4 - mpFixed;
    let i = first;
    while (i < last) {
      const j = room > 0 ? fitPrefixes(list, i, last, room, withIds) : i;
      if (j === i) {
        failed.push({ group: g, reason: `attribute set of ${attrLen} octets leaves no room for a prefix` });
        break;
      }
      out.reserve(max);
      const buf = out.block;
      const at = out.pos;
      const valueStart = at + 23 + 4;
      const nlriStart = valueStart + mpFixed;
      const nlriEnd = encodePrefixes(list, i, j, withIds, buf, nlriStart);
      const valueLength = nlriEnd - valueStart;
      let p: number;
      if (valueLength <= 255) {
        // a 3-octet header suffices: slide the NLRI one octet left
        buf.copyWithin(nlriStart - 1, nlriStart, nlriEnd);
        p = writeMpHeader(buf, at + 23, AttributeCode.MpReachNlri, valueLength);
      } else p = writeMpHeader(buf, at + 23, AttributeCode.MpReachNlri, valueLength);
      writeAfiSafi(buf, p, g.family);
      buf[p + 3] = nh.length;
      buf.set(nh, p + 4);
      buf[p + 4 + nh.length] = 0;
      const mpEnd = p + valueLength;
      buf.set(block, mpEnd);
      const msgEnd = mpEnd + attrLen;
      writeNoWithdrawnAndAttributesLength(buf, at, msgEnd - at - 23);
      writeUpdateHeader(buf, at, msgEnd - at);
      out.commit(msgEnd - at);
      prefixCount += j - i;
      i = j;
    }
  }
  out.closeChunk();
  return new Packed(out.chunks, out.lengths, prefixCount, failed);
}

/**
 * One instance of each class packUpdates makes and drops per call, kept for the process's life.
 * Why: the hidden class a constructor's fields give an object lives only while such an object
 * does (the class's map transitions are weak). A full collection that finds none frees it, and V8
 * throws away the optimised code that makes these objects ("weak objects" in --trace-deopt). The
 * start-up warm-up's last collection found none, so the first real table compiled packUpdates,
 * Output.reserve and their callers again. A test (kept-shapes.test.ts) shows the effect.
 */
export const keptPackerShapes: readonly object[] = [
  new Output(),
  new Packed([], [], 0, []),
  new PrefixRangeGroup(
    Family.IPv4Unicast,
    {},
    undefined,
    { afi: 1, count: 0, lengths: new Uint8Array(0), words: new Uint32Array(0), pathIds: null },
    0,
    0,
  ),
];
