// The typed configuration the daemon runs on: the validated file with every default applied and
// every derived value (router-id, neighbour names, families) resolved. Other modules read only this.
import type { Family, Policy, PrefixListEntry, RawConfig } from './schema.ts';

export type { Family, Policy, PrefixListEntry };

export type RemoteAsn = number | 'internal' | 'external';

export interface AddPathConfig {
  receive: boolean;
  /** false: one path; true: all paths; a number: at most that many paths per prefix. */
  send: boolean | number;
}

export interface MaxPrefixConfig {
  limit: number;
  warningPercent: number;
  restartAfter?: number | undefined;
}

export interface NeighborConfig {
  /**
   * Identity across reloads: the canonical peer address, or the range for dynamic neighbours.
   * diffConfig matches old and new neighbours by this key.
   */
  key: string;
  /** Display name (`name:` in the file, else the address or range), as `birdc show protocols`. */
  name: string;
  kind: 'static' | 'dynamic';
  /** Peer address of a static neighbour. */
  address?: string | undefined;
  /** Accepted source prefix of a dynamic neighbour; such neighbours are always passive. */
  range?: string | undefined;
  /** Address family of the TCP session. */
  transport: 4 | 6;
  asn: RemoteAsn;
  localAddress?: string | undefined;
  port: number;
  passive: boolean;
  holdTime: number;
  /** Defaults to holdTime / 3 (RFC 4271 §10); 0 when holdTime is 0. */
  keepaliveTime: number;
  /** First retry delay in seconds; doubles per failure up to connectRetryMax. */
  connectRetry: number;
  connectRetryMax: number;
  /** Idle hold after the first error in seconds; doubles per further error up to idleHoldMax. */
  idleHold: number;
  idleHoldMax: number;
  /** Seconds Established after which the error count is forgotten. */
  errorForget: number;
  families: Family[];
  description?: string | undefined;
  shutdown: boolean;
  addPath: AddPathConfig;
  gracefulRestart: 'disabled' | 'helper' | 'enabled';
  /** Policy names applied in order; absent means the RFC 8212 default (eBGP: nothing). */
  import?: string[] | undefined;
  export?: string[] | undefined;
  routeReflectorClient: boolean;
  allowasIn?: number | undefined;
  /**
   * Per family; the first family over its own limit stops the session (Cease subcode 1 naming
   * that family). The warning at warningPercent is logged by the routing engine.
   */
  maxPrefix?: Partial<Record<Family, MaxPrefixConfig>> | undefined;
  /**
   * Keep the peer's pre-policy routes (Adj-RIB-In) so an import policy change is applied
   * locally. Off (default): kept only when the peer cannot refresh (no route refresh capability);
   * otherwise an import policy change sends ROUTE-REFRESH (RFC 2918), as FRR and BIRD do.
   */
  softReconfigurationInbound: boolean;
  /** Advertise the enhanced route refresh capability (RFC 7313; default true, as BIRD and FRR). */
  enhancedRouteRefresh: boolean;
  ttlSecurity: boolean;
  multihop?: number | undefined;
}

export interface OriginatedPrefix {
  /** Canonical prefix text, e.g. `10.1.0.0/24`. */
  prefix: string;
  family: Family;
  communities: number[];
  largeCommunities: [number, number, number][];
  med?: number | undefined;
  localPref?: number | undefined;
  nextHop?: string | undefined;
}

export interface ListenConfig {
  addresses: string[];
  port: number;
}

export type RouterIdSource = { kind: 'config' } | { kind: 'host'; interface: string };

export interface Config {
  /** Where the config came from (a file path, later an etcd key). */
  source: string;
  asn: number;
  routerId: string;
  routerIdSource: RouterIdSource;
  listen: ListenConfig;
  neighbors: NeighborConfig[];
  originate: OriginatedPrefix[];
  prefixLists: RawConfig['prefixLists'];
  policies: RawConfig['policies'];
  routeReflector?: { clusterId: string } | undefined;
  bestPath: NonNullable<RawConfig['bestPath']>;
  gracefulRestart: NonNullable<RawConfig['gracefulRestart']>;
  kernel?: NonNullable<RawConfig['kernel']> | undefined;
  pools: RawConfig['pools'];
  ipip?: NonNullable<RawConfig['ipip']> | undefined;
  mtu?: NonNullable<RawConfig['mtu']> | undefined;
  workloads?: NonNullable<RawConfig['workloads']> | undefined;
  control?: NonNullable<RawConfig['control']> | undefined;
  /** Routes of the start-up warm-up; 0: none. */
  warmUpRoutes: number;
  /** Keep V8's young generation at its working size while idle (src/daemon/young-generation.ts). */
  warmUpKeepWarm: boolean;
}
