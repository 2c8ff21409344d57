// Public types of the session layer: peer configuration, status, events, and the export interface
// through which the RIB (later) or the originated-routes table (now) feeds Adj-RIB-Out.

import type {
  Capability,
  FamilyKey,
  PathAttributes,
  PrefixList,
  UpdateGroup,
  WithdrawGroup,
} from '../codec/index.ts';
import type { FsmState } from './fsm.ts';
import type { AddPathDirection, GracefulRestartConfig, Negotiated, RequirableCapability } from './open.ts';

export type FamilyName = 'ipv4-unicast' | 'ipv6-unicast';

/** One neighbour (static: `address`; dynamic: `range`), as the daemon's config describes it. */
export interface PeerConfig {
  /** Identity across reloads: the peer address, or the range of a dynamic neighbour. */
  readonly key: string;
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  /** Remote address of a static neighbour. */
  readonly address?: string | undefined;
  /** Accepted source prefix of a dynamic neighbour (always passive). */
  readonly range?: string | undefined;
  /** Sessions a dynamic neighbour range accepts at once (default 100, like FRR's listen limit). */
  readonly rangeLimit?: number | undefined;
  /** A number, or 'internal' (our AS) / 'external' (any other AS). */
  readonly remoteAs: number | 'internal' | 'external';
  readonly localAddress?: string | undefined;
  /** Remote TCP port (default 179). */
  readonly port?: number | undefined;
  readonly passive?: boolean | undefined;
  /** Proposed hold time in seconds, 0 or 3..65535 (default 90). */
  readonly holdTime?: number | undefined;
  /** Keepalive interval; at most holdTime/3 is used (default holdTime/3). */
  readonly keepaliveTime?: number | undefined;
  /** Base ConnectRetry time in seconds (default 5), doubling on repeated failures up to 120. */
  readonly connectRetryTime?: number | undefined;
  /** The cap of ConnectRetryTime's exponential back-off (seconds; default 120). */
  readonly connectRetryTimeMax?: number | undefined;
  /**
   * IdleHoldTime after the first error (RFC 4271 §8.1.1 DampPeerOscillations; seconds, default
   * 1), doubling on each further error up to idleHoldTimeMax (default 60). BIRD: `error wait time`.
   */
  readonly idleHoldTime?: number | undefined;
  readonly idleHoldTimeMax?: number | undefined;
  /**
   * A session Established this long has its error count forgotten (seconds, default 300; BIRD's
   * `error forget time`).
   */
  readonly errorForgetTime?: number | undefined;
  /** DelayOpen time in seconds (RFC 4271 §8.1.1); 0 or absent disables it. */
  readonly delayOpenTime?: number | undefined;
  readonly families?: readonly FamilyName[] | undefined;
  readonly addPath?: Partial<Record<FamilyName, AddPathDirection>> | undefined;
  readonly extendedMessage?: boolean | undefined;
  readonly enhancedRouteRefresh?: boolean | undefined;
  /**
   * RFC 4724 graceful restart (with the RFC 8538 N bit unless notification is false). Every
   * family of the session is advertised, F bit = forwardingPreserved.
   */
  readonly gracefulRestart?: GracefulRestartConfig | undefined;
  readonly requiredCapabilities?: readonly RequirableCapability[] | undefined;
  /**
   * Maximum prefixes accepted, per family. The first family whose Adj-RIB-In exceeds its own
   * limit stops the session with Cease subcode 1 (RFC 4486 §4), the data carrying that family's
   * AFI/SAFI and limit. After `restartAfter` seconds the session starts again; absent, it stays
   * down until an operator enables or resets it.
   */
  readonly maxPrefixes?: Partial<Record<FamilyName, MaxPrefixLimit>> | undefined;
  /**
   * Whether the Adj-RIB-In keeps pre-policy routes, so an import policy change re-runs on them
   * (soft reconfiguration inbound): 'always' (the default for the session layer on its own), or
   * 'auto': only when the peer did not negotiate route refresh (RFC 2918); otherwise a policy
   * change asks the peer to re-send. The daemon passes 'auto' unless softReconfigurationInbound
   * is configured, as FRR and BIRD keep no pre-policy table by default.
   */
  readonly retainAdjRibIn?: 'always' | 'auto' | undefined;
  /** Start administratively down. */
  readonly shutdown?: boolean | undefined;
}

