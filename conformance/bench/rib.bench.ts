// RIB benchmark (issue #4 §5/§6, the RIB part): one eBGP peer sends N IPv4 prefixes with the real
// table's length mix and a few thousand attribute sets, as real UPDATE messages packed by the
// codec. We decode them, intern, run import policy, best path, Adj-RIB-Out for one update group,
// pack the outgoing UPDATEs, then withdraw everything. Prints time per phase and bytes per route
// (process.memoryUsage() deltas after GC).
//
// With --bird, BIRD 2 loads the same N prefixes (static blackhole routes, one attribute set) in
// the same run and `birdc show memory` gives its routing-table bytes per route, for a same-machine
// ratio. The full convergence benchmark against BIRD/FRR/GoBGP needs the session layer and comes
// later (issue #4 §6).
//
// Run: node --expose-gc --import tsx conformance/bench/rib.bench.ts [--prefixes N] [--sets K] [--bird]
//      [--initial P]: the Loc-RIB's initial capacity, by default the daemon's (RIB_INITIAL_PREFIXES)

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CodecOptions,
  decodeMessage,
  Family,
  type UpdateGroup as PackerGroup,
  type PathAttributes,
  type PrefixList,
  packUpdates,
  type WithdrawGroup,
} from '../../src/bgp/codec/index.ts';
import { PolicyCompiler } from '../../src/bgp/policy/compile.ts';
import { ExportFilter, ImportFilter } from '../../src/bgp/policy/filters.ts';
import { defaultReflectorConfig } from '../../src/bgp/reflector/reflector.ts';
import { AttrTable } from '../../src/bgp/rib/attr-table.ts';
import { asSequence, parseIpv4, storedFromUpdate } from '../../src/bgp/rib/attrs.ts';
import { DecisionProcess } from '../../src/bgp/rib/best-path.ts';
import { LocRib, type RibChanges } from '../../src/bgp/rib/loc-rib.ts';
import { PeerTable } from '../../src/bgp/rib/peers.ts';
import { type UpdateBatch, UpdateGroups } from '../../src/bgp/rib/update-group.ts';
import { RIB_INITIAL_PREFIXES } from '../../src/daemon/routing.ts';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = arg('prefixes', 1_000_000);
const SETS = arg('sets', 4000);
const INITIAL = arg('initial', RIB_INITIAL_PREFIXES);
const WITH_BIRD = args.includes('--bird');

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function settle(): number {
  for (let i = 0; i < 4; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

// --- input: the injector's table -------------------------------------------------------------

/** Length mix of the IPv4 DFZ (approximate shares of a ~1M table, 2025). */
const LENGTH_MIX: [number, number][] = [
  [24, 0.6],
  [23, 0.1],
  [22, 0.12],
  [21, 0.045],
  [20, 0.045],
  [19, 0.03],
  [18, 0.015],
  [17, 0.009],
  [16, 0.014],
  [15, 0.0025],
  [14, 0.0017],
  [13, 0.0012],
  [12, 0.0008],
  [11, 0.0004],
  [10, 0.0002],
  [9, 0.0001],
  [8, 0.0001],
];

let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}

function pickLength(): number {
  let r = rand();
  for (const [len, share] of LENGTH_MIX) {
    r -= share;
    if (r < 0) return len;
  }
  return 24;
}

function generatePrefixes(n: number): { words: Uint32Array; lengths: Uint8Array } {
  const seen = new Set<number>();
  const words = new Uint32Array(n);
  const lengths = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const len = pickLength();
    // unicast space 1.0.0.0 - 223.255.255.255 without 127/8 (BIRD refuses loopback networks)
    const first = 1 + Math.floor(rand() * 222);
    const addr = (((first >= 127 ? first + 1 : first) << 24) | Math.floor(rand() * 0x1000000)) >>> 0;
    const masked = (addr & (0xffffffff << (32 - len))) >>> 0;
    const key = masked * 64 + len;
    if (seen.has(key)) continue;
    seen.add(key);
    words[i] = masked;
    lengths[i] = len;
    i++;
  }
  return { words, lengths };
}

