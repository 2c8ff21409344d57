// `tsbgp decode`: prints every BGP message found in a pcap/pcapng capture (TCP reassembled on
// any port), an MRT dump (RFC 6396), or hex given as an argument or on stdin. One JSON object per
// message with --json, otherwise an indented form like `tshark -V`.
//
// Session options change the wire format (RFC 6793 4-octet AS, RFC 7911 ADD-PATH, RFC 8654
// extended messages). In a capture they are inferred per TCP connection from the two OPENs, as
// the speakers themselves negotiated them; flags override or supply them when the OPENs are
// missing. MRT records say in their subtype.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import {
  AddPathMode,
  asPathSegments,
  attributeName,
  type BgpMessage,
  type Capability,
  type CodecError,
  type CodecOptions,
  carriesShutdownCommunication,
  type DecodedAttributes,
  type DecodeResult,
  decodeMessage,
  decodeShutdownCommunication,
  endOfRibFamily,
  type FamilyKey,
  familyKey,
  familyName,
  formatIPv4,
  formatNextHop,
  notificationCodeName,
  notificationSubcodeName,
  type OpenMessage,
  type PathAttributes,
  type PrefixList,
  prefixListToStrings,
} from '../../bgp/codec/index.ts';
import { BGP_FSM_STATES, looksLikeMrt, type MrtRecord, streamMrtRecords } from '../../bgp/mrt/index.ts';
import { detectCaptureFormat, streamCaptureFrames } from '../../capture/pcap.ts';
import { BgpStreamReassembler, type CaptureItem, type StreamInfo } from '../../capture/reassembly.ts';

// ---------------------------------------------------------------------------------------------
// Options

export interface DecodeFlags {
  /** Families given with --add-path (both directions of every session). */
  addPath: FamilyKey[];
  twoOctetAs: boolean;
  extendedMessage: boolean;
}

const FAMILY_NAMES: Record<string, FamilyKey> = {
  'ipv4-unicast': familyKey(1, 1),
  'ipv6-unicast': familyKey(2, 1),
  'ipv4-multicast': familyKey(1, 2),
  'ipv6-multicast': familyKey(2, 2),
};

export function parseFamilyName(name: string): FamilyKey {
  const f = FAMILY_NAMES[name.toLowerCase()];
  if (f === undefined) {
    throw new Error(`unknown address family "${name}"; use one of ${Object.keys(FAMILY_NAMES).join(', ')}`);
  }
  return f;
}

/** Options for decoding when nothing was inferred: the flags, else 4-octet AS (what every modern speaker uses). */
export function flagOptions(flags: DecodeFlags): CodecOptions {
  return {
    fourOctetAs: !flags.twoOctetAs,
    extendedMessage: flags.extendedMessage,
    addPath: new Set(flags.addPath),
  };
}

function capsOf(open: OpenMessage): Capability[] {
  return [...open.capabilities];
}

/**
 * Receive options for messages sent by `sender` to `receiver`, from their OPENs (RFC 6793 §3:
 * both must advertise 4-octet AS; RFC 8654 §3 likewise; RFC 7911 §4: the sender said send and
 * the receiver said receive for that family). Flags, when given, win.
 */
export function negotiatedOptions(
  sender: OpenMessage,
  receiver: OpenMessage,
  flags: DecodeFlags,
): CodecOptions {
  const s = capsOf(sender);
  const r = capsOf(receiver);
  const has = (caps: Capability[], kind: Capability['kind']) => caps.some((c) => c.kind === kind);
  const addPath = new Set<FamilyKey>(flags.addPath);
  const sendFams = new Map<FamilyKey, number>();
  for (const c of s)
    if (c.kind === 'add-path') for (const f of c.families) sendFams.set(familyKey(f.afi, f.safi), f.mode);
  for (const c of r) {
    if (c.kind !== 'add-path') continue;
    for (const f of c.families) {
      const k = familyKey(f.afi, f.safi);
      const sm = sendFams.get(k) ?? 0;
      if (sm & AddPathMode.Send && f.mode & AddPathMode.Receive) addPath.add(k);
    }
  }
  return {
    fourOctetAs: flags.twoOctetAs ? false : has(s, 'four-octet-as') && has(r, 'four-octet-as'),
    extendedMessage: flags.extendedMessage || (has(s, 'extended-message') && has(r, 'extended-message')),
    addPath,
  };
}

