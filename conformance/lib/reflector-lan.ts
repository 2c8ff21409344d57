// The convergence benchmark's topology, shared with the tests that run the daemon the same way: one
// LAN (a bridge in namespace `sw`) joining three namespaces, `inj` (the injector), `rr` (the
// route reflector under test) and `rcv` (a BIRD 2 receiver), all in AS 65000, the injector and
// the receiver route-reflector clients of rr (iBGP, next hops kept: the injector's address, direct
// on the LAN).
import { readFileSync } from 'node:fs';
import type { Lab, SpawnedProcess } from './lab.ts';

export interface ReflectorLanAddresses {
  readonly inj: string;
  readonly rr: string;
  readonly rcv: string;
}

/** Builds the bridge and the three namespaces, each on the LAN as `lan` with its /24 address. */
export async function buildReflectorLan(lab: Lab, addrs: ReflectorLanAddresses): Promise<void> {
  await lab.addNode('sw');
  await lab.exec('sw', 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await lab.exec('sw', 'ip', ['link', 'set', 'br0', 'up']);
  for (const node of ['inj', 'rr', 'rcv'] as const) {
    await lab.addNode(node);
    await lab.link(
      { node: 'sw', ifname: `p-${node}`, addrs: [] },
      { node, ifname: 'lan', addrs: [`${addrs[node]}/24`] },
    );
    await lab.exec('sw', 'ip', ['link', 'set', `p-${node}`, 'master', 'br0']);
  }
}

/** BIRD 2 as the receiver: session `torr` to the reflector, everything imported, nothing sent. */
export function birdReceiverConfig(addrs: ReflectorLanAddresses, logFile?: string): string {
  return `${logFile ? `log "${logFile}" { info, warning, error, fatal };\n` : ''}router id ${addrs.rcv};
protocol device { }
protocol bgp torr { local ${addrs.rcv} as 65000; neighbor ${addrs.rr} as 65000; direct;
  ipv4 { import all; export none; gateway direct; }; }
`;
}

/** tsbgp's configuration as the reflector: the injector and the receiver as its clients. */
export function tsbgpReflectorConfig(addrs: ReflectorLanAddresses, extra = ''): string {
  return `asn: 65000
routerId: ${addrs.rr}
listen: { addresses: [${addrs.rr}] }
neighbors:
  - { name: inj, address: ${addrs.inj}, asn: 65000, localAddress: ${addrs.rr}, routeReflectorClient: true }
  - { name: rcv, address: ${addrs.rcv}, asn: 65000, localAddress: ${addrs.rr}, routeReflectorClient: true }
${extra}`;
}

/**
 * The Node flags `tsbgp` starts with: those on bin/tsbgp.js's `#!/usr/bin/env -S node ...` line.
 * A daemon started with process.execPath (the node running the test or benchmark) rather than
 * through the shebang gets them from here, so it runs as `tsbgp run` does.
 */
export function launchFlags(bin: string): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node(.*)$/.exec(first);
  return (m?.[1] ?? '').split(' ').filter((f) => f !== '');
}

/**
 * The argument list for process.execPath that runs `tsbgp run` from `bin` as the shebang would:
 * its launch flags, then `nodeFlags` (profiling, tracing), then the daemon's own arguments.
 */
export function tsbgpRunArgs(
  bin: string,
  opts: { config: string; controlSocket: string; logLevel: string; nodeFlags?: readonly string[] },
): string[] {
  return [
    ...launchFlags(bin),
    ...(opts.nodeFlags ?? []),
    bin,
    'run',
    '--config',
    opts.config,
    '--control-socket',
    opts.controlSocket,
    '--log-level',
    opts.logLevel,
  ];
}

/** A spawned process's log so far ('' before it exists). */
export function logOf(p: SpawnedProcess): string {
  try {
    return readFileSync(p.logPath, 'utf8');
  } catch {
    return '';
  }
}
