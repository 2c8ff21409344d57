// The imperative shell around the pure FSM: one Peer per configured (or accepted dynamic)
// neighbour. It owns sockets, timers, the receive queue and the Adj-RIB-In, turns I/O into FSM
// events and FSM actions into I/O.
//
// Liveness (the reason for most of the structure here): a peer sending a full table at line rate
// must not starve keepalives or timers of this or any other session. So:
// - frames are cut from the byte stream as they arrive; OPEN, KEEPALIVE and NOTIFICATION are
//   handled at once, UPDATE frames are only queued;
// - any received message restarts the hold timer when it is framed, not when it is processed;
// - queued UPDATEs are decoded in time slices of SLICE_MS, each scheduled with setImmediate so
//   timers and other sockets run between slices;
// - when a peer's queue holds more than QUEUE_HIGH bytes its socket stops being read (TCP
//   back-pressure reaches the sender), and reading resumes below QUEUE_LOW, so memory stays
//   bounded whatever the peer sends;
// - keepalives and NOTIFICATIONs are written straight to the socket; bulk UPDATE output goes
//   through a drain-aware queue so it never buries them under megabytes of buffered writes;
// - when that queue holds more than OUT_BACKLOG_AT bytes (a peer reading more slowly than routes
//   change), further changes are merged per route in an OutputBacklog and packed as the socket
//   drains, so the memory a slow peer costs is bounded by the table, not by the churn.

import type { Socket } from 'node:net';
import type Logger from 'bunyan';
import {
  type BgpMessage,
  type Capability,
  CeaseSubcode,
  type CodecOptions,
  DEFAULT_CODEC_OPTIONS,
  encodeRouteRefresh,
  encodeShutdownCommunication,
  Family,
  type FamilyKey,
  familyAfi,
  familyKey,
  familyName,
  NotificationCode,
  type NotificationContent,
  type OpenMessage,
} from '../codec/index.ts';
import { AdjRibIn, type AdjRibInBatch } from './adj-rib-in.ts';
import type { AttributeStore } from './attr-store.ts';
import { type ConnectionDirection, resolveCollision } from './collision.ts';
import { FrameQueue } from './frame-queue.ts';
import {
  defaultFsmConfig,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmSnapshot,
  type FsmState,
  initialSnapshot,
  jitter,
  transition,
} from './fsm.ts';
import { buildOpen, type LocalOpenConfig, type Negotiated, validateOpen } from './open.ts';
import { OutputBacklog } from './out-backlog.ts';
import { MODERATE_PAUSE_MS, ReadModeration } from './read-moderation.ts';
import { normalizeAddress, type SocketFactory, uint32ToIPv4 } from './transport.ts';
import type {
  ExportPeer,
  ExportSource,
  ExportUpdate,
  FamilyName,
  MaxPrefixLimit,
  MessageCounters,
  NotificationRecord,
  PeerConfig,
  PeerStatus,
  SessionLossCause,
  SpeakerEvent,
} from './types.ts';
import {
  decodeMessage,
  encodeMessage,
  endOfRib,
  FrameReader,
  KEEPALIVE,
  notificationText,
  packUpdates,
} from './wire.ts';

/** Packed UPDATEs for the output queue: chunks of whole messages, and how many messages. */
interface PackedOutput {
  readonly chunks: readonly Buffer[];
  readonly updates: number;
}

/**
 * Receive queue bounds per peer (bytes of undecoded UPDATE frames). Small on purpose, as the
 * socket's receive buffer (transport.ts RECEIVE_BUFFER): a sender that is ahead of us then meets
 * back-pressure and packs more prefixes per UPDATE, which costs both ends less than a deep queue
 * of one-prefix UPDATEs. 1 MiB / 256 KiB before: the BIRD injector of the 1M benchmark then sent
 * 0.40–0.95M UPDATEs, against 47k–368k (median 72k) with these bounds (docs/PERFORMANCE.md).
 */
export const QUEUE_HIGH = 64 * 1024;
export const QUEUE_LOW = 16 * 1024;
/** Longest stretch of UPDATE processing before yielding to the event loop. */
export const SLICE_MS = 8;
/** Output is handed to the socket while its buffer holds less than this. */
const OUT_HIGH = 1024 * 1024;
/**
 * Packed UPDATEs waiting for the socket beyond this many bytes: further changes wait in the
 * session's OutputBacklog, merged per route, until the queue has drained. An initial table or a
 * route-refresh answer is packed whole (bounded by the table); only changes after it merge.
 */
export const OUT_BACKLOG_AT = 4 * 1024 * 1024;
/** Routes packed from the backlog per step (about 100-500 KB of UPDATEs). */
const BACKLOG_STEP = 8192;
/**
 * A session that stayed Established this long has its failure count forgotten before the next
 * failure is counted, so one flap after a long uptime restarts quickly (BIRD's "error forget time",
 * whose default this is). PeerConfig.errorForgetTime overrides it.
 */
const ERROR_FORGET_S = 300;
/** How long a closing socket may take to flush a NOTIFICATION before it is destroyed. */
const FLUSH_TIMEOUT_MS = 2000;

export const familyKeys: Record<FamilyName, FamilyKey> = {
  'ipv4-unicast': Family.IPv4Unicast,
  'ipv6-unicast': Family.IPv6Unicast,
};

/** Shared services the Speaker gives each Peer. */
export interface SpeakerContext {
  readonly localAs: number;
  readonly routerId: number;
  readonly log: Logger;
  readonly store: AttributeStore;
  readonly sockets: SocketFactory;
  exportSource(): ExportSource;
  emit(e: SpeakerEvent): void;
  publish(batch: AdjRibInBatch): void;
  random(): number;
  /** The whole speaker has just restarted gracefully: set the R bit in OPENs (RFC 4724 §4.1). */
  gracefulRestartRestarting(): boolean;
  /** A session sent its initial End-of-RIBs (ends the speaker's restarting state once all have). */
  initialEndOfRibSent(peer: Peer): void;
}

/** RFC 8538 §5: the Cease subcodes an operator sends as Hard Reset when N was negotiated. */
export function hardResetCease(subcode: number, data: Uint8Array): NotificationContent {
  // §3.1: the data of a Hard Reset is the original error code, subcode and data.
  const out = new Uint8Array(2 + data.length);
  out[0] = NotificationCode.Cease;
  out[1] = subcode;
  out.set(data, 2);
  return { code: NotificationCode.Cease, subcode: CeaseSubcode.HardReset, data: out };
}

/** Cease/Hard Reset (RFC 8538 §3). */
function isHardReset(code: number, subcode: number): boolean {
  return code === NotificationCode.Cease && subcode === CeaseSubcode.HardReset;
}

function zeroCounters(): MessageCounters {
  return { open: 0, update: 0, notification: 0, keepalive: 0, routeRefresh: 0 };
}

/**
 * Counts a message of `type` (RFC 4271 §4.1) in `c`. A named field per case rather than
 * `c[key]++`: V8 specialises a keyed access on the one name it has seen, and the warm-up's
 * sessions, busy with UPDATEs, taught onData only 'update'; the first real session's KEEPALIVE
 * threw onData's optimised code away ("wrong name" in --trace-deopt) just before the first table.
 */
function countMessage(c: MessageCounters, type: number): void {
  switch (type) {
    case 1:
      c.open++;
      return;
    case 2:
      c.update++;
      return;
    case 3:
      c.notification++;
      return;
    case 4:
      c.keepalive++;
      return;
    case 5:
      c.routeRefresh++;
      return;
  }
}

/** The Session fields that hold a plain one-shot FSM timer (the hold timer is a deadline). */
type SessionTimerSlot = 'connectRetryTimer' | 'keepaliveTimer' | 'delayOpenTimer' | 'idleHoldTimer';

