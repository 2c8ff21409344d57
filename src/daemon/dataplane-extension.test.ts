import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Subject } from 'rxjs';
import type { OriginatedRoute } from '../bgp/session/types.ts';
import { diffConfig } from '../config/diff.ts';
import { parseConfig } from '../config/loader.ts';
import { FakeRoutes, type KernelRoute } from '../dataplane/routes/index.ts';
import { type HostUnderlay, type IpPool, routeForLearnedPrefix } from '../ipip/index.ts';
import { silentLogger } from '../log/logger.ts';
import {
  blocksForWorkloads,
  DataplaneExtension,
  fibRouteToSpec,
  type IpipPort,
  kernelSettings,
  WORKLOAD_SOURCE,
} from './dataplane-extension.ts';
import type { ExtensionContext, FibBatch, FibRoute } from './fib-feed.ts';

const cfg = (text: string) => parseConfig(text, 'x.yaml', { hostAddresses: () => [] });
const BASE = 'asn: 64512\nrouterId: 10.0.0.1\n';
const NEIGHBOR = 'neighbors:\n  - { address: 10.0.0.2, asn: internal }\n';
const GR_NEIGHBOR = 'neighbors:\n  - { address: 10.0.0.2, asn: internal, gracefulRestart: enabled }\n';

/** A FibFeed driven by hand, as routing would publish it. */
class TestFib {
  readonly changes = new Subject<FibBatch>();
  readonly table = new Map<string, FibRoute>();
  complete = false;
  push(upserts: FibRoute[], removals: string[] = [], initialComplete = this.complete): void {
    this.complete = initialComplete;
    for (const r of upserts) this.table.set(r.prefix, r);
    for (const p of removals) this.table.delete(p);
    this.changes.next({ upserts, removals, initialComplete });
  }
  snapshot(): FibRoute[] {
    return [...this.table.values()];
  }
  initialComplete(): boolean {
    return this.complete;
  }
}

class TestSink {
  readonly calls: Array<{ source: string; prefixes: string[] }> = [];
  setOriginated(source: string, routes: readonly OriginatedRoute[]): void {
    this.calls.push({ source, prefixes: routes.map((r) => r.prefix) });
  }
  last(): string[] | undefined {
    return this.calls.at(-1)?.prefixes;
  }
}

function ctxOf(fib: TestFib, sink = new TestSink()): ExtensionContext {
  return { fib, origination: sink };
}

const hop = (address: string, peer = address) => ({ address, peer });
const ours = (k: FakeRoutes, proto = 186): KernelRoute[] =>
  [...k.routes.values()].filter((r) => r.protocol === proto).sort((a, b) => a.dst.localeCompare(b.dst));
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

/** IP-in-IP as IpipDataplane decides it, over a fixed host interface (no netlink). */
function fakeIpip(
  pools: IpPool[],
  underlay: HostUnderlay,
  tunnelMtu: number,
): IpipPort & { started: boolean } {
  return {
    started: false,
    async start() {
      this.started = true;
    },
    stop() {},
    routeFor: (prefix, nextHop) => routeForLearnedPrefix({ prefix, nextHop, pools, underlay, tunnelMtu }),
    mtuReport: () => ({
      hostMtu: tunnelMtu + 20,
      tunnelMtu,
      workloadMtu: tunnelMtu,
      interface: underlay.ifname,
      source: 'peering-interface',
      reason: 'test',
    }),
    tunnelStatus: () => ({ ok: true, mtu: tunnelMtu }),
    underlay: () => underlay,
  };
}

