// The convergence benchmark's prefix set, shared by the BIRD injector's config and the replay
// injector (replay-injector.ts), so both send the same N prefixes.

/** Prefix lengths by share of the table (percent), roughly a DFZ's mix. */
export const MIX: [number, number][] = [
  [24, 63],
  [23, 10],
  [22, 12],
  [21, 5],
  [20, 4],
  [19, 2],
  [18, 1],
  [17, 0.5],
  [16, 0.5],
  [25, 0.5],
  [26, 0.5],
  [27, 0.5],
  [28, 0.5],
];

/** N non-overlapping prefixes from 11.0.0.0 up (127/8 skipped), lengths by MIX, deterministic. */
export function prefixes(n: number): string[] {
  const lengths: number[] = [];
  for (const [len, pct] of MIX) for (let i = 0; i < pct * 2; i++) lengths.push(len);
  const out: string[] = [];
  let cursor = 11 * 2 ** 24;
  for (let i = 0; i < n; i++) {
    const len = lengths[(i * 37) % lengths.length]!;
    const size = 2 ** (32 - len);
    cursor = Math.ceil(cursor / size) * size;
    if (cursor >>> 24 === 127) cursor = 128 * 2 ** 24;
    out.push(`${cursor >>> 24}.${(cursor >>> 16) & 255}.${(cursor >>> 8) & 255}.${cursor & 255}/${len}`);
    cursor += size;
  }
  if (cursor >= 224 * 2 ** 24) throw new Error(`${n} prefixes do not fit in unicast space`);
  return out;
}
