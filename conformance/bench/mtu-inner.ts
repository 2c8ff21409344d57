// The MTU lesson, measured: runs INSIDE UML (started by mtu.bench.ts). Two hosts on a 9001-byte
// underlay, pool Always, one workload each; iperf3 between the workloads over tunl0, first with
// the MTU tsbgp detects (tunnel 8980, workloads 8980), then with the old fixed 1440 (the
// pre-2020 Calico default). Prints one JSON line: {detected: {...}, fixed: {...}}.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IpipDriver } from '../ipip/driver-client.ts';
import { Lab, runOk } from '../lib/lab.ts';

const SECONDS = Number(process.env.MTU_BENCH_SECONDS ?? 5);

/** Segmentation offloads off on every veth and tunl0: per-packet cost as on a cloud NIC path. */
async function offloadsOff(lab: Lab, node: string): Promise<void> {
  const links = JSON.parse(await lab.exec(node, 'ip', ['-j', 'link', 'show'])) as Array<{ ifname: string }>;
  for (const l of links) {
    if (l.ifname === 'lo') continue;
    await lab.tryExec(node, 'ethtool', ['-K', l.ifname, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  }
}

async function scenario(
  tag: string,
  tunnelMtu: number | undefined,
  offloads: boolean,
): Promise<{ mtu: number; gbps: number; retransmits: number }> {
  const lab = new Lab(tag);
  const drivers: IpipDriver[] = [];
  try {
    let seq = 0;
    const link = async (
      a: { node: string; ifname: string; addrs: string[]; mtu: number },
      b: { node: string; ifname: string; addrs: string[]; mtu: number },
    ) => {
      const ta = `vm${tag}a${seq}`;
      const tb = `vm${tag}b${seq++}`;
      await runOk('ip', ['link', 'add', ta, 'type', 'veth', 'peer', 'name', tb]);
      for (const [t, e] of [
        [ta, a],
        [tb, b],
      ] as const) {
        await runOk('ip', ['link', 'set', t, 'netns', lab.nsName(e.node)]);
        await lab.exec(e.node, 'ip', ['link', 'set', t, 'name', e.ifname]);
        await lab.exec(e.node, 'ip', ['link', 'set', e.ifname, 'mtu', String(e.mtu)]);
        for (const addr of e.addrs) await lab.exec(e.node, 'ip', ['addr', 'add', addr, 'dev', e.ifname]);
        await lab.exec(e.node, 'ip', ['link', 'set', e.ifname, 'up']);
      }
    };
    for (const n of ['a', 'b', 'wa', 'wb']) await lab.addNode(n);
    await link(
      { node: 'a', ifname: 'eth0', addrs: ['192.168.50.1/24'], mtu: 9001 },
      { node: 'b', ifname: 'eth0', addrs: ['192.168.50.2/24'], mtu: 9001 },
    );
    const pools = [{ cidr: '10.244.0.0/16', ipipMode: 'Always' }];
    for (const [node, self, peer, mine, theirs] of [
      ['a', '192.168.50.1', '192.168.50.2', '10.244.1.0/26', '10.244.2.0/26'],
      ['b', '192.168.50.2', '192.168.50.1', '10.244.2.0/26', '10.244.1.0/26'],
    ] as const) {
      const d = new IpipDriver(lab.nsName(node), {
        pools,
        tunnelAddress: mine.replace(/\/\d+$/, ''),
        peeringAddress: self,
        mtuFilePath: join(lab.dir, `${node}.mtu`),
        ...(tunnelMtu ? { tunnelMtu } : {}),
        learned: [{ prefix: theirs, nextHop: peer }],
      });
      drivers.push(d);
      await d.ready();
    }
    // The CNI side: workload interfaces get the MTU from the file the dataplane wrote.
    const workloadMtu = Number(readFileSync(join(lab.dir, 'a.mtu'), 'utf8').trim());
    for (const [host, w, addr] of [
      ['a', 'wa', '10.244.1.5'],
      ['b', 'wb', '10.244.2.5'],
    ] as const) {
      await link(
        { node: host, ifname: `cali${w}`, addrs: [], mtu: workloadMtu },
        { node: w, ifname: 'eth0', addrs: [`${addr}/32`], mtu: workloadMtu },
      );
      await lab.exec(w, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
      await lab.exec(host, 'sysctl', ['-qw', `net.ipv4.conf.cali${w}.proxy_arp=1`, 'net.ipv4.ip_forward=1']);
      await lab.exec(host, 'ip', ['route', 'add', `${addr}/32`, 'dev', `cali${w}`, 'scope', 'link']);
    }
    if (!offloads) for (const n of ['a', 'b', 'wa', 'wb']) await offloadsOff(lab, n);
    const server = spawn('ip', ['netns', 'exec', lab.nsName('wb'), 'iperf3', '-s', '-1'], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 1500));
    await lab.exec('wa', 'ping', ['-c', '1', '-W', '5', '10.244.2.5']);
    const out = await lab.exec('wa', 'iperf3', ['-c', '10.244.2.5', '-t', String(SECONDS), '-J']);
    server.kill();
    const j = JSON.parse(out) as {
      end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } };
    };
    return {
      mtu: workloadMtu,
      gbps: j.end.sum_received.bits_per_second / 1e9,
      retransmits: j.end.sum_sent.retransmits ?? 0,
    };
  } finally {
    await Promise.all(drivers.map((d) => d.stop()));
    await lab.dispose();
  }
}

const modes = (process.env.MTU_BENCH_OFFLOADS ?? 'off,on').split(',');
const results: Record<string, unknown> = { seconds: SECONDS };
for (const m of modes) {
  const on = m === 'on';
  results[`offloads-${m}`] = {
    detected: await scenario(on ? 'dn' : 'df', undefined, on),
    fixed: await scenario(on ? 'fn' : 'ff', 1440, on),
  };
}
process.stdout.write(`MTU-BENCH ${JSON.stringify(results)}\n`);
