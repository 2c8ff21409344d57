// The BGP finite state machine of RFC 4271 §8 as a pure function: (snapshot, event, config) ->
// (snapshot, actions). It owns no sockets and no timers; the peer executor (peer.ts) turns the
// actions into I/O and turns I/O into events. Every transition that ends a session names a reason
// (as GoBGP's fsmStateReason and OpenBGPD's session engine do), so logs and `show neighbor` can say
// why a session went down.
//
// Deliberate deviations from the letter of §8.2.2, chosen to behave as operators of BIRD, FRR and
// OpenBGPD expect:
// - A received NOTIFICATION in OpenSent is not answered with an FSM-error NOTIFICATION.
// - A header error on an established session sends the Message Header Error it found (§6.1),
//   not an FSM error.
// - A failed TCP connect in Connect goes to Active, not Idle: the session keeps accepting the peer's
//   connections while ConnectRetryTimer (backed off by the incremented counter) runs, as BIRD and
//   FRR do. Going to Idle would refuse every incoming connection for the whole idle hold, and a peer
//   that only connects (ExaBGP by default) could then never reach us. Likewise a connection the
//   peer closes in OpenSent counts as a failure, so a peer that accepts and closes (FRR, GoBGP and
//   OpenBGPD with the neighbour shut down) is retried with back-off, not at the base interval.
// - Other failures that end in Idle increment ConnectRetryCounter and start the IdleHoldTimer, whose duration backs off exponentially with the counter (§8.1.1
//   "DampPeerOscillations"); IdleHoldTimer_Expires restarts the session as an AutomaticStart does.
//   ManualStop and AutomaticStop do not schedule a restart. ManualStart and ManualStop clear the
//   counter; the executor also forgets it after a long Established period.
// - A peer configured passive (BIRD `passive on`, FRR `neighbor X passive`) never initiates TCP:
//   in Active its ConnectRetryTimer is not started.
// - Collision detection (§6.8) is decided outside (collision.ts) because it compares two
//   connections; the losing connection receives OpenCollisionDump. A second OPEN on a connection
//   already in OpenConfirm is an FSM error.

export const FsmStates = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const;
export type FsmState = (typeof FsmStates)[number];

/** A NOTIFICATION as the FSM sees it: code, subcode and raw data (RFC 4271 §4.5). */
export interface NotificationInfo {
  code: number;
  subcode: number;
  data?: Uint8Array;
}

/** The events of RFC 4271 §8.1, by their RFC names; each carries only what the FSM needs. */
export type FsmEvent =
  | { type: 'ManualStart' }
  | { type: 'ManualStart_with_PassiveTcpEstablishment' }
  | { type: 'AutomaticStart' }
  | { type: 'AutomaticStart_with_PassiveTcpEstablishment' }
  /** Administrative stop; `notification` is the Cease to send (RFC 4486 subcode, RFC 9003 data). */
  | { type: 'ManualStop'; notification?: NotificationInfo }
  /** Automatic stop (e.g. maximum prefixes, RFC 4486 subcode 1). */
  | { type: 'AutomaticStop'; notification?: NotificationInfo }
  | { type: 'ConnectRetryTimer_Expires' }
  | { type: 'HoldTimer_Expires' }
  | { type: 'KeepaliveTimer_Expires' }
  | { type: 'DelayOpenTimer_Expires' }
  | { type: 'IdleHoldTimer_Expires' }
  /** Our outgoing connection completed (Event 16). */
  | { type: 'Tcp_CR_Acked' }
  /** An incoming connection was accepted for this peer (Event 17). */
  | { type: 'TcpConnectionConfirmed' }
  | { type: 'TcpConnectionFails' }
  /** A valid OPEN arrived; `holdTime` is the negotiated hold time (lower of both, §4.2). */
  | { type: 'BGPOpen'; holdTime: number; keepaliveTime?: number }
  | { type: 'BGPHeaderErr'; notification: NotificationInfo }
  | { type: 'BGPOpenMsgErr'; notification: NotificationInfo }
  | { type: 'OpenCollisionDump' }
  | { type: 'NotifMsgVerErr'; notification: NotificationInfo }
  | { type: 'NotifMsg'; notification: NotificationInfo }
  | { type: 'KeepAliveMsg' }
  | { type: 'UpdateMsg' }
  | { type: 'UpdateMsgErr'; notification: NotificationInfo };

