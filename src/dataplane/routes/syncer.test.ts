import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeRoutes } from './fake-routes.ts';
import { type KernelRoute, normalizeRoute, type RouteSpec } from './model.ts';
import { RouteSyncer } from './syncer.ts';

const D = { table: 254, protocol: 186 };
const via = (dst: string, gw: string, extra: Partial<RouteSpec> = {}): RouteSpec => ({
  dst,
  nextHops: [{ gateway: gw }],
  ...extra,
});
const route = (s: RouteSpec) => normalizeRoute(s, D);
const settle = () => new Promise((r) => setTimeout(r, 5));

function syncer(fake: FakeRoutes, extra: Partial<ConstructorParameters<typeof RouteSyncer>[0]> = {}) {
  return new RouteSyncer({ kernel: fake, resyncIntervalMs: 0, linkResyncDelayMs: 1, ...extra });
}

describe('RouteSyncer', () => {
  test('start-up removes unwanted routes of ours only and installs the wanted', async () => {
    const staleOurs = route(via('10.9.0.0/24', '192.168.0.9'));
    const keptOurs = route(via('10.1.0.0/24', '192.168.0.1'));
    const foreign = route(via('10.8.0.0/24', '192.168.0.8', { protocol: 4 }));
    const otherTable = route(via('10.7.0.0/24', '192.168.0.7', { table: 100 }));
    const fake = new FakeRoutes([staleOurs, keptOurs, foreign, otherTable]);
    const s = syncer(fake);
    s.setRoute(via('10.1.0.0/24', '192.168.0.1'));
    s.setRoute(via('10.2.0.0/24', '192.168.0.2'));
    await s.start();
    await s.flush();
    const dsts = [...fake.routes.values()].map((r) => `${r.dst}@${r.table}/${r.protocol}`).sort();
    assert.deepEqual(dsts, [
      '10.1.0.0/24@254/186',
      '10.2.0.0/24@254/186',
      '10.7.0.0/24@100/186',
      '10.8.0.0/24@254/4',
    ]);
    // Minimal: the route already right was not rewritten.
    assert.deepEqual(
      fake.log.map((o) => `${o.op} ${o.route.dst}`),
      ['replace 10.2.0.0/24', 'delete 10.9.0.0/24'],
    );
    await s.stop();
  });

  test('coalesces changes to one prefix into one op', async () => {
    const fake = new FakeRoutes();
    const s = syncer(fake);
    await s.start();
    for (let i = 1; i <= 10; i++) s.setRoute(via('10.1.0.0/24', `192.168.0.${i}`));
    s.setRoute(via('10.2.0.0/24', '192.168.0.1'));
    s.removeRoute('10.2.0.0/24');
    await s.flush();
    assert.deepEqual(
      fake.log.map((o) => `${o.op} ${o.route.dst} ${o.route.nextHops[0]?.gateway}`),
      ['replace 10.1.0.0/24 192.168.0.10'],
    );
    await s.stop();
  });

  test('a refused route is counted and logged and does not stop the others; retried on resync', async () => {
    const fake = new FakeRoutes();
    fake.refuse.set('10.5.0.0/24', 101);
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn(_o: object, msg: string) {
        warnings.push(msg);
      },
    };
    const s = syncer(fake, { logger });
    await s.start();
    for (let i = 0; i < 10; i++) s.setRoute(via(`10.${i}.0.0/24`, '192.168.0.1'));
    await s.flush();
    assert.equal(fake.routes.size, 9);
    assert.equal(s.stats().failing, 1);
    assert.equal(s.failures()[0]!.errno, 101);
    assert.ok(warnings.some((w) => w.includes('kernel refused route') && w.includes('10.5.0.0/24')));
    await s.resync('test');
    assert.equal(s.failures()[0]!.count, 2);
    fake.refuse.clear();
    await s.resync('test');
    assert.equal(fake.routes.size, 10);
    assert.equal(s.stats().failing, 0);
    await s.stop();
  });

  test('repairs our routes deleted or changed by someone else', async () => {
    const fake = new FakeRoutes();
    const s = syncer(fake);
    s.setRoute(via('10.1.0.0/24', '192.168.0.1'));
    await s.start();
    await s.flush();
    const mine = fake.routes.get('254 10.1.0.0/24 0')!;
    fake.externalDelete(mine);
    await settle();
    await s.flush();
    assert.deepEqual(fake.routes.get('254 10.1.0.0/24 0')?.nextHops[0]?.gateway, '192.168.0.1');
    fake.externalReplace({ ...mine, nextHops: [{ gateway: '192.168.0.66', weight: 1 }] });
    await settle();
    await s.flush();
    assert.deepEqual(fake.routes.get('254 10.1.0.0/24 0')?.nextHops[0]?.gateway, '192.168.0.1');
    assert.equal(s.stats().repairs, 2);
    // A stray route of our protocol that nobody wants is removed.
    fake.externalReplace(route(via('10.99.0.0/24', '192.168.0.1')));
    await settle();
    await s.flush();
    assert.equal(fake.routes.has('254 10.99.0.0/24 0'), false);
    await s.stop();
  });

  test('a foreign route taking our key is left alone; ours returns when it goes', async () => {
    const fake = new FakeRoutes();
    const s = syncer(fake);
    s.setRoute(via('10.1.0.0/24', '192.168.0.1'));
    await s.start();
    await s.flush();
    const staticRoute: KernelRoute = route(via('10.1.0.0/24', '192.168.0.50', { protocol: 4 }));
    fake.externalReplace(staticRoute);
    await settle();
    await s.flush();
    assert.equal(fake.routes.get('254 10.1.0.0/24 0')?.protocol, 4);
    assert.equal(s.stats().conflicts, 1);
    fake.externalDelete(staticRoute);
    await settle();
    await s.flush();
    assert.equal(fake.routes.get('254 10.1.0.0/24 0')?.protocol, 186);
    await s.stop();
  });

  test('lost events (ENOBUFS) and link changes lead to a full resync', async () => {
    const fake = new FakeRoutes();
    fake.links.add('tunl0');
    const s = syncer(fake);
    s.setRoute({ dst: '10.1.0.0/26', nextHops: [{ gateway: '192.168.0.2', dev: 'tunl0', onlink: true }] });
    s.setRoute(via('10.2.0.0/24', '192.168.0.1'));
    await s.start();
    await s.flush();
    fake.silentDelete(() => true);
    fake.overrun();
    await settle();
    await s.flush();
    assert.equal(fake.routes.size, 2);
    fake.silentDelete((r) => r.nextHops[0]?.dev === 'tunl0');
    fake.linkEvent({ index: 5, name: 'tunl0', mtu: 1480, up: false, operUp: false, deleted: false });
    await settle();
    await s.flush();
    assert.equal(fake.routes.size, 2);
    assert.ok(s.stats().resyncs >= 3);
    await s.stop();
  });

  test('stop keeps routes with graceful restart and removes only ours without', async () => {
    const foreign = route(via('10.8.0.0/24', '192.168.0.8', { protocol: 4 }));
    const fake = new FakeRoutes([foreign]);
    const gr = syncer(fake, { keepRoutesOnStop: true });
    gr.setRoute(via('10.1.0.0/24', '192.168.0.1'));
    await gr.start();
    await gr.flush();
    await gr.stop();
    assert.equal(fake.routes.size, 2);
    // The next process adopts the kept route without rewriting it, then stops without GR.
    const opsBefore = fake.log.length;
    const next = syncer(fake);
    next.setRoute(via('10.1.0.0/24', '192.168.0.1'));
    await next.start();
    await next.flush();
    assert.equal(fake.log.length, opsBefore);
    await next.stop();
    assert.deepEqual([...fake.routes.values()], [foreign]);
  });

  test('programs in batches and yields to the event loop between them', async () => {
    const fake = new FakeRoutes();
    const s = syncer(fake, { batchSize: 100 });
    await s.start();
    for (let i = 0; i < 1000; i++) s.setRoute(via(`10.${i >> 8}.${i & 255}.0/24`, '192.168.0.1'));
    let ticks = 0;
    const tick = setInterval(() => ticks++, 0);
    let turns = 0;
    const count = () => {
      turns++;
      if (turns < 1000) setImmediate(count);
    };
    setImmediate(count);
    await s.flush();
    clearInterval(tick);
    assert.equal(fake.routes.size, 1000);
    assert.equal(fake.applyCalls, 10);
    assert.ok(turns >= 10, `event loop turned ${turns} times during the flush`);
    await s.stop();
  });

  test('rejects malformed routes with a clear error', () => {
    const s = syncer(new FakeRoutes());
    assert.throws(
      () => s.setRoute({ dst: '10.0.0.0/40', nextHops: [{ gateway: '1.1.1.1' }] }),
      /10.0.0.0\/40/,
    );
    assert.throws(() => new RouteSyncer({ kernel: new FakeRoutes(), protocol: 300 }), /protocol 300/);
  });
});
