// Address text helpers for tests, CLI and logs. Not for hot paths: the codec itself keeps IPv4
// addresses as uint32 and IPv6 addresses as four uint32 words or raw bytes.

/** 0x0a000001 -> '10.0.0.1' */
export function formatIPv4(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 0xff}.${(word >>> 8) & 0xff}.${word & 0xff}`;
}

/** '10.0.0.1' -> 0x0a000001, or null when the text is not a dotted-quad IPv4 address. */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let word = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    word = word * 256 + octet;
  }
  return word >>> 0;
}

/** Four big-endian words -> RFC 5952 canonical text ('2001:db8::1'). */
export function formatIPv6Words(w0: number, w1: number, w2: number, w3: number): string {
  const groups = [
    w0 >>> 16,
    w0 & 0xffff,
    w1 >>> 16,
    w1 & 0xffff,
    w2 >>> 16,
    w2 & 0xffff,
    w3 >>> 16,
    w3 & 0xffff,
  ];
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** 16 bytes at offset -> RFC 5952 text. */
export function formatIPv6Bytes(bytes: Uint8Array, offset = 0): string {
  const w = (i: number): number =>
    (((bytes[offset + i] ?? 0) << 24) |
      ((bytes[offset + i + 1] ?? 0) << 16) |
      ((bytes[offset + i + 2] ?? 0) << 8) |
      (bytes[offset + i + 3] ?? 0)) >>>
    0;
  return formatIPv6Words(w(0), w(4), w(8), w(12));
}

/** IPv6 text (with optional embedded IPv4 tail) -> four words, or null when malformed. */
export function parseIPv6(text: string): [number, number, number, number] | null {
  if (text.length === 0 || text.length > 45) return null;
  let head = text;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail.push(v4 >>> 16, v4 & 0xffff);
    head = text.slice(0, lastColon + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  const dbl = head.indexOf('::');
  if (dbl >= 0) {
    if (head.indexOf('::', dbl + 1) >= 0) return null;
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (left === null || right === null) return null;
    const missing = 8 - left.length - right.length - tail.length;
    if (missing < 1) return null;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right, ...tail];
  } else {
    const all = parseGroups(head);
    if (all === null) return null;
    groups = [...all, ...tail];
  }
  if (groups.length !== 8) return null;
  const g = (i: number): number => groups[i] ?? 0;
  return [
    ((g(0) << 16) | g(1)) >>> 0,
    ((g(2) << 16) | g(3)) >>> 0,
    ((g(4) << 16) | g(5)) >>> 0,
    ((g(6) << 16) | g(7)) >>> 0,
  ];
}

/** IPv6 text -> 16 bytes, or null. */
export function parseIPv6Bytes(text: string): Uint8Array | null {
  const words = parseIPv6(text);
  if (words === null) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const w = words[i] ?? 0;
    out[i * 4] = w >>> 24;
    out[i * 4 + 1] = (w >>> 16) & 0xff;
    out[i * 4 + 2] = (w >>> 8) & 0xff;
    out[i * 4 + 3] = w & 0xff;
  }
  return out;
}

/**
 * Raw MP_REACH next hop bytes -> text: '192.0.2.1' (4), '2001:db8::1' (16),
 * '2001:db8::1 fe80::1' (32: global then link-local, RFC 2545 §3), otherwise hex.
 */
export function formatNextHop(bytes: Uint8Array): string {
  if (bytes.length === 4) {
    return formatIPv4(
      (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0,
    );
  }
  if (bytes.length === 16) return formatIPv6Bytes(bytes, 0);
  if (bytes.length === 32) return `${formatIPv6Bytes(bytes, 0)} ${formatIPv6Bytes(bytes, 16)}`;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