export type FsmEventType = FsmEvent['type'];

export const FsmEventTypes: readonly FsmEventType[] = [
  'ManualStart',
  'ManualStart_with_PassiveTcpEstablishment',
  'AutomaticStart',
  'AutomaticStart_with_PassiveTcpEstablishment',
  'ManualStop',
  'AutomaticStop',
  'ConnectRetryTimer_Expires',
  'HoldTimer_Expires',
  'KeepaliveTimer_Expires',
  'DelayOpenTimer_Expires',
  'IdleHoldTimer_Expires',
  'Tcp_CR_Acked',
  'TcpConnectionConfirmed',
  'TcpConnectionFails',
  'BGPOpen',
  'BGPHeaderErr',
  'BGPOpenMsgErr',
  'OpenCollisionDump',
  'NotifMsgVerErr',
  'NotifMsg',
  'KeepAliveMsg',
  'UpdateMsg',
  'UpdateMsgErr',
];

/** Why a transition happened; stable strings for logs, events and the control socket. */
export type FsmReason =
  | 'ManualStart'
  | 'AutomaticStart'
  | 'ManualStop'
  | 'AutomaticStop'
  | 'ConnectRetryTimerExpired'
  | 'HoldTimerExpired'
  | 'DelayOpenTimerExpired'
  | 'IdleHoldTimerExpired'
  | 'TcpConnected'
  | 'TcpConnectionFailed'
  | 'OpenReceived'
  | 'KeepaliveReceived'
  | 'HeaderError'
  | 'OpenMessageError'
  | 'UpdateMessageError'
  | 'CollisionResolution'
  | 'NotificationReceived'
  | 'UnsupportedVersionNotificationReceived'
  | 'UnexpectedEvent';

export type FsmAction =
  | { type: 'InitiateTcp' }
  | { type: 'DropTcp'; reason: FsmReason }
  | { type: 'StartConnectRetryTimer'; seconds: number }
  | { type: 'StopConnectRetryTimer' }
  | { type: 'StartHoldTimer'; seconds: number }
  | { type: 'StopHoldTimer' }
  | { type: 'StartKeepaliveTimer'; seconds: number }
  | { type: 'StopKeepaliveTimer' }
  | { type: 'StartDelayOpenTimer'; seconds: number }
  | { type: 'StopDelayOpenTimer' }
  | { type: 'StartIdleHoldTimer'; seconds: number }
  | { type: 'StopIdleHoldTimer' }
  | { type: 'SendOpen' }
  | { type: 'SendKeepalive' }
  | { type: 'SendNotification'; notification: NotificationInfo; reason: FsmReason }
  /** Release the session's resources: Adj-RIB-In routes are withdrawn, counters of the session reset. */
  | { type: 'ReleaseResources'; reason: FsmReason }
  | { type: 'SessionEstablished' };

export type FsmActionType = FsmAction['type'];

/** The FSM's own mutable data (§8 "session attributes"), kept as an immutable value. */
export interface FsmSnapshot {
  readonly state: FsmState;
  readonly connectRetryCounter: number;
  readonly delayOpenRunning: boolean;
  /** Negotiated hold time once an OPEN was accepted; 0 means no hold timer (§4.2). */
  readonly holdTime: number;
  readonly keepaliveTime: number;
}

export interface FsmConfig {
  /** Never initiate TCP (BIRD `passive on`); dynamic neighbours are always passive. */
  readonly passive: boolean;
  /** Wait DelayOpenTime after TCP is up before sending OPEN (§8.1.1 DelayOpen). */
  readonly delayOpen: boolean;
  readonly delayOpenTime: number;
  /** Base ConnectRetryTime; backs off exponentially with ConnectRetryCounter up to the cap. */
  readonly connectRetryTime: number;
  readonly connectRetryTimeMax: number;
  /** Base IdleHoldTime after a failure; backs off exponentially up to the cap. */
  readonly idleHoldTime: number;
  readonly idleHoldTimeMax: number;
  /** The "large value" for the hold timer while waiting for OPEN; §8.2.2 suggests 4 minutes. */
  readonly largeHoldTime: number;
}

