// Path attributes, table-driven like BIRD's bgp_attr_table (proto/bgp/attrs.c): one entry per type
// code with its expected flags, its RFC 7606 §7 error action, and its decode/encode functions.
// The whole attribute block decodes into one PathAttributes object.

import {
  asPathHasFourOctetAs,
  asPathWireLength,
  asPathWithoutConfed,
  mergeAs4Path,
  parseAsPath,
  writeAsPath,
} from './aspath.ts';
import { attributeError, codecError } from './errors.ts';
import { encodePrefixes, parsePrefixes, prefixesEncodingLength } from './prefix.ts';
import {
  AS_TRANS,
  AttributeCode,
  type AttributeError,
  AttributeFlag,
  type CodecError,
  type CodecOptions,
  type DecodedAttributes,
  type DecodeResult,
  type ErrorAction,
  familyKey,
  isPrefixFamily,
  type MpReach,
  type MpUnreach,
  NotificationCode,
  type PathAttributes,
  UpdateMessageErrorSubcode,
} from './types.ts';

const O = AttributeFlag.Optional;
const T = AttributeFlag.Transitive;
const P = AttributeFlag.Partial;
const X = AttributeFlag.ExtendedLength;

/** Options for decodePathAttributes beyond the session's CodecOptions. */
export interface AttributeDecodeOptions {
  /**
   * RFC 6396 §4.3.4: MP_REACH_NLRI in TABLE_DUMP_V2 RIB entries holds only the next-hop length
   * and next hop. Give the RIB entry's family here; a full-form MP_REACH_NLRI is still accepted
   * (some writers emit one), recognised by its first octet not being attribute length - 1.
   */
  readonly mrtFamily?: number;
}

interface DecodeContext {
  readonly opts: CodecOptions;
  readonly mrtFamily: number | undefined;
}

/** What an attribute decoder returns: null when fine, a reason for the table's action, or a specific session reset. */
type AttrDecodeOutcome = null | string | CodecError;

export interface AttributeSpec {
  readonly code: number;
  readonly name: string;
  /** expected Optional | Transitive bits (RFC 4271 §5, and each attribute's RFC) */
  readonly flags: number;
  /** RFC 7606 §7 action for a malformed attribute */
  readonly malformed: ErrorAction;
  /** RFC 4271 §6.3 subcode used when malformed means session reset */
  readonly subcode: number;
  decode(
    buf: Uint8Array,
    start: number,
    end: number,
    attrs: PathAttributes,
    ctx: DecodeContext,
  ): AttrDecodeOutcome;
  /** Value length to send, or -1 when the attribute is not sent for these attributes/options. */
  valueLength(attrs: PathAttributes, opts: CodecOptions): number;
  /** Writes the value (not the header) at offset; returns the new offset. */
  encode(attrs: PathAttributes, opts: CodecOptions, buf: Uint8Array, offset: number): number;
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
}
function put32(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v >>> 24;
  buf[p + 1] = v >>> 16;
  buf[p + 2] = v >>> 8;
  buf[p + 3] = v;
}
function put16(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v >>> 8;
  buf[p + 1] = v;
}

/** Copy of buf[start, end) as a plain Uint8Array (never a view that pins the socket buffer). */
export function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(buf.subarray(start, end));
  return out;
}

function readWords(buf: Uint8Array, start: number, end: number): Uint32Array {
  const n = (end - start) >>> 2;
  const out = new Uint32Array(n);
  for (let i = 0, p = start; i < n; i++, p += 4) out[i] = u32(buf, p);
  return out;
}
function writeWords(words: Uint32Array, buf: Uint8Array, offset: number): number {
  let p = offset;
  for (let i = 0; i < words.length; i++, p += 4) put32(buf, p, words[i]!);
  return p;
}

function fixedU32(
  code: number,
  name: string,
  flags: number,
  get: (a: PathAttributes) => number | undefined,
  set: (a: PathAttributes, v: number) => void,
): AttributeSpec {
  return {
    code,
    name,
    flags,
    malformed: 'treat-as-withdraw',
    subcode: UpdateMessageErrorSubcode.AttributeLengthError,
    decode(buf, start, end, attrs) {
      if (end - start !== 4) return `${name} length ${end - start}, expected 4`;
      set(attrs, u32(buf, start));
      return null;
    },
    valueLength: (a) => (get(a) === undefined ? -1 : 4),
    encode(a, _o, buf, offset) {
      put32(buf, offset, get(a)!);
      return offset + 4;
    },
  };
}

