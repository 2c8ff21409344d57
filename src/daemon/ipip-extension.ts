// Runs the IP-in-IP / MTU module (src/ipip) beside the speaker when the config asks for it (an IPIP
// pool, or an `ipip` or `mtu` section), and serves its report to `tsbgp show mtu`. A kernel without
// the ipip module is reported (logged, and in `show mtu`) but never stops the BGP side.

import { DEFAULTS } from '../config/defaults.ts';
import type { ConfigDiff } from '../config/diff.ts';
import type { Config } from '../config/types.ts';
import { IpipDataplane } from '../ipip/ipip-dataplane.ts';
import type { Logger } from '../log/logger.ts';
import type { DaemonExtension, MtuReport } from './daemon.ts';

const START_WARN_MS = 10_000;

export function wantsIpip(config: Config): boolean {
  return (
    config.ipip !== undefined ||
    config.mtu !== undefined ||
    config.pools.some((p) => !p.disabled && p.ipipMode !== 'Never')
  );
}

function optionsFor(config: Config, log: Logger): ConstructorParameters<typeof IpipDataplane>[0] {
  const statics = config.neighbors.filter((n) => n.kind === 'static' && n.transport === 4);
  const peering = statics.find((n) => n.localAddress !== undefined)?.localAddress;
  return {
    pools: config.pools.filter((p) => !p.disabled).map((p) => ({ cidr: p.cidr, ipipMode: p.ipipMode })),
    ...(config.ipip?.tunnelAddress ? { tunnelAddress: config.ipip.tunnelAddress } : {}),
    ...(peering ? { peeringAddress: peering } : {}),
    peers: statics.map((n) => n.address).filter((a): a is string => a !== undefined),
    ...(config.mtu?.interfacePattern ? { mtuIfacePattern: config.mtu.interfacePattern } : {}),
    ...(config.mtu?.override !== undefined ? { tunnelMtu: config.mtu.override } : {}),
    mtuFilePath: config.mtu?.file ?? DEFAULTS.mtuFile,
    logger: log,
  };
}

export class IpipExtension implements DaemonExtension {
  readonly name = 'ipip';
  private dataplane: IpipDataplane | undefined;
  private startError: string | undefined;
  private state: 'off' | 'starting' | 'running' | 'failed' = 'off';

  constructor(private readonly log: Logger) {}

  /**
   * Starts the dataplane in the background: BGP sessions never wait for the kernel. A start that
   * has not finished after START_WARN_MS is logged, and `show mtu` says it is still starting.
   */
  async start(config: Config): Promise<void> {
    if (!wantsIpip(config)) return;
    const dataplane = new IpipDataplane(optionsFor(config, this.log));
    this.dataplane = dataplane;
    this.state = 'starting';
    const warn = setTimeout(() => {
      this.log.warn({}, `IP-in-IP / MTU detection still starting after ${START_WARN_MS / 1000} s`);
    }, START_WARN_MS);
    warn.unref();
    dataplane
      .start()
      .then(() => {
        if (this.dataplane === dataplane) this.state = 'running';
      })
      .catch((e: unknown) => {
        dataplane.stop();
        if (this.dataplane !== dataplane) return;
        this.dataplane = undefined;
        this.state = 'failed';
        this.startError = e instanceof Error ? e.message : String(e);
        this.log.error({ err: e }, `IP-in-IP / MTU detection not running: ${this.startError}`);
      })
      .finally(() => clearTimeout(warn));
  }

  async applyConfig(config: Config, diff: ConfigDiff): Promise<void> {
    const relevant = ['pools', 'ipip', 'mtu'].some((k) => diff.otherSections.includes(k));
    if (!relevant && this.dataplane) return;
    await this.stop();
    await this.start(config);
  }

  async stop(): Promise<void> {
    this.dataplane?.stop();
    this.dataplane = undefined;
    this.state = 'off';
  }

  mtuReport(): MtuReport {
    if (this.state === 'off')
      return { state: 'off', reason: 'no IP pool with IP-in-IP, and no ipip or mtu section' };
    if (this.state === 'failed' || !this.dataplane)
      return { state: 'failed', error: this.startError ?? 'unknown' };
    const report = this.dataplane.mtuReport();
    if (!report) return { state: this.state, reason: 'the MTU is not detected yet' };
    return { ...report, state: this.state, tunnel: this.dataplane.tunnelStatus() };
  }
}
