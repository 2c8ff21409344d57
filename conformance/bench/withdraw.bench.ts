// Withdraw latency (issue #5 §5): from a BGP withdraw arriving at the host to the kernel route
// being gone, p50 and p99 over N withdraws (default 1000), for `tsbgp run` and, in the same run,
// for BIRD 2 with its kernel protocol (what Calico runs), both fed by the same ExaBGP.
//
//   node --import tsx conformance/bench/withdraw.bench.ts [--routes 1000] [--gap-ms 10]
//
// Topology: ExaBGP (ns ex) peers over eBGP with tsbgp (ns tsb) and BIRD 2 (ns bird). It announces
// N /32s to both; once both kernels hold them, it withdraws them one at a time, `gap-ms` apart.
// In each receiver, tcpdump records when each withdraw arrives on the wire (tshark decodes the
// withdrawn prefixes) and `ip -ts monitor route` when each route leaves the kernel; both stamp
// with the same realtime clock. The latency of a prefix is deletion minus arrival.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { canUseNamespaces, Lab, runOk, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { startExabgp } from '../lib/peers/index.ts';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = arg('--routes', 1000);
const GAP_MS = arg('--gap-ms', 10);

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSBGP = join(ROOT, 'bin', 'tsbgp.js');

const prefixOf = (i: number) => `10.100.${(i >> 8) & 255}.${i & 255}`;

interface Receiver {
  name: string;
  node: string;
  ifname: string;
  address: string;
  /** `ip route show` selector for its routes. */
  proto: string;
  capture?: SpawnedProcess;
  monitor?: SpawnedProcess;
  pcap: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function routeCount(lab: Lab, r: Receiver): Promise<number> {
  const out = await lab.exec(r.node, 'ip', ['-4', 'route', 'show', 'proto', r.proto]);
  return out.split('\n').filter((l) => l.startsWith('10.100.')).length;
}

/** Arrival time (epoch seconds) of the first withdraw of each prefix, from the capture. */
async function arrivals(pcap: string): Promise<Map<string, number>> {
  const out = await runOk('tshark', [
    '-r',
    pcap,
    '-o',
    'tcp.desegment_tcp_streams:TRUE',
    '-Y',
    'bgp.withdrawn_prefix',
    '-T',
    'fields',
    '-e',
    'frame.time_epoch',
    '-e',
    'bgp.withdrawn_prefix',
  ]);
  const at = new Map<string, number>();
  for (const line of out.split('\n')) {
    const [t, prefixes] = line.split('\t');
    if (!t || !prefixes) continue;
    for (const p of prefixes.split(',')) if (!at.has(p)) at.set(p, Number(t));
  }
  return at;
}

/** Deletion time (epoch seconds) of each route, from `ip -ts monitor route`. */
function deletions(log: string): Map<string, number> {
  const at = new Map<string, number>();
  // [2026-11-27T03:10:00.123456] Deleted 10.100.0.1 via 10.0.9.1 dev eth0 proto bgp
  const re = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\] Deleted (10\.100\.\d+\.\d+) /;
  for (const line of log.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const secs = Date.parse(`${m[1]}Z`) / 1000 + Number(`0.${m[2]}`);
    if (!at.has(m[3]!)) at.set(m[3]!, secs);
  }
  return at;
}

