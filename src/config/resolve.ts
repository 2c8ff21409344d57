// From the schema's output to the typed Config: checks that relate several fields (each problem
// reported with its path, all at once) and fills in derived values. Pure apart from the injected
// host-address lookup used for the router-id default.
import { DEFAULTS } from './defaults.ts';
import { addressFamily, type ParsedPrefix, parsePrefix, prefixesOverlap } from './net.ts';
import type { RawConfig, RawNeighbor } from './schema.ts';
import type { Config, Family, NeighborConfig, OriginatedPrefix, RouterIdSource } from './types.ts';
import { AS_TRANS } from './values.ts';

export type IssuePath = (string | number)[];

export interface PathIssue {
  path: IssuePath;
  message: string;
}

export interface HostAddress {
  interface: string;
  address: string;
  family: 4 | 6;
  internal: boolean;
}

export interface ResolveOptions {
  /** Addresses of this host, for the router-id default; os.networkInterfaces() in the daemon. */
  hostAddresses: () => HostAddress[];
}

/**
 * The router-id default: the highest non-loopback IPv4 address of the host, compared numerically,
 * so the choice is the same on every start whatever order the kernel lists interfaces in.
 */
export function pickRouterId(addresses: HostAddress[]): { address: string; interface: string } | undefined {
  let best: { address: string; interface: string; value: number } | undefined;
  for (const a of addresses) {
    if (a.family !== 4 || a.internal || a.address.startsWith('127.')) continue;
    const value = a.address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    if (value === 0) continue;
    if (!best || value > best.value) best = { address: a.address, interface: a.interface, value };
  }
  return best && { address: best.address, interface: best.interface };
}

function familyOf(address: string): Family {
  return addressFamily(address) === 6 ? 'ipv6-unicast' : 'ipv4-unicast';
}

