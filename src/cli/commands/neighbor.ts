// `tsbgp neighbor ADDR shutdown|enable|reset [--message TEXT]`: administrative actions on one session.
// shutdown and reset send a Cease NOTIFICATION carrying the message (RFC 9003).
// `tsbgp neighbor ADDR refresh-in|refresh-out`: soft reconfiguration without a reset. refresh-in
// re-applies import policy, from the kept pre-policy routes or by sending ROUTE-REFRESH (RFC 2918)
// per family; refresh-out re-sends our Adj-RIB-Out (FRR's `clear bgp ADDR soft in|out`).
import type { CommandModule } from 'yargs';
import { callAndPrint, withClientOptions } from '../../control/cli-support.ts';
import { formatNeighbors } from '../../control/format.ts';
import type { NeighborRefresh } from '../../daemon/control-api.ts';
import type { PeerStatus } from '../../daemon/speaker-port.ts';

const ACTIONS = ['shutdown', 'enable', 'reset', 'refresh-in', 'refresh-out'] as const;

/** One line per session: what was refreshed and how. */
export function formatRefresh(r: NeighborRefresh): string {
  const how =
    r.direction === 'in'
      ? 'inbound soft reconfiguration (re-import or ROUTE-REFRESH)'
      : 'Adj-RIB-Out re-sent';
  return r.refreshed.map((s) => `${s.session}: ${how}: ${s.families.join(', ') || 'nothing'}`).join('\n');
}

export const neighborCommand: CommandModule = {
  command: 'neighbor <address> <action>',
  describe: 'shut down, enable, reset or soft-refresh a neighbour session',
  builder: (y) =>
    withClientOptions(y)
      .positional('address', { type: 'string', demandOption: true, describe: 'address, name or session id' })
      .positional('action', { choices: ACTIONS, demandOption: true })
      .option('message', {
        alias: 'm',
        type: 'string',
        describe: 'shutdown communication sent in the Cease (RFC 9003, at most 255 bytes)',
      }),
  handler: async (a) => {
    const params: Record<string, unknown> = { neighbor: String(a.address) };
    const action = String(a.action);
    if (action === 'refresh-in' || action === 'refresh-out') {
      await callAndPrint<NeighborRefresh>(a as never, `neighbor.${action}`, params, formatRefresh);
      return;
    }
    if (a.message !== undefined) params.message = String(a.message);
    await callAndPrint<PeerStatus>(a as never, `neighbor.${action}`, params, (p) => formatNeighbors([p]));
  },
};

export default neighborCommand;
