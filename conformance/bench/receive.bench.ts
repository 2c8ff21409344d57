// Receive benchmark (issue #3 §4): how long until N prefixes sent by a BIRD 2 peer are in our
// Adj-RIB-In, and our peak RSS, side by side with BIRD 2 as the receiver, in the same run.
//
//   node --import tsx conformance/bench/receive.bench.ts [N ...] [--reps R]     (root; default 100000 1000000, R=3)
//
// Topology: a BIRD 2 sender originates N static /24s (identical attributes, so BIRD packs them
// densely, as in bgperf2's synthetic runs) and peers with both receivers over veth links. Each
// measurement starts a fresh receiver, enables the sender's session to it, and runs from the moment
// the sender reports the session Established (t0, polled every 2 ms) until the receiver holds N
// routes (t1): for tsbgp the harness stamps the batch that completes the
// Adj-RIB-In; for BIRD the bench polls the channel import counter (`show protocols all`) every
// 5 ms, which costs BIRD nothing (`show route count` would walk the table). Peak RSS is the kernel's
// VmHWM of the receiver process; "added" subtracts the receiver's RSS just before t0. CPU is the
// receiver's user+system time between t0 and t1.
// Caveat: BIRD also runs best-path selection into its master table; tsbgp's receive path ends at
// the Adj-RIB-In (the Loc-RIB is a later issue).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canUseNamespaces, Lab, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { BirdCtl, cpuSecondsOf, memoryOf } from '../session/bird-ctl.ts';
import type { HarnessConfig } from '../session/speaker-harness.ts';

const args = process.argv.slice(2);
const repsAt = args.indexOf('--reps');
const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 3;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && i !== repsAt + 1).map(Number);
if (sizes.length === 0) sizes.push(100_000, 1_000_000);

if (!canUseNamespaces()) {
  console.error('receive.bench: needs root (network namespaces)');
  process.exit(1);
}

const here = import.meta.dirname;
const harnessPath = join(here, '..', 'session', 'speaker-harness.ts');
const readText = (p: string): string => readFileSync(p, 'utf8');

interface Sample {
  ms: number;
  peak: number;
  added: number;
  /** CPU seconds the receiver used between t0 and t1 (the sender paces both receivers). */
  cpu: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function jsonLines(path: string): { type: string; [k: string]: unknown }[] {
  let text = '';
  try {
    text = readText(path);
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { type: string }];
      } catch {
        return [];
      }
    });
}

