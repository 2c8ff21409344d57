import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type IpPool, poolFor, poolsUseIpip, routeForLearnedPrefix, validatePools } from './route-form.ts';

const pools: IpPool[] = validatePools([
  { cidr: '10.244.0.0/16', ipipMode: 'Always' },
  { cidr: '10.245.0.0/16', ipipMode: 'CrossSubnet' },
  { cidr: '10.246.0.0/16', ipipMode: 'Never' },
  { cidr: '10.245.128.0/17', ipipMode: 'Always' },
]);
const underlay = { ifname: 'eth0', subnets: ['192.168.1.5/24'] };
const decide = (prefix: string, nextHop: string) =>
  routeForLearnedPrefix({ prefix, nextHop, pools, underlay, tunnelMtu: 8980 });

describe('IP-in-IP route forms', () => {
  test('Always: via the peer host, dev tunl0 onlink, tunnel MTU', () => {
    const d = decide('10.244.3.0/26', '192.168.1.9');
    assert.equal(d.form, 'tunnel');
    assert.deepEqual(d.route, {
      dst: '10.244.3.0/26',
      nextHops: [{ gateway: '192.168.1.9', dev: 'tunl0', onlink: true }],
      mtu: 8980,
    });
  });

  test('CrossSubnet: direct when the peer is in the host subnet, tunnel otherwise', () => {
    const same = decide('10.245.3.0/26', '192.168.1.9');
    assert.equal(same.form, 'direct');
    assert.deepEqual(same.route, {
      dst: '10.245.3.0/26',
      nextHops: [{ gateway: '192.168.1.9', dev: 'eth0' }],
    });
    const other = decide('10.245.3.0/26', '192.168.2.9');
    assert.equal(other.form, 'tunnel');
    assert.equal(other.route.nextHops![0]!.dev, 'tunl0');
  });

  test('the most specific pool decides', () => {
    assert.equal(poolFor('10.245.200.0/26', pools)?.ipipMode, 'Always');
    assert.equal(decide('10.245.200.0/26', '192.168.1.9').form, 'tunnel');
  });

  test('Never, outside every pool, and IPv6: a plain route via the peer', () => {
    for (const [p, nh] of [
      ['10.246.1.0/26', '192.168.1.9'],
      ['172.16.0.0/24', '192.168.2.9'],
      ['2001:db8::/64', '2001:db8:ff::9'],
    ] as const) {
      const d = decide(p, nh);
      assert.equal(d.form, 'plain', p);
      assert.deepEqual(d.route.nextHops, [{ gateway: nh }]);
      assert.equal(d.route.mtu, undefined);
    }
  });

  test('pool validation names the pool', () => {
    assert.throws(() => validatePools([{ cidr: '10.0.0.0/33', ipipMode: 'Always' }]), /ipPools\[0\]: cidr/);
    assert.throws(
      () => validatePools([{ cidr: '10.0.0.0/16', ipipMode: 'Sometimes' as 'Always' }]),
      /ipipMode "Sometimes" must be/,
    );
    assert.throws(() => validatePools([{ cidr: 'fd00::/48', ipipMode: 'Always' }]), /IPv4 only/);
    assert.ok(poolsUseIpip(pools));
    assert.ok(!poolsUseIpip([{ cidr: '10.0.0.0/8', ipipMode: 'Never' }]));
  });
});
