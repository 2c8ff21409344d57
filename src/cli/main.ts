// tsbgp command line. Each sub-command lives in src/cli/commands/<name>.ts and
// exports a yargs CommandModule; register it in the list below.

import type { CommandModule } from 'yargs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

const commands: CommandModule[] = [];

await yargs(hideBin(process.argv))
  .scriptName('tsbgp')
  .command(commands)
  .demandCommand(1, 'name a command; see --help')
  .strict()
  .help()
  .parseAsync();
