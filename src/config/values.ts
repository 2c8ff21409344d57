// Parsers for the scalar value syntaxes operators write in BGP configs: ASNs in asplain or asdot
// (RFC 5396), standard communities (RFC 1997), large communities (RFC 8092), extended communities
// (RFC 4360, the route-target/route-origin text forms). Each returns the value or an error text.

export const AS_TRANS = 23456; // RFC 6793 §9
export const MAX_ASN = 0xffffffff;

/** Parses an ASN: a number, or asplain / asdot text ("65000", "1.10" = 65546) per RFC 5396. */
export function parseAsn(value: number | string): number | string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > MAX_ASN) {
      return `${value} is not an AS number: expected an integer 1..4294967295 or asdot X.Y`;
    }
    return value;
  }
  const text = value.trim();
  const dot = /^(\d{1,5})\.(\d{1,5})$/.exec(text);
  if (dot) {
    const high = Number(dot[1]);
    const low = Number(dot[2]);
    if (high > 0xffff || low > 0xffff) return `"${text}": each half of an asdot ASN must be 0..65535`;
    return high * 0x10000 + low;
  }
  if (/^\d{1,10}$/.test(text)) return parseAsn(Number(text));
  return `"${text}" is not an AS number: expected asplain (65000) or asdot (1.10)`;
}

/** asdot+ text for display: 4-octet ASNs above 65535 shown as X.Y alongside asplain by callers. */
export function formatAsdot(asn: number): string {
  return asn > 0xffff ? `${Math.floor(asn / 0x10000)}.${asn % 0x10000}` : String(asn);
}

/** RFC 1997 well-known communities by the names BIRD, FRR and GoBGP accept. */
export const WELL_KNOWN_COMMUNITIES: Readonly<Record<string, number>> = {
  'no-export': 0xffffff01,
  'no-advertise': 0xffffff02,
  'no-export-subconfed': 0xffffff03,
  'local-as': 0xffffff03,
  'no-peer': 0xffffff04, // RFC 3765
  blackhole: 0xffff029a, // RFC 7999
  'graceful-shutdown': 0xffff0000, // RFC 8326
  'accept-own': 0xffff0001, // RFC 7611
};

/** Parses "ASN:VALUE" (each 0..65535) or a well-known name into the 32-bit community value. */
export function parseCommunity(text: string): number | string {
  const named = WELL_KNOWN_COMMUNITIES[text.toLowerCase()];
  if (named !== undefined) return named;
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m) {
    return `"${text}" is not a community: expected ASN:VALUE (each 0..65535) or a well-known name such as no-export`;
  }
  const high = Number(m[1]);
  const low = Number(m[2]);
  if (high > 0xffff || low > 0xffff) return `"${text}": both halves of a community must be 0..65535`;
  return (high * 0x10000 + low) >>> 0;
}

export function formatCommunity(value: number): string {
  return `${Math.floor(value / 0x10000)}:${value % 0x10000}`;
}

/** Parses "GLOBAL:LOCAL1:LOCAL2" (each 0..4294967295), RFC 8092 §3. */
export function parseLargeCommunity(text: string): [number, number, number] | string {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text);
  if (!m) return `"${text}" is not a large community: expected GLOBAL:LOCAL1:LOCAL2`;
  const parts = [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number];
  if (parts.some((p) => p > MAX_ASN))
    return `"${text}": each part of a large community must be 0..4294967295`;
  return parts;
}

/** Accepts the extended community text forms "rt:ASN:VALUE", "ro:ASN:VALUE" and "rt:IPV4:VALUE". */
export function parseExtendedCommunity(text: string): string | { error: string } {
  const m = /^(rt|ro|soo):([^:]+):(\d{1,10})$/.exec(text);
  if (!m) return { error: `"${text}" is not an extended community: expected rt:ASN:VALUE or ro:ASN:VALUE` };
  return text;
}

/**
 * Turns a shell-style interface glob (`cali*`, `tap?`, `eth[01]`) into an anchored RegExp, as
 * Calico's and BIRD's interface patterns are written.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[' || ch === ']') re += ch;
    else re += ch.replace(/[.+^${}()|\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
