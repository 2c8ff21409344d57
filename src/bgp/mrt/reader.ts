// Streaming MRT reader (RFC 6396, with the RFC 8050 ADD-PATH subtypes): TABLE_DUMP_V2
// (PEER_INDEX_TABLE, RIB_IPV4/IPV6_UNICAST/MULTICAST and their _ADDPATH variants) and BGP4MP /
// BGP4MP_ET (STATE_CHANGE[_AS4], MESSAGE[_AS4][_LOCAL][_ADDPATH]). Chunks of any size go in;
// whole records come out. Only one record is ever buffered, and a record may claim at most
// MAX_RECORD_LENGTH bytes, so memory stays bounded whatever the input.
//
// Path attributes and BGP messages are decoded with the wire codec (4-octet AS for RIB entries,
// RFC 6396 §4.3.4; for BGP4MP as the subtype says). Bad input never throws: a malformed record
// becomes an 'error' record naming what is wrong, and the reader moves on to the next one.
import {
  type BgpMessage,
  type CodecOptions,
  type DecodedAttributes,
  type DecodeResult,
  decodeMessage,
  decodePathAttributes,
  type FamilyKey,
  familyKey,
  formatIPv4,
  formatIPv6Bytes,
  type PrefixList,
  parsePrefixes,
} from '../codec/index.ts';

export const MrtType = {
  TABLE_DUMP: 12,
  TABLE_DUMP_V2: 13,
  BGP4MP: 16,
  BGP4MP_ET: 17,
} as const;

/** RFC 6396 §4.3 and RFC 8050 §3 */
export const TableDumpV2Subtype = {
  PEER_INDEX_TABLE: 1,
  RIB_IPV4_UNICAST: 2,
  RIB_IPV4_MULTICAST: 3,
  RIB_IPV6_UNICAST: 4,
  RIB_IPV6_MULTICAST: 5,
  RIB_GENERIC: 6,
  RIB_IPV4_UNICAST_ADDPATH: 8,
  RIB_IPV4_MULTICAST_ADDPATH: 9,
  RIB_IPV6_UNICAST_ADDPATH: 10,
  RIB_IPV6_MULTICAST_ADDPATH: 11,
  RIB_GENERIC_ADDPATH: 12,
} as const;

/** RFC 6396 §4.4 and RFC 8050 §3 */
export const Bgp4mpSubtype = {
  STATE_CHANGE: 0,
  MESSAGE: 1,
  MESSAGE_AS4: 4,
  STATE_CHANGE_AS4: 5,
  MESSAGE_LOCAL: 6,
  MESSAGE_AS4_LOCAL: 7,
  MESSAGE_ADDPATH: 8,
  MESSAGE_AS4_ADDPATH: 9,
  MESSAGE_LOCAL_ADDPATH: 10,
  MESSAGE_AS4_LOCAL_ADDPATH: 11,
} as const;

/** A record's length field may not exceed this (a full BGP message plus headers fits easily). */
export const MAX_RECORD_LENGTH = 1 << 20;
const HEADER_LENGTH = 12;

export interface MrtPeer {
  index: number;
  bgpId: string;
  address: string;
  asn: number;
}

interface RecordBase {
  /** Seconds since the epoch (RFC 6396 §2), plus microseconds for the _ET types (§3). */
  timestamp: number;
  microseconds?: number;
  mrtType: number;
  subtype: number;
  /** Offset of the record in the input. */
  offset: number;
}

export interface PeerIndexTableRecord extends RecordBase {
  kind: 'peer-index-table';
  collectorBgpId: string;
  viewName: string;
  peers: MrtPeer[];
}

export interface RibEntry {
  peerIndex: number;
  /** The peer from the PEER_INDEX_TABLE seen earlier in the stream (undefined if none). */
  peer: MrtPeer | undefined;
  originatedTime: number;
  /** RFC 8050 path identifier (ADD-PATH subtypes only). */
  pathId?: number;
  rawAttributes: Uint8Array;
  attributes: DecodeResult<DecodedAttributes>;
}

export interface RibRecord extends RecordBase {
  kind: 'rib';
  family: FamilyKey;
  addPath: boolean;
  sequence: number;
  /** The one prefix of this RIB record. */
  prefix: PrefixList;
  entries: RibEntry[];
}