/** One FSM instance and the connection it runs on (RFC 4271 §6.8: a peer may briefly have two). */
class Session {
  fsm: FsmSnapshot = initialSnapshot;
  socket: Socket | null = null;
  direction: ConnectionDirection | null = null;
  reader: FrameReader = new FrameReader(DEFAULT_CODEC_OPTIONS);
  negotiated: Negotiated | null = null;
  remoteOpen: OpenMessage | null = null;
  connectRetryTimer: NodeJS.Timeout | null = null;
  keepaliveTimer: NodeJS.Timeout | null = null;
  delayOpenTimer: NodeJS.Timeout | null = null;
  idleHoldTimer: NodeJS.Timeout | null = null;
  holdTimer: NodeJS.Timeout | null = null;
  holdTimerAt = 0;
  holdDeadline = 0;
  holdSeconds = 0;
  /** Why the session left Established, computed before its Adj-RIB-In is cleared. */
  loss: SessionLoss | null = null;
  /** Receive queue of UPDATE frames (and of BoRR/EoRR behind them), as ranges of socket chunks. */
  readonly queue = new FrameQueue();
  paused = false;
  /** When to hold reading back so that the sender packs its UPDATEs (read-moderation.ts). */
  moderation = new ReadModeration();
  /** Reading resumes when this fires (MODERATE_PAUSE_MS). */
  moderationTimer: NodeJS.Timeout | null = null;
  scheduled = false;
  /** Runs the Peer's processSlice on this session: made once, not a closure per schedule. */
  processSlice: (() => void) | null = null;
  // Output queue for bulk UPDATEs.
  out: Buffer[] = [];
  outHead = 0;
  waitingDrain = false;
  establishedAt = 0;
  /**
   * When this connection was bound and when it reached Established, as ticks of its peer's
   * counter (Peer.tick): they order the two connections of a collision, which timestamps from
   * the same millisecond would not.
   */
  boundTick = 0;
  establishedTick = 0;
  disposed = false;
  queuePeak = 0;
  pauses = 0;
  /** Bytes in `out` not yet handed to the socket, and their peak on this connection. */
  outBytes = 0;
  outPeak = 0;
  /** Changes waiting while `out` is over OUT_BACKLOG_AT (see OutputBacklog). */
  readonly backlog = new OutputBacklog();

  constructor(readonly label: 'main' | 'collision') {}

  clearTimers(): void {
    for (const t of [
      this.moderationTimer,
      this.connectRetryTimer,
      this.keepaliveTimer,
      this.delayOpenTimer,
      this.idleHoldTimer,
      this.holdTimer,
    ]) {
      if (t) clearTimeout(t);
    }
    this.moderationTimer =
      this.connectRetryTimer =
      this.keepaliveTimer =
      this.delayOpenTimer =
      this.idleHoldTimer =
      this.holdTimer =
        null;
  }

  clearQueues(): void {
    this.queue.clear();
    this.out = [];
    this.outHead = 0;
    this.outBytes = 0;
    this.backlog.clear();
  }
}

export class Peer {
  readonly id: string;
  cfg: PeerConfig;
  /** For a session accepted from a dynamic range: the range neighbour's key. */
  readonly dynamicParent: string | undefined;
  readonly adjRibIn: AdjRibIn;
  adminDown: boolean;
  private readonly ctx: SpeakerContext;
  private readonly log: Logger;
  private main = new Session('main');
  /** Orders the binding and establishment of this peer's connections (Session.boundTick). */
  private tick = 0;
  private extra: Session | null = null;
  /** Set while the main connection is ended because the collision connection replaces it. */
  private mainBeingReplaced = false;
  private fsmConfig: FsmConfig;
  private localOpen: LocalOpenConfig;
  private readonly sent: MessageCounters = zeroCounters();
  private readonly received: MessageCounters = zeroCounters();
  private lastSent: NotificationRecord | undefined;
  private lastReceived: NotificationRecord | undefined;
  private since = Date.now();
  private reason: string | undefined;
  private detachExport: (() => void) | null = null;
  private maxPrefixTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void>[] = [];
  /** Initial End-of-RIBs went out on some session since this peer was created (ends cfg R bit). */
  initialEndOfRibDone = false;
  /** Called when a dynamic session ends, so the Speaker can forget it. */
  onGone: ((peer: Peer) => void) | null = null;

  constructor(cfg: PeerConfig, ctx: SpeakerContext, opts: { id?: string; dynamicParent?: string } = {}) {
    this.cfg = cfg;
    this.ctx = ctx;
    this.id = opts.id ?? cfg.key;
    this.dynamicParent = opts.dynamicParent;
    this.adminDown = cfg.shutdown ?? false;
    this.log = ctx.log.child({ peer: this.id, ...(cfg.name ? { peerName: cfg.name } : {}) });
    this.adjRibIn = new AdjRibIn(this.id, ctx.store);
    this.fsmConfig = Peer.fsmConfigFor(cfg, this.dynamicParent !== undefined);
    this.localOpen = Peer.localOpenFor(cfg, ctx);
  }

  static fsmConfigFor(cfg: PeerConfig, dynamic: boolean): FsmConfig {
    return {
      ...defaultFsmConfig,
      passive: dynamic || cfg.range !== undefined || (cfg.passive ?? false),
      delayOpen: (cfg.delayOpenTime ?? 0) > 0,
      delayOpenTime: cfg.delayOpenTime ?? defaultFsmConfig.delayOpenTime,
      connectRetryTime: cfg.connectRetryTime ?? defaultFsmConfig.connectRetryTime,
      connectRetryTimeMax: Math.max(
        cfg.connectRetryTime ?? 0,
        cfg.connectRetryTimeMax ?? defaultFsmConfig.connectRetryTimeMax,
      ),
      idleHoldTime: cfg.idleHoldTime ?? defaultFsmConfig.idleHoldTime,
      idleHoldTimeMax: Math.max(
        cfg.idleHoldTime ?? 0,
        cfg.idleHoldTimeMax ?? defaultFsmConfig.idleHoldTimeMax,
      ),
    };
  }

  static localOpenFor(cfg: PeerConfig, ctx: Pick<SpeakerContext, 'localAs' | 'routerId'>): LocalOpenConfig {
    const families = (cfg.families ?? ['ipv4-unicast']).map((f) => familyKeys[f]);
    const addPath = new Map<FamilyKey, 'receive' | 'send' | 'both'>();
    for (const [f, d] of Object.entries(cfg.addPath ?? {}))
      if (d) addPath.set(familyKeys[f as FamilyName], d);
    return {
      localAs: ctx.localAs,
      routerId: ctx.routerId,
      holdTime: cfg.holdTime ?? 90,
      families,
      addPath,
      extendedMessage: cfg.extendedMessage ?? false,
      enhancedRouteRefresh: cfg.enhancedRouteRefresh ?? false,
      ...(cfg.gracefulRestart ? { gracefulRestart: cfg.gracefulRestart } : {}),
      ...(cfg.requiredCapabilities ? { requiredCapabilities: cfg.requiredCapabilities } : {}),
    };
  }

  get state(): FsmState {
    return this.main.fsm.state;
  }

  /**
   * Our OPEN. RFC 4724 §4.1: the Restart State bit is set while we have just restarted, until
   * the initial End-of-RIBs are out (the peer then knows our first table is a refresh).
   */
  private openMessage(): OpenMessage {
    const gr = this.localOpen.gracefulRestart;
    if (!gr) return buildOpen(this.localOpen);
    const restarting =
      (gr.restarting === true && !this.initialEndOfRibDone) || this.ctx.gracefulRestartRestarting();
    return buildOpen({ ...this.localOpen, gracefulRestart: { ...gr, restarting } });
  }

  get negotiated(): Negotiated | null {
    return this.main.negotiated;
  }

  // ------------------------------------------------------------------------------------------
  // Administrative control

  /** ManualStart (passive peers: with PassiveTcpEstablishment). */
  start(): void {
    if (this.adminDown) return;
    this.dispatch(this.main, {
      type: this.fsmConfig.passive ? 'ManualStart_with_PassiveTcpEstablishment' : 'ManualStart',
    });
  }

  /**
   * ManualStop with a Cease (RFC 4486 subcode, RFC 9003 message); resolves when flushed. With
   * `hardReset` the Cease is wrapped in a Hard Reset (RFC 8538 §3) on sessions that negotiated
   * the N bit, so the peer flushes our routes instead of keeping them as stale.
   */
  async stop(subcode: number, message?: string, opts: { hardReset?: boolean } = {}): Promise<void> {
    const data = message ? encodeShutdownCommunication(message) : new Uint8Array(0);
    const notification = (s: Session): NotificationContent =>
      opts.hardReset && s.negotiated?.gracefulRestartNotification
        ? hardResetCease(subcode, data)
        : { code: NotificationCode.Cease, subcode, data };
    if (this.extra) this.dispatch(this.extra, { type: 'ManualStop', notification: notification(this.extra) });
    this.dispatch(this.main, { type: 'ManualStop', notification: notification(this.main) });
    await this.flushed();
  }

  /** Operator shutdown: Cease/Administrative Shutdown, as Hard Reset when N was negotiated. */
  async shutdown(message: string): Promise<void> {
    this.adminDown = true;
    await this.stop(CeaseSubcode.AdministrativeShutdown, message, { hardReset: true });
  }

  enable(): void {
    this.adminDown = false;
    if (this.main.fsm.state === 'Idle') this.start();
  }

