// `tsbgp neighbor ADDR shutdown|enable|reset [--message TEXT]`: administrative actions on one session.
// shutdown and reset send a Cease NOTIFICATION carrying the message (RFC 9003).
import type { CommandModule } from 'yargs';
import { callAndPrint, withClientOptions } from '../../control/cli-support.ts';
import { formatNeighbors } from '../../control/format.ts';
import type { PeerStatus } from '../../daemon/speaker-port.ts';

export const neighborCommand: CommandModule = {
  command: 'neighbor <address> <action>',
  describe: 'shut down, enable or reset a neighbour session',
  builder: (y) =>
    withClientOptions(y)
      .positional('address', { type: 'string', demandOption: true, describe: 'address, name or session id' })
      .positional('action', { choices: ['shutdown', 'enable', 'reset'] as const, demandOption: true })
      .option('message', {
        alias: 'm',
        type: 'string',
        describe: 'shutdown communication sent in the Cease (RFC 9003, at most 255 bytes)',
      }),
  handler: async (a) => {
    const params: Record<string, unknown> = { neighbor: String(a.address) };
    if (a.message !== undefined) params.message = String(a.message);
    await callAndPrint<PeerStatus>(a as never, `neighbor.${String(a.action)}`, params, (p) =>
      formatNeighbors([p]),
    );
  },
};

export default neighborCommand;
