// Decodes a captured frame down to its TCP segment: link layer (Ethernet with 802.1Q/802.1ad
// tags, Linux cooked SLL and SLL2, raw IP, BSD loopback), IPv4 (RFC 791) or IPv6 (RFC 8200, with
// extension headers), then TCP (RFC 9293). Anything else is reported as not TCP.
import { formatIPv6Bytes } from '../bgp/codec/address.ts';
import { LinkType, view } from './pcap.ts';

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  ackFlag: boolean;
  payload: Uint8Array;
}

export type PacketResult = { kind: 'tcp'; segment: TcpSegment } | { kind: 'other'; reason: string };

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = [0x8100, 0x88a8, 0x9100];
const IPPROTO_TCP = 6;

function other(reason: string): PacketResult {
  return { kind: 'other', reason };
}

/** Decodes one frame of the given link type. */
export function decodePacket(linkType: number, data: Uint8Array): PacketResult {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (linkType) {
    case LinkType.ETHERNET: {
      let at = 12;
      if (data.length < 14) return other('short Ethernet frame');
      let type = dv.getUint16(at);
      while (ETHERTYPE_VLAN.includes(type)) {
        at += 4;
        if (data.length < at + 2) return other('short VLAN tag');
        type = dv.getUint16(at);
      }
      return decodeByEthertype(type, view(data, at + 2, data.length));
    }
    case LinkType.LINUX_SLL:
      // 16-byte header; the protocol type is the last two bytes.
      if (data.length < 16) return other('short Linux cooked (SLL) header');
      return decodeByEthertype(dv.getUint16(14), view(data, 16, data.length));
    case LinkType.LINUX_SLL2:
      // 20-byte header; the protocol type comes first.
      if (data.length < 20) return other('short Linux cooked (SLL2) header');
      return decodeByEthertype(dv.getUint16(0), view(data, 20, data.length));
    case LinkType.RAW:
    case 12: // DLT_RAW on some platforms
    case 14:
      return decodeIp(data);
    case LinkType.IPV4:
      return decodeIpv4(data);
    case LinkType.IPV6:
      return decodeIpv6(data);
    case LinkType.NULL:
    case LinkType.LOOP:
      // 4-byte address family in host (NULL) or network (LOOP) order; the IP version tells anyway.
      if (data.length < 4) return other('short loopback header');
      return decodeIp(view(data, 4, data.length));
    default:
      return other(`unsupported link type ${linkType}`);
  }
}

function decodeByEthertype(type: number, data: Uint8Array): PacketResult {
  if (type === ETHERTYPE_IPV4) return decodeIpv4(data);
  if (type === ETHERTYPE_IPV6) return decodeIpv6(data);
  return other(`ethertype 0x${type.toString(16).padStart(4, '0')}`);
}

function decodeIp(data: Uint8Array): PacketResult {
  if (data.length < 1) return other('empty IP packet');
  const version = (data[0] ?? 0) >> 4;
  if (version === 4) return decodeIpv4(data);
  if (version === 6) return decodeIpv6(data);
  return other(`IP version ${version}`);
}

function decodeIpv4(data: Uint8Array): PacketResult {
  if (data.length < 20) return other('short IPv4 header');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const ihl = (dv.getUint8(0) & 0x0f) * 4;
  const total = dv.getUint16(2);
  if (ihl < 20 || data.length < ihl) return other('bad IPv4 header length');
  const fragOffset = dv.getUint16(6) & 0x1fff;
  const moreFragments = (dv.getUint16(6) & 0x2000) !== 0;
  if (fragOffset !== 0 || moreFragments) return other('IPv4 fragment');
  if (dv.getUint8(9) !== IPPROTO_TCP) return other(`IP protocol ${dv.getUint8(9)}`);
  // The captured frame may carry Ethernet padding beyond the IP total length.
  const end = total >= ihl ? Math.min(total, data.length) : data.length;
  const src = `${data[12]}.${data[13]}.${data[14]}.${data[15]}`;
  const dst = `${data[16]}.${data[17]}.${data[18]}.${data[19]}`;
  return decodeTcp(src, dst, view(data, ihl, end));
}

function decodeIpv6(data: Uint8Array): PacketResult {
  if (data.length < 40) return other('short IPv6 header');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const payloadLength = dv.getUint16(4);
  let next = dv.getUint8(6);
  let at = 40;
  // A payload length of 0 means a jumbogram (RFC 2675): the frame's length is all we have.
  const end = payloadLength === 0 ? data.length : Math.min(data.length, 40 + payloadLength);
  // Extension headers: hop-by-hop (0), routing (43), destination options (60), fragment (44).
  for (;;) {
    if (next === IPPROTO_TCP) break;
    if (next === 0 || next === 43 || next === 60) {
      if (end < at + 8) return other('short IPv6 extension header');
      const len = (dv.getUint8(at + 1) + 1) * 8;
      next = dv.getUint8(at);
      at += len;
      continue;
    }
    if (next === 44) return other('IPv6 fragment');
    return other(`IPv6 next header ${next}`);
  }
  return decodeTcp(ipv6Text(view(data, 8, 24)), ipv6Text(view(data, 24, 40)), view(data, at, end));
}

function decodeTcp(src: string, dst: string, data: Uint8Array): PacketResult {
  if (data.length < 20) return other('short TCP header');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const offset = (dv.getUint8(12) >> 4) * 4;
  if (offset < 20 || offset > data.length) return other('bad TCP data offset');
  const flags = dv.getUint8(13);
  return {
    kind: 'tcp',
    segment: {
      src,
      dst,
      srcPort: dv.getUint16(0),
      dstPort: dv.getUint16(2),
      seq: dv.getUint32(4),
      ack: dv.getUint32(8),
      fin: (flags & 0x01) !== 0,
      syn: (flags & 0x02) !== 0,
      rst: (flags & 0x04) !== 0,
      ackFlag: (flags & 0x10) !== 0,
      payload: view(data, offset, data.length),
    },
  };
}

/** RFC 5952 text of a 16-byte IPv6 address. */
export function ipv6Text(b: Uint8Array): string {
  return formatIPv6Bytes(b);
}