  /**
   * Stops and restarts the session. RFC 8538 §5: Administrative Reset (4, the operator's `clear`)
   * goes as Hard Reset by default; other subcodes (6, configuration change) stay graceful.
   */
  async reset(message: string, subcode = 4, opts: { hardReset?: boolean } = {}): Promise<void> {
    await this.stop(subcode, message, { hardReset: opts.hardReset ?? subcode === 4 });
    this.start();
  }

  /** Resolves once every closing socket has flushed or been destroyed. */
  async flushed(): Promise<void> {
    while (this.closing.length > 0) await Promise.all(this.closing.splice(0));
  }

  /** Forget everything: timers off, sockets destroyed (after stop()). */
  dispose(): void {
    for (const s of [this.main, this.extra]) {
      if (!s) continue;
      s.disposed = true;
      s.clearTimers();
      s.socket?.destroy();
      s.socket = null;
    }
    if (this.maxPrefixTimer) clearTimeout(this.maxPrefixTimer);
    this.detachExport?.();
    this.detachExport = null;
    this.adjRibIn.clear();
    this.publish();
  }

  /**
   * Applies a changed configuration. Returns the fields whose change needs a session reset; the
   * caller decides to reset. Fields that go into our OPEN or decide whom we talk to force one:
   * address, remoteAs, localAddress, port, families, holdTime, addPath, extendedMessage,
   * enhancedRouteRefresh, gracefulRestart, requiredCapabilities. Everything else (name,
   * description, passive, keepaliveTime, connectRetryTime, delayOpenTime, maxPrefixes,
   * retainAdjRibIn) applies in place, from the next timer or connection attempt on.
   */
  update(cfg: PeerConfig): string[] {
    const old = this.cfg;
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const resetFields = (
      [
        'address',
        'range',
        'remoteAs',
        'localAddress',
        'port',
        'families',
        'holdTime',
        'addPath',
        'extendedMessage',
        'enhancedRouteRefresh',
        'gracefulRestart',
        'requiredCapabilities',
      ] as const
    ).filter((k) => !same(old[k], cfg[k]));
    this.cfg = cfg;
    this.fsmConfig = Peer.fsmConfigFor(cfg, this.dynamicParent !== undefined);
    this.localOpen = Peer.localOpenFor(cfg, this.ctx);
    if (cfg.maxPrefixes !== undefined) this.checkMaxPrefixes();
    const n = this.main.negotiated;
    if (n && (old.retainAdjRibIn ?? 'always') !== (cfg.retainAdjRibIn ?? 'always')) {
      this.adjRibIn.retained = (cfg.retainAdjRibIn ?? 'always') === 'always' || !n.routeRefresh;
      // Kept from now on: have the peer re-send, so the Adj-RIB-In holds its whole table
      // (FRR does the same when soft-reconfiguration inbound is turned on).
      if (this.adjRibIn.retained) this.requestRefresh();
    }
    // No longer passive: a session waiting in Active starts connecting now (§8.2.2 Active,
    // ConnectRetryTimer_Expires), instead of waiting for the peer forever.
    if (
      !this.fsmConfig.passive &&
      this.main.fsm.state === 'Active' &&
      !this.main.socket &&
      !this.main.connectRetryTimer
    ) {
      this.dispatch(this.main, { type: 'ConnectRetryTimer_Expires' });
    }
    return resetFields;
  }

  // ------------------------------------------------------------------------------------------
  // Incoming connections (from the Speaker's listeners)

