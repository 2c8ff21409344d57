// Public API of the IP-in-IP dataplane (see docs/dataplane.md).
export {
  detectMtuOnce,
  IpipDataplane,
  type IpipDataplaneOptions,
  IpipUnavailableError,
  type TunnelStatus,
} from './ipip-dataplane.ts';
export { decideMtu, formatMtuReport, type MtuReport, tunnelMtuFor, writeMtuFile } from './mtu.ts';
export {
  type HostUnderlay,
  type IpipMode,
  type IpPool,
  type LearnedRouteDecision,
  poolsUseIpip,
  routeForLearnedPrefix,
  validatePools,
} from './route-form.ts';
