// `tsbgp reload`: the daemon re-reads its config (as SIGHUP does) and answers with what changed,
// or with every problem of a refused config.
import type { CommandModule } from 'yargs';
import { callAndPrint, withClientOptions } from '../../control/cli-support.ts';
import { formatReload } from '../../control/format.ts';
import type { ReloadResult } from '../../daemon/daemon.ts';

export const reloadCommand: CommandModule = {
  command: 'reload',
  describe: 're-read the configuration and apply the changes',
  builder: (y) => withClientOptions(y),
  handler: (a) => callAndPrint<ReloadResult>(a as never, 'reload', {}, formatReload),
};

export default reloadCommand;
