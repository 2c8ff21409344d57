// Connection collision detection, RFC 4271 §6.8, as a pure decision. A peer may have two
// connections at once (the one we initiated and the one it initiated); each runs its own FSM.
// When an OPEN arrives on one of them while the other is in OpenConfirm (or in OpenSent with the
// peer's BGP Identifier already known from that OPEN), one must be closed with a Cease
// "Connection Collision Resolution" (RFC 4486 subcode 7). A new connection against an
// Established session of a graceful-restart peer is a restart instead (RFC 4724 §4.2).

import type { FsmState } from './fsm.ts';

export type ConnectionDirection = 'outgoing' | 'incoming';

export interface CollisionInput {
  /** Our BGP Identifier and the peer's, as unsigned 32-bit integers (§6.8 compares them so). */
  localId: number;
  remoteId: number;
  /** AS numbers break a tie of equal identifiers (RFC 6286 §2.3, eBGP only). */
  localAs: number;
  remoteAs: number;
  /** The state of the *other* connection when the OPEN arrived on this one. */
  otherState: FsmState;
  /** Which connection the OPEN arrived on, and which the other one is. */
  thisDirection: ConnectionDirection;
  otherDirection: ConnectionDirection;
  /** Whether the connection the OPEN arrived on was accepted after the other one. */
  thisIsNewer: boolean;
  /**
   * Whether the other connection, if Established, exchanged the Graceful Restart Capability
   * (both ends advertised it: RFC 4724's procedures are between speakers that support it).
   */
  otherNegotiatedGracefulRestart: boolean;
  /**
   * Whether this connection was already there when the other one reached Established: then it is
   * the peer's half of two connections made at once, not a call after a restart.
   */
  thisPredatesOtherEstablished: boolean;
}

/** Which of the two connections to close. */
export type CollisionLoser = 'this' | 'other';

/**
 * Which connection to close, or undefined when there is no collision.
 *
 * - An Established session wins (§6.8: "a connection collision with an existing BGP connection
 *   that is in the Established state causes closing of the newly created connection"), except
 *   when both ends exchanged the Graceful Restart Capability on it and the new connection came
 *   after the session was up: RFC 4724 §4.2 then takes the new connection as the sign that the
 *   old TCP session is gone, closes the old one and keeps the new. A connection that was already
 *   there when the session came up is the peer's own attempt of two speakers dialling at once
 *   (its OPEN was merely late): taking it for a restart would drop the session just made.
 * - Two connections that the peer both initiated (a passive session, or one whose own attempt
 *   had not started) are not the crossed attempts §6.8 is about: the peer's FSM opens a second
 *   connection only after giving up its first, so the older one is dead and the newer one is
 *   kept, whichever of the two the OPEN arrived on.
 *   Deciding by identifier here would keep the dead one half the time, until its hold timer.
 * - Otherwise §6.8: the identifiers decide.
 */
export function resolveCollision(c: CollisionInput): CollisionLoser | undefined {
  if (c.otherState === 'Established')
    return c.otherNegotiatedGracefulRestart && !c.thisPredatesOtherEstablished ? 'other' : 'this';
  if (c.otherState !== 'OpenConfirm' && c.otherState !== 'OpenSent') return undefined;
  if (c.thisDirection === c.otherDirection) return c.thisIsNewer ? 'other' : 'this';
  // §6.8: if the local identifier is lower, close the connection we initiated; otherwise close
  // the one the peer initiated. Identifiers compare as unsigned integers (RFC 6286 §2.3).
  const local = c.localId >>> 0;
  const remote = c.remoteId >>> 0;
  let dumpDirection: ConnectionDirection;
  if (local !== remote) {
    dumpDirection = local < remote ? 'outgoing' : 'incoming';
  } else {
    // RFC 6286 §2.3: with equal identifiers the connection initiated by the larger AS is kept.
    dumpDirection = c.localAs >>> 0 > c.remoteAs >>> 0 ? 'incoming' : 'outgoing';
  }
  return dumpDirection === c.thisDirection ? 'this' : 'other';
}