export interface Bgp4mpHeader {
  peerAs: number;
  localAs: number;
  interfaceIndex: number;
  afi: number;
  peerAddress: string;
  localAddress: string;
  as4: boolean;
}

export interface Bgp4mpMessageRecord extends RecordBase, Bgp4mpHeader {
  kind: 'bgp4mp-message';
  /** _LOCAL subtypes: a message the collector sent, not one it received. */
  local: boolean;
  addPath: boolean;
  /** The BGP message as it was on the wire, header included. */
  bytes: Uint8Array;
  /** The options the message was decoded with (from the subtype). */
  codecOptions: CodecOptions;
  message: DecodeResult<BgpMessage>;
}

export interface Bgp4mpStateChangeRecord extends RecordBase, Bgp4mpHeader {
  kind: 'bgp4mp-state-change';
  oldState: number;
  newState: number;
}

export interface UnsupportedRecord extends RecordBase {
  kind: 'unsupported';
  length: number;
}

export interface MrtErrorRecord extends RecordBase {
  kind: 'error';
  message: string;
}

export type MrtRecord =
  | PeerIndexTableRecord
  | RibRecord
  | Bgp4mpMessageRecord
  | Bgp4mpStateChangeRecord
  | UnsupportedRecord
  | MrtErrorRecord;

/** RFC 6396 §4.4.1 FSM state names (1..6). */
export const BGP_FSM_STATES = [
  '',
  'Idle',
  'Connect',
  'Active',
  'OpenSent',
  'OpenConfirm',
  'Established',
] as const;

/** Thrown inside a record parser for a field that runs past the record; turned into an error record. */
class Short extends Error {}