function wordList(
  code: number,
  name: string,
  wordsPerItem: number,
  get: (a: PathAttributes) => Uint32Array | undefined,
  set: (a: PathAttributes, v: Uint32Array) => void,
  flags: number,
): AttributeSpec {
  const itemBytes = wordsPerItem * 4;
  return {
    code,
    name,
    flags,
    malformed: 'treat-as-withdraw',
    subcode: UpdateMessageErrorSubcode.OptionalAttributeError,
    decode(buf, start, end, attrs) {
      const len = end - start;
      if (len === 0 || len % itemBytes !== 0)
        return `${name} length ${len} is not a non-zero multiple of ${itemBytes}`;
      set(attrs, readWords(buf, start, end));
      return null;
    },
    valueLength(a) {
      const w = get(a);
      return w === undefined || w.length === 0 ? -1 : w.length * 4;
    },
    encode: (a, _o, buf, offset) => writeWords(get(a)!, buf, offset),
  };
}

function aggregatorSpec(four: boolean): AttributeSpec {
  const code = four ? AttributeCode.As4Aggregator : AttributeCode.Aggregator;
  const name = four ? 'AS4_AGGREGATOR' : 'AGGREGATOR';
  return {
    code,
    name,
    flags: O | T,
    // RFC 7606 §7.7 (AGGREGATOR), RFC 6793 §6 (AS4_AGGREGATOR): discard the attribute
    malformed: 'attribute-discard',
    subcode: UpdateMessageErrorSubcode.AttributeLengthError,
    decode(buf, start, end, attrs, ctx) {
      const asSize = four || ctx.opts.fourOctetAs ? 4 : 2;
      if (end - start !== asSize + 4) return `${name} length ${end - start}, expected ${asSize + 4}`;
      const asn = asSize === 4 ? u32(buf, start) : (buf[start]! << 8) | buf[start + 1]!;
      const value = { asn, address: u32(buf, start + asSize) };
      if (four) attrs.as4Aggregator = value;
      else attrs.aggregator = value;
      return null;
    },
    valueLength(a, o) {
      if (a.aggregator === undefined) return -1;
      if (four) return !o.fourOctetAs && a.aggregator.asn > 0xffff ? 8 : -1;
      return o.fourOctetAs ? 8 : 6;
    },
    encode(a, o, buf, offset) {
      const ag = a.aggregator!;
      if (four || o.fourOctetAs) {
        put32(buf, offset, ag.asn);
        put32(buf, offset + 4, ag.address);
        return offset + 8;
      }
      put16(buf, offset, ag.asn > 0xffff ? AS_TRANS : ag.asn);
      put32(buf, offset + 2, ag.address);
      return offset + 6;
    },
  };
}

/** RFC 4760 §3 next hop lengths accepted for the prefix families (RFC 2545 §3, RFC 8950 §3). */
function validNextHopLength(afi: number, len: number): boolean {
  if (afi === 1) return len === 4 || len === 16 || len === 32;
  return len === 16 || len === 32;
}

const mpReachSpec: AttributeSpec = {
  code: AttributeCode.MpReachNlri,
  name: 'MP_REACH_NLRI',
  flags: O,
  // RFC 7606 §7.11: session reset (or AFI/SAFI disable, which is a session-level choice)
  malformed: 'session-reset',
  subcode: UpdateMessageErrorSubcode.OptionalAttributeError,
  decode(buf, start, end, attrs, ctx) {
    const len = end - start;
    if (ctx.mrtFamily !== undefined && len >= 1 && buf[start]! + 1 === len) {
      // RFC 6396 §4.3.4 abbreviated form: next hop length and next hop only
      attrs.mpReach = {
        afi: ctx.mrtFamily >>> 8,
        safi: ctx.mrtFamily & 0xff,
        nextHop: copyBytes(buf, start + 1, end),
        nlri: null,
        rawNlri: null,
      };
      return null;
    }
    if (len < 5) return `MP_REACH_NLRI length ${len} is too short`;
    const afi = (buf[start]! << 8) | buf[start + 1]!;
    const safi = buf[start + 2]!;
    const nhLen = buf[start + 3]!;
    const nlriStart = start + 4 + nhLen + 1;
    if (nlriStart > end) return `MP_REACH_NLRI next hop length ${nhLen} overruns the attribute`;
    const family = familyKey(afi, safi);
    const nextHop = copyBytes(buf, start + 4, start + 4 + nhLen);
    if (isPrefixFamily(family)) {
      if (!validNextHopLength(afi, nhLen))
        return `MP_REACH_NLRI next hop length ${nhLen} is invalid for AFI ${afi}`;
      const list = parsePrefixes(buf, nlriStart, end, afi as 1 | 2, ctx.opts.addPath.has(family));
      if (typeof list === 'string') {
        return codecError(
          NotificationCode.UpdateMessageError,
          UpdateMessageErrorSubcode.InvalidNetworkField,
          new Uint8Array(0),
          `MP_REACH_NLRI: ${list}`,
          AttributeCode.MpReachNlri,
        );
      }
      attrs.mpReach = { afi, safi, nextHop, nlri: list, rawNlri: null };
    } else {
      attrs.mpReach = { afi, safi, nextHop, nlri: null, rawNlri: copyBytes(buf, nlriStart, end) };
    }
    return null;
  },
  valueLength(a, o) {
    const m = a.mpReach;
    if (m === undefined) return -1;
    return 5 + m.nextHop.length + mpNlriLength(m, o);
  },
  encode(a, o, buf, offset) {
    const m = a.mpReach!;
    put16(buf, offset, m.afi);
    buf[offset + 2] = m.safi;
    buf[offset + 3] = m.nextHop.length;
    buf.set(m.nextHop, offset + 4);
    let p = offset + 4 + m.nextHop.length;
    buf[p++] = 0; // Reserved (RFC 4760 §3)
    return writeMpNlri(m, o, buf, p);
  },
};

