// AS paths as flat Uint32Arrays: per segment a header word (type << 24) | count, then the ASNs.
// Wire forms: RFC 4271 §4.3 (2-octet), RFC 6793 §3 (4-octet), RFC 5065 §3 (confederation segments).

import { AS_TRANS, type AsPath, AsPathSegmentType } from './types.ts';

export interface AsPathSegment {
  readonly type: number;
  readonly asns: readonly number[];
}

export const EMPTY_AS_PATH: AsPath = new Uint32Array(0);

export function asPathFromSegments(segments: readonly AsPathSegment[]): AsPath {
  let n = 0;
  for (const s of segments) n += 1 + s.asns.length;
  const out = new Uint32Array(n);
  let p = 0;
  for (const s of segments) {
    out[p++] = ((s.type & 0xff) << 24) | s.asns.length;
    for (const a of s.asns) out[p++] = a;
  }
  return out;
}

/** A plain AS_SEQUENCE path (the common case). */
export function asPathFromSequence(asns: readonly number[]): AsPath {
  return asns.length === 0
    ? EMPTY_AS_PATH
    : asPathFromSegments([{ type: AsPathSegmentType.AsSequence, asns }]);
}

export function asPathSegments(path: AsPath): AsPathSegment[] {
  const out: AsPathSegment[] = [];
  let p = 0;
  while (p < path.length) {
    const h = path[p]!;
    const count = h & 0xffffff;
    out.push({ type: h >>> 24, asns: Array.from(path.subarray(p + 1, p + 1 + count)) });
    p += 1 + count;
  }
  return out;
}

/**
 * Path length for the decision process (RFC 4271 §9.1.2.2 a): an AS_SET counts 1, confederation
 * segments count 0 (RFC 5065 §5.3).
 */
export function asPathLength(path: AsPath): number {
  let n = 0;
  let p = 0;
  while (p < path.length) {
    const h = path[p]!;
    const type = h >>> 24;
    const count = h & 0xffffff;
    if (type === AsPathSegmentType.AsSequence) n += count;
    else if (type === AsPathSegmentType.AsSet) n += 1;
    p += 1 + count;
  }
  return n;
}

/** Whether asn occurs anywhere in the path (loop detection, RFC 4271 §9.1.2). */
export function asPathContains(path: AsPath, asn: number): boolean {
  let p = 0;
  while (p < path.length) {
    const count = path[p]! & 0xffffff;
    for (let i = p + 1; i <= p + count; i++) if (path[i] === asn) return true;
    p += 1 + count;
  }
  return false;
}

/** The leftmost AS of a leading AS_SEQUENCE (the neighbour AS), or null. */
export function asPathFirstAs(path: AsPath): number | null {
  if (path.length < 2) return null;
  const h = path[0]!;
  return h >>> 24 === AsPathSegmentType.AsSequence && (h & 0xffffff) > 0 ? path[1]! : null;
}

/** The origin AS: last AS of a trailing AS_SEQUENCE, or null (RFC 6811 §2 uses NONE for a trailing set). */
export function asPathOriginAs(path: AsPath): number | null {
  let p = 0;
  let last: number | null = null;
  while (p < path.length) {
    const h = path[p]!;
    const count = h & 0xffffff;
    last = h >>> 24 === AsPathSegmentType.AsSequence && count > 0 ? path[p + count]! : null;
    p += 1 + count;
  }
  return last;
}

/** Prepends asn count times to the leading AS_SEQUENCE (or a new one), RFC 4271 §5.1.2. */
export function asPathPrepend(path: AsPath, asn: number, count = 1): AsPath {
  if (count <= 0) return path;
  const h = path[0];
  if (h !== undefined && h >>> 24 === AsPathSegmentType.AsSequence) {
    const out = new Uint32Array(path.length + count);
    out[0] = (AsPathSegmentType.AsSequence << 24) | ((h & 0xffffff) + count);
    out.fill(asn, 1, 1 + count);
    out.set(path.subarray(1), 1 + count);
    return out;
  }
  const out = new Uint32Array(path.length + 1 + count);
  out[0] = (AsPathSegmentType.AsSequence << 24) | count;
  out.fill(asn, 1, 1 + count);
  out.set(path, 1 + count);
  return out;
}