// ---------------------------------------------------------------------------------------------
// JSON rendering of decoded messages (every field; prefixes and addresses as text)

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function prefixesJson(list: PrefixList): Json[] {
  if (list.pathIds === null) return prefixListToStrings(list);
  const out: Json[] = [];
  const text = prefixListToStrings(list);
  for (let i = 0; i < list.count; i++) out.push({ prefix: text[i] ?? '', pathId: list.pathIds[i] ?? 0 });
  return out;
}

function asPathJson(path: Uint32Array): Json {
  const names: Record<number, string> = {
    1: 'as-set',
    2: 'as-sequence',
    3: 'confed-sequence',
    4: 'confed-set',
  };
  return asPathSegments(path).map((s) => ({ type: names[s.type] ?? `type-${s.type}`, asns: [...s.asns] }));
}

function communityText(c: number): string {
  return `${c >>> 16}:${c & 0xffff}`;
}

/** RFC 4360 / RFC 5668 extended community as "rt:65000:7", "soo:...", or hex for others. */
function extCommunityText(high: number, low: number): string {
  const type = (high >>> 24) & 0xff;
  const sub = (high >>> 16) & 0xff;
  const kind = sub === 2 ? 'rt' : sub === 3 ? 'soo' : `${type}.${sub}`;
  if (type === 0x00 || type === 0x40) return `${kind}:${high & 0xffff}:${low >>> 0}`;
  if (type === 0x01 || type === 0x41)
    return `${kind}:${formatIPv4(((high & 0xffff) << 16) | (low >>> 16))}:${low & 0xffff}`;
  if (type === 0x02 || type === 0x42)
    return `${kind}:${(((high & 0xffff) << 16) | (low >>> 16)) >>> 0}:${low & 0xffff}`;
  return `0x${(high >>> 0).toString(16).padStart(8, '0')}${(low >>> 0).toString(16).padStart(8, '0')}`;
}

export function attributesJson(a: PathAttributes): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  if (a.origin !== undefined) o.origin = ['igp', 'egp', 'incomplete'][a.origin] ?? a.origin;
  if (a.asPath) o.asPath = asPathJson(a.asPath);
  if (a.nextHop !== undefined) o.nextHop = formatIPv4(a.nextHop);
  if (a.med !== undefined) o.med = a.med;
  if (a.localPref !== undefined) o.localPref = a.localPref;
  if (a.atomicAggregate) o.atomicAggregate = true;
  if (a.aggregator) o.aggregator = { asn: a.aggregator.asn, address: formatIPv4(a.aggregator.address) };
  if (a.communities) o.communities = [...a.communities].map(communityText);
  if (a.originatorId !== undefined) o.originatorId = formatIPv4(a.originatorId);
  if (a.clusterList) o.clusterList = [...a.clusterList].map(formatIPv4);
  if (a.mpReach) {
    o.mpReach = {
      family: familyName(familyKey(a.mpReach.afi, a.mpReach.safi)),
      afi: a.mpReach.afi,
      safi: a.mpReach.safi,
      nextHop: formatNextHop(a.mpReach.nextHop),
      nlri: a.mpReach.nlri ? prefixesJson(a.mpReach.nlri) : [],
      ...(a.mpReach.rawNlri ? { rawNlri: hex(a.mpReach.rawNlri) } : {}),
    };
  }
  if (a.mpUnreach) {
    o.mpUnreach = {
      family: familyName(familyKey(a.mpUnreach.afi, a.mpUnreach.safi)),
      afi: a.mpUnreach.afi,
      safi: a.mpUnreach.safi,
      withdrawn: a.mpUnreach.nlri ? prefixesJson(a.mpUnreach.nlri) : [],
      ...(a.mpUnreach.rawNlri ? { rawNlri: hex(a.mpUnreach.rawNlri) } : {}),
    };
  }
  if (a.extendedCommunities) {
    const e: string[] = [];
    for (let i = 0; i + 1 < a.extendedCommunities.length; i += 2) {
      e.push(extCommunityText(a.extendedCommunities[i] ?? 0, a.extendedCommunities[i + 1] ?? 0));
    }
    o.extendedCommunities = e;
  }
  if (a.as4Path) o.as4Path = asPathJson(a.as4Path);
  if (a.as4Aggregator)
    o.as4Aggregator = { asn: a.as4Aggregator.asn, address: formatIPv4(a.as4Aggregator.address) };
  if (a.largeCommunities) {
    const l: string[] = [];
    for (let i = 0; i + 2 < a.largeCommunities.length; i += 3) {
      l.push(`${a.largeCommunities[i]}:${a.largeCommunities[i + 1]}:${a.largeCommunities[i + 2]}`);
    }
    o.largeCommunities = l;
  }
  if (a.otc !== undefined) o.otc = a.otc;
  if (a.unknown?.length) {
    o.unknown = a.unknown.map((u) => ({ code: u.code, flags: u.flags, data: hex(u.data) }));
  }
  return o;
}