export function resolveConfig(
  raw: RawConfig,
  source: string,
  options: ResolveOptions,
): { config: Config; issues: [] } | { config: undefined; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const issue = (path: IssuePath, message: string) => issues.push({ path, message });

  if (raw.asn === AS_TRANS) issue(['asn'], 'AS 23456 is AS_TRANS (RFC 6793) and cannot be a local AS');

  // Router-id: configured, or picked from the host (RFC 6286 needs only uniqueness within the AS).
  let routerId: string;
  let routerIdSource: RouterIdSource;
  if (raw.routerId !== undefined) {
    routerId = raw.routerId;
    routerIdSource = { kind: 'config' };
    if (routerId === '0.0.0.0') issue(['routerId'], 'the router-id must not be 0.0.0.0 (RFC 6286 §2.1)');
  } else {
    const picked = pickRouterId(options.hostAddresses());
    if (picked) {
      routerId = picked.address;
      routerIdSource = { kind: 'host', interface: picked.interface };
    } else {
      routerId = '0.0.0.0';
      routerIdSource = { kind: 'config' };
      issue(
        ['routerId'],
        'not set, and this host has no non-loopback IPv4 address to default to: set routerId',
      );
    }
  }

  const policyNames = new Set(Object.keys(raw.policies));
  const prefixListNames = new Set(Object.keys(raw.prefixLists));

  // Policies: prefix-list references and ge/le bounds.
  for (const [name, entries] of Object.entries(raw.prefixLists)) {
    entries.forEach((e, i) => {
      checkGeLe(e, ['prefixLists', name, i], issue);
    });
  }
  for (const [name, policy] of Object.entries(raw.policies)) {
    policy.terms.forEach((term, t) => {
      const pl = term.match.prefixList;
      const base: IssuePath = ['policies', name, 'terms', t, 'match', 'prefixList'];
      if (typeof pl === 'string') {
        if (!prefixListNames.has(pl)) issue(base, `prefix list "${pl}" is not defined under prefixLists`);
      } else if (pl) {
        pl.forEach((e, i) => {
          checkGeLe(e, [...base, i], issue);
        });
      }
    });
  }

  // Neighbours.
  const neighbors: NeighborConfig[] = [];
  const byKey = new Map<string, number>();
  const byName = new Map<string, number>();
  const ranges: { prefix: ParsedPrefix; index: number }[] = [];
  raw.neighbors.forEach((n, i) => {
    const at = (...rest: IssuePath): IssuePath => ['neighbors', i, ...rest];
    const resolved = resolveNeighbor(n, at, issue);
    if (!resolved) return;
    const prev = byKey.get(resolved.key);
    if (prev !== undefined) {
      issue(at(resolved.kind === 'static' ? 'address' : 'range'), `duplicates neighbors[${prev}]`);
      return;
    }
    byKey.set(resolved.key, i);
    const prevName = byName.get(resolved.name);
    if (prevName !== undefined) {
      issue(
        at(n.name !== undefined ? 'name' : 'address'),
        `name "${resolved.name}" is used by neighbors[${prevName}]`,
      );
    } else byName.set(resolved.name, i);
    if (resolved.range) {
      const p = parsePrefix(resolved.range) as ParsedPrefix;
      for (const r of ranges) {
        if (prefixesOverlap(r.prefix, p)) {
          issue(at('range'), `overlaps the range of neighbors[${r.index}]: a peer would match both`);
        }
      }
      ranges.push({ prefix: p, index: i });
    }
    for (const [dir, names] of [
      ['import', resolved.import],
      ['export', resolved.export],
    ] as const) {
      names?.forEach((p, j) => {
        if (!policyNames.has(p)) issue(at(dir, j), `policy "${p}" is not defined under policies`);
      });
    }
    if (resolved.routeReflectorClient && resolved.asn !== 'internal' && resolved.asn !== raw.asn) {
      issue(at('routeReflectorClient'), 'route reflector clients must be iBGP neighbours (RFC 4456 §1)');
    }
    if (resolved.passive || resolved.kind === 'dynamic') {
      if (raw.listen.addresses.length === 0) {
        issue(
          at(resolved.kind === 'dynamic' ? 'range' : 'passive'),
          'needs inbound sessions, but listen.addresses is empty',
        );
      }
    }
    neighbors.push(resolved);
  });

  // Originated prefixes.
  const originate: OriginatedPrefix[] = [];
  const seenPrefixes = new Map<string, number>();
  raw.originate.forEach((o, i) => {
    const prev = seenPrefixes.get(o.prefix);
    if (prev !== undefined)
      issue(['originate', i, 'prefix'], `${o.prefix} is already originated by originate[${prev}]`);
    seenPrefixes.set(o.prefix, i);
    const family = familyOf(o.prefix.slice(0, o.prefix.indexOf('/')));
    const full = 'communities' in o || 'med' in o || 'nextHop' in o ? o : undefined;
    if (full && 'nextHop' in full && full.nextHop !== undefined && familyOf(full.nextHop) !== family) {
      issue(['originate', i, 'nextHop'], `a ${family} prefix needs a next hop of the same family`);
    }
    originate.push({
      prefix: o.prefix,
      family,
      communities: full && 'communities' in full ? (full.communities ?? []) : [],
      largeCommunities: full && 'largeCommunities' in full ? (full.largeCommunities ?? []) : [],
      med: full && 'med' in full ? full.med : undefined,
      localPref: full && 'localPref' in full ? full.localPref : undefined,
      nextHop: full && 'nextHop' in full ? full.nextHop : undefined,
    });
  });

  // IP pools: no overlaps, sane block sizes, IP-in-IP only for IPv4 (as Calico).
  const pools: { prefix: ParsedPrefix; index: number }[] = [];
  raw.pools.forEach((pool, i) => {
    const p = parsePrefix(pool.cidr) as ParsedPrefix;
    for (const q of pools) {
      if (prefixesOverlap(q.prefix, p)) issue(['pools', i, 'cidr'], `overlaps pools[${q.index}]`);
    }
    pools.push({ prefix: p, index: i });
    const max = p.family === 4 ? 32 : 128;
    if (pool.blockSize !== undefined && (pool.blockSize < p.length || pool.blockSize > max)) {
      issue(['pools', i, 'blockSize'], `must be between the pool length ${p.length} and ${max}`);
    }
    if (p.family === 6 && pool.ipipMode !== 'Never') {
      issue(['pools', i, 'ipipMode'], 'IP-in-IP carries IPv4 only: IPv6 pools must use ipipMode Never');
    }
  });
  if (issues.length > 0) return { config: undefined, issues };

  const clusterId = raw.routeReflector
    ? typeof raw.routeReflector.clusterId === 'number'
      ? u32ToDotted(raw.routeReflector.clusterId)
      : (raw.routeReflector.clusterId ?? routerId)
    : undefined;
  const config: Config = {
    source,
    asn: raw.asn,
    routerId,
    routerIdSource,
    listen: raw.listen,
    neighbors,
    originate,
    prefixLists: raw.prefixLists,
    policies: raw.policies,
    routeReflector: clusterId !== undefined ? { clusterId } : undefined,
    bestPath: raw.bestPath ?? {
      multipath: 1,
      multipathRelaxAsPath: false,
      alwaysCompareMed: false,
      missingMedAsWorst: false,
    },
    gracefulRestart: raw.gracefulRestart ?? {
      restartTime: DEFAULTS.grRestartTime,
      stalePathTime: DEFAULTS.grStalePathTime,
      notification: true,
    },
    kernel: raw.kernel,
    pools: raw.pools,
    ipip: raw.ipip,
    mtu: raw.mtu,
    workloads: raw.workloads,
    control: raw.control,
    warmUpRoutes: raw.warmUp?.routes ?? DEFAULTS.warmUpRoutes,
    warmUpKeepWarm: raw.warmUp?.keepWarm ?? DEFAULTS.warmUpKeepWarm,
  };
  return { config, issues: [] };
}

