// Policy sidecar benchmarks (issue #6 §5). Run as root:
//   node --import tsx conformance/bench/policy.bench.ts
// Environment: POLICY_BENCH_BACKENDS=legacy,nft  POLICY_BENCH_SIZES=100,1000,10000
//              POLICY_BENCH_NFT_MAX=1000 (largest full apply tried on nft)  POLICY_BENCH_IPERF_SECONDS=5
//              POLICY_BENCH_NAIVE_FULL_MAX=100  POLICY_BENCH_ROUNDS=5  POLICY_BENCH_THROUGHPUT_BACKENDS=legacy,nft
//              (empty: no throughput run)  POLICY_BENCH_SHARED_PROFILES=0 (K > 0: K profiles shared by all
//              endpoints instead of one per endpoint)  POLICY_BENCH_NAIVE=1 (0: skip the naive baseline)
//              POLICY_BENCH_SEQUENTIAL=1 (0: only the paired throughput run)
//              POLICY_BENCH_PAIRED_ROUNDS=20  POLICY_BENCH_PAIRED_SECONDS=3
// Everything runs inside namespaces of its own Lab. Figures printed:
//  1. full apply of N endpoints (render + ipset restore + iptables-restore), vs a naive baseline of
//     one `iptables -A` per rule measured in the same run (fully for the smallest N; for larger N
//     sampled: the per-call cost measured at an empty and at the full table, averaged, times the
//     rule count — labelled "estimated");
//  2. single-endpoint add / change / remove while N exist (render through the cache + apply);
//  3. iperf3 throughput and ping latency between two workloads with no rules vs tsbgp's full
//     chains for 1k other endpoints and a 10k-member ipset: rounds alternating in time, then
//     paired rounds (two identical hosts measured at the same moment, one with the chains).
import { loadavg } from 'node:os';
import bunyan from 'bunyan';
import { PolicyDataplane } from '../../src/dataplane/policy/dataplane.ts';
import { type Backend, type CommandRunner, spawnRunner } from '../../src/dataplane/policy/executor.ts';
import type { Endpoint, PolicyModel } from '../../src/dataplane/policy/model.ts';
import { type DesiredState, RenderCache, renderPolicy } from '../../src/dataplane/policy/render.ts';
import { Lab, run, runOk } from '../lib/lab.ts';
import { benchModel, endpointAt } from './policy-model.ts';

const backends = (process.env.POLICY_BENCH_BACKENDS ?? 'legacy,nft').split(',').filter(Boolean) as Backend[];
const sizes = (process.env.POLICY_BENCH_SIZES ?? '100,1000,10000').split(',').map(Number);
const nftMax = Number(process.env.POLICY_BENCH_NFT_MAX ?? 1000);
// The naive baseline runs in full up to this size; above it, it is sampled and extrapolated.
const naiveFullMax = Number(process.env.POLICY_BENCH_NAIVE_FULL_MAX ?? 100);
const iperfSeconds = Number(process.env.POLICY_BENCH_IPERF_SECONDS ?? 5);
const sharedProfiles = Number(process.env.POLICY_BENCH_SHARED_PROFILES ?? 0);
const naive = process.env.POLICY_BENCH_NAIVE !== '0';
const log = bunyan.createLogger({ name: 'bench', level: 'error' });
const opts = { ipv6: false } as const;

/** Every command the dataplane ran (tool and wall time), so an update's kernel work can be itemised. */
let commandLog: { cmd: string; ms: number }[] = [];
const nsRunner =
  (ns: string): CommandRunner =>
  async (cmd, args, stdin) => {
    const t0 = performance.now();
    const r = await spawnRunner('ip', ['netns', 'exec', ns, cmd, ...args], stdin);
    commandLog.push({ cmd, ms: performance.now() - t0 });
    return r;
  };

const ms = (x: number) => `${x.toFixed(0)} ms`;
const results: Record<string, unknown> = { loadavgAtStart: loadavg() };

function ruleCount(d: DesiredState): number {
  let n = 0;
  for (const c of d.tables[4].chains.values()) n += c.rules.length;
  return n + d.tables[4].hooks.length;
}