function capabilityJson(c: Capability): Json {
  switch (c.kind) {
    case 'multiprotocol':
      return {
        kind: c.kind,
        code: 1,
        family: familyName(familyKey(c.afi, c.safi)),
        afi: c.afi,
        safi: c.safi,
      };
    case 'route-refresh':
      return { kind: c.kind, code: 2 };
    case 'extended-next-hop':
      return {
        kind: c.kind,
        code: 5,
        entries: c.entries.map((e) => ({ afi: e.afi, safi: e.safi, nextHopAfi: e.nextHopAfi })),
      };
    case 'extended-message':
      return { kind: c.kind, code: 6 };
    case 'role':
      return { kind: c.kind, code: 9, role: c.role };
    case 'graceful-restart':
      return {
        kind: c.kind,
        code: 64,
        restartState: c.restartState,
        notification: c.notification,
        restartTime: c.restartTime,
        families: c.families.map((f) => ({
          family: familyName(familyKey(f.afi, f.safi)),
          forwardingState: f.forwardingState,
        })),
      };
    case 'four-octet-as':
      return { kind: c.kind, code: 65, asn: c.asn };
    case 'add-path':
      return {
        kind: c.kind,
        code: 69,
        families: c.families.map((f) => ({
          family: familyName(familyKey(f.afi, f.safi)),
          mode: f.mode === 1 ? 'receive' : f.mode === 2 ? 'send' : f.mode === 3 ? 'both' : f.mode,
        })),
      };
    case 'enhanced-route-refresh':
      return { kind: c.kind, code: 70 };
    case 'long-lived-graceful-restart':
      return {
        kind: c.kind,
        code: 71,
        families: c.families.map((f) => ({
          family: familyName(familyKey(f.afi, f.safi)),
          forwardingState: f.forwardingState,
          staleTime: f.staleTime,
        })),
      };
    case 'fqdn':
      return { kind: c.kind, code: 73, hostname: c.hostname, domainName: c.domainName };
    case 'unknown':
      return { kind: c.kind, code: c.code, data: hex(c.data) };
  }
}

export function messageJson(m: BgpMessage): { [k: string]: Json } {
  switch (m.type) {
    case 'open':
      return {
        version: m.version,
        myAs: m.myAs,
        holdTime: m.holdTime,
        bgpId: formatIPv4(m.bgpId),
        extendedOptionalParameters: m.extendedOptionalParameters === true,
        capabilities: m.capabilities.map(capabilityJson),
      };
    case 'update': {
      // The codec's test (RFC 4724 §2): decoded attribute sets have every key, present or not.
      const eorFamily = endOfRibFamily(m);
      const eor = eorFamily === null ? null : familyName(eorFamily);
      return {
        withdrawn: prefixesJson(m.withdrawn),
        attributes: attributesJson(m.attributes),
        nlri: prefixesJson(m.nlri),
        ...(eor ? { endOfRib: eor } : {}),
        treatAsWithdraw: m.treatAsWithdraw,
        errors: m.errors.map((e) => ({
          action: e.action,
          attributeCode: e.attributeCode,
          attribute: attributeName(e.attributeCode),
          reason: e.reason,
        })),
      };
    }
    case 'notification': {
      const o: { [k: string]: Json } = {
        code: m.code,
        subcode: m.subcode,
        codeName: notificationCodeName(m.code),
        subcodeName: notificationSubcodeName(m.code, m.subcode),
        data: hex(m.data),
      };
      if (carriesShutdownCommunication(m.code, m.subcode) && m.data.length > 0) {
        const sc = decodeShutdownCommunication(m.data);
        o.shutdownCommunication = sc.ok ? sc.message : { error: sc.reason };
      }
      return o;
    }
    case 'keepalive':
      return {};
    case 'route-refresh':
      return {
        family: familyName(familyKey(m.afi, m.safi)),
        afi: m.afi,
        safi: m.safi,
        subtype: m.subtype,
        subtypeName: ['request', 'BoRR', 'EoRR'][m.subtype] ?? 'reserved',
      };
  }
}