function mpNlriLength(m: MpReach | MpUnreach, o: CodecOptions): number {
  if (m.nlri !== null)
    return prefixesEncodingLength(m.nlri, 0, m.nlri.count, o.addPath.has(familyKey(m.afi, m.safi)));
  return m.rawNlri === null ? 0 : m.rawNlri.length;
}
function writeMpNlri(m: MpReach | MpUnreach, o: CodecOptions, buf: Uint8Array, p: number): number {
  if (m.nlri !== null) {
    return encodePrefixes(m.nlri, 0, m.nlri.count, o.addPath.has(familyKey(m.afi, m.safi)), buf, p);
  }
  if (m.rawNlri !== null) {
    buf.set(m.rawNlri, p);
    return p + m.rawNlri.length;
  }
  return p;
}

const mpUnreachSpec: AttributeSpec = {
  code: AttributeCode.MpUnreachNlri,
  name: 'MP_UNREACH_NLRI',
  flags: O,
  // RFC 7606 §7.12
  malformed: 'session-reset',
  subcode: UpdateMessageErrorSubcode.OptionalAttributeError,
  decode(buf, start, end, attrs, ctx) {
    if (end - start < 3) return `MP_UNREACH_NLRI length ${end - start} is too short`;
    const afi = (buf[start]! << 8) | buf[start + 1]!;
    const safi = buf[start + 2]!;
    const family = familyKey(afi, safi);
    if (isPrefixFamily(family)) {
      const list = parsePrefixes(buf, start + 3, end, afi as 1 | 2, ctx.opts.addPath.has(family));
      if (typeof list === 'string') {
        return codecError(
          NotificationCode.UpdateMessageError,
          UpdateMessageErrorSubcode.InvalidNetworkField,
          new Uint8Array(0),
          `MP_UNREACH_NLRI: ${list}`,
          AttributeCode.MpUnreachNlri,
        );
      }
      attrs.mpUnreach = { afi, safi, nlri: list, rawNlri: null };
    } else {
      attrs.mpUnreach = { afi, safi, nlri: null, rawNlri: copyBytes(buf, start + 3, end) };
    }
    return null;
  },
  valueLength(a, o) {
    const m = a.mpUnreach;
    return m === undefined ? -1 : 3 + mpNlriLength(m, o);
  },
  encode(a, o, buf, offset) {
    const m = a.mpUnreach!;
    put16(buf, offset, m.afi);
    buf[offset + 2] = m.safi;
    return writeMpNlri(m, o, buf, offset + 3);
  },
};

function asPathSpec(four: boolean): AttributeSpec {
  const name = four ? 'AS4_PATH' : 'AS_PATH';
  return {
    code: four ? AttributeCode.As4Path : AttributeCode.AsPath,
    name,
    flags: four ? O | T : T,
    // RFC 7606 §7.2 (AS_PATH) treat-as-withdraw; RFC 6793 §6 (AS4_PATH) attribute discard
    malformed: four ? 'attribute-discard' : 'treat-as-withdraw',
    subcode: four
      ? UpdateMessageErrorSubcode.OptionalAttributeError
      : UpdateMessageErrorSubcode.MalformedAsPath,
    decode(buf, start, end, attrs, ctx) {
      const path = parseAsPath(buf, start, end, four || ctx.opts.fourOctetAs ? 4 : 2);
      if (typeof path === 'string') return `${name}: ${path}`;
      if (four) {
        // RFC 6793 §6: confederation segments in AS4_PATH are discarded
        attrs.as4Path = asPathWithoutConfed(path);
      } else attrs.asPath = path;
      return null;
    },
    valueLength(a, o) {
      const path = a.asPath;
      if (path === undefined) return -1;
      if (!four) return asPathWireLength(path, o.fourOctetAs ? 4 : 2);
      // RFC 6793 §4.2.2: AS4_PATH only towards a 2-octet peer and only when some ASN needs 4 octets
      if (o.fourOctetAs || !asPathHasFourOctetAs(path)) return -1;
      return asPathWireLength(asPathWithoutConfed(path), 4);
    },
    encode(a, o, buf, offset) {
      const path = a.asPath!;
      if (!four) return writeAsPath(path, o.fourOctetAs ? 4 : 2, buf, offset);
      return writeAsPath(asPathWithoutConfed(path), 4, buf, offset);
    },
  };
}