export const defaultFsmConfig: FsmConfig = {
  passive: false,
  delayOpen: false,
  delayOpenTime: 5,
  connectRetryTime: 5,
  connectRetryTimeMax: 120,
  idleHoldTime: 1,
  idleHoldTimeMax: 60,
  largeHoldTime: 240,
};

export const initialSnapshot: FsmSnapshot = {
  state: 'Idle',
  connectRetryCounter: 0,
  delayOpenRunning: false,
  holdTime: 0,
  keepaliveTime: 0,
};

export interface FsmResult {
  readonly snapshot: FsmSnapshot;
  readonly actions: readonly FsmAction[];
  /** Set when the event caused a state change or a session-ending error. */
  readonly reason?: FsmReason;
}

/** Exponential back-off: base * 2^(counter-1), capped; counter 0 gives the base. */
export function backoffSeconds(base: number, max: number, counter: number): number {
  const exp = Math.max(0, Math.min(counter - 1, 30));
  return Math.min(max, base * 2 ** exp);
}

export function connectRetrySeconds(cfg: FsmConfig, counter: number): number {
  return backoffSeconds(cfg.connectRetryTime, cfg.connectRetryTimeMax, counter);
}

export function idleHoldSeconds(cfg: FsmConfig, counter: number): number {
  return backoffSeconds(cfg.idleHoldTime, cfg.idleHoldTimeMax, counter);
}

/**
 * RFC 4271 §10: timers driven by a single value are jittered by a random factor in [0.75, 1.0].
 * `random` is in [0, 1) so tests can pin it.
 */
export function jitter(seconds: number, random: number): number {
  return seconds * (0.75 + 0.25 * random);
}

/** RFC 4271 §4.5 / RFC 6608 codes used by the FSM itself. */
export const Notif = {
  holdTimerExpired: { code: 4, subcode: 0 },
  fsmUnexpectedInOpenSent: { code: 5, subcode: 1 },
  fsmUnexpectedInOpenConfirm: { code: 5, subcode: 2 },
  fsmUnexpectedInEstablished: { code: 5, subcode: 3 },
  ceaseAdminShutdown: { code: 6, subcode: 2 },
  ceaseAdminReset: { code: 6, subcode: 4 },
  ceaseCollision: { code: 6, subcode: 7 },
  ceaseOther: { code: 6, subcode: 0 },
} as const satisfies Record<string, NotificationInfo>;

function isStart(t: FsmEventType): boolean {
  return (
    t === 'ManualStart' ||
    t === 'AutomaticStart' ||
    t === 'ManualStart_with_PassiveTcpEstablishment' ||
    t === 'AutomaticStart_with_PassiveTcpEstablishment'
  );
}

function isPassiveStart(t: FsmEventType): boolean {
  return (
    t === 'ManualStart_with_PassiveTcpEstablishment' || t === 'AutomaticStart_with_PassiveTcpEstablishment'
  );
}

/**
 * Builds the common "go to Idle" tail: stop every timer, release resources, drop TCP, and (for
 * failures) bump the counter and start the back-off IdleHoldTimer.
 */
function toIdle(
  s: FsmSnapshot,
  cfg: FsmConfig,
  reason: FsmReason,
  opts: { notification?: NotificationInfo; counter: 'increment' | 'reset' | 'keep' },
): FsmResult {
  const actions: FsmAction[] = [];
  if (opts.notification) actions.push({ type: 'SendNotification', notification: opts.notification, reason });
  actions.push(
    { type: 'StopConnectRetryTimer' },
    { type: 'StopDelayOpenTimer' },
    { type: 'StopHoldTimer' },
    { type: 'StopKeepaliveTimer' },
    { type: 'ReleaseResources', reason },
    { type: 'DropTcp', reason },
  );
  const counter =
    opts.counter === 'increment'
      ? s.connectRetryCounter + 1
      : opts.counter === 'reset'
        ? 0
        : s.connectRetryCounter;
  // A stopped session stays down; a failed one restarts after a backed-off idle hold.
  if (reason !== 'ManualStop' && reason !== 'AutomaticStop') {
    actions.push({ type: 'StartIdleHoldTimer', seconds: idleHoldSeconds(cfg, Math.max(counter, 1)) });
  }
  return {
    snapshot: {
      state: 'Idle',
      connectRetryCounter: counter,
      delayOpenRunning: false,
      holdTime: 0,
      keepaliveTime: 0,
    },
    actions,
    reason,
  };
}

