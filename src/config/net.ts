// Address and prefix parsing for configuration values. These run once per config load, never on a
// hot path, so clarity wins over speed; each function returns an error text instead of throwing so
// that the validator can report every problem of a file at once.
import { isIPv4, isIPv6 } from 'node:net';
import { Address6 } from 'ip-address';

export type AddressFamily = 4 | 6;

export interface ParsedPrefix {
  family: AddressFamily;
  /** Network address bytes (4 or 16), host bits zero. */
  bytes: Uint8Array;
  length: number;
  /** Canonical text, e.g. `10.0.0.0/24` or `2001:db8::/32`. */
  text: string;
}

export function addressFamily(address: string): AddressFamily | undefined {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

export function addressBytes(address: string): Uint8Array | undefined {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (isIPv6(address)) {
    // toUnsignedByteArray may drop leading zero bytes (it goes through a BigInt): right-align them.
    const raw = new Address6(address).toUnsignedByteArray().slice(-16);
    const bytes = new Uint8Array(16);
    bytes.set(raw, 16 - raw.length);
    return bytes;
  }
  return undefined;
}

export function formatAddress(family: AddressFamily, bytes: Uint8Array): string {
  if (family === 4) return Array.from(bytes.subarray(0, 4)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new Address6(groups.join(':')).correctForm();
}

/** Parses `ADDR/LEN`; rejects set host bits (naming the intended network) as BIRD does. */
export function parsePrefix(text: string): ParsedPrefix | string {
  const slash = text.indexOf('/');
  if (slash < 0) return `"${text}" is not a prefix: expected ADDRESS/LENGTH, e.g. 10.0.0.0/24`;
  const addr = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  const family = addressFamily(addr);
  if (!family) return `"${addr}" is not an IPv4 or IPv6 address`;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    return `prefix length "${lenText}" must be 0..${max}`;
  }
  const length = Number(lenText);
  const bytes = addressBytes(addr)!;
  const masked = maskBytes(bytes, length);
  const canonical = `${formatAddress(family, masked)}/${length}`;
  if (!equalBytes(bytes, masked)) return `"${text}" has host bits set; did you mean ${canonical}?`;
  return { family, bytes: masked, length, text: canonical };
}

export function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = bits === 0 ? 0 : bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `address` lies inside `prefix`. */
export function prefixContains(prefix: ParsedPrefix, address: string): boolean {
  const family = addressFamily(address);
  if (family !== prefix.family) return false;
  return equalBytes(maskBytes(addressBytes(address)!, prefix.length), prefix.bytes);
}

/** True when two prefixes share any address (one contains the other). */
export function prefixesOverlap(a: ParsedPrefix, b: ParsedPrefix): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.length, b.length);
  return equalBytes(maskBytes(a.bytes, len), maskBytes(b.bytes, len));
}

/** Canonical text of an address (IPv6 compressed and lower-case), used as a map key. */
export function canonicalAddress(address: string): string {
  const family = addressFamily(address);
  if (family === 6) return new Address6(address).correctForm();
  return address;
}
