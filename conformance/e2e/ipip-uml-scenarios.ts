// IP-in-IP end to end with the daemon: `tsbgp run` on each host, in a kernel that has ipip. Runs
// INSIDE User-Mode Linux, started by ipip-uml.test.ts as
// `uml-run -- node --import tsx --test conformance/e2e/ipip-uml-scenarios.ts` (not named *.test.ts,
// so the host suite does not run it directly).
//
// Two host pairs, each host a namespace running `tsbgp run` (iBGP with its pair), with workloads
// behind cali* veths wired as Calico does (/32 host route, proxy ARP, default route), their MTU
// taken from the MTU file the daemon writes (as a CNI plugin would):
//   a <-> b  underlay 9001, one subnet. Pool 10.244/16 Always, aggregated to /26 blocks (blackhole
//            per block): tunl0 at 8980, tunnel routes with mtu 8980, TCP with full-size segments.
//            Pool 10.245/16 CrossSubnet: the peer is in the subnet, so direct routes, no tunnel.
//   c <-> d  underlay 1460, each host in its own subnet on one link. Pool 10.246/16 CrossSubnet:
//            the peer is outside the subnet, so the tunnel form; tunl0 at 1440.
// The UML workarounds (veths without the IPv6 sysctl, background tools through pipes) are in
// conformance/lib/uml.ts, shared with conformance/ipip/uml-scenarios.ts.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab, waitFor } from '../lib/lab.ts';
import { addUmlWorkload, background, tcpTransferThroughTunnel, tunlCounters, umlLink } from '../lib/uml.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
// The daemon as `npm run build` emits it (plain JavaScript), built by ipip-uml.test.ts before the
// boot. Not bin/tsbgp.js: through tsx, on UML's single CPU and hostfs, each of the four daemons
// and its netlink-monitor child took 10-13 s just to load, which left a slow machine no margin.
const TSBGP = join(ROOT, 'dist', 'cli', 'main.js');
const lab = new Lab('ui');

/** Temporary veth names start with this (unique against the ipip harness's). */
const VETH = 'vi';

interface HostSpec {
  node: string;
  address: string;
  peer: string;
  tunnelAddress: string;
  pools: string;
  aggregate: boolean;
}

const daemons: ChildProcess[] = [];
const daemonLogs = new Map<string, string>();
const daemonOutputSoFar = new Map<string, () => string>();

function startDaemon(h: HostSpec): void {
  const cfg = join(lab.dir, `${h.node}.yaml`);
  writeFileSync(
    cfg,
    `asn: 64512
routerId: ${h.address}
listen: { addresses: [${h.address}] }
neighbors:
  - { name: pair, address: ${h.peer}, asn: internal, localAddress: ${h.address}, holdTime: 30, connectRetry: 1 }
kernel: {}
pools:
${h.pools}
ipip: { tunnelAddress: ${h.tunnelAddress} }
mtu: { file: ${join(lab.dir, `${h.node}.mtu`)} }
workloads: { interfacePatterns: ["cali*"], aggregateToBlocks: ${h.aggregate} }
`,
  );
  const d = background(lab, h.node, process.execPath, [
    TSBGP,
    'run',
    '--config',
    cfg,
    '--control-socket',
    `/run/tsbgp-${h.node}.sock`,
  ]);
  daemons.push(d.child);
  daemonOutputSoFar.set(h.node, d.soFar);
  void d.output.then((o) => daemonLogs.set(h.node, o));
}

/** The workload MTU the daemon wrote for CNI. */
const mtuFile = (node: string): number => Number(readFileSync(join(lab.dir, `${node}.mtu`), 'utf8').trim());

/** A workload behind host `host`, its MTU the one the daemon wrote for CNI. */
const addWorkload = (host: string, name: string, addr: string) =>
  addUmlWorkload(lab, VETH, host, name, addr, mtuFile(host));

const route = (node: string, dst: string) => lab.exec(node, 'ip', ['route', 'show', dst]);

