// Codec benchmark (issue #2 §5): a realistic full-table IPv4 UPDATE stream, encoded with the
// UPDATE packer and decoded back through the frame reader, on one core.
//
//   npm run bench:codec -- [--prefixes 1000000] [--sets 4000] [--runs 5] [--extended] [--vs-bird]
//
// The table is generated deterministically: ~1M unique IPv4 prefixes with the real table's length
// mix (/24 ~60%, /22-/23 ~20%, /16-/21 ~15%, the rest spread over /8-/15 and /25-/32), a few
// thousand shared attribute sets (AS paths of 2-8 ASNs, some 4-octet; communities on ~40%; large
// communities on some; MED on some), assigned with a skew (a few sets carry many prefixes).
// Encode = packUpdates for the whole table; decode = frame reader + decodeMessage over the stream
// in 64 KiB socket-sized chunks, touching every prefix. Each figure is the median of --runs runs.
//
// --vs-bird also replays the same stream into BIRD 2 over a loopback BGP session and times how
// long BIRD takes to import it (its decode + RIB), for a side-by-side ratio.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  AS_TRANS,
  asPathFromSequence,
  BgpFrameReader,
  type CodecOptions,
  decodeMessage,
  encodeEndOfRib,
  encodeKeepalive,
  encodeMessage,
  Family,
  type PathAttributes,
  type PrefixList,
  PrefixListBuilder,
  packUpdates,
  type UpdateGroup,
} from '../../src/bgp/codec/index.ts';

const args = process.argv.slice(2);
const numArg = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const PREFIXES = numArg('--prefixes', 1_000_000);
const SETS = numArg('--sets', 4000);
const RUNS = numArg('--runs', 5);
const EXTENDED = args.includes('--extended');
const VS_BIRD = args.includes('--vs-bird');

// One core: re-run pinned to CPU 0 unless already pinned (JS runs on one thread anyway; this
// keeps GC helper threads on the same core so the figure is honestly single-core).
if (process.env.TSBGP_BENCH_PINNED !== '1') {
  const probe = spawnSync('taskset', ['-c', '0', 'true']);
  if (probe.status === 0) {
    const r = spawnSync(
      'taskset',
      ['-c', '0', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...args],
      { stdio: 'inherit', env: { ...process.env, TSBGP_BENCH_PINNED: '1' } },
    );
    process.exit(r.status ?? 1);
  }
}

/** xorshift32: deterministic, fast. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function pickLength(r: number): number {
  if (r < 0.6) return 24;
  if (r < 0.7) return 23;
  if (r < 0.8) return 22;
  if (r < 0.95) return 16 + Math.floor(((r - 0.8) / 0.15) * 6); // /16-/21
  if (r < 0.98) return 8 + Math.floor(((r - 0.95) / 0.03) * 8); // /8-/15
  return 25 + Math.floor(((r - 0.98) / 0.02) * 8); // /25-/32
}

interface Table {
  groups: UpdateGroup[];
  prefixCount: number;
  lengthMix: Map<number, number>;
}

export function generateTable(prefixes: number, sets: number, seed = 1): Table {
  const rand = rng(seed);
  const attrs: PathAttributes[] = [];
  for (let i = 0; i < sets; i++) {
    const pathLen = 2 + Math.floor(rand() * 7);
    const asns: number[] = [];
    for (let j = 0; j < pathLen; j++) {
      asns.push(rand() < 0.3 ? 131072 + Math.floor(rand() * 400000) : 1 + Math.floor(rand() * 64000));
    }
    const a: PathAttributes = {
      origin: rand() < 0.9 ? 0 : 2,
      asPath: asPathFromSequence(asns),
      nextHop: 0x7f000001, // 127.0.0.1: the bench's own address, so BIRD resolves it
    };
    if (rand() < 0.3) a.med = Math.floor(rand() * 1000);
    if (rand() < 0.4) {
      const n = 1 + Math.floor(rand() * 6);
      const c = new Uint32Array(n);
      for (let k = 0; k < n; k++) c[k] = ((asns[0]! & 0xffff) << 16) | Math.floor(rand() * 65536);
      a.communities = c;
    }
    if (rand() < 0.1) a.largeCommunities = Uint32Array.of(asns[0]!, 1, Math.floor(rand() * 1000));
    if (rand() < 0.02) a.aggregator = { asn: asns[asns.length - 1] ?? AS_TRANS, address: 0x0a000001 };
    attrs.push(a);
  }
  const builders = attrs.map(() => new PrefixListBuilder(1, false, 64));
  const seen = new Set<number>();
  const lengthMix = new Map<number, number>();
  let made = 0;
  while (made < prefixes) {
    const len = pickLength(rand());
    const addr = Math.floor(rand() * 0xe0000000) + 0x01000000; // unicast space
    const word = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
    const key = word * 64 + len;
    if (seen.has(key)) continue;
    seen.add(key);
    // skew: a few attribute sets carry many prefixes (like transit paths), most carry few
    const set = Math.floor(rand() ** 3 * sets);
    builders[set]!.addIPv4(word, len);
    lengthMix.set(len, (lengthMix.get(len) ?? 0) + 1);
    made++;
  }
  const groups: UpdateGroup[] = [];
  builders.forEach((b, i) => {
    if (b.size > 0) groups.push({ family: Family.IPv4Unicast, attributes: attrs[i]!, prefixes: b.finish() });
  });
  return { groups, prefixCount: made, lengthMix };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

function chunked(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, i + size));
  return out;
}

/** Frames and decodes the whole stream; returns [prefixes, updates] seen. */
function decodeStream(chunks: Buffer[], opts: CodecOptions): [number, number] {
  const reader = new BgpFrameReader(opts.extendedMessage ? 65535 : 4096);
  let prefixes = 0;
  let updates = 0;
  let checksum = 0;
  for (const c of chunks) {
    reader.push(c);
    for (let f = reader.next(); f !== null; f = reader.next()) {
      const d = decodeMessage(f, opts);
      if (!d.ok) throw new Error(`decode failed: ${d.error.reason}`);
      if (d.value.type !== 'update') continue;
      updates++;
      const nlri: PrefixList = d.value.nlri;
      prefixes += nlri.count;
      // touch every prefix so nothing is left lazily undone
      for (let i = 0; i < nlri.count; i++) checksum = (checksum + nlri.words[i]! + nlri.lengths[i]!) | 0;
    }
  }
  if (checksum === 0x7fffffff) console.log('');
  return [prefixes, updates];
}

