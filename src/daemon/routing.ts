// The routing engine: turns the session layer's Adj-RIB-In changes into Loc-RIB decisions and
// Adj-RIB-Out updates, as src/bgp/rib/index.ts describes the wiring.
//
//   Speaker.adjRibInChanges ─► intern attributes ─► ImportFilter (loops, RFC 8212, policy)
//        ─► LocRib per family ─► commit (coalesced, after the session layer's input slice)
//        ─► RibExportSource (update groups) ─► Speaker sessions
//        └► FibFeed (best path + multipath) ─► dataplane extension
//
// Our own routes (config `originate` and OriginationSink sources such as the dataplane's
// workloads) enter the Loc-RIB as paths of the local pseudo-peer (index 0), so they pass through
// export policy and update groups like every other route.
//
// Graceful restart, helper side (RFC 4724 §4.2): when a session with a GR-capable peer goes down
// the session layer withdraws its Adj-RIB-In; for the families the peer listed we ignore those
// withdrawals and mark the paths stale instead, arm the restart timer, sweep the paths still stale
// at the peer's End-of-RIB (per family) or when a timer expires.
//
// Commits are coalesced: the session layer processes input in time slices of SLICE_MS and
// publishes after each; a commit runs behind pending I/O (setImmediate), so keepalives are never
// starved, and under load at most every COMMIT_INTERVAL_MS, so that one commit covers several
// slices' worth of prefixes.