const originSpec: AttributeSpec = {
  code: AttributeCode.Origin,
  name: 'ORIGIN',
  flags: T,
  malformed: 'treat-as-withdraw', // RFC 7606 §7.1
  subcode: UpdateMessageErrorSubcode.InvalidOriginAttribute,
  decode(buf, start, end, attrs) {
    if (end - start !== 1) return `ORIGIN length ${end - start}, expected 1`;
    const v = buf[start]!;
    if (v > 2) return `ORIGIN value ${v} undefined`;
    attrs.origin = v;
    return null;
  },
  valueLength: (a) => (a.origin === undefined ? -1 : 1),
  encode(a, _o, buf, offset) {
    buf[offset] = a.origin!;
    return offset + 1;
  },
};

/** RFC 4271 §6.3: a NEXT_HOP that is not a valid host address (0/8 "this network", class D/E, broadcast). */
function invalidNextHop(nh: number): boolean {
  return nh >>> 24 === 0 || nh >>> 28 >= 0xe;
}

const nextHopSpec: AttributeSpec = {
  code: AttributeCode.NextHop,
  name: 'NEXT_HOP',
  flags: T,
  malformed: 'treat-as-withdraw', // RFC 7606 §7.3
  subcode: UpdateMessageErrorSubcode.InvalidNextHopAttribute,
  decode(buf, start, end, attrs, ctx) {
    if (end - start !== 4) return `NEXT_HOP length ${end - start}, expected 4`;
    const nh = u32(buf, start);
    // MRT dumps record locally originated routes with 0.0.0.0; only sessions check semantics
    if (ctx.mrtFamily === undefined && invalidNextHop(nh))
      return `NEXT_HOP ${nh >>> 24}.x.x.x is not a host address`;
    attrs.nextHop = nh;
    return null;
  },
  valueLength: (a) => (a.nextHop === undefined ? -1 : 4),
  encode(a, _o, buf, offset) {
    put32(buf, offset, a.nextHop!);
    return offset + 4;
  },
};

const atomicAggregateSpec: AttributeSpec = {
  code: AttributeCode.AtomicAggregate,
  name: 'ATOMIC_AGGREGATE',
  flags: T,
  malformed: 'attribute-discard', // RFC 7606 §7.6
  subcode: UpdateMessageErrorSubcode.AttributeLengthError,
  decode(_buf, start, end, attrs) {
    if (end !== start) return `ATOMIC_AGGREGATE length ${end - start}, expected 0`;
    attrs.atomicAggregate = true;
    return null;
  },
  valueLength: (a) => (a.atomicAggregate === true ? 0 : -1),
  encode: (_a, _o, _buf, offset) => offset,
};

const otcSpec: AttributeSpec = {
  ...fixedU32(
    AttributeCode.OnlyToCustomer,
    'OTC',
    O | T,
    (a) => a.otc,
    (a, v) => {
      a.otc = v;
    },
  ),
};

/** The attribute table, indexed by type code. */
export const ATTRIBUTE_TABLE: readonly (AttributeSpec | undefined)[] = (() => {
  const specs: AttributeSpec[] = [
    originSpec,
    asPathSpec(false),
    nextHopSpec,
    fixedU32(
      AttributeCode.MultiExitDisc,
      'MULTI_EXIT_DISC',
      O,
      (a) => a.med,
      (a, v) => {
        a.med = v;
      },
    ),
    fixedU32(
      AttributeCode.LocalPref,
      'LOCAL_PREF',
      T,
      (a) => a.localPref,
      (a, v) => {
        a.localPref = v;
      },
    ),
    atomicAggregateSpec,
    aggregatorSpec(false),
    wordList(
      AttributeCode.Communities,
      'COMMUNITIES',
      1,
      (a) => a.communities,
      (a, v) => {
        a.communities = v;
      },
      O | T,
    ),
    fixedU32(
      AttributeCode.OriginatorId,
      'ORIGINATOR_ID',
      O,
      (a) => a.originatorId,
      (a, v) => {
        a.originatorId = v;
      },
    ),
    wordList(
      AttributeCode.ClusterList,
      'CLUSTER_LIST',
      1,
      (a) => a.clusterList,
      (a, v) => {
        a.clusterList = v;
      },
      O,
    ),
    mpReachSpec,
    mpUnreachSpec,
    wordList(
      AttributeCode.ExtendedCommunities,
      'EXTENDED_COMMUNITIES',
      2,
      (a) => a.extendedCommunities,
      (a, v) => {
        a.extendedCommunities = v;
      },
      O | T,
    ),
    asPathSpec(true),
    aggregatorSpec(true),
    wordList(
      AttributeCode.LargeCommunities,
      'LARGE_COMMUNITIES',
      3,
      (a) => a.largeCommunities,
      (a, v) => {
        a.largeCommunities = v;
      },
      O | T,
    ),
    otcSpec,
  ];
  const table: (AttributeSpec | undefined)[] = new Array(256).fill(undefined);
  for (const s of specs) table[s.code] = s;
  return table;
})();