describe('IP-in-IP with tsbgp run (UML)', () => {
  before(async () => {
    for (const n of ['a', 'b', 'c', 'd']) {
      await lab.addNode(n);
      await lab.exec(n, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    }
    await umlLink(
      lab,
      VETH,
      { node: 'a', ifname: 'eth0', addrs: ['192.168.40.1/24'], mtu: 9001 },
      { node: 'b', ifname: 'eth0', addrs: ['192.168.40.2/24'], mtu: 9001 },
    );
    await umlLink(
      lab,
      VETH,
      { node: 'c', ifname: 'eth0', addrs: ['192.168.41.1/24'], mtu: 1460 },
      { node: 'd', ifname: 'eth0', addrs: ['192.168.42.2/24'], mtu: 1460 },
    );
    // One link, two subnets: each reaches the other's subnet on the link, no router between.
    await lab.exec('c', 'ip', ['route', 'add', '192.168.42.0/24', 'dev', 'eth0']);
    await lab.exec('d', 'ip', ['route', 'add', '192.168.41.0/24', 'dev', 'eth0']);
    const abPools =
      '  - { cidr: 10.244.0.0/16, ipipMode: Always, blockSize: 26 }\n  - { cidr: 10.245.0.0/16, ipipMode: CrossSubnet, blockSize: 26 }';
    const cdPools = '  - { cidr: 10.246.0.0/16, ipipMode: CrossSubnet }';
    const hosts: HostSpec[] = [
      {
        node: 'a',
        address: '192.168.40.1',
        peer: '192.168.40.2',
        tunnelAddress: '10.244.1.1',
        pools: abPools,
        aggregate: true,
      },
      {
        node: 'b',
        address: '192.168.40.2',
        peer: '192.168.40.1',
        tunnelAddress: '10.244.2.1',
        pools: abPools,
        aggregate: true,
      },
      {
        node: 'c',
        address: '192.168.41.1',
        peer: '192.168.42.2',
        tunnelAddress: '10.246.3.1',
        pools: cdPools,
        aggregate: false,
      },
      {
        node: 'd',
        address: '192.168.42.2',
        peer: '192.168.41.1',
        tunnelAddress: '10.246.4.1',
        pools: cdPools,
        aggregate: false,
      },
    ];
    statSync(TSBGP); // built by ipip-uml.test.ts; a clear ENOENT here otherwise
    for (const h of hosts) startDaemon(h);
    for (const h of hosts) {
      try {
        await waitFor(
          `${h.node}: the MTU file`,
          () => statSync(join(lab.dir, `${h.node}.mtu`), { throwIfNoEntry: false }),
          180_000,
          500,
        );
      } catch (e) {
        // Say what the daemon said: a crash and a slow start look the same from here.
        const said = daemonOutputSoFar.get(h.node)?.() ?? '';
        throw new Error(`${(e as Error).message}; ${h.node} printed:\n${said.slice(-3000)}`);
      }
    }
    await addWorkload('a', 'wa', '10.244.1.5');
    await addWorkload('a', 'wa2', '10.245.1.5');
    await addWorkload('b', 'wb', '10.244.2.5');
    await addWorkload('b', 'wb2', '10.245.2.5');
    await addWorkload('c', 'wc', '10.246.3.5');
    await addWorkload('d', 'wd', '10.246.4.5');
  });

  after(async () => {
    for (const d of daemons) d.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    if (process.env.TSBGP_UML_LOGS)
      for (const [n, l] of daemonLogs) console.log(`--- ${n}\n${l.slice(-3000)}`);
    await lab.dispose();
  });

  test('tunl0 comes up at 8980 on a 9001 underlay and at 1440 on a 1460 underlay; MTU file for CNI', async () => {
    for (const [node, mtu] of [
      ['a', 8980],
      ['b', 8980],
      ['c', 1440],
      ['d', 1440],
    ] as const) {
      const l = await lab.exec(node, 'ip', ['-d', 'link', 'show', 'tunl0']);
      assert.match(l, new RegExp(`mtu ${mtu} `), `${node}: ${l}`);
      assert.match(l, /ipip/);
      assert.equal(mtuFile(node), mtu, `${node}: MTU file`);
    }
    assert.match(await lab.exec('a', 'ip', ['-4', 'addr', 'show', 'dev', 'tunl0']), /inet 10\.244\.1\.1\/32/);
    // `tsbgp show mtu` asks the running daemon what it detected and why.
    const shown = await lab.exec('c', process.execPath, [
      TSBGP,
      'show',
      'mtu',
      '--control-socket',
      '/run/tsbgp-c.sock',
    ]);
    assert.match(shown, /host MTU\s+1460 \(eth0\)/, shown);
    assert.match(shown, /tunnel MTU\s+1440/, shown);
  });

  test('Always: BGP-learned blocks are installed through tunl0; our own block is blackholed', async () => {
    const viaTunnel = await waitFor(
      'a: the route to b block',
      async () => (await route('a', '10.244.2.0/26')).trim(),
      90_000,
      500,
    );
    assert.match(viaTunnel, /10\.244\.2\.0\/26 via 192\.168\.40\.2 dev tunl0 proto bgp onlink mtu 8980/);
    assert.match(await route('a', '10.244.1.0/26'), /blackhole 10\.244\.1\.0\/26 proto bgp/);
  });

  test('Always: workload traffic crosses the tunnel, TCP with full-size segments', async () => {
    const before = await tunlCounters(lab, 'a');
    await lab.exec('wa', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', '10.244.2.5']);
    // Largest ICMP that fits the tunnel without fragmenting: 8980 - 28.
    await lab.exec('wa', 'ping', ['-c', '1', '-W', '3', '-M', 'do', '-s', '8952', '10.244.2.5']);
    const afterPing = await tunlCounters(lab, 'a');
    assert.ok(afterPing.tx - before.tx >= 4, 'pings left through tunl0');
    assert.ok(afterPing.rx - before.rx >= 4, 'replies came back through tunl0');
    const tcp = await tcpTransferThroughTunnel(lab, {
      client: 'wa',
      server: 'wb',
      serverHost: 'b',
      serverAddr: '10.244.2.5',
    });
    assert.deepEqual(tcp.mss, [8940, 8940], tcp.synText);
    assert.doesNotMatch(tcp.fragOutput, /IPIP|proto 4/, 'no fragmented outer packets');
    const afterTcp = await tunlCounters(lab, 'a');
    assert.ok(afterTcp.tx - afterPing.tx > 100, 'the TCP transfer went through tunl0');
  });

  test('CrossSubnet, peer in the subnet: a direct route, nothing through the tunnel', async () => {
    const direct = await waitFor(
      'a: the route to b 10.245 block',
      async () => (await route('a', '10.245.2.0/26')).trim(),
      30_000,
      500,
    );
    assert.match(direct, /10\.245\.2\.0\/26 via 192\.168\.40\.2 dev eth0 proto bgp/);
    assert.doesNotMatch(direct, /tunl0|onlink/);
    const before = await tunlCounters(lab, 'a');
    await lab.exec('wa2', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', '10.245.2.5']);
    const after = await tunlCounters(lab, 'a');
    assert.equal(after.tx - before.tx, 0, 'nothing went through the tunnel');
  });

  test('CrossSubnet, peer outside the subnet: the tunnel form at 1440, traffic through tunl0', async () => {
    const viaTunnel = await waitFor(
      'c: the route to wd',
      async () => (await route('c', '10.246.4.5')).trim(),
      60_000,
      500,
    );
    assert.match(viaTunnel, /10\.246\.4\.5 via 192\.168\.42\.2 dev tunl0 proto bgp onlink mtu 1440/);
    await waitFor(
      'd: the route to wc',
      async () => (await route('d', '10.246.3.5')).includes('tunl0'),
      30_000,
      500,
    );
    const before = await tunlCounters(lab, 'c');
    await lab.exec('wc', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', '10.246.4.5']);
    await lab.exec('wc', 'ping', ['-c', '1', '-W', '3', '-M', 'do', '-s', '1412', '10.246.4.5']);
    const after = await tunlCounters(lab, 'c');
    assert.ok(after.tx - before.tx >= 4, 'pings left through tunl0');
    assert.ok(after.rx - before.rx >= 4, 'replies came back through tunl0');
  });
});
