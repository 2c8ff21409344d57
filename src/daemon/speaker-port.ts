// What the daemon needs from the BGP speaker. The daemon, the control socket and the CLI depend
// on this interface only; speaker-adapter.ts maps it onto the session layer's Speaker, so either
// side can change without the other, and tests drive the daemon with an in-memory speaker.
import type { Observable } from 'rxjs';
import type { RouteDetail } from '../bgp/rib/show.ts';
import type { Config, NeighborConfig, OriginatedPrefix } from '../config/types.ts';
import type { RoutingHub } from './routing-hub.ts';

export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export interface NotificationRecord {
  direction: 'sent' | 'received';
  code: number;
  subcode: number;
  /** Decoded text, e.g. "Cease / Administrative Shutdown: maintenance" (RFC 9003 message included). */
  text: string;
  at: number;
}

export interface MessageCounters {
  open: number;
  update: number;
  notification: number;
  keepalive: number;
  routeRefresh: number;
}

export interface PeerStatus {
  /** Config key (address or range) of the neighbour this session belongs to. */
  key: string;
  /** Unique per session: the key, or for a dynamic neighbour the key plus the remote address. */
  id: string;
  name: string;
  /** Remote address; absent for a dynamic neighbour with no session yet. */
  address?: string | undefined;
  range?: string | undefined;
  description?: string | undefined;
  localAs: number;
  /** Configured or, once OPEN is received, actual remote AS. */
  remoteAs?: number | undefined;
  state: SessionState;
  /** Administratively shut down (config flag or `tsbgp neighbor X shutdown`). */
  adminDown: boolean;
  /** Epoch ms of the last state change. */
  since: number;
  /** Why the last transition happened, e.g. "HoldTimerExpired". */
  reason?: string | undefined;
  prefixesReceived: number;
  prefixesSent: number;
  lastError?: NotificationRecord | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
  remotePort?: number | undefined;
  remoteRouterId?: string | undefined;
  /** Timers in seconds: configured and negotiated (RFC 4271 §4.2). */
  timers: {
    holdTime: number;
    keepaliveTime: number;
    connectRetry: number;
    negotiatedHoldTime?: number | undefined;
    negotiatedKeepalive?: number | undefined;
  };
  /** Capability names: what we advertised, what the peer advertised, what is in use. */
  capabilities?: { local: string[]; remote: string[]; negotiated: string[] } | undefined;
  families?: string[] | undefined;
  counters?: { sent: MessageCounters; received: MessageCounters } | undefined;
}

export interface RouteView {
  prefix: string;
  /** Peer id (see PeerStatus.id) the route was received from. */
  peer: string;
  family: string;
  nextHop?: string | undefined;
  asPath: string;
  origin: 'igp' | 'egp' | 'incomplete';
  med?: number | undefined;
  localPref?: number | undefined;
  communities: string[];
  largeCommunities: string[];
  pathId?: number | undefined;
  /** Epoch ms when received. */
  since?: number | undefined;
}

export interface RouteQuery {
  /** Peer id, key, name or address. */
  peer?: string | undefined;
  /** Exact prefix, or an address: routes whose prefix contains it. */
  prefix?: string | undefined;
  limit?: number | undefined;
}

export type SpeakerEvent =
  | {
      type: 'state';
      peer: string;
      name: string;
      address?: string | undefined;
      from: SessionState;
      to: SessionState;
      reason?: string | undefined;
      at: number;
    }
  | { type: 'notification'; peer: string; name: string; notification: NotificationRecord }
  | { type: 'error'; peer?: string | undefined; name?: string | undefined; message: string; at: number };

export interface RefreshOutcome {
  /** Session id (see PeerStatus.id). */
  session: string;
  /** Family names refreshed, e.g. 'ipv4-unicast'. */
  families: string[];
}

export interface PeerUpdateOutcome {
  reset: boolean;
  /** The changed fields that forced the reset. */
  fields: readonly string[];
}

export interface SpeakerPort {
  /** Listens and starts every neighbour added so far (those not shut down). */
  start(): Promise<void>;
  addPeer(neighbor: NeighborConfig): void;
  /** Sends a Cease (RFC 4486 subcode 3, Peer De-configured) with `message` and forgets the peer. */
  removePeer(key: string, message: string): Promise<void>;
  /**
   * Applies a changed neighbour config, the `shutdown` flag included. The speaker decides which
   * changes need the session reset (Cease subcode 6, Other Configuration Change) and says so.
   */
  updatePeer(neighbor: NeighborConfig): Promise<PeerUpdateOutcome>;
  /** Cease, subcode 2 (Administrative Shutdown) with an RFC 9003 message; stays down until enabled. */
  shutdownPeer(id: string, message: string): Promise<void>;
  enablePeer(id: string): void;
  /** Cease, subcode 4 (Administrative Reset); the session re-forms. */
  resetPeer(id: string, message: string): Promise<void>;
  /**
   * Soft refresh without a session reset. 'in': inbound soft reconfiguration, re-importing the
   * retained Adj-RIB-In, or else sending ROUTE-REFRESH (RFC 2918) per negotiated family. 'out':
   * re-sends the Adj-RIB-Out (as FRR's `clear bgp X soft out`). Returns, per matching session,
   * the families refreshed (empty: not Established, or no route refresh negotiated).
   */
  refreshPeer?(id: string, direction: 'in' | 'out'): RefreshOutcome[];
  status(): PeerStatus[];
  /** With a peer: its received routes (Adj-RIB-In); without: the Loc-RIB's best and ECMP paths. */
  routes(query: RouteQuery): RouteView[];
  /**
   * Every path of a prefix (or of the longest match of an address) with the best-path step that
   * decided against it (`tsbgp show route PREFIX --detail`). Absent: the speaker has no Loc-RIB.
   */
  routeDetails?(prefix: string): RouteDetail[];
  setOriginated(routes: OriginatedPrefix[]): void;
  /** Route storage and its bytes (`tsbgp show memory`). */
  memory?(): SpeakerMemory;
  /** Connects the speaker's routing engine to the daemon's FibFeed / OriginationSink hub. */
  attachRouting?(hub: RoutingHub): void;
  /**
   * The config a reload is about to apply (same local AS, router-id and listen addresses), for
   * settings that neighbours inherit from the top level, such as the graceful-restart time.
   */
  setConfig?(config: Config): void;
  readonly events: Observable<SpeakerEvent>;
  /** Cease (Administrative Shutdown) to every peer, closes listeners. */
  stop(message: string): Promise<void>;
}

/** Builds a speaker for a config; the daemon calls it at start and when the local AS or router-id changes. */
export type SpeakerFactory = (config: Config) => SpeakerPort;

/** The Loc-RIB and Adj-RIB-Out per family (RoutingEngine.memory()). */
export interface RibMemory {
  readonly attributeSets: number;
  readonly families: readonly {
    readonly family: string;
    readonly prefixes: number;
    readonly paths: number;
    readonly locRibBytes: number;
    readonly updateGroups: number;
    readonly adjRibOutBytes: number;
  }[];
}

/** What the speaker holds, as BIRD's `show memory`: the session layer's tables and the RIB's. */
export interface SpeakerMemory {
  readonly rib: RibMemory;
  /** Sessions whose Adj-RIB-In keeps pre-policy routes (soft reconfiguration inbound). */
  readonly adjRibInRetained: number;
  readonly adjRibInBytes: number;
  /** Attribute sets interned by the session layer (received, before import). */
  readonly sessionAttributeSets: number;
}