/** 'AS_PATH', or 'attribute N' for codes without a table entry. */
export function attributeName(code: number): string {
  return ATTRIBUTE_TABLE[code]?.name ?? `attribute ${code}`;
}

/** Encoding order: MP_REACH / MP_UNREACH first (RFC 7606 §5.1), then by type code. */
const ENCODE_ORDER: readonly AttributeSpec[] = [
  mpReachSpec,
  mpUnreachSpec,
  ...ATTRIBUTE_TABLE.filter(
    (s): s is AttributeSpec => s !== undefined && s !== mpReachSpec && s !== mpUnreachSpec,
  ),
];

/**
 * Which ENCODE_ORDER entries a PathAttributes property can produce (bit i = ENCODE_ORDER[i]).
 * asPath and aggregator also produce AS4_PATH / AS4_AGGREGATOR towards 2-octet peers; as4Path and
 * as4Aggregator themselves are never sent (see PathAttributes). Iterating the few present
 * properties keeps encoding cost proportional to what an UPDATE carries.
 */
const ENCODE_BITS: Readonly<Record<string, number>> = (() => {
  const bit = (code: number): number => 1 << ENCODE_ORDER.findIndex((s) => s.code === code);
  return {
    origin: bit(AttributeCode.Origin),
    asPath: bit(AttributeCode.AsPath) | bit(AttributeCode.As4Path),
    nextHop: bit(AttributeCode.NextHop),
    med: bit(AttributeCode.MultiExitDisc),
    localPref: bit(AttributeCode.LocalPref),
    atomicAggregate: bit(AttributeCode.AtomicAggregate),
    aggregator: bit(AttributeCode.Aggregator) | bit(AttributeCode.As4Aggregator),
    communities: bit(AttributeCode.Communities),
    originatorId: bit(AttributeCode.OriginatorId),
    clusterList: bit(AttributeCode.ClusterList),
    mpReach: bit(AttributeCode.MpReachNlri),
    mpUnreach: bit(AttributeCode.MpUnreachNlri),
    extendedCommunities: bit(AttributeCode.ExtendedCommunities),
    largeCommunities: bit(AttributeCode.LargeCommunities),
    otc: bit(AttributeCode.OnlyToCustomer),
  };
})();

function encodeMask(attrs: PathAttributes): number {
  let mask = 0;
  for (const key in attrs) {
    const b = ENCODE_BITS[key];
    if (b !== undefined && (attrs as Record<string, unknown>)[key] !== undefined) mask |= b;
  }
  return mask;
}

const SEVERITY: Record<ErrorAction, number> = {
  'attribute-discard': 1,
  'treat-as-withdraw': 2,
  'session-reset': 3,
};

/** The attribute bytes (header + value) as NOTIFICATION data (RFC 4271 §6.3). */
function attributeData(buf: Uint8Array, attrStart: number, end: number): Uint8Array {
  return copyBytes(buf, attrStart, Math.min(end, attrStart + 4096));
}

const NO_ERRORS: readonly AttributeError[] = Object.freeze([]);

/** Appends to a lazily allocated error list (clean UPDATEs, the common case, allocate none). */
function withError(errors: AttributeError[] | null, e: AttributeError): AttributeError[] {
  if (errors === null) return [e];
  errors.push(e);
  return errors;
}

/**
 * A PathAttributes with every field present (undefined where absent), always in this order: what
 * the decoder fills. Why: V8 gives an object built by adding properties one by one a hidden class
 * per order and subset of attributes seen, and optimised code is specialised on the classes it
 * met. Built from `{}`, an UPDATE with LOCAL_PREF but no MED (BIRD 2's iBGP routes) had another
 * class than the start-up warm-up's, and the first real table threw away the interning code
 * optimised on the warm-up ("wrong map" in --trace-deopt) and compiled it again while loading.
 * Readers test fields with `=== undefined`, so an absent attribute reads the same either way.
 */
