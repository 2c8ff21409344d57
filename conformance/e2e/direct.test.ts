// Direct routing end to end (issue #5 §4), on this machine's kernel: two "hosts" (namespaces),
// each running `tsbgp run`, peer over iBGP. Each host has "workloads" (namespaces joined by a
// cali* veth, a /32 route on the host side, wired as Calico does: proxy ARP on the host side, a
// default route out of eth0 in the workload). The daemons pick up the workload routes, advertise them, and install the
// peer's in the kernel with proto 186; ICMP and TCP cross between workloads; deleting a workload's
// veth withdraws its route on the other host. Then graceful restart: tsbgp on one host restarts
// while a ping runs between workloads, and the kernel routes must stay in place throughout.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, type SpawnedProcess, waitFor } from '../lib/lab.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSBGP = join(ROOT, 'bin', 'tsbgp.js');

interface Host {
  node: string;
  address: string;
  peer: string;
  config: string;
  socket: string;
  daemon?: SpawnedProcess;
}

function hostConfig(h: Host): string {
  return `asn: 64512
routerId: ${h.address}
listen:
  addresses: [${h.address}]
neighbors:
  - name: peer
    address: ${h.peer}
    asn: internal
    localAddress: ${h.address}
    holdTime: 9
    connectRetry: 1
    gracefulRestart: enabled
kernel: {}
workloads:
  interfacePatterns: ["cali*"]
`;
}

