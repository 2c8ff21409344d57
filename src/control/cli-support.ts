// Shared pieces of the client commands (show, neighbor, reload): the --control-socket and --json
// options, and one way to print answers and errors.
import type { Argv } from 'yargs';
import { DEFAULTS } from '../config/defaults.ts';
import { controlRequest } from './client.ts';
import { ControlError } from './protocol.ts';

export interface ClientArgs {
  'control-socket': string;
  json: boolean;
}

export function withClientOptions<T>(y: Argv<T>): Argv<T & ClientArgs> {
  return y
    .option('control-socket', {
      type: 'string',
      describe: 'path of the daemon control socket',
      default: process.env.TSBGP_CONTROL_SOCKET ?? DEFAULTS.controlSocket,
    })
    .option('json', { type: 'boolean', describe: 'print the raw JSON answer', default: false }) as Argv<
    T & ClientArgs
  >;
}

/**
 * Sends one request and prints the answer: `render(result)` normally, JSON with --json. Errors go
 * to stderr (with --json, as a JSON object on stdout too) and set a non-zero exit code.
 */
export async function callAndPrint<T>(
  args: ClientArgs,
  method: string,
  params: Record<string, unknown>,
  render: (result: T) => string | Promise<string>,
): Promise<void> {
  try {
    const result = await controlRequest<T>(args['control-socket'], method, params);
    process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : `${await render(result)}\n`);
  } catch (e) {
    const err =
      e instanceof ControlError
        ? e
        : new ControlError('internal', e instanceof Error ? e.message : String(e));
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } }, null, 2)}\n`,
      );
    }
    process.stderr.write(`tsbgp: ${err.message}\n`);
    process.exitCode = err.code === 'unavailable' ? 3 : 1;
  }
}