export function decodedAttributes(): PathAttributes {
  return {
    origin: undefined,
    asPath: undefined,
    nextHop: undefined,
    med: undefined,
    localPref: undefined,
    atomicAggregate: undefined,
    aggregator: undefined,
    communities: undefined,
    originatorId: undefined,
    clusterList: undefined,
    mpReach: undefined,
    mpUnreach: undefined,
    extendedCommunities: undefined,
    as4Path: undefined,
    as4Aggregator: undefined,
    largeCommunities: undefined,
    otc: undefined,
    unknown: undefined,
  };
}

/**
 * Settles decodedAttributes()'s hidden class at load, as settleStoredShape in rib/attrs.ts does
 * for stored sets: each field is written once with each kind of value it can hold (small integer,
 * number beyond V8's small integers, object, undefined), so that no real attribute set changes
 * a field's representation later and throws away code optimised on it ("code dependencies").
 */
function settleDecodedShape(): PathAttributes {
  const a = decodedAttributes();
  settleFields(a);
  return a;
}

/**
 * One value of each kind V8 tells apart in an object's field: small integer, other number, object,
 * boolean, and undefined last (an absent attribute).
 */
export const FIELD_KINDS: readonly unknown[] = Object.freeze([
  1,
  2 ** 31,
  Uint32Array.of(1),
  true,
  undefined,
]);

/** Writes each of obj's own fields with each of FIELD_KINDS (so no field stays "constant" either). */
export function settleFields(obj: object): void {
  const fields = obj as Record<string, unknown>;
  for (const key of Object.keys(fields)) for (const v of FIELD_KINDS) fields[key] = v;
}

/**
 * A PathAttributes whose every field holds `value`: what a factory of attribute-set objects is
 * called with once per FIELD_KINDS at load, so that the object literal it builds has seen each
 * kind in each field before any code is optimised on it.
 */
export function uniformAttributes(value: unknown): PathAttributes {
  const a = decodedAttributes() as Record<string, unknown>;
  for (const key of Object.keys(a)) a[key] = value;
  return a as PathAttributes;
}
/** Kept so that the settled hidden class lives on (V8 frees a hidden class no object has). */
export const settledDecodedShape: PathAttributes = Object.freeze(settleDecodedShape());

/**
 * Decodes a path-attribute block buf[start, end) on its own (RFC 4271 §4.3 + RFC 7606). Used by
 * the UPDATE decoder and by the MRT reader (there with fourOctetAs=true and extra.mrtFamily).
 * The AS4 merge of RFC 6793 §4.2.3 is applied when opts.fourOctetAs is false.
 * Mandatory-attribute checks depend on the NLRI and are done by the UPDATE decoder.
 */