async function main(): Promise<void> {
  if (!canUseNamespaces()) {
    process.stderr.write('withdraw.bench: needs root (network namespaces)\n');
    process.exitCode = 2;
    return;
  }
  const lab = new Lab('wdb');
  try {
    await lab.addNode('ex');
    await lab.addNode('tsb');
    await lab.addNode('bird');
    await lab.link(
      { node: 'ex', ifname: 'to-tsb', addrs: ['10.0.9.1/24'] },
      { node: 'tsb', ifname: 'eth0', addrs: ['10.0.9.2/24'] },
    );
    await lab.link(
      { node: 'ex', ifname: 'to-bird', addrs: ['10.0.8.1/24'] },
      { node: 'bird', ifname: 'eth0', addrs: ['10.0.8.2/24'] },
    );
    // `ip -ts monitor` prints local time; the parser reads it as UTC.
    process.env.TZ = 'UTC';

    const tsbConfig = join(lab.dir, 'tsbgp.yaml');
    writeFileSync(
      tsbConfig,
      `asn: 65001
routerId: 10.0.9.2
listen: { addresses: [10.0.9.2] }
neighbors:
  - name: exabgp
    address: 10.0.9.1
    asn: 65100
    localAddress: 10.0.9.2
    passive: true
    import: [all]
    export: [none]
policies:
  all: { default: accept }
  none: { default: reject }
kernel: {}
`,
    );
    lab.spawn('tsb', 'tsbgp', process.execPath, [
      TSBGP,
      'run',
      '--config',
      tsbConfig,
      '--control-socket',
      join(lab.dir, 'tsbgp.sock'),
    ]);

    const birdConfig = join(lab.dir, 'bird.conf');
    writeFileSync(
      birdConfig,
      `router id 10.0.8.2;
protocol device { scan time 10; }
protocol kernel {
  ipv4 { import none; export all; };
  scan time 60;
}
protocol bgp exabgp {
  local 10.0.8.2 as 65002;
  neighbor 10.0.8.1 as 65100;
  passive on;
  ipv4 { import all; export none; };
}
`,
    );
    await lab.exec('bird', 'bird', [
      '-c',
      birdConfig,
      '-s',
      join(lab.dir, 'bird.ctl'),
      '-P',
      join(lab.dir, 'bird.pid'),
    ]);

    const ex = await startExabgp(lab, 'ex', {
      localAs: 65100,
      routerId: '10.0.9.1',
      neighbors: [
        { address: '10.0.9.2', remoteAs: 65001, localAddress: '10.0.9.1' },
        { address: '10.0.8.2', remoteAs: 65002, localAddress: '10.0.8.1' },
      ],
    });
    const receivers: Receiver[] = [
      {
        name: 'tsbgp',
        node: 'tsb',
        ifname: 'eth0',
        address: '10.0.9.2',
        proto: '186',
        pcap: join(lab.dir, 'tsb.pcap'),
      },
      {
        name: 'BIRD 2',
        node: 'bird',
        ifname: 'eth0',
        address: '10.0.8.2',
        proto: 'bird',
        pcap: join(lab.dir, 'bird.pcap'),
      },
    ];
    for (const r of receivers) {
      await waitFor(
        `${r.name} session`,
        async () => (await ex.sessionState(r.address)) === 'established',
        60_000,
      );
    }
    // The API helper reopens its FIFO after each writer: a write that races its reopen gets
    // EPIPE, so it is tried again (a repeated announce or withdraw is harmless).
    const command = async (text: string): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          await ex.command(text);
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EPIPE' || attempt > 50) throw e;
          await new Promise((res) => setTimeout(res, 5));
        }
      }
    };
    process.stdout.write(`announcing ${N} routes to both receivers\n`);
    const lines: string[] = [];
    for (let i = 0; i < N; i++) {
      for (const r of receivers)
        lines.push(`neighbor ${r.address} announce route ${prefixOf(i)}/32 next-hop self`);
    }
    // In pieces well under the pipe's 64 KB, so each write is whole.
    for (let i = 0; i < lines.length; i += 100) await command(lines.slice(i, i + 100).join('\n'));
    for (const r of receivers) {
      await waitFor(
        `${r.name}: ${N} kernel routes`,
        async () => (await routeCount(lab, r)) === N,
        120_000,
        250,
      );
    }

    for (const r of receivers) {
      r.capture = lab.spawn(r.node, 'tcpdump', 'tcpdump', [
        '-i',
        r.ifname,
        // Without immediate mode, packets still in the capture buffer when tcpdump is stopped
        // are counted by the filter but never written.
        '--immediate-mode',
        '-U',
        '-w',
        r.pcap,
        'tcp port 179',
      ]);
      r.monitor = lab.spawn(r.node, 'monitor', 'ip', ['-ts', '-4', 'monitor', 'route']);
    }
    await new Promise((res) => setTimeout(res, 1000));

    process.stdout.write(`withdrawing them one at a time, ${GAP_MS} ms apart\n`);
    for (let i = 0; i < N; i++) {
      await command(
        receivers
          .map((r) => `neighbor ${r.address} withdraw route ${prefixOf(i)}/32 next-hop self`)
          .join('\n'),
      );
      await new Promise((res) => setTimeout(res, GAP_MS));
    }
    for (const r of receivers) {
      await waitFor(`${r.name}: routes gone`, async () => (await routeCount(lab, r)) === 0, 120_000, 250);
    }
    await new Promise((res) => setTimeout(res, 1500));

    const results: Array<{ name: string; p50: number; p99: number; max: number; n: number }> = [];
    for (const r of receivers) {
      for (const p of [r.capture!, r.monitor!]) {
        p.child.kill('SIGINT');
        await p.exited;
      }
      const arrived = await arrivals(r.pcap);
      const gone = deletions(readFileSync(r.monitor!.logPath, 'utf8'));
      const lat: number[] = [];
      for (let i = 0; i < N; i++) {
        const a = arrived.get(prefixOf(i));
        const d = gone.get(prefixOf(i));
        if (a !== undefined && d !== undefined) lat.push((d - a) * 1000);
      }
      lat.sort((x, y) => x - y);
      results.push({
        name: r.name,
        p50: percentile(lat, 50),
        p99: percentile(lat, 99),
        max: lat.at(-1) ?? NaN,
        n: lat.length,
      });
    }
    const f = (x: number) => x.toFixed(2);
    process.stdout.write('\nwithdraw arriving -> kernel route gone (ms)\n');
    process.stdout.write('receiver      matched     p50     p99     max\n');
    for (const r of results) {
      process.stdout.write(
        `${r.name.padEnd(12)} ${String(r.n).padStart(8)} ${f(r.p50).padStart(7)} ${f(r.p99).padStart(7)} ${f(r.max).padStart(7)}\n`,
      );
    }
    const [t, b] = results;
    if (t && b) {
      process.stdout.write(`ratio tsbgp / BIRD 2: p50 ${f(t.p50 / b.p50)}, p99 ${f(t.p99 / b.p99)}\n`);
    }
    await ex.stop();
  } finally {
    await lab.dispose();
  }
}

await main();