function attributeSet(k: number, peerAs: number, nextHop: number): PathAttributes {
  const pathLen = 1 + (k % 5);
  const asns = [peerAs];
  for (let j = 1; j < pathLen; j++) asns.push(64512 + ((k * 7919 + j * 104729) % 60000));
  const attrs: PathAttributes = { origin: k % 3 === 0 ? 2 : 0, asPath: asSequence(...asns), nextHop };
  if (k % 2 === 0) attrs.med = k % 100;
  if (k % 3 !== 2)
    attrs.communities = Uint32Array.of(((peerAs & 0xffff) << 16) | (k % 500), (65535 << 16) | (k % 7));
  if (k % 11 === 0) attrs.largeCommunities = Uint32Array.of(peerAs, k, 1);
  return attrs;
}

const SEND_OPTS: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

function packTable(
  words: Uint32Array,
  lengths: Uint8Array,
  sets: number,
  peerAs: number,
  nextHop: number,
): { messages: Buffer[] } {
  // Group prefixes by attribute set as the injector (BIRD) would.
  const perSet: number[][] = Array.from({ length: sets }, () => []);
  for (let i = 0; i < words.length; i++) perSet[Math.floor(rand() * sets)]!.push(i);
  const groups: PackerGroup[] = perSet.map((idx, k) => ({
    family: Family.IPv4Unicast,
    attributes: attributeSet(k, peerAs, nextHop),
    prefixes: listOf(idx, words, lengths),
  }));
  return packUpdates(groups, [], SEND_OPTS);
}

function listOf(idx: number[], words: Uint32Array, lengths: Uint8Array): PrefixList {
  const l: PrefixList = {
    afi: 1,
    count: idx.length,
    words: new Uint32Array(idx.length),
    lengths: new Uint8Array(idx.length),
    pathIds: null,
  };
  idx.forEach((j, i) => {
    l.words[i] = words[j]!;
    l.lengths[i] = lengths[j]!;
  });
  return l;
}

// --- the RIB under test ----------------------------------------------------------------------

interface Phase {
  wallMs: number;
  cpuMs: number;
}

function phase(fn: () => void): Phase {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const c = process.cpuUsage(c0);
  return { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (c.user + c.system) / 1000 };
}