export function decodePathAttributes(
  buf: Uint8Array,
  start: number,
  end: number,
  opts: CodecOptions,
  extra?: AttributeDecodeOptions,
): DecodeResult<DecodedAttributes> {
  const attrs = decodedAttributes();
  const ctx: DecodeContext = { opts, mrtFamily: extra?.mrtFamily };
  let errors: AttributeError[] | null = null;
  let worst = 0;
  // seen type codes for RFC 7606 §3 g duplicate handling: codes below 64 in two numbers
  // (every attribute this codec knows), higher ones in an array allocated only when met
  let seenLo = 0;
  let seenHi = 0;
  let seenOther: number[] | null = null;
  let pos = start;
  while (pos < end) {
    const attrStart = pos;
    const flags = buf[pos]!;
    const headerLen = flags & X ? 4 : 3;
    if (pos + headerLen > end) {
      // RFC 7606 §4: fewer octets than an attribute header; treat-as-withdraw
      errors = withError(
        errors,
        attributeError('treat-as-withdraw', 0, `${end - pos} trailing octets in the attribute block`),
      );
      worst = Math.max(worst, 2);
      break;
    }
    const code = buf[pos + 1]!;
    const len = flags & X ? (buf[pos + 2]! << 8) | buf[pos + 3]! : buf[pos + 2]!;
    const valueStart = pos + headerLen;
    const valueEnd = valueStart + len;
    if (valueEnd > end) {
      // RFC 7606 §4: the last attribute overruns the block; treat-as-withdraw, unless it is an MP
      // attribute, whose NLRI could then not be located (§5.3: session reset)
      if (code === AttributeCode.MpReachNlri || code === AttributeCode.MpUnreachNlri) {
        return {
          ok: false,
          error: codecError(
            NotificationCode.UpdateMessageError,
            UpdateMessageErrorSubcode.AttributeLengthError,
            attributeData(buf, attrStart, end),
            `${attributeName(code)} length ${len} overruns the attribute block`,
            code,
          ),
        };
      }
      errors = withError(
        errors,
        attributeError(
          'treat-as-withdraw',
          code,
          `${attributeName(code)} length ${len} overruns the attribute block`,
        ),
      );
      worst = Math.max(worst, 2);
      break;
    }
    pos = valueEnd;

    let dup: boolean;
    if (code < 32) {
      const bit = 1 << code;
      dup = (seenLo & bit) !== 0;
      seenLo |= bit;
    } else if (code < 64) {
      const bit = 1 << (code - 32);
      dup = (seenHi & bit) !== 0;
      seenHi |= bit;
    } else {
      seenOther ??= [];
      dup = seenOther.includes(code);
      if (!dup) seenOther.push(code);
    }
    if (dup) {
      // RFC 7606 §3 g
      if (code === AttributeCode.MpReachNlri || code === AttributeCode.MpUnreachNlri) {
        return {
          ok: false,
          error: codecError(
            NotificationCode.UpdateMessageError,
            UpdateMessageErrorSubcode.MalformedAttributeList,
            new Uint8Array(0),
            `${attributeName(code)} appears more than once`,
            code,
          ),
        };
      }
      errors = withError(
        errors,
        attributeError('attribute-discard', code, `${attributeName(code)} appears more than once`),
      );
      worst = Math.max(worst, 1);
      continue;
    }

    const spec = ATTRIBUTE_TABLE[code];
    if (spec === undefined) {
      if ((flags & O) === 0) {
        // RFC 4271 §6.3 Unrecognized Well-known Attribute (RFC 7606 leaves this a session reset)
        return {
          ok: false,
          error: codecError(
            NotificationCode.UpdateMessageError,
            UpdateMessageErrorSubcode.UnrecognizedWellKnownAttribute,
            attributeData(buf, attrStart, valueEnd),
            `unrecognized well-known attribute ${code}`,
            code,
          ),
        };
      }
      // RFC 4271 §5: keep unknown optional transitive attributes (Partial is set when sent on),
      // quietly drop unknown optional non-transitive ones
      if ((flags & T) !== 0) {
        if (attrs.unknown === undefined) attrs.unknown = [];
        attrs.unknown.push({
          flags: flags & (O | T | P),
          code,
          data: copyBytes(buf, valueStart, valueEnd),
        });
      }
      continue;
    }

    let outcome: AttrDecodeOutcome;
    // RFC 7606 §3 c: conflicting Optional/Transitive bits make the attribute malformed. Not so in
    // an MRT dump (RFC 6396), which is a record of a table, not peer input: BIRD writes NEXT_HOP and
    // LOCAL_PREF there with flags 0x00, and reference readers (bgpdump) accept them.
    if (ctx.mrtFamily === undefined && (flags & (O | T)) !== spec.flags) {
      outcome = `${spec.name} flags 0x${flags.toString(16)} conflict with the expected 0x${spec.flags.toString(16)}`;
    } else {
      outcome = spec.decode(buf, valueStart, valueEnd, attrs, ctx);
    }
    if (outcome === null) continue;
    if (typeof outcome !== 'string') return { ok: false, error: outcome };
    if (spec.malformed === 'session-reset') {
      return {
        ok: false,
        error: codecError(
          NotificationCode.UpdateMessageError,
          spec.subcode,
          attributeData(buf, attrStart, valueEnd),
          outcome,
          code,
        ),
      };
    }
    errors = withError(errors, attributeError(spec.malformed, code, outcome));
    worst = Math.max(worst, SEVERITY[spec.malformed]);
  }

  if (!opts.fourOctetAs) applyAs4Merge(attrs);
  return {
    ok: true,
    value: {
      attributes: attrs,
      treatAsWithdraw: worst >= 2,
      errors: errors ?? NO_ERRORS,
    },
  };
}

/**
 * RFC 6793 §4.2.3 for attributes from a 2-octet peer: folds AS4_AGGREGATOR / AS4_PATH into
 * AGGREGATOR / AS_PATH and removes them. Exported for callers that decoded with fourOctetAs=true.
 */
export function applyAs4Merge(attrs: PathAttributes): void {
  const as4Path = attrs.as4Path;
  const as4Aggregator = attrs.as4Aggregator;
  if (as4Path === undefined && as4Aggregator === undefined) return;
  // Cleared, not deleted: a delete would give the object a hidden class of its own.
  attrs.as4Path = undefined;
  attrs.as4Aggregator = undefined;
  if (attrs.aggregator !== undefined && attrs.aggregator.asn !== AS_TRANS) {
    // the aggregation happened at an OLD speaker: AS4_* are stale and ignored
    return;
  }
  if (as4Aggregator !== undefined && attrs.aggregator !== undefined) attrs.aggregator = as4Aggregator;
  if (as4Path !== undefined && attrs.asPath !== undefined) attrs.asPath = mergeAs4Path(attrs.asPath, as4Path);
}

