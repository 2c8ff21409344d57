// Route programming benchmark (issue #5 §5): install, then remove, N routes (default 100k) with
// tsbgp's executors and with `ip -batch` of the same routes, in the same run, in a scratch netns.
//
//   node --import tsx conformance/bench/routes.bench.ts [--routes 100000] [--rounds 3]
//
// The parent builds the namespace and re-runs this file inside it (`--child`), so the netlink
// sockets and ip processes all act on the scratch namespace. Each round runs every contender once,
// in rotating order; the median per contender is reported.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpBatchRoutes } from '../../src/dataplane/routes/ip-batch-routes.ts';
import type { KernelRoutes } from '../../src/dataplane/routes/kernel-routes.ts';
import type { KernelRoute, RouteOp } from '../../src/dataplane/routes/model.ts';
import { formatRouteArgs } from '../../src/dataplane/routes/model.ts';
import { NetlinkRoutes } from '../../src/dataplane/routes/netlink-routes.ts';
import { RouteSyncer } from '../../src/dataplane/routes/syncer.ts';
import { canUseNamespaces, Lab, run } from '../lib/lab.ts';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = arg('--routes', 100_000);
const ROUNDS = arg('--rounds', 3);

function makeRoutes(n: number): KernelRoute[] {
  const out: KernelRoute[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      dst: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`,
      table: 254,
      protocol: 186,
      metric: 0,
      type: 'unicast',
      nextHops: [{ gateway: '192.168.77.2', dev: 'bench0', weight: 1 }],
    });
  }
  return out;
}

async function countOurRoutes(): Promise<number> {
  const r = await run('ip', ['route', 'show', 'proto', '186']);
  return r.stdout.split('\n').filter(Boolean).length;
}

async function timeExecutor(ex: KernelRoutes, routes: KernelRoute[]): Promise<[number, number]> {
  const add: RouteOp[] = routes.map((route) => ({ op: 'replace', route }));
  const del: RouteOp[] = routes.map((route) => ({ op: 'delete', route }));
  let t = performance.now();
  let failures = await ex.apply(add);
  const tAdd = performance.now() - t;
  if (failures.length)
    throw new Error(`${ex.name}: ${failures.length} installs failed: ${failures[0]!.message}`);
  const installed = await countOurRoutes();
  if (installed !== routes.length) throw new Error(`${ex.name}: ${installed} routes in the kernel`);
  t = performance.now();
  failures = await ex.apply(del);
  const tDel = performance.now() - t;
  if (failures.length)
    throw new Error(`${ex.name}: ${failures.length} removals failed: ${failures[0]!.message}`);
  if ((await countOurRoutes()) !== 0) throw new Error(`${ex.name}: routes left after removal`);
  return [tAdd, tDel];
}

/** Plain `ip -force -batch FILE`, a fresh process each time, as an operator would run it. */
async function timeIpBatchFile(routes: KernelRoute[], dir: string): Promise<[number, number]> {
  const addFile = join(dir, 'add.batch');
  const delFile = join(dir, 'del.batch');
  writeFileSync(addFile, `${routes.map((r) => `route replace ${formatRouteArgs(r)}`).join('\n')}\n`);
  writeFileSync(delFile, `${routes.map((r) => `route del ${formatRouteArgs(r, false)}`).join('\n')}\n`);
  let t = performance.now();
  let r = await run('ip', ['-force', '-batch', addFile]);
  const tAdd = performance.now() - t;
  if (r.code !== 0) throw new Error(`ip -batch add: ${r.stderr.slice(0, 300)}`);
  if ((await countOurRoutes()) !== routes.length) throw new Error('ip -batch: not all routes installed');
  t = performance.now();
  r = await run('ip', ['-force', '-batch', delFile]);
  const tDel = performance.now() - t;
  if (r.code !== 0) throw new Error(`ip -batch del: ${r.stderr.slice(0, 300)}`);
  return [tAdd, tDel];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function child(dir: string): Promise<void> {
  const routes = makeRoutes(N);
  const results: Record<string, number[][]> = {
    netlink: [],
    'ip -batch (file)': [],
    IpBatchRoutes: [],
    RouteSyncer: [],
  };
  const contenders: Array<[string, () => Promise<[number, number]>]> = [
    [
      'netlink',
      async () => {
        const ex = await NetlinkRoutes.open();
        try {
          return await timeExecutor(ex, routes);
        } finally {
          await ex.close();
        }
      },
    ],
    ['ip -batch (file)', () => timeIpBatchFile(routes, dir)],
    [
      'RouteSyncer',
      async () => {
        // The whole path the daemon uses: wanted-set bookkeeping, per-key planning, batches with
        // event-loop yields, and the netlink monitor (in its child process) running throughout.
        const ex = await NetlinkRoutes.open();
        const syncer = new RouteSyncer({ kernel: ex, resyncIntervalMs: 0 });
        try {
          await syncer.start();
          let t = performance.now();
          for (const r of routes) syncer.setRoute(r);
          await syncer.flush();
          const tAdd = performance.now() - t;
          if (syncer.stats().failing || (await countOurRoutes()) !== routes.length) {
            throw new Error('RouteSyncer: not all routes installed');
          }
          t = performance.now();
          syncer.replaceAll([]);
          await syncer.flush();
          const tDel = performance.now() - t;
          if ((await countOurRoutes()) !== 0) throw new Error('RouteSyncer: routes left after removal');
          return [tAdd, tDel];
        } finally {
          await syncer.stop();
          await ex.close();
        }
      },
    ],
    [
      'IpBatchRoutes',
      async () => {
        const ex = new IpBatchRoutes();
        try {
          return await timeExecutor(ex, routes);
        } finally {
          await ex.close();
        }
      },
    ],
  ];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const [name, fn] = contenders[(k + round) % contenders.length]!;
      results[name]!.push(await fn());
    }
  }
  // Withdraw latency, dataplane part: from RouteSyncer.removeRoute() (what the daemon calls when a
  // BGP withdraw makes a prefix unreachable) to the kernel's ACK of the delete, one at a time.
  const ex = await NetlinkRoutes.open();
  const syncer = new RouteSyncer({ kernel: ex, resyncIntervalMs: 0 });
  await syncer.start();
  const few = routes.slice(0, 1000);
  for (const r of few) syncer.setRoute(r);
  await syncer.flush();
  const lat: number[] = [];
  for (const r of few) {
    const t = performance.now();
    syncer.removeRoute(r.dst);
    await syncer.flush();
    lat.push(performance.now() - t);
  }
  if ((await countOurRoutes()) !== 0) throw new Error('withdraw latency: routes left');
  await syncer.stop();
  await ex.close();
  lat.sort((a, b) => a - b);
  const withdraw = [lat[Math.floor(lat.length * 0.5)]!, lat[Math.floor(lat.length * 0.99)]!];
  process.stdout.write(`${JSON.stringify({ ...results, withdraw })}\n`);
}

async function parent(): Promise<void> {
  if (!canUseNamespaces()) {
    console.log('routes.bench: needs root (network namespaces); skipped');
    return;
  }
  const lab = new Lab('rb');
  try {
    await lab.addNode('h');
    await lab.addNode('p');
    await lab.link(
      { node: 'h', ifname: 'bench0', addrs: ['192.168.77.1/24'] },
      { node: 'p', ifname: 'eth0', addrs: ['192.168.77.2/24'] },
    );
    const self = fileURLToPath(import.meta.url);
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(
        'ip',
        [
          'netns',
          'exec',
          lab.nsName('h'),
          process.execPath,
          '--import',
          'tsx',
          self,
          '--child',
          lab.dir,
          ...args,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let s = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => {
        s += d;
      });
      c.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`bench child exited ${code}`))));
    });
    const results = JSON.parse(out.trim().split('\n').pop()!) as Record<string, Array<[number, number]>>;
    console.log(`route programming, ${N} IPv4 /32 routes via a gateway, ${ROUNDS} rounds (median ms)`);
    const rows: Array<[string, number, number]> = [];
    const withdraw = results.withdraw as unknown as [number, number];
    delete results.withdraw;
    for (const [name, runs] of Object.entries(results)) {
      const add = median(runs.map((r) => r[0]));
      const del = median(runs.map((r) => r[1]));
      rows.push([name, add, del]);
      console.log(
        `  ${name.padEnd(18)} install ${add.toFixed(0).padStart(6)}  remove ${del.toFixed(0).padStart(6)}  total ${(add + del).toFixed(0).padStart(6)}  (${((2 * N) / ((add + del) / 1000)).toFixed(0)} ops/s)`,
      );
    }
    const nl = rows.find((r) => r[0] === 'netlink')!;
    const ip = rows.find((r) => r[0] === 'ip -batch (file)')!;
    console.log(
      `  ratio netlink / ip -batch: install ${(nl[1] / ip[1]).toFixed(2)}, remove ${(nl[2] / ip[2]).toFixed(2)}, total ${((nl[1] + nl[2]) / (ip[1] + ip[2])).toFixed(2)} (target <= 0.50)`,
    );
    console.log(
      `withdraw latency (RouteSyncer.removeRoute -> kernel ACK, 1000 withdraws one at a time): p50 ${withdraw[0].toFixed(3)} ms, p99 ${withdraw[1].toFixed(3)} ms`,
    );
  } finally {
    await lab.dispose();
  }
}

if (args[0] === '--child') await child(args[1]!);
else await parent();
