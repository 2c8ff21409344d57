// Public API of kernel route programming (see docs/dataplane.md).
export { FakeRoutes } from './fake-routes.ts';
export { IpBatchRoutes } from './ip-batch-routes.ts';
export type {
  DataplaneLogger,
  KernelRoutes,
  LinkEvent,
  RouteOpFailure,
  RouteWatchHandlers,
} from './kernel-routes.ts';
export {
  formatRouteArgs,
  type KernelRoute,
  type NextHop,
  normalizeRoute,
  type RouteOp,
  type RouteSpec,
  type RouteType,
  RT_TABLE_MAIN,
  RTPROT_BGP,
  routeKey,
} from './model.ts';
export { NetlinkRoutes, type NetlinkRoutesOptions } from './netlink-routes.ts';
export { planRouteSync, type RoutePlan } from './plan.ts';
export {
  type RouteFailureInfo,
  RouteSyncer,
  type RouteSyncerOptions,
  type RouteSyncerStats,
} from './syncer.ts';
