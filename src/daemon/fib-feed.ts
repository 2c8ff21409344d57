// The seam between routing (Loc-RIB, best path, ECMP) and the forwarding plane (kernel routes,
// IP-in-IP). Routing publishes what should be forwarded; the dataplane extension consumes it and
// publishes the locally discovered workload prefixes back for origination. Neither side imports the
// other's internals, and a later consumer (a looking glass, metrics) can subscribe to the same feed.
import type { Observable } from 'rxjs';
import type { OriginatedRoute } from '../bgp/session/types.ts';

/** One next hop of a route to forward: the BGP next hop, and the peer it was learned from. */
export interface FibNextHop {
  /** The BGP NEXT_HOP (or MP_REACH next hop), as text. */
  readonly address: string;
  /** The address of the BGP peer the path came from (for IP-in-IP: the remote host). */
  readonly peer: string;
}

/** The forwarding entry for one prefix: its best path, plus the ECMP paths when multipath applies. */
export interface FibRoute {
  /** 'ADDR/LEN', IPv4 or IPv6. Text at this boundary: the kernel executors take text. */
  readonly prefix: string;
  readonly nextHops: readonly FibNextHop[];
}

/** A batch of changes, in the order routing decided them. */
export interface FibBatch {
  /** Prefixes whose forwarding entry is new or changed. */
  readonly upserts: readonly FibRoute[];
  /** Prefixes that no longer have a usable path. */
  readonly removals: readonly string[];
  /**
   * True once the initial table is complete (End-of-RIB received, or its timer expired, from every
   * peer that was up at start). Graceful restart: stale kernel routes may be pruned only then.
   */
  readonly initialComplete: boolean;
}

/** Published by routing; consumed by the dataplane extension. */
export interface FibFeed {
  /** Every change from now on. */
  readonly changes: Observable<FibBatch>;
  /** The whole current table, for a consumer that starts (or resyncs) late. */
  snapshot(): FibRoute[];
  /** Whether the initial table is complete (see FibBatch.initialComplete). */
  initialComplete(): boolean;
}

/** What an extension may do back to the routing side. */
export interface OriginationSink {
  /**
   * Replaces the routes this source originates (e.g. 'workloads'); they are merged with the config's
   * `originate` list and with other sources. An empty list withdraws them all.
   */
  setOriginated(source: string, routes: readonly OriginatedRoute[]): void;
}

/** Passed to each DaemonExtension at start. */
export interface ExtensionContext {
  readonly fib: FibFeed;
  readonly origination: OriginationSink;
}