function stay(s: FsmSnapshot, actions: FsmAction[] = []): FsmResult {
  return { snapshot: s, actions };
}

function keepaliveFor(hold: number, requested?: number): number {
  const third = Math.floor(hold / 3);
  return requested !== undefined && requested > 0 ? Math.min(requested, third) : third;
}

/** Timers and snapshot for a session that accepted an OPEN (OpenSent -> OpenConfirm, §8.2.2). */
function openAccepted(s: FsmSnapshot, hold: number, keepalive: number, pre: FsmAction[]): FsmResult {
  const actions: FsmAction[] = [...pre, { type: 'SendKeepalive' }];
  if (hold > 0) {
    actions.push(
      { type: 'StartKeepaliveTimer', seconds: keepalive },
      { type: 'StartHoldTimer', seconds: hold },
    );
  } else {
    actions.push({ type: 'StopKeepaliveTimer' }, { type: 'StopHoldTimer' });
  }
  return {
    snapshot: {
      ...s,
      state: 'OpenConfirm',
      delayOpenRunning: false,
      holdTime: hold,
      keepaliveTime: keepalive,
    },
    actions,
    reason: 'OpenReceived',
  };
}

function sendOpen(s: FsmSnapshot, cfg: FsmConfig, reason: FsmReason): FsmResult {
  return {
    snapshot: { ...s, state: 'OpenSent', delayOpenRunning: false },
    actions: [
      { type: 'StopConnectRetryTimer' },
      { type: 'StopDelayOpenTimer' },
      { type: 'SendOpen' },
      { type: 'StartHoldTimer', seconds: cfg.largeHoldTime },
    ],
    reason,
  };
}

function ceaseFor(e: { notification?: NotificationInfo }, fallback: NotificationInfo): NotificationInfo {
  return e.notification ?? fallback;
}

/** The FSM transition function. Pure: the same inputs always give the same result. */
export function transition(s: FsmSnapshot, e: FsmEvent, cfg: FsmConfig): FsmResult {
  switch (s.state) {
    case 'Idle':
      return idle(s, e, cfg);
    case 'Connect':
    case 'Active':
      return connectOrActive(s, e, cfg);
    case 'OpenSent':
      return openSent(s, e, cfg);
    case 'OpenConfirm':
      return openConfirm(s, e, cfg);
    case 'Established':
      return established(s, e, cfg);
  }
}

function idle(s: FsmSnapshot, e: FsmEvent, cfg: FsmConfig): FsmResult {
  if (isStart(e.type) || e.type === 'IdleHoldTimer_Expires') {
    // ManualStart clears the counter (§8.2.2 Idle); an automatic restart keeps it so back-off grows.
    const counter =
      e.type === 'ManualStart' || e.type === 'ManualStart_with_PassiveTcpEstablishment'
        ? 0
        : s.connectRetryCounter;
    const base: FsmSnapshot = { ...initialSnapshot, connectRetryCounter: counter };
    const reason: FsmReason =
      e.type === 'IdleHoldTimer_Expires'
        ? 'IdleHoldTimerExpired'
        : e.type.startsWith('Manual')
          ? 'ManualStart'
          : 'AutomaticStart';
    if (cfg.passive || isPassiveStart(e.type)) {
      const actions: FsmAction[] = [{ type: 'StopIdleHoldTimer' }];
      if (!cfg.passive)
        actions.push({ type: 'StartConnectRetryTimer', seconds: connectRetrySeconds(cfg, counter) });
      return { snapshot: { ...base, state: 'Active' }, actions, reason };
    }
    return {
      snapshot: { ...base, state: 'Connect' },
      actions: [
        { type: 'StopIdleHoldTimer' },
        { type: 'StartConnectRetryTimer', seconds: connectRetrySeconds(cfg, counter) },
        { type: 'InitiateTcp' },
      ],
      reason,
    };
  }
  if (e.type === 'ManualStop') {
    // §8.2.2: ignored in Idle, but an administrative stop also cancels a pending automatic restart.
    return { snapshot: { ...s, connectRetryCounter: 0 }, actions: [{ type: 'StopIdleHoldTimer' }] };
  }
  if (e.type === 'TcpConnectionConfirmed' || e.type === 'Tcp_CR_Acked') {
    // A connection arriving while Idle is refused (§8.2.2 Idle: "refuses all incoming connections").
    return stay(s, [{ type: 'DropTcp', reason: 'UnexpectedEvent' }]);
  }
  return stay(s);
}

