// Prefixes as words (no strings on the hot path): IPv4 is one uint32, IPv6 four uint32 words in
// big-endian order, host bits zero, the same layout as the codec's PrefixList. Strings appear only
// at the edges (config, CLI, tests) through parsePrefix / formatPrefix.

import type { PrefixList } from '../codec/types.ts';
import { formatIpv4, parseIpv4 } from './attrs.ts';

export type Afi = 1 | 2;

/** Words per prefix of a family. */
export function strideOf(afi: Afi): 1 | 4 {
  return afi === 1 ? 1 : 4;
}

export interface ParsedPrefix {
  readonly afi: Afi;
  readonly words: Uint32Array;
  readonly length: number;
}

/** Parses an IPv6 address into four words. Accepts '::' compression and a dotted IPv4 tail. */
export function parseIpv6(text: string): Uint32Array {
  const bad = (): never => {
    throw new Error(`not an IPv6 address: '${text}'`);
  };
  let s = text;
  const groups: number[] = [];
  const tailV4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let v4: number | null = null;
  if (tailV4 !== null) {
    v4 = parseIpv4(tailV4[1]!);
    s = s.slice(0, s.length - tailV4[1]!.length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const want = v4 === null ? 8 : 6;
  const dbl = s.indexOf('::');
  const parseGroups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad();
          return Number.parseInt(g, 16);
        });
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) bad();
    const head = parseGroups(s.slice(0, dbl));
    const tail = parseGroups(s.slice(dbl + 2));
    if (head.length + tail.length > want - 1) bad();
    groups.push(...head, ...new Array<number>(want - head.length - tail.length).fill(0), ...tail);
  } else {
    groups.push(...parseGroups(s));
    if (groups.length !== want) bad();
  }
  if (v4 !== null) groups.push(v4 >>> 16, v4 & 0xffff);
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return w;
}

export function formatIpv6(words: Uint32Array, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[offset + i]!;
    g.push(w >>> 16, w & 0xffff);
  }
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses 'a.b.c.d/len' or 'x::/len'; host bits must be zero (a clear error otherwise). */
export function parsePrefix(text: string): ParsedPrefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Error(`prefix '${text}' has no length`);
  const addr = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) throw new Error(`prefix '${text}' has a bad length`);
  const length = Number(lenText);
  const afi: Afi = addr.includes(':') ? 2 : 1;
  const words = afi === 1 ? Uint32Array.of(parseIpv4(addr)) : parseIpv6(addr);
  if (length > (afi === 1 ? 32 : 128)) throw new Error(`prefix '${text}' is longer than the address`);
  const masked = words.slice();
  maskWords(masked, 0, strideOf(afi), length);
  for (let i = 0; i < words.length; i++) {
    if (masked[i] !== words[i]) throw new Error(`prefix '${text}' has host bits set`);
  }
  return { afi, words, length };
}

/** Clears the bits beyond length in words[offset .. offset+stride). */
export function maskWords(words: Uint32Array, offset: number, stride: number, length: number): void {
  for (let i = 0; i < stride; i++) {
    const bits = length - 32 * i;
    if (bits >= 32) continue;
    words[offset + i] = bits <= 0 ? 0 : (words[offset + i]! & (0xffffffff << (32 - bits))) >>> 0;
  }
}

export function formatPrefix(afi: Afi, words: Uint32Array, offset: number, length: number): string {
  return afi === 1 ? `${formatIpv4(words[offset]!)}/${length}` : `${formatIpv6(words, offset)}/${length}`;
}

/** True when prefix (w, len) lies inside (net, netLen): netLen <= len and the first netLen bits agree. */
export function prefixCovers(
  net: Uint32Array,
  netOff: number,
  netLen: number,
  w: Uint32Array,
  wOff: number,
  len: number,
  stride: number,
): boolean {
  if (netLen > len) return false;
  for (let i = 0; i < stride; i++) {
    const bits = netLen - 32 * i;
    if (bits <= 0) return true;
    const mask = bits >= 32 ? 0xffffffff : 0xffffffff << (32 - bits);
    if (((net[netOff + i]! ^ w[wOff + i]!) & mask) !== 0) return false;
  }
  return true;
}

/** A growable PrefixList builder (the codec's layout). */
export class PrefixListBuilder {
  count = 0;
  private lengths: Uint8Array;
  private words: Uint32Array;
  private pathIds: Uint32Array | null;
  readonly stride: 1 | 4;

  constructor(
    readonly afi: Afi,
    initial = 64,
    withPathIds = false,
  ) {
    this.stride = strideOf(afi);
    this.lengths = new Uint8Array(initial);
    this.words = new Uint32Array(initial * this.stride);
    this.pathIds = withPathIds ? new Uint32Array(initial) : null;
  }

  push(words: Uint32Array, offset: number, length: number, pathId = 0): void {
    if (this.count === this.lengths.length) this.grow();
    const o = this.count * this.stride;
    for (let i = 0; i < this.stride; i++) this.words[o + i] = words[offset + i]!;
    this.lengths[this.count] = length;
    if (this.pathIds !== null) this.pathIds[this.count] = pathId;
    this.count++;
  }

  /** Empties the builder for reuse, keeping its arrays unless they grew past `keepBelow` entries. */
  clear(keepBelow: number): void {
    this.count = 0;
    if (this.lengths.length > keepBelow) {
      const n = 64;
      this.lengths = new Uint8Array(n);
      this.words = new Uint32Array(n * this.stride);
      if (this.pathIds !== null) this.pathIds = new Uint32Array(n);
    }
  }

  /** The list so far (views, not copies: do not push afterwards while using it). */
  view(): PrefixList {
    return {
      afi: this.afi,
      count: this.count,
      lengths: this.lengths,
      words: this.words,
      pathIds: this.pathIds,
    };
  }

  private grow(): void {
    const n = this.lengths.length * 2;
    const l = new Uint8Array(n);
    l.set(this.lengths);
    this.lengths = l;
    const w = new Uint32Array(n * this.stride);
    w.set(this.words);
    this.words = w;
    if (this.pathIds !== null) {
      const p = new Uint32Array(n);
      p.set(this.pathIds);
      this.pathIds = p;
    }
  }
}

/** A copy of the list's entries, in arrays of its own (for keeping a list past its owner's reuse). */
export function copyPrefixList(l: PrefixList): PrefixList {
  const b = new PrefixListBuilder(l.afi as Afi, Math.max(1, l.count), l.pathIds !== null);
  const stride = l.afi === 1 ? 1 : 4;
  for (let i = 0; i < l.count; i++)
    b.push(l.words, i * stride, l.lengths[i]!, l.pathIds === null ? 0 : l.pathIds[i]!);
  return b.view();
}

/** Builds a PrefixList from strings (config, tests, CLI; not for the hot path). */
export function prefixListOf(afi: Afi, prefixes: readonly string[], pathIds?: readonly number[]): PrefixList {
  const b = new PrefixListBuilder(afi, Math.max(1, prefixes.length), pathIds !== undefined);
  prefixes.forEach((p, i) => {
    const parsed = parsePrefix(p);
    if (parsed.afi !== afi) throw new Error(`prefix '${p}' is not of address family ${afi}`);
    b.push(parsed.words, 0, parsed.length, pathIds?.[i] ?? 0);
  });
  return b.view();
}
