// Runs the IP-in-IP dataplane (and a RouteSyncer with static wanted routes, rendered through the
// pool route forms) inside a namespace, for the conformance tests on this kernel and in UML.
//   node --import tsx ipip-driver.ts '<json config>'
// Config: { pools, tunnelAddress?, peeringAddress?, peers?, tunnelMtu?, mtuFilePath?,
//           learned?: [{ prefix, nextHop }] }  (learned = what BGP would have learned)
// stdin lines: "status" -> one JSON line {report, tunnel, underlay, routes, syncer}; EOF -> stop.
import { createInterface } from 'node:readline';
import { NetlinkRoutes } from '../../src/dataplane/routes/netlink-routes.ts';
import { RouteSyncer } from '../../src/dataplane/routes/syncer.ts';
import { IpipDataplane, type IpipDataplaneOptions } from '../../src/ipip/ipip-dataplane.ts';

interface DriverConfig extends Omit<IpipDataplaneOptions, 'onMtuChange' | 'logger'> {
  learned?: Array<{ prefix: string; nextHop: string }>;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
const logs: string[] = [];
const logger = {
  debug() {},
  info: (o: object, m: string) => logs.push(`info ${m} ${JSON.stringify(o)}`),
  warn: (o: object, m: string) => logs.push(`warn ${m} ${JSON.stringify(o)}`),
  error: (o: object, m: string) => logs.push(`error ${m} ${JSON.stringify(o)}`),
};

const kernel = await NetlinkRoutes.open();
const syncer = new RouteSyncer({ kernel, resyncIntervalMs: 0, logger });
const render = () => {
  const forms: Record<string, string> = {};
  syncer.replaceAll(
    (cfg.learned ?? []).map((l) => {
      const d = ipip.routeFor(l.prefix, l.nextHop);
      forms[l.prefix] = d.form;
      return d.route;
    }),
  );
  return forms;
};
const ipip = new IpipDataplane({
  ...cfg,
  events: kernel,
  logger,
  onMtuChange: () => {
    // The route MTU of tunnel routes follows the tunnel MTU.
    render();
  },
});
await ipip.start();
let forms = render();
await syncer.start();
await syncer.flush();

const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  if (line.trim() === 'status') {
    await ipip.reconcile().catch(() => {});
    forms = render();
    await syncer.flush();
    process.stdout.write(
      `${JSON.stringify({
        report: ipip.mtuReport(),
        tunnel: ipip.tunnelStatus(),
        underlay: ipip.underlay(),
        forms,
        syncer: syncer.stats(),
        logs: logs.splice(0),
      })}\n`,
    );
  }
});
rl.on('close', async () => {
  ipip.stop();
  await syncer.stop();
  await kernel.close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