function connectOrActive(s: FsmSnapshot, e: FsmEvent, cfg: FsmConfig): FsmResult {
  const inConnect = s.state === 'Connect';
  switch (e.type) {
    case 'ManualStart':
    case 'AutomaticStart':
    case 'ManualStart_with_PassiveTcpEstablishment':
    case 'AutomaticStart_with_PassiveTcpEstablishment':
    case 'IdleHoldTimer_Expires':
      return stay(s);
    case 'ManualStop':
      // No OPEN was sent, so a NOTIFICATION is sent only if one is due after DelayOpen (§8.2.2 Active).
      return toIdle(s, cfg, 'ManualStop', {
        counter: 'reset',
        ...(s.delayOpenRunning ? { notification: ceaseFor(e, Notif.ceaseAdminShutdown) } : {}),
      });
    case 'ConnectRetryTimer_Expires': {
      const seconds = connectRetrySeconds(cfg, s.connectRetryCounter);
      if (inConnect) {
        return {
          snapshot: { ...s, delayOpenRunning: false },
          actions: [
            { type: 'DropTcp', reason: 'ConnectRetryTimerExpired' },
            { type: 'StopDelayOpenTimer' },
            { type: 'StartConnectRetryTimer', seconds },
            { type: 'InitiateTcp' },
          ],
        };
      }
      if (cfg.passive) return stay(s);
      return {
        snapshot: { ...s, state: 'Connect' },
        actions: [{ type: 'StartConnectRetryTimer', seconds }, { type: 'InitiateTcp' }],
        reason: 'ConnectRetryTimerExpired',
      };
    }
    case 'DelayOpenTimer_Expires':
      if (!s.delayOpenRunning) return stay(s);
      return sendOpen(s, cfg, 'DelayOpenTimerExpired');
    case 'Tcp_CR_Acked':
    case 'TcpConnectionConfirmed':
      if (cfg.delayOpen) {
        return {
          snapshot: { ...s, delayOpenRunning: true },
          actions: [
            { type: 'StopConnectRetryTimer' },
            { type: 'StartDelayOpenTimer', seconds: cfg.delayOpenTime },
          ],
        };
      }
      return sendOpen(s, cfg, 'TcpConnected');
    case 'TcpConnectionFails':
      if (inConnect && s.delayOpenRunning) {
        return {
          snapshot: { ...s, state: 'Active', delayOpenRunning: false },
          actions: [
            { type: 'StopDelayOpenTimer' },
            ...(cfg.passive
              ? []
              : [
                  {
                    type: 'StartConnectRetryTimer',
                    seconds: connectRetrySeconds(cfg, s.connectRetryCounter),
                  } as const,
                ]),
          ],
          reason: 'TcpConnectionFailed',
        };
      }
      if (inConnect) {
        const counter = s.connectRetryCounter + 1;
        return {
          snapshot: { ...s, state: 'Active', delayOpenRunning: false, connectRetryCounter: counter },
          actions: [
            { type: 'DropTcp', reason: 'TcpConnectionFailed' },
            ...(cfg.passive
              ? []
              : [{ type: 'StartConnectRetryTimer', seconds: connectRetrySeconds(cfg, counter) } as const]),
          ],
          reason: 'TcpConnectionFailed',
        };
      }
      return toIdle(s, cfg, 'TcpConnectionFailed', { counter: 'increment' });
    case 'BGPOpen':
      if (s.delayOpenRunning) {
        // Event 20: OPEN received while DelayOpenTimer runs: answer with OPEN + KEEPALIVE (§8.2.2).
        const keepalive = keepaliveFor(e.holdTime, e.keepaliveTime);
        return openAccepted(s, e.holdTime, keepalive, [
          { type: 'StopConnectRetryTimer' },
          { type: 'StopDelayOpenTimer' },
          { type: 'SendOpen' },
        ]);
      }
      return toIdle(s, cfg, 'UnexpectedEvent', { counter: 'increment' });
    case 'BGPHeaderErr':
      return toIdle(s, cfg, 'HeaderError', { counter: 'increment', notification: e.notification });
    case 'BGPOpenMsgErr':
      return toIdle(s, cfg, 'OpenMessageError', { counter: 'increment', notification: e.notification });
    case 'NotifMsgVerErr':
      return toIdle(s, cfg, 'UnsupportedVersionNotificationReceived', {
        counter: s.delayOpenRunning ? 'keep' : 'increment',
      });
    case 'NotifMsg':
      return toIdle(s, cfg, 'NotificationReceived', { counter: 'increment' });
    case 'AutomaticStop':
      return toIdle(s, cfg, 'AutomaticStop', { counter: 'increment' });
    case 'HoldTimer_Expires':
      return toIdle(s, cfg, 'HoldTimerExpired', { counter: 'increment' });
    case 'OpenCollisionDump':
      // Event 23 is among §8.2.2's "any other event" here: Idle, no NOTIFICATION (no OPEN of
      // ours went out). It can come with DelayOpen, on a connection still in Connect that got
      // the peer's OPEN; the reason names the collision rather than an unexpected event.
      return toIdle(s, cfg, 'CollisionResolution', { counter: 'increment' });
    default:
      // Events 11, 26-28 and others: §8.2.2 "any other event".
      return toIdle(s, cfg, 'UnexpectedEvent', { counter: 'increment' });
  }
}

