// Route reflection (RFC 4456): which iBGP routes go to which iBGP peers, and the two attributes a
// reflector adds.
//
// Advertisement rules (RFC 4456 §6, with RFC 4271 §9.2 for the non-reflector case):
//   learned from            -> advertised to
//   eBGP (or confed eBGP)   -> every iBGP peer, clients and non-clients
//   our own (local)         -> every iBGP peer
//   a client                -> every client (unless client-to-client reflection is off, §5)
//                              and every non-client
//   a non-client            -> clients only
//   any iBGP, no reflector  -> no iBGP peer
// A route is never sent back to the peer it came from (split horizon; update-group.ts does this
// per peer). eBGP targets get everything the export policy allows; reflection is an iBGP matter.
//
// When reflecting (iBGP in, iBGP out) the reflector sets ORIGINATOR_ID to the BGP Identifier of
// the peer it learned the route from if the route has none, and prepends its CLUSTER_ID to the
// CLUSTER_LIST (§8). It changes nothing else: not the NEXT_HOP, not LOCAL_PREF, not MED (§10 "the
// reflected route SHOULD NOT be modified"); next-hop-self for reflected routes is an explicit
// per-neighbour option, as in BIRD and FRR.
//
// The cluster ID defaults to the router-id (§7). Loop checks on receipt are in rib/loop-check.ts.
//
// ---------------------------------------------------------------------------------------------
// Reflectors that share a cluster ID (the Calico complaint, projectcalico/calico#2735)
//
// Calico users often give two (or more) reflectors the same routeReflectorClusterID, for
// redundancy, and peer the reflectors with each other. RFC 4456 §7/§8 then work exactly as
// written: RR1 reflects client C1's route to RR2 with CLUSTER_LIST [shared-id]; RR2 finds its own
// cluster ID in the list and drops it as a loop. So RR2 never holds C1's routes via RR1, and a
// client C2 that peers only with RR2 never learns C1's routes. It looks like a bug but is the
// point of a cluster: every client of the cluster must peer with every reflector of the cluster
// (then each RR learns C1's route directly from C1 and reflects it to all clients).
//
// Configurations that work:
//   1. Same cluster ID, every client peers with every reflector of the cluster (the RFC's model;
//      a client keeps every route when one reflector fails, because the other one reflects too).
//   2. Distinct cluster IDs per reflector (Calico: set a different routeReflectorClusterID per
//      RR node), reflectors peered as non-clients in a full mesh (or as clients of each other).
//      A client may then peer with one reflector only. Each client route arrives twice at a
//      client that peers with two reflectors (CLUSTER_LIST length decides), costing memory.
// tsbgp does not relax the loop check (BIRD and FRR do not either); docs/route-reflection.md
// shows both configurations.

import { cloneAttributes, type StoredAttributes } from '../rib/attrs.ts';

/** How a peer relates to us, for the advertisement rules. */
export type ReflectionRole = 'local' | 'ebgp' | 'confed-ebgp' | 'client' | 'non-client';

export interface ReflectorConfig {
  /** true when this speaker reflects (it has at least one client) */
  readonly enabled: boolean;
  /** RFC 4456 §7 CLUSTER_ID, uint32; defaults to the router-id */
  readonly clusterId: number;
  /** RFC 4456 §5: false when the clients are fully meshed and need no client-to-client reflection */
  readonly clientToClient: boolean;
}

export function defaultReflectorConfig(routerId: number, enabled = false): ReflectorConfig {
  return { enabled, clusterId: routerId >>> 0, clientToClient: true };
}

function isInternal(role: ReflectionRole): boolean {
  return role === 'client' || role === 'non-client';
}

/** May a route learned from a peer of role `from` be advertised to a peer of role `to`? */
export function mayAdvertise(from: ReflectionRole, to: ReflectionRole, cfg: ReflectorConfig): boolean {
  if (to === 'local') return false;
  if (!isInternal(to)) return true; // eBGP / confed eBGP targets: policy decides
  if (!isInternal(from)) return true; // local or external routes go to every iBGP peer
  if (!cfg.enabled) return false; // RFC 4271 §9.2: no iBGP-to-iBGP without reflection
  if (from === 'client') return to === 'non-client' || cfg.clientToClient;
  return to === 'client'; // from a non-client: clients only
}

/** Whether advertising from `from` to `to` is a reflection (and so needs reflectAttributes). */
export function isReflection(from: ReflectionRole, to: ReflectionRole): boolean {
  return isInternal(from) && isInternal(to);
}

/**
 * The attributes of a reflected route: ORIGINATOR_ID set to the source peer's BGP Identifier when
 * absent, the cluster ID prepended to CLUSTER_LIST; nothing else changes. Returns a new object.
 */
export function reflectAttributes(
  a: StoredAttributes,
  sourceRouterId: number,
  cfg: ReflectorConfig,
): StoredAttributes {
  const out = cloneAttributes(a);
  if (out.originatorId === undefined) out.originatorId = sourceRouterId >>> 0;
  const old = a.clusterList;
  if (old === undefined || old.length === 0) {
    out.clusterList = ownClusterList(cfg.clusterId >>> 0);
    return out;
  }
  const list = new Uint32Array(old.length + 1);
  list[0] = cfg.clusterId >>> 0;
  list.set(old, 1);
  out.clusterList = list;
  return out;
}

let lastOwnClusterList: Uint32Array | null = null;

/**
 * The CLUSTER_LIST of a route reflected from a client or non-client that sent none: [clusterId],
 * one array shared by every such set. Sets never write their arrays (AttrTable.internDerived), and
 * a reflector's sets are mostly these: an array each was three heap objects (the view, its
 * ArrayBuffer and its data) per reflected set, 9,000 of the ~60,000 objects a 100k table with
 * 3,000 sets left on the heap (docs/PERFORMANCE.md, twentieth session).
 */
function ownClusterList(clusterId: number): Uint32Array {
  if (lastOwnClusterList === null || lastOwnClusterList[0] !== clusterId) {
    lastOwnClusterList = Uint32Array.of(clusterId);
  }
  return lastOwnClusterList;
}