/** BIRD-like text: '65001 65002 {3 4} (65010) [(65011 65012)]' for sequence, set, confed seq, confed set. */
export function formatAsPath(path: AsPath): string {
  const parts: string[] = [];
  for (const s of asPathSegments(path)) {
    const body = s.asns.join(' ');
    if (s.type === AsPathSegmentType.AsSequence) {
      if (body.length > 0) parts.push(body);
    } else if (s.type === AsPathSegmentType.AsSet) parts.push(`{${body}}`);
    else if (s.type === AsPathSegmentType.ConfedSequence) parts.push(`(${body})`);
    else if (s.type === AsPathSegmentType.ConfedSet) parts.push(`[${body}]`);
    else parts.push(`<type ${s.type}: ${body}>`);
  }
  return parts.join(' ');
}

/** Whether some ASN needs 4 octets (then a 2-octet peer gets AS_TRANS plus AS4_PATH, RFC 6793 §4.2.2). */
export function asPathHasFourOctetAs(path: AsPath): boolean {
  let p = 0;
  while (p < path.length) {
    const count = path[p]! & 0xffffff;
    for (let i = p + 1; i <= p + count; i++) if (path[i]! > 0xffff) return true;
    p += 1 + count;
  }
  return false;
}

/** Whether the path holds confederation segments. */
export function asPathHasConfed(path: AsPath): boolean {
  let p = 0;
  while (p < path.length) {
    const h = path[p]!;
    const t = h >>> 24;
    if (t === AsPathSegmentType.ConfedSequence || t === AsPathSegmentType.ConfedSet) return true;
    p += 1 + (h & 0xffffff);
  }
  return false;
}

/** The path without confederation segments (for AS4_PATH construction, RFC 6793 §4.2.2). */
export function asPathWithoutConfed(path: AsPath): AsPath {
  if (!asPathHasConfed(path)) return path;
  const keep: number[] = [];
  let p = 0;
  while (p < path.length) {
    const h = path[p]!;
    const t = h >>> 24;
    const count = h & 0xffffff;
    if (t !== AsPathSegmentType.ConfedSequence && t !== AsPathSegmentType.ConfedSet) {
      for (let i = p; i <= p + count; i++) keep.push(path[i]!);
    }
    p += 1 + count;
  }
  return Uint32Array.from(keep);
}

/** The path with every ASN above 65535 replaced by AS_TRANS (the 2-octet AS_PATH, RFC 6793 §4.2.2). */
export function asPathToTwoOctet(path: AsPath): AsPath {
  if (!asPathHasFourOctetAs(path)) return path;
  const out = path.slice();
  let p = 0;
  while (p < out.length) {
    const count = out[p]! & 0xffffff;
    for (let i = p + 1; i <= p + count; i++) if (out[i]! > 0xffff) out[i] = AS_TRANS;
    p += 1 + count;
  }
  return out;
}

/**
 * RFC 6793 §4.2.3: reconstructs the 4-octet path from a 2-octet peer's AS_PATH and AS4_PATH.
 * When AS_PATH holds fewer ASes than AS4_PATH, AS4_PATH is ignored. Otherwise the leading
 * (count(AS_PATH) - count(AS4_PATH)) ASes of AS_PATH are kept and AS4_PATH is appended to them.
 * Counting follows RFC 4271 §9.1.2.2 (an AS_SET counts 1, confederation segments 0); leading
 * confederation segments of AS_PATH are kept whole.
 */