import type { Observable } from 'rxjs';
import { Subject, type Subscription } from 'rxjs';
import {
  type FamilyKey,
  familyAfi,
  familyKey,
  familyName,
  type PathAttributes,
  type PrefixList,
} from '../bgp/codec/index.ts';
import { holeyArray } from '../bgp/holey-array.ts';
import { ID_TABLE_INITIAL } from '../bgp/id-table.ts';
import { formatCommunity } from '../bgp/policy/communities.ts';
import { PolicyCompiler } from '../bgp/policy/compile.ts';
import { ExportFilter, type ExportSettings, ImportFilter } from '../bgp/policy/filters.ts';
import { MaxPrefixGuard } from '../bgp/policy/max-prefix.ts';
import { defaultReflectorConfig, type ReflectorConfig } from '../bgp/reflector/reflector.ts';
import { AttrTable } from '../bgp/rib/attr-table.ts';
import {
  formatAsPath,
  nextHopBytes,
  parseIpv4,
  type StoredAttributes,
  storedFromUpdate,
} from '../bgp/rib/attrs.ts';
import {
  CONNECTED_RESOLVER,
  DecisionProcess,
  decisionOptionsFromConfig,
  type NextHopResolver,
} from '../bgp/rib/best-path.ts';
import { RibExportSource } from '../bgp/rib/export-source.ts';
import {
  flushPeer,
  type GrCapabilityView,
  markPeerStale,
  onSessionLoss,
  onSessionReestablished,
  type SessionLossCause,
  sweepStale,
} from '../bgp/rib/graceful-restart.ts';
import { LocRib, RibChange, type RibChanges } from '../bgp/rib/loc-rib.ts';
import type { LoopCheckConfig } from '../bgp/rib/loop-check.ts';
import { LOCAL_PEER, type PeerInfo, PeerTable } from '../bgp/rib/peers.ts';
import {
  copyPrefixList,
  formatPrefix,
  PrefixListBuilder,
  parsePrefix,
  prefixCovers,
  strideOf,
} from '../bgp/rib/prefix.ts';
import { describeRoute, type RouteDetail } from '../bgp/rib/show.ts';
import { type UpdateBatch, type UpdateGroup, UpdateGroups } from '../bgp/rib/update-group.ts';
import type { AdjRibInBatch, AdjRibInView } from '../bgp/session/adj-rib-in.ts';
import type { StoredAttributes as SessionAttributes } from '../bgp/session/attr-store.ts';
import type {
  ExportPeer,
  ExportSource,
  ExportUpdate,
  OriginatedRoute,
  PeerStatus,
  SpeakerEvent,
} from '../bgp/session/types.ts';
import type { Config, NeighborConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { FibBatch, FibNextHop, FibRoute } from './fib-feed.ts';
import { addressBytes, formatAddressBytes } from './routing-resolver.ts';
import type { RibMemory, RouteQuery, RouteView } from './speaker-port.ts';

type Sink = (changes: (peer: ExportPeer) => ExportUpdate | null) => void;
type ExportBinding = ReturnType<ConstructorParameters<typeof RibExportSource>[1]['resolve']>;

const IPV4 = familyKey(1, 1);
const IPV6 = familyKey(2, 1);
const FAMILIES: readonly FamilyKey[] = [IPV4, IPV6];

/** What the engine needs of the session layer's Speaker (a fake in unit tests). */
export interface RoutingSpeaker {
  readonly adjRibInChanges: Observable<AdjRibInBatch>;
  readonly events: Observable<SpeakerEvent>;
  readonly attributes: { get(id: number): SessionAttributes | undefined };
  setExportSource(source: ExportSource): void;
  status(): PeerStatus[];
  adjRibIn(id: string): AdjRibInView | undefined;
  /**
   * Sends ROUTE-REFRESH (RFC 2918) on a session for the given families (default: all
   * negotiated); returns the families asked for per session. Absent: refresh is unavailable.
   */
  refreshIn?(id: string, families?: readonly FamilyKey[]): Map<string, FamilyKey[]>;
}

export interface RoutingEngineOptions {
  readonly speaker: RoutingSpeaker;
  readonly config: Config;
  readonly log: Logger;
  readonly resolver?: NextHopResolver;
  /** Milliseconds between commits under load; default COMMIT_INTERVAL_MS (tests lengthen it). */
  readonly commitIntervalMs?: number;
}

/** One session (by session id) as the RIB knows it. */
interface RibPeer {
  readonly id: string;
  readonly index: number;
  neighbor: NeighborConfig;
  info: PeerInfo;
  export: ExportPeer;
  established: boolean;
  /** Import filter per family (AFI 1, 2). */
  imports: Map<FamilyKey, ImportFilter>;
  /** Families the current session carries. */
  families: readonly FamilyKey[];
  /** The peer's GR capability from its last OPEN. */
  gr: GrCapabilityView | null;
  /** Families whose paths are stale (kept through the peer's restart). */
  stale: Set<FamilyKey>;
  /** Families whose End-of-RIB arrived in the current session. */
  endOfRib: Set<FamilyKey>;
  restartTimer: NodeJS.Timeout | null;
  staleTimer: NodeJS.Timeout | null;
  guards: Map<FamilyKey, MaxPrefixGuard>;
  rfc8212Logged: boolean;
  /** Counts session establishments (a held withdrawal belongs to one session). */
  sessionEpoch: number;
}

interface FamilyState {
  readonly family: FamilyKey;
  readonly rib: LocRib;
  readonly groups: UpdateGroups;
}

/**
 * Prefixes decided per scheduled commit and family. Large enough that a full table costs a few
 * dozen commits; small enough that one commit takes some tens of milliseconds, not the ~0.3 s of
 * deciding a million withdrawn prefixes at once.
 */
const COMMIT_SLICE = 65536;

/**
 * The Loc-RIB's prefix and path records, and the arrays that follow their capacity (each update
 * group's Adj-RIB-Out), start with room for this many per family instead of 1,024.
 *
 * Why: memory first touched costs a page fault, in which the kernel zeroes the page. On this
 * class of VM that is ~11 µs per 4 KiB page (`minorFaults` in conformance/bench). Growing by
 * half from 1,024 touched the arrays about three times over, fresh each time: ~2,000 of a first
 * 100k table's ~7,500 faults.
 *
 * Arrays this large are mapped straight from the kernel, which hands a page over only when it is
 * first written, so the room costs address space (~4.5 MiB for IPv4 and ~6 MiB for IPv6), not
 * resident memory.
 *
 * The value is a step of LocRib's own growth sequence from 1,024 (RIB_GROWTH, ×2), so a larger
 * table grows through the same capacities as one that started small: a 1M table ends at 1,048,576.
 * (With ×1.5 growth, 131,072 had given a 1M table 1.49M slots, and 20 MiB more peak RSS, so
 * 132,861 was the value then.)
 */
export const RIB_INITIAL_PREFIXES = 131_072;

/**
 * Under load, commits run at most this often (milliseconds). Why: each commit packs what changed
 * per attribute set, so committing after every input slice turned a stream of one-prefix UPDATEs
 * into as many outgoing ones, each costing us ~1.4 µs and the receiver its own processing. Input
 * slices are as small as a socket read when the sender is the bottleneck. FRR holds its work
 * queues 50 ms by default (WORK_QUEUE_DEFAULT_HOLD) for the same reason.
 */
const COMMIT_INTERVAL_MS = 20;
/**
 * "Under load": the last commit decided at least this many prefixes. Below it a change is
 * committed at once, so a lone withdrawal is not held back (withdraw.bench.ts).
 */
const COMMIT_LOAD = 1024;

/** The longest a new session waits for declared origination sources (seconds). */
const ORIGINATION_WAIT_MAX_S = 30;

function lossCause(reason: string | undefined): SessionLossCause {
  switch (reason) {
    case 'ManualStop':
      return 'admin';
    case 'HoldTimerExpired':
      return 'hold-timer';
    case 'NotificationReceived':
    case 'UnsupportedVersionNotificationReceived':
    case 'HeaderError':
    case 'OpenMessageError':
    case 'UpdateMessageError':
      return 'notification';
    default:
      return 'tcp-failure';
  }
}

function ipv4Number(text: string): number | undefined {
  const b = addressBytes(text);
  if (b === null || b.length !== 4) return undefined;
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** The policy and prefix-list definitions a neighbour's import can depend on, as comparable text. */
function importDefinitions(c: Config, n: NeighborConfig): string {
  if (n.import === undefined || n.import.length === 0) return '';
  const policies = c.policies as Record<string, unknown> | undefined;
  return JSON.stringify([n.import.map((name) => policies?.[name] ?? null), c.prefixLists]);
}

function sessionToRib(s: SessionAttributes): StoredAttributes {
  const out = storedFromUpdate(s.attributes as PathAttributes);
  if (s.mpNextHop !== null) out.mpNextHop = s.mpNextHop;
  return out;
}

export class RoutingEngine {
  readonly attrs = new AttrTable();
  readonly peers: PeerTable;
  readonly families = new Map<FamilyKey, FamilyState>();
  readonly ribExport: RibExportSource;
  /** What the Speaker sees: the RIB's export source, with the sinks kept for reconfiguration. */
  readonly exportSource: ExportSource;
  private readonly sinks = new Set<Sink>();
  readonly decision: DecisionProcess;
  /** Forwarding changes: every commit's best/multipath changes, as text (see fib-feed.ts). */
  readonly fibChanges = new Subject<FibBatch>();
  private config: Config;
  private compiler: PolicyCompiler;
  private reflector: ReflectorConfig;
  private readonly log: Logger;
  private readonly speaker: RoutingSpeaker;
  private readonly bySession = new Map<string, RibPeer>();
  private readonly subs: Subscription[] = [];
  private commitScheduled = false;
  /** performance.now() of the last commit, and the prefixes pending at it (COMMIT_INTERVAL_MS) */
  private lastCommitAt = 0;
  private lastCommitSize = 0;
  private readonly commitIntervalMs: number;
  /** Origination sources declared but not yet heard from (expectOrigination). */
  private readonly pendingSources = new Set<string>();
  private readonly readyWaiters: (() => void)[] = [];
  private readyTimer: NodeJS.Timeout | null = null;
  private readonly originSources = new Map<string, readonly OriginatedRoute[]>();
  private originatedTimer: NodeJS.Timeout | null = null;
  /** The local routes currently in the RIB: prefix text -> attribute id (one ref each). */
  private local = new Map<string, { family: FamilyKey; attrId: number }>();
  private initialDone = false;
  private initialTimer: NodeJS.Timeout | null = null;
  /** Session attribute id -> RIB attribute id, valid while the session's object is the same. */
  private sessObj: (SessionAttributes | undefined)[] = holeyArray();
  private sessRib = new Int32Array(ID_TABLE_INITIAL);
  private stopped = false;
  /** Counters for `show` and tests. */
  readonly stats = { commits: 0, batches: 0, fibUpserts: 0, fibRemovals: 0 };

  constructor(opts: RoutingEngineOptions) {
    this.commitIntervalMs = opts.commitIntervalMs ?? COMMIT_INTERVAL_MS;
    this.speaker = opts.speaker;
    this.config = opts.config;
    this.log = opts.log;
    const routerId = parseIpv4(opts.config.routerId);
    this.peers = new PeerTable(routerId, opts.config.asn);
    this.compiler = this.makeCompiler(opts.config);
    this.reflector = this.makeReflector(opts.config);
    this.decision = new DecisionProcess(
      this.attrs,
      this.peers,
      decisionOptionsFromConfig(opts.config.bestPath),
      opts.resolver ?? CONNECTED_RESOLVER,
    );
    for (const family of FAMILIES) {
      const afi = familyAfi(family) as 1 | 2;
      const rib = new LocRib({
        afi,
        attrs: this.attrs,
        decision: this.decision,
        initialPrefixes: RIB_INITIAL_PREFIXES,
      });
      const groups = new UpdateGroups(
        rib,
        family,
        (s) => new ExportFilter(this.attrs, this.peers, this.compiler, s),
      );
      this.families.set(family, { family, rib, groups });
    }
    this.ribExport = new RibExportSource(this.groupMap(), {
      resolve: (peer, family) => this.bindExport(peer, family),
    });
    this.exportSource = {
      initial: (peer) => this.ribExport.initial(peer),
      attach: (sink) => {
        this.sinks.add(sink);
        const detach = this.ribExport.attach(sink);
        return () => {
          this.sinks.delete(sink);
          detach();
        };
      },
      count: (peer) => this.ribExport.count(peer),
      whenReady: () => this.originationReady(),
      sessionUp: (peer) => {
        this.sessionUp(peer);
      },
    };
  }

  private groupMap(): Map<FamilyKey, UpdateGroups> {
    const m = new Map<FamilyKey, UpdateGroups>();
    for (const [f, s] of this.families) m.set(f, s.groups);
    return m;
  }

  private makeCompiler(c: Config): PolicyCompiler {
    return new PolicyCompiler({ prefixLists: c.prefixLists, policies: c.policies });
  }

  private makeReflector(c: Config): ReflectorConfig {
    const routerId = parseIpv4(c.routerId);
    const clients = c.neighbors.some((n) => n.routeReflectorClient);
    const base = defaultReflectorConfig(routerId, clients);
    const id = c.routeReflector?.clusterId;
    if (id === undefined) return base;
    const clusterId = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : parseIpv4(id);
    return { ...base, clusterId: clusterId >>> 0 };
  }

  private loopConfig(n: NeighborConfig): LoopCheckConfig {
    return {
      localAs: this.config.asn,
      allowasIn: n.allowasIn ?? 0,
      routerId: parseIpv4(this.config.routerId),
      clusterIds: [this.reflector.clusterId],
    };
  }

  /** Subscribes to the speaker and installs the Loc-RIB as its export source. */
  start(): void {
    this.speaker.setExportSource(this.exportSource);
    this.subs.push(this.speaker.adjRibInChanges.subscribe((b) => this.onBatch(b)));
    this.subs.push(this.speaker.events.subscribe((e) => this.onEvent(e)));
    this.setOriginated('config', this.configOriginated(this.config));
    // The initial table is complete when every enabled neighbour sent End-of-RIB, or after the
    // restart time (RFC 4724 §4.1 selection deferral bound), whichever comes first.
    const bound = this.config.gracefulRestart.restartTime;
    this.initialTimer = setTimeout(() => this.completeInitial('timer'), bound * 1000);
    this.initialTimer.unref?.();
    this.checkInitial();
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
    for (const p of this.bySession.values()) this.clearTimers(p);
    if (this.initialTimer) clearTimeout(this.initialTimer);
    if (this.originatedTimer) clearTimeout(this.originatedTimer);
    this.pendingSources.clear();
    this.releaseReadyWaiters();
    this.fibChanges.complete();
  }

  // ---- origination -----------------------------------------------------------------------------

  private configOriginated(c: Config): OriginatedRoute[] {
    return c.originate.map((o) => ({
      prefix: o.prefix,
      communities: o.communities,
      largeCommunities: o.largeCommunities,
      med: o.med,
      localPref: o.localPref,
      nextHop: o.nextHop,
    }));
  }

  /** Replaces one source's originated routes; they enter the Loc-RIB as local paths (peer 0). */
  setOriginated(source: string, routes: readonly OriginatedRoute[]): void {
    if (routes.length === 0) this.originSources.delete(source);
    else this.originSources.set(source, routes);
    this.syncLocal();
    if (this.pendingSources.delete(source) && this.pendingSources.size === 0) {
      // Commit first, so the sessions waiting in whenReady() send a table that holds these routes.
      this.commitNow();
      this.releaseReadyWaiters();
    }
  }

  /**
   * Declares a source (e.g. the workload watcher) whose first list is still to come. Until every
   * declared source has delivered, new sessions hold back their initial table and End-of-RIB
   * (RFC 4724 §4.1), so a restarting host never tells its peers "that is all" without its own
   * routes, which would make them sweep those routes as stale and drop traffic.
   */
  expectOrigination(source: string): void {
    if (this.originSources.has(source)) return;
    this.pendingSources.add(source);
    if (this.readyTimer === null) {
      // Bounded like the selection deferral: a source that never reports must not hold peers forever.
      const bound = Math.min(this.config.gracefulRestart.restartTime, ORIGINATION_WAIT_MAX_S);
      this.readyTimer = setTimeout(() => {
        if (this.pendingSources.size > 0)
          this.log.warn(
            { sources: [...this.pendingSources], waitedSeconds: bound },
            'origination sources did not report in time; sending the initial table without them',
          );
        this.pendingSources.clear();
        this.releaseReadyWaiters();
      }, bound * 1000);
      this.readyTimer.unref?.();
    }
  }

  private originationReady(): Promise<void> | undefined {
    if (this.pendingSources.size === 0) return undefined;
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private releaseReadyWaiters(): void {
    if (this.readyTimer !== null) clearTimeout(this.readyTimer);
    this.readyTimer = null;
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private localAttributes(r: OriginatedRoute, afi: 1 | 2): StoredAttributes {
    const a: StoredAttributes = { origin: 0, asPath: new Uint32Array(0) };
    if (r.med !== undefined) a.med = r.med;
    if (r.localPref !== undefined) a.localPref = r.localPref;
    if (r.communities !== undefined && r.communities.length > 0)
      a.communities = Uint32Array.from([...r.communities].sort((x, y) => x - y));
    if (r.largeCommunities !== undefined && r.largeCommunities.length > 0)
      a.largeCommunities = Uint32Array.from(r.largeCommunities.flat());
    if (r.nextHop !== undefined) {
      const b = addressBytes(r.nextHop);
      if (b !== null && b.length === 4 && afi === 1) a.nextHop = ipv4Number(r.nextHop)!;
      else if (b !== null && b.length === 16 && afi === 2) a.mpNextHop = b;
    }
    return a;
  }

  private syncLocal(): void {
    const wanted = new Map<string, { family: FamilyKey; attrs: StoredAttributes }>();
    // Later sources do not override earlier ones: the config comes first, as an operator expects.
    const order = ['config', ...[...this.originSources.keys()].filter((k) => k !== 'config').sort()];
    for (const source of order) {
      for (const r of this.originSources.get(source) ?? []) {
        let parsed: ReturnType<typeof parsePrefix>;
        try {
          parsed = parsePrefix(r.prefix);
        } catch (e) {
          this.log.warn({ source, prefix: r.prefix }, `not originating: ${(e as Error).message}`);
          continue;
        }
        const text = `${r.prefix}`;
        if (wanted.has(text)) continue;
        wanted.set(text, { family: familyKey(parsed.afi, 1), attrs: this.localAttributes(r, parsed.afi) });
      }
    }
    for (const [text, cur] of this.local) {
      if (wanted.has(text)) continue;
      const p = parsePrefix(text);
      this.ribOf(cur.family).remove(LOCAL_PEER, 0, p.words, 0, p.length);
      this.attrs.unref(cur.attrId);
      this.local.delete(text);
    }
    for (const [text, w] of wanted) {
      const id = this.attrs.intern(w.attrs);
      const cur = this.local.get(text);
      if (cur !== undefined && cur.attrId === id) {
        this.attrs.unref(id);
        continue;
      }
      const p = parsePrefix(text);
      this.ribOf(w.family).upsert(LOCAL_PEER, 0, id, p.words, 0, p.length);
      if (cur !== undefined) this.attrs.unref(cur.attrId);
      this.local.set(text, { family: w.family, attrId: id });
    }
    this.scheduleCommit();
  }

  // ---- sessions --------------------------------------------------------------------------------

  private neighborOf(sessionId: string): NeighborConfig | undefined {
    const key = sessionId.includes('#') ? sessionId.slice(0, sessionId.indexOf('#')) : sessionId;
    return this.config.neighbors.find((n) => n.key === key);
  }

  private peerInfo(n: NeighborConfig, e: ExportPeer): PeerInfo {
    return {
      kind: e.internal ? 'ibgp' : 'ebgp',
      address: addressBytes(e.address) ?? new Uint8Array(4),
      name: n.name === e.address || n.kind === 'dynamic' ? e.address : `${n.name} (${e.address})`,
      routerId: e.negotiated.peerId >>> 0,
      remoteAs: e.peerAs,
      rrClient: e.internal && n.routeReflectorClient,
    };
  }

  private makeImports(p: RibPeer): void {
    for (const f of p.imports.values()) f.dispose();
    p.imports = new Map();
    for (const family of FAMILIES) {
      const filter = new ImportFilter({
        attrs: this.attrs,
        compiler: this.compiler,
        afi: familyAfi(family) as 1 | 2,
        neighbor: p.info,
        ...(p.neighbor.import !== undefined ? { policies: p.neighbor.import } : {}),
        loop: this.loopConfig(p.neighbor),
      });
      p.imports.set(family, filter);
    }
    p.guards = new Map();
    for (const family of FAMILIES) {
      const m = p.neighbor.maxPrefix?.[familyName(family) as 'ipv4-unicast' | 'ipv6-unicast'];
      if (m !== undefined)
        p.guards.set(
          family,
          new MaxPrefixGuard(
            {
              limit: m.limit,
              warningPercent: m.warningPercent,
              // The session layer tears the session down (Cease subcode 1); here only the warning.
              warningOnly: true,
            },
            familyAfi(family),
            1,
          ),
        );
    }
    const blocked = [...p.imports.values()].some((f) => f.rfc8212Blocked);
    if (blocked && !p.rfc8212Logged) {
      p.rfc8212Logged = true;
      this.log.warn(
        { peer: p.neighbor.name },
        'RFC 8212: eBGP neighbour without import/export policy: accepting and advertising nothing',
      );
    }
  }

  /**
   * The Speaker calls ExportSource.initial() when a session comes up (and on route refresh): we
   * learn the peer's identity here, before its first UPDATE is processed.
   */
  private bindExport(e: ExportPeer, family: FamilyKey): ExportBinding {
    const p = this.sessionUp(e);
    if (p === null || !this.families.has(family)) return null;
    const afi = familyAfi(family) as 1 | 2;
    const local = addressBytes(e.localAddress);
    const n = p.neighbor;
    const settings: ExportSettings = {
      afi,
      kind: e.internal ? 'ibgp' : 'ebgp',
      rrClient: e.internal && n.routeReflectorClient,
      ...(n.export !== undefined ? { policies: n.export } : {}),
      nextHop: 'default',
      ...(local !== null && local.length === 4 ? { localIpv4: ipv4Number(e.localAddress)! } : {}),
      ...(local !== null && local.length === 16 ? { localIpv6: local } : {}),
      localAs: this.config.asn,
      reflector: this.reflector,
    };
    const send = n.addPath.send;
    return {
      peerIndex: p.index,
      settings,
      wire: {
        fourOctetAs: e.negotiated.fourOctetAs,
        addPathSend: e.negotiated.addPathSend.has(family),
        addPathSendLimit: typeof send === 'number' ? send : undefined,
      },
    };
  }

  private sessionUp(e: ExportPeer): RibPeer | null {
    const existing = this.bySession.get(e.id);
    if (existing?.established && existing.export.negotiated === e.negotiated) {
      existing.export = e;
      return existing;
    }
    const n = this.neighborOf(e.id);
    if (n === undefined) return null;
    const info = this.peerInfo(n, e);
    const grCap = e.negotiated.peerGracefulRestart;
    const gr: GrCapabilityView | null =
      grCap === undefined
        ? null
        : {
            restartTime: grCap.restartTime,
            notification: grCap.notification,
            families: grCap.families.map((f) => ({
              family: familyKey(f.afi, f.safi),
              forwardingState: f.forwardingState,
            })),
          };
    let p = existing;
    if (p === undefined) {
      const index = this.peers.add(info);
      p = {
        id: e.id,
        index,
        neighbor: n,
        info,
        export: e,
        established: true,
        imports: new Map(),
        families: e.families,
        gr,
        stale: new Set(),
        endOfRib: new Set(),
        restartTimer: null,
        staleTimer: null,
        guards: new Map(),
        rfc8212Logged: false,
        sessionEpoch: 1,
      };
      this.bySession.set(e.id, p);
    } else {
      this.peers.update(p.index, info);
      p.neighbor = n;
      p.info = info;
      p.export = e;
      p.established = true;
      p.sessionEpoch++;
      p.families = e.families;
      p.gr = gr;
      p.endOfRib = new Set();
      if (p.restartTimer) clearTimeout(p.restartTimer);
      p.restartTimer = null;
      this.republishPeersChanged();
      // RFC 4724 §4.2: stale families the new OPEN does not preserve go now.
      const drop = onSessionReestablished([...p.stale], gr);
      for (const f of drop) {
        sweepStale(this.ribOf(f), p.index);
        p.stale.delete(f);
      }
      if (p.stale.size > 0) {
        const t = this.config.gracefulRestart.stalePathTime;
        p.staleTimer = setTimeout(() => this.expireStale(p!, 'stale timer'), t * 1000);
        p.staleTimer.unref?.();
      }
      this.scheduleCommit();
    }
    this.makeImports(p);
    // Without a retained Adj-RIB-In the session counts what import accepted (maximum-prefix, show).
    const index = p.index;
    this.speaker
      .adjRibIn(e.id)
      ?.countWith?.((f) => (this.families.has(f) ? this.ribOf(f).pathsOf(index) : 0));
    return p;
  }

  /**
   * A peer's router-id or role changed (PeerTable.update): export results cached per (attribute
   * set, source peer) are stale (ORIGINATOR_ID, reflection rules). Every group recomputes and
   * the differences go out now.
   */
  private republishPeersChanged(): void {
    for (const [family, s] of this.families) this.sendGroupBatches(family, s.groups.peersChanged());
  }

  /** Sends per-group batches to the members (as RibExportSource.publish does for a commit). */
  private sendGroupBatches(family: FamilyKey, batches: Map<UpdateGroup, UpdateBatch>): void {
    const groups = this.families.get(family)!.groups;
    this.sendToSessions((peer) => {
      const p = this.bySession.get(peer.id);
      if (p === undefined) return null;
      const g = groups.groupOf(p.index);
      const b = g === undefined ? undefined : batches.get(g);
      if (b === undefined || b.empty) return null;
      const u = b.forPeer(p.index);
      if (u.announce.length === 0 && u.withdraw === null) return null;
      return { announce: u.announce, withdraw: u.withdraw === null ? [] : [u.withdraw] };
    });
    for (const b of batches.values()) b.release();
  }

  private sendToSessions(compute: (peer: ExportPeer) => ExportUpdate | null): void {
    for (const sink of this.sinks) sink(compute);
  }

  private onEvent(e: SpeakerEvent): void {
    if (e.type === 'route-refresh') {
      const rp = this.bySession.get(e.peer);
      if (rp?.established) this.onRouteRefresh(rp, e.family, e.phase);
      return;
    }
    if (e.type !== 'state') return;
    const p = this.bySession.get(e.peer);
    if (p === undefined) return;
    if (e.from === 'Established' && e.to !== 'Established') this.endRefreshes(p);
    // The session layer classifies the loss itself (it knows whether a Cease was an RFC 8538 Hard
    // Reset); the FSM reason is the fallback for events that do not carry it.
    if (e.from === 'Established' && e.to !== 'Established')
      this.sessionDown(p, e.lossCause ?? lossCause(e.reason));
  }

  private sessionDown(p: RibPeer, cause: SessionLossCause): void {
    if (!p.established) return;
    p.established = false;
    for (const s of this.families.values()) s.groups.leave(p.index);
    const helper = p.neighbor.gracefulRestart !== 'disabled';
    const d = onSessionLoss(p.families, p.gr, cause, helper);
    for (const f of d.flush) {
      flushPeer(this.ribOf(f), p.index);
      p.stale.delete(f);
    }
    if (d.keepStale.length > 0) {
      for (const f of d.keepStale) {
        const n = markPeerStale(this.ribOf(f), p.index);
        p.stale.add(f);
        this.log.info(
          { peer: p.neighbor.name, family: familyName(f), stale: n, restartTime: d.restartTimerSeconds },
          'graceful restart: keeping routes as stale',
        );
      }
      if (p.staleTimer) clearTimeout(p.staleTimer);
      p.staleTimer = null;
      if (p.restartTimer) clearTimeout(p.restartTimer);
      p.restartTimer = setTimeout(() => this.expireStale(p, 'restart timer'), d.restartTimerSeconds * 1000);
      p.restartTimer.unref?.();
    } else {
      this.releasePeer(p);
    }
    this.scheduleCommit();
  }

  // ---- enhanced route refresh (RFC 7313 §4) -----------------------------------------------------

  /** Per session: families between the peer's BoRR and EoRR, with the timer bounding the wait. */
  private readonly refreshing = new Map<RibPeer, Map<FamilyKey, NodeJS.Timeout>>();

  /**
   * BoRR: the peer's routes of the family become stale; each re-advertised route (the session
   * layer publishes every one as an announcement) clears its flag. EoRR: the routes still stale
   * were not re-advertised and go, as at a graceful restart's End-of-RIB. If no EoRR comes, the
   * stale routes go after the stale path time (FRR uses its stale-path timer the same way).
   */
  private onRouteRefresh(p: RibPeer, family: FamilyKey, phase: 'begin' | 'end'): void {
    if (!this.families.has(family)) return;
    let fams = this.refreshing.get(p);
    if (phase === 'begin') {
      const n = markPeerStale(this.ribOf(family), p.index);
      // The marking is queued in the Loc-RIB and runs in the commits (a slice each at 1M).
      this.scheduleCommit();
      if (fams === undefined) {
        fams = new Map();
        this.refreshing.set(p, fams);
      }
      const old = fams.get(family);
      if (old) clearTimeout(old);
      const t = setTimeout(() => {
        this.log.warn(
          { peer: p.neighbor.name, family: familyName(family) },
          'enhanced route refresh: no EoRR within the stale path time, removing stale routes',
        );
        this.onRouteRefresh(p, family, 'end');
      }, this.config.gracefulRestart.stalePathTime * 1000);
      t.unref?.();
      fams.set(family, t);
      this.log.info(
        { peer: p.neighbor.name, family: familyName(family), stale: n },
        'BoRR: routes marked stale',
      );
      return;
    }
    const t = fams?.get(family);
    if (fams === undefined || t === undefined) return; // EoRR without BoRR: nothing is stale for it
    clearTimeout(t);
    fams.delete(family);
    if (fams.size === 0) this.refreshing.delete(p);
    const n = sweepStale(this.ribOf(family), p.index);
    // A graceful restart's stale routes of the family were swept too (not re-advertised either).
    if (p.stale.delete(family) && p.stale.size === 0) this.clearTimers(p);
    this.log.info(
      { peer: p.neighbor.name, family: familyName(family), removed: n },
      'EoRR: stale routes removed',
    );
    this.scheduleCommit();
  }

  /** The session ended: pending refreshes end with it (sessionDown decides about the routes). */
  private endRefreshes(p: RibPeer): void {
    const fams = this.refreshing.get(p);
    if (fams === undefined) return;
    for (const t of fams.values()) clearTimeout(t);
    this.refreshing.delete(p);
  }

  /**
   * Inbound soft reconfiguration of one session with its current import filters: re-imports the
   * retained Adj-RIB-In, or else asks the peer to re-send (ROUTE-REFRESH, RFC 2918 §3). Returns
   * the routes re-imported (0 when a refresh was requested) and the families refreshed.
   */
  private softInbound(p: RibPeer): { reimported: number; families: FamilyKey[] } {
    const view = this.speaker.adjRibIn(p.id);
    if (view === undefined || view.retained || this.speaker.refreshIn === undefined) {
      const reimported = this.reimport(p);
      return { reimported, families: [...p.families] };
    }
    const families = this.speaker.refreshIn(p.id).get(p.id) ?? [];
    if (families.length === 0)
      this.log.warn(
        { peer: p.neighbor.name },
        'import policy changed, but the peer cannot re-send its routes (no route refresh) and they were not kept: reset the session to apply it',
      );
    else this.log.info({ peer: p.neighbor.name, families: families.map(familyName) }, 'ROUTE-REFRESH sent');
    return { reimported: 0, families };
  }

  /**
   * `tsbgp neighbor X refresh-in`: soft inbound reconfiguration of each established session
   * matching a session id, as on an import policy change. Returns the families per session.
   */
  refreshIn(id: string): Map<string, FamilyKey[]> {
    const out = new Map<string, FamilyKey[]>();
    for (const p of this.bySession.values()) {
      if (!p.established || (p.id !== id && p.neighbor.key !== id)) continue;
      const r = this.softInbound(p);
      out.set(p.id, r.families);
    }
    this.commitNow();
    return out;
  }

  private expireStale(p: RibPeer, why: string): void {
    if (this.stopped) return;
    let n = 0;
    for (const f of p.stale) n += sweepStale(this.ribOf(f), p.index);
    p.stale.clear();
    this.clearTimers(p);
    if (n > 0) this.log.info({ peer: p.neighbor.name, removed: n }, `graceful restart: ${why} expired`);
    if (!p.established) this.releasePeer(p);
    this.scheduleCommit();
  }

  private clearTimers(p: RibPeer): void {
    if (p.restartTimer) clearTimeout(p.restartTimer);
    if (p.staleTimer) clearTimeout(p.staleTimer);
    p.restartTimer = null;
    p.staleTimer = null;
  }

  /** Forgets a peer that is down and holds no routes (its index may be reused after commit). */
  private releasePeer(p: RibPeer): void {
    for (const f of FAMILIES) flushPeer(this.ribOf(f), p.index);
    for (const f of p.imports.values()) f.dispose();
    p.imports.clear();
    this.clearTimers(p);
    this.bySession.delete(p.id);
    // The index goes to another peer later: the session must not count that peer's paths.
    this.speaker.adjRibIn(p.id)?.countWith?.(null);
    // Free the index only after the commit that removes its paths was processed.
    this.pendingRelease.push(p.index);
  }

  private pendingRelease: number[] = [];

  // ---- Adj-RIB-In changes ----------------------------------------------------------------------

  private ribOf(family: FamilyKey): LocRib {
    const s = this.families.get(family);
    if (s === undefined) throw new Error(`family ${familyName(family)} is not supported by the RIB`);
    return s.rib;
  }

  /** The RIB's attribute id for a session attribute id (one reference owned by the cache). */
  private internSession(sessionId: number): number {
    const s = this.speaker.attributes.get(sessionId);
    if (s === undefined) return -1;
    if (sessionId < this.sessObj.length && this.sessObj[sessionId] === s) return this.sessRib[sessionId]!;
    if (sessionId >= this.sessRib.length) {
      let n = this.sessRib.length;
      while (n <= sessionId) n *= 2;
      const r = new Int32Array(n);
      r.set(this.sessRib);
      this.sessRib = r;
    }
    const old = this.sessObj[sessionId] !== undefined ? this.sessRib[sessionId]! : -1;
    // sessionToRib makes a new object around the session layer's decoded arrays, which are
    // whole copies out of the message that nothing writes: the table may keep them as they are.
    const id = this.attrs.internOwned(sessionToRib(s));
    this.sessObj[sessionId] = s;
    this.sessRib[sessionId] = id;
    if (old >= 0) this.attrs.unref(old);
    return id;
  }

  private onBatch(batch: AdjRibInBatch): void {
    this.stats.batches++;
    const p = this.bySession.get(batch.peer);
    if (p === undefined) return; // routes of a session we never saw come up: nothing of it is in the RIB
    // A GR-capable session going down: the session layer flushes its Adj-RIB-In (leaving it
    // empty) and reports the state change synchronously right after. Such withdrawals wait for
    // that report: on session loss the paths become stale instead (sessionDown); if no report
    // came (the peer really withdrew its last routes), they are applied in a microtask.
    const maybeFlush =
      p.established &&
      p.gr !== null &&
      batch.entries.some((e) => e.kind === 'withdraw') &&
      (this.speaker.adjRibIn(p.id)?.size() ?? 0) === 0;
    const held: { family: FamilyKey; prefixes: PrefixList }[] = [];
    // Indexed: an unoptimised for-of allocates an iterator result per entry (one per UPDATE).
    const entries = batch.entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!this.families.has(e.family)) continue;
      const rib = this.ribOf(e.family);
      if (e.kind === 'announce') {
        const filter = p.imports.get(e.family);
        const id = this.internSession(e.attrId);
        if (filter === undefined || id < 0) continue;
        filter.importUpdate(rib, p.index, id, e.prefixes);
      } else if (e.kind === 'withdraw') {
        if (maybeFlush) held.push({ family: e.family, prefixes: copyPrefixList(e.prefixes) });
        else rib.withdraw(p.index, e.prefixes);
      } else {
        this.endOfRib(p, e.family);
      }
    }
    if (held.length > 0) {
      const epoch = p.sessionEpoch;
      queueMicrotask(() => {
        if (!p.established || p.sessionEpoch !== epoch || this.bySession.get(p.id) !== p) return;
        for (const h of held) this.ribOf(h.family).withdraw(p.index, h.prefixes);
        this.scheduleCommit();
      });
    }
    this.checkMaxPrefix(p);
    this.scheduleCommit();
  }

  private endOfRib(p: RibPeer, family: FamilyKey): void {
    p.endOfRib.add(family);
    if (p.stale.has(family)) {
      const n = sweepStale(this.ribOf(family), p.index);
      p.stale.delete(family);
      this.log.info(
        { peer: p.neighbor.name, family: familyName(family), removed: n },
        'graceful restart: End-of-RIB, stale routes removed',
      );
      if (p.stale.size === 0) this.clearTimers(p);
    }
    this.checkInitial();
  }

  private checkMaxPrefix(p: RibPeer): void {
    for (const [family, guard] of p.guards) {
      const count = this.ribOf(family).pathsOf(p.index);
      const d = guard.check(count);
      if (d.kind === 'warning')
        this.log.warn(
          { peer: p.neighbor.name, family: familyName(family), count, limit: guard.config.limit },
          'maximum-prefix warning threshold reached',
        );
    }
  }

  // ---- commit ----------------------------------------------------------------------------------

  /** `continuing`: the rest of a commit cut at COMMIT_SLICE, which goes on behind pending I/O only. */
  private scheduleCommit(continuing = false): void {
    if (this.commitScheduled || this.stopped) return;
    this.commitScheduled = true;
    const run = (): void => {
      this.commitScheduled = false;
      if (!this.stopped) this.commitNow(COMMIT_SLICE);
    };
    const wait =
      continuing || this.lastCommitSize < COMMIT_LOAD
        ? 0
        : this.lastCommitAt + this.commitIntervalMs - performance.now();
    if (wait <= 0) setImmediate(run);
    else setTimeout(run, wait);
  }

  /**
   * Runs the decision process on changed prefixes and publishes the result: all of them, or at
   * most `limit` per family, the rest in further commits scheduled behind pending I/O (so that
   * a session loss at a full table does not hold keepalives and other sessions' input).
   */
  commitNow(limit = Number.POSITIVE_INFINITY): void {
    this.lastCommitAt = performance.now();
    this.lastCommitSize = 0;
    let more = false;
    for (const [family, s] of this.families) {
      if (s.rib.pending === 0) continue;
      this.lastCommitSize += s.rib.pending;
      const changes = s.rib.commit(limit);
      if (s.rib.pending > 0) more = true;
      this.stats.commits++;
      if (changes.count !== 0) {
        this.ribExport.publish(family, changes);
        this.publishFib(s.rib, changes);
      }
      // Published (synchronously): what the commit removed can be freed now rather than at the
      // next commit, which after a full withdrawal may not come for hours.
      if (s.rib.pending === 0 && s.rib.settle()) s.groups.fitEmptyRib();
    }
    this.attrs.collect();
    if (more) {
      // Not yet: a released peer index could be reused while prefixes it lost are undecided.
      this.scheduleCommit(true);
      return;
    }
    for (const idx of this.pendingRelease) this.peers.remove(idx);
    this.pendingRelease.length = 0;
  }

  // ---- FIB feed --------------------------------------------------------------------------------

  private fibRoute(rib: LocRib, p: number): FibRoute | null {
    const paths = rib.multipathOf(p);
    // Our own routes are not forwarded through BGP: the dataplane installs them itself.
    if (paths.length === 0 || rib.pathPeer(paths[0]!) === LOCAL_PEER) return null;
    const nextHops: FibNextHop[] = [];
    for (const q of paths) {
      const peer = rib.pathPeer(q);
      if (peer === LOCAL_PEER) continue;
      const nh = nextHopBytes(this.attrs.get(rib.pathAttr(q)));
      if (nh === null) continue;
      const addr = nh.length === 32 ? nh.subarray(0, 16) : nh;
      nextHops.push({
        address: formatAddressBytes(addr),
        peer: formatAddressBytes(this.peers.get(peer).address),
      });
    }
    if (nextHops.length === 0) return null;
    return { prefix: rib.formatPrefix(p), nextHops };
  }

  /**
   * Whether anyone consumes FIB batches (the hub sets this to its own subscribers): building
   * them costs a string and an object per changed prefix, which a reflector without a dataplane
   * should not pay. A consumer that subscribes later starts from fibSnapshot().
   */
  fibWanted: () => boolean = () => this.fibChanges.observed;

  private publishFib(rib: LocRib, changes: RibChanges): void {
    if (!this.fibWanted()) return;
    const upserts: FibRoute[] = [];
    const removals: string[] = [];
    for (let i = 0; i < changes.count; i++) {
      if ((changes.kind[i]! & (RibChange.Best | RibChange.Multipath)) === 0) continue;
      const p = changes.prefix[i]!;
      const r = changes.best[i]! < 0 ? null : this.fibRoute(rib, p);
      if (r === null) removals.push(rib.formatPrefix(p));
      else upserts.push(r);
    }
    if (upserts.length + removals.length === 0) return;
    this.stats.fibUpserts += upserts.length;
    this.stats.fibRemovals += removals.length;
    this.fibChanges.next({ upserts, removals, initialComplete: this.initialDone });
  }

  /** The whole forwarding table (for a consumer that starts late). */
  fibSnapshot(): FibRoute[] {
    const out: FibRoute[] = [];
    for (const s of this.families.values()) {
      s.rib.forEachBest((p) => {
        const r = this.fibRoute(s.rib, p);
        if (r !== null) out.push(r);
      });
    }
    return out;
  }

  initialComplete(): boolean {
    return this.initialDone;
  }

  private checkInitial(): void {
    if (this.initialDone) return;
    for (const n of this.config.neighbors) {
      if (n.shutdown || n.kind === 'dynamic') continue;
      const p = this.bySession.get(n.key);
      if (p === undefined || !p.established) return;
      for (const f of p.families) if (!p.endOfRib.has(f)) return;
    }
    this.completeInitial('End-of-RIB from every neighbour');
  }

  private completeInitial(why: string): void {
    if (this.initialDone || this.stopped) return;
    this.initialDone = true;
    if (this.initialTimer) clearTimeout(this.initialTimer);
    this.initialTimer = null;
    this.log.info({ reason: why }, 'initial routing table complete');
    if (this.fibChanges.observed) this.fibChanges.next({ upserts: [], removals: [], initialComplete: true });
  }

  // ---- next hops -------------------------------------------------------------------------------

  /** The kernel's routes changed: forget next-hop costs and re-decide every prefix. */
  nextHopsChanged(): void {
    this.decision.invalidateNextHops();
    for (const s of this.families.values()) s.rib.markAllDirty();
    this.scheduleCommit();
  }

  // ---- reload ----------------------------------------------------------------------------------

  /**
   * Applies a reloaded configuration without resetting sessions: policies, reflection settings,
   * best-path options and originated routes. Outbound: every update group is rebuilt (Adj-RIB-Out
   * recomputed, differences sent). Inbound: the Adj-RIB-In of every session is re-imported
   * through the new filters (the session layer keeps pre-policy routes).
   */
  applyConfig(next: Config): void {
    const old = this.config;
    this.config = next;
    const policyChanged =
      JSON.stringify([old.policies, old.prefixLists, old.routeReflector]) !==
      JSON.stringify([next.policies, next.prefixLists, next.routeReflector]);
    const neighborChanged = (p: RibPeer): boolean => {
      const n = this.neighborOf(p.id);
      if (n === undefined) return false;
      const a = p.neighbor;
      return (
        JSON.stringify([a.import, a.export, a.allowasIn, a.routeReflectorClient]) !==
        JSON.stringify([n.import, n.export, n.allowasIn, n.routeReflectorClient])
      );
    };
    const reflectorBefore = JSON.stringify(this.reflector);
    this.reflector = this.makeReflector(next);
    const reflectorChanged = JSON.stringify(this.reflector) !== reflectorBefore;
    if (policyChanged) this.compiler = this.makeCompiler(next);
    if (JSON.stringify(old.bestPath) !== JSON.stringify(next.bestPath)) {
      Object.assign(this.decision, { options: decisionOptionsFromConfig(next.bestPath) });
      for (const s of this.families.values()) s.rib.markAllDirty();
    }
    let inbound = 0;
    let exportChanged = false;
    for (const p of this.bySession.values()) {
      if (neighborChanged(p)) exportChanged = true;
      const changed = policyChanged || reflectorChanged || neighborChanged(p);
      const n = this.neighborOf(p.id);
      // What import sees changed (a refresh from the peer is only worth it then).
      const importChanged =
        reflectorChanged ||
        (n !== undefined &&
          (JSON.stringify([p.neighbor.import, p.neighbor.allowasIn]) !==
            JSON.stringify([n.import, n.allowasIn]) ||
            (policyChanged && importDefinitions(old, n) !== importDefinitions(next, n))));
      if (n !== undefined) p.neighbor = n;
      if (!changed || !p.established) continue;
      if (p.info.rrClient !== (p.info.kind === 'ibgp' && p.neighbor.routeReflectorClient)) {
        p.info = { ...p.info, rrClient: p.info.kind === 'ibgp' && p.neighbor.routeReflectorClient };
        this.peers.update(p.index, p.info);
      }
      this.makeImports(p);
      inbound += importChanged ? this.softInbound(p).reimported : this.reimport(p);
    }
    if (policyChanged || reflectorChanged || exportChanged) this.rebuildExport();
    this.setOriginated('config', this.configOriginated(next));
    if (inbound > 0) this.log.info({ routes: inbound }, 'soft reconfiguration inbound: routes re-imported');
    this.commitNow();
  }

  /** Re-runs import for every route a session holds in its Adj-RIB-In; returns the count. */
  private reimport(p: RibPeer): number {
    const view = this.speaker.adjRibIn(p.id);
    if (view === undefined) return 0;
    let n = 0;
    for (const family of view.families()) {
      const filter = p.imports.get(family);
      if (filter === undefined || !this.families.has(family)) continue;
      const rib = this.ribOf(family);
      const afi = familyAfi(family) as 1 | 2;
      // One builder per attribute set, so import runs per set as it does for UPDATEs.
      const bySet = new Map<number, PrefixListBuilder>();
      view.forEach(family, (words, off, length, pathId, attrId) => {
        let b = bySet.get(attrId);
        if (b === undefined) {
          b = new PrefixListBuilder(afi, 64, true);
          bySet.set(attrId, b);
        }
        b.push(words, off, length, pathId);
        n++;
      });
      for (const [attrId, b] of bySet) {
        const id = this.internSession(attrId);
        if (id >= 0) filter.importUpdate(rib, p.index, id, b.view() as PrefixList);
      }
    }
    return n;
  }

  /**
   * Outbound soft reconfiguration (issue #4 §3): every group is rebuilt with the new export
   * settings and policies, and each established session gets its new table plus withdrawals of
   * what it no longer receives. No session is reset. Text keys are fine here: a reload is rare
   * and bounded by the table size once.
   */
  private rebuildExport(): void {
    for (const [family, s] of this.families) {
      const members = [...this.bySession.values()].filter(
        (p) => p.established && s.groups.groupOf(p.index) !== undefined,
      );
      if (members.length === 0) continue;
      const before = new Map<number, Set<string>>();
      for (const p of members) {
        const g = s.groups.groupOf(p.index)!;
        const full = g.fullTable();
        before.set(p.index, this.advertisedKeys(s.rib.afi, full.forPeer(p.index).announce));
        full.release();
      }
      for (const p of members) s.groups.leave(p.index);
      const updates = new Map<string, ExportUpdate>();
      const fulls: UpdateBatch[] = [];
      for (const p of members) {
        const b = this.bindExport(p.export, family);
        if (b === null) continue;
        const full = s.groups.join(b.peerIndex, b.settings, b.wire).fullTable();
        fulls.push(full);
        const u = full.forPeer(p.index);
        const now = this.advertisedKeys(s.rib.afi, u.announce);
        const gone = new PrefixListBuilder(s.rib.afi, 64, b.wire.addPathSend);
        for (const key of before.get(p.index) ?? []) {
          if (now.has(key)) continue;
          const [prefix = '', pathId = '0'] = key.split('#');
          const parsed = parsePrefix(prefix);
          gone.push(parsed.words, 0, parsed.length, Number(pathId));
        }
        const withdraw = [...(u.withdraw === null ? [] : [u.withdraw])];
        if (gone.count > 0) withdraw.push({ family, prefixes: gone.view() as PrefixList });
        updates.set(p.id, { announce: u.announce, withdraw });
      }
      this.sendToSessions((peer) => updates.get(peer.id) ?? null);
      for (const f of fulls) f.release();
    }
  }

  private advertisedKeys(afi: 1 | 2, announce: readonly { readonly prefixes: PrefixList }[]): Set<string> {
    const keys = new Set<string>();
    const stride = strideOf(afi);
    for (const g of announce) {
      const l = g.prefixes;
      for (let i = 0; i < l.count; i++) {
        const text = formatPrefix(afi, l.words, i * stride, l.lengths[i]!);
        keys.add(`${text}#${l.pathIds === null ? 0 : l.pathIds[i]!}`);
      }
    }
    return keys;
  }

  // ---- read models -----------------------------------------------------------------------------

  /** What the RIB holds and the bytes of its arrays, per family (`tsbgp show memory`). */
  memory(): RibMemory {
    return {
      attributeSets: this.attrs.size,
      families: [...this.families.values()].map((s) => {
        const out = s.groups.storage();
        return {
          family: familyName(s.family),
          prefixes: s.rib.livePrefixes,
          paths: s.rib.paths,
          locRibBytes: s.rib.storageBytes(),
          updateGroups: out.groups,
          adjRibOutBytes: out.bytes,
        };
      }),
    };
  }

  /**
   * Loc-RIB best paths (and ECMP members) for `tsbgp show routes`; with a peer, every path of
   * that peer's in the Loc-RIB.
   */
  routes(query: RouteQuery): RouteView[] {
    const out: RouteView[] = [];
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    let match: ReturnType<typeof parsePrefix> | null = null;
    let exact = false;
    if (query.prefix !== undefined) {
      const text = query.prefix.includes('/')
        ? query.prefix
        : `${query.prefix}/${query.prefix.includes(':') ? 128 : 32}`;
      match = parsePrefix(text);
      exact = query.prefix.includes('/');
    }
    // With a peer: the paths it contributed that import accepted (FRR's `show bgp neighbor X
    // routes`); its pre-policy routes are only kept with soft reconfiguration inbound.
    const peers =
      query.peer === undefined
        ? null
        : new Set(
            [...this.bySession.values()]
              .filter(
                (r) =>
                  r.id === query.peer ||
                  r.neighbor.key === query.peer ||
                  r.neighbor.name === query.peer ||
                  r.neighbor.address === query.peer,
              )
              .map((r) => r.index),
          );
    for (const [family, s] of this.families) {
      const rib = s.rib;
      if (match !== null && match.afi !== rib.afi) continue;
      const stride = strideOf(rib.afi);
      const emit = (p: number): void => {
        if (peers !== null) {
          for (let q = rib.firstPath(p); q >= 0 && out.length < limit; q = rib.nextPath(q))
            if (peers.has(rib.pathPeer(q))) out.push(this.routeView(rib, family, p, q));
          return;
        }
        for (const q of rib.multipathOf(p)) {
          if (out.length >= limit) return;
          out.push(this.routeView(rib, family, p, q));
        }
      };
      if (match !== null && exact) {
        const p = rib.find(match.words, 0, match.length);
        if (p >= 0 && (peers !== null ? rib.firstPath(p) >= 0 : rib.bestPath(p) >= 0)) emit(p);
        continue;
      }
      if (match !== null) {
        const m = match;
        // An address: the longest prefix holding it.
        let best = -1;
        const each = peers !== null ? rib.forEachPrefix.bind(rib) : rib.forEachBest.bind(rib);
        each((p) => {
          const len = rib.prefixLength(p);
          if (
            prefixCovers(rib.prefixWords(), rib.prefixOffset(p), len, m.words, 0, m.length, stride) &&
            (best < 0 || len > rib.prefixLength(best))
          )
            best = p;
        });
        if (best >= 0) emit(best);
        continue;
      }
      // A peer's paths are listed whether or not their prefix has a best path (a next hop
      // may be unreachable): they are in the Loc-RIB and counted for it.
      if (peers !== null) rib.forEachPrefix((p) => emit(p));
      else rib.forEachBest((p) => emit(p));
    }
    return out;
  }

  private routeView(rib: LocRib, family: FamilyKey, p: number, q: number): RouteView {
    const a = this.attrs.get(rib.pathAttr(q));
    const peer = rib.pathPeer(q);
    const nh = nextHopBytes(a);
    const lc: string[] = [];
    const l = a.largeCommunities;
    if (l !== undefined) for (let k = 0; k + 2 < l.length; k += 3) lc.push(`${l[k]}:${l[k + 1]}:${l[k + 2]}`);
    let sessionId = 'local';
    for (const s of this.bySession.values()) if (s.index === peer) sessionId = s.id;
    return {
      prefix: rib.formatPrefix(p),
      peer: sessionId,
      family: familyName(family),
      nextHop: nh === null ? undefined : formatAddressBytes(nh.length === 32 ? nh.subarray(0, 16) : nh),
      asPath: formatAsPath(a.asPath),
      origin: (['igp', 'egp', 'incomplete'] as const)[a.origin ?? 2] ?? 'incomplete',
      med: a.med,
      localPref: a.localPref,
      communities: Array.from(a.communities ?? [], formatCommunity),
      largeCommunities: lc,
      pathId: rib.pathIdOf(q) || undefined,
    };
  }

  /** Every path of the prefixes matching `prefix` (exact prefix, or the longest match of an address). */
  routeDetails(prefix: string): RouteDetail[] {
    const out: RouteDetail[] = [];
    const text = prefix.includes('/') ? prefix : `${prefix}/${prefix.includes(':') ? 128 : 32}`;
    const m = parsePrefix(text);
    for (const s of this.families.values()) {
      const rib = s.rib;
      if (rib.afi !== m.afi) continue;
      let p = prefix.includes('/') ? rib.find(m.words, 0, m.length) : -1;
      if (!prefix.includes('/')) {
        rib.forEachBest((x) => {
          const len = rib.prefixLength(x);
          if (
            prefixCovers(
              rib.prefixWords(),
              rib.prefixOffset(x),
              len,
              m.words,
              0,
              m.length,
              strideOf(rib.afi),
            ) &&
            (p < 0 || len > rib.prefixLength(p))
          )
            p = x;
        });
      }
      if (p >= 0 && rib.firstPath(p) >= 0) out.push(describeRoute(rib, this.peers, p));
    }
    return out;
  }
}
