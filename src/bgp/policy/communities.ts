// Community values in configuration form and their matchers (RFC 1997, RFC 4360, RFC 8092).
// Parsing happens once when a policy is compiled; matching works on the wire words.

import { parseIpv4, WellKnownCommunity } from '../rib/attrs.ts';

const WELL_KNOWN_NAMES: Record<string, number> = {
  'no-export': WellKnownCommunity.NoExport,
  'no-advertise': WellKnownCommunity.NoAdvertise,
  'no-export-subconfed': WellKnownCommunity.NoExportSubconfed,
  'no-peer': WellKnownCommunity.NoPeer,
  'graceful-shutdown': WellKnownCommunity.GracefulShutdown,
  blackhole: WellKnownCommunity.Blackhole,
};

function parseUint(text: string, max: number, what: string, source: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${what} '${source}': '${text}' is not a number`);
  const n = Number(text);
  if (n > max) throw new Error(`${what} '${source}': ${text} is larger than ${max}`);
  return n;
}

/** Parses 'ASN:VALUE' (16 bits each) or a well-known name into the community's uint32. */
export function parseCommunity(text: string): number {
  const named = WELL_KNOWN_NAMES[text.toLowerCase()];
  if (named !== undefined) return named;
  const parts = text.split(':');
  if (parts.length !== 2) throw new Error(`community '${text}': expected ASN:VALUE or a well-known name`);
  return (
    ((parseUint(parts[0]!, 0xffff, 'community', text) << 16) |
      parseUint(parts[1]!, 0xffff, 'community', text)) >>>
    0
  );
}

export function formatCommunity(c: number): string {
  for (const [name, v] of Object.entries(WELL_KNOWN_NAMES)) if (v === c) return name;
  return `${c >>> 16}:${c & 0xffff}`;
}

/** Parses 'GLOBAL:LOCAL1:LOCAL2' (32 bits each) into three words. */
export function parseLargeCommunity(text: string): [number, number, number] {
  const parts = text.split(':');
  if (parts.length !== 3) throw new Error(`large community '${text}': expected GLOBAL:LOCAL1:LOCAL2`);
  return [
    parseUint(parts[0]!, 0xffffffff, 'large community', text),
    parseUint(parts[1]!, 0xffffffff, 'large community', text),
    parseUint(parts[2]!, 0xffffffff, 'large community', text),
  ];
}

/**
 * Parses an extended community: 'rt:ASN:N' / 'soo:ASN:N' (2-octet AS with 32-bit value, or
 * 4-octet AS with 16-bit value), 'rt:A.B.C.D:N' / 'soo:A.B.C.D:N' (IPv4 address specific), or a
 * raw 16-digit hex value '0x...'. Returns [high word, low word].
 */
export function parseExtCommunity(text: string): [number, number] {
  if (/^0x[0-9a-fA-F]{16}$/.test(text)) {
    return [Number.parseInt(text.slice(2, 10), 16) >>> 0, Number.parseInt(text.slice(10), 16) >>> 0];
  }
  const parts = text.split(':');
  if (parts.length !== 3)
    throw new Error(
      `extended community '${text}': expected rt:ADMIN:VALUE, soo:ADMIN:VALUE or 0x<16 hex digits>`,
    );
  const kind = parts[0]!.toLowerCase();
  // RFC 4360 §4: Route Target subtype 0x02, Route Origin (Site of Origin) subtype 0x03
  const sub = kind === 'rt' ? 0x02 : kind === 'ro' || kind === 'soo' ? 0x03 : -1;
  if (sub < 0) throw new Error(`extended community '${text}': unknown kind '${parts[0]}' (rt, ro or soo)`);
  const admin = parts[1]!;
  if (admin.includes('.')) {
    // RFC 4360 §3.2 IPv4 Address Specific: type 0x01, 4 bytes address, 2 bytes value
    const ip = parseIpv4(admin);
    const v = parseUint(parts[2]!, 0xffff, 'extended community', text);
    return [((0x01 << 24) | (sub << 16) | (ip >>> 16)) >>> 0, (((ip & 0xffff) << 16) | v) >>> 0];
  }
  const asn = parseUint(admin, 0xffffffff, 'extended community', text);
  if (asn <= 0xffff) {
    // RFC 4360 §3.1 Two-Octet AS Specific: type 0x00, 2 bytes AS, 4 bytes value
    const v = parseUint(parts[2]!, 0xffffffff, 'extended community', text);
    return [((0x00 << 24) | (sub << 16) | asn) >>> 0, v >>> 0];
  }
  // RFC 5668 Four-Octet AS Specific: type 0x02, 4 bytes AS, 2 bytes value
  const v = parseUint(parts[2]!, 0xffff, 'extended community', text);
  return [((0x02 << 24) | (sub << 16) | (asn >>> 16)) >>> 0, (((asn & 0xffff) << 16) | v) >>> 0];
}

/** A matcher for one standard community pattern: 'ASN:VALUE', '*:VALUE', 'ASN:*', or a name. */
export interface CommunityPattern {
  readonly value: number;
  readonly mask: number;
}

export function parseCommunityPattern(text: string): CommunityPattern {
  if (WELL_KNOWN_NAMES[text.toLowerCase()] !== undefined)
    return { value: parseCommunity(text), mask: 0xffffffff };
  const parts = text.split(':');
  if (parts.length !== 2) throw new Error(`community '${text}': expected ASN:VALUE (either side may be *)`);
  let value = 0;
  let mask = 0;
  if (parts[0] !== '*') {
    value |= parseUint(parts[0]!, 0xffff, 'community', text) << 16;
    mask |= 0xffff0000;
  }
  if (parts[1] !== '*') {
    value |= parseUint(parts[1]!, 0xffff, 'community', text);
    mask |= 0xffff;
  }
  return { value: value >>> 0, mask: mask >>> 0 };
}

/** Large community pattern: each of the three fields a number or '*'. */
export interface LargeCommunityPattern {
  readonly words: readonly (number | null)[];
}

export function parseLargeCommunityPattern(text: string): LargeCommunityPattern {
  const parts = text.split(':');
  if (parts.length !== 3)
    throw new Error(`large community '${text}': expected GLOBAL:LOCAL1:LOCAL2 (fields may be *)`);
  return { words: parts.map((p) => (p === '*' ? null : parseUint(p, 0xffffffff, 'large community', text))) };
}

export function hasCommunity(list: Uint32Array | undefined, p: CommunityPattern): boolean {
  if (list === undefined) return false;
  for (let i = 0; i < list.length; i++) if ((list[i]! & p.mask) >>> 0 === p.value) return true;
  return false;
}

export function hasLargeCommunity(list: Uint32Array | undefined, p: LargeCommunityPattern): boolean {
  if (list === undefined) return false;
  for (let i = 0; i + 2 < list.length; i += 3) {
    let ok = true;
    for (let k = 0; k < 3; k++) {
      const w = p.words[k];
      if (w !== null && w !== undefined && list[i + k] !== w) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

export function hasExtCommunity(list: Uint32Array | undefined, hi: number, lo: number): boolean {
  if (list === undefined) return false;
  for (let i = 0; i + 1 < list.length; i += 2) if (list[i] === hi && list[i + 1] === lo) return true;
  return false;
}
