// IP-in-IP end to end in a kernel that has ipip. Runs INSIDE User-Mode Linux, started by
// uml.test.ts as `uml-run -- node --import tsx --test conformance/ipip/uml-scenarios.ts`
// (not named *.test.ts, so the host suite does not run it directly).
//
// Two host pairs, each host a namespace running the IP-in-IP dataplane and a RouteSyncer with the
// routes BGP would have learned (static until the daemon is wired), each with one workload
// namespace behind a cali* veth, wired as Calico does (/32 host route, proxy ARP, default route):
//   a <-> b  underlay MTU 9001, pool Always       -> tunl0 at 8980, traffic encapsulated,
//                                                     TCP with full-size (8940-byte MSS) segments
//   c <-> d  underlay MTU 1460, pool CrossSubnet  -> tunl0 at 1440, peers in one subnet: direct
//                                                     routes, no encapsulation; a next hop
//                                                     outside the subnet gets the tunnel form
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Lab, waitFor } from '../lib/lab.ts';
import { addUmlWorkload, tcpTransferThroughTunnel, tunlCounters, umlLink } from '../lib/uml.ts';
import { IpipDriver } from './driver-client.ts';

const lab = new Lab('um');
const drivers: IpipDriver[] = [];

/** Temporary veth names start with this (unique against the e2e harness's). */
const VETH = 'vu';

async function addHostPair(
  x: string,
  y: string,
  subnet: string,
  mtu: number,
  mode: 'Always' | 'CrossSubnet',
  blocks: [string, string],
  extraLearned: Array<{ on: string; prefix: string; nextHop: string }> = [],
): Promise<[IpipDriver, IpipDriver]> {
  await lab.addNode(x);
  await lab.addNode(y);
  const ipx = `${subnet}.1`;
  const ipy = `${subnet}.2`;
  await umlLink(
    lab,
    VETH,
    { node: x, ifname: 'eth0', addrs: [`${ipx}/24`], mtu },
    { node: y, ifname: 'eth0', addrs: [`${ipy}/24`], mtu },
  );
  const pools = [{ cidr: '10.244.0.0/16', ipipMode: mode }];
  const mk = (node: string, self: string, peer: string, myBlock: string, peerBlock: string) => {
    const d = new IpipDriver(lab.nsName(node), {
      pools,
      tunnelAddress: myBlock.replace(/\/\d+$/, ''),
      peeringAddress: self,
      mtuFilePath: join(lab.dir, `${node}.mtu`),
      learned: [
        { prefix: peerBlock, nextHop: peer },
        ...extraLearned.filter((l) => l.on === node).map(({ prefix, nextHop }) => ({ prefix, nextHop })),
      ],
    });
    drivers.push(d);
    return d;
  };
  return [mk(x, ipx, ipy, blocks[0], blocks[1]), mk(y, ipy, ipx, blocks[1], blocks[0])];
}