  /** Offers an accepted socket; returns false when the peer refuses it (socket left to caller). */
  accept(socket: Socket): boolean {
    const main = this.main;
    if (this.adminDown) return false;
    const st = main.fsm.state;
    if (st === 'Idle') {
      // §8.2.2 Idle refuses connections. A passive peer waiting out its idle hold is restarted
      // early instead: the peer is calling, so there is nothing to damp on our side.
      if (!this.fsmConfig.passive) return false;
      this.dispatch(main, { type: 'AutomaticStart_with_PassiveTcpEstablishment' });
    }
    if ((main.fsm.state === 'Connect' || main.fsm.state === 'Active') && !main.socket) {
      // No connection of ours is in progress: the incoming one is the session's (§8.2.2 Active,
      // Event 17).
      this.bind(main, socket, 'incoming');
      this.dispatch(main, { type: 'TcpConnectionConfirmed' });
      return true;
    }
    if (this.extra) {
      // A connection from the peer that has not brought a session up is one the peer gave up
      // when it calls again (it restarted once more, say): the new call replaces it. Refusing it
      // instead would leave the peer to that connection's hold timer, 240 s in OpenSent.
      const stale = this.extra;
      if (stale.direction !== 'incoming' || stale.fsm.state === 'Established') return false;
      this.log.info(
        { state: stale.fsm.state },
        'the peer called again: its previous new connection is dropped',
      );
      // Idle from any state short of Established; dispatch() then disposes of it.
      this.dispatch(stale, { type: 'OpenCollisionDump' });
    }
    // A second connection while our own is in progress or past it: run it alongside, as §8 runs
    // one FSM per connection, and let §6.8 decide. Dropping our own attempt for it instead loses
    // both when both speakers dial at once: each may drop the connection the other kept, since
    // our attempt can already be up in the kernel before its 'connect' event runs.
    const extra = new Session('collision');
    extra.fsm = { ...initialSnapshot, state: 'Active' };
    this.extra = extra;
    this.bind(extra, socket, 'incoming');
    this.dispatch(extra, { type: 'TcpConnectionConfirmed' });
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // FSM plumbing

  private dispatch(s: Session, e: FsmEvent): void {
    if (s.disposed) return;
    const from = s.fsm.state;
    if (
      from === 'Established' &&
      s.fsm.connectRetryCounter > 0 &&
      Date.now() - s.establishedAt > (this.cfg.errorForgetTime ?? ERROR_FORGET_S) * 1000
    ) {
      s.fsm = { ...s.fsm, connectRetryCounter: 0 };
    }
    const r = transition(s.fsm, e, this.fsmConfig);
    s.fsm = r.snapshot;
    // Leaving Established: classify the loss while the negotiated parameters are still there
    // (ReleaseResources clears them and publishes the Adj-RIB-In flush, which carries it).
    const loss =
      from === 'Established' && r.snapshot.state !== 'Established'
        ? sessionLoss(s.negotiated, e, r.actions)
        : null;
    s.loss = loss;
    for (const a of r.actions) this.execute(s, a);
    s.loss = null;
    const to = s.fsm.state;
    if (s === this.main && from !== to) {
      this.since = Date.now();
      this.reason = r.reason;
      const fields = { from, to, reason: r.reason, event: e.type };
      // One line per state change, with the reason (as BIRD logs them).
      this.log.info(fields, `${from} -> ${to} (${r.reason})`);
      this.ctx.emit({
        type: 'state',
        peer: this.id,
        name: this.cfg.name ?? this.id,
        address: this.remoteAddress(),
        from,
        to,
        reason: r.reason,
        at: this.since,
        ...(loss
          ? {
              lossCause: loss.cause,
              gracefulRestartEligible: loss.eligible,
              peerGracefulRestart: loss.peerGracefulRestart,
            }
          : {}),
      });
      if (loss)
        this.log.info(
          { lossCause: loss.cause, gracefulRestartEligible: loss.eligible },
          loss.eligible ? 'session lost: graceful restart applies' : 'session lost',
        );
      // A dynamic session that lost its connection (Idle, or Active without a socket after a
      // failure in OpenSent) is over: the peer calls again if it wants another.
      const ended = to === 'Idle' || (to === 'Active' && from === 'OpenSent' && !s.socket);
      if (ended && this.dynamicParent !== undefined && !this.mainBeingReplaced) {
        // A dynamic session is not restarted by us; the peer calls again.
        s.clearTimers();
        this.onGone?.(this);
      }
    }
    // A collision connection that failed (Idle, or Active without its socket) is over: it never
    // dials out itself, and while it stands accept() refuses further connections.
    if (s === this.extra && (to === 'Idle' || (to === 'Active' && !s.socket))) {
      s.clearTimers();
      s.disposed = true;
      this.extra = null;
    }
  }

  private execute(s: Session, a: FsmAction): void {
    switch (a.type) {
      case 'InitiateTcp':
        this.connect(s);
        return;
      case 'DropTcp':
        this.dropSocket(s, a.reason);
        return;
      case 'StartConnectRetryTimer':
        this.startTimer(s, 'connectRetryTimer', a.seconds, true, () =>
          this.dispatch(s, { type: 'ConnectRetryTimer_Expires' }),
        );
        return;
      case 'StopConnectRetryTimer':
        this.stopTimer(s, 'connectRetryTimer');
        return;
      case 'StartHoldTimer':
        this.armHold(s, a.seconds);
        return;
      case 'StopHoldTimer':
        if (s.holdTimer) clearTimeout(s.holdTimer);
        s.holdTimer = null;
        s.holdDeadline = 0;
        return;
      case 'StartKeepaliveTimer':
        this.startTimer(s, 'keepaliveTimer', a.seconds, true, () =>
          this.dispatch(s, { type: 'KeepaliveTimer_Expires' }),
        );
        return;
      case 'StopKeepaliveTimer':
        this.stopTimer(s, 'keepaliveTimer');
        return;
      case 'StartDelayOpenTimer':
        this.startTimer(s, 'delayOpenTimer', a.seconds, false, () =>
          this.dispatch(s, { type: 'DelayOpenTimer_Expires' }),
        );
        return;
      case 'StopDelayOpenTimer':
        this.stopTimer(s, 'delayOpenTimer');
        return;
      case 'StartIdleHoldTimer':
        if (s !== this.main || this.dynamicParent !== undefined || this.adminDown) return;
        this.startTimer(s, 'idleHoldTimer', a.seconds, true, () => {
          if (!this.adminDown) this.dispatch(s, { type: 'IdleHoldTimer_Expires' });
        });
        return;
      case 'StopIdleHoldTimer':
        this.stopTimer(s, 'idleHoldTimer');
        return;
      case 'SendOpen':
        this.sendMessage(s, 1, encodeMessage(this.openMessage(), DEFAULT_CODEC_OPTIONS));
        return;
      case 'SendKeepalive':
        this.sendMessage(s, 4, KEEPALIVE);
        return;
      case 'SendNotification':
        this.sendNotification(s, {
          code: a.notification.code,
          subcode: a.notification.subcode,
          data: a.notification.data ?? new Uint8Array(0),
        });
        return;
      case 'ReleaseResources':
        this.release(s);
        return;
      case 'SessionEstablished':
        this.established(s);
        return;
    }
  }

  /**
   * (Re)starts one of the session's one-shot FSM timers (RFC 4271 §8.1.3, RFC 4271 §10 jitter
   * where `jittered`); when it fires, the slot is cleared before `expire` runs.
   */
  private startTimer(
    s: Session,
    slot: SessionTimerSlot,
    seconds: number,
    jittered: boolean,
    expire: () => void,
  ): void {
    const running = s[slot];
    if (running) clearTimeout(running);
    s[slot] = this.timer(seconds, jittered, () => {
      s[slot] = null;
      expire();
    });
  }

  private stopTimer(s: Session, slot: SessionTimerSlot): void {
    const running = s[slot];
    if (running) clearTimeout(running);
    s[slot] = null;
  }

  private timer(seconds: number, jittered: boolean, fn: () => void): NodeJS.Timeout {
    const s = jittered ? jitter(seconds, this.ctx.random()) : seconds;
    return setTimeout(fn, Math.max(1, Math.round(s * 1000)));
  }

  /**
   * The hold timer is a deadline: restarting it (on every received message) only moves the
   * deadline; the one timer re-arms itself when it fires early. No timer churn per UPDATE.
   */
  private armHold(s: Session, seconds: number): void {
    s.holdSeconds = seconds;
    s.holdDeadline = Date.now() + seconds * 1000;
    if (s.holdTimer && s.holdTimerAt <= s.holdDeadline) return;
    if (s.holdTimer) clearTimeout(s.holdTimer);
    this.scheduleHold(s, s.holdDeadline);
  }

  private scheduleHold(s: Session, at: number): void {
    s.holdTimerAt = at;
    s.holdTimer = setTimeout(() => this.onHoldTimer(s), Math.max(1, at - Date.now()));
  }

  private onHoldTimer(s: Session): void {
    s.holdTimer = null;
    if (s.holdDeadline === 0 || s.disposed) return;
    const now = Date.now();
    if (now < s.holdDeadline) {
      this.scheduleHold(s, s.holdDeadline);
      return;
    }
    if (s.paused) {
      // We stopped reading this socket ourselves (back-pressure): the peer's messages are
      // waiting in our receive buffer, so silence is ours, not the peer's.
      s.holdDeadline = now + s.holdSeconds * 1000;
      this.scheduleHold(s, s.holdDeadline);
      return;
    }
    this.dispatch(s, { type: 'HoldTimer_Expires' });
  }

  // ------------------------------------------------------------------------------------------
  // Sockets

  private remoteAddress(): string | undefined {
    return this.cfg.address;
  }

  private connect(s: Session): void {
    const address = this.cfg.address;
    if (!address) return;
    if (s.socket) this.dropSocket(s, 'new connection attempt');
    const socket = this.ctx.sockets.connect({
      remoteAddress: address,
      remotePort: this.cfg.port ?? 179,
      localAddress: this.cfg.localAddress,
    });
    this.bind(s, socket, 'outgoing');
    socket.once('connect', () => {
      if (s.socket !== socket) return;
      this.log.debug({ local: `${socket.localAddress}:${socket.localPort}` }, 'TCP connection established');
      this.dispatch(s, { type: 'Tcp_CR_Acked' });
    });
  }

  private bind(s: Session, socket: Socket, direction: ConnectionDirection): void {
    s.socket = socket;
    s.direction = direction;
    s.boundTick = ++this.tick;
    s.establishedTick = 0;
    s.reader = new FrameReader(DEFAULT_CODEC_OPTIONS);
    s.negotiated = null;
    s.remoteOpen = null;
    s.paused = false;
    s.queuePeak = 0;
    s.pauses = 0;
    s.moderation = new ReadModeration();
    this.stopModeration(s);
    s.outPeak = 0;
    s.clearQueues();
    socket.on('data', (chunk: Buffer) => {
      if (s.socket === socket) this.onData(s, chunk);
    });
    socket.on('drain', () => {
      if (s.socket === socket) this.pumpOut(s);
    });
    socket.on('error', (err: Error) => {
      if (s.socket !== socket) return;
      this.log.debug({ err: err.message }, 'socket error');
      this.reason = err.message;
    });
    socket.on('close', () => {
      if (s.socket !== socket) return;
      s.socket = null;
      this.dispatch(s, { type: 'TcpConnectionFails' });
    });
    if (direction === 'incoming') socket.resume();
  }

  private dropSocket(s: Session, why: string): void {
    const socket = s.socket;
    s.socket = null;
    s.clearQueues();
    s.paused = false;
    this.stopModeration(s);
    if (!socket) return;
    this.log.debug({ why }, 'closing connection');
    if (socket.destroyed) return;
    if (socket.connecting) {
      socket.destroy();
      return;
    }
    // Let a just-written NOTIFICATION reach the peer (end() flushes), but never wait forever.
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), FLUSH_TIMEOUT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.closing.push(done);
    socket.end();
    socket.resume();
  }

  private write(s: Session, bytes: Uint8Array): void {
    const socket = s.socket;
    if (!socket || socket.destroyed || !socket.writable) return;
    socket.write(bytes);
  }

  private sendMessage(s: Session, type: number, bytes: Uint8Array): void {
    if (!s.socket) return;
    this.write(s, bytes);
    countMessage(this.sent, type);
  }

  private sendNotification(s: Session, n: NotificationContent): void {
    if (!s.socket) return;
    this.sendMessage(
      s,
      3,
      encodeMessage(
        { type: 'notification', code: n.code, subcode: n.subcode, data: n.data },
        DEFAULT_CODEC_OPTIONS,
      ),
    );
    const rec: NotificationRecord = {
      direction: 'sent',
      code: n.code,
      subcode: n.subcode,
      text: notificationText(n.code, n.subcode, n.data),
      at: Date.now(),
    };
    this.lastSent = rec;
    this.log.warn(
      { notification: rec.text, code: n.code, subcode: n.subcode },
      `sent NOTIFICATION: ${rec.text}`,
    );
    this.ctx.emit({ type: 'notification', peer: this.id, name: this.cfg.name ?? this.id, notification: rec });
  }

  /**
   * Queues bulk output (UPDATEs, End-of-RIB, ROUTE-REFRESH) and writes while the socket accepts
   * it. Behind a non-empty backlog, messages queue after it, so they keep their order with the
   * changes sent before them.
   */
  private queueOut(s: Session, messages: readonly Buffer[]): void {
    if (s.backlog.size > 0) {
      for (const m of messages) s.backlog.marker(m);
      this.pumpOut(s);
      return;
    }
    this.pushOut(s, messages);
    this.pumpOut(s);
  }

  private pushOut(s: Session, messages: readonly Buffer[]): void {
    for (const m of messages) {
      s.out.push(m);
      s.outBytes += m.length;
      if (m[18] === 2) this.sent.update++;
    }
    if (s.outBytes > s.outPeak) s.outPeak = s.outBytes;
  }

