// Loop detection on received routes (RFC 4271 §9.1.2, RFC 4456 §8, RFC 5065 §5.1).
// Pure functions of one attribute set and the local configuration, so the import path caches
// their verdict per attribute set together with the import policy result.

import { asPathContains, type StoredAttributes } from './attrs.ts';

export interface LoopCheckConfig {
  /** our AS (with confederations: the member AS, and confederationId below) */
  readonly localAs: number;
  /** RFC 5065 confederation identifier, when we are a confederation member */
  readonly confederationId?: number;
  /** accept our AS up to this many times (Cisco/FRR `allowas-in N`, BIRD `allow local as N`); 0 = never */
  readonly allowasIn: number;
  /** our BGP Identifier (RFC 4456 §8: a route carrying it as ORIGINATOR_ID is ours) */
  readonly routerId: number;
  /** our cluster id(s) (RFC 4456 §8: a CLUSTER_LIST containing one of them is a reflection loop) */
  readonly clusterIds: readonly number[];
}

export type LoopVerdict = 'ok' | 'as-path-loop' | 'originator-id-loop' | 'cluster-list-loop';

/**
 * Checks a received attribute set. iBGP-only checks (ORIGINATOR_ID, CLUSTER_LIST) apply whatever
 * the session type: those attributes never arrive over eBGP from a correct peer, and a route that
 * carries our own id in them is a loop wherever it came from.
 */
export function checkLoops(a: StoredAttributes, cfg: LoopCheckConfig): LoopVerdict {
  if (asPathContains(a.asPath, cfg.localAs, cfg.allowasIn)) return 'as-path-loop';
  if (cfg.confederationId !== undefined && asPathContains(a.asPath, cfg.confederationId, cfg.allowasIn))
    return 'as-path-loop';
  if (a.originatorId !== undefined && a.originatorId >>> 0 === cfg.routerId >>> 0)
    return 'originator-id-loop';
  if (a.clusterList !== undefined && cfg.clusterIds.length > 0) {
    for (let i = 0; i < a.clusterList.length; i++) {
      const id = a.clusterList[i]!;
      for (const own of cfg.clusterIds) if (id === own >>> 0) return 'cluster-list-loop';
    }
  }
  return 'ok';
}
