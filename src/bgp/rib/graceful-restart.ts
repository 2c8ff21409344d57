// Graceful restart, helper side (RFC 4724 §4.2), as pure decisions plus operations on the Loc-RIB.
// Timers live outside (the session layer arms them); this module says what to do when they fire.
//
// - Session lost and the peer announced GR (with the family in its capability): keep its routes,
//   marked stale, and start the restart timer (the peer's Restart Time). Without GR, or for a
//   family the peer did not list: delete its routes now. RFC 8538: a NOTIFICATION other than
//   Hard Reset keeps GR going when both sides announced the N bit.
// - Session back: for families whose Forwarding State bit is now clear, or that the new
//   capability omits, delete the stale routes at once (§4.2); start the stale timer for the rest.
// - End-of-RIB for a family: delete the stale routes that were not re-announced in that family.
//   Per family, so one family never delays another (the Cilium/kube-router bug in issue #4).
// - Restart timer expires before the session is back, or the stale timer before End-of-RIB:
//   delete all remaining stale routes.
// - A second loss before End-of-RIB: routes still stale stay stale, relearned ones become stale
//   too, and the restart timer starts again (markPeerStale marks all; FRR does the same). This is
//   the consecutive-restart case Calico users hit (felix#1592).

import type { FamilyKey } from '../codec/types.ts';
import { type LocRib, PathFlag } from './loc-rib.ts';

export interface GrCapabilityView {
  /** the peer's Restart Time (seconds) */
  readonly restartTime: number;
  /** RFC 8538 N bit */
  readonly notification: boolean;
  readonly families: readonly { readonly family: FamilyKey; readonly forwardingState: boolean }[];
}

export type SessionLossCause = 'tcp-failure' | 'hold-timer' | 'notification' | 'hard-reset' | 'admin';

export interface SessionLossDecision {
  /** families whose routes are kept as stale */
  readonly keepStale: readonly FamilyKey[];
  /** families whose routes are deleted now */
  readonly flush: readonly FamilyKey[];
  /** arm the restart timer for this many seconds (0: no timer, nothing kept) */
  readonly restartTimerSeconds: number;
}

/**
 * What to do with a peer's routes when its session goes down. ourFamilies are the families the
 * session carried; peerGr is the GR capability the peer sent in its last OPEN (null: none);
 * notificationGr whether both sides announced RFC 8538.
 */
export function onSessionLoss(
  ourFamilies: readonly FamilyKey[],
  peerGr: GrCapabilityView | null,
  cause: SessionLossCause,
  localHelperEnabled = true,
): SessionLossDecision {
  const graceful =
    localHelperEnabled &&
    peerGr !== null &&
    peerGr.restartTime > 0 &&
    cause !== 'admin' &&
    cause !== 'hard-reset' &&
    (cause !== 'notification' || peerGr.notification);
  if (!graceful) return { keepStale: [], flush: [...ourFamilies], restartTimerSeconds: 0 };
  const listed = new Set(peerGr.families.map((f) => f.family));
  const keepStale = ourFamilies.filter((f) => listed.has(f));
  const flush = ourFamilies.filter((f) => !listed.has(f));
  return { keepStale, flush, restartTimerSeconds: keepStale.length > 0 ? peerGr.restartTime : 0 };
}

/** On re-establishment: families whose stale routes go now (F bit clear or family gone). */
export function onSessionReestablished(
  staleFamilies: readonly FamilyKey[],
  newGr: GrCapabilityView | null,
): FamilyKey[] {
  if (newGr === null) return [...staleFamilies];
  const preserved = new Set(newGr.families.filter((f) => f.forwardingState).map((f) => f.family));
  return staleFamilies.filter((f) => !preserved.has(f));
}

// These queue their work in the Loc-RIB (LocRib.queuePeerRemoval): at a full table each is a
// walk over a million prefixes, which runs a slice per commit so that keepalives and other
// sessions' input are not held behind it. The counts they return are exact.

/** Marks every route of a peer stale in one family's Loc-RIB; returns how many. */
export function markPeerStale(rib: LocRib, peer: number): number {
  return rib.queuePeerFlags(peer, PathFlag.Stale, true);
}

/**
 * Deletes a peer's stale routes in one family's Loc-RIB (End-of-RIB, stale or restart timer).
 * Re-announced routes have lost their Stale flag and stay. Follow with rib.commit().
 */
export function sweepStale(rib: LocRib, peer: number): number {
  return rib.queuePeerRemoval(peer, 'stale');
}

/** Deletes all of a peer's routes in one family (session loss without GR). Follow with commit(). */
export function flushPeer(rib: LocRib, peer: number): number {
  return rib.queuePeerRemoval(peer, 'all');
}
