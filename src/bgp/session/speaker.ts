// The BGP speaker: listeners, the set of peers (static and dynamic), the shared attribute store,
// the Adj-RIB-In change stream, and the export source. The daemon drives it; it never reads
// configuration files itself.

import type { Server, Socket } from 'node:net';
import type Logger from 'bunyan';
import { type Observable, Subject } from 'rxjs';
import {
  Family,
  type FamilyKey,
  familyName,
  formatAsPath,
  formatIPv4,
  formatNextHop,
  formatPrefix,
  PrefixListBuilder,
  parsePrefix,
} from '../codec/index.ts';
import type { AdjRibInBatch, AdjRibInView } from './adj-rib-in.ts';
import { AttributeStore } from './attr-store.ts';
import { OriginatedRoutes } from './originated.ts';
import { Peer, type SpeakerContext } from './peer.ts';
import {
  type AddressRange,
  createSocketFactory,
  ipv4ToUint32,
  normalizeAddress,
  parseRange,
  rangeContains,
  type SocketFactory,
} from './transport.ts';
import type { ExportSource, OriginatedRoute, PeerConfig, PeerStatus, SpeakerEvent } from './types.ts';

export interface SpeakerOptions {
  readonly localAs: number;
  /** BGP Identifier, dotted quad (RFC 6286). */
  readonly routerId: string;
  /** Listening sockets; default [0.0.0.0, ::] port 179. An empty address list listens nowhere. */
  readonly listen?: { readonly addresses: readonly string[]; readonly port: number } | undefined;
  readonly logger: Logger;
  readonly socketFactory?: SocketFactory | undefined;
  /** Source of randomness for timer jitter (RFC 4271 §10); Math.random by default. */
  readonly random?: (() => number) | undefined;
  /**
   * The daemon has just restarted gracefully (RFC 4724 §4.1): OPENs to peers with graceful
   * restart configured carry the Restart State (R) bit until every configured static peer that
   * is not shut down has been sent its initial End-of-RIBs, or until the longest configured
   * Restart Time (120 s when no peer sets one) has passed since start().
   */
  readonly gracefulRestartRestarting?: boolean | undefined;
}

/** The outcome of updatePeer: which changed fields forced a session reset. */
export interface PeerUpdateResult {
  readonly reset: boolean;
  readonly fields: readonly string[];
}

export interface RouteQuery {
  /** Peer id, key, name or address. */
  readonly peer?: string | undefined;
  /** An exact prefix, or an address: the routes whose prefix contains it. */
  readonly prefix?: string | undefined;
  readonly limit?: number | undefined;
}

export interface RouteView {
  readonly prefix: string;
  readonly peer: string;
  readonly family: string;
  readonly pathId?: number | undefined;
  readonly nextHop?: string | undefined;
  readonly asPath: string;
  readonly origin: 'igp' | 'egp' | 'incomplete';
  readonly med?: number | undefined;
  readonly localPref?: number | undefined;
  readonly communities: string[];
  readonly largeCommunities: string[];
  readonly attrId: number;
}

interface RangeEntry {
  cfg: PeerConfig;
  range: AddressRange;
  children: Map<string, Peer>;
}

const DEFAULT_RANGE_LIMIT = 100;

export class Speaker {
  readonly localAs: number;
  readonly routerId: string;
  /** Interned path attributes of every Adj-RIB-In (ids in AdjRibInBatch refer to it). */
  readonly attributes = new AttributeStore();
  /** State changes (with reasons), NOTIFICATIONs sent and received, errors. */
  readonly events: Observable<SpeakerEvent>;
  /** Adj-RIB-In changes of all peers, in batches (see AdjRibInBatch). */
  readonly adjRibInChanges: Observable<AdjRibInBatch>;
  private readonly eventSubject = new Subject<SpeakerEvent>();
  private readonly ribSubject = new Subject<AdjRibInBatch>();
  private readonly log: Logger;
  private readonly opts: SpeakerOptions;
  private readonly peers = new Map<string, Peer>();
  private readonly ranges = new Map<string, RangeEntry>();
  private readonly servers: Server[] = [];
  private readonly originated: OriginatedRoutes;
  private exportSource: ExportSource;
  private readonly ctx: SpeakerContext;
  private started = false;
  private stopping = false;
  private restarting: boolean;
  private restartingTimer: NodeJS.Timeout | null = null;
  /** Peers that were sent their initial End-of-RIBs while restarting. */
  private readonly endOfRibSent = new WeakSet<Peer>();

