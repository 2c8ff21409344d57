// tcpdump inside a lab node's namespace, for captures and for tests that check what went on the wire.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Lab } from '../lab.ts';
import { waitFor } from '../lab.ts';

export interface Tcpdump {
  proc: ChildProcess;
  file: string;
  /** Stops the capture (flushing it) and resolves when the file is complete. */
  stop(): Promise<void>;
}

/** Starts tcpdump on `iface` ("any" gives Linux cooked SLL2 framing) writing BGP traffic to `file`. */
export async function startTcpdump(
  lab: Lab,
  node: string,
  iface: string,
  file: string,
  filter = 'tcp port 179',
): Promise<Tcpdump> {
  const proc = spawn(
    'ip',
    [
      'netns',
      'exec',
      lab.nsName(node),
      'tcpdump',
      '--immediate-mode',
      '-i',
      iface,
      '-U',
      '-s',
      '0',
      '-w',
      file,
      filter,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  await waitFor(`tcpdump on ${node}/${iface}`, () => {
    if (proc.exitCode !== null) throw new Error(`tcpdump exited: ${err}`);
    return err.includes('listening on');
  });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    proc,
    file,
    async stop() {
      // Let the last segments reach the capture before stopping it (with --immediate-mode each
      // packet is written at once; without, TPACKET_V3 holds up to a second of them in a block
      // that is lost when tcpdump is stopped).
      await new Promise((r) => setTimeout(r, 300));
      if (proc.exitCode === null) proc.kill('SIGINT');
      await exited;
    },
  };
}