export function mergeAs4Path(asPath: AsPath, as4Path: AsPath): AsPath {
  const n2 = asPathLength(asPath);
  const n4 = asPathLength(as4Path);
  if (n2 < n4) return asPath;
  let need = n2 - n4;
  const out: number[] = [];
  let p = 0;
  while (p < asPath.length) {
    const h = asPath[p]!;
    const type = h >>> 24;
    const count = h & 0xffffff;
    if (type === AsPathSegmentType.ConfedSequence || type === AsPathSegmentType.ConfedSet) {
      for (let i = p; i <= p + count; i++) out.push(asPath[i]!);
    } else if (need === 0) {
      break;
    } else if (type === AsPathSegmentType.AsSet) {
      for (let i = p; i <= p + count; i++) out.push(asPath[i]!);
      need--;
    } else {
      const take = Math.min(need, count);
      out.push((type << 24) | take);
      for (let i = p + 1; i <= p + take; i++) out.push(asPath[i]!);
      need -= take;
      if (take < count) break;
    }
    p += 1 + count;
  }
  // Join a trailing sequence of the kept part with a leading sequence of AS4_PATH, as the path was.
  const lastHeaderAt = findLastHeader(out);
  if (
    lastHeaderAt >= 0 &&
    out[lastHeaderAt]! >>> 24 === AsPathSegmentType.AsSequence &&
    as4Path.length > 0 &&
    as4Path[0]! >>> 24 === AsPathSegmentType.AsSequence
  ) {
    const c4 = as4Path[0]! & 0xffffff;
    out[lastHeaderAt] = (AsPathSegmentType.AsSequence << 24) | ((out[lastHeaderAt]! & 0xffffff) + c4);
    for (let i = 1; i <= c4; i++) out.push(as4Path[i]!);
    for (let i = 1 + c4; i < as4Path.length; i++) out.push(as4Path[i]!);
  } else {
    for (let i = 0; i < as4Path.length; i++) out.push(as4Path[i]!);
  }
  return Uint32Array.from(out);
}

function findLastHeader(flat: readonly number[]): number {
  let p = 0;
  let last = -1;
  while (p < flat.length) {
    last = p;
    p += 1 + (flat[p]! & 0xffffff);
  }
  return last;
}

/**
 * Parses wire segments buf[start, end) with asSize 2 or 4 octets per ASN. Returns a reason string
 * when malformed (RFC 7606 §7.2: unknown segment type, zero-length segment, overrun).
 */
export function parseAsPath(buf: Uint8Array, start: number, end: number, asSize: 2 | 4): AsPath | string {
  let pos = start;
  let words = 0;
  while (pos < end) {
    if (pos + 2 > end) return 'AS_PATH segment header truncated';
    const type = buf[pos]!;
    const count = buf[pos + 1]!;
    if (type < 1 || type > 4) return `AS_PATH segment type ${type} unknown`;
    if (count === 0) return 'AS_PATH segment of length 0';
    pos += 2 + count * asSize;
    if (pos > end) return 'AS_PATH segment overruns the attribute';
    words += 1 + count;
  }
  if (words === 0) return EMPTY_AS_PATH;
  const out = new Uint32Array(words);
  pos = start;
  let w = 0;
  while (pos < end) {
    const type = buf[pos]!;
    const count = buf[pos + 1]!;
    out[w++] = (type << 24) | count;
    pos += 2;
    if (asSize === 4) {
      for (let i = 0; i < count; i++, pos += 4) {
        out[w++] = (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!;
      }
    } else {
      for (let i = 0; i < count; i++, pos += 2) out[w++] = (buf[pos]! << 8) | buf[pos + 1]!;
    }
  }
  return out;
}

/** Wire size of path with asSize-octet ASNs (segments longer than 255 are split). */
export function asPathWireLength(path: AsPath, asSize: 2 | 4): number {
  let n = 0;
  let p = 0;
  while (p < path.length) {
    const count = path[p]! & 0xffffff;
    n += 2 * Math.max(1, Math.ceil(count / 255)) + count * asSize;
    p += 1 + count;
  }
  return n;
}

/** Writes path at offset; ASNs above 65535 become AS_TRANS when asSize is 2. Returns the new offset. */
export function writeAsPath(path: AsPath, asSize: 2 | 4, buf: Uint8Array, offset: number): number {
  let pos = offset;
  let p = 0;
  while (p < path.length) {
    const h = path[p]!;
    const type = h >>> 24;
    const count = h & 0xffffff;
    let i = p + 1;
    const end = p + 1 + count;
    do {
      const chunk = Math.min(255, end - i);
      buf[pos++] = type;
      buf[pos++] = chunk;
      for (const stop = i + chunk; i < stop; i++) {
        const a = path[i]!;
        if (asSize === 4) {
          buf[pos] = a >>> 24;
          buf[pos + 1] = a >>> 16;
          buf[pos + 2] = a >>> 8;
          buf[pos + 3] = a;
          pos += 4;
        } else {
          const a2 = a > 0xffff ? AS_TRANS : a;
          buf[pos] = a2 >>> 8;
          buf[pos + 1] = a2;
          pos += 2;
        }
      }
    } while (i < end);
    p = end;
  }
  return pos;
}
