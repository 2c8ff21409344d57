// Runs a RouteSyncer inside a network namespace for the conformance tests, driven by JSON lines on
// stdin; answers each command with one JSON line on stdout. Started by `ip netns exec NS node
// --import tsx syncer-driver.ts`. It also measures event-loop lag (a 5 ms interval timer), the
// figure that says whether kernel programming would delay a BGP keepalive.
import { createInterface } from 'node:readline';
import { IpBatchRoutes } from '../../src/dataplane/routes/ip-batch-routes.ts';
import type { KernelRoutes } from '../../src/dataplane/routes/kernel-routes.ts';
import type { RouteSpec } from '../../src/dataplane/routes/model.ts';
import { NetlinkRoutes } from '../../src/dataplane/routes/netlink-routes.ts';
import { RouteSyncer, type RouteSyncerOptions } from '../../src/dataplane/routes/syncer.ts';

interface Command {
  id: number;
  cmd: 'start' | 'set' | 'setMany' | 'remove' | 'flush' | 'stats' | 'stop' | 'lag' | 'resync' | 'ribReady';
  opts?: Partial<RouteSyncerOptions> & { executor?: 'netlink' | 'ip-batch'; monitorRecvBufferSize?: number };
  route?: RouteSpec;
  routes?: RouteSpec[];
  dst?: string;
}

let syncer: RouteSyncer | undefined;
let kernel: KernelRoutes | undefined;
const logs: Array<{ level: string; msg: string; obj: object }> = [];
const logger = {
  debug: (obj: object, msg: string) => logs.push({ level: 'debug', msg, obj }),
  info: (obj: object, msg: string) => logs.push({ level: 'info', msg, obj }),
  warn: (obj: object, msg: string) => logs.push({ level: 'warn', msg, obj }),
  error: (obj: object, msg: string) => logs.push({ level: 'error', msg, obj }),
};

let maxLag = 0;
let last = performance.now();
const lagTimer = setInterval(() => {
  const now = performance.now();
  maxLag = Math.max(maxLag, now - last - 5);
  last = now;
}, 5);

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'start': {
      const { executor, monitorRecvBufferSize, ...rest } = c.opts ?? {};
      kernel =
        executor === 'ip-batch'
          ? new IpBatchRoutes()
          : await NetlinkRoutes.open(monitorRecvBufferSize ? { monitorRecvBufferSize } : {});
      syncer = new RouteSyncer({ ...rest, kernel, logger });
      await syncer.start();
      await syncer.flush();
      return syncer.stats();
    }
    case 'set':
      syncer!.setRoute(c.route!);
      return null;
    case 'setMany':
      for (const r of c.routes!) syncer!.setRoute(r);
      return null;
    case 'remove':
      syncer!.removeRoute(c.dst!);
      return null;
    case 'flush':
      await syncer!.flush();
      return syncer!.stats();
    case 'ribReady':
      syncer!.ribReady();
      await syncer!.flush();
      return syncer!.stats();
    case 'resync':
      await syncer!.resync('test');
      return syncer!.stats();
    case 'stats':
      return { stats: syncer!.stats(), failures: syncer!.failures(), logs: logs.splice(0) };
    case 'lag': {
      const v = maxLag;
      // Restart the measurement: a stall before this command (e.g. parsing a big setMany) must
      // not be charged to whatever comes next.
      maxLag = 0;
      last = performance.now();
      return v;
    }
    case 'stop':
      await syncer!.stop();
      await kernel!.close();
      clearInterval(lagTimer);
      setTimeout(() => process.exit(0), 10);
      return null;
  }
}

const rl = createInterface({ input: process.stdin });
let chain: Promise<unknown> = Promise.resolve();
rl.on('line', (line) => {
  const c = JSON.parse(line) as Command;
  // Commands run one after another, in the order sent.
  chain = chain
    .then(() => handle(c))
    .then(
      (result) => process.stdout.write(`${JSON.stringify({ id: c.id, result })}\n`),
      (e: Error) => process.stdout.write(`${JSON.stringify({ id: c.id, error: e.stack ?? e.message })}\n`),
    );
});