/** Bytes the attribute block takes for these attributes under opts. */
export function pathAttributesLength(attrs: PathAttributes, opts: CodecOptions): number {
  let total = 0;
  for (let mask = encodeMask(attrs), i = 0; mask !== 0; mask >>>= 1, i++) {
    if ((mask & 1) === 0) continue;
    const len = ENCODE_ORDER[i]!.valueLength(attrs, opts);
    if (len >= 0) total += (len > 255 ? 4 : 3) + len;
  }
  if (attrs.unknown !== undefined) {
    for (const u of attrs.unknown) {
      if (ATTRIBUTE_TABLE[u.code] === undefined) total += (u.data.length > 255 ? 4 : 3) + u.data.length;
    }
  }
  return total;
}

// value lengths of the present attributes, computed once by encodePathAttributesWithin
const LENGTHS = new Int32Array(32);

/**
 * Like encodePathAttributes, but first checks that the block fits in limit octets and returns -1
 * (writing nothing) when it does not; each attribute's value length is computed only once.
 */
export function encodePathAttributesWithin(
  attrs: PathAttributes,
  opts: CodecOptions,
  buf: Uint8Array,
  offset: number,
  limit: number,
): number {
  const present = encodeMask(attrs);
  let total = 0;
  for (let mask = present, i = 0; mask !== 0; mask >>>= 1, i++) {
    if ((mask & 1) === 0) continue;
    const len = ENCODE_ORDER[i]!.valueLength(attrs, opts);
    LENGTHS[i] = len;
    if (len >= 0) total += (len > 255 ? 4 : 3) + len;
  }
  const unknown = attrs.unknown;
  if (unknown !== undefined) {
    for (const u of unknown) {
      if (ATTRIBUTE_TABLE[u.code] === undefined) total += (u.data.length > 255 ? 4 : 3) + u.data.length;
    }
  }
  if (total > limit || offset + total > buf.length) return -1;
  let p = offset;
  for (let mask = present, i = 0; mask !== 0; mask >>>= 1, i++) {
    if ((mask & 1) === 0) continue;
    const len = LENGTHS[i]!;
    if (len < 0) continue;
    const spec = ENCODE_ORDER[i]!;
    p = writeHeader(buf, p, spec.flags, spec.code, len);
    p = spec.encode(attrs, opts, buf, p);
  }
  if (unknown !== undefined) {
    for (const u of unknown) {
      if (ATTRIBUTE_TABLE[u.code] !== undefined) continue;
      p = writeHeader(buf, p, (u.flags & (O | T)) | P, u.code, u.data.length);
      buf.set(u.data, p);
      p += u.data.length;
    }
  }
  return p;
}

/**
 * Writes the attribute block at offset; returns the new offset. MP_REACH / MP_UNREACH go first
 * (RFC 7606 §5.1), then known attributes by type code, then unknown transitive ones with the
 * Partial bit set (RFC 4271 §5). Extended Length is used exactly when a value exceeds 255 octets.
 */
export function encodePathAttributes(
  attrs: PathAttributes,
  opts: CodecOptions,
  buf: Uint8Array,
  offset: number,
): number {
  let p = offset;
  for (let mask = encodeMask(attrs), i = 0; mask !== 0; mask >>>= 1, i++) {
    if ((mask & 1) === 0) continue;
    const spec = ENCODE_ORDER[i]!;
    const len = spec.valueLength(attrs, opts);
    if (len < 0) continue;
    p = writeHeader(buf, p, spec.flags, spec.code, len);
    p = spec.encode(attrs, opts, buf, p);
  }
  if (attrs.unknown !== undefined) {
    for (const u of attrs.unknown) {
      if (ATTRIBUTE_TABLE[u.code] !== undefined) continue;
      p = writeHeader(buf, p, (u.flags & (O | T)) | P, u.code, u.data.length);
      buf.set(u.data, p);
      p += u.data.length;
    }
  }
  return p;
}

function writeHeader(buf: Uint8Array, p: number, flags: number, code: number, len: number): number {
  if (len > 255) {
    buf[p] = flags | X;
    buf[p + 1] = code;
    buf[p + 2] = len >>> 8;
    buf[p + 3] = len;
    return p + 4;
  }
  buf[p] = flags;
  buf[p + 1] = code;
  buf[p + 2] = len;
  return p + 3;
}