export function codecErrorJson(e: CodecError): { [k: string]: Json } {
  const o: { [k: string]: Json } = {
    action: e.action,
    reason: e.reason,
    notification: {
      code: e.notification.code,
      subcode: e.notification.subcode,
      name: `${notificationCodeName(e.notification.code)} / ${notificationSubcodeName(e.notification.code, e.notification.subcode)}`,
      data: hex(e.notification.data),
    },
  };
  if (e.attributeCode !== undefined) {
    o.attributeCode = e.attributeCode;
    o.attribute = attributeName(e.attributeCode);
  }
  return o;
}

const TYPE_NAMES: Record<number, string> = {
  1: 'open',
  2: 'update',
  3: 'notification',
  4: 'keepalive',
  5: 'route-refresh',
};

/** The JSON object for one wire message: header fields, then the decoded body or the error. */
export function wireMessageJson(
  bytes: Uint8Array,
  result: DecodeResult<BgpMessage>,
  opts: CodecOptions,
): { [k: string]: Json } {
  const typeCode = bytes[18] ?? 0;
  const o: { [k: string]: Json } = {
    type: result.ok ? result.value.type : (TYPE_NAMES[typeCode] ?? `type-${typeCode}`),
    typeCode,
    length: bytes.length >= 18 ? ((bytes[16] ?? 0) << 8) | (bytes[17] ?? 0) : bytes.length,
    options: {
      fourOctetAs: opts.fourOctetAs,
      extendedMessage: opts.extendedMessage,
      addPath: [...opts.addPath].map(familyName),
    },
  };
  if (result.ok) Object.assign(o, messageJson(result.value));
  else {
    o.error = codecErrorJson(result.error);
    o.hex = hex(bytes);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Sources

export interface DecodedItem {
  /** What to print. */
  json: { [k: string]: Json };
  /** The wire bytes and the decode, for callers that re-encode (tests). */
  bytes?: Uint8Array;
  result?: DecodeResult<BgpMessage>;
  options?: CodecOptions;
}

function streamJson(s: StreamInfo): { [k: string]: Json } {
  return {
    id: s.stream,
    src: s.src.address,
    srcPort: s.src.port,
    dst: s.dst.address,
    dstPort: s.dst.port,
    direction: s.direction,
  };
}

/** Decodes every BGP message of a capture, inferring session options from the OPENs per connection. */
export async function* decodeCapture(
  source: AsyncIterable<Uint8Array>,
  flags: DecodeFlags,
): AsyncGenerator<DecodedItem> {
  const reassembler = new BgpStreamReassembler();
  // Per connection: the OPEN each side sent, keyed "stream|src|srcPort".
  const opens = new Map<string, OpenMessage>();
  const sideKey = (s: StreamInfo, from: 'src' | 'dst') => `${s.stream}|${s[from].address}|${s[from].port}`;
  const handle = (item: CaptureItem): DecodedItem => {
    if (item.kind === 'error') {
      return {
        json: {
          source: 'pcap',
          frame: item.frame,
          stream: streamJson(item.stream),
          type: 'stream-error',
          error: item.message,
        },
      };
    }
    const mine = opens.get(sideKey(item.stream, 'src'));
    const theirs = opens.get(sideKey(item.stream, 'dst'));
    const opts = mine && theirs ? negotiatedOptions(mine, theirs, flags) : flagOptions(flags);
    const result = decodeMessage(item.bytes, opts);
    if (result.ok && result.value.type === 'open') {
      // A new OPEN from this side starts a new negotiation (a reconnect on the same 4-tuple).
      opens.set(sideKey(item.stream, 'src'), result.value);
    }
    return {
      json: {
        source: 'pcap',
        frame: item.firstFrame === item.lastFrame ? item.lastFrame : [item.firstFrame, item.lastFrame],
        firstFrame: item.firstFrame,
        lastFrame: item.lastFrame,
        timestamp: item.timestamp,
        stream: streamJson(item.stream),
        ...wireMessageJson(item.bytes, result, opts),
      },
      bytes: item.bytes,
      result,
      options: opts,
    };
  };
  for await (const frame of streamCaptureFrames(source)) {
    for (const item of reassembler.push(frame)) yield handle(item);
  }
  for (const item of reassembler.finish()) yield handle(item);
}

function decodedAttributesJson(r: DecodeResult<DecodedAttributes>): { [k: string]: Json } {
  if (!r.ok) return { error: codecErrorJson(r.error) };
  return {
    attributes: attributesJson(r.value.attributes),
    treatAsWithdraw: r.value.treatAsWithdraw,
    errors: r.value.errors.map((e) => ({
      action: e.action,
      attributeCode: e.attributeCode,
      attribute: attributeName(e.attributeCode),
      reason: e.reason,
    })),
  };
}

export function mrtRecordJson(r: MrtRecord): DecodedItem {
  const base: { [k: string]: Json } = {
    source: 'mrt',
    offset: r.offset,
    timestamp: r.timestamp,
    ...(r.microseconds !== undefined ? { microseconds: r.microseconds } : {}),
    mrtType: r.mrtType,
    mrtSubtype: r.subtype,
  };
  switch (r.kind) {
    case 'peer-index-table':
      return {
        json: {
          ...base,
          type: 'peer-index-table',
          collectorBgpId: r.collectorBgpId,
          viewName: r.viewName,
          peers: r.peers.map((p) => ({ index: p.index, bgpId: p.bgpId, address: p.address, asn: p.asn })),
        },
      };
    case 'rib':
      return {
        json: {
          ...base,
          type: 'rib',
          family: familyName(r.family),
          addPath: r.addPath,
          sequence: r.sequence,
          prefix: prefixListToStrings(r.prefix)[0] ?? '',
          entries: r.entries.map((e) => ({
            peerIndex: e.peerIndex,
            peer: e.peer ? { address: e.peer.address, asn: e.peer.asn, bgpId: e.peer.bgpId } : null,
            originatedTime: e.originatedTime,
            ...(e.pathId !== undefined ? { pathId: e.pathId } : {}),
            ...decodedAttributesJson(e.attributes),
          })),
        },
      };
    case 'bgp4mp-state-change':
      return {
        json: {
          ...base,
          type: 'state-change',
          peerAs: r.peerAs,
          localAs: r.localAs,
          peerAddress: r.peerAddress,
          localAddress: r.localAddress,
          oldState: BGP_FSM_STATES[r.oldState] ?? r.oldState,
          newState: BGP_FSM_STATES[r.newState] ?? r.newState,
        },
      };
    case 'bgp4mp-message':
      return {
        json: {
          ...base,
          peerAs: r.peerAs,
          localAs: r.localAs,
          peerAddress: r.peerAddress,
          localAddress: r.localAddress,
          direction: r.local ? 'sent' : 'received',
          ...wireMessageJson(r.bytes, r.message, r.codecOptions),
        },
        bytes: r.bytes,
        result: r.message,
        options: r.codecOptions,
      };
    case 'unsupported':
      return { json: { ...base, type: 'unsupported', length: r.length } };
    case 'error':
      return { json: { ...base, type: 'mrt-error', error: r.message } };
  }
}

export async function* decodeMrt(source: AsyncIterable<Uint8Array>): AsyncGenerator<DecodedItem> {
  for await (const r of streamMrtRecords(source)) yield mrtRecordJson(r);
}

/** Parses hex text (whitespace, colons and a 0x prefix allowed) into bytes; null if it is not hex. */
export function parseHex(text: string): Uint8Array | null {
  const clean = text.replace(/0x/gi, '').replace(/[\s:,-]/g, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) return null;
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** Decodes one or more concatenated BGP messages (each with its 19-byte header). */
export function* decodeHexMessages(bytes: Uint8Array, flags: DecodeFlags): Generator<DecodedItem> {
  const opts = flagOptions(flags);
  let pos = 0;
  let index = 0;
  while (pos < bytes.length) {
    const remaining = bytes.length - pos;
    const declared = remaining >= 18 ? ((bytes[pos + 16] ?? 0) << 8) | (bytes[pos + 17] ?? 0) : remaining;
    // A length that is too small or runs past the input: hand the rest to the decoder, whose
    // header checks name the problem (RFC 4271 §6.1).
    const len = declared >= 19 && declared <= remaining ? declared : remaining;
    const frame = bytes.subarray(pos, pos + len);
    const result = decodeMessage(frame, opts);
    yield {
      json: { source: 'hex', index, offset: pos, ...wireMessageJson(frame, result, opts) },
      bytes: frame,
      result,
      options: opts,
    };
    pos += len;
    index++;
  }
}

// ---------------------------------------------------------------------------------------------
// Readable text (like `tshark -V`)

function label(key: string): string {
  return key.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
}

function renderText(value: Json, indent: string, lines: string[]): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (v !== null && typeof v === 'object') {
        lines.push(`${indent}[${i}]`);
        renderText(v, `${indent}    `, lines);
      } else lines.push(`${indent}${String(v)}`);
    });
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (v === null || typeof v !== 'object') lines.push(`${indent}${label(k)}: ${String(v)}`);
    else if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) {
      lines.push(`${indent}${label(k)}: ${v.length === 0 ? '(none)' : v.join(' ')}`);
    } else {
      lines.push(`${indent}${label(k)}:`);
      renderText(v, `${indent}    `, lines);
    }
  }
}