export interface MaxPrefixLimit {
  readonly limit: number;
  /** Seconds after which a session stopped by this limit restarts; absent: it stays down. */
  readonly restartAfter?: number | undefined;
}

export interface MessageCounters {
  open: number;
  update: number;
  notification: number;
  keepalive: number;
  routeRefresh: number;
}

export interface NotificationRecord {
  readonly direction: 'sent' | 'received';
  readonly code: number;
  readonly subcode: number;
  /** e.g. "Cease / Administrative Shutdown: maintenance" (RFC 9003 message included). */
  readonly text: string;
  readonly at: number;
}

export interface PeerStatus {
  readonly key: string;
  /** The key, or for a session of a dynamic neighbour `key#address`. */
  readonly id: string;
  readonly name: string;
  readonly description?: string | undefined;
  readonly address?: string | undefined;
  readonly range?: string | undefined;
  readonly dynamic: boolean;
  readonly localAs: number;
  /** Configured AS, or the peer's real AS once its OPEN was accepted. */
  readonly remoteAs?: number | undefined;
  readonly state: FsmState;
  readonly adminDown: boolean;
  /** Epoch ms of the last state change. */
  readonly since: number;
  /** Epoch ms the session became Established, while it is. */
  readonly establishedAt?: number | undefined;
  readonly reason?: string | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  readonly remotePort?: number | undefined;
  readonly remoteRouterId?: string | undefined;
  readonly timers: {
    readonly holdTime: number;
    readonly keepaliveTime: number;
    readonly connectRetry: number;
    readonly negotiatedHoldTime?: number | undefined;
    readonly negotiatedKeepalive?: number | undefined;
  };
  readonly capabilities?:
    | { readonly local: string[]; readonly remote: string[]; readonly negotiated: string[] }
    | undefined;
  readonly families?: string[] | undefined;
  readonly counters: { readonly sent: MessageCounters; readonly received: MessageCounters };
  /** Prefixes in the Adj-RIB-In, per family name, and in total. */
  readonly prefixesReceived: number;
  readonly prefixesReceivedByFamily: Record<string, number>;
  readonly prefixesSent: number;
  readonly lastError?: NotificationRecord | undefined;
  readonly lastErrorSent?: NotificationRecord | undefined;
  readonly lastErrorReceived?: NotificationRecord | undefined;
  /** Failures since the last manual start (drives the back-off). */
  readonly connectRetryCounter: number;
  /** UPDATE bytes waiting to be processed, and whether reading is paused for back-pressure. */
  readonly inputQueueBytes: number;
  /** Largest input queue of the current connection, and how often reading was paused on it. */
  readonly inputQueuePeakBytes: number;
  readonly inputPaused: boolean;
  readonly inputPauses: number;
  /** Reads after which reading was to pause, so that the sender packs its UPDATEs (read-moderation.ts). */
  readonly inputModerations: number;
  /** UPDATE bytes packed for the peer but not yet taken by the socket, and their peak. */
  readonly outputQueueBytes: number;
  readonly outputQueuePeakBytes: number;
  /** Routes merged in the output backlog (a slow peer), waiting to be packed, and their peak. */
  readonly outputBacklogRoutes: number;
  readonly outputBacklogPeakRoutes: number;
}

/**
 * Why an Established session ended, in the terms of RFC 4724 §4.2 / RFC 8538 §4 (the same names
 * as src/bgp/rib/graceful-restart.ts SessionLossCause):
 * - 'tcp-failure': the connection failed or the peer closed it without a NOTIFICATION;
 * - 'hold-timer': our hold timer expired;
 * - 'notification': a NOTIFICATION other than Hard Reset was sent or received;
 * - 'hard-reset': Cease/Hard Reset (RFC 8538 §3) was sent or received;
 * - 'admin': we stopped the session with a plain Cease and N was not negotiated.
 */
export type SessionLossCause = 'tcp-failure' | 'hold-timer' | 'notification' | 'hard-reset' | 'admin';

