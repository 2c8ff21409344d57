// Shared set-up for the routing conformance tests (routing.test.ts, interop.test.ts): one rack LAN
// (a bridge in its own namespace with every speaker on it, so next hops are direct) and `tsbgp run`
// started in a namespace of that LAN, queried through its control socket.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Lab, type RunResult, run, type SpawnedProcess, waitFor } from '../lib/lab.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const TSBGP = join(ROOT, 'bin', 'tsbgp.js');

/** Bridge `br0` in node `sw`; each [node, address] joins it on interface `lan` with address/24. */
export async function buildLan(lab: Lab, nodes: readonly (readonly [string, string])[]): Promise<void> {
  await lab.addNode('sw');
  await lab.exec('sw', 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await lab.exec('sw', 'ip', ['link', 'set', 'br0', 'up']);
  for (const [node, addr] of nodes) {
    await lab.addNode(node);
    await lab.link(
      { node: 'sw', ifname: `p-${node}`, addrs: [] },
      { node, ifname: 'lan', addrs: [`${addr}/24`] },
    );
    await lab.exec('sw', 'ip', ['link', 'set', `p-${node}`, 'master', 'br0']);
  }
}

/** `tsbgp run` in one node of a Lab, with its config file and control socket in the Lab's directory. */
export class TsbgpNode {
  readonly cfgFile: string;
  readonly socket: string;

  constructor(
    private readonly lab: Lab,
    private readonly node = 'tsb',
  ) {
    this.cfgFile = join(lab.dir, 'tsbgp.yaml');
    this.socket = join(lab.dir, 'tsbgp.sock');
  }

  /** The tsbgp CLI against this daemon's control socket. */
  cli(...args: string[]): Promise<RunResult> {
    return run(process.execPath, [TSBGP, ...args, '--control-socket', this.socket]);
  }

  /** Writes `config` and spawns `tsbgp run` with it. */
  start(config: string): SpawnedProcess {
    writeFileSync(this.cfgFile, config);
    return this.lab.spawn(this.node, 'tsbgp', process.execPath, [
      TSBGP,
      'run',
      '--config',
      this.cfgFile,
      '--control-socket',
      this.socket,
    ]);
  }

  /** Waits (up to 60 s) until `show neighbors` lists exactly `count` neighbours, all Established. */
  async waitEstablished(what: string, count: number): Promise<void> {
    await waitFor(
      what,
      async () => {
        const r = await this.cli('show', 'neighbors', '--json');
        if (r.code !== 0) return false;
        const ns = JSON.parse(r.stdout) as { state: string }[];
        return ns.length === count && ns.every((n) => n.state === 'Established');
      },
      60_000,
    );
  }

  /** `show route PREFIX --detail --json`: the entry for the prefix, or undefined if tsbgp has none. */
  async detail<T>(prefix: string): Promise<T | undefined> {
    const r = await this.cli('show', 'route', prefix, '--detail', '--json');
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.stdout) as T[])[0];
  }
}
