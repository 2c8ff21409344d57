// The common shape of every real-implementation driver (BIRD 2, BIRD 1.6, FRR, GoBGP, ExaBGP,
// OpenBGPD). Interop tests, captures and benchmarks start a peer with the same options and read
// its routes back in the same normalised form, whatever the implementation.
import { Address4, Address6 } from 'ip-address';
import type { Lab } from '../lab.ts';

export type Family = 'ipv4' | 'ipv6';

/** RFC 4271 §8.2.2 states, as every implementation reports them (normalised to lower case). */
export type SessionState = 'idle' | 'connect' | 'active' | 'opensent' | 'openconfirm' | 'established';

export interface NeighborOptions {
  /** The neighbour's transport address (IPv4 or IPv6). */
  address: string;
  remoteAs: number;
  /** Local source address for the session; most drivers need it to bind the right interface. */
  localAddress?: string;
  /** Families carried on this session; defaults to the transport's own family. */
  families?: Family[];
  /** Wait for the neighbour to connect (where the implementation supports it). */
  passive?: boolean;
  /** Proposed hold time in seconds (RFC 4271 §4.2). */
  holdTime?: number;
  /** RFC 7911 ADD-PATH: which directions to negotiate, for every family on the session. */
  addPath?: 'send' | 'receive' | 'both';
  /** Advertise the RFC 4724 graceful-restart capability. */
  gracefulRestart?: boolean;
  /** Next hop for routes of the other family (e.g. an IPv6 next hop for IPv6 over an IPv4 session). */
  nextHop4?: string;
  nextHop6?: string;
  /** Override the TCP port the neighbour listens on (defaults to 179). */
  port?: number;
}

export interface OriginatedRoute {
  prefix: string;
  /** "asn:value" (RFC 1997). */
  communities?: string[];
  /** "global:local1:local2" (RFC 8092). */
  largeCommunities?: string[];
  /** Route-target style "rt:asn:value" (RFC 4360 two-octet AS specific, subtype 2). */
  extCommunities?: string[];
  med?: number;
  localPref?: number;
}

export interface PeerStartOptions {
  localAs: number;
  routerId: string;
  neighbors: NeighborOptions[];
  originate?: OriginatedRoute[];
  /** false makes the speaker 2-octet only (no RFC 6793 capability); only some drivers can. */
  fourOctetAs?: boolean;
  /** Listen on port 179 for passive sessions (default true). */
  listen?: boolean;
  /** MRT (RFC 6396) dumps where the implementation writes them (BIRD 2: table, whose file name may
   * use strftime escapes and %N for the table name; GoBGP: table and updates). */
  mrt?: { tableFile?: string; updatesFile?: string; periodSeconds?: number };
}

/** One route as a peer holds it. Communities are sorted so two implementations compare equal. */
export interface NormalisedRoute {
  prefix: string;
  nextHop: string;
  asPath: number[];
  communities: string[];
  largeCommunities: string[];
  med?: number;
  localPref?: number;
  /** The neighbour it was learned from; undefined for routes the peer originates itself. */
  from?: string;
  /** Whether the implementation selected it as best (undefined when it does not say). */
  best?: boolean;
}

export interface PeerDriver {
  readonly implementation: Implementation;
  readonly node: string;
  /** Every route the peer holds (received and originated), both families. */
  routes(): Promise<NormalisedRoute[]>;
  /** Routes received from a given neighbour. */
  routesFrom(neighbor: string): Promise<NormalisedRoute[]>;
  sessionState(neighbor: string): Promise<SessionState>;
  /** Administrative shutdown of a session, with an RFC 9003 message where supported. */
  shutdownNeighbor(neighbor: string, message?: string): Promise<void>;
  /** Re-enables a session after shutdownNeighbor. */
  enableNeighbor(neighbor: string): Promise<void>;
  /** Asks the neighbour to resend its routes (RFC 2918 ROUTE-REFRESH). */
  routeRefresh(neighbor: string): Promise<void>;
  /** Stops the daemon (the Lab kills leftovers anyway). */
  stop(): Promise<void>;
  /** Starts the daemon again with the same configuration. */
  restart(): Promise<void>;
  /** Path of the daemon's log, for failure messages. */
  readonly logPath: string;
}

export type Implementation = 'bird2' | 'bird1' | 'frr' | 'gobgp' | 'exabgp' | 'openbgpd';

export type StartPeer = (lab: Lab, node: string, opts: PeerStartOptions) => Promise<PeerDriver>;

/** Family of an address or prefix string. */
export function familyOf(addressOrPrefix: string): Family {
  return addressOrPrefix.includes(':') ? 'ipv6' : 'ipv4';
}

export function neighborFamilies(n: NeighborOptions): Family[] {
  return n.families ?? [familyOf(n.address)];
}

/** Canonical text of an address: IPv6 in RFC 5952 form, IPv4 dotted quad. */
export function canonicalAddress(a: string): string {
  if (!a.includes(':')) return new Address4(a).correctForm();
  return new Address6(a).correctForm();
}

/** Canonical text of a prefix "addr/len". */
/** 0.0.0.0 or ::, which the daemons print for "no address" (a local route's peer or next hop). */
export function isUnspecifiedAddress(a: string): boolean {
  return a === '0.0.0.0' || a === '::';
}

export function canonicalPrefix(p: string): string {
  const [addr, len] = p.split('/');
  if (addr === undefined || len === undefined) throw new Error(`not a prefix: ${p}`);
  return `${canonicalAddress(addr)}/${Number(len)}`;
}

export function sortRoutes(routes: NormalisedRoute[]): NormalisedRoute[] {
  for (const r of routes) {
    r.communities.sort(compareNumericTuples);
    r.largeCommunities.sort(compareNumericTuples);
  }
  return routes.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
}

function compareNumericTuples(a: string, b: string): number {
  const x = a.split(':').map(Number);
  const y = b.split(':').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Maps implementation-specific state names (BIRD "Established", GoBGP 6, FRR "Established") to ours. */
export function normaliseState(raw: string | number | undefined): SessionState {
  if (typeof raw === 'number') {
    // RFC 4271 / GoBGP numbering: 1 idle .. 6 established.
    const byNumber: SessionState[] = [
      'idle',
      'idle',
      'connect',
      'active',
      'opensent',
      'openconfirm',
      'established',
    ];
    return byNumber[raw] ?? 'idle';
  }
  const s = (raw ?? '').toLowerCase().replace(/[^a-z]/g, '');
  if (s.startsWith('established') || s === 'up') return 'established';
  if (s.startsWith('opensent')) return 'opensent';
  if (s.startsWith('openconfirm')) return 'openconfirm';
  if (s.startsWith('active')) return 'active';
  if (s.startsWith('connect')) return 'connect';
  return 'idle';
}

/** A community as a 32-bit integer, split into "high:low". */
export function communityFromNumber(n: number): string {
  return `${Math.floor(n / 65536)}:${n % 65536}`;
}
