import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeRoutes } from '../routes/fake-routes.ts';
import { normalizeRoute, type RouteSpec } from '../routes/model.ts';
import {
  computeWorkloadAdvertisement,
  interfacePatternRegExp,
  isWorkloadRoute,
  type WorkloadAdvertisement,
  WorkloadRouteWatcher,
} from './workload-routes.ts';

const r = (s: RouteSpec) => normalizeRoute(s, { table: 254, protocol: 3 });

describe('workload routes', () => {
  test('interface patterns', () => {
    const re = interfacePatternRegExp(['cali*', 'tap*']);
    assert.ok(re.test('cali12ab34cd'));
    assert.ok(re.test('tap0'));
    assert.ok(!re.test('eth0'));
    assert.ok(!re.test('xcali1'));
    assert.ok(!interfacePatternRegExp([]).test('cali1'));
    assert.throws(() => interfacePatternRegExp(['cali(']), /cali\(/);
  });

  test('which routes are workload routes', () => {
    const re = interfacePatternRegExp(['cali*']);
    assert.ok(isWorkloadRoute(r({ dst: '10.65.0.5/32', nextHops: [{ dev: 'cali1' }] }), re, 254, 186));
    assert.ok(!isWorkloadRoute(r({ dst: '10.65.0.5/32', nextHops: [{ dev: 'eth0' }] }), re, 254, 186));
    assert.ok(
      !isWorkloadRoute(r({ dst: '10.65.0.5/32', protocol: 186, nextHops: [{ dev: 'cali1' }] }), re, 254, 186),
      'our own routes are not workloads',
    );
    assert.ok(
      !isWorkloadRoute(r({ dst: '10.65.0.5/32', table: 7, nextHops: [{ dev: 'cali1' }] }), re, 254, 186),
    );
    assert.ok(!isWorkloadRoute(r({ dst: '10.65.0.0/26', type: 'blackhole' }), re, 254, 186));
  });

  test('advertisement as is, and aggregated into blocks with blackholes', () => {
    const w = [
      { prefix: '10.65.0.5/32', ifname: 'cali1' },
      { prefix: '10.65.0.70/32', ifname: 'cali2' },
      { prefix: '10.99.0.1/32', ifname: 'cali3' },
      { prefix: 'fd00:65::5/128', ifname: 'cali4' },
    ];
    assert.deepEqual(computeWorkloadAdvertisement(w, []).prefixes, [
      '10.65.0.5/32',
      '10.65.0.70/32',
      '10.99.0.1/32',
      'fd00:65::5/128',
    ]);
    const agg = computeWorkloadAdvertisement(w, [
      '10.65.0.0/26',
      '10.65.0.64/26',
      'fd00:65::/122',
      '10.66.0.0/26',
    ]);
    assert.deepEqual(agg.prefixes, [
      '10.65.0.0/26',
      '10.65.0.64/26',
      '10.66.0.0/26',
      '10.99.0.1/32',
      'fd00:65::/122',
    ]);
    assert.deepEqual(agg.blackholes, ['10.65.0.0/26', '10.65.0.64/26', '10.66.0.0/26', 'fd00:65::/122']);
    assert.throws(() => computeWorkloadAdvertisement([], ['10.0.0.0/40']), /10.0.0.0\/40/);
  });

  test('watcher follows kernel events and emits within the debounce', async () => {
    const fake = new FakeRoutes();
    fake.links.add('cali1');
    fake.externalReplace(r({ dst: '10.65.0.5/32', nextHops: [{ dev: 'cali1' }] }));
    const w = new WorkloadRouteWatcher({ kernel: fake, interfacePatterns: ['cali*'], debounceMs: 10 });
    const seen: WorkloadAdvertisement[] = [];
    const sub = w.advertisement$.subscribe((a) => seen.push(a));
    await w.start();
    assert.deepEqual(w.value.prefixes, ['10.65.0.5/32']);
    fake.externalReplace(r({ dst: '10.65.0.6/32', nextHops: [{ dev: 'cali1' }] }));
    fake.externalReplace(r({ dst: '10.1.0.0/24', nextHops: [{ dev: 'eth0' }] }));
    await new Promise((res) => setTimeout(res, 40));
    assert.deepEqual(w.value.prefixes, ['10.65.0.5/32', '10.65.0.6/32']);
    fake.externalDelete(r({ dst: '10.65.0.5/32', nextHops: [{ dev: 'cali1' }] }));
    await new Promise((res) => setTimeout(res, 40));
    assert.deepEqual(w.value.prefixes, ['10.65.0.6/32']);
    // Interface removed: its routes vanish silently; the link event triggers a rescan.
    fake.silentDelete((x) => x.nextHops[0]?.dev === 'cali1');
    fake.linkEvent({ index: 9, name: 'cali1', mtu: 1500, up: false, operUp: false, deleted: true });
    await new Promise((res) => setTimeout(res, 40));
    assert.deepEqual(w.value.prefixes, []);
    assert.deepEqual(
      seen.map((a) => a.prefixes.join(',')),
      ['', '10.65.0.5/32', '10.65.0.5/32,10.65.0.6/32', '10.65.0.6/32', ''],
    );
    sub.unsubscribe();
    w.stop();
  });
});