async function main(): Promise<void> {
  console.log(
    `rib.bench: ${N} IPv4 prefixes, ${SETS} attribute sets, one eBGP peer -> one eBGP update group`,
  );
  const { words, lengths } = generatePrefixes(N);
  const peerAs = 65100;
  const injected = packTable(words, lengths, SETS, peerAs, parseIpv4('192.0.2.1'));
  const withdrawMsgs = packUpdates(
    [],
    [
      {
        family: Family.IPv4Unicast,
        prefixes: { afi: 1, count: N, words, lengths, pathIds: null },
      } as WithdrawGroup,
    ],
    SEND_OPTS,
  ).messages;
  console.log(`input: ${injected.messages.length} UPDATEs announcing, ${withdrawMsgs.length} withdrawing`);

  const base = settle();
  const rssBase = process.memoryUsage().rss;

  const attrs = new AttrTable();
  const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
  const decision = new DecisionProcess(attrs, peers);
  const rib = new LocRib({ afi: 1, attrs, decision, initialPrefixes: INITIAL });
  const src = peers.add({
    kind: 'ebgp',
    name: 'injector',
    address: Uint8Array.of(192, 0, 2, 1),
    routerId: parseIpv4('192.0.2.1'),
    remoteAs: peerAs,
    rrClient: false,
  });
  const dst = peers.add({
    kind: 'ebgp',
    name: 'receiver',
    address: Uint8Array.of(192, 0, 2, 2),
    routerId: parseIpv4('192.0.2.2'),
    remoteAs: 65200,
    rrClient: false,
  });
  const compiler = new PolicyCompiler({
    policies: {
      in: { terms: [{ match: { community: ['65535:666'] }, action: 'reject' }, { set: { localPref: 120 } }] },
      out: { terms: [{ set: { communities: { remove: ['65535:*'] } } }] },
    },
  });
  const loop = {
    localAs: 65000,
    allowasIn: 0,
    routerId: parseIpv4('10.0.0.1'),
    clusterIds: [parseIpv4('10.0.0.1')],
  };
  const importFilter = new ImportFilter({
    attrs,
    compiler,
    afi: 1,
    neighbor: peers.get(src),
    policies: ['in'],
    loop,
  });
  const groups = new UpdateGroups(
    rib,
    Family.IPv4Unicast,
    (s) => new ExportFilter(attrs, peers, compiler, s),
  );
  const group = groups.join(
    dst,
    {
      afi: 1,
      kind: 'ebgp',
      rrClient: false,
      policies: ['out'],
      nextHop: 'default',
      localIpv4: parseIpv4('192.0.2.254'),
      localAs: 65000,
      reflector: defaultReflectorConfig(parseIpv4('10.0.0.1')),
    },
    { fourOctetAs: true, addPathSend: false },
  );

  // 1. receive: decode + intern + import policy + Loc-RIB insert
  let tDecode = 0n;
  const receive = phase(() => {
    for (const m of injected.messages) {
      const d0 = process.hrtime.bigint();
      const r = decodeMessage(m, SEND_OPTS);
      tDecode += process.hrtime.bigint() - d0;
      if (!r.ok || r.value.type !== 'update') throw new Error('bad injected message');
      const u = r.value;
      const id = attrs.intern(storedFromUpdate(u.attributes));
      importFilter.importUpdate(rib, src, id, u.nlri);
      attrs.unref(id);
    }
  });
  // 2. best path
  let changes: RibChanges | undefined;
  const best = phase(() => {
    changes = rib.commit();
  });
  const changed = changes!.count;
  // 3. Adj-RIB-Out for the group
  let batch: UpdateBatch | undefined;
  const adjOut = phase(() => {
    batch = groups.process(changes!).get(group)!;
  });
  // 4. pack the outgoing UPDATEs for the one member
  let outMessages = 0;
  let outPrefixes = 0;
  const pack = phase(() => {
    const forPeer = batch!.forPeer(dst);
    const packed = packUpdates(
      forPeer.announce,
      forPeer.withdraw === null ? [] : [forPeer.withdraw],
      SEND_OPTS,
    );
    outMessages = packed.messages.length;
    outPrefixes = packed.prefixCount;
  });
  const rssPeak = process.memoryUsage().rss;
  const buckets = batch!.bucketCount;
  batch!.release();
  rib.commit(); // releases the batch buffers, as the next batch in a running daemon would
  attrs.collect();
  const setsHeld = attrs.size;
  const memAll = settle() - base;
  const ribOnly = rib.storageBytes();
  const adjOutBytes = group.storageBytes();

  // 5. full withdrawal: decode + Loc-RIB, best path, Adj-RIB-Out, pack
  const wReceive = phase(() => {
    for (const m of withdrawMsgs) {
      const r = decodeMessage(m, SEND_OPTS);
      if (!r.ok || r.value.type !== 'update') throw new Error('bad withdraw message');
      rib.withdraw(src, r.value.withdrawn);
    }
  });
  let wChanges: RibChanges | undefined;
  const wBest = phase(() => {
    wChanges = rib.commit();
  });
  let wBatch: UpdateBatch | undefined;
  const wAdjOut = phase(() => {
    wBatch = groups.process(wChanges!).get(group)!;
  });
  let withdrawn = 0;
  const wPack = phase(() => {
    const wFor = wBatch!.forPeer(dst);
    withdrawn = packUpdates(
      wFor.announce,
      wFor.withdraw === null ? [] : [wFor.withdraw],
      SEND_OPTS,
    ).prefixCount;
  });
  wBatch!.release();
  const wRelease = phase(() => {
    rib.commit(); // frees the withdrawn prefixes' slots
  });
  const withdraw: Phase = {
    wallMs: wReceive.wallMs + wBest.wallMs + wAdjOut.wallMs + wPack.wallMs + wRelease.wallMs,
    cpuMs: wReceive.cpuMs + wBest.cpuMs + wAdjOut.cpuMs + wPack.cpuMs + wRelease.cpuMs,
  };
  attrs.collect();

  // 6. session loss at a full table: the longest single step, in the daemon's terms (one
  // scheduled commit of at most 65,536 prefixes, RoutingEngine's COMMIT_SLICE, and the
  // Adj-RIB-Out of what it changed). Nothing else runs during a step: keepalives and other
  // sessions' input wait for its end. Once with the removal in one pass (as before queued passes),
  // once queued (flushPeer in the daemon), the table re-imported before each.
  const SLICE = 65536;
  const reimport = () => {
    for (const m of injected.messages) {
      const r = decodeMessage(m, SEND_OPTS);
      if (!r.ok || r.value.type !== 'update') throw new Error('bad injected message');
      const id = attrs.intern(storedFromUpdate(r.value.attributes));
      importFilter.importUpdate(rib, src, id, r.value.nlri);
      attrs.unref(id);
    }
    groups.process(rib.commit()).get(group)?.release();
    rib.commit();
  };
  const step = (): number => {
    const t0 = process.hrtime.bigint();
    groups.process(rib.commit(SLICE)).get(group)?.release();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const lossRuns: { how: string; firstMs: number; maxMs: number; steps: number; totalMs: number }[] = [];
  for (const how of ['one pass', 'queued']) {
    reimport();
    const t0 = process.hrtime.bigint();
    let first = 0;
    if (how === 'one pass') rib.removePeerPaths(src);
    else rib.queuePeerRemoval(src, 'all');
    first = Number(process.hrtime.bigint() - t0) / 1e6;
    let max = 0;
    let steps = 0;
    while (rib.pending > 0) {
      const ms = step() + (steps === 0 ? first : 0);
      if (ms > max) max = ms;
      steps++;
    }
    step(); // frees the prefixes' slots
    lossRuns.push({
      how,
      firstMs: first,
      maxMs: max,
      steps,
      totalMs: Number(process.hrtime.bigint() - t0) / 1e6,
    });
    if (rib.paths !== 0) throw new Error(`session loss left ${rib.paths} paths`);
  }
  attrs.collect();

  const f = (x: number) => x.toFixed(0).padStart(7);
  const row = (name: string, p: Phase, note = '') =>
    console.log(`${name.padEnd(40)}${f(p.wallMs)}${f(p.cpuMs)}   ${note}`);
  console.log('');
  console.log(`${'phase'.padEnd(40)}wall ms cpu ms`);
  row(
    'receive (decode+intern+import+insert)',
    receive,
    `codec decode alone ${(Number(tDecode) / 1e6).toFixed(0)} ms wall`,
  );
  row(`best path (${changed} prefixes changed)`, best);
  row('Adj-RIB-Out, 1 update group', adjOut, `${buckets} attribute buckets`);
  row('pack outgoing UPDATEs', pack, `${outMessages} messages, ${outPrefixes} prefixes`);
  const total: Phase = {
    wallMs: receive.wallMs + best.wallMs + adjOut.wallMs + pack.wallMs,
    cpuMs: receive.cpuMs + best.cpuMs + adjOut.cpuMs + pack.cpuMs,
  };
  row('total: announce in -> UPDATEs out', total);
  row('withdrawal: receive (decode+remove)', wReceive);
  row('withdrawal: best path', wBest);
  row('withdrawal: Adj-RIB-Out', wAdjOut);
  row('withdrawal: pack', wPack);
  row('withdrawal: free prefix slots', wRelease);
  row('total: full withdrawal in -> out', withdraw, `${withdrawn} prefixes withdrawn`);
  console.log('');
  console.log('session loss (no GR) at the full table: steps of at most 65,536 prefixes + Adj-RIB-Out');
  for (const r of lossRuns)
    console.log(
      `  ${r.how.padEnd(9)} longest step ${r.maxMs.toFixed(0).padStart(4)} ms (the call itself ${r.firstMs.toFixed(1)} ms), ${r.steps} steps, ${r.totalMs.toFixed(0)} ms in all`,
    );
  console.log('');
  console.log(
    `import policy evaluations: ${importFilter.evaluations}, export evaluations: ${group.filter.evaluations}`,
  );
  console.log(
    `attribute sets interned while the table was up: ${setsHeld} (Loc-RIB + Adj-RIB-Out), after withdrawal: ${attrs.size}`,
  );
  console.log('');
  console.log(`memory (heap+external delta after GC, steady state): ${(memAll / N).toFixed(1)} B/route`);
  console.log(
    `  of which Loc-RIB arrays ${(ribOnly / N).toFixed(1)} B/route, Adj-RIB-Out (1 group) ${(adjOutBytes / N).toFixed(1)} B/route`,
  );
  console.log(
    `  RSS growth at peak ${((rssPeak - rssBase) / N).toFixed(0)} B/route (includes transient batch buffers and output messages)`,
  );

  if (WITH_BIRD) await birdSideBySide(words, lengths, memAll / N, receive.cpuMs + best.cpuMs);
}

// --- BIRD 2 in the same run ------------------------------------------------------------------

async function birdSideBySide(
  words: Uint32Array,
  lengths: Uint8Array,
  oursBytes: number,
  oursMs: number,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ribbench-'));
  try {
    const lines = ['router id 10.0.0.1;', 'ipv4 table t;', 'protocol static feed { ipv4 { table t; };'];
    const fmt = (w: number) => `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
    for (let i = 0; i < words.length; i++) lines.push(`route ${fmt(words[i]!)}/${lengths[i]} blackhole;`);
    lines.push('}');
    writeFileSync(join(dir, 'bird.conf'), `${lines.join('\n')}\n`);
    const sock = join(dir, 'bird.ctl');
    const t0 = Date.now();
    const bird = spawn('bird', ['-f', '-c', join(dir, 'bird.conf'), '-s', sock, '-P', join(dir, 'pid')], {
      stdio: 'ignore',
    });
    const birdc = (...cmd: string[]) =>
      spawnSync('birdc', ['-s', sock, ...cmd], { encoding: 'utf8' }).stdout ?? '';
    let routes = 0;
    let loadMs = 0;
    for (let i = 0; i < 1200 && routes < words.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const m = /(\d+) of \d+ routes/.exec(birdc('show', 'route', 'table', 't', 'count'));
      routes = Number(m?.[1] ?? 0);
      loadMs = Date.now() - t0;
    }
    const mem = birdc('show', 'memory');
    bird.kill('SIGTERM');
    const unit = (v: string, u: string) =>
      Number(v) * ({ B: 1, kB: 1024, MB: 1048576, GB: 1073741824 }[u] ?? 1);
    // "Routing tables:  29.0 kB  9920.0  B" = effective + overhead
    const row = (name: string): number | null => {
      const m = new RegExp(`${name}:\\s+([\\d.]+)\\s+(\\w+)\\s+([\\d.]+)\\s+(\\w+)`).exec(mem);
      return m === null ? null : unit(m[1]!, m[2]!) + unit(m[3]!, m[4]!);
    };
    const tables = row('Routing tables');
    if (tables === null || routes < words.length) {
      console.log(`BIRD: ${routes} routes loaded; could not read show memory:\n${mem}`);
      return;
    }
    const birdBytes = tables + (row('Route attributes') ?? 0);
    console.log('');
    console.log(
      `BIRD 2 same run (static routes, 1 attribute set): ${routes} routes loaded in ${loadMs} ms (config parse included)`,
    );
    console.log(`  routing tables + route attributes: ${(birdBytes / words.length).toFixed(1)} B/route`);
    console.log(`  ratio tsbgp/BIRD bytes per route: ${(oursBytes / (birdBytes / words.length)).toFixed(2)}`);
    console.log(
      `  (tsbgp receive+best path ${oursMs.toFixed(0)} ms CPU; BIRD's load time includes parsing a ${words.length}-line config)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