  /**
   * Queues packed UPDATEs as the packer's chunks (each holds whole messages back to back), not
   * one Buffer per message: a socket write, a write request and a view each per UPDATE were ~7%
   * of a 100k table's profile (createWriteWrap, writev, pumpOut, the views). The socket sees the
   * same bytes in the same order.
   */
  private pushPacked(s: Session, packed: PackedOutput): void {
    for (const c of packed.chunks) {
      s.out.push(c);
      s.outBytes += c.length;
    }
    this.sent.update += packed.updates;
    if (s.outBytes > s.outPeak) s.outPeak = s.outBytes;
  }

  private pumpOut(s: Session): void {
    const socket = s.socket;
    if (!socket) return;
    for (;;) {
      // Corked, the writes below leave as one writev: a full table is ~100k UPDATEs, and a
      // system call each cost more than the rest of the export path together.
      const corked = s.out.length - s.outHead > 1;
      if (corked) socket.cork();
      while (s.outHead < s.out.length && socket.writableLength < OUT_HIGH) {
        const m = s.out[s.outHead]!;
        socket.write(m);
        s.outBytes -= m.length;
        s.out[s.outHead++] = undefined as unknown as Buffer;
      }
      if (corked) socket.uncork();
      if (s.outHead < s.out.length) return;
      s.out = [];
      s.outHead = 0;
      // The queue is empty: refill it from the backlog while the socket takes more.
      if (s.backlog.size === 0 || socket.writableLength >= OUT_HIGH) return;
      const item = s.backlog.take(BACKLOG_STEP);
      if (item === null) return;
      if (item.kind === 'message') this.pushOut(s, [item.bytes]);
      else this.pushPacked(s, this.pack(s, item.update));
    }
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  private onData(s: Session, chunk: Buffer): void {
    s.reader.push(chunk);
    let updates = 0;
    let updateBytes = 0;
    let arrived = false;
    for (;;) {
      if (s.disposed || s.socket === null) return;
      const length = s.reader.nextRange();
      if (length === 0) {
        const error = s.reader.takeError();
        if (error === null) break;
        this.dispatch(s, { type: 'BGPHeaderErr', notification: error.notification });
        return;
      }
      const buf = s.reader.frameBuffer;
      const start = s.reader.frameStart;
      const type = buf[start + 18]!;
      countMessage(this.received, type);
      // Any message shows the peer is alive: restart the hold timer on arrival (RFC 4271 §6.5
      // names KEEPALIVE and UPDATE; a ROUTE-REFRESH proves it as well). Once per read, at its
      // first whole message: the messages of one read arrived together, and a deadline per
      // message was a few boxed numbers each in code V8 had not optimised yet (~1.9 MB of
      // garbage over a 100k table and its withdrawal, docs/PERFORMANCE.md, twentieth session).
      if (!arrived) {
        arrived = true;
        if (s.holdDeadline !== 0 && s.negotiated && s.holdSeconds > 0) {
          s.holdDeadline = Date.now() + s.holdSeconds * 1000;
        }
      }
      if (type === 2) {
        if (s.fsm.state === 'Established') {
          updates++;
          updateBytes += length;
          this.enqueue(s, buf, start, length);
          if (s.queue.bytes > s.queuePeak) s.queuePeak = s.queue.bytes;
          // Not dispatched: in Established, UpdateMsg's one action is restarting the HoldTimer
          // (§8.2.2, Event 27; fsm.ts), which the arrival did above. A full table is ~500k
          // UPDATEs, and a transition each was a tenth of the receive path.
          this.scheduleProcessing(s);
          continue;
        }
        this.dispatch(s, { type: 'UpdateMsg' });
        continue;
      }
      this.onControlFrame(s, buf.subarray(start, start + length));
    }
    if (s.queue.bytes > QUEUE_HIGH && !s.paused && s.socket) {
      s.paused = true;
      s.pauses++;
      s.socket.pause();
    }
    // After the back-pressure check: a read that filled the queue is paused by that already.
    if (s.moderation.observe(updates, updateBytes, performance.now()) && !s.paused && s.socket !== null) {
      s.paused = true;
      s.socket.pause();
      s.moderationTimer = setTimeout(() => {
        s.moderationTimer = null;
        this.resumeReading(s);
      }, MODERATE_PAUSE_MS);
    }
  }

  /** Reads again once the queue is below QUEUE_LOW and no moderation pause is running. */
  private resumeReading(s: Session): void {
    if (s.paused && s.moderationTimer === null && s.queue.bytes < QUEUE_LOW && s.socket) {
      s.paused = false;
      s.socket.resume();
    }
  }

  private stopModeration(s: Session): void {
    if (s.moderationTimer !== null) clearTimeout(s.moderationTimer);
    s.moderationTimer = null;
  }

  private enqueue(s: Session, buf: Uint8Array, start: number, length: number): void {
    s.queue.push(buf, start, length);
  }

  private onControlFrame(s: Session, frame: Uint8Array): void {
    const opts = s.negotiated?.receiveOptions ?? DEFAULT_CODEC_OPTIONS;
    const d = decodeMessage(frame, opts);
    if (!d.ok) {
      const type = frame[18];
      const ev: FsmEvent =
        type === 1
          ? { type: 'BGPOpenMsgErr', notification: d.error.notification }
          : d.error.notification.code === 1
            ? { type: 'BGPHeaderErr', notification: d.error.notification }
            : s.fsm.state === 'Established'
              ? { type: 'UpdateMsgErr', notification: d.error.notification }
              : { type: 'BGPHeaderErr', notification: d.error.notification };
      this.log.warn({ reason: d.error.reason }, 'malformed message');
      this.dispatch(s, ev);
      return;
    }
    const msg: BgpMessage = d.value;
    switch (msg.type) {
      case 'open':
        this.onOpen(s, msg);
        return;
      case 'keepalive':
        this.dispatch(s, { type: 'KeepAliveMsg' });
        return;
      case 'notification': {
        const rec: NotificationRecord = {
          direction: 'received',
          code: msg.code,
          subcode: msg.subcode,
          text: notificationText(msg.code, msg.subcode, msg.data),
          at: Date.now(),
        };
        this.lastReceived = rec;
        this.log.warn(
          { notification: rec.text, code: msg.code, subcode: msg.subcode },
          `received NOTIFICATION: ${rec.text}`,
        );
        this.ctx.emit({
          type: 'notification',
          peer: this.id,
          name: this.cfg.name ?? this.id,
          notification: rec,
        });
        const n = { code: msg.code, subcode: msg.subcode, data: msg.data };
        // §8.1 Event 24: a NOTIFICATION with "Unsupported Version Number".
        this.dispatch(
          s,
          msg.code === 2 && msg.subcode === 1
            ? { type: 'NotifMsgVerErr', notification: n }
            : { type: 'NotifMsg', notification: n },
        );
        return;
      }
      case 'route-refresh':
        // BoRR/EoRR (RFC 7313 §4) must follow the UPDATEs received before them: with UPDATEs
        // still queued, the marker waits in the same queue (processSlice hands it back here).
        if (msg.subtype !== 0 && s.fsm.state === 'Established' && s.queue.size > 0) {
          this.enqueue(s, frame, 0, frame.length);
          this.scheduleProcessing(s);
          return;
        }
        this.onRouteRefresh(s, msg.afi, msg.safi, msg.subtype);
        return;
      case 'update':
        return;
    }
  }

  /**
   * A received ROUTE-REFRESH. Subtype 0 (RFC 2918 §4): re-send our Adj-RIB-Out for the family,
   * between BoRR and EoRR when enhanced route refresh was negotiated (RFC 7313 §4). Subtypes 1
   * and 2 (BoRR, EoRR) demarcate the peer's re-advertisement: the changes before the marker are
   * published, then the marker; at BoRR the family's routes are forgotten without withdrawals so
   * each re-advertised route reaches the RIB, which sweeps what was not re-advertised at EoRR.
   * RFC 7313 §5: other subtypes, and BoRR/EoRR without the capability, are ignored.
   */
  private onRouteRefresh(s: Session, afi: number, safi: number, subtype: number): void {
    const n = s.negotiated;
    if (s.fsm.state !== 'Established' || !n) return;
    const family = familyKey(afi, safi);
    if (!n.families.includes(family)) {
      this.log.info({ afi, safi, subtype }, 'ROUTE-REFRESH for a family not negotiated, ignored');
      return;
    }
    if (subtype === 0) {
      // Our initial table is still to come (waiting for the local routes, RFC 4724 §4.1): it
      // answers the request; RFC 7313 §4 also forbids a BoRR before our End-of-RIB.
      if (this.detachExport === null) {
        this.log.info(
          { family: familyName(family) },
          'ROUTE-REFRESH before our initial table: it answers it',
        );
        return;
      }
      this.resendAdjRibOut(s, [family]);
      return;
    }
    if ((subtype !== 1 && subtype !== 2) || !n.enhancedRouteRefresh) {
      this.log.info({ family: familyName(family), subtype }, 'ROUTE-REFRESH subtype ignored (RFC 7313 §5)');
      return;
    }
    this.publish();
    const phase = subtype === 1 ? 'begin' : 'end';
    if (phase === 'begin') this.adjRibIn.forgetFamily(family);
    this.log.info(
      { family: familyName(family) },
      `enhanced route refresh: ${subtype === 1 ? 'BoRR' : 'EoRR'}`,
    );
    this.ctx.emit({ type: 'route-refresh', peer: this.id, family, phase, at: Date.now() });
  }

  /** Our Adj-RIB-Out for some families again, demarcated by BoRR/EoRR under RFC 7313. */
  private resendAdjRibOut(s: Session, families: readonly FamilyKey[]): void {
    const n = s.negotiated;
    const peer = this.exportPeer(s);
    if (!n || !peer) return;
    const full = this.ctx.exportSource().initial(peer);
    for (const family of families) {
      if (n.enhancedRouteRefresh) this.queueRouteRefresh(s, family, 1);
      this.sendUpdate(s, {
        announce: full.announce.filter((g) => g.family === family),
        withdraw: full.withdraw.filter((g) => g.family === family),
      });
      if (n.enhancedRouteRefresh) this.queueRouteRefresh(s, family, 2);
    }
  }

  /** A ROUTE-REFRESH through the bulk output queue, so it stays in order with the UPDATEs. */
  private queueRouteRefresh(s: Session, family: FamilyKey, subtype: 0 | 1 | 2): void {
    this.sent.routeRefresh++;
    this.queueOut(s, [encodeRouteRefresh(family, subtype)]);
  }

  /**
   * Inbound soft reconfiguration by route refresh: sends ROUTE-REFRESH (RFC 2918 §3) for the
   * given families (default: every negotiated one). Unless the Adj-RIB-In is retained, the
   * family's routes are forgotten first (see AdjRibIn.forgetFamily), so the whole re-sent table
   * goes through import again. Returns the families asked for; none when the session is not
   * Established or the peer did not negotiate route refresh.
   */
  requestRefresh(families?: readonly FamilyKey[]): FamilyKey[] {
    const s = this.main;
    const n = s.negotiated;
    if (s.fsm.state !== 'Established' || !n || !n.routeRefresh) return [];
    const wanted = (families ?? n.families).filter((f) => n.families.includes(f));
    if (wanted.length === 0) return [];
    this.publish();
    for (const f of wanted) {
      // With RFC 7313 the peer's BoRR does this, in order with its UPDATEs.
      if (!this.adjRibIn.retained && !n.enhancedRouteRefresh) this.adjRibIn.forgetFamily(f);
      this.queueRouteRefresh(s, f, 0);
    }
    this.log.info({ families: wanted.map(familyName) }, 'sent ROUTE-REFRESH');
    return wanted;
  }

  /** Outbound soft reconfiguration: re-sends the Adj-RIB-Out (as FRR's `clear bgp X soft out`). */
  resendOut(): FamilyKey[] {
    const s = this.main;
    const n = s.negotiated;
    // Before the initial table went out there is nothing to re-send (it is on its way).
    if (s.fsm.state !== 'Established' || !n || this.detachExport === null) return [];
    this.resendAdjRibOut(s, n.families);
    this.log.info({ families: n.families.map(familyName) }, 'Adj-RIB-Out re-sent');
    return [...n.families];
  }

  private onOpen(s: Session, open: OpenMessage): void {
    const v = validateOpen(open, this.localOpen, { remoteAs: this.expectedAs() });
    if (!v.ok) {
      this.log.warn({ reason: v.reason }, `OPEN refused: ${v.reason}`);
      this.reason = v.reason;
      this.dispatch(s, { type: 'BGPOpenMsgErr', notification: v.notification });
      return;
    }
    // §6.8 collision detection against the other connection of this peer.
    const other = s === this.main ? this.extra : this.main;
    if (other?.socket && s.direction && other.direction) {
      const loser = resolveCollision({
        localId: this.ctx.routerId,
        remoteId: v.negotiated.peerId,
        localAs: this.ctx.localAs,
        remoteAs: v.negotiated.peerAs,
        otherState: other.fsm.state,
        thisDirection: s.direction,
        otherDirection: other.direction,
        // The collision connection is always the later of the two (promote() retires the older).
        thisIsNewer: s === this.extra,
        otherNegotiatedGracefulRestart: other.negotiated?.gracefulRestart === true,
        thisPredatesOtherEstablished: s.boundTick < other.establishedTick,
      });
      if (loser !== undefined) {
        const dumped = loser === 'this' ? s : other;
        const kept = loser === 'this' ? other : s;
        if (dumped.fsm.state === 'Established') {
          // RFC 4724 §4.2: the peer restarted without our noticing; its old TCP session is
          // closed as failed (no NOTIFICATION: nobody is left to read it), so that its routes are
          // kept as stale exactly as for any other lost connection, and the new one carries on.
          this.log.warn(
            { kept: kept.direction, port: kept.socket?.remotePort },
            'new connection from a graceful-restart peer while Established: the old session is taken as lost (RFC 4724 §4.2)',
          );
          this.dispatchReplacing(dumped, { type: 'TcpConnectionFails' });
        } else {
          this.log.info({ dumped: dumped.direction, kept: kept.direction }, 'connection collision');
          this.dispatchReplacing(dumped, { type: 'OpenCollisionDump' });
        }
        if (dumped === s) return;
      }
    }
    s.remoteOpen = open;
    s.negotiated = v.negotiated;
    s.reader.setOptions(v.negotiated.receiveOptions);
    this.dispatch(s, {
      type: 'BGPOpen',
      holdTime: v.negotiated.holdTime,
      ...(this.cfg.keepaliveTime ? { keepaliveTime: this.cfg.keepaliveTime } : {}),
    });
    if (s === this.extra && this.mainIsBehind()) this.promote();
  }

  /**
   * Ends the connection that lost a collision. When that is the main one, the collision
   * connection is about to replace it (promote): a dynamic peer is not over for it.
   */
  private dispatchReplacing(dumped: Session, e: FsmEvent): void {
    this.mainBeingReplaced = dumped === this.main;
    try {
      this.dispatch(dumped, e);
    } finally {
      this.mainBeingReplaced = false;
    }
  }

  /**
   * Whether the main connection has not reached OpenSent (or was dumped back to Idle), so that
   * a collision connection which has the peer's OPEN should replace it. A connection of ours
   * still in Connect has sent no OPEN yet. The peer sent its OPEN on the other one only after its
   * own connect completed; it could still dump that one by §6.8 against our attempt, but only
   * once it has our OPEN on the attempt, which we send after our connect completes, and then
   * main is in OpenSent here and §6.8 (onOpen) decides on this side too.
   */
  private mainIsBehind(): boolean {
    const st = this.main.fsm.state;
    return st === 'Idle' || st === 'Connect' || st === 'Active';
  }

  /** The collision connection won: it becomes the peer's session. */
  private promote(): void {
    const old = this.main;
    const winner = this.extra;
    if (!winner) return;
    if (old.socket) this.dropSocket(old, 'the collision connection replaces it');
    old.clearTimers();
    old.disposed = true;
    this.extra = null;
    const from = old.fsm.state;
    this.main = Object.assign(winner, { label: 'main' as const });
    this.since = Date.now();
    this.reason = 'CollisionResolution';
    this.ctx.emit({
      type: 'state',
      peer: this.id,
      name: this.cfg.name ?? this.id,
      address: this.remoteAddress(),
      from,
      to: winner.fsm.state,
      reason: 'CollisionResolution',
      at: this.since,
    });
  }

  private expectedAs(): number | ((asn: number) => boolean) {
    const r = this.cfg.remoteAs;
    const local = this.ctx.localAs >>> 0;
    if (r === 'internal') return local;
    if (r === 'external') return (asn: number) => asn !== local;
    return r;
  }

  private scheduleProcessing(s: Session): void {
    if (s.scheduled) return;
    s.scheduled = true;
    s.processSlice ??= () => this.processSlice(s);
    setImmediate(s.processSlice);
  }

  /** Decodes queued UPDATEs for at most SLICE_MS, then yields. */
  private processSlice(s: Session): void {
    s.scheduled = false;
    if (s.disposed || s.fsm.state !== 'Established' || !s.negotiated) return;
    const opts: CodecOptions = s.negotiated.receiveOptions;
    const families = new Set(s.negotiated.families);
    const fourOctetAs = s.negotiated.fourOctetAs;
    const v4AddPath = opts.addPath.has(Family.IPv4Unicast);
    const start = performance.now();
    let n = 0;
    const q = s.queue;
    while (q.size > 0) {
      const buf = q.frontBuffer;
      const at = q.frontStart;
      const end = at + q.frontLength;
      q.shift();
      // Most UPDATEs of a full table repeat an attribute set already seen: no decode for those.
      if (buf[at + 18] === 2 && this.adjRibIn.applyFrame(buf, fourOctetAs, v4AddPath, families, at, end)) {
        if ((++n & 15) === 0) {
          if (performance.now() - start >= SLICE_MS) break;
          // Hand over every 1024 UPDATEs: their prefix lists then go back to the Adj-RIB-In's
          // pool (AdjRibIn.parseLent) instead of the pool having to hold a whole slice's worth.
          if ((n & 1023) === 0) this.publish();
        }
        continue;
      }
      const frame = buf.subarray(at, end);
      const d = decodeMessage(frame, opts);
      if (!d.ok) {
        // RFC 7606: only session-reset errors arrive here; treat-as-withdraw is on the message.
        this.log.warn({ reason: d.error.reason }, 'UPDATE error, resetting session');
        this.reason = d.error.reason;
        this.dispatch(s, { type: 'UpdateMsgErr', notification: d.error.notification });
        return;
      }
      if (d.value.type === 'update') {
        const u = d.value;
        if (u.errors.length > 0) {
          this.log.warn(
            { errors: u.errors.map((e) => `${e.action}: ${e.reason}`) },
            'UPDATE attribute errors (RFC 7606)',
          );
        }
        this.adjRibIn.applyUpdate(u, frame, fourOctetAs, families);
      } else if (d.value.type === 'route-refresh') {
        // A BoRR/EoRR queued behind UPDATEs (onControlFrame).
        this.onRouteRefresh(s, d.value.afi, d.value.safi, d.value.subtype);
        if (s.disposed || s.fsm.state !== 'Established') return;
      }
      if ((++n & 15) === 0 && performance.now() - start >= SLICE_MS) break;
    }
    this.publish();
    if (!this.checkMaxPrefixes()) return;
    this.resumeReading(s);
    if (q.size > 0) this.scheduleProcessing(s);
  }

  private publish(sessionDown?: AdjRibInBatch['sessionDown']): void {
    const drained = this.adjRibIn.drain();
    if (!drained) return;
    const batch = sessionDown ? { ...drained, sessionDown } : drained;
    try {
      this.ctx.publish(batch);
    } finally {
      this.adjRibIn.release(batch);
    }
  }

  /**
   * RFC 4486 §4 subcode 1, per family: the first family whose Adj-RIB-In exceeds its own limit
   * stops the session; the data is that family's AFI (2 octets), SAFI (1) and limit (4). Returns
   * false when the session was stopped.
   */
  private checkMaxPrefixes(): boolean {
    const limits = this.cfg.maxPrefixes;
    if (limits === undefined) return true;
    const over = maxPrefixExceeded(limits, (f) => this.adjRibIn.size(f));
    if (over === null) return true;
    const { family: fam, limit } = over;
    const data = new Uint8Array(7);
    data[0] = familyAfi(fam) >> 8;
    data[1] = familyAfi(fam) & 0xff;
    data[2] = fam & 0xff;
    new DataView(data.buffer).setUint32(3, limit >>> 0);
    this.log.warn(
      { family: familyName(fam), limit, received: this.adjRibIn.size(fam) },
      'maximum prefixes exceeded',
    );
    // RFC 8538 §5: "Maximum Number of Prefixes Reached" is sent as Hard Reset when N was negotiated.
    const notification = this.main.negotiated?.gracefulRestartNotification
      ? hardResetCease(CeaseSubcode.MaximumNumberOfPrefixesReached, data)
      : { code: NotificationCode.Cease, subcode: CeaseSubcode.MaximumNumberOfPrefixesReached, data };
    this.dispatch(this.main, { type: 'AutomaticStop', notification });
    // A collision connection must not bring the stopped session back when its OPEN arrives.
    if (this.extra) this.dispatch(this.extra, { type: 'AutomaticStop', notification });
    const restart = over.restartAfter;
    if (restart !== undefined && this.dynamicParent === undefined) {
      if (this.maxPrefixTimer) clearTimeout(this.maxPrefixTimer);
      this.maxPrefixTimer = setTimeout(() => {
        this.maxPrefixTimer = null;
        if (!this.adminDown && this.main.fsm.state === 'Idle')
          this.dispatch(this.main, { type: 'AutomaticStart' });
      }, restart * 1000);
    }
    return false;
  }

  private release(s: Session): void {
    s.clearQueues();
    if (s !== this.main) return;
    if (s.establishedAt !== 0) {
      s.establishedAt = 0;
      this.detachExport?.();
      this.detachExport = null;
    }
    const n = this.adjRibIn.clear();
    if (n > 0) this.log.info({ withdrawn: n }, 'session down: routes withdrawn');
    this.publish(s.loss ? { gracefulRestartEligible: s.loss.eligible } : undefined);
    s.negotiated = null;
  }

  // ------------------------------------------------------------------------------------------
  // Sending routes

  private exportPeer(s: Session): ExportPeer | null {
    const n = s.negotiated;
    const socket = s.socket;
    if (!n || !socket) return null;
    return {
      id: this.id,
      address: normalizeAddress(socket.remoteAddress),
      localAs: this.ctx.localAs,
      peerAs: n.peerAs,
      internal: n.internal,
      localAddress: normalizeAddress(socket.localAddress),
      families: n.families,
      negotiated: n,
    };
  }

  private established(s: Session): void {
    s.establishedAt = Date.now();
    s.establishedTick = ++this.tick;
    const n = s.negotiated;
    if (!n) return;
    // Pre-policy routes are kept when configured, or when the peer cannot re-send them.
    this.adjRibIn.retained = (this.cfg.retainAdjRibIn ?? 'always') === 'always' || !n.routeRefresh;
    this.log.info(
      {
        peerAs: n.peerAs,
        holdTime: n.holdTime,
        families: n.families.map(familyName),
        fourOctetAs: n.fourOctetAs,
        addPathReceive: [...n.addPathReceive].map(familyName),
      },
      'session established',
    );
    const source = this.ctx.exportSource();
    const begin = (): void => {
      // The session may have gone while the source was getting ready.
      if (this.main !== s || s.fsm.state !== 'Established') return;
      this.sendInitial(s, n.families, true);
      this.detachExport = source.attach((compute) => {
        if (this.main !== s || s.fsm.state !== 'Established') return;
        const peer = this.exportPeer(s);
        if (!peer) return;
        const update = compute(peer);
        if (update) this.sendUpdate(s, update);
      });
    };
    const peer = this.exportPeer(s);
    if (peer) source.sessionUp?.(peer);
    // Keepalives run meanwhile: only the initial table and its End-of-RIB wait.
    const ready = source.whenReady?.();
    if (ready) ready.then(begin, begin);
    else begin();
  }

  private sendInitial(s: Session, families: readonly FamilyKey[], endOfRibAfter: boolean): void {
    const peer = this.exportPeer(s);
    if (!peer) return;
    const full = this.ctx.exportSource().initial(peer);
    const wanted = new Set(families);
    this.sendUpdate(s, {
      announce: full.announce.filter((g) => wanted.has(g.family)),
      withdraw: full.withdraw.filter((g) => wanted.has(g.family)),
    });
    // RFC 4724 §2: End-of-RIB per family once the initial table is out.
    if (endOfRibAfter) {
      this.queueOut(
        s,
        families.map((f) => endOfRib(f)),
      );
      this.initialEndOfRibDone = true;
      this.ctx.initialEndOfRibSent(this);
    }
  }

  private sendUpdate(s: Session, update: ExportUpdate): void {
    const n = s.negotiated;
    if (!n) return;
    // Copies only when some group is of a family the session did not negotiate (rare): this runs
    // per commit, with one group per attribute set, and copying every time was garbage each.
    const announce = ofFamilies(update.announce, n.families);
    const withdraw = ofFamilies(update.withdraw, n.families);
    if (announce.length === 0 && withdraw.length === 0) return;
    // A slow peer: merge instead of packing. Once the backlog holds anything, every change goes
    // there, or a newer state packed now could be overtaken by an older one packed from it.
    if (s.backlog.size > 0 || s.outBytes > OUT_BACKLOG_AT) {
      s.backlog.add({ announce, withdraw });
      this.pumpOut(s);
      return;
    }
    // The backlog is empty here (checked above), so nothing queued can be overtaken.
    this.pushPacked(s, this.pack(s, { announce, withdraw }));
    this.pumpOut(s);
  }

  private pack(s: Session, update: ExportUpdate): PackedOutput {
    const n = s.negotiated;
    if (!n) return { chunks: [], updates: 0 };
    const packed = packUpdates(update.announce, update.withdraw, n.sendOptions);
    for (const f of packed.failed) this.log.error({ reason: f.reason }, 'could not pack UPDATE');
    return { chunks: packed.chunks, updates: packed.messageCount };
  }

  // ------------------------------------------------------------------------------------------
  // Status

  status(): PeerStatus {
    const s = this.main;
    const n = s.negotiated;
    const socket = s.socket;
    const byFamily: Record<string, number> = {};
    for (const f of this.adjRibIn.families()) byFamily[familyName(f)] = this.adjRibIn.size(f);
    const last = [this.lastSent, this.lastReceived]
      .filter((x): x is NotificationRecord => x !== undefined)
      .sort((a, b) => b.at - a.at)[0];
    const exportPeer = s.fsm.state === 'Established' ? this.exportPeer(s) : null;
    const source = this.ctx.exportSource();
    const localCaps = buildOpen(this.localOpen).capabilities.map(capabilityName);
    const remote = n?.peerCapabilities.map(capabilityName);
    return {
      key: this.cfg.key,
      id: this.id,
      name: this.cfg.name ?? this.id,
      description: this.cfg.description,
      address: this.cfg.address,
      range: this.cfg.range,
      dynamic: this.dynamicParent !== undefined,
      localAs: this.ctx.localAs,
      remoteAs: n?.peerAs ?? (typeof this.cfg.remoteAs === 'number' ? this.cfg.remoteAs : undefined),
      state: s.fsm.state,
      adminDown: this.adminDown,
      since: this.since,
      establishedAt: s.establishedAt || undefined,
      reason: this.reason,
      localAddress: socket ? normalizeAddress(socket.localAddress) : this.cfg.localAddress,
      localPort: socket?.localPort,
      remotePort: socket?.remotePort,
      remoteRouterId: n ? uint32ToIPv4(n.peerId) : undefined,
      timers: {
        holdTime: this.localOpen.holdTime,
        keepaliveTime: this.cfg.keepaliveTime ?? Math.floor(this.localOpen.holdTime / 3),
        connectRetry: this.fsmConfig.connectRetryTime,
        negotiatedHoldTime: n ? s.fsm.holdTime : undefined,
        negotiatedKeepalive: n ? s.fsm.keepaliveTime : undefined,
      },
      capabilities: n
        ? {
            local: localCaps,
            remote: remote ?? [],
            negotiated: negotiatedCapabilities(n),
          }
        : undefined,
      families: n ? n.families.map(familyName) : (this.cfg.families ?? ['ipv4-unicast']).slice(),
      counters: { sent: { ...this.sent }, received: { ...this.received } },
      prefixesReceived: this.adjRibIn.size(),
      prefixesReceivedByFamily: byFamily,
      prefixesSent: exportPeer && source.count ? source.count(exportPeer) : 0,
      lastError: last,
      lastErrorSent: this.lastSent,
      lastErrorReceived: this.lastReceived,
      connectRetryCounter: s.fsm.connectRetryCounter,
      inputQueueBytes: s.queue.bytes,
      inputQueuePeakBytes: s.queuePeak,
      outputQueueBytes: s.outBytes,
      outputQueuePeakBytes: s.outPeak,
      outputBacklogRoutes: s.backlog.pendingRoutes,
      outputBacklogPeakRoutes: s.backlog.peakRoutes,
      inputPaused: s.paused,
      inputPauses: s.pauses,
      inputModerations: s.moderation.pauses,
    };
  }
}

/**
 * The first family (in FamilyName order) whose prefix count exceeds its configured limit, or
 * null. Pure: `count` gives the Adj-RIB-In size of a family.
 */
export function maxPrefixExceeded(
  limits: Partial<Record<FamilyName, MaxPrefixLimit>>,
  count: (family: FamilyKey) => number,
): { family: FamilyKey; limit: number; restartAfter?: number | undefined } | null {
  for (const name of Object.keys(familyKeys) as FamilyName[]) {
    const m = limits[name];
    if (m === undefined) continue;
    const family = familyKeys[name];
    if (count(family) > m.limit) return { family, limit: m.limit, restartAfter: m.restartAfter };
  }
  return null;
}

/** 'multiprotocol:ipv4-unicast', 'add-path:ipv4-unicast:receive', 'unknown-200', ... */
function capabilityName(c: Capability): string {
  switch (c.kind) {
    case 'multiprotocol':
      return `multiprotocol:${familyName(familyKey(c.afi, c.safi))}`;
    case 'add-path':
      return `add-path:${c.families.map((f) => `${familyName(familyKey(f.afi, f.safi))}:${['', 'receive', 'send', 'both'][f.mode] ?? f.mode}`).join(',')}`;
    case 'graceful-restart': {
      const flags = `${c.restartState ? 'R' : ''}${c.notification ? 'N' : ''}`;
      const fams = c.families.map(
        (f) => `${familyName(familyKey(f.afi, f.safi))}${f.forwardingState ? '+F' : ''}`,
      );
      return `graceful-restart:${c.restartTime}s${flags ? `:${flags}` : ''}${fams.length > 0 ? `:${fams.join(',')}` : ''}`;
    }
    case 'unknown':
      return `unknown-${c.code}`;
    default:
      return c.kind;
  }
}

function negotiatedCapabilities(n: Negotiated): string[] {
  const out: string[] = n.families.map((f) => `multiprotocol:${familyName(f)}`);
  if (n.routeRefresh) out.push('route-refresh');
  if (n.enhancedRouteRefresh) out.push('enhanced-route-refresh');
  if (n.fourOctetAs) out.push('four-octet-as');
  if (n.extendedMessage) out.push('extended-message');
  for (const f of n.addPathReceive) out.push(`add-path-receive:${familyName(f)}`);
  for (const f of n.addPathSend) out.push(`add-path-send:${familyName(f)}`);
  if (n.gracefulRestart) out.push('graceful-restart');
  if (n.gracefulRestartNotification) out.push('graceful-restart-notification');
  return out;
}

interface SessionLoss {
  readonly cause: SessionLossCause;
  readonly eligible: boolean;
  readonly peerGracefulRestart: Extract<Capability, { kind: 'graceful-restart' }> | undefined;
}

/**
 * Classifies the end of an Established session (RFC 4724 §4.2, RFC 8538 §4): the event that
 * ended it, and the NOTIFICATION the FSM sends on the way out (if any). Pure.
 */
export function sessionLoss(n: Negotiated | null, e: FsmEvent, actions: readonly FsmAction[]): SessionLoss {
  const sent = actions.find(
    (a): a is Extract<FsmAction, { type: 'SendNotification' }> => a.type === 'SendNotification',
  );
  let cause: SessionLossCause;
  if ((e.type === 'NotifMsg' || e.type === 'NotifMsgVerErr') && e.notification) {
    cause = isHardReset(e.notification.code, e.notification.subcode) ? 'hard-reset' : 'notification';
  } else if (sent && isHardReset(sent.notification.code, sent.notification.subcode)) {
    cause = 'hard-reset';
  } else if (e.type === 'ManualStop') {
    // A plain Cease of ours: RFC 8538 §4 keeps GR going when N was negotiated (the sender is a
    // helper too); without N it is an administrative end.
    cause = n?.gracefulRestartNotification ? 'notification' : 'admin';
  } else if (e.type === 'HoldTimer_Expires') {
    cause = 'hold-timer';
  } else if (sent) {
    cause = 'notification';
  } else {
    cause = 'tcp-failure';
  }
  const cap = n?.peerGracefulRestart;
  const families = n?.families ?? [];
  const covers =
    (n?.gracefulRestart ?? false) &&
    cap !== undefined &&
    cap.restartTime > 0 &&
    cap.families.some((f) => families.includes(familyKey(f.afi, f.safi)));
  const eligible =
    covers &&
    (cause === 'tcp-failure' ||
      cause === 'hold-timer' ||
      (cause === 'notification' && (n?.gracefulRestartNotification ?? false)));
  return { cause, eligible, peerGracefulRestart: cap };
}

/** The groups of the given families: `groups` itself when all are. */
function ofFamilies<G extends { readonly family: FamilyKey }>(
  groups: readonly G[],
  families: readonly FamilyKey[],
): readonly G[] {
  for (let i = 0; i < groups.length; i++) {
    if (!families.includes(groups[i]!.family)) return groups.filter((g) => families.includes(g.family));
  }
  return groups;
}