  constructor(opts: SpeakerOptions) {
    const id = ipv4ToUint32(opts.routerId);
    if (id === null || id === 0)
      throw new TypeError(
        `router id ${JSON.stringify(opts.routerId)} is not a non-zero IPv4 address (RFC 6286)`,
      );
    if (!Number.isInteger(opts.localAs) || opts.localAs < 1 || opts.localAs > 0xffffffff) {
      throw new TypeError(`local AS ${opts.localAs} is not in 1..4294967295`);
    }
    this.opts = opts;
    this.localAs = opts.localAs;
    this.routerId = opts.routerId;
    this.log = opts.logger;
    this.events = this.eventSubject.asObservable();
    this.adjRibInChanges = this.ribSubject.asObservable();
    this.originated = new OriginatedRoutes(id);
    this.exportSource = this.originated;
    this.restarting = opts.gracefulRestartRestarting ?? false;
    const random = opts.random ?? Math.random;
    this.ctx = {
      localAs: opts.localAs,
      routerId: id,
      log: this.log,
      store: this.attributes,
      sockets:
        opts.socketFactory ??
        createSocketFactory({
          onOptionError: (reason) =>
            this.log.warn({ reason }, 'socket option not set: sessions use the kernel default'),
        }),
      exportSource: () => this.exportSource,
      emit: (e) => this.eventSubject.next(e),
      publish: (b) => this.ribSubject.next(b),
      random,
      gracefulRestartRestarting: () => this.restarting,
      initialEndOfRibSent: (p) => {
        if (!this.restarting) return;
        this.endOfRibSent.add(p);
        this.checkRestartDone();
      },
    };
  }

  /** Whether OPENs carry the Restart State bit (see SpeakerOptions.gracefulRestartRestarting). */
  get gracefulRestartRestarting(): boolean {
    return this.restarting;
  }

  /** Sets or ends the restarting state (RFC 4724 §4.1); it also ends by itself, see SpeakerOptions. */
  setGracefulRestartRestarting(on: boolean): void {
    if (this.restartingTimer) clearTimeout(this.restartingTimer);
    this.restartingTimer = null;
    this.restarting = on;
    if (on && this.started) this.armRestartingTimer();
  }

  private armRestartingTimer(): void {
    const times = [...this.peers.values()]
      .map((p) => p.cfg.gracefulRestart?.restartTime)
      .filter((t): t is number => t !== undefined);
    for (const r of this.ranges.values())
      if (r.cfg.gracefulRestart) times.push(r.cfg.gracefulRestart.restartTime);
    const seconds = times.length > 0 ? Math.max(...times) : 120;
    if (this.restartingTimer) clearTimeout(this.restartingTimer);
    this.restartingTimer = setTimeout(() => {
      this.restartingTimer = null;
      if (!this.restarting) return;
      this.log.info({ seconds }, 'graceful restart: restart time passed, Restart State bit cleared');
      this.restarting = false;
    }, seconds * 1000);
    this.restartingTimer.unref?.();
  }

  /** RFC 4724 §4.1: the restart is over once every peer we wait for got its End-of-RIBs. */
  private checkRestartDone(): void {
    if (!this.restarting) return;
    for (const p of this.peers.values()) {
      if (p.adminDown || !p.cfg.gracefulRestart) continue;
      if (!this.endOfRibSent.has(p)) return;
    }
    this.log.info('graceful restart: End-of-RIB sent to every peer, Restart State bit cleared');
    this.setGracefulRestartRestarting(false);
  }