async function main(): Promise<void> {
  const opts: CodecOptions = { fourOctetAs: true, extendedMessage: EXTENDED, addPath: new Set() };
  const t0 = performance.now();
  const table = generateTable(PREFIXES, SETS);
  const genMs = performance.now() - t0;
  const mix = [...table.lengthMix.entries()].sort((a, b) => a[0] - b[0]);
  const share = (lo: number, hi: number) =>
    (mix.filter(([l]) => l >= lo && l <= hi).reduce((s, [, n]) => s + n, 0) / table.prefixCount) * 100;
  console.log(
    `table: ${fmt(table.prefixCount)} IPv4 prefixes in ${table.groups.length} attribute sets ` +
      `(/24 ${share(24, 24).toFixed(1)}%, /22-/23 ${share(22, 23).toFixed(1)}%, /16-/21 ${share(16, 21).toFixed(1)}%, ` +
      `other ${(100 - share(16, 24)).toFixed(1)}%), generated in ${(genMs / 1000).toFixed(1)} s`,
  );
  console.log(
    `session: 4-octet AS, max message ${EXTENDED ? 65535 : 4096}, ${RUNS} runs, node ${process.version}`,
  );

  const encTimes: number[] = [];
  let chunksOut: Buffer[] = [];
  let messageCount = 0;
  for (let r = 0; r < RUNS + 1; r++) {
    const s = performance.now();
    const packed = packUpdates(table.groups, [], opts);
    const e = performance.now() - s;
    if (packed.failed.length > 0) throw new Error(`packer failed: ${packed.failed[0]!.reason}`);
    if (packed.prefixCount !== table.prefixCount) throw new Error('packer lost prefixes');
    chunksOut = packed.chunks;
    messageCount = packed.messageCount;
    if (r > 0) encTimes.push(e); // the first run warms up the JIT
  }
  const stream = Buffer.concat(chunksOut);
  const chunks = chunked(stream, 65536);
  const decTimes: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const s = performance.now();
    const [p, u] = decodeStream(chunks, opts);
    const e = performance.now() - s;
    if (p !== table.prefixCount || u !== messageCount)
      throw new Error(`decoded ${p} prefixes in ${u} UPDATEs`);
    if (r > 0) decTimes.push(e);
  }
  const enc = median(encTimes) / 1000;
  const dec = median(decTimes) / 1000;
  const n = table.prefixCount;
  console.log(
    `UPDATEs: ${messageCount} (${(stream.length / 1048576).toFixed(1)} MiB, ${(n / messageCount).toFixed(0)} prefixes each)`,
  );
  console.log(
    `encode: ${fmt(n / enc)} prefixes/s, ${fmt(messageCount / enc)} UPDATEs/s (median ${(enc * 1000).toFixed(0)} ms; target >= 2M prefixes/s)`,
  );
  console.log(
    `decode: ${fmt(n / dec)} prefixes/s, ${fmt(messageCount / dec)} UPDATEs/s (median ${(dec * 1000).toFixed(0)} ms, framing included; target >= 3M prefixes/s)`,
  );

  if (VS_BIRD) {
    const birdTimes: number[] = [];
    for (let r = 0; r < BIRD_RUNS; r++) birdTimes.push(await replayIntoBird(stream, n));
    const birdSec = median(birdTimes);
    console.log(
      `BIRD ${birdVersion()} import of the same stream over loopback BGP: ${(birdSec * 1000).toFixed(0)} ms = ` +
        `${fmt(n / birdSec)} prefixes/s (its decode + RIB, median of ${BIRD_RUNS}); ` +
        `tsbgp decode alone: ${(birdSec / dec).toFixed(1)}x BIRD's import rate`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// BIRD side by side: BIRD connects to us over loopback, we send OPEN + KEEPALIVE, then the whole
// UPDATE stream and End-of-RIB, and poll birdc until BIRD reports every prefix imported.

const BIRD_RUNS = numArg('--bird-runs', 3);

function birdVersion(): string {
  const r = spawnSync('bird', ['--version'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim().replace(/^BIRD version /, '');
}

async function replayIntoBird(stream: Buffer, prefixes: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbgp-codec-bench-'));
  const sock = join(dir, 'bird.ctl');
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  const birdPort = 20000 + (process.pid % 20000);
  writeFileSync(
    join(dir, 'bird.conf'),
    `router id 10.255.0.1;
ipv4 table bench4;
protocol bgp bench {
  local 127.0.0.2 port ${birdPort} as 65000;
  neighbor 127.0.0.1 port ${port} as 65001;
  multihop;
  hold time 240;
  connect retry time 1;
  # next hops resolve through an IGP table of its own (empty: the routes are imported as
  # unreachable), so BIRD's hostcache is not recomputed for every imported route
  ipv4 { table bench4; import all; export none; gateway recursive; igp table master4; };
}
`,
  );
  const bird = spawn('bird', ['-f', '-c', join(dir, 'bird.conf'), '-s', sock, '-P', join(dir, 'bird.pid')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let birdErr = '';
  bird.stderr.on('data', (d: Buffer) => {
    birdErr += d.toString();
  });
  try {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    const socket = await new Promise<Socket>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`BIRD did not connect: ${birdErr}`)), 20_000);
      server.once('connection', (s: Socket) => {
        clearTimeout(t);
        res(s);
      });
    });
    socket.setNoDelay(true);
    const reader = new BgpFrameReader();
    const established = new Promise<void>((res, rej) => {
      socket.on('data', (chunk: Buffer) => {
        reader.push(chunk);
        for (let f = reader.next(); f !== null; f = reader.next()) {
          const d = decodeMessage(f, opts);
          if (!d.ok) return rej(new Error(d.error.reason));
          if (d.value.type === 'keepalive') res();
          if (d.value.type === 'notification')
            rej(new Error(`BIRD sent NOTIFICATION ${d.value.code}/${d.value.subcode}`));
        }
      });
    });
    const open = encodeMessage(
      {
        type: 'open',
        version: 4,
        myAs: 65001,
        holdTime: 240,
        bgpId: 0x0afe0001,
        capabilities: [
          { kind: 'multiprotocol', afi: 1, safi: 1 },
          { kind: 'route-refresh' },
          { kind: 'four-octet-as', asn: 65001 },
        ],
      },
      opts,
    );
    if (!open.ok) throw new Error(open.reason);
    socket.write(open.bytes);
    socket.write(encodeKeepalive());
    await established;
    const start = performance.now();
    socket.write(stream);
    socket.write(encodeEndOfRib(Family.IPv4Unicast, opts));
    for (;;) {
      await new Promise((r) => setTimeout(r, 25));
      const out = spawnSync('birdc', ['-s', sock, 'show', 'protocols', 'all', 'bench'], {
        encoding: 'utf8',
      }).stdout;
      // "Import updates: received rejected filtered ignored accepted": every prefix processed
      const m = /Import updates:\s+(\d+)/.exec(out);
      if (m !== null && Number(m[1]) >= prefixes) break;
      if (performance.now() - start > 120_000) {
        const proto = spawnSync('birdc', ['-s', sock, 'show', 'protocols', 'all', 'bench'], {
          encoding: 'utf8',
        }).stdout;
        throw new Error(`BIRD import timed out: ${out}\n${proto}\n${birdErr}`);
      }
    }
    const sec = (performance.now() - start) / 1000;
    socket.destroy();
    return sec;
  } finally {
    bird.kill('SIGTERM');
    await new Promise((r) => bird.once('exit', r));
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
