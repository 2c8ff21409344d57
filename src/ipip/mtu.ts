// MTU detection for IP-in-IP (issue #5 §3; calico-dataplane.md §2).
//
// The host MTU is the MTU of the interface that carries our peering address (that is what the
// encapsulated packets leave by); failing that, the minimum over up interfaces matching a pattern
// (Felix's findHostMTU); failing that, 1460, the smallest common cloud MTU (Felix's fallback).
// The tunnel MTU is the host MTU less the 20-byte outer IPv4 header, rounded down to a multiple of
// 4: 1460 -> 1440 (GCE), 1500 -> 1480, 9000 -> 8980, 9001 (AWS) -> 8980. (Calico's table gives
// 8981 for 9001 because Felix subtracts without rounding; we round, so 9000 and 9001 agree and
// the inner IP payload stays 4-byte aligned.)
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const IPIP_OVERHEAD = 20;
/** RFC 791: every IPv4 host must accept 68-byte datagrams; no smaller MTU is valid. */
export const MIN_IPV4_MTU = 68;
/** Felix's fallback when nothing can be detected (calico-dataplane.md §2 step 1). */
export const FALLBACK_HOST_MTU = 1460;
/** Felix's default MTU interface pattern (`mtuIfacePattern`). */
export const DEFAULT_MTU_IFACE_PATTERN = '^((en|wl|ww|sl|ib)[Pcopsvx].*|(eth|wlan|wwan).*)';

/** Tunnel MTU for a host MTU: host - overhead, rounded down to a multiple of 4. */
export function tunnelMtuFor(hostMtu: number, overhead = IPIP_OVERHEAD): number {
  if (!Number.isInteger(hostMtu) || hostMtu <= 0)
    throw new Error(`host MTU ${hostMtu} is not a positive integer`);
  const mtu = Math.floor((hostMtu - overhead) / 4) * 4;
  if (mtu < MIN_IPV4_MTU) {
    throw new Error(
      `host MTU ${hostMtu} leaves ${mtu} for the tunnel, below the IPv4 minimum ${MIN_IPV4_MTU}`,
    );
  }
  return mtu;
}

export interface MtuLink {
  name: string;
  mtu: number;
  operUp: boolean;
}

export interface MtuInputs {
  links: readonly MtuLink[];
  /** The interface that carries the peering address / the route to the peers, if known. */
  peeringInterface?: string;
  /** Why peeringInterface was chosen (e.g. "holds 10.0.0.5", "route to 10.0.0.9"). */
  peeringReason?: string;
  /** Regular expression for the fallback scan (default Felix's mtuIfacePattern). */
  ifacePattern?: string;
  /** Tunnel MTU from the config: used as is. */
  tunnelMtuOverride?: number;
  /** Whether some pool encapsulates (Always/CrossSubnet); decides the workload MTU. */
  encapsulation: boolean;
}

export interface MtuReport {
  hostMtu: number;
  tunnelMtu: number;
  /** MTU for workload interfaces: the tunnel MTU when encapsulating, else the host MTU. */
  workloadMtu: number;
  /** Interface the host MTU came from (undefined for an override or the fallback). */
  interface?: string;
  source: 'override' | 'peering-interface' | 'interface-pattern' | 'fallback';
  reason: string;
}

/** The MTU decision (pure): see the module comment for the order. */
export function decideMtu(inp: MtuInputs): MtuReport {
  let hostMtu: number;
  let iface: string | undefined;
  let source: MtuReport['source'];
  let reason: string;
  const peering = inp.peeringInterface ? inp.links.find((l) => l.name === inp.peeringInterface) : undefined;
  if (peering && peering.mtu > 0) {
    hostMtu = peering.mtu;
    iface = peering.name;
    source = 'peering-interface';
    reason = `MTU of ${peering.name}, which carries the peering traffic (${inp.peeringReason ?? 'peering interface'})`;
  } else {
    const pattern = inp.ifacePattern ?? DEFAULT_MTU_IFACE_PATTERN;
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch {
      throw new Error(`MTU interface pattern "${pattern}" is not a valid regular expression`);
    }
    const candidates = inp.links.filter((l) => l.operUp && l.mtu > 0 && re.test(l.name));
    if (candidates.length > 0) {
      const min = candidates.reduce((a, b) => (b.mtu < a.mtu ? b : a));
      hostMtu = min.mtu;
      iface = min.name;
      source = 'interface-pattern';
      reason = `smallest MTU among up interfaces matching /${pattern}/ (${candidates.map((c) => `${c.name}=${c.mtu}`).join(', ')})`;
      if (inp.peeringInterface) reason += `; peering interface ${inp.peeringInterface} not found`;
    } else {
      hostMtu = FALLBACK_HOST_MTU;
      source = 'fallback';
      reason = `no peering interface and no up interface matches /${pattern}/: assuming ${FALLBACK_HOST_MTU}`;
    }
  }
  let tunnelMtu: number;
  if (inp.tunnelMtuOverride !== undefined) {
    const o = inp.tunnelMtuOverride;
    if (!Number.isInteger(o) || o < MIN_IPV4_MTU || o > 65535) {
      throw new Error(`configured tunnel MTU ${o} must be an integer in ${MIN_IPV4_MTU}..65535`);
    }
    tunnelMtu = o;
    source = 'override';
    reason = `tunnel MTU set in the config (detected host MTU ${hostMtu}: ${reason})`;
  } else {
    tunnelMtu = tunnelMtuFor(hostMtu);
  }
  const report: MtuReport = {
    hostMtu,
    tunnelMtu,
    workloadMtu: inp.encapsulation ? tunnelMtu : hostMtu,
    source,
    reason,
  };
  if (iface) report.interface = iface;
  return report;
}

/** Human-readable lines for `tsbgp show mtu`. */
export function formatMtuReport(r: MtuReport): string {
  return [
    `host MTU      ${r.hostMtu}${r.interface ? ` (${r.interface})` : ''}`,
    `tunnel MTU    ${r.tunnelMtu} (tunl0, IP-in-IP overhead ${IPIP_OVERHEAD})`,
    `workload MTU  ${r.workloadMtu}`,
    `source        ${r.source}`,
    `why           ${r.reason}`,
  ].join('\n');
}

/**
 * Writes the workload MTU for a CNI plugin (Calico's /var/lib/calico/mtu: the number alone),
 * atomically (write + rename) so a reader never sees a partial file.
 */
export function writeMtuFile(path: string, mtu: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${process.pid}.mtu.tmp`);
  writeFileSync(tmp, `${mtu}\n`);
  renameSync(tmp, path);
}
