// Route details for `tsbgp show route PREFIX --detail`: every path of a prefix, its attributes,
// and the decision step that ruled on it (from DecisionProcess.explain()). Structured data first
// (for JSON output), text second.

import { formatCommunity } from '../policy/communities.ts';
import { formatAsPath, formatIpv4, nextHopBytes, type StoredAttributes } from './attrs.ts';
import type { StepName } from './best-path.ts';
import { type LocRib, PathFlag } from './loc-rib.ts';
import type { PeerTable } from './peers.ts';
import { formatIpv6 } from './prefix.ts';

export interface PathDetail {
  readonly from: string;
  readonly kind: string;
  readonly pathId: number;
  readonly best: boolean;
  readonly multipath: boolean;
  readonly stale: boolean;
  readonly eligible: boolean;
  /** the step that removed this path; null for the best path and ineligible ones */
  readonly lostAt: StepName | null;
  readonly reason: string;
  readonly asPath: string;
  readonly origin: string;
  readonly nextHop: string;
  readonly localPref: number | null;
  readonly med: number | null;
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  readonly originatorId: string | null;
  readonly clusterList: readonly string[];
}

export interface RouteDetail {
  readonly prefix: string;
  readonly paths: readonly PathDetail[];
}

function nextHopText(a: StoredAttributes): string {
  const b = nextHopBytes(a);
  if (b === null) return '-';
  if (b.length === 4) return formatIpv4(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
  const parts: string[] = [];
  for (let off = 0; off + 16 <= b.length; off += 16) {
    const w = new Uint32Array(4);
    for (let i = 0; i < 4; i++)
      w[i] =
        ((b[off + 4 * i]! << 24) |
          (b[off + 4 * i + 1]! << 16) |
          (b[off + 4 * i + 2]! << 8) |
          b[off + 4 * i + 3]!) >>>
        0;
    parts.push(formatIpv6(w));
  }
  return parts.join(' ');
}

/** The details of one prefix (by prefix index; see LocRib.lookup). */
export function describeRoute(rib: LocRib, peers: PeerTable, prefix: number): RouteDetail {
  const { paths, explanation } = rib.explain(prefix);
  const details = paths.map((q, i): PathDetail => {
    const v = explanation.paths[i]!;
    const a = rib.attrs.get(rib.pathAttr(q));
    const peer = peers.get(rib.pathPeer(q));
    const large: string[] = [];
    const lc = a.largeCommunities;
    if (lc !== undefined)
      for (let k = 0; k + 2 < lc.length; k += 3) large.push(`${lc[k]}:${lc[k + 1]}:${lc[k + 2]}`);
    return {
      from: peer.name,
      kind: peer.kind,
      pathId: rib.pathIdOf(q),
      best: v.best,
      multipath: v.multipath,
      stale: (rib.pathFlags(q) & PathFlag.Stale) !== 0,
      eligible: v.eligible,
      lostAt: v.lostAt,
      reason: v.reason,
      asPath: formatAsPath(a.asPath),
      origin: ['IGP', 'EGP', 'incomplete'][a.origin ?? 2] ?? '?',
      nextHop: nextHopText(a),
      localPref: a.localPref ?? null,
      med: a.med ?? null,
      communities: Array.from(a.communities ?? [], formatCommunity),
      largeCommunities: large,
      originatorId: a.originatorId === undefined ? null : formatIpv4(a.originatorId),
      clusterList: Array.from(a.clusterList ?? [], formatIpv4),
    };
  });
  return { prefix: rib.formatPrefix(prefix), paths: details };
}

/** BIRD/FRR-like text for the CLI. */
export function formatRouteDetail(d: RouteDetail): string {
  const lines = [`${d.prefix}: ${d.paths.length} path${d.paths.length === 1 ? '' : 's'}`];
  for (const p of d.paths) {
    const tags = [
      p.best ? 'best' : null,
      p.multipath && !p.best ? 'multipath' : null,
      p.stale ? 'stale' : null,
    ]
      .filter((t) => t !== null)
      .join(', ');
    lines.push(
      `  from ${p.from} (${p.kind}${p.pathId !== 0 ? `, path id ${p.pathId}` : ''})${tags ? ` [${tags}]` : ''}`,
    );
    lines.push(`    AS path: ${p.asPath || '(empty)'}, origin ${p.origin}, next hop ${p.nextHop}`);
    const extra = [
      p.localPref !== null ? `local-pref ${p.localPref}` : null,
      p.med !== null ? `MED ${p.med}` : null,
      p.originatorId !== null ? `originator ${p.originatorId}` : null,
      p.clusterList.length > 0 ? `cluster list ${p.clusterList.join(' ')}` : null,
    ].filter((t) => t !== null);
    if (extra.length > 0) lines.push(`    ${extra.join(', ')}`);
    if (p.communities.length > 0) lines.push(`    communities: ${p.communities.join(' ')}`);
    if (p.largeCommunities.length > 0) lines.push(`    large communities: ${p.largeCommunities.join(' ')}`);
    lines.push(`    decision: ${p.lostAt === null ? p.reason : `lost at ${p.lostAt}: ${p.reason}`}`);
  }
  return lines.join('\n');
}
