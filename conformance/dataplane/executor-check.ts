// Run inside a namespace by executors.test.ts: programs the same routes through one executor,
// dumps them back through both executors' dump paths (netlink decode and `ip -json` parse), applies
// failing ops, and prints one JSON line with what it saw.
//   node --import tsx executor-check.ts netlink|ip-batch
import { IpBatchRoutes } from '../../src/dataplane/routes/ip-batch-routes.ts';
import type { KernelRoutes } from '../../src/dataplane/routes/kernel-routes.ts';
import { normalizeRoute, type RouteSpec } from '../../src/dataplane/routes/model.ts';
import { NetlinkRoutes } from '../../src/dataplane/routes/netlink-routes.ts';

const which = process.argv[2];
const D = { table: 254, protocol: 186 };
const specs: RouteSpec[] = [
  { dst: '10.1.0.0/24', nextHops: [{ gateway: '192.168.60.2' }] },
  { dst: '10.2.0.0/26', nextHops: [{ gateway: '172.16.0.9', dev: 'eth0', onlink: true }], mtu: 1440 },
  {
    dst: '10.3.0.0/24',
    nextHops: [
      { gateway: '192.168.60.2', weight: 3 },
      { gateway: '192.168.60.3', weight: 1 },
    ],
  },
  { dst: '10.4.0.0/26', type: 'blackhole' },
  { dst: '10.5.0.7/32', nextHops: [{ dev: 'eth0' }] },
  { dst: '10.6.0.0/24', table: 100, metric: 50, nextHops: [{ gateway: '192.168.60.2' }] },
  { dst: '2001:db8:99::/64', nextHops: [{ gateway: '2001:db8:60::2' }] },
  { dst: '2001:db8:98::/64', type: 'blackhole' },
  { dst: '2001:db8:97::/64', nextHops: [{ gateway: '2001:db8:60::2' }, { gateway: '2001:db8:60::3' }] },
];
const routes = specs.map((s) => normalizeRoute(s, D));

const ex: KernelRoutes = which === 'ip-batch' ? new IpBatchRoutes() : await NetlinkRoutes.open();
const installFailures = await ex.apply(routes.map((route) => ({ op: 'replace' as const, route })));
const nl = await NetlinkRoutes.open();
const viaNetlink = (await nl.dump()).filter((r) => r.protocol === 186);
const viaIp = (await new IpBatchRoutes().dump()).filter((r) => r.protocol === 186);
const bad = await ex.apply([
  {
    op: 'replace',
    route: normalizeRoute({ dst: '10.20.0.0/24', nextHops: [{ gateway: '203.0.113.1' }] }, D),
  },
  {
    op: 'replace',
    route: normalizeRoute({ dst: '10.21.0.0/24', nextHops: [{ gateway: '192.168.60.2' }] }, D),
  },
  { op: 'delete', route: normalizeRoute({ dst: '10.99.0.0/24', type: 'blackhole' }, D) },
]);
const removeFailures = await ex.apply(
  [...routes, normalizeRoute({ dst: '10.21.0.0/24', nextHops: [{ gateway: '192.168.60.2' }] }, D)].map(
    (route) => ({
      op: 'delete' as const,
      route,
    }),
  ),
);
const left = (await nl.dump()).filter((r) => r.protocol === 186);
process.stdout.write(
  `${JSON.stringify({
    wanted: routes,
    installFailures,
    viaNetlink,
    viaIp,
    bad: bad.map((f) => ({ index: f.index, errno: f.errno })),
    removeFailures,
    left,
  })}\n`,
);
await ex.close();
await nl.close();
process.exit(0);
