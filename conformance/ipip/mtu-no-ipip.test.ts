// IP-in-IP on this machine's kernel, which has no ipip module: the missing module must be a clear
// error that does not stop the rest (MTU detection, MTU file, route forms, plain routes), and the
// MTU must follow link events. The tunnel itself is tested under UML (uml.test.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, run, waitFor } from '../lib/lab.ts';
import { IpipDriver } from './driver-client.ts';

async function kernelHasIpip(): Promise<boolean> {
  const ns = `tsbipchk${process.pid % 100000}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    const r = await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'show', 'tunl0']);
    return r.code === 0;
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

const skip = !canUseNamespaces() ? 'needs root for network namespaces' : false;

describe('IP-in-IP without the ipip module', { skip }, () => {
  const lab = new Lab('ip');
  let drv: IpipDriver;
  let hasIpip = false;

  before(async () => {
    hasIpip = await kernelHasIpip();
    await lab.addNode('a');
    await lab.addNode('b');
    await lab.link(
      { node: 'a', ifname: 'eth0', addrs: ['192.168.30.1/24'], mtu: 9001 },
      { node: 'b', ifname: 'eth0', addrs: ['192.168.30.2/24'], mtu: 9001 },
    );
  });

  after(async () => {
    await drv?.stop();
    await lab.dispose();
  });

  test('clear error for the missing module; MTU detected from the peering interface; file written', async (t) => {
    if (hasIpip) {
      t.skip('this kernel has ipip; the error path cannot be exercised here');
      return;
    }
    drv = new IpipDriver(lab.nsName('a'), {
      pools: [
        { cidr: '10.244.0.0/16', ipipMode: 'Always' },
        { cidr: '10.246.0.0/16', ipipMode: 'Never' },
      ],
      tunnelAddress: '10.244.1.0',
      peeringAddress: '192.168.30.1',
      mtuFilePath: join(lab.dir, 'mtu'),
      learned: [
        { prefix: '10.246.2.0/26', nextHop: '192.168.30.2' },
        { prefix: '10.244.2.0/26', nextHop: '192.168.30.2' },
      ],
    });
    await drv.ready();
    const s = await drv.status();
    assert.equal(s.tunnel.ok, false);
    assert.match(s.tunnel.error ?? '', /no IP-in-IP support.*EOPNOTSUPP.*modprobe ipip/);
    assert.ok(s.logs.some((l) => l.startsWith('error') && l.includes('modprobe ipip')));
    assert.deepEqual(
      {
        host: s.report.hostMtu,
        tunnel: s.report.tunnelMtu,
        iface: s.report.interface,
        source: s.report.source,
      },
      { host: 9001, tunnel: 8980, iface: 'eth0', source: 'peering-interface' },
    );
    assert.equal(readFileSync(join(lab.dir, 'mtu'), 'utf8'), '8980\n');
    // The plain (Never) route is in; the tunnel route is refused (no tunl0) and counted, alone.
    assert.deepEqual(s.forms, { '10.246.2.0/26': 'plain', '10.244.2.0/26': 'tunnel' });
    assert.match(await lab.exec('a', 'ip', ['route', 'show', '10.246.2.0/26']), /via 192.168.30.2 dev eth0/);
    assert.equal(s.syncer.failing, 1);
  });

  test('the MTU is re-checked on link events and the file follows', async (t) => {
    if (hasIpip) {
      t.skip('covered by the UML test');
      return;
    }
    await lab.exec('a', 'ip', ['link', 'set', 'eth0', 'mtu', '1460']);
    const s = await waitFor(
      'MTU 1440 after the underlay went to 1460',
      async () => {
        const st = await drv.status();
        return st.report.tunnelMtu === 1440 ? st : undefined;
      },
      5000,
      100,
    );
    assert.equal(s.report.hostMtu, 1460);
    assert.equal(readFileSync(join(lab.dir, 'mtu'), 'utf8'), '1440\n');
  });
});
