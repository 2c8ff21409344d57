// BGP messages: header (RFC 4271 §4.1, RFC 8654), OPEN (§4.2, RFC 5492, RFC 9072), UPDATE (§4.3),
// NOTIFICATION (§4.5), KEEPALIVE (§4.4), ROUTE-REFRESH (RFC 2918 §3, RFC 7313 §3.2).
// Decoding is total: every input yields a message or a CodecError naming the NOTIFICATION to send.

import { copyBytes, decodePathAttributes, encodePathAttributes, pathAttributesLength } from './attributes.ts';
import { capabilityCodec, capabilityValueLength, decodeCapabilities } from './capabilities.ts';
import { attributeError, fail, u16Data } from './errors.ts';
import { emptyPrefixList, encodePrefixes, parsePrefixes, prefixesEncodingLength } from './prefix.ts';
import {
  AttributeCode,
  type AttributeError,
  BGP_HEADER_LENGTH,
  BGP_MAX_MESSAGE_LENGTH,
  type BgpMessage,
  type Capability,
  type Codec,
  type CodecOptions,
  type DecodeResult,
  type EncodeResult,
  Family,
  type FamilyKey,
  familyAfi,
  familyKey,
  familySafi,
  type KeepaliveMessage,
  MessageHeaderErrorSubcode,
  MessageType,
  maxMessageLength,
  NotificationCode,
  type NotificationMessage,
  type OpenMessage,
  OpenMessageErrorSubcode,
  RouteRefreshErrorSubcode,
  type RouteRefreshMessage,
  type UpdateMessage,
  UpdateMessageErrorSubcode,
} from './types.ts';

const EMPTY = new Uint8Array(0);

function u16(buf: Uint8Array, p: number): number {
  return (buf[p]! << 8) | buf[p + 1]!;
}
function u32(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
}
function put16(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v >>> 8;
  buf[p + 1] = v;
}
function put32(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v >>> 24;
  buf[p + 1] = v >>> 16;
  buf[p + 2] = v >>> 8;
  buf[p + 3] = v;
}

// ---------------------------------------------------------------------------------------------
// Header

export interface MessageHeader {
  readonly length: number;
  readonly type: number;
}

/** Smallest legal length per message type (RFC 4271 §4.2-4.5, RFC 2918 §3). */
const MIN_LENGTH: readonly number[] = [0, 29, 23, 21, 19, 23];

/**
 * Validates the 19-octet header at buf[start] (RFC 4271 §6.1): marker, length within
 * [19, maxLength] and plausible for the type, known type. buf must hold at least 19 octets.
 * maxLength is 4096, or 65535 once RFC 8654 extended messages are negotiated.
 */
export function decodeHeader(buf: Uint8Array, start: number, maxLength: number): DecodeResult<MessageHeader> {
  for (let i = 0; i < 16; i++) {
    if (buf[start + i] !== 0xff) {
      return fail(
        NotificationCode.MessageHeaderError,
        MessageHeaderErrorSubcode.ConnectionNotSynchronized,
        EMPTY,
        'header marker is not all ones',
      );
    }
  }
  const length = u16(buf, start + 16);
  const type = buf[start + 18]!;
  if (type < 1 || type > 5) {
    return fail(
      NotificationCode.MessageHeaderError,
      MessageHeaderErrorSubcode.BadMessageType,
      new Uint8Array([type]),
      `message type ${type} unknown`,
    );
  }
  // RFC 8654 §4: OPEN and KEEPALIVE never exceed 4096 octets
  const max =
    type === MessageType.Open || type === MessageType.Keepalive ? BGP_MAX_MESSAGE_LENGTH : maxLength;
  const tooShort = length < MIN_LENGTH[type]!;
  const wrongFixed = type === MessageType.Keepalive && length !== BGP_HEADER_LENGTH;
  // RFC 7313 §5: a ROUTE-REFRESH of the wrong length is a ROUTE-REFRESH Message Error, see decodeRouteRefresh
  if (
    type !== MessageType.RouteRefresh &&
    (length < BGP_HEADER_LENGTH || length > max || tooShort || wrongFixed)
  ) {
    return fail(
      NotificationCode.MessageHeaderError,
      MessageHeaderErrorSubcode.BadMessageLength,
      u16Data(length),
      `message length ${length} is invalid for type ${type} (maximum ${max})`,
    );
  }
  if (type === MessageType.RouteRefresh && (length < BGP_HEADER_LENGTH || length > max)) {
    return fail(
      NotificationCode.MessageHeaderError,
      MessageHeaderErrorSubcode.BadMessageLength,
      u16Data(length),
      `message length ${length} is invalid (maximum ${max})`,
    );
  }
  return { ok: true, value: { length, type } };
}