/** A workload behind host `host`, wired as Calico does; the host forwards. */
async function addWorkload(host: string, name: string, addr: string, mtu: number): Promise<void> {
  await lab.exec(host, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await addUmlWorkload(lab, VETH, host, name, addr, mtu);
}

let ab: [IpipDriver, IpipDriver];
let cd: [IpipDriver, IpipDriver];

describe('IP-in-IP in a kernel with ipip (UML)', () => {
  before(async () => {
    ab = await addHostPair('a', 'b', '192.168.40', 9001, 'Always', ['10.244.1.0/26', '10.244.2.0/26']);
    cd = await addHostPair(
      'c',
      'd',
      '192.168.41',
      1460,
      'CrossSubnet',
      ['10.244.3.0/26', '10.244.4.0/26'],
      [{ on: 'c', prefix: '10.244.9.0/26', nextHop: '172.31.0.9' }],
    );
    // One at a time: the UML kernel has one CPU, and each driver is two Node processes.
    for (const d of [...ab, ...cd]) await d.ready();
  });

  after(async () => {
    await Promise.all(drivers.map((d) => d.stop()));
    await lab.dispose();
  });

  test('tunl0 comes up at 8980 on a 9001 underlay and at 1440 on a 1460 underlay', async () => {
    for (const [node, drv, mtu] of [
      ['a', ab[0], 8980],
      ['b', ab[1], 8980],
      ['c', cd[0], 1440],
      ['d', cd[1], 1440],
    ] as const) {
      const s = await drv.status();
      assert.equal(s.tunnel.ok, true, `${node}: ${s.tunnel.error}`);
      assert.equal(s.report.tunnelMtu, mtu, node);
      const link = await lab.exec(node, 'ip', ['-d', 'link', 'show', 'tunl0']);
      assert.match(link, new RegExp(`mtu ${mtu} .*state UNKNOWN`), `${node}: ${link}`);
      assert.match(link, /ipip/);
      const addrs = await lab.exec(node, 'ip', ['-4', 'addr', 'show', 'dev', 'tunl0']);
      assert.equal((addrs.match(/inet /g) ?? []).length, 1, `${node}: exactly one tunnel address`);
      assert.equal(readFileSync(join(lab.dir, `${node}.mtu`), 'utf8'), `${mtu}\n`);
    }
  });

  test('a stray tunnel address and a wrong MTU are put right by the reconcile', async () => {
    await lab.exec('a', 'ip', ['addr', 'add', '10.9.9.9/24', 'dev', 'tunl0']);
    await lab.exec('a', 'ip', ['link', 'set', 'tunl0', 'mtu', '1300']);
    await waitFor(
      'tunl0 reconciled',
      async () => {
        const l = await lab.exec('a', 'ip', ['-4', 'addr', 'show', 'dev', 'tunl0']);
        return !l.includes('10.9.9.9') && / mtu 8980 /.test(l) && l.includes('10.244.1.0/32');
      },
      15_000,
      200,
    );
  });

  test('Always: workload traffic crosses the tunnel, TCP with full-size segments', async () => {
    await addWorkload('a', 'wa', '10.244.1.5', 8980);
    await addWorkload('b', 'wb', '10.244.2.5', 8980);
    assert.match(
      await lab.exec('a', 'ip', ['route', 'show', '10.244.2.0/26']),
      /via 192.168.40.2 dev tunl0 proto bgp onlink mtu 8980/,
    );
    const before = await tunlCounters(lab, 'a');
    await lab.exec('wa', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', '10.244.2.5']);
    // Largest ICMP that fits the tunnel without fragmenting: 8980 - 28.
    await lab.exec('wa', 'ping', ['-c', '1', '-W', '3', '-M', 'do', '-s', '8952', '10.244.2.5']);
    const afterPing = await tunlCounters(lab, 'a');
    assert.ok(afterPing.tx - before.tx >= 4, 'pings left through tunl0');
    assert.ok(afterPing.rx - before.rx >= 4, 'replies came back through tunl0');
    // TCP: 4 MB from wa to wb. Full-size segments: both ends announce MSS = 8980 - 40, and the
    // underlay carries no IP fragments (veth offloads merge segments, so outer lengths on the wire
    // capture are not per-segment; the MSS and the absence of fragments are what prove it).
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

  test('CrossSubnet: peers in the host subnet get direct routes without encapsulation', async () => {
    const s = await cd[0].status();
    assert.deepEqual(s.forms, { '10.244.4.0/26': 'direct', '10.244.9.0/26': 'tunnel' });
    assert.equal(s.underlay.ifname, 'eth0');
    assert.match(
      await lab.exec('c', 'ip', ['route', 'show', '10.244.4.0/26']),
      /via 192.168.41.2 dev eth0 proto bgp/,
    );
    assert.match(
      await lab.exec('c', 'ip', ['route', 'show', '10.244.9.0/26']),
      /via 172.31.0.9 dev tunl0 proto bgp onlink mtu 1440/,
    );
    await addWorkload('c', 'wc', '10.244.3.5', 1440);
    await addWorkload('d', 'wd', '10.244.4.5', 1440);
    const before = await tunlCounters(lab, 'c');
    await lab.exec('wc', 'ping', ['-c', '3', '-i', '0.2', '-W', '3', '10.244.4.5']);
    const afterPing = await tunlCounters(lab, 'c');
    assert.equal(afterPing.tx - before.tx, 0, 'nothing went through the tunnel');
  });
});