class Cursor {
  readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new Short(`${what} runs past the end of the record`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.dv.getUint8(this.pos++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = view(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  address(afi: number, what: string): string {
    if (afi === 1) return formatIPv4(this.u32(what));
    if (afi === 2) return formatIPv6Bytes(this.bytes(16, what));
    throw new Short(`${what}: unknown AFI ${afi}`);
  }
}

const RIB_FAMILY: Record<number, { afi: 1 | 2; safi: number; addPath: boolean }> = {
  2: { afi: 1, safi: 1, addPath: false },
  3: { afi: 1, safi: 2, addPath: false },
  4: { afi: 2, safi: 1, addPath: false },
  5: { afi: 2, safi: 2, addPath: false },
  8: { afi: 1, safi: 1, addPath: true },
  9: { afi: 1, safi: 2, addPath: true },
  10: { afi: 2, safi: 1, addPath: true },
  11: { afi: 2, safi: 2, addPath: true },
};

/** RIB entries' attributes: 4-octet AS always (RFC 6396 §4.3.4), no ADD-PATH inside attributes. */
const RIB_CODEC_OPTIONS: CodecOptions = Object.freeze({
  fourOctetAs: true,
  extendedMessage: true,
  addPath: new Set<FamilyKey>(),
});

/** Push parser of MRT records. */
export class MrtParser {
  private buf: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private peers: MrtPeer[] = [];
  private failed = false;

  feed(chunk: Uint8Array): MrtRecord[] {
    // A plain view: Buffer#slice would share memory where Uint8Array#slice copies.
    const view = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buf = this.buf.length === 0 ? view : concat(this.buf, view);
    const out: MrtRecord[] = [];
    let pos = 0;
    while (this.buf.length - pos >= HEADER_LENGTH) {
      const dv = new DataView(this.buf.buffer, this.buf.byteOffset + pos, HEADER_LENGTH);
      const length = dv.getUint32(8);
      const base: RecordBase = {
        timestamp: dv.getUint32(0),
        mrtType: dv.getUint16(4),
        subtype: dv.getUint16(6),
        offset: this.offset + pos,
      };
      if (length > MAX_RECORD_LENGTH) {
        // Nothing after a corrupt length can be trusted: report it and drop the rest of the input.
        out.push({ ...base, kind: 'error', message: `record length ${length} exceeds ${MAX_RECORD_LENGTH}` });
        this.offset += this.buf.length;
        this.buf = new Uint8Array(0);
        this.failed = true;
        return out;
      }
      if (this.buf.length - pos < HEADER_LENGTH + length) break;
      out.push(this.parseRecord(base, this.buf, pos + HEADER_LENGTH, pos + HEADER_LENGTH + length));
      pos += HEADER_LENGTH + length;
    }
    this.offset += pos;
    this.buf = pos === this.buf.length ? new Uint8Array(0) : copy(this.buf, pos, this.buf.length);
    return out;
  }

  /** Call at end of input: an error record when the input stopped inside a record. */
  end(): MrtRecord[] {
    if (this.failed || this.buf.length === 0) return [];
    return [
      {
        kind: 'error',
        timestamp: 0,
        mrtType: 0,
        subtype: 0,
        offset: this.offset,
        message: `input ends inside a record (${this.buf.length} bytes left)`,
      },
    ];
  }

  private parseRecord(base: RecordBase, buf: Uint8Array, start: number, end: number): MrtRecord {
    try {
      const c = new Cursor(buf, start, end);
      switch (base.mrtType) {
        case MrtType.TABLE_DUMP_V2:
          return this.tableDumpV2(base, c);
        case MrtType.BGP4MP:
          return bgp4mp(base, c);
        case MrtType.BGP4MP_ET:
          // RFC 6396 §3: the microsecond timestamp is part of the message body (and its length).
          base.microseconds = c.u32('microsecond timestamp');
          return bgp4mp(base, c);
        default:
          return { ...base, kind: 'unsupported', length: end - start };
      }
    } catch (e) {
      if (e instanceof Short) return { ...base, kind: 'error', message: e.message };
      throw e;
    }
  }

  private tableDumpV2(base: RecordBase, c: Cursor): MrtRecord {
    if (base.subtype === TableDumpV2Subtype.PEER_INDEX_TABLE) {
      // RFC 6396 §4.3.1
      const collectorBgpId = formatIPv4(c.u32('collector BGP ID'));
      const nameLength = c.u16('view name length');
      const viewName = new TextDecoder().decode(c.bytes(nameLength, 'view name'));
      const count = c.u16('peer count');
      const peers: MrtPeer[] = [];
      for (let i = 0; i < count; i++) {
        const type = c.u8('peer type');
        const bgpId = formatIPv4(c.u32('peer BGP ID'));
        const address = c.address(type & 1 ? 2 : 1, 'peer IP address');
        const asn = type & 2 ? c.u32('peer AS') : c.u16('peer AS');
        peers.push({ index: i, bgpId, address, asn });
      }
      this.peers = peers;
      return { ...base, kind: 'peer-index-table', collectorBgpId, viewName, peers };
    }
    const fam = RIB_FAMILY[base.subtype];
    if (!fam) return { ...base, kind: 'unsupported', length: c.end - c.pos };
    // RFC 6396 §4.3.2 (RFC 8050 §4: a path identifier follows the originated time)
    const sequence = c.u32('sequence number');
    const prefixStart = c.pos;
    const plen = c.u8('prefix length');
    const maxLen = fam.afi === 1 ? 32 : 128;
    if (plen > maxLen) throw new Short(`prefix length ${plen} is too long for the family`);
    c.skip((plen + 7) >>> 3, 'prefix');
    const parsed = parsePrefixes(c.buf, prefixStart, c.pos, fam.afi, false);
    if (typeof parsed === 'string') throw new Short(`bad prefix: ${parsed}`);
    const family = familyKey(fam.afi, fam.safi);
    const count = c.u16('entry count');
    const entries: RibEntry[] = [];
    for (let i = 0; i < count; i++) {
      const peerIndex = c.u16('peer index');
      const originatedTime = c.u32('originated time');
      const pathId = fam.addPath ? c.u32('path identifier') : undefined;
      const attrLength = c.u16('attribute length');
      const attrStart = c.pos;
      c.skip(attrLength, 'attributes');
      const entry: RibEntry = {
        peerIndex,
        peer: this.peers[peerIndex],
        originatedTime,
        rawAttributes: copy(c.buf, attrStart, c.pos),
        attributes: decodePathAttributes(c.buf, attrStart, c.pos, RIB_CODEC_OPTIONS, { mrtFamily: family }),
      };
      if (pathId !== undefined) entry.pathId = pathId;
      entries.push(entry);
    }
    // Fields spelled out: an object spread here made the whole reader ten times slower (V8).
    return {
      kind: 'rib',
      timestamp: base.timestamp,
      mrtType: base.mrtType,
      subtype: base.subtype,
      offset: base.offset,
      family,
      addPath: fam.addPath,
      sequence,
      prefix: parsed,
      entries,
    };
  }
}

function bgp4mp(base: RecordBase, c: Cursor): MrtRecord {
  const s = base.subtype;
  const as4 = s === 4 || s === 5 || s === 7 || s === 9 || s === 11;
  const isState = s === Bgp4mpSubtype.STATE_CHANGE || s === Bgp4mpSubtype.STATE_CHANGE_AS4;
  const isMessage = s === 1 || (s >= 4 && s <= 11 && s !== 5);
  if (!isState && !isMessage) return { ...base, kind: 'unsupported', length: c.end - c.pos };
  const peerAs = as4 ? c.u32('peer AS') : c.u16('peer AS');
  const localAs = as4 ? c.u32('local AS') : c.u16('local AS');
  const interfaceIndex = c.u16('interface index');
  const afi = c.u16('address family');
  const peerAddress = c.address(afi, 'peer IP address');
  const localAddress = c.address(afi, 'local IP address');
  if (isState) {
    const oldState = c.u16('old state');
    const newState = c.u16('new state');
    const header: Bgp4mpHeader = { peerAs, localAs, interfaceIndex, afi, peerAddress, localAddress, as4 };
    return { ...base, ...header, kind: 'bgp4mp-state-change', oldState, newState };
  }
  const local = s === 6 || s === 7 || s === 10 || s === 11;
  const addPath = s >= 8 && s <= 11;
  const bytes = copy(c.buf, c.pos, c.end);
  c.pos = c.end;
  const codecOptions = BGP4MP_OPTIONS[(as4 ? 1 : 0) | (addPath ? 2 : 0)] ?? RIB_CODEC_OPTIONS;
  const r: Bgp4mpMessageRecord = {
    kind: 'bgp4mp-message',
    timestamp: base.timestamp,
    mrtType: base.mrtType,
    subtype: base.subtype,
    offset: base.offset,
    peerAs,
    localAs,
    interfaceIndex,
    afi,
    peerAddress,
    localAddress,
    as4,
    local,
    addPath,
    bytes,
    codecOptions,
    message: decodeMessage(bytes, codecOptions),
  };
  if (base.microseconds !== undefined) r.microseconds = base.microseconds;
  return r;
}

// RFC 8050 §3: the _ADDPATH subtypes say the message's NLRI carry path identifiers but not for
// which family, so every unicast and multicast family is taken to. Index: as4 | addPath << 1.
const ADD_PATH_ALL = new Set<FamilyKey>([familyKey(1, 1), familyKey(2, 1), familyKey(1, 2), familyKey(2, 2)]);
const BGP4MP_OPTIONS: readonly CodecOptions[] = [false, true, false, true].map((fourOctetAs, i) =>
  Object.freeze({ fourOctetAs, extendedMessage: true, addPath: i & 2 ? ADD_PATH_ALL : new Set<FamilyKey>() }),
);

/**
 * A view of buf[start, end). The constructor is used instead of subarray(), whose species lookup
 * makes it several times slower in V8; this runs once or more per record.
 */
function view(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** A copy of buf[start, end) that does not keep the input chunk alive. */
function copy(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(view(buf, start, end));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Reads MRT records from an async byte source (e.g. fs.createReadStream), one at a time. */
export async function* streamMrtRecords(source: AsyncIterable<Uint8Array>): AsyncGenerator<MrtRecord> {
  const p = new MrtParser();
  for await (const chunk of source) yield* p.feed(chunk);
  yield* p.end();
}

/** Reads every record of an MRT dump held in memory. */
export function readMrtRecords(bytes: Uint8Array): MrtRecord[] {
  const p = new MrtParser();
  return [...p.feed(bytes), ...p.end()];
}

/**
 * Whether the bytes look like MRT: a plausible header with a known type. MRT has no magic
 * number, so the first record's type, subtype and length are checked.
 */
export function looksLikeMrt(head: Uint8Array): boolean {
  if (head.length < HEADER_LENGTH) return false;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const type = dv.getUint16(4);
  const subtype = dv.getUint16(6);
  const length = dv.getUint32(8);
  if (length > MAX_RECORD_LENGTH) return false;
  if (type === MrtType.TABLE_DUMP_V2) return subtype >= 1 && subtype <= 12;
  if (type === MrtType.BGP4MP || type === MrtType.BGP4MP_ET) return subtype <= 11;
  return type === MrtType.TABLE_DUMP && (subtype === 1 || subtype === 2);
}