  /** Opens the listeners and starts every peer added so far (those not shut down). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const listen = this.opts.listen ?? { addresses: ['0.0.0.0', '::'], port: 179 };
    const hasV4Wildcard = listen.addresses.includes('0.0.0.0');
    for (const address of listen.addresses) {
      try {
        const server = await this.ctx.sockets.listen(
          { address, port: listen.port, ipv6Only: address === '::' && hasV4Wildcard },
          (socket) => this.onConnection(socket),
        );
        this.servers.push(server);
        this.log.info({ address, port: listen.port }, 'listening');
      } catch (err) {
        const message = `cannot listen on [${address}]:${listen.port}: ${(err as Error).message}`;
        this.log.error(message);
        this.eventSubject.next({ type: 'error', message, at: Date.now() });
        if (address !== '::') throw new Error(message);
      }
    }
    for (const p of this.peers.values()) p.start();
    if (this.restarting) this.armRestartingTimer();
  }

  // ------------------------------------------------------------------------------------------
  // Peers

  addPeer(cfg: PeerConfig): void {
    if (this.peers.has(cfg.key) || this.ranges.has(cfg.key))
      throw new Error(`peer ${cfg.key} exists already`);
    const problem = checkPeerConfig(cfg);
    if (problem) throw new TypeError(`peer ${cfg.key}: ${problem}`);
    if (cfg.range !== undefined) {
      const range = parseRange(cfg.range);
      if (!range) throw new TypeError(`neighbor range ${JSON.stringify(cfg.range)} is not ADDRESS/LENGTH`);
      this.ranges.set(cfg.key, { cfg, range, children: new Map() });
      this.log.info({ range: cfg.range }, 'dynamic neighbor range added');
      return;
    }
    if (!cfg.address) throw new TypeError(`peer ${cfg.key} has neither address nor range`);
    const peer = new Peer({ ...cfg, address: normalizeAddress(cfg.address) }, this.ctx);
    this.peers.set(cfg.key, peer);
    if (this.started) peer.start();
  }

  /**
   * Cease "Peer De-configured" (RFC 4486 subcode 3) with an RFC 9003 message, then forget it.
   * RFC 8538 §5: sent as Hard Reset where N was negotiated, so the peer flushes our routes.
   */
  async removePeer(key: string, message: string): Promise<void> {
    const peer = this.peers.get(key);
    if (peer) {
      this.peers.delete(key);
      await peer.stop(3, message, { hardReset: true });
      peer.dispose();
      this.checkRestartDone();
      return;
    }
    const range = this.ranges.get(key);
    if (range) {
      this.ranges.delete(key);
      await Promise.all(
        [...range.children.values()].map(async (c) => {
          await c.stop(3, message, { hardReset: true });
          c.dispose();
        }),
      );
      return;
    }
    throw new Error(`no peer ${key}`);
  }

  /**
   * Applies a changed neighbour. When a field that goes into the OPEN or selects the peer changed
   * (see Peer.update), the session is reset with Cease "Other Configuration Change" (subcode 6);
   * otherwise the change applies in place and the session stays up.
   */
  async updatePeer(cfg: PeerConfig): Promise<PeerUpdateResult> {
    const problem = checkPeerConfig(cfg);
    if (problem) throw new TypeError(`peer ${cfg.key}: ${problem}`);
    const peer = this.peers.get(cfg.key);
    if (peer) {
      const fields = peer.update({
        ...cfg,
        ...(cfg.address ? { address: normalizeAddress(cfg.address) } : {}),
      });
      if (fields.includes('address')) {
        // Another address is another peer.
        await this.removePeer(cfg.key, `configuration change: ${fields.join(', ')}`);
        this.addPeer(cfg);
        return { reset: true, fields };
      }
      if (fields.length > 0 && peer.state !== 'Idle')
        await peer.reset(`configuration change: ${fields.join(', ')}`, 6);
      else if (fields.length > 0 && !peer.adminDown) peer.start();
      if (cfg.shutdown === true && !peer.adminDown)
        await peer.shutdown('administratively disabled by configuration');
      if (cfg.shutdown === false && peer.adminDown) peer.enable();
      return { reset: fields.length > 0, fields };
    }
    const range = this.ranges.get(cfg.key);
    if (!range) throw new Error(`no peer ${cfg.key}`);
    const parsed = cfg.range !== undefined ? parseRange(cfg.range) : null;
    if (!parsed) throw new TypeError(`neighbor range ${JSON.stringify(cfg.range)} is not ADDRESS/LENGTH`);
    range.cfg = cfg;
    range.range = parsed;
    let reset = false;
    const all = new Set<string>();
    for (const child of [...range.children.values()]) {
      const fields = child.update({ ...cfg, address: child.cfg.address });
      for (const f of fields) all.add(f);
      const outside = child.cfg.address !== undefined && !rangeContains(parsed, child.cfg.address);
      if (fields.length > 0 || outside) {
        reset = true;
        await child.stop(6, `configuration change: ${fields.join(', ') || 'range'}`);
        child.dispose();
        range.children.delete(child.id);
      }
    }
    return { reset, fields: [...all] };
  }

