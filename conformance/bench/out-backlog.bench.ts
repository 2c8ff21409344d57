// Output backlog cost (issue #4 §5, "every queue needs back-pressure"): what a slow peer's waiting
// routes cost. N IPv4 routes (default 1M) in batches of 1000 with a few thousand attribute sets
// are merged into a session's OutputBacklog as a whole table held back, then merged again (each
// route changes once more: an in-place update), then taken in the session's steps of 8192 and
// packed into UPDATEs. Prints bytes per waiting route (heap + external growth after GC) and
// microseconds per route for each step.
//
//   node --expose-gc --import tsx conformance/bench/out-backlog.bench.ts [--routes N] [--sets K]
//
// OUT_BACKLOG_SRC=path runs another copy of the module (before/after in one session).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Family, type PathAttributes, packUpdates } from '../../src/bgp/codec/index.ts';
import type { OutputBacklog as Backlog } from '../../src/bgp/session/out-backlog.ts';
import type { ExportUpdate } from '../../src/bgp/session/types.ts';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = arg('routes', 1_000_000);
const SETS = arg('sets', 4000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const src = process.env.OUT_BACKLOG_SRC ?? '../../src/bgp/session/out-backlog.ts';
const mod = (await import(
  src.startsWith('.') ? new URL(src, import.meta.url).href : pathToFileURL(resolve(src)).href
)) as { OutputBacklog: new () => Backlog };

const settle = (): number => {
  for (let i = 0; i < 4; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external; // external includes the ArrayBuffers
};

const sets: PathAttributes[][] = [0, 1].map((round) =>
  Array.from({ length: SETS }, (_, i) => ({ origin: 0, nextHop: 0x0a000001, med: i + round * SETS })),
);
/** Batches of 1000 routes with one attribute set each, as a commit hands them to a session. */
function batches(round: number): ExportUpdate[] {
  const out: ExportUpdate[] = [];
  for (let start = 0; start < N; start += 1000) {
    const n = Math.min(1000, N - start);
    const words = new Uint32Array(n);
    const lengths = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      words[i] = (((start + i) << 8) + 0x0b000000) >>> 0;
      lengths[i] = 24;
    }
    out.push({
      announce: [
        {
          family: Family.IPv4Unicast,
          attributes: sets[round]![(start / 1000) % SETS]!,
          prefixes: { afi: 1, count: n, words, lengths, pathIds: null },
        },
      ],
      withdraw: [],
    });
  }
  return out;
}

const first = batches(0);
const second = batches(1);
const base = settle();
const b = new mod.OutputBacklog();
let t = process.hrtime.bigint();
for (const u of first) b.add(u);
const mergeNew = Number(process.hrtime.bigint() - t) / 1e3 / N;
const held = settle() - base;
t = process.hrtime.bigint();
for (const u of second) b.add(u);
const mergeSame = Number(process.hrtime.bigint() - t) / 1e3 / N;
t = process.hrtime.bigint();
let routes = 0;
let takeUs = 0n;
let messages = 0;
const opts = { fourOctetAs: true, extendedMessage: false, addPath: new Set<number>() };
for (;;) {
  const t0 = process.hrtime.bigint();
  const item = b.take(8192);
  takeUs += process.hrtime.bigint() - t0;
  if (item === null) break;
  if (item.kind !== 'update') continue;
  for (const g of item.update.announce) routes += g.prefixes.count;
  messages += packUpdates(item.update.announce, item.update.withdraw, opts).messages.length;
}
const drain = Number(process.hrtime.bigint() - t) / 1e3 / N;
if (routes !== N) throw new Error(`took ${routes} routes, expected ${N}`);
console.log(
  JSON.stringify({
    module: src,
    routes: N,
    attributeSets: SETS,
    bytesPerRoute: +(held / N).toFixed(1),
    mergeNewUs: +mergeNew.toFixed(3),
    mergeChangedUs: +mergeSame.toFixed(3),
    takeUs: +(Number(takeUs) / 1e3 / N).toFixed(3),
    takeAndPackUs: +drain.toFixed(3),
    updates: messages,
  }),
);
