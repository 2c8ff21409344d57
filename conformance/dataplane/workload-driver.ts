// Runs a WorkloadRouteWatcher (and, with blocks, a RouteSyncer for the block blackholes) inside a
// namespace; prints every advertisement as a JSON line with a wall-clock timestamp.
//   node --import tsx workload-driver.ts '{"interfacePatterns":["cali*"],"blocks":[]}'
import { NetlinkRoutes } from '../../src/dataplane/routes/netlink-routes.ts';
import { RouteSyncer } from '../../src/dataplane/routes/syncer.ts';
import { WorkloadRouteWatcher } from '../../src/dataplane/workloads/workload-routes.ts';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { interfacePatterns: string[]; blocks?: string[] };
const kernel = await NetlinkRoutes.open();
const watcher = new WorkloadRouteWatcher({
  kernel,
  interfacePatterns: cfg.interfacePatterns,
  blocks: cfg.blocks ?? [],
});
const syncer = new RouteSyncer({ kernel, resyncIntervalMs: 0 });
syncer.replaceAll(watcher.blackholeRoutes());
await syncer.start();
await syncer.flush();
await watcher.start();
// Subscribed after the start-up scan, so the first line is the kernel's state at start.
watcher.advertisement$.subscribe((a) => {
  process.stdout.write(`${JSON.stringify({ at: Date.now(), ...a })}\n`);
});
process.stdin.resume();
process.stdin.on('end', async () => {
  watcher.stop();
  await syncer.stop();
  await kernel.close();
  process.exit(0);
});