  /** Peers matching an id (`key` or `key#address`), a key (all sessions of a range), or an address. */
  private resolve(idOrKey: string): Peer[] {
    const p = this.peers.get(idOrKey);
    if (p) return [p];
    for (const r of this.ranges.values()) {
      const c = r.children.get(idOrKey);
      if (c) return [c];
    }
    const r = this.ranges.get(idOrKey);
    if (r) return [...r.children.values()];
    const out: Peer[] = [];
    for (const q of this.allPeers()) if (q.cfg.address === idOrKey || q.cfg.name === idOrKey) out.push(q);
    return out;
  }

  private must(idOrKey: string): Peer[] {
    const found = this.resolve(idOrKey);
    if (found.length === 0 && !this.ranges.has(idOrKey)) throw new Error(`no peer ${idOrKey}`);
    return found;
  }

  /**
   * Cease "Administrative Shutdown" (subcode 2) with an RFC 9003 message; stays down until
   * enabled. RFC 8538 §5: sent as Hard Reset where N was negotiated (the peer flushes).
   */
  async shutdownPeer(idOrKey: string, message: string): Promise<void> {
    const range = this.ranges.get(idOrKey);
    if (range) range.cfg = { ...range.cfg, shutdown: true };
    await Promise.all(this.must(idOrKey).map((p) => p.shutdown(message)));
    this.checkRestartDone();
  }

  enablePeer(idOrKey: string): void {
    const range = this.ranges.get(idOrKey);
    if (range) range.cfg = { ...range.cfg, shutdown: false };
    for (const p of this.must(idOrKey)) p.enable();
  }

  /**
   * Cease "Administrative Reset" (subcode 4) with an RFC 9003 message; the session re-forms.
   * RFC 8538 §5: sent as Hard Reset where N was negotiated (the peer flushes, then relearns).
   */
  async resetPeer(idOrKey: string, message: string): Promise<void> {
    await Promise.all(this.must(idOrKey).map((p) => p.reset(message)));
  }

  /**
   * Inbound soft reconfiguration by route refresh: ROUTE-REFRESH (RFC 2918) for the given
   * families (default every negotiated one) on each matching Established session. Returns, per
   * session id, the families asked for (empty: no session, or no route refresh negotiated).
   */
  refreshIn(idOrKey: string, families?: readonly FamilyKey[]): Map<string, FamilyKey[]> {
    const out = new Map<string, FamilyKey[]>();
    for (const p of this.must(idOrKey)) out.set(p.id, p.requestRefresh(families));
    return out;
  }

  /** Re-sends the Adj-RIB-Out of each matching Established session (BoRR/EoRR under RFC 7313). */
  refreshOut(idOrKey: string): Map<string, FamilyKey[]> {
    const out = new Map<string, FamilyKey[]>();
    for (const p of this.must(idOrKey)) out.set(p.id, p.resendOut());
    return out;
  }

  private *allPeers(): Generator<Peer> {
    yield* this.peers.values();
    for (const r of this.ranges.values()) yield* r.children.values();
  }

  status(): PeerStatus[] {
    const out: PeerStatus[] = [];
    for (const p of this.peers.values()) out.push(p.status());
    for (const r of this.ranges.values()) {
      if (r.children.size === 0) {
        out.push(rangePlaceholder(r.cfg, this.localAs));
        continue;
      }
      for (const c of r.children.values()) out.push(c.status());
    }
    return out;
  }

  /** The Adj-RIB-In of one session (by id, key or address). */
  adjRibIn(idOrKey: string): AdjRibInView | undefined {
    return this.resolve(idOrKey)[0]?.adjRibIn;
  }

  /** Every session's Adj-RIB-In. */
  adjRibIns(): AdjRibInView[] {
    return [...this.allPeers()].map((p) => p.adjRibIn);
  }

  // ------------------------------------------------------------------------------------------
  // Export

  /** Replaces the originated prefixes; established peers receive the difference. */
  setOriginated(routes: readonly OriginatedRoute[]): void {
    this.originated.set(routes);
  }

  /**
   * Replaces the export source (the RIB's Adj-RIB-Out). Sessions established from now on get its
   * table; established ones keep what they were sent until the source sends changes.
   */
  setExportSource(source: ExportSource): void {
    this.exportSource = source;
  }

  // ------------------------------------------------------------------------------------------
  // Incoming connections

