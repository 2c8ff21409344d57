// Workload prefixes from the real kernel: veth "workloads" named cali*, host routes added the way a
// CNI plugin does; the advertisement must change within 1 s of each change (issue #5 §2).
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, waitFor } from '../lib/lab.ts';
import { spawnScriptInNamespace } from '../lib/ns-script.ts';

interface Adv {
  at: number;
  prefixes: string[];
  workloads: Array<{ prefix: string; ifname: string }>;
  blackholes: string[];
}

class WorkloadDriver {
  readonly seen: Adv[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  constructor(ns: string, cfg: object) {
    this.child = spawnScriptInNamespace(ns, new URL('./workload-driver.ts', import.meta.url), cfg);
    this.child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    createInterface({ input: this.child.stdout }).on('line', (l) => this.seen.push(JSON.parse(l) as Adv));
  }
  last(): Adv | undefined {
    return this.seen[this.seen.length - 1];
  }
  /** Waits for an advertisement matching `pred` made after `since`; returns the delay in ms. */
  async until(what: string, since: number, pred: (a: Adv) => boolean): Promise<number> {
    const a = await waitFor(what, () => this.seen.find((x) => x.at >= since && pred(x)), 3000, 10);
    return a.at - since;
  }
  stop(): void {
    this.child.stdin.end();
  }
}

const skip = canUseNamespaces() ? false : 'needs root for network namespaces';

describe('workload routes from the kernel', { skip }, () => {
  const lab = new Lab('wl');
  const drivers: WorkloadDriver[] = [];

  const addWorkload = async (name: string, hostIf: string, addr: string) => {
    await lab.addNode(name);
    await lab.link(
      { node: 'h', ifname: hostIf, addrs: [] },
      { node: name, ifname: 'eth0', addrs: [`${addr}/32`] },
    );
    // As Calico wires a workload: a default route out of its only interface, proxy ARP on the host.
    await lab.exec(name, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
    await lab.exec('h', 'sysctl', ['-qw', `net.ipv4.conf.${hostIf}.proxy_arp=1`]);
  };

  before(async () => {
    await lab.addNode('h');
    await lab.addNode('up');
    await lab.link(
      { node: 'h', ifname: 'eth0', addrs: ['192.168.20.1/24'] },
      { node: 'up', ifname: 'eth0', addrs: ['192.168.20.2/24'] },
    );
    await addWorkload('w1', 'cali1a2b', '10.65.0.5');
    await addWorkload('w2', 'cali3c4d', '10.65.0.6');
    await addWorkload('w3', 'tap0', '10.65.1.9');
  });

  after(async () => {
    for (const d of drivers) d.stop();
    await lab.dispose();
  });

  test('each workload route appears and disappears within 1 s; other interfaces are ignored', async () => {
    await lab.exec('h', 'ip', [
      'route',
      'add',
      '10.65.0.5/32',
      'dev',
      'cali1a2b',
      'proto',
      'boot',
      'scope',
      'link',
    ]);
    const d = new WorkloadDriver(lab.nsName('h'), { interfacePatterns: ['cali*'] });
    drivers.push(d);
    await waitFor('first advertisement', () => d.last(), 10_000, 20);
    assert.deepEqual(d.last()!.prefixes, ['10.65.0.5/32'], 'existing workload routes found at start');

    let t = Date.now();
    await lab.exec('h', 'ip', ['route', 'add', '10.65.0.6/32', 'dev', 'cali3c4d', 'scope', 'link']);
    const addMs = await d.until('10.65.0.6 advertised', t, (a) => a.prefixes.includes('10.65.0.6/32'));
    // Routes on non-matching interfaces are not workloads.
    await lab.exec('h', 'ip', ['route', 'add', '10.65.1.9/32', 'dev', 'tap0', 'scope', 'link']);
    await lab.exec('h', 'ip', ['route', 'add', '10.77.0.0/24', 'via', '192.168.20.2']);
    t = Date.now();
    await lab.exec('h', 'ip', ['route', 'del', '10.65.0.5/32', 'dev', 'cali1a2b']);
    const delMs = await d.until('10.65.0.5 withdrawn', t, (a) => !a.prefixes.includes('10.65.0.5/32'));
    assert.deepEqual(d.last()!.prefixes, ['10.65.0.6/32']);
    // The workload goes away with its interface (IPv4 routes vanish without a notification).
    t = Date.now();
    await lab.exec('h', 'ip', ['link', 'del', 'cali3c4d']);
    const linkMs = await d.until('10.65.0.6 withdrawn with its veth', t, (a) => a.prefixes.length === 0);
    console.log(`  advertisement delay: add ${addMs} ms, route delete ${delMs} ms, veth delete ${linkMs} ms`);
    for (const ms of [addMs, delMs, linkMs]) assert.ok(ms < 1000, `${ms} ms`);
    d.stop();
  });

  test('aggregation into blocks installs a blackhole per block and originates the block', async () => {
    await lab.exec('h', 'ip', ['route', 'add', '10.65.1.10/32', 'dev', 'tap0', 'scope', 'link']);
    const d = new WorkloadDriver(lab.nsName('h'), {
      interfacePatterns: ['cali*', 'tap*'],
      blocks: ['10.65.1.0/26'],
    });
    drivers.push(d);
    await waitFor('first advertisement', () => d.last(), 10_000, 20);
    assert.deepEqual(d.last()!.prefixes, ['10.65.1.0/26']);
    assert.deepEqual(
      d.last()!.workloads.map((w) => w.prefix),
      ['10.65.1.9/32', '10.65.1.10/32'],
    );
    assert.match(await lab.exec('h', 'ip', ['route', 'show', 'proto', '186']), /blackhole 10.65.1.0\/26/);
    // The workload is reachable (its /32 beats the blackhole); an unused address in the block is
    // dropped here rather than sent up the default route.
    await lab.exec('h', 'ping', ['-c1', '-W2', '10.65.1.9']);
    await lab.exec('h', 'ip', ['route', 'replace', 'default', 'via', '192.168.20.2']);
    const r = await lab.tryExec('h', 'ip', ['route', 'get', '10.65.1.33']);
    // The kernel answers a lookup that hits a blackhole with EINVAL; without it, default would match.
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /Invalid argument/);
    assert.match(await lab.exec('h', 'ip', ['route', 'get', '10.65.2.33']), /via 192.168.20.2/);
    d.stop();
    await waitFor(
      'blackhole removed on stop',
      async () => !/blackhole/.test(await lab.exec('h', 'ip', ['route', 'show', 'proto', '186'])),
      5000,
    );
  });
});