function senderConfig(lab: Lab, n: number): string {
  const lines = [
    `log "${join(lab.dir, 'sender.log')}" { warning, error, fatal };`,
    'router id 10.78.0.1;',
    'protocol device { }',
    'protocol static generated { ipv4;',
  ];
  for (let i = 0; i < n; i++) {
    const w = 0x01000000 + i * 256;
    lines.push(`route ${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.0/24 blackhole;`);
  }
  lines.push('}');
  for (const [name, local, remote] of [
    ['to_tsbgp', '10.78.1.1', '10.78.1.2'],
    ['to_bird', '10.78.2.1', '10.78.2.2'],
  ] as const) {
    lines.push(
      `protocol bgp ${name} { disabled; local ${local} as 65001; neighbor ${remote} as 65000; hold time 90;`,
      '  connect delay time 1; connect retry time 1; ipv4 { import none; export all; }; }',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * BIRD 2.0's I/O loop can sleep up to 3 s in poll() before flushing the last partial UPDATE of an
 * export (seen here as the last ~0.2% of a table arriving 3 s late, for either receiver). A CLI
 * command every 10 ms wakes it, so both receivers are measured without that artefact.
 */
function nudge(sender: BirdCtl): () => void {
  let on = true;
  void (async () => {
    while (on) {
      await sender.command('show status');
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return () => {
    on = false;
  };
}

/** Polls the sender until its session to `proto` is Established; returns that time (t0). */
async function established(sender: BirdCtl, proto: string): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = await sender.command(`show protocols ${proto}`);
    if (reply.some((l) => /Established/.test(l))) return Date.now();
    if (Date.now() > deadline)
      throw new Error(`sender session ${proto} did not establish: ${reply.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function measureTsbgp(lab: Lab, sender: BirdCtl, n: number, rep: number): Promise<Sample> {
  const cfg: HarnessConfig = {
    localAs: 65000,
    routerId: '10.78.1.2',
    listen: { addresses: ['10.78.1.2'], port: 179 },
    peers: [{ key: '10.78.1.1', address: '10.78.1.1', remoteAs: 65001, passive: true, holdTime: 90 }],
    statusIntervalMs: Number(process.env.STATUS_MS ?? 1000),
    targetPrefixes: n,
  };
  const cfgPath = join(lab.dir, `harness-${n}-${rep}.json`);
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const h: SpawnedProcess = lab.spawn('dut', `harness-${n}-${rep}`, 'node', [
    '--import',
    'tsx',
    harnessPath,
    cfgPath,
  ]);
  const ready = await waitFor(
    'harness ready',
    () => jsonLines(h.logPath).find((l) => l.type === 'ready'),
    30_000,
    50,
  );
  const pid = Number(ready.pid);
  await new Promise((r) => setTimeout(r, 500)); // let start-up garbage settle before the baseline
  const before = memoryOf(pid, readText);
  const cpu0 = cpuSecondsOf(pid, readText);
  await sender.command('enable to_tsbgp');
  const t0 = await established(sender, 'to_tsbgp');
  const stopNudging = nudge(sender);
  const target = await waitFor(
    `tsbgp to hold ${n} prefixes`,
    () => jsonLines(h.logPath).find((l) => l.type === 'target'),
    300_000,
    20,
  );
  stopNudging();
  const ms = Number(target.t) - t0;
  const cpu = cpuSecondsOf(pid, readText) - cpu0;
  const mem = memoryOf(pid, readText);
  await sender.command('disable to_tsbgp');
  h.child.kill('SIGTERM');
  await h.exited;
  return { ms, peak: mem.peak, added: mem.peak - before.rss, cpu };
}

async function measureBird(lab: Lab, sender: BirdCtl, n: number, rep: number): Promise<Sample> {
  const conf = join(lab.dir, `rcv-${rep}.conf`);
  writeFileSync(
    conf,
    [
      'router id 10.78.2.2;',
      'protocol device { }',
      'protocol bgp sender { local 10.78.2.2 as 65000; neighbor 10.78.2.1 as 65001; passive on; hold time 90;',
      '  ipv4 { import all; export none; }; }',
      '',
    ].join('\n'),
  );
  const sock = join(lab.dir, `rcv-${n}-${rep}.ctl`);
  const b = lab.spawn('rcv', `bird-${n}-${rep}`, 'bird', ['-f', '-c', conf, '-s', sock]);
  const ctl = await waitFor('receiver BIRD control socket', () => BirdCtl.open(sock), 15_000, 50);
  await new Promise((r) => setTimeout(r, 500));
  const pid = b.child.pid ?? 0;
  const before = memoryOf(pid, readText);
  const cpu0 = cpuSecondsOf(pid, readText);
  await sender.command('enable to_bird');
  const t0 = await established(sender, 'to_bird');
  const stopNudging = nudge(sender);
  let t1 = 0;
  for (;;) {
    if ((await ctl.importedRoutes('sender')) >= n) {
      t1 = Date.now();
      break;
    }
    if (Date.now() - t0 > 300_000) throw new Error(`BIRD did not receive ${n} routes in 300 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  stopNudging();
  const cpu = cpuSecondsOf(pid, readText) - cpu0;
  const mem = memoryOf(pid, readText);
  await sender.command('disable to_bird');
  ctl.close();
  b.child.kill('SIGTERM');
  await b.exited;
  return { ms: t1 - t0, peak: mem.peak, added: mem.peak - before.rss, cpu };
}

const lab = new Lab('rcvb');
const rows: string[] = [];
try {
  await lab.addNode('src');
  await lab.addNode('dut');
  await lab.addNode('rcv');
  await lab.link(
    { node: 'src', ifname: 'to-dut', addrs: ['10.78.1.1/24'] },
    { node: 'dut', ifname: 'to-src', addrs: ['10.78.1.2/24'] },
  );
  await lab.link(
    { node: 'src', ifname: 'to-rcv', addrs: ['10.78.2.1/24'] },
    { node: 'rcv', ifname: 'to-src', addrs: ['10.78.2.2/24'] },
  );
  for (const n of sizes) {
    const conf = join(lab.dir, `sender-${n}.conf`);
    writeFileSync(conf, senderConfig(lab, n));
    const sock = join(lab.dir, `sender-${n}.ctl`);
    const s = lab.spawn('src', `sender-${n}`, 'bird', ['-f', '-c', conf, '-s', sock]);
    const sender = await waitFor('sender BIRD control socket', () => BirdCtl.open(sock), 120_000, 200);
    await waitFor(
      `sender to load ${n} static routes`,
      async () => (await sender.routeCount()) >= n,
      300_000,
      200,
    );
    await new Promise((r) => setTimeout(r, Number(process.env.SETTLE_MS ?? 0)));
    const ours: Sample[] = [];
    const birds: Sample[] = [];
    for (let rep = 0; rep < reps; rep++) {
      // Alternate the order so neither receiver always runs on a warmer machine.
      if (rep % 2 === 0) {
        ours.push(await measureTsbgp(lab, sender, n, rep));
        birds.push(await measureBird(lab, sender, n, rep));
      } else {
        birds.push(await measureBird(lab, sender, n, rep));
        ours.push(await measureTsbgp(lab, sender, n, rep));
      }
      console.error(
        `N=${n} rep ${rep + 1}: tsbgp ${ours.at(-1)?.ms} ms, ${ours.at(-1)?.cpu.toFixed(2)} s CPU, ` +
          `${Math.round((ours.at(-1)?.peak ?? 0) / 2 ** 20)} MB peak; BIRD ${birds.at(-1)?.ms} ms, ` +
          `${birds.at(-1)?.cpu.toFixed(2)} s CPU, ${Math.round((birds.at(-1)?.peak ?? 0) / 2 ** 20)} MB peak`,
      );
    }
    sender.close();
    s.child.kill('SIGTERM');
    await s.exited;
    const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
    const t = median(ours.map((x) => x.ms));
    const tb = median(birds.map((x) => x.ms));
    const p = median(ours.map((x) => x.peak));
    const pb = median(birds.map((x) => x.peak));
    const a = median(ours.map((x) => x.added));
    const ab = median(birds.map((x) => x.added));
    const c = median(ours.map((x) => x.cpu));
    const cb = median(birds.map((x) => x.cpu));
    rows.push(
      `| ${n.toLocaleString('en-US')} | ${(t / 1000).toFixed(2)} | ${(tb / 1000).toFixed(2)} | ${(t / tb).toFixed(2)} | ` +
        `${c.toFixed(2)} | ${cb.toFixed(2)} | ${(c / Math.max(cb, 0.01)).toFixed(1)} | ` +
        `${mb(p)} | ${mb(pb)} | ${(p / pb).toFixed(1)} | ${mb(a)} | ${mb(ab)} | ${(a / Math.max(ab, 1)).toFixed(1)} |`,
    );
  }
} finally {
  await lab.dispose();
}

console.log(
  `\nReceive benchmark: BIRD 2 sender -> receiver Adj-RIB-In (median of ${reps}; times in s, memory in MB)\n`,
);
console.log(
  '| prefixes | tsbgp time | BIRD time | time ratio | tsbgp CPU | BIRD CPU | CPU ratio | ' +
    'tsbgp peak RSS | BIRD peak RSS | RSS ratio | tsbgp added RSS | BIRD added RSS | added ratio |',
);
console.log(`|${'---:|'.repeat(13)}`);
for (const r of rows) console.log(r);
