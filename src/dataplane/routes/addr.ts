// IP address and prefix text <-> bytes, written for the route-programming path: parsing writes
// straight into a caller's buffer and allocates nothing, so 100k routes cost no garbage here.

export type IpFamily = 4 | 6;

/**
 * Writes the bytes of an IPv4 or IPv6 address (text) at `out[off..]` and returns its family, or 0
 * when the text is not an address. IPv6 accepts `::` compression and a dotted IPv4 tail.
 */
export function writeIp(text: string, out: Uint8Array, off: number): 0 | IpFamily {
  if (text.indexOf(':') < 0) return writeIp4(text, out, off) ? 4 : 0;
  return writeIp6(text, out, off) ? 6 : 0;
}

function writeIp4(text: string, out: Uint8Array, off: number): boolean {
  let octet = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || n > 3) return false;
      out[off + n++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return false;
    } else {
      return false;
    }
  }
  return n === 4;
}

function writeIp6(text: string, out: Uint8Array, off: number): boolean {
  // Parse the groups before and after "::" separately, then place them.
  const dbl = text.indexOf('::');
  if (dbl >= 0 && text.indexOf('::', dbl + 1) >= 0) return false;
  const head = dbl >= 0 ? text.slice(0, dbl) : text;
  const tail = dbl >= 0 ? text.slice(dbl + 2) : '';
  const headWords: number[] = [];
  const tailWords: number[] = [];
  if (!parseGroups(head, headWords, dbl < 0)) return false;
  if (dbl >= 0 && !parseGroups(tail, tailWords, true)) return false;
  const total = headWords.length + tailWords.length;
  if (dbl < 0 ? total !== 8 : total > 7) return false;
  out.fill(0, off, off + 16);
  for (let i = 0; i < headWords.length; i++) {
    out[off + 2 * i] = headWords[i]! >> 8;
    out[off + 2 * i + 1] = headWords[i]! & 0xff;
  }
  const start = 8 - tailWords.length;
  for (let i = 0; i < tailWords.length; i++) {
    out[off + 2 * (start + i)] = tailWords[i]! >> 8;
    out[off + 2 * (start + i) + 1] = tailWords[i]! & 0xff;
  }
  return true;
}

const scratch4 = new Uint8Array(4);

function parseGroups(part: string, words: number[], v4TailAllowed: boolean): boolean {
  if (part === '') return true;
  const groups = part.split(':');
  for (let g = 0; g < groups.length; g++) {
    const s = groups[g]!;
    if (g === groups.length - 1 && v4TailAllowed && s.indexOf('.') >= 0) {
      if (!writeIp4(s, scratch4, 0)) return false;
      words.push((scratch4[0]! << 8) | scratch4[1]!, (scratch4[2]! << 8) | scratch4[3]!);
      continue;
    }
    if (s.length === 0 || s.length > 4) return false;
    const v = Number.parseInt(s, 16);
    if (Number.isNaN(v) || !/^[0-9a-fA-F]+$/.test(s)) return false;
    words.push(v);
  }
  return true;
}

/** Formats 4 or 16 bytes at `buf[off..]` as canonical text (RFC 5952 for IPv6). */
export function formatIp(family: IpFamily, buf: Uint8Array, off = 0): string {
  if (family === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!);
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero words, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) =>
    words
      .slice(a, b)
      .map((w) => w.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export interface ParsedPrefix {
  family: IpFamily;
  bytes: Uint8Array;
  length: number;
}

/** Parses `ADDR/LEN` (or a bare address as a host prefix); undefined when malformed. */
export function parsePrefix(text: string): ParsedPrefix | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = new Uint8Array(16);
  const family = writeIp(addr, bytes, 0);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return undefined;
    length = Number(lenText);
    if (length > max) return undefined;
  }
  return { family, bytes: bytes.subarray(0, family === 4 ? 4 : 16), length };
}

/** Canonical `ADDR/LEN` text with host bits cleared; throws naming the text when malformed. */
export function canonicalPrefix(text: string): string {
  const p = parsePrefix(text);
  if (!p) throw new Error(`"${text}" is not an IPv4 or IPv6 prefix (expected ADDRESS/LENGTH)`);
  maskInPlace(p.bytes, p.length);
  return `${formatIp(p.family, p.bytes)}/${p.length}`;
}

/** Canonical address text; throws naming the text when malformed. */
export function canonicalIp(text: string): string {
  const bytes = new Uint8Array(16);
  const family = writeIp(text, bytes, 0);
  if (family === 0) throw new Error(`"${text}" is not an IPv4 or IPv6 address`);
  return formatIp(family, bytes);
}

export function ipFamily(text: string): 0 | IpFamily {
  const bytes = new Uint8Array(16);
  return writeIp(text, bytes, 0);
}

export function maskInPlace(bytes: Uint8Array, length: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const bits = length - i * 8;
    if (bits >= 8) continue;
    bytes[i] = bits <= 0 ? 0 : bytes[i]! & (0xff << (8 - bits));
  }
}

/** True when prefix `inner` (text) lies inside prefix `outer` (text); false across families. */
export function prefixContains(outer: string, inner: string): boolean {
  const o = parsePrefix(outer);
  const i = parsePrefix(inner);
  if (!o || !i || o.family !== i.family || i.length < o.length) return false;
  return bytesMatch(o.bytes, i.bytes, o.length);
}

/** True when the first `length` bits of `a` and `b` are equal. */
export function bytesMatch(a: Uint8Array, b: Uint8Array, length: number): boolean {
  for (let i = 0; i * 8 < length; i++) {
    const bits = Math.min(8, length - i * 8);
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (b[i]! & mask)) return false;
  }
  return true;
}

/** True when the address `ip` lies inside `prefix` (both text). */
export function prefixContainsIp(prefix: string, ip: string): boolean {
  return prefixContains(prefix, ip);
}