describe('dataplane extension: pure parts', () => {
  test('kernel settings: table, protocol, persist implied by graceful restart', () => {
    const off = kernelSettings(cfg(`${BASE}${NEIGHBOR}`));
    assert.equal(off.installFib, false);
    assert.equal(off.persist, false);
    const on = kernelSettings(cfg(`${BASE}${GR_NEIGHBOR}kernel: { table: 100, protocol: 200 }\n`));
    assert.deepEqual(on, {
      installFib: true,
      table: 100,
      protocol: 200,
      ecmp: true,
      persist: true,
      deferPrune: true,
    });
    const explicit = kernelSettings(cfg(`${BASE}${GR_NEIGHBOR}kernel: { persist: false, ecmp: false }\n`));
    assert.equal(explicit.persist, false);
    assert.equal(explicit.deferPrune, false);
    assert.equal(explicit.table, 254);
    assert.equal(explicit.ecmp, false);
  });

  test('FIB route to kernel route: ECMP, duplicates, unusable next hops', () => {
    const r: FibRoute = {
      prefix: '10.9.0.0/24',
      nextHops: [hop('10.0.0.2'), hop('10.0.0.3'), hop('10.0.0.2'), hop('0.0.0.0', '10.0.0.4')],
    };
    assert.deepEqual(fibRouteToSpec(r, { ecmp: true }), {
      dst: '10.9.0.0/24',
      nextHops: [{ gateway: '10.0.0.2' }, { gateway: '10.0.0.3' }, { gateway: '10.0.0.4' }],
    });
    assert.deepEqual(fibRouteToSpec(r, { ecmp: false })?.nextHops, [{ gateway: '10.0.0.2' }]);
    // An IPv6 next hop for an IPv4 prefix (RFC 8950) falls back to the peer's IPv4 address.
    const v6nh = { prefix: '10.9.1.0/24', nextHops: [{ address: 'fd00::2', peer: '10.0.0.2' }] };
    assert.deepEqual(fibRouteToSpec(v6nh, { ecmp: true })?.nextHops, [{ gateway: '10.0.0.2' }]);
    assert.equal(
      fibRouteToSpec({ prefix: '10.9.2.0/24', nextHops: [hop('fd00::2')] }, { ecmp: true }),
      undefined,
    );
  });

  test('FIB route in an IPIP pool: tunnel form, CrossSubnet direct form, via the BGP next hop', () => {
    const pools: IpPool[] = [
      { cidr: '10.244.0.0/16', ipipMode: 'Always' },
      { cidr: '10.245.0.0/16', ipipMode: 'CrossSubnet' },
    ];
    const underlay = { ifname: 'eth0', subnets: ['192.168.1.5/24'] };
    const form = (p: string, host: string) =>
      routeForLearnedPrefix({ prefix: p, nextHop: host, pools, underlay, tunnelMtu: 8980 });
    // Through a reflector: the peer is the reflector, the next hop the host that has the block.
    const viaRr = { prefix: '10.244.1.0/26', nextHops: [{ address: '192.168.1.9', peer: '192.168.1.2' }] };
    assert.deepEqual(fibRouteToSpec(viaRr, { ecmp: true, form }), {
      dst: '10.244.1.0/26',
      nextHops: [{ gateway: '192.168.1.9', dev: 'tunl0', onlink: true }],
      mtu: 8980,
    });
    const near = { prefix: '10.245.1.0/26', nextHops: [hop('192.168.1.9')] };
    assert.deepEqual(fibRouteToSpec(near, { ecmp: true, form })?.nextHops, [
      { gateway: '192.168.1.9', dev: 'eth0' },
    ]);
    const far = { prefix: '10.245.1.0/26', nextHops: [hop('192.168.7.9')] };
    assert.deepEqual(fibRouteToSpec(far, { ecmp: true, form })?.nextHops, [
      { gateway: '192.168.7.9', dev: 'tunl0', onlink: true },
    ]);
  });

  test('workload blocks: the pool block holding each workload', () => {
    const c = cfg(
      `${BASE}pools:\n  - { cidr: 10.244.0.0/16, blockSize: 26 }\n  - { cidr: 10.250.0.0/16, blockSize: 28, disabled: true }\n  - { cidr: "fd00:244::/48" }\n`,
    );
    assert.deepEqual(
      blocksForWorkloads(
        [
          { prefix: '10.244.1.7/32' },
          { prefix: '10.244.1.9/32' },
          { prefix: '10.244.1.200/32' },
          { prefix: '10.250.0.1/32' },
          { prefix: '10.99.0.1/32' },
          { prefix: 'fd00:244::1:5/128' },
        ],
        c.pools,
      ),
      ['10.244.1.0/26', '10.244.1.192/26', 'fd00:244::1:0/122'],
    );
  });
});