describe('direct routing between two tsbgp hosts', { skip: !canUseNamespaces() && 'needs root' }, () => {
  const lab = new Lab('e2d');
  const a: Host = {
    node: 'ha',
    address: '10.0.12.1',
    peer: '10.0.12.2',
    config: join(lab.dir, 'a.yaml'),
    socket: join(lab.dir, 'a.sock'),
  };
  const b: Host = {
    node: 'hb',
    address: '10.0.12.2',
    peer: '10.0.12.1',
    config: join(lab.dir, 'b.yaml'),
    socket: join(lab.dir, 'b.sock'),
  };

  const startDaemon = (h: Host, tag: string): SpawnedProcess => {
    h.daemon = lab.spawn(h.node, `tsbgp-${tag}`, process.execPath, [
      TSBGP,
      'run',
      '--config',
      h.config,
      '--control-socket',
      h.socket,
      '--log-level',
      'debug',
    ]);
    return h.daemon;
  };

  /** A workload: its namespace, the cali* veth on the host, the /32 route to it. */
  const addWorkload = async (host: Host, node: string, ifname: string, addr: string): Promise<void> => {
    await lab.addNode(node);
    await lab.link({ node: host.node, ifname, addrs: [] }, { node, ifname: 'eth0', addrs: [`${addr}/32`] });
    // Every destination is on the link; the host answers ARP for what it routes (proxy ARP).
    await lab.exec(node, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
    await lab.exec(host.node, 'sysctl', ['-qw', `net.ipv4.conf.${ifname}.proxy_arp=1`]);
    await lab.exec(host.node, 'ip', ['route', 'add', `${addr}/32`, 'dev', ifname]);
  };

  /** Our routes (proto 186) in a host's main table, as `ip route` prints them. */
  const bgpRoutes = async (h: Host): Promise<string[]> =>
    (await lab.exec(h.node, 'ip', ['-4', 'route', 'show', 'proto', '186']))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  const hasRoute = async (h: Host, prefix: string) =>
    (await bgpRoutes(h)).find((l) => l.startsWith(`${prefix} `));

  before(async () => {
    await lab.addNode(a.node);
    await lab.addNode(b.node);
    await lab.link(
      { node: a.node, ifname: 'eth0', addrs: [`${a.address}/24`] },
      { node: b.node, ifname: 'eth0', addrs: [`${b.address}/24`] },
    );
    for (const h of [a, b]) {
      await lab.exec(h.node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      writeFileSync(h.config, hostConfig(h));
    }
    await addWorkload(a, 'wa1', 'caliwa1', '10.244.1.2');
    await addWorkload(a, 'wa2', 'caliwa2', '10.244.1.3');
    await addWorkload(b, 'wb1', 'caliwb1', '10.244.2.2');
    startDaemon(a, '1');
    startDaemon(b, '1');
  });

  after(async () => {
    await lab.dispose();
  });

  test('workload routes are advertised and installed on the other host with proto 186', async () => {
    const atB = await waitFor('B has the route to A workload 1', () => hasRoute(b, '10.244.1.2'), 40_000);
    assert.match(atB, /^10\.244\.1\.2 via 10\.0\.12\.1 dev eth0/);
    await waitFor('B has the route to A workload 2', () => hasRoute(b, '10.244.1.3'));
    const atA = await waitFor('A has the route to B workload', () => hasRoute(a, '10.244.2.2'));
    assert.match(atA, /^10\.244\.2\.2 via 10\.0\.12\.2 dev eth0/);
    // Nothing else is ours: each host installs only the other's workloads.
    assert.deepEqual(
      (await bgpRoutes(a)).map((l) => l.split(' ')[0]),
      ['10.244.2.2'],
    );
    assert.deepEqual((await bgpRoutes(b)).map((l) => l.split(' ')[0]).sort(), ['10.244.1.2', '10.244.1.3']);
  });

  test('ICMP and TCP cross between workloads', async () => {
    const ping = await lab.exec('wa1', 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.244.2.2']);
    assert.match(ping, /3 packets transmitted, 3 received/);
    await lab.exec('wb1', 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.244.1.3']);
    // TCP: 1 MB from a workload on A to one on B, checked byte for byte.
    const received = join(lab.dir, 'received.bin');
    const server = lab.spawn('wb1', 'sink', 'socat', [
      '-u',
      'TCP-LISTEN:5001,reuseaddr',
      `OPEN:${received},creat,trunc`,
    ]);
    await waitFor('the TCP server listening', async () =>
      (await lab.exec('wb1', 'ss', ['-Hltn', 'sport = :5001'])).includes('5001'),
    );
    let payload = '';
    for (let i = 0; i < 1 << 20; i++) payload += String.fromCharCode(33 + ((i * 7919) % 94));
    await lab.exec('wa2', 'socat', ['-u', 'STDIN', 'TCP:10.244.2.2:5001'], payload);
    assert.equal(await server.exited, 0);
    assert.ok(readFileSync(received, 'utf8') === payload, 'the 1 MB arrived intact');
  });

  test('deleting a workload withdraws its route on the other host within a few seconds', async () => {
    await waitFor('B has the route to A workload 2', () => hasRoute(b, '10.244.1.3'));
    const t0 = Date.now();
    await lab.exec(a.node, 'ip', ['link', 'del', 'caliwa2']);
    await waitFor(
      'B drops the route to A workload 2',
      async () => !(await hasRoute(b, '10.244.1.3')),
      5_000,
      50,
    );
    const ms = Date.now() - t0;
    process.stdout.write(`# workload deleted on A -> route gone on B: ${ms} ms\n`);
    assert.ok(await hasRoute(b, '10.244.1.2'), 'the other workload route stays');
  });

  /** What the restart of tsbgp on A did; the two tests below look at A's side and B's side. */
  let restart: { sent: number; lost: number; deletedOnA: string[]; deletedOnB: string[] } | undefined;

  test('graceful restart of tsbgp on A: A keeps its kernel routes throughout', async () => {
    await waitFor('B has the route to A workload 1', () => hasRoute(b, '10.244.1.2'));
    await waitFor('A has the route to B workload', () => hasRoute(a, '10.244.2.2'));
    // Every route change on both hosts while tsbgp on A restarts.
    const monA = lab.spawn(a.node, 'mon', 'ip', ['-4', 'monitor', 'route']);
    const monB = lab.spawn(b.node, 'mon', 'ip', ['-4', 'monitor', 'route']);
    await new Promise((r) => setTimeout(r, 300));
    // 10 ms apart for 10 s: covers the restart and the re-established session.
    const pinging = lab.tryExec('wa1', 'ping', ['-c', '1000', '-i', '0.01', '-W', '1', '10.244.2.2']);
    await new Promise((r) => setTimeout(r, 1000));
    const old = a.daemon!;
    old.child.kill('SIGTERM');
    assert.equal(await old.exited, 0, 'the daemon stops cleanly');
    assert.ok(await hasRoute(a, '10.244.2.2'), 'A keeps its route while tsbgp is down (persist)');
    startDaemon(a, '2');
    await waitFor(
      'the session back',
      async () => readFileSync(a.daemon!.logPath, 'utf8').includes('"to":"Established"'),
      30_000,
    );
    // The new process adopts the route it finds, and prunes only after End-of-RIB.
    await waitFor('the new process has its RIB', async () =>
      readFileSync(a.daemon!.logPath, 'utf8').includes('initial RIB complete'),
    );
    const result = await pinging;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(result.stdout);
    assert.ok(m, result.stdout + result.stderr);
    await new Promise((r) => setTimeout(r, 500));
    monA.child.kill('SIGTERM');
    monB.child.kill('SIGTERM');
    await Promise.all([monA.exited, monB.exited]);
    const deletions = (path: string, prefix: string) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('Deleted') && l.includes(`${prefix} `));
    restart = {
      sent: Number(m[1]),
      lost: Number(m[1]) - Number(m[2]),
      deletedOnA: deletions(monA.logPath, '10.244.2.2'),
      deletedOnB: deletions(monB.logPath, '10.244.1.2'),
    };
    process.stdout.write(
      `# ping wa1 -> wb1 through the restart: ${restart.sent} sent, ${restart.lost} lost; ` +
        `route deletions on A: ${restart.deletedOnA.length}, on B: ${restart.deletedOnB.length}\n`,
    );
    assert.deepEqual(restart.deletedOnA, [], 'A never deleted its route to B');
    assert.ok(await hasRoute(a, '10.244.2.2'));
    assert.ok(await hasRoute(b, '10.244.1.2'), 'B has the route to A again');
  });

  // B keeping A's routes is the helper side (RFC 4724 §4.2): A's OPEN lists its families with the
  // Forwarding State bit, and the N bit (RFC 8538) makes the Cease A sends on SIGTERM a graceful
  // restart rather than a flush.
  test('graceful restart of tsbgp on A: B keeps its route to A and the ping loses nothing', () => {
    assert.ok(restart, 'the restart ran');
    assert.deepEqual(restart.deletedOnB, [], 'B never deleted its route to A');
    assert.ok(restart.lost <= 2, `at most 2 of ${restart.sent} probes lost, got ${restart.lost}`);
  });
});
