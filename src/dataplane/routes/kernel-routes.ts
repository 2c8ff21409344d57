// The one interface every route executor implements: the netlink socket (default), a persistent
// `ip -batch` process, and an in-memory fake for unit tests. The syncer depends on this only.
import type { KernelRoute, RouteOp } from './model.ts';

export interface RouteOpFailure {
  /** Index of the op in the list given to apply(). */
  index: number;
  /** Positive errno (ESRCH for a delete of a route that is already gone). */
  errno: number;
  message: string;
}

export interface LinkEvent {
  index: number;
  name: string;
  mtu: number;
  up: boolean;
  operUp: boolean;
  deleted: boolean;
}

export interface RouteWatchHandlers {
  /**
   * Route added/changed (`deleted` false) or deleted. Only routes whose protocol passes
   * `protocolFilter` are decoded and delivered, so our own bulk programming costs little here.
   */
  onRoute?(route: KernelRoute, deleted: boolean): void;
  protocolFilter?(protocol: number): boolean;
  onLink?(link: LinkEvent): void;
  /** Events were lost (ENOBUFS): the consumer must resync from a dump. */
  onOverrun?(): void;
}

export interface KernelRoutes {
  /** Short name for logs and benchmarks (`netlink`, `ip-batch`, `fake`). */
  readonly name: string;
  /**
   * Applies the ops in order. A refused op never stops the others; the failures are returned.
   * Rejects only when the channel itself broke (for netlink: ENOBUFS on replies), in which case the
   * outcome of the batch is unknown and the caller must resync from a dump.
   */
  apply(ops: readonly RouteOp[]): Promise<RouteOpFailure[]>;
  /** Every unicast/blackhole/unreachable/prohibit route, both families, all tables. */
  dump(): Promise<KernelRoute[]>;
  /** Subscribes to kernel route and link events; returns the unsubscribe function. */
  watch(handlers: RouteWatchHandlers): () => void;
  /** Resolves when the subscription is live (dump after this to miss nothing). */
  whenWatching(): Promise<void>;
  close(): Promise<void>;
}

/** The logging the dataplane needs; a bunyan Logger satisfies it. */
export interface DataplaneLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: DataplaneLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