/** Splits a rule's text into argv, honouring the double quotes of comments. */
function argv(rule: string): string[] {
  return [...rule.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The naive way: one `iptables -N` per chain and one `iptables -A` per rule. */
async function naiveApply(
  lab: Lab,
  node: string,
  backend: Backend,
  d: DesiredState,
  limit = Infinity,
): Promise<{ calls: number; ms: number }> {
  const ipt = `iptables-${backend}`;
  const t0 = performance.now();
  let calls = 0;
  for (const name of d.tables[4].chains.keys()) {
    await lab.exec(node, ipt, ['-w', '-N', name]);
    calls++;
  }
  outer: for (const [name, c] of d.tables[4].chains) {
    for (const r of c.rules) {
      if (calls >= limit) break outer;
      await lab.exec(node, ipt, ['-w', '-A', name, ...argv(r)]);
      calls++;
    }
  }
  return { calls, ms: performance.now() - t0 };
}

/** Mean wall time of `count` single `iptables -A` calls into a scratch chain, at the table's current size. */
async function perCallMs(lab: Lab, node: string, backend: Backend, count: number): Promise<number> {
  const ipt = `iptables-${backend}`;
  await lab.tryExec(node, ipt, ['-w', '-N', 'bench-scratch']);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await lab.exec(node, ipt, [
      '-w',
      '-A',
      'bench-scratch',
      '-s',
      `192.0.2.${i % 250}`,
      '-p',
      'tcp',
      '-m',
      'multiport',
      '--dports',
      '80,443',
      '-j',
      'RETURN',
    ]);
  }
  const per = (performance.now() - t0) / count;
  await lab.exec(node, ipt, ['-w', '-F', 'bench-scratch']);
  await lab.exec(node, ipt, ['-w', '-X', 'bench-scratch']);
  return per;
}

async function programmingBench(backend: Backend): Promise<void> {
  const lab = new Lab(backend === 'legacy' ? 'bl' : 'bn');
  try {
    for (const n of sizes) {
      if (backend === 'nft' && n > nftMax) {
        console.log(`  ${backend} N=${n}: skipped (POLICY_BENCH_NFT_MAX=${nftMax}; see docs/policy.md)`);
        continue;
      }
      const node = `n${n}`;
      const ns = await lab.addNode(node);
      const dp = new PolicyDataplane({
        backend,
        prefix: 'tsb',
        ipv6: false,
        log,
        run: nsRunner(ns),
        flushConntrack: false,
      });
      const model = benchModel(n, 0, sharedProfiles);
      const cache = new RenderCache();
      let t = performance.now();
      const desired = renderPolicy(model, opts, cache);
      const renderMs = performance.now() - t;
      t = performance.now();
      commandLog = [];
      await dp.apply(desired, true);
      const applyMs = performance.now() - t;
      const fullCommands = new Map<string, number>();
      for (const c of commandLog) fullCommands.set(c.cmd, (fullCommands.get(c.cmd) ?? 0) + c.ms);
      const rules = ruleCount(desired);
      const chains = desired.tables[4].chains.size;
      const members = [...desired.ipsets.values()].reduce((a, s) => a + s.members.length, 0);
      // Check it really is installed: a readback finds nothing to change.
      const check = await dp.apply(desired, true);
      if (check.changed) throw new Error('readback after a full apply found differences');

      // Baseline.
      let baseline: { ms: number; estimated: boolean; detail: string };
      if (!naive) baseline = { ms: Number.NaN, estimated: true, detail: 'not run (POLICY_BENCH_NAIVE=0)' };
      else if (n <= naiveFullMax) {
        const bnode = `b${n}`;
        const bns = await lab.addNode(bnode);
        // The baseline gets the ipsets for free (ipset restore), and pays only for iptables.
        const bdp = new PolicyDataplane({
          backend,
          prefix: 'tsb',
          ipv6: false,
          log,
          run: nsRunner(bns),
          flushConntrack: false,
        });
        const sets = renderPolicy(model, opts);
        sets.tables[4].chains.clear();
        sets.tables[4].hooks.length = 0;
        await bdp.apply(sets, true);
        const r = await naiveApply(lab, bnode, backend, desired);
        baseline = { ms: r.ms, estimated: false, detail: `${r.calls} iptables calls, run in full` };
        await run('ip', ['netns', 'del', bns]);
      } else {
        const bnode = `e${n}`;
        await lab.addNode(bnode);
        const empty = await perCallMs(lab, bnode, backend, 30);
        const full = await perCallMs(lab, node, backend, 10);
        const calls = rules + chains;
        baseline = {
          ms: calls * ((empty + full) / 2),
          estimated: true,
          detail: `estimated: ${calls} calls × mean of ${empty.toFixed(1)} ms/call (empty table) and ${full.toFixed(1)} ms/call (full table)`,
        };
      }
      console.log(
        `  ${backend} N=${n}: ${chains} chains, ${rules} rules, ${members} set members; render ${ms(renderMs)}, apply ${ms(applyMs)} (${[...fullCommands].map(([c, t]) => `${c} ${ms(t)}`).join(', ')}), total ${ms(renderMs + applyMs)}; naive ${ms(baseline.ms)} (${baseline.detail}); speed-up ×${(baseline.ms / (renderMs + applyMs)).toFixed(1)}`,
      );
      results[`full-${backend}-${n}`] = {
        chains,
        rules,
        members,
        renderMs,
        applyMs,
        baselineMs: baseline.ms,
        baselineEstimated: baseline.estimated,
      };

      // Single-endpoint updates at the largest size tried on this backend.
      const largest = backend === 'nft' ? Math.max(...sizes.filter((s) => s <= nftMax)) : Math.max(...sizes);
      if (n === largest) {
        const extra = endpointAt(n + 1, sharedProfiles);
        const withExtra: PolicyModel = {
          ...model,
          endpoints: [...model.endpoints, { ...extra, profiles: [model.profiles[0]!.name] }],
        };
        const changedEp: Endpoint = {
          ...withExtra.endpoints.at(-1)!,
          labels: { app: 'app7', tier: 'front' },
        };
        const changed: PolicyModel = { ...withExtra, endpoints: [...model.endpoints, changedEp] };
        const steps: [string, PolicyModel][] = [
          ['add', withExtra],
          ['change (labels: new policies and set membership)', changed],
          ['remove', model],
        ];
        for (const [what, m] of steps) {
          commandLog = [];
          const t0 = performance.now();
          const d = renderPolicy(m, opts, cache);
          const r1 = performance.now() - t0;
          const rep = await dp.apply(d);
          const total = performance.now() - t0;
          const written = rep.chainsWritten[4].length + rep.chainsRemoved[4].length;
          const commands = commandLog.map((c) => `${c.cmd} ${ms(c.ms)}`).join(', ');
          console.log(
            `  ${backend} N=${n} single endpoint ${what}: render ${ms(r1)}, apply ${ms(rep.ms)}, total ${ms(total)} (${written} chains rewritten, ${rep.membersAdded}+/${rep.membersRemoved}- set members; commands run: ${commands})`,
          );
          results[`update-${backend}-${n}-${what.split(' ')[0]}`] = {
            renderMs: r1,
            applyMs: rep.ms,
            totalMs: total,
            chainsWritten: written,
            commands: commandLog,
          };
        }
      }
      await run('ip', ['netns', 'del', ns]);
    }
  } finally {
    await lab.dispose();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * A "host" namespace `h` with two workloads (w1 = 10.65.0.1 on cali1, w2 = 10.65.0.2 on cali2),
 * routed as Calico does (proxy ARP, /32 routes), and an iperf3 server in w2. Node names are
 * prefixed with `tag`, so two such hosts can share a Lab.
 */
async function perfHost(lab: Lab, tag: string): Promise<{ ns: string; w1: string; model: PolicyModel }> {
  const h = `${tag}h`;
  const ns = await lab.addNode(h);
  await lab.exec(h, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  const wl: [string, string, string][] = [
    [`${tag}w1`, 'cali1', '10.65.0.1'],
    [`${tag}w2`, 'cali2', '10.65.0.2'],
  ];
  for (const [node, hostIf, ip] of wl) {
    await lab.addNode(node);
    await lab.link(
      { node: h, ifname: hostIf, addrs: ['169.254.1.1/32'] },
      { node, ifname: 'eth0', addrs: [`${ip}/32`] },
    );
    await lab.exec(h, 'ip', ['route', 'add', `${ip}/32`, 'dev', hostIf]);
    await lab.exec(h, 'sysctl', [
      '-qw',
      `net.ipv4.conf.${hostIf}.proxy_arp=1`,
      `net.ipv4.neigh.${hostIf}.proxy_delay=0`,
    ]);
    await lab.exec(node, 'ip', ['route', 'add', '169.254.1.1', 'dev', 'eth0']);
    await lab.exec(node, 'ip', ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
  }
  const macOf = async (node: string) => (await lab.exec(node, 'cat', ['/sys/class/net/eth0/address'])).trim();
  // Its output is not needed (and Lab pipes stdout and stderr into one log stream).
  lab.spawn(`${tag}w2`, 'iperf3', 'sh', ['-c', 'exec iperf3 -s >/dev/null 2>&1']);
  return { ns, w1: `${tag}w1`, model: perfModel(await macOf(`${tag}w1`), await macOf(`${tag}w2`)) };
}

/**
 * The policy: 1k other endpoints with their profiles, the 10k-address set, and the two workloads
 * with a profile that admits iperf3 and ping only through set and selector matches.
 */
function perfModel(mac1: string, mac2: string): PolicyModel {
  const base = benchModel(1000, 100);
  return {
    ...base,
    endpoints: [
      ...base.endpoints,
      {
        name: 'w1',
        interface: 'cali1',
        ipv4: ['10.65.0.1'],
        ipv6: [],
        mac: mac1,
        labels: { app: 'client', tier: 'back' },
        profiles: ['perf'],
      },
      {
        name: 'w2',
        interface: 'cali2',
        ipv4: ['10.65.0.2'],
        ipv6: [],
        mac: mac2,
        labels: { app: 'server', tier: 'back' },
        profiles: ['perf'],
      },
    ],
    addressSets: [{ name: 'clients', nets: [...base.addressSets[0]!.nets.slice(0, 9999), '10.65.0.1'] }],
    profiles: [
      ...base.profiles,
      {
        name: 'perf',
        ingress: [
          {
            action: 'deny',
            protocol: 'tcp',
            source: none(),
            destination: { ...none(), ports: [{ from: 22, to: 22 }] },
          },
          {
            action: 'allow',
            protocol: 'tcp',
            source: { ...none(), addressSets: ['clients'] },
            destination: { ...none(), ports: [{ from: 5201, to: 5201 }] },
          },
          {
            action: 'allow',
            protocol: 'icmp',
            source: { ...none(), selector: "app == 'client'" },
            destination: none(),
          },
        ],
        egress: [{ action: 'allow', source: none(), destination: none() }],
      },
    ],
  };
}

async function iperfGbps(lab: Lab, node: string, seconds: number): Promise<number> {
  const r = await lab.exec(node, 'iperf3', ['-c', '10.65.0.2', '-t', String(seconds), '-J']);
  return (
    (JSON.parse(r) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received
      .bits_per_second / 1e9
  );
}

async function throughputBench(backend: Backend): Promise<void> {
  const lab = new Lab('bt');
  try {
    const host = await perfHost(lab, '');
    await new Promise((r) => setTimeout(r, 500));
    const measure = async () => {
      const gbps = await iperfGbps(lab, host.w1, iperfSeconds);
      const p = await lab.exec(host.w1, 'ping', ['-c', '200', '-i', '0.01', '-q', '10.65.0.2']);
      const rtt = /= [\d.]+\/([\d.]+)\//.exec(p);
      return { gbps, rttMs: rtt ? Number(rtt[1]) : Number.NaN };
    };
    const dp = new PolicyDataplane({
      backend,
      prefix: 'tsb',
      ipv6: false,
      log,
      run: nsRunner(host.ns),
      flushConntrack: false,
    });
    const desired = renderPolicy(host.model, opts);
    const rounds = Number(process.env.POLICY_BENCH_ROUNDS ?? 5);
    const off: { gbps: number; rttMs: number }[] = [];
    const on: { gbps: number; rttMs: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      await dp.cleanup();
      off.push(await measure());
      await dp.apply(desired, true);
      on.push(await measure());
    }
    await dp.cleanup();
    const gOff = median(off.map((x) => x.gbps));
    const gOn = median(on.map((x) => x.gbps));
    const lOff = median(off.map((x) => x.rttMs));
    const lOn = median(on.map((x) => x.rttMs));
    // On a shared machine the best round is the steadiest estimate of what the path can do.
    const bOff = Math.max(...off.map((x) => x.gbps));
    const bOn = Math.max(...on.map((x) => x.gbps));
    console.log(
      `  ${backend}: iperf3 no rules ${gOff.toFixed(2)} Gbit/s (best ${bOff.toFixed(2)}), with policy (${ruleCount(desired)} rules, 10k-member set) ${gOn.toFixed(2)} Gbit/s (best ${bOn.toFixed(2)}); ratio of medians ${(gOn / gOff).toFixed(3)}, of bests ${(bOn / bOff).toFixed(3)}; ping rtt ${(lOff * 1000).toFixed(0)} µs → ${(lOn * 1000).toFixed(0)} µs (added ${((lOn - lOff) * 1000).toFixed(0)} µs); ${rounds} alternating rounds`,
    );
    results[`throughput-${backend}`] = {
      gbpsOff: gOff,
      gbpsOn: gOn,
      ratioMedian: gOn / gOff,
      ratioBest: bOn / bOff,
      rttOffMs: lOff,
      rttOnMs: lOn,
      rounds: { off, on },
    };
  } finally {
    await lab.dispose();
  }
}

/**
 * The same comparison with both conditions measured at the same moment, so that the machine's
 * other load (which moves a single iperf3 figure by ±30 %) falls on both alike: two identical
 * hosts, one with tsbgp's chains and one with none, each running iperf3 between its two workloads
 * simultaneously. The hosts swap roles half-way (so that any difference between them cancels),
 * and each round gives one ratio, policy / no rules; the verdict is the median of the ratios.
 */
async function pairedThroughputBench(backend: Backend): Promise<void> {
  const lab = new Lab('bp');
  try {
    const hosts = [await perfHost(lab, 'a'), await perfHost(lab, 'b')];
    await new Promise((r) => setTimeout(r, 500));
    const dps = hosts.map(
      (h) =>
        new PolicyDataplane({
          backend,
          prefix: 'tsb',
          ipv6: false,
          log,
          run: nsRunner(h.ns),
          flushConntrack: false,
        }),
    );
    const desired = hosts.map((h) => renderPolicy(h.model, opts));
    const rounds = Number(process.env.POLICY_BENCH_PAIRED_ROUNDS ?? 20);
    const seconds = Number(process.env.POLICY_BENCH_PAIRED_SECONDS ?? 3);
    const ratios: number[] = [];
    const pairs: { on: number; off: number; policyHost: string }[] = [];
    for (let i = 0; i < rounds; i++) {
      // Rules on host a for the first half of the rounds, on host b for the second: two applies
      // in all, each followed by a pause so that the kernel's deferred work on the old ruleset
      // (freed after an RCU grace period) is done before anything is measured.
      const withPolicy = i < rounds / 2 ? 0 : 1;
      if (i === 0 || (withPolicy === 1 && pairs.at(-1)?.policyHost === 'a')) {
        await dps[1 - withPolicy]!.cleanup();
        await dps[withPolicy]!.apply(desired[withPolicy]!, true);
        await new Promise((r) => setTimeout(r, 2000));
      }
      const [on, off] = await Promise.all([
        iperfGbps(lab, hosts[withPolicy]!.w1, seconds),
        iperfGbps(lab, hosts[1 - withPolicy]!.w1, seconds),
      ]);
      ratios.push(on / off);
      pairs.push({ on, off, policyHost: withPolicy === 0 ? 'a' : 'b' });
    }
    for (const dp of dps) await dp.cleanup();
    const sorted = [...ratios].sort((x, y) => x - y);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    console.log(
      `  ${backend}, paired: ratio policy / no rules, median ${median(ratios).toFixed(3)} (quartiles ${q(0.25).toFixed(3)}–${q(0.75).toFixed(3)}, range ${sorted[0]!.toFixed(3)}–${sorted[sorted.length - 1]!.toFixed(3)}) over ${rounds} rounds of ${seconds} s; with policy ${median(pairs.map((p) => p.on)).toFixed(2)} Gbit/s, without ${median(pairs.map((p) => p.off)).toFixed(2)} Gbit/s (medians, two flows sharing the machine)`,
    );
    results[`paired-throughput-${backend}`] = {
      ratioMedian: median(ratios),
      ratioQuartiles: [q(0.25), q(0.75)],
      rounds: pairs,
    };
  } finally {
    await lab.dispose();
  }
}

function none() {
  return { nets: [], notNets: [], addressSets: [], notAddressSets: [], ports: [], notPorts: [] };
}

if (process.getuid?.() !== 0) {
  console.error('policy.bench: needs root (network namespaces)');
  process.exit(1);
}
await runOk('true', []);
console.log(
  `policy benchmarks (load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}, ${new Date().toISOString()})`,
);
for (const b of backends) {
  console.log(`programming time, iptables-${b}:`);
  await programmingBench(b);
}
console.log('throughput and latency:');
for (const b of (process.env.POLICY_BENCH_THROUGHPUT_BACKENDS ?? 'legacy,nft')
  .split(',')
  .filter(Boolean) as Backend[]) {
  if (process.env.POLICY_BENCH_SEQUENTIAL !== '0') await throughputBench(b);
  await pairedThroughputBench(b);
}
results.loadavgAtEnd = loadavg();
console.log(JSON.stringify(results));