/** One message as readable text: a summary line, then every field indented. */
export function formatText(json: { [k: string]: Json }): string {
  const { source, stream, frame, firstFrame, lastFrame, type, ...rest } = json;
  let head = `${String(type ?? '').toUpperCase()} message`;
  if (source === 'pcap' && stream && typeof stream === 'object' && !Array.isArray(stream)) {
    head = `Frame ${Array.isArray(frame) ? frame.join('-') : String(frame)}, stream ${String(stream.id)}: ${String(stream.src)}:${String(stream.srcPort)} -> ${String(stream.dst)}:${String(stream.dstPort)} (${String(stream.direction)}), ${head}`;
  }
  void firstFrame;
  void lastFrame;
  const lines = [head];
  renderText(rest, '    ', lines);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Input detection and the command

export type InputKind = 'pcap' | 'mrt' | 'hex';

/** Recognises a file by its first bytes: pcap/pcapng magic, an MRT header, or hex text. */
export function detectInputKind(head: Uint8Array): InputKind | undefined {
  if (detectCaptureFormat(head)) return 'pcap';
  if (looksLikeMrt(head)) return 'mrt';
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  if (/^[\s0-9a-fA-Fx:,-]+$/.test(text)) return 'hex';
  return undefined;
}

async function* chunksOf(stream: AsyncIterable<Buffer | string>): AsyncGenerator<Uint8Array> {
  for await (const c of stream)
    yield typeof c === 'string' ? Buffer.from(c) : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
}

async function readAll(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

function readHead(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(64);
    const n = readSync(fd, b, 0, 64, 0);
    return new Uint8Array(b.buffer, b.byteOffset, n);
  } finally {
    closeSync(fd);
  }
}

export interface DecodeArgs {
  input?: string;
  json: boolean;
  format?: InputKind;
  addPath: string[];
  twoOctetAs: boolean;
  extendedMessage: boolean;
}

/** Decodes a file path, a hex string, or stdin (when input is absent or "-"). */
export async function* decodeInput(
  args: DecodeArgs,
  stdin: AsyncIterable<Uint8Array>,
): AsyncGenerator<DecodedItem> {
  const flags: DecodeFlags = {
    addPath: args.addPath.map(parseFamilyName),
    twoOctetAs: args.twoOctetAs,
    extendedMessage: args.extendedMessage,
  };
  const input = args.input;
  if (input !== undefined && input !== '-') {
    const asHex = parseHex(input);
    let isFile = true;
    let head: Uint8Array = new Uint8Array(0);
    try {
      head = readHead(input);
    } catch (e) {
      isFile = false;
      if (!asHex) throw new Error(`cannot read ${input}: ${(e as Error).message}`);
    }
    if (!isFile && asHex) {
      yield* decodeHexMessages(asHex, flags);
      return;
    }
    const kind = args.format ?? detectInputKind(head);
    if (!kind) throw new Error(`${input}: not a pcap, pcapng or MRT file, nor hex text`);
    const src = chunksOf(createReadStream(input, { highWaterMark: 256 * 1024 }));
    if (kind === 'pcap') yield* decodeCapture(src, flags);
    else if (kind === 'mrt') yield* decodeMrt(src);
    else {
      const bytes = parseHex(Buffer.from(await readAll(src)).toString('latin1'));
      if (!bytes) throw new Error(`${input}: not valid hex`);
      yield* decodeHexMessages(bytes, flags);
    }
    return;
  }
  // stdin: binary captures and MRT are recognised by their first bytes and streamed (a table
  // dump may be large); anything else is hex text, read whole.
  const it = stdin[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < 64) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    headLength += r.value.length;
  }
  const headBytes = new Uint8Array(Buffer.concat(head));
  const rest = (async function* () {
    yield headBytes;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  const kind = args.format ?? detectInputKind(headBytes.subarray(0, 64));
  if (kind === 'pcap') yield* decodeCapture(rest, flags);
  else if (kind === 'mrt') yield* decodeMrt(rest);
  else {
    const bytes = parseHex(Buffer.from(await readAll(rest)).toString('latin1'));
    if (!bytes) throw new Error('stdin: not a pcap, pcapng or MRT stream, nor hex text');
    yield* decodeHexMessages(bytes, flags);
  }
}

export const decodeCommand: CommandModule = {
  command: 'decode [input]',
  describe: 'Decode BGP messages from a pcap/pcapng capture, an MRT dump, or hex (argument or stdin)',
  builder: (y: Argv) =>
    y
      .positional('input', {
        type: 'string',
        describe: 'a capture or MRT file, hex bytes, or - for stdin (the default)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per message' })
      .option('format', {
        choices: ['pcap', 'mrt', 'hex'] as const,
        describe: 'input format (default: detected from the first bytes)',
      })
      .option('add-path', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: 'families with RFC 7911 path identifiers (ipv4-unicast, ipv6-unicast), in both directions',
      })
      .option('two-octet-as', {
        type: 'boolean',
        default: false,
        describe: 'decode AS numbers as 2 octets (RFC 6793 not negotiated)',
      })
      .option('extended-message', {
        type: 'boolean',
        default: false,
        describe: 'accept messages up to 65535 bytes (RFC 8654)',
      })
      .example('$0 decode session.pcap', 'decode a capture, options inferred from the OPENs')
      .example('$0 decode --json rib.mrt', 'decode an MRT table dump as JSON lines')
      .example('$0 decode ffffffffffffffffffffffffffffffff001304', 'decode a KEEPALIVE given as hex'),
  handler: async (argv: ArgumentsCamelCase) => {
    const args: DecodeArgs = {
      json: argv.json === true,
      addPath: Array.isArray(argv.addPath) ? argv.addPath.map(String) : [],
      twoOctetAs: argv.twoOctetAs === true,
      extendedMessage: argv.extendedMessage === true,
    };
    if (typeof argv.input === 'string') args.input = argv.input;
    if (argv.format === 'pcap' || argv.format === 'mrt' || argv.format === 'hex') args.format = argv.format;
    // A closed pipe (e.g. `| head`) ends the output quietly, as other Unix tools do.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
    const stdin = chunksOf(process.stdin);
    try {
      for await (const item of decodeInput(args, stdin)) {
        const line = args.json ? JSON.stringify(item.json) : `${formatText(item.json)}\n`;
        if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r));
      }
    } catch (e) {
      process.stderr.write(`tsbgp decode: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  },
};

export default decodeCommand;