describe('dataplane extension over an in-memory kernel', () => {
  test('best routes, ECMP and withdraws reach the kernel with our protocol and table', async () => {
    const kernel = new FakeRoutes();
    const fib = new TestFib();
    const ext = new DataplaneExtension(silentLogger(), { openKernel: async () => kernel });
    fib.push([{ prefix: '10.1.0.0/24', nextHops: [hop('10.0.0.2')] }]);
    await ext.start(cfg(`${BASE}${NEIGHBOR}kernel: { table: 100, protocol: 201 }\n`), ctxOf(fib));
    await until('the snapshot route', () => ours(kernel, 201).length === 1);
    assert.equal(ours(kernel, 201)[0]!.table, 100);
    fib.push([
      { prefix: '10.2.0.0/24', nextHops: [hop('10.0.0.2'), hop('10.0.0.3')] },
      { prefix: '10.3.0.0/24', nextHops: [hop('10.0.0.3')] },
    ]);
    await until('the ECMP route', () => ours(kernel, 201).length === 3);
    const ecmp = ours(kernel, 201).find((r) => r.dst === '10.2.0.0/24')!;
    assert.deepEqual(
      ecmp.nextHops.map((h) => h.gateway),
      ['10.0.0.2', '10.0.0.3'],
    );
    fib.push([], ['10.1.0.0/24']);
    fib.push([{ prefix: '10.3.0.0/24', nextHops: [] }]);
    await until('the withdraws', () => ours(kernel, 201).length === 1);
    assert.equal(ours(kernel, 201)[0]!.dst, '10.2.0.0/24');
    assert.equal(ext.status().fibRoutes, 1);
    await ext.stop();
    assert.equal(ours(kernel, 201).length, 0, 'no persist: our routes go on stop');
  });

  test('a route the kernel refuses is counted; the others still go in', async () => {
    const kernel = new FakeRoutes();
    kernel.refuse.set('10.5.0.0/24', 101);
    const fib = new TestFib();
    const ext = new DataplaneExtension(silentLogger(), { openKernel: async () => kernel });
    await ext.start(cfg(`${BASE}${NEIGHBOR}kernel: {}\n`), ctxOf(fib));
    fib.push([
      { prefix: '10.5.0.0/24', nextHops: [hop('10.0.0.2')] },
      { prefix: '10.6.0.0/24', nextHops: [hop('10.0.0.2')] },
      { prefix: '10.7.0.0/24', nextHops: [hop('fd00::1')] },
    ]);
    await until('the good route', () => ours(kernel).length === 1);
    await until('the failure', () => (ext.status().failures?.length ?? 0) === 1);
    assert.equal(ours(kernel)[0]!.dst, '10.6.0.0/24');
    assert.equal(ext.status().failures?.[0]?.errno, 101);
    await ext.stop();
  });

  test('graceful restart: routes kept on stop, stale ones pruned only when the RIB is complete', async () => {
    const stale: KernelRoute = {
      dst: '10.8.0.0/24',
      table: 254,
      protocol: 186,
      metric: 0,
      type: 'unicast',
      nextHops: [{ gateway: '10.0.0.2' }],
    };
    const kept: KernelRoute = { ...stale, dst: '10.9.0.0/24' };
    const kernel = new FakeRoutes([stale, kept]);
    const fib = new TestFib();
    const ext = new DataplaneExtension(silentLogger(), { openKernel: async () => kernel });
    await ext.start(cfg(`${BASE}${GR_NEIGHBOR}kernel: {}\n`), ctxOf(fib));
    fib.push([{ prefix: '10.9.0.0/24', nextHops: [hop('10.0.0.2')] }], [], false);
    await tick(30);
    assert.equal(ours(kernel).length, 2, 'nothing removed before End-of-RIB');
    assert.equal(
      kernel.log.filter((op) => op.route.dst === '10.9.0.0/24').length,
      0,
      'the route left by the previous process is adopted without a write',
    );
    fib.push([], [], true);
    await until('the stale route pruned', () => ours(kernel).length === 1);
    assert.equal(ours(kernel)[0]!.dst, '10.9.0.0/24');
    await ext.stop();
    assert.equal(ours(kernel).length, 1, 'persist: routes stay on stop');
  });

  test('IPIP pools: the tunnel form with the tunnel MTU, CrossSubnet direct when in the subnet', async () => {
    const kernel = new FakeRoutes();
    kernel.links.add('tunl0');
    const fib = new TestFib();
    const pools: IpPool[] = [
      { cidr: '10.244.0.0/16', ipipMode: 'Always' },
      { cidr: '10.245.0.0/16', ipipMode: 'CrossSubnet' },
    ];
    const ipip = fakeIpip(pools, { ifname: 'eth0', subnets: ['192.168.1.5/24'] }, 1440);
    const ext = new DataplaneExtension(silentLogger(), {
      openKernel: async () => kernel,
      createIpip: () => ipip,
    });
    const c = cfg(
      `${BASE}${NEIGHBOR}kernel: {}\npools:\n  - { cidr: 10.244.0.0/16, ipipMode: Always }\n  - { cidr: 10.245.0.0/16, ipipMode: CrossSubnet }\n`,
    );
    await ext.start(c, ctxOf(fib));
    assert.ok(ipip.started);
    fib.push([
      { prefix: '10.244.3.0/26', nextHops: [hop('192.168.1.9')] },
      { prefix: '10.245.3.0/26', nextHops: [hop('192.168.1.9')] },
      { prefix: '10.245.4.0/26', nextHops: [hop('192.168.2.9')] },
      { prefix: '10.99.0.0/24', nextHops: [hop('192.168.1.9')] },
    ]);
    await until('four routes', () => ours(kernel).length === 4);
    const by = new Map(
      ours(kernel).map((r) => [r.dst, { ...r, nextHops: r.nextHops.map(({ weight: _w, ...h }) => h) }]),
    );
    assert.deepEqual(by.get('10.244.3.0/26')!.nextHops, [
      { gateway: '192.168.1.9', dev: 'tunl0', onlink: true },
    ]);
    assert.equal(by.get('10.244.3.0/26')!.mtu, 1440);
    assert.deepEqual(by.get('10.245.3.0/26')!.nextHops, [{ gateway: '192.168.1.9', dev: 'eth0' }]);
    assert.equal(by.get('10.245.4.0/26')!.nextHops[0]!.dev, 'tunl0');
    assert.equal(by.get('10.99.0.0/24')!.nextHops[0]!.dev, undefined);
    const report = ext.mtuReport();
    assert.equal(report.tunnelMtu, 1440);
    assert.equal(report.state, 'running');
    await ext.stop();
  });

  test('workloads are originated, aggregated to blocks with a local blackhole, and withdrawn', async () => {
    const kernel = new FakeRoutes();
    kernel.links.add('cali1');
    kernel.links.add('cali2');
    const fib = new TestFib();
    const sink = new TestSink();
    const ext = new DataplaneExtension(silentLogger(), { openKernel: async () => kernel });
    const c = cfg(
      `${BASE}${NEIGHBOR}pools:\n  - { cidr: 10.244.0.0/16, blockSize: 26 }\nworkloads:\n  aggregateToBlocks: true\n`,
    );
    await ext.start(c, ctxOf(fib, sink));
    const wl = (dst: string, dev: string): KernelRoute => ({
      dst,
      table: 254,
      protocol: 4,
      metric: 0,
      type: 'unicast',
      nextHops: [{ dev }],
    });
    kernel.externalReplace(wl('10.244.1.7/32', 'cali1'));
    kernel.externalReplace(wl('10.77.0.1/32', 'cali2'));
    await until('the block originated', () => sink.last()?.length === 2);
    assert.deepEqual(sink.last(), ['10.77.0.1/32', '10.244.1.0/26']);
    assert.equal(sink.calls.at(-1)!.source, WORKLOAD_SOURCE);
    await until('the blackhole', () => ours(kernel).some((r) => r.type === 'blackhole'));
    assert.deepEqual(
      ours(kernel).map((r) => `${r.dst} ${r.type}`),
      ['10.244.1.0/26 blackhole'],
    );
    kernel.externalDelete(wl('10.244.1.7/32', 'cali1'));
    await until('the block withdrawn', () => sink.last()?.length === 1);
    assert.deepEqual(sink.last(), ['10.77.0.1/32']);
    await until('the blackhole removed', () => ours(kernel).length === 0);
    await ext.stop();
  });

  test('reload: a new protocol number moves our routes; an unrelated change leaves them alone', async () => {
    const kernel = new FakeRoutes();
    const fib = new TestFib();
    const ext = new DataplaneExtension(silentLogger(), { openKernel: async () => kernel });
    const c1 = cfg(`${BASE}${NEIGHBOR}kernel: { protocol: 201 }\n`);
    await ext.start(c1, ctxOf(fib));
    fib.push([{ prefix: '10.1.0.0/24', nextHops: [hop('10.0.0.2')] }], [], true);
    await until('the route', () => ours(kernel, 201).length === 1);
    const c2 = cfg(`${BASE}${NEIGHBOR}kernel: { protocol: 201 }\noriginate: [10.50.0.0/24]\n`);
    const writes = kernel.log.length;
    await ext.applyConfig(c2, diffConfig(c1, c2));
    await tick(20);
    assert.equal(kernel.log.length, writes, 'no kernel write for a change that is not ours');
    const c3 = cfg(`${BASE}${NEIGHBOR}kernel: { protocol: 202 }\n`);
    await ext.applyConfig(c3, diffConfig(c2, c3));
    await until('the route under the new protocol', () => ours(kernel, 202).length === 1);
    assert.equal(ours(kernel, 201).length, 0, 'nothing left under the old protocol');
    await ext.stop();
  });

  test('a kernel that cannot be opened is reported; start never throws', async () => {
    const ext = new DataplaneExtension(silentLogger(), {
      openKernel: async () => {
        throw new Error('netlink: permission denied');
      },
    });
    await ext.start(cfg(`${BASE}${NEIGHBOR}kernel: {}\n`), ctxOf(new TestFib()));
    assert.equal(ext.status().state, 'failed');
    assert.match(ext.status().error ?? '', /permission denied/);
    await ext.stop();
  });
});
