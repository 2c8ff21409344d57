// `tsbgp show neighbors|neighbor ADDR|routes|route PREFIX [--detail]|mtu|status`: read-only queries over the control socket.
import type { CommandModule } from 'yargs';
import { formatRouteDetail, type RouteDetail } from '../../bgp/rib/show.ts';
import { callAndPrint, withClientOptions } from '../../control/cli-support.ts';
import { controlRequest } from '../../control/client.ts';
import {
  formatMemory,
  formatNeighborDetail,
  formatNeighbors,
  formatRoutes,
  formatStatus,
} from '../../control/format.ts';
import type { DaemonMemory, DaemonState } from '../../daemon/daemon.ts';
import type { PeerStatus, RouteView } from '../../daemon/speaker-port.ts';
import { formatMtuReport, type MtuReport } from '../../ipip/mtu.ts';

export const showCommand: CommandModule = {
  command: 'show <what>',
  describe: 'show daemon state (neighbors, neighbor ADDR, routes, mtu, status)',
  builder: (y) =>
    withClientOptions(y)
      .command({
        command: ['neighbors', 'protocols'],
        describe: 'one line per neighbour: state, since, prefixes received/sent, last error',
        handler: (a) =>
          callAndPrint<PeerStatus[]>(a as never, 'show.neighbors', {}, (r) => formatNeighbors(r)),
      })
      .command({
        command: 'neighbor <address>',
        describe: 'detail of one neighbour: capabilities, timers, counters, last error',
        builder: (yy) =>
          yy.positional('address', {
            type: 'string',
            demandOption: true,
            describe: 'address, name or range',
          }),
        handler: (a) =>
          callAndPrint<PeerStatus>(a as never, 'show.neighbor', { neighbor: String(a.address) }, (r) =>
            formatNeighborDetail(r),
          ),
      })
      .command({
        command: 'routes [prefix]',
        describe:
          'best paths (Loc-RIB, ECMP members included), or with --peer the routes received from that neighbour (Adj-RIB-In); optionally for one prefix or address',
        builder: (yy) =>
          yy
            .positional('prefix', {
              type: 'string',
              describe: 'a prefix (exact) or an address (longest match)',
            })
            .option('peer', { type: 'string', describe: 'only routes from this neighbour' })
            .option('limit', { type: 'number', describe: 'at most this many routes' }),
        handler: async (a) => {
          const params: Record<string, unknown> = {};
          if (a.peer !== undefined) params.peer = String(a.peer);
          if (a.prefix !== undefined) params.prefix = String(a.prefix);
          if (a.limit !== undefined) params.limit = a.limit;
          await callAndPrint<RouteView[]>(a as never, 'show.routes', params, async (routes) => {
            const peers = await controlRequest<PeerStatus[]>(String(a['control-socket']), 'show.neighbors');
            return formatRoutes(routes, peers);
          });
        },
      })
      .command({
        command: 'route <prefix>',
        describe:
          'one prefix (or the longest match of an address) in the Loc-RIB; --detail: every path and the best-path step that decided',
        builder: (yy) =>
          yy
            .positional('prefix', { type: 'string', demandOption: true, describe: 'a prefix or an address' })
            .option('detail', {
              type: 'boolean',
              default: false,
              describe: 'every path, with the deciding step',
            }),
        handler: async (a) => {
          const prefix = String(a.prefix);
          if (a.detail) {
            await callAndPrint<RouteDetail[]>(a as never, 'show.route', { prefix }, (r) =>
              r.map(formatRouteDetail).join('\n\n'),
            );
            return;
          }
          await callAndPrint<RouteView[]>(a as never, 'show.routes', { prefix }, async (routes) => {
            const peers = await controlRequest<PeerStatus[]>(String(a['control-socket']), 'show.neighbors');
            return formatRoutes(routes, peers);
          });
        },
      })
      .command({
        command: 'mtu',
        describe: 'the detected host and tunnel MTU, from which interface, and why',
        handler: (a) =>
          callAndPrint<Record<string, unknown>>(a as never, 'show.mtu', {}, (r) => {
            if (typeof r.hostMtu === 'number') {
              const tunnel = r.tunnel as { ok?: boolean; error?: string } | undefined;
              const status = tunnel
                ? `\ntunnel        ${tunnel.ok ? 'ok' : `not ready: ${tunnel.error ?? '?'}`}`
                : '';
              return formatMtuReport(r as unknown as MtuReport) + status;
            }
            return Object.entries(r)
              .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join('\n');
          }),
      })
      .command({
        command: 'memory',
        describe: 'bytes of the process and of the route tables (as birdc show memory)',
        handler: (a) => callAndPrint<DaemonMemory>(a as never, 'show.memory', {}, (r) => formatMemory(r)),
      })
      .command({
        command: 'status',
        describe: 'daemon summary: AS, router-id, uptime, last reload',
        handler: (a) => callAndPrint<DaemonState>(a as never, 'show.status', {}, (r) => formatStatus(r)),
      })
      .demandCommand(1, 'show what? neighbors, neighbor ADDR, routes, route PREFIX, memory, mtu or status'),
  handler: () => {},
};

export default showCommand;