  private onConnection(socket: Socket): void {
    const remote = normalizeAddress(socket.remoteAddress);
    const local = normalizeAddress(socket.localAddress);
    if (this.stopping) {
      socket.destroy();
      return;
    }
    for (const p of this.peers.values()) {
      if (p.cfg.address !== remote) continue;
      if (p.cfg.localAddress && normalizeAddress(p.cfg.localAddress) !== local) continue;
      if (!p.accept(socket)) {
        this.log.info(
          { remote, state: p.state, adminDown: p.adminDown },
          `connection from ${remote} refused`,
        );
        socket.destroy();
      }
      return;
    }
    // Dynamic neighbours: the most specific range containing the address.
    let best: RangeEntry | undefined;
    for (const r of this.ranges.values()) {
      if (!rangeContains(r.range, remote)) continue;
      if (r.cfg.localAddress && normalizeAddress(r.cfg.localAddress) !== local) continue;
      if (!best || r.range.length > best.range.length) best = r;
    }
    if (!best || best.cfg.shutdown) {
      this.log.info({ remote, local }, `connection from ${remote} refused: no neighbor configured`);
      socket.destroy();
      return;
    }
    const id = `${best.cfg.key}#${remote}`;
    const existing = best.children.get(id);
    if (existing) {
      if (!existing.accept(socket)) socket.destroy();
      return;
    }
    const limit = best.cfg.rangeLimit ?? DEFAULT_RANGE_LIMIT;
    if (best.children.size >= limit) {
      this.log.warn(
        { remote, range: best.cfg.range, limit },
        `connection from ${remote} refused: range limit ${limit} reached`,
      );
      socket.destroy();
      return;
    }
    const range = best;
    const child = new Peer({ ...range.cfg, address: remote, passive: true }, this.ctx, {
      id,
      dynamicParent: range.cfg.key,
    });
    child.onGone = (p) => {
      if (range.children.get(p.id) === p) range.children.delete(p.id);
      setImmediate(() => p.dispose());
    };
    range.children.set(id, child);
    this.log.info({ remote, range: range.cfg.range }, 'dynamic neighbor accepted');
    if (!child.accept(socket)) {
      range.children.delete(id);
      socket.destroy();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Shutdown

  /**
   * Cease (Administrative Shutdown, RFC 9003 message) to every peer; resolves when flushed and
   * closed. This is the daemon going away (SIGTERM, often for a restart): never a Hard Reset, so
   * a peer that negotiated the N bit keeps our routes as stale until we are back (RFC 8538 §4).
   * `hardReset` is for stopping for good: peers that negotiated N flush our routes at once.
   */
  async stop(message: string, opts: { hardReset?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (this.restartingTimer) clearTimeout(this.restartingTimer);
    this.restartingTimer = null;
    const peers = [...this.allPeers()];
    await Promise.all(peers.map((p) => p.stop(2, message, { hardReset: opts.hardReset ?? false })));
    for (const p of peers) p.dispose();
    this.peers.clear();
    this.ranges.clear();
    await Promise.all(
      this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    this.eventSubject.complete();
    this.ribSubject.complete();
  }

  // ------------------------------------------------------------------------------------------
  // Route display (control socket; not a hot path)

  routes(query: RouteQuery = {}): RouteView[] {
    const peers = query.peer !== undefined ? this.resolve(query.peer) : [...this.allPeers()];
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    const out: RouteView[] = [];
    let match: ((family: FamilyKey, words: Uint32Array, off: number, length: number) => boolean) | null =
      null;
    if (query.prefix !== undefined) {
      const text = query.prefix.includes('/')
        ? query.prefix
        : `${query.prefix}/${query.prefix.includes(':') ? 128 : 32}`;
      const p = parsePrefix(text);
      if (!p) throw new TypeError(`not a prefix or address: ${JSON.stringify(query.prefix)}`);
      const exact = query.prefix.includes('/');
      const fam = p.afi === 1 ? Family.IPv4Unicast : Family.IPv6Unicast;
      match = (family, words, off, length) => {
        if (family !== fam) return false;
        if (exact && length !== p.length) return false;
        if (length > p.length) return false;
        for (let i = 0, bits = length; bits > 0; i++, bits -= 32) {
          const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
          if (((words[off + i]! ^ (p.words[i] ?? 0)) & mask) >>> 0 !== 0) return false;
        }
        return true;
      };
    }
    for (const peer of peers) {
      const rib = peer.adjRibIn;
      for (const family of rib.families()) {
        const afi = family === Family.IPv6Unicast ? 2 : 1;
        rib.forEach(family, (words, off, length, pathId, attrId) => {
          if (out.length >= limit) return;
          if (match && !match(family, words, off, length)) return;
          const b = new PrefixListBuilder(afi, true, 1);
          if (afi === 1) b.addIPv4(words[off]!, length, pathId);
          else b.addIPv6(words[off]!, words[off + 1]!, words[off + 2]!, words[off + 3]!, length, pathId);
          const list = b.finish();
          const stored = this.attributes.get(attrId);
          const a = stored?.attributes ?? {};
          const nextHop =
            family === Family.IPv4Unicast && a.nextHop !== undefined
              ? formatIPv4(a.nextHop)
              : stored?.mpNextHop
                ? formatNextHop(stored.mpNextHop)
                : undefined;
          out.push({
            prefix: formatPrefix(list, 0),
            peer: peer.id,
            family: familyName(family),
            pathId: peer.negotiated?.addPathReceive.has(family) ? pathId : undefined,
            nextHop,
            asPath: a.asPath ? formatAsPath(a.asPath) : '',
            origin: a.origin === 1 ? 'egp' : a.origin === 2 ? 'incomplete' : 'igp',
            med: a.med,
            localPref: a.localPref,
            communities: a.communities ? [...a.communities].map((c) => `${c >>> 16}:${c & 0xffff}`) : [],
            largeCommunities: largeCommunityTexts(a.largeCommunities),
            attrId,
          });
        });
      }
    }
    return out;
  }
}

/** What is wrong with a peer configuration, or null (the daemon validates first; this guards the API). */
export function checkPeerConfig(cfg: PeerConfig): string | null {
  const h = cfg.holdTime;
  if (h !== undefined && (!Number.isInteger(h) || h < 0 || h > 65535 || h === 1 || h === 2)) {
    return `hold time ${h} must be 0 or 3..65535 seconds (RFC 4271 §4.2)`;
  }
  const k = cfg.keepaliveTime;
  if (k !== undefined && (!Number.isFinite(k) || k < 0)) return `keepalive time ${k} must be >= 0`;
  if (cfg.port !== undefined && (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535)) {
    return `port ${cfg.port} must be 1..65535`;
  }
  const r = cfg.remoteAs;
  if (typeof r === 'number' && (!Number.isInteger(r) || r < 1 || r > 0xffffffff))
    return `remote AS ${r} is not in 1..4294967295`;
  if (cfg.connectRetryTime !== undefined && !(cfg.connectRetryTime > 0))
    return 'connect retry time must be > 0';
  if (cfg.families !== undefined && cfg.families.length === 0) return 'name at least one family';
  return null;
}

function largeCommunityTexts(words: Uint32Array | undefined): string[] {
  const out: string[] = [];
  if (!words) return out;
  for (let i = 0; i + 2 < words.length; i += 3) out.push(`${words[i]}:${words[i + 1]}:${words[i + 2]}`);
  return out;
}

function rangePlaceholder(cfg: PeerConfig, localAs: number): PeerStatus {
  const zero = { open: 0, update: 0, notification: 0, keepalive: 0, routeRefresh: 0 };
  const hold = cfg.holdTime ?? 90;
  return {
    key: cfg.key,
    id: cfg.key,
    name: cfg.name ?? cfg.key,
    description: cfg.description,
    range: cfg.range,
    dynamic: true,
    localAs,
    remoteAs: typeof cfg.remoteAs === 'number' ? cfg.remoteAs : undefined,
    state: 'Active',
    adminDown: cfg.shutdown ?? false,
    since: Date.now(),
    timers: {
      holdTime: hold,
      keepaliveTime: cfg.keepaliveTime ?? Math.floor(hold / 3),
      connectRetry: cfg.connectRetryTime ?? 5,
    },
    families: (cfg.families ?? ['ipv4-unicast']).slice(),
    counters: { sent: { ...zero }, received: { ...zero } },
    prefixesReceived: 0,
    prefixesReceivedByFamily: {},
    prefixesSent: 0,
    connectRetryCounter: 0,
    inputQueueBytes: 0,
    inputQueuePeakBytes: 0,
    inputPaused: false,
    inputPauses: 0,
    inputModerations: 0,
    outputQueueBytes: 0,
    outputQueuePeakBytes: 0,
    outputBacklogRoutes: 0,
    outputBacklogPeakRoutes: 0,
  };
}
