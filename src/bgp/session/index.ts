// Public API of the session layer (RFC 4271 §8 FSM, transport, peers, Adj-RIB-In, Speaker).
export type { AdjRibInBatch, AdjRibInEntry, AdjRibInView, PeerKey, UpdateOutcome } from './adj-rib-in.ts';
export { AdjRibIn } from './adj-rib-in.ts';
export { AttributeStore, attributeKeyInto, type StoredAttributes } from './attr-store.ts';
export {
  type CollisionInput,
  type CollisionLoser,
  type ConnectionDirection,
  resolveCollision,
} from './collision.ts';
export {
  backoffSeconds,
  connectRetrySeconds,
  defaultFsmConfig,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmEventType,
  FsmEventTypes,
  type FsmReason,
  type FsmResult,
  type FsmSnapshot,
  type FsmState,
  FsmStates,
  idleHoldSeconds,
  initialSnapshot,
  jitter,
  type NotificationInfo,
  transition,
} from './fsm.ts';
export {
  type AddPathDirection,
  buildOpen,
  type GracefulRestartConfig,
  type LocalOpenConfig,
  localCapabilities,
  type Negotiated,
  type OpenValidation,
  type PeerExpectation,
  type RequirableCapability,
  validateOpen,
} from './open.ts';
export { OriginatedRoutes } from './originated.ts';
export { QUEUE_HIGH, QUEUE_LOW, SLICE_MS } from './peer.ts';
export { PrefixTable } from './prefix-table.ts';
export {
  checkPeerConfig,
  type PeerUpdateResult,
  type RouteQuery,
  type RouteView,
  Speaker,
  type SpeakerOptions,
} from './speaker.ts';
export {
  type ConnectOptions,
  configureSocket,
  defaultSocketFactory,
  type ListenOptions,
  normalizeAddress,
  parseRange,
  rangeContains,
  type SocketFactory,
} from './transport.ts';
export type {
  ExportPeer,
  ExportSource,
  ExportUpdate,
  FamilyName,
  MaxPrefixLimit,
  MessageCounters,
  NotificationRecord,
  OriginatedRoute,
  PeerConfig,
  PeerStatus,
  SessionLossCause,
  SpeakerEvent,
} from './types.ts';
