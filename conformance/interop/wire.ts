// Hand-built BGP messages for the RFC 7606 checks. They are written byte by byte here, not with
// tsbgp's codec, so a codec bug cannot hide itself by producing and accepting the same wrong bytes.
// Every session built with these messages negotiates the 4-octet AS capability (RFC 6793), so
// AS_PATH carries 4-octet ASNs.

const MARKER = Buffer.alloc(16, 0xff);

export const ORIGIN_IGP = 0;
/** Attribute flags (RFC 4271 §4.3). */
export const OPTIONAL = 0x80;
export const TRANSITIVE = 0x40;
export const EXTENDED_LENGTH = 0x10;

/** A whole message: marker, length, type (RFC 4271 §4.1). */
export function message(type: number, body: Uint8Array = new Uint8Array()): Buffer {
  const header = Buffer.alloc(19);
  MARKER.copy(header);
  header.writeUInt16BE(19 + body.length, 16);
  header[18] = type;
  return Buffer.concat([header, body]);
}

export const KEEPALIVE = message(4);

/** OPEN with the multiprotocol IPv4 unicast, route refresh and 4-octet AS capabilities. */
export function open(asn: number, holdTime: number, routerId: string): Buffer {
  const caps = Buffer.from([
    ...[1, 4, 0, 1, 0, 1], // multiprotocol, AFI 1 SAFI 1 (RFC 4760)
    ...[2, 0], // route refresh (RFC 2918)
    ...[65, 4, (asn >>> 24) & 0xff, (asn >>> 16) & 0xff, (asn >>> 8) & 0xff, asn & 0xff], // RFC 6793
  ]);
  const optParams = Buffer.concat([Buffer.from([2, caps.length]), caps]);
  const body = Buffer.alloc(10);
  body[0] = 4;
  body.writeUInt16BE(asn > 0xffff ? 23456 : asn, 1);
  body.writeUInt16BE(holdTime, 3);
  Buffer.from(routerId.split('.').map(Number)).copy(body, 5);
  body[9] = optParams.length;
  return message(1, Buffer.concat([body, optParams]));
}

/** One path attribute; the extended-length flag decides the width of the length field. */
export function attribute(flags: number, code: number, data: Uint8Array): Buffer {
  const ext = (flags & EXTENDED_LENGTH) !== 0;
  const head = Buffer.alloc(ext ? 4 : 3);
  head[0] = flags;
  head[1] = code;
  if (ext) head.writeUInt16BE(data.length, 2);
  else head[2] = data.length;
  return Buffer.concat([head, data]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export const origin = (value: number): Buffer => attribute(TRANSITIVE, 1, Buffer.from([value]));
/** AS_PATH of one AS_SEQUENCE, 4-octet ASNs. */
export const asPath = (asns: number[]): Buffer =>
  attribute(TRANSITIVE, 2, Buffer.concat([Buffer.from([2, asns.length]), ...asns.map(u32)]));
export const nextHop = (addr: string): Buffer =>
  attribute(TRANSITIVE, 3, Buffer.from(addr.split('.').map(Number)));
export const med = (value: number): Buffer => attribute(OPTIONAL, 4, u32(value));
export const communities = (list: string[]): Buffer =>
  attribute(
    OPTIONAL | TRANSITIVE,
    8,
    Buffer.concat(
      list.map((c) => {
        const [hi = 0, lo = 0] = c.split(':').map(Number);
        return u32(hi * 65536 + lo);
      }),
    ),
  );

/** An IPv4 NLRI field entry: length in bits, then the significant octets (RFC 4271 §4.3). */
export function prefix4(p: string, lengthOverride?: number): Buffer {
  const [addr = '', len = '0'] = p.split('/');
  const bits = Number(len);
  const octets = addr
    .split('.')
    .map(Number)
    .slice(0, Math.ceil(bits / 8));
  return Buffer.from([lengthOverride ?? bits, ...octets]);
}

/** An UPDATE: withdrawn routes, path attributes, NLRI (RFC 4271 §4.3). */
export function update(withdrawn: Buffer[], attrs: Buffer[], nlri: Buffer[]): Buffer {
  const w = Buffer.concat(withdrawn);
  const a = Buffer.concat(attrs);
  const wl = Buffer.alloc(2);
  wl.writeUInt16BE(w.length);
  const al = Buffer.alloc(2);
  al.writeUInt16BE(a.length);
  return message(2, Buffer.concat([wl, w, al, a, ...nlri]));
}

/** Type codes of the path attributes of an UPDATE message (header included), in order. */
export function attributeCodes(msg: Uint8Array): number[] {
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  const withdrawnLength = b.readUInt16BE(19);
  let off = 21 + withdrawnLength;
  const end = off + 2 + b.readUInt16BE(off);
  off += 2;
  const codes: number[] = [];
  while (off + 3 <= end) {
    const flags = b[off] ?? 0;
    codes.push(b[off + 1] ?? 0);
    const ext = (flags & EXTENDED_LENGTH) !== 0;
    off += ext ? 4 + b.readUInt16BE(off + 2) : 3 + (b[off + 2] ?? 0);
  }
  return codes;
}