/**
 * The events RFC 4271 §8.2.2 handles alike in OpenSent, OpenConfirm and Established; undefined for
 * the others, which each state decides itself.
 */
function sharedFromOpenSentOn(s: FsmSnapshot, e: FsmEvent, cfg: FsmConfig): FsmResult | undefined {
  switch (e.type) {
    // Start events (1, 3-7) are ignored. A second connection is handled by its own FSM instance
    // (collision.ts), not this one.
    case 'ManualStart':
    case 'AutomaticStart':
    case 'ManualStart_with_PassiveTcpEstablishment':
    case 'AutomaticStart_with_PassiveTcpEstablishment':
    case 'IdleHoldTimer_Expires':
    case 'Tcp_CR_Acked':
    case 'TcpConnectionConfirmed':
      return stay(s);
    case 'ManualStop':
      return toIdle(s, cfg, 'ManualStop', {
        counter: 'reset',
        notification: ceaseFor(e, Notif.ceaseAdminShutdown),
      });
    case 'AutomaticStop':
      return toIdle(s, cfg, 'AutomaticStop', {
        counter: 'increment',
        notification: ceaseFor(e, Notif.ceaseOther),
      });
    case 'HoldTimer_Expires':
      return toIdle(s, cfg, 'HoldTimerExpired', {
        counter: 'increment',
        notification: Notif.holdTimerExpired,
      });
    case 'NotifMsg':
      return toIdle(s, cfg, 'NotificationReceived', { counter: 'increment' });
    case 'OpenCollisionDump':
      return toIdle(s, cfg, 'CollisionResolution', {
        counter: 'increment',
        notification: Notif.ceaseCollision,
      });
    case 'BGPHeaderErr':
      // A malformed header is a header error (§6.1) in each of these states, not an FSM error.
      return toIdle(s, cfg, 'HeaderError', { counter: 'increment', notification: e.notification });
    default:
      return undefined;
  }
}