export type SpeakerEvent =
  | {
      readonly type: 'state';
      readonly peer: string;
      readonly name: string;
      readonly address?: string | undefined;
      readonly from: FsmState;
      readonly to: FsmState;
      readonly reason?: string | undefined;
      readonly at: number;
      /** Only when leaving Established: why the session ended. */
      readonly lossCause?: SessionLossCause | undefined;
      /**
       * Only when leaving Established: whether the peer's routes may be kept as stale (helper
       * side, RFC 4724 §4.2): both sides advertised graceful restart, the peer listed at least
       * one of the session's families with a non-zero Restart Time, and the loss was a TCP
       * failure, a hold timer expiry, or (RFC 8538 §4, N negotiated both ways) a NOTIFICATION
       * other than Hard Reset. The session layer still clears its Adj-RIB-In and publishes the
       * withdrawals, in a batch marked `sessionDown` (see AdjRibInBatch).
       */
      readonly gracefulRestartEligible?: boolean | undefined;
      /** Only when leaving Established: the graceful-restart capability of the peer's last OPEN. */
      readonly peerGracefulRestart?: Extract<Capability, { kind: 'graceful-restart' }> | undefined;
    }
  | {
      readonly type: 'notification';
      readonly peer: string;
      readonly name: string;
      readonly notification: NotificationRecord;
    }
  /**
   * RFC 7313 §4 demarcation of a peer's re-advertisement of one family: 'begin' (BoRR) and 'end'
   * (EoRR). Emitted in order with the Adj-RIB-In batches: the changes received before the marker
   * are published before it. At 'begin' the session layer forgets the family's routes without
   * withdrawing them, so every re-advertised route is published as an announcement; a consumer
   * marks the peer's routes of the family stale at 'begin' and removes those still stale at 'end'.
   */
  | {
      readonly type: 'route-refresh';
      readonly peer: string;
      readonly family: FamilyKey;
      readonly phase: 'begin' | 'end';
      readonly at: number;
    }
  | {
      readonly type: 'error';
      readonly peer?: string | undefined;
      readonly name?: string | undefined;
      readonly message: string;
      readonly at: number;
    };

/** What an ExportSource knows of the peer it computes routes for. */
export interface ExportPeer {
  readonly id: string;
  readonly address: string;
  readonly localAs: number;
  readonly peerAs: number;
  readonly internal: boolean;
  /** Our end of the TCP session: the next hop for next-hop-self. */
  readonly localAddress: string;
  readonly families: readonly FamilyKey[];
  readonly negotiated: Negotiated;
}

/** Routes to advertise and withdraw, in the codec's packer input form. */
export interface ExportUpdate {
  readonly announce: readonly UpdateGroup[];
  readonly withdraw: readonly WithdrawGroup[];
}

/**
 * Adj-RIB-Out feed. The Speaker asks for the full table when a session comes up (End-of-RIB per
 * family follows), and the source pushes incremental changes through the sink it is attached to.
 * The RIB engineer replaces the Speaker's originated-routes source with the Loc-RIB.
 */
export interface ExportSource {
  initial(peer: ExportPeer): ExportUpdate;
  /**
   * Registers the sink; the source calls it with a function that computes the update for one
   * peer (or null for nothing). Returns a detach function.
   */
  attach(sink: (changes: (peer: ExportPeer) => ExportUpdate | null) => void): () => void;
  /** Prefixes the source would advertise to this peer (for `prefixesSent`). */
  count?(peer: ExportPeer): number;
  /**
   * Resolves once the local table is complete enough to send (RFC 4724 §4.1: a restarting
   * speaker defers its initial table and End-of-RIB until its routes are known). Without it, a
   * new session sends at once.
   */
  whenReady?(): Promise<void> | undefined;
  /**
   * Called as soon as a session is Established, before whenReady() and the initial table: the
   * peer's own UPDATEs may arrive while our table waits, and the source must know the peer by then.
   */
  sessionUp?(peer: ExportPeer): void;
}

/** A route to originate (Speaker.setOriginated). */
export interface OriginatedRoute {
  /** 'ADDR/LEN' */
  readonly prefix: string;
  /** Optional attributes; ORIGIN defaults to IGP, AS_PATH is built per peer. */
  readonly communities?: readonly number[] | undefined;
  readonly largeCommunities?: readonly (readonly [number, number, number])[] | undefined;
  readonly med?: number | undefined;
  readonly localPref?: number | undefined;
  /** Next hop for iBGP peers; eBGP peers always get next-hop-self. */
  readonly nextHop?: string | undefined;
}

export type { PathAttributes, PrefixList };