function writeHeader(buf: Uint8Array, offset: number, length: number, type: number): void {
  buf.fill(0xff, offset, offset + 16);
  put16(buf, offset + 16, length);
  buf[offset + 18] = type;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes one whole message (header included) occupying exactly buf[start, end). A length field
 * that disagrees with end - start is a Bad Message Length.
 */
export function decodeMessageAt(
  buf: Uint8Array,
  start: number,
  end: number,
  opts: CodecOptions,
): DecodeResult<BgpMessage> {
  if (end - start < BGP_HEADER_LENGTH) {
    return fail(
      NotificationCode.MessageHeaderError,
      MessageHeaderErrorSubcode.BadMessageLength,
      u16Data(end - start),
      `message of ${end - start} octets is shorter than the header`,
    );
  }
  const h = decodeHeader(buf, start, maxMessageLength(opts));
  if (!h.ok) return h;
  const { length, type } = h.value;
  if (length !== end - start) {
    return fail(
      NotificationCode.MessageHeaderError,
      MessageHeaderErrorSubcode.BadMessageLength,
      u16Data(length),
      `header length ${length} does not match the ${end - start} octets given`,
    );
  }
  switch (type) {
    case MessageType.Open:
      return decodeOpen(buf, start, end);
    case MessageType.Update:
      return decodeUpdate(buf, start, end, opts);
    case MessageType.Notification:
      return {
        ok: true,
        value: {
          type: 'notification',
          code: buf[start + 19]!,
          subcode: buf[start + 20]!,
          data: copyBytes(buf, start + 21, end),
        },
      };
    case MessageType.Keepalive:
      return { ok: true, value: KEEPALIVE_MESSAGE };
    default:
      return decodeRouteRefresh(buf, start, end);
  }
}

/** Decodes one whole message (a frame from BgpFrameReader, or a buffer holding exactly one message). */
export function decodeMessage(frame: Uint8Array, opts: CodecOptions): DecodeResult<BgpMessage> {
  return decodeMessageAt(frame, 0, frame.length, opts);
}

const KEEPALIVE_MESSAGE: KeepaliveMessage = Object.freeze({ type: 'keepalive' });

function decodeOpen(buf: Uint8Array, start: number, end: number): DecodeResult<BgpMessage> {
  const b = start + BGP_HEADER_LENGTH;
  const version = buf[b]!;
  if (version !== 4) {
    // RFC 4271 §6.2: data is the largest locally supported version
    return fail(
      NotificationCode.OpenMessageError,
      OpenMessageErrorSubcode.UnsupportedVersionNumber,
      u16Data(4),
      `BGP version ${version} unsupported`,
    );
  }
  const myAs = u16(buf, b + 1);
  const holdTime = u16(buf, b + 3);
  const bgpId = u32(buf, b + 5);
  const optLen = buf[b + 9]!;
  let p = b + 10;
  let paramsEnd = p + optLen;
  let extended = false;
  // RFC 9072 §2: Non-Ext OP Type 255 announces the extended format with 2-octet lengths
  if (optLen > 0 && buf[p] === 255) {
    if (p + 3 > end) return badOpenLength(end - start);
    extended = true;
    const extLen = u16(buf, p + 1);
    p += 3;
    paramsEnd = p + extLen;
  }
  if (paramsEnd !== end) return badOpenLength(end - start);
  const capabilities: Capability[] = [];
  while (p < paramsEnd) {
    const hdr = extended ? 3 : 2;
    if (p + hdr > paramsEnd)
      return fail(NotificationCode.OpenMessageError, 0, EMPTY, 'optional parameter header truncated');
    const ptype = buf[p]!;
    const plen = extended ? u16(buf, p + 1) : buf[p + 1]!;
    const vs = p + hdr;
    const ve = vs + plen;
    if (ve > paramsEnd)
      return fail(
        NotificationCode.OpenMessageError,
        0,
        EMPTY,
        `optional parameter ${ptype} overruns the OPEN`,
      );
    if (ptype !== 2) {
      return fail(
        NotificationCode.OpenMessageError,
        OpenMessageErrorSubcode.UnsupportedOptionalParameter,
        EMPTY,
        `optional parameter type ${ptype} unsupported`,
      );
    }
    const err = decodeCapabilities(buf, vs, ve, capabilities);
    if (err !== null && !err.ok) return err;
    p = ve;
  }
  if (holdTime === 1 || holdTime === 2) {
    return fail(
      NotificationCode.OpenMessageError,
      OpenMessageErrorSubcode.UnacceptableHoldTime,
      EMPTY,
      `hold time ${holdTime} is below 3 seconds`,
    );
  }
  if (bgpId === 0) {
    return fail(
      NotificationCode.OpenMessageError,
      OpenMessageErrorSubcode.BadBgpIdentifier,
      EMPTY,
      'BGP identifier 0.0.0.0',
    );
  }
  const open: OpenMessage = extended
    ? { type: 'open', version, myAs, holdTime, bgpId, capabilities, extendedOptionalParameters: true }
    : { type: 'open', version, myAs, holdTime, bgpId, capabilities };
  return { ok: true, value: open };
}

function badOpenLength(length: number): DecodeResult<BgpMessage> {
  return fail(
    NotificationCode.MessageHeaderError,
    MessageHeaderErrorSubcode.BadMessageLength,
    u16Data(length),
    `OPEN length ${length} disagrees with its optional parameters length`,
  );
}

function decodeRouteRefresh(buf: Uint8Array, start: number, end: number): DecodeResult<BgpMessage> {
  if (end - start !== 23) {
    // RFC 7313 §5: data is the complete message
    return fail(
      NotificationCode.RouteRefreshMessageError,
      RouteRefreshErrorSubcode.InvalidMessageLength,
      copyBytes(buf, start, end),
      `ROUTE-REFRESH length ${end - start}, expected 23`,
    );
  }
  const b = start + BGP_HEADER_LENGTH;
  const value: RouteRefreshMessage = {
    type: 'route-refresh',
    afi: u16(buf, b),
    subtype: buf[b + 2]!,
    safi: buf[b + 3]!,
  };
  return { ok: true, value };
}

const NO_ERRORS: readonly AttributeError[] = Object.freeze([]);

function reported(errors: readonly AttributeError[], code: number): boolean {
  for (const e of errors) if (e.attributeCode === code) return true;
  return false;
}

function decodeUpdate(
  buf: Uint8Array,
  start: number,
  end: number,
  opts: CodecOptions,
): DecodeResult<BgpMessage> {
  const b = start + BGP_HEADER_LENGTH;
  const wlen = u16(buf, b);
  const attrLenAt = b + 2 + wlen;
  if (attrLenAt + 2 > end) {
    return fail(
      NotificationCode.UpdateMessageError,
      UpdateMessageErrorSubcode.MalformedAttributeList,
      EMPTY,
      `withdrawn routes length ${wlen} overruns the UPDATE`,
    );
  }
  const alen = u16(buf, attrLenAt);
  const attrStart = attrLenAt + 2;
  const nlriStart = attrStart + alen;
  if (nlriStart > end) {
    // RFC 4271 §6.3: Withdrawn Routes Length + Total Attribute Length + 23 exceeds the message length
    return fail(
      NotificationCode.UpdateMessageError,
      UpdateMessageErrorSubcode.MalformedAttributeList,
      EMPTY,
      `total path attribute length ${alen} overruns the UPDATE`,
    );
  }
  const v4AddPath = opts.addPath.has(Family.IPv4Unicast);
  const withdrawn = wlen === 0 ? emptyPrefixList(1) : parsePrefixes(buf, b + 2, attrLenAt, 1, v4AddPath);
  if (typeof withdrawn === 'string') {
    // RFC 7606 §5.3: unparseable NLRI means session reset
    return fail(
      NotificationCode.UpdateMessageError,
      UpdateMessageErrorSubcode.InvalidNetworkField,
      EMPTY,
      `withdrawn routes: ${withdrawn}`,
    );
  }
  const nlri = nlriStart === end ? emptyPrefixList(1) : parsePrefixes(buf, nlriStart, end, 1, v4AddPath);
  if (typeof nlri === 'string') {
    return fail(
      NotificationCode.UpdateMessageError,
      UpdateMessageErrorSubcode.InvalidNetworkField,
      EMPTY,
      `NLRI: ${nlri}`,
    );
  }
  if (alen === 0) {
    if (nlri.count === 0) {
      return {
        ok: true,
        value: { type: 'update', withdrawn, attributes: {}, nlri, treatAsWithdraw: false, errors: NO_ERRORS },
      };
    }
    // RFC 7606 §3 d: missing well-known mandatory attributes
    const errors = [
      attributeError('treat-as-withdraw', AttributeCode.Origin, 'missing well-known attribute ORIGIN'),
      attributeError('treat-as-withdraw', AttributeCode.AsPath, 'missing well-known attribute AS_PATH'),
      attributeError('treat-as-withdraw', AttributeCode.NextHop, 'missing well-known attribute NEXT_HOP'),
    ];
    return {
      ok: true,
      value: { type: 'update', withdrawn, attributes: {}, nlri, treatAsWithdraw: true, errors },
    };
  }
  const decoded = decodePathAttributes(buf, attrStart, nlriStart, opts);
  if (!decoded.ok) return decoded;
  const { attributes } = decoded.value;
  let { treatAsWithdraw, errors } = decoded.value;
  const mp = attributes.mpReach;
  const mpHasNlri =
    mp !== undefined &&
    ((mp.nlri !== null && mp.nlri.count > 0) || (mp.rawNlri !== null && mp.rawNlri.length > 0));
  if (nlri.count > 0 || mpHasNlri) {
    // RFC 4271 §5 / RFC 4760 §3 / RFC 7606 §3 d: ORIGIN and AS_PATH whenever routes are announced,
    // NEXT_HOP when the NLRI field is used (an attribute already reported malformed is not re-reported)
    const noOrigin = attributes.origin === undefined && !reported(errors, AttributeCode.Origin);
    const noAsPath = attributes.asPath === undefined && !reported(errors, AttributeCode.AsPath);
    const noNextHop =
      nlri.count > 0 && attributes.nextHop === undefined && !reported(errors, AttributeCode.NextHop);
    if (noOrigin || noAsPath || noNextHop) {
      const all = [...errors];
      if (noOrigin)
        all.push(
          attributeError('treat-as-withdraw', AttributeCode.Origin, 'missing well-known attribute ORIGIN'),
        );
      if (noAsPath)
        all.push(
          attributeError('treat-as-withdraw', AttributeCode.AsPath, 'missing well-known attribute AS_PATH'),
        );
      if (noNextHop)
        all.push(
          attributeError('treat-as-withdraw', AttributeCode.NextHop, 'missing well-known attribute NEXT_HOP'),
        );
      errors = all;
      treatAsWithdraw = true;
    }
  }
  return { ok: true, value: { type: 'update', withdrawn, attributes, nlri, treatAsWithdraw, errors } };
}

// ---------------------------------------------------------------------------------------------
// End-of-RIB (RFC 4724 §2)

/** The family an UPDATE marks End-of-RIB for, or null when it is not an End-of-RIB marker. */
export function endOfRibFamily(update: UpdateMessage): FamilyKey | null {
  if (update.withdrawn.count !== 0 || update.nlri.count !== 0) return null;
  const a = update.attributes;
  // Present attributes, not keys: decoded sets have every key (decodedAttributes in attributes.ts).
  let keys = 0;
  for (const k in a) if ((a as Record<string, unknown>)[k] !== undefined) keys++;
  if (keys === 0) return Family.IPv4Unicast;
  const un = a.mpUnreach;
  if (keys !== 1 || un === undefined) return null;
  const empty = un.nlri !== null ? un.nlri.count === 0 : un.rawNlri === null || un.rawNlri.length === 0;
  return empty ? familyKey(un.afi, un.safi) : null;
}

/** The End-of-RIB marker for a family (IPv4 unicast: empty UPDATE; others: empty MP_UNREACH_NLRI). */
export function endOfRibMessage(family: FamilyKey): UpdateMessage {
  const attributes =
    family === Family.IPv4Unicast
      ? {}
      : { mpUnreach: { afi: familyAfi(family), safi: familySafi(family), nlri: null, rawNlri: null } };
  return {
    type: 'update',
    withdrawn: emptyPrefixList(1),
    attributes,
    nlri: emptyPrefixList(1),
    treatAsWithdraw: false,
    errors: NO_ERRORS,
  };
}

export function encodeEndOfRib(family: FamilyKey, opts: CodecOptions): Buffer {
  const msg = endOfRibMessage(family);
  const out = Buffer.allocUnsafe(messageLength(msg, opts));
  writeMessage(msg, opts, out, 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function capabilitiesLength(caps: readonly Capability[]): number {
  let n = 0;
  for (const c of caps) n += 2 + capabilityValueLength(c);
  return n;
}

/** Whether an OPEN's capabilities need the RFC 9072 extended optional-parameter format. */
function openUsesExtended(msg: OpenMessage): boolean {
  const capLen = capabilitiesLength(msg.capabilities);
  return msg.extendedOptionalParameters === true || capLen + 2 > 255;
}

/** Encoded size of a message (header included) under opts. */
export function messageLength(msg: BgpMessage, opts: CodecOptions): number {
  switch (msg.type) {
    case 'keepalive':
      return BGP_HEADER_LENGTH;
    case 'notification':
      return BGP_HEADER_LENGTH + 2 + msg.data.length;
    case 'route-refresh':
      return BGP_HEADER_LENGTH + 4;
    case 'open': {
      const capLen = capabilitiesLength(msg.capabilities);
      if (openUsesExtended(msg))
        return BGP_HEADER_LENGTH + 10 + 3 + (capLen > 0 || msg.capabilities.length > 0 ? 3 + capLen : 0);
      return BGP_HEADER_LENGTH + 10 + (msg.capabilities.length > 0 ? 2 + capLen : 0);
    }
    case 'update': {
      const v4AddPath = opts.addPath.has(Family.IPv4Unicast);
      return (
        BGP_HEADER_LENGTH +
        4 +
        prefixesEncodingLength(msg.withdrawn, 0, msg.withdrawn.count, v4AddPath) +
        pathAttributesLength(msg.attributes, opts) +
        prefixesEncodingLength(msg.nlri, 0, msg.nlri.count, v4AddPath)
      );
    }
  }
}

/**
 * Writes msg (header included) at offset without size checks; returns the number of octets
 * written (=== messageLength). Use encodeMessage for checked encoding.
 */
export function writeMessage(msg: BgpMessage, opts: CodecOptions, buf: Uint8Array, offset: number): number {
  const length = messageLength(msg, opts);
  let p = offset + BGP_HEADER_LENGTH;
  switch (msg.type) {
    case 'keepalive':
      writeHeader(buf, offset, length, MessageType.Keepalive);
      break;
    case 'notification':
      writeHeader(buf, offset, length, MessageType.Notification);
      buf[p] = msg.code;
      buf[p + 1] = msg.subcode;
      buf.set(msg.data, p + 2);
      break;
    case 'route-refresh':
      writeHeader(buf, offset, length, MessageType.RouteRefresh);
      put16(buf, p, msg.afi);
      buf[p + 2] = msg.subtype;
      buf[p + 3] = msg.safi;
      break;
    case 'open': {
      writeHeader(buf, offset, length, MessageType.Open);
      buf[p] = msg.version;
      put16(buf, p + 1, msg.myAs);
      put16(buf, p + 3, msg.holdTime);
      put32(buf, p + 5, msg.bgpId);
      const capLen = capabilitiesLength(msg.capabilities);
      p += 9;
      if (openUsesExtended(msg)) {
        const paramsLen = msg.capabilities.length > 0 ? 3 + capLen : 0;
        buf[p] = 255; // Non-Ext OP Len (RFC 9072 §2)
        buf[p + 1] = 255; // Non-Ext OP Type
        put16(buf, p + 2, paramsLen);
        p += 4;
        if (paramsLen > 0) {
          buf[p] = 2;
          put16(buf, p + 1, capLen);
          p += 3;
        }
      } else {
        buf[p] = msg.capabilities.length > 0 ? 2 + capLen : 0;
        p += 1;
        if (msg.capabilities.length > 0) {
          buf[p] = 2;
          buf[p + 1] = capLen;
          p += 2;
        }
      }
      for (const c of msg.capabilities) p += capabilityCodec.encode(c, opts, buf, p);
      break;
    }
    case 'update': {
      writeHeader(buf, offset, length, MessageType.Update);
      const v4AddPath = opts.addPath.has(Family.IPv4Unicast);
      const wStart = p + 2;
      const wEnd = encodePrefixes(msg.withdrawn, 0, msg.withdrawn.count, v4AddPath, buf, wStart);
      put16(buf, p, wEnd - wStart);
      const aStart = wEnd + 2;
      const aEnd = encodePathAttributes(msg.attributes, opts, buf, aStart);
      put16(buf, wEnd, aEnd - aStart);
      encodePrefixes(msg.nlri, 0, msg.nlri.count, v4AddPath, buf, aEnd);
      break;
    }
  }
  return length;
}

/** Problems that make a message unencodable (beyond the size check), or null. */
function validate(msg: BgpMessage): string | null {
  if (msg.type === 'open') {
    for (const c of msg.capabilities) {
      const len = capabilityValueLength(c);
      if (len > 255) return `capability ${c.kind} value of ${len} octets exceeds 255`;
      if (c.kind === 'fqdn') {
        if (Buffer.byteLength(c.hostname) > 255 || Buffer.byteLength(c.domainName) > 255)
          return 'FQDN name exceeds 255 octets';
      }
    }
  }
  if (msg.type === 'update' && (msg.withdrawn.afi !== 1 || msg.nlri.afi !== 1)) {
    return 'UPDATE withdrawn/NLRI fields carry IPv4 only; use MP_REACH/MP_UNREACH for IPv6';
  }
  return null;
}

/** Encodes one message into a new Buffer, checking it fits the negotiated maximum size. */
export function encodeMessage(msg: BgpMessage, opts: CodecOptions): EncodeResult {
  const invalid = validate(msg);
  if (invalid !== null) return { ok: false, reason: invalid };
  const length = messageLength(msg, opts);
  const max =
    msg.type === 'open' || msg.type === 'keepalive' ? BGP_MAX_MESSAGE_LENGTH : maxMessageLength(opts);
  if (length > max)
    return { ok: false, reason: `${msg.type} message of ${length} octets exceeds the maximum ${max}` };
  const bytes = Buffer.allocUnsafe(length);
  writeMessage(msg, opts, bytes, 0);
  return { ok: true, bytes };
}

/** A KEEPALIVE message (19 octets). */
export function encodeKeepalive(): Buffer {
  const out = Buffer.allocUnsafe(BGP_HEADER_LENGTH);
  writeHeader(out, 0, BGP_HEADER_LENGTH, MessageType.Keepalive);
  return out;
}

/** A NOTIFICATION; data longer than fits in 4096 octets is truncated (it is diagnostic only). */
export function encodeNotification(code: number, subcode: number, data: Uint8Array = EMPTY): Buffer {
  const d = data.length > BGP_MAX_MESSAGE_LENGTH - 21 ? data.subarray(0, BGP_MAX_MESSAGE_LENGTH - 21) : data;
  const msg: NotificationMessage = { type: 'notification', code, subcode, data: d };
  const out = Buffer.allocUnsafe(21 + d.length);
  writeMessage(msg, { fourOctetAs: true, extendedMessage: false, addPath: new Set() }, out, 0);
  return out;
}

/** A ROUTE-REFRESH (subtype 0 normal, 1 BoRR, 2 EoRR: RFC 7313). */
export function encodeRouteRefresh(family: FamilyKey, subtype = 0): Buffer {
  const out = Buffer.allocUnsafe(23);
  writeMessage(
    { type: 'route-refresh', afi: familyAfi(family), safi: familySafi(family), subtype },
    { fourOctetAs: true, extendedMessage: false, addPath: new Set() },
    out,
    0,
  );
  return out;
}

/** Codec over whole messages (header included): the dns-packet style interface. */
export const messageCodec: Codec<BgpMessage> = {
  encodingLength: messageLength,
  encode: writeMessage,
  decode: decodeMessageAt,
};