function openSent(s: FsmSnapshot, e: FsmEvent, cfg: FsmConfig): FsmResult {
  const shared = sharedFromOpenSentOn(s, e, cfg);
  if (shared) return shared;
  switch (e.type) {
    case 'TcpConnectionFails':
      // §8.2.2 OpenSent: close, restart ConnectRetryTimer, keep listening, go to Active. The
      // failure is counted so that the retry backs off (see the header).
      return {
        snapshot: {
          ...s,
          state: 'Active',
          delayOpenRunning: false,
          connectRetryCounter: s.connectRetryCounter + 1,
        },
        actions: [
          { type: 'StopHoldTimer' },
          { type: 'DropTcp', reason: 'TcpConnectionFailed' },
          ...(cfg.passive
            ? []
            : [
                {
                  type: 'StartConnectRetryTimer',
                  seconds: connectRetrySeconds(cfg, s.connectRetryCounter + 1),
                } as const,
              ]),
        ],
        reason: 'TcpConnectionFailed',
      };
    case 'BGPOpen':
      return openAccepted(s, e.holdTime, keepaliveFor(e.holdTime, e.keepaliveTime), [
        { type: 'StopDelayOpenTimer' },
        { type: 'StopConnectRetryTimer' },
      ]);
    case 'BGPOpenMsgErr':
      return toIdle(s, cfg, 'OpenMessageError', { counter: 'increment', notification: e.notification });
    case 'NotifMsgVerErr':
      return toIdle(s, cfg, 'UnsupportedVersionNotificationReceived', { counter: 'keep' });
    default:
      // Events 9, 11, 12, 26-28: RFC 6608 "Receive Unexpected Message in OpenSent State".
      return toIdle(s, cfg, 'UnexpectedEvent', {
        counter: 'increment',
        notification: Notif.fsmUnexpectedInOpenSent,
      });
  }
}

function openConfirm(s: FsmSnapshot, e: FsmEvent, cfg: FsmConfig): FsmResult {
  const shared = sharedFromOpenSentOn(s, e, cfg);
  if (shared) return shared;
  switch (e.type) {
    case 'KeepaliveTimer_Expires':
      return stay(s, [{ type: 'SendKeepalive' }, { type: 'StartKeepaliveTimer', seconds: s.keepaliveTime }]);
    case 'TcpConnectionFails':
      return toIdle(s, cfg, 'TcpConnectionFailed', { counter: 'increment' });
    case 'NotifMsgVerErr':
      return toIdle(s, cfg, 'UnsupportedVersionNotificationReceived', { counter: 'keep' });
    case 'BGPOpenMsgErr':
      return toIdle(s, cfg, 'OpenMessageError', { counter: 'increment', notification: e.notification });
    case 'KeepAliveMsg': {
      const actions: FsmAction[] = [];
      if (s.holdTime > 0) actions.push({ type: 'StartHoldTimer', seconds: s.holdTime });
      actions.push({ type: 'SessionEstablished' });
      return { snapshot: { ...s, state: 'Established' }, actions, reason: 'KeepaliveReceived' };
    }
    default:
      // Events 9, 12, 19 (a second OPEN on this connection), 27, 28: RFC 6608 subcode 2.
      return toIdle(s, cfg, 'UnexpectedEvent', {
        counter: 'increment',
        notification: Notif.fsmUnexpectedInOpenConfirm,
      });
  }
}

function established(s: FsmSnapshot, e: FsmEvent, cfg: FsmConfig): FsmResult {
  const shared = sharedFromOpenSentOn(s, e, cfg);
  if (shared) return shared;
  switch (e.type) {
    case 'KeepaliveTimer_Expires':
      return stay(
        s,
        s.keepaliveTime > 0
          ? [{ type: 'SendKeepalive' }, { type: 'StartKeepaliveTimer', seconds: s.keepaliveTime }]
          : [],
      );
    case 'KeepAliveMsg':
    case 'UpdateMsg':
      // §8.2.2 Established: restart the HoldTimer if the negotiated HoldTime is non-zero.
      return stay(s, s.holdTime > 0 ? [{ type: 'StartHoldTimer', seconds: s.holdTime }] : []);
    case 'TcpConnectionFails':
      return toIdle(s, cfg, 'TcpConnectionFailed', { counter: 'increment' });
    case 'NotifMsgVerErr':
      return toIdle(s, cfg, 'UnsupportedVersionNotificationReceived', { counter: 'increment' });
    case 'UpdateMsgErr':
      return toIdle(s, cfg, 'UpdateMessageError', { counter: 'increment', notification: e.notification });
    default:
      // Events 9, 12, 19, 20, 22: RFC 6608 subcode 3.
      return toIdle(s, cfg, 'UnexpectedEvent', {
        counter: 'increment',
        notification: Notif.fsmUnexpectedInEstablished,
      });
  }
}