function resolveNeighbor(
  n: RawNeighbor,
  at: (...rest: IssuePath) => IssuePath,
  issue: (path: IssuePath, message: string) => void,
): NeighborConfig | undefined {
  if ((n.address === undefined) === (n.range === undefined)) {
    issue(
      at(),
      n.address === undefined
        ? 'needs an address, or a range for dynamic neighbours'
        : 'has both address and range: give one',
    );
    return undefined;
  }
  const kind = n.address !== undefined ? 'static' : 'dynamic';
  const endpoint = (n.address ?? n.range?.slice(0, n.range.indexOf('/'))) as string;
  const transport = addressFamily(endpoint) ?? 4;
  let ok = true;
  if (n.localAddress !== undefined && addressFamily(n.localAddress) !== transport) {
    issue(at('localAddress'), `is IPv${addressFamily(n.localAddress)}, but the neighbour is IPv${transport}`);
    ok = false;
  }
  if (n.keepaliveTime !== undefined) {
    if (n.holdTime === 0) {
      issue(at('keepaliveTime'), 'must not be set when holdTime is 0 (no keepalives are sent)');
      ok = false;
    } else if (n.keepaliveTime >= n.holdTime) {
      issue(
        at('keepaliveTime'),
        `must be less than holdTime (${n.holdTime} s); one third is usual (RFC 4271 §10)`,
      );
      ok = false;
    }
  }
  if (n.connectRetryMax < n.connectRetry) {
    issue(at('connectRetryMax'), `must be at least connectRetry (${n.connectRetry} s)`);
  }
  if (n.idleHoldMax < n.idleHold) {
    issue(at('idleHoldMax'), `must be at least idleHold (${n.idleHold} s)`);
    ok = false;
  }
  if (n.multihop !== undefined && n.ttlSecurity) {
    issue(at('ttlSecurity'), 'cannot be combined with multihop (RFC 5082 GTSM expects a direct peer)');
    ok = false;
  } else if (n.ttlSecurity) {
    // Refused rather than ignored: an operator must not believe GTSM protects a session when
    // it does not. Node has no setsockopt for IP_TTL/IP_MINTTL; it comes with TCP-MD5.
    issue(
      at('ttlSecurity'),
      'GTSM (RFC 5082) is not supported by this version yet: remove it, or protect the session otherwise',
    );
    ok = false;
  }
  if (typeof n.asn === 'number' && n.asn === AS_TRANS) {
    issue(at('asn'), "AS 23456 is AS_TRANS (RFC 6793): give the peer's real 4-octet AS");
    ok = false;
  }
  if (n.families) {
    const seen = new Set<string>();
    n.families.forEach((f, j) => {
      if (seen.has(f)) {
        issue(at('families', j), `${f} is listed twice`);
        ok = false;
      }
      seen.add(f);
    });
  }
  if (!ok) return undefined;
  const key = (kind === 'static' ? n.address : n.range) as string;
  const holdTime = n.holdTime;
  return {
    key,
    name: n.name ?? key,
    kind,
    address: n.address,
    range: n.range,
    transport,
    asn: n.asn,
    localAddress: n.localAddress,
    port: n.port,
    passive: kind === 'dynamic' ? true : n.passive,
    holdTime,
    keepaliveTime: n.keepaliveTime ?? Math.floor(holdTime / 3),
    connectRetry: n.connectRetry,
    connectRetryMax: n.connectRetryMax,
    idleHold: n.idleHold,
    idleHoldMax: n.idleHoldMax,
    errorForget: n.errorForget,
    families: n.families ?? [transport === 6 ? 'ipv6-unicast' : 'ipv4-unicast'],
    description: n.description,
    shutdown: n.shutdown,
    addPath: n.addPath ?? { receive: false, send: false },
    gracefulRestart: n.gracefulRestart,
    import: n.import,
    export: n.export,
    routeReflectorClient: n.routeReflectorClient,
    allowasIn: n.allowasIn,
    maxPrefix: n.maxPrefix,
    softReconfigurationInbound: n.softReconfigurationInbound,
    enhancedRouteRefresh: n.enhancedRouteRefresh,
    ttlSecurity: n.ttlSecurity,
    multihop: n.multihop,
  };
}

function checkGeLe(
  e: { prefix: string; ge?: number | undefined; le?: number | undefined },
  path: IssuePath,
  issue: (path: IssuePath, message: string) => void,
): void {
  const slash = e.prefix.indexOf('/');
  const len = Number(e.prefix.slice(slash + 1));
  const max = e.prefix.includes(':') ? 128 : 32;
  if (e.ge !== undefined && (e.ge < len || e.ge > max))
    issue([...path, 'ge'], `must be ${len}..${max} for ${e.prefix}`);
  if (e.le !== undefined && (e.le < len || e.le > max))
    issue([...path, 'le'], `must be ${len}..${max} for ${e.prefix}`);
  if (e.ge !== undefined && e.le !== undefined && e.ge > e.le)
    issue([...path, 'le'], 'must not be less than ge');
}

function u32ToDotted(v: number): string {
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
}
