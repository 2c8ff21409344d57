// tsbgp command line. Each sub-command lives in src/cli/commands/<name>.ts and
// exports a yargs CommandModule; register it in the list below.

import type { CommandModule } from 'yargs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { decodeCommand } from './commands/decode.ts';
import { neighborCommand } from './commands/neighbor.ts';
import { policyCommand } from './commands/policy.ts';
import { reloadCommand } from './commands/reload.ts';
import { runCommand } from './commands/run.ts';
import { showCommand } from './commands/show.ts';

const commands: CommandModule[] = [
  runCommand,
  showCommand,
  neighborCommand,
  reloadCommand,
  policyCommand,
  decodeCommand,
];

await yargs(hideBin(process.argv))
  .scriptName('tsbgp')
  .command(commands)
  .demandCommand(1, 'name a command; see --help')
  .strict()
  .help()
  .parseAsync();
