// The IP-in-IP / MTU part of the config, as the IP-in-IP module (src/ipip) takes it. The module
// itself runs inside the dataplane extension (dataplane-extension.ts), which also feeds its route
// forms to the kernel route sync and serves its report to `tsbgp show mtu`.
import { DEFAULTS } from '../config/defaults.ts';
import type { Config } from '../config/types.ts';
import type { IpipDataplaneOptions } from '../ipip/index.ts';
import type { Logger } from '../log/logger.ts';

/** The module runs when a pool encapsulates, or an `ipip` or `mtu` section asks for it. */
export function wantsIpip(config: Config): boolean {
  return (
    config.ipip !== undefined ||
    config.mtu !== undefined ||
    config.pools.some((p) => !p.disabled && p.ipipMode !== 'Never')
  );
}

/**
 * The module's options for a config. The peering address (the MTU and CrossSubnet interface) is
 * the first IPv4 neighbour's `localAddress`; without one, the route to the neighbours decides.
 */
export function ipipOptionsFor(config: Config, log: Logger): IpipDataplaneOptions {
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
