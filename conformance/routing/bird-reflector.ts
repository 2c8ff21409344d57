// A BIRD 2 route reflector for interop tests. The shared BIRD driver sets `next hop self` on every
// iBGP session (right for a client, wrong for a reflector: RFC 4456 §10 keeps the next hop), and has
// no `rr client`, so the reflector gets its own small configuration.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, type SpawnedProcess, waitFor } from '../lib/lab.ts';

export interface BirdReflectorOptions {
  asn: number;
  routerId: string;
  localAddress: string;
  /** iBGP route reflector clients (their transport addresses). */
  clients: string[];
  holdTime?: number;
}

export function birdReflectorConfig(opts: BirdReflectorOptions, logFile: string): string {
  const lines = [`log "${logFile}" all;`, `router id ${opts.routerId};`, 'protocol device { }'];
  opts.clients.forEach((addr, i) => {
    lines.push(
      `protocol bgp c${i} { local ${opts.localAddress} as ${opts.asn}; neighbor ${addr} as ${opts.asn};` +
        ` hold time ${opts.holdTime ?? 9}; rr client; direct;` +
        ' ipv4 { import all; export all; gateway direct; }; }',
    );
  });
  return `${lines.join('\n')}\n`;
}

export interface BirdReflector {
  proc: SpawnedProcess;
  /** `birdc` against this instance. */
  birdc(command: string): Promise<string>;
}

export async function startBirdReflector(
  lab: Lab,
  node: string,
  opts: BirdReflectorOptions,
): Promise<BirdReflector> {
  const base = join(lab.dir, `${node}-birdrr`);
  writeFileSync(`${base}.conf`, birdReflectorConfig(opts, `${base}.log`));
  const socket = `${base}.ctl`;
  const proc = lab.spawn(node, 'bird-rr', 'bird', ['-f', '-c', `${base}.conf`, '-s', socket]);
  const birdc = (command: string): Promise<string> => lab.exec(node, 'birdc', ['-s', socket, command]);
  await waitFor(`BIRD reflector socket ${socket}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`bird exited; see ${proc.logPath}`);
    const r = await lab.tryExec(node, 'birdc', ['-s', socket, 'show status']);
    return r.code === 0 && r.stdout.includes('Daemon is up');
  });
  return { proc, birdc };
}
