// The composition root: loads the config, builds the speaker, starts the neighbours, originates
// the configured prefixes, and applies reloads as the smallest set of changes (config/diff.ts).
// A config that fails validation is refused and the running state is not touched. The control
// socket, signals and CLI all go through the methods here; read models (DaemonState, the events
// Observable) are what later consumers (Prometheus, a looking glass, etcd status) build on.
import { Subject, type Subscription } from 'rxjs';
import { mappedBytes } from '../bgp/huge-pages.ts';
import type { RouteDetail } from '../bgp/rib/show.ts';
import { type ConfigDiff, diffConfig, summarizeDiff } from '../config/diff.ts';
import { ConfigError, type ConfigIssue } from '../config/loader.ts';
import { canonicalAddress } from '../config/net.ts';
import type { ConfigSource } from '../config/source.ts';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { ExtensionContext } from './fib-feed.ts';
import { RoutingHub } from './routing-hub.ts';
import type {
  PeerStatus,
  RefreshOutcome,
  RouteQuery,
  RouteView,
  SpeakerEvent,
  SpeakerFactory,
  SpeakerMemory,
  SpeakerPort,
} from './speaker-port.ts';

/** What the MTU module reports for `tsbgp show mtu` (issue 5); the daemon only passes it through. */
export interface MtuReport {
  [field: string]: unknown;
}

/**
 * A part of the daemon driven by the config beside the speaker (kernel routes, IP-in-IP, MTU):
 * started after the speaker, told about each applied reload, stopped before the speaker.
 */
export interface DaemonExtension {
  readonly name: string;
  /**
   * `ctx` carries the routing side of the seam (fib-feed.ts): the FIB to install and the sink for
   * locally discovered routes to originate. It outlives speaker restarts.
   */
  start(config: Config, ctx: ExtensionContext): Promise<void>;
  applyConfig?(config: Config, diff: ConfigDiff): Promise<void>;
  stop(): Promise<void>;
  /** The report behind `tsbgp show mtu`, when this extension is the MTU detector. */
  mtuReport?(): MtuReport;
  /**
   * The origination sources this extension will publish through `ctx.origination` under this
   * config. They are declared before the speaker starts, so no session sends its initial table
   * and End-of-RIB before they have reported (RFC 4724 §4.1).
   */
  originationSources?(config: Config): readonly string[];
}

export type ReloadResult =
  | { ok: true; summary: string; changed: boolean; warnings: string[] }
  | { ok: false; error: string; issues: ConfigIssue[] };

export type DaemonEvent =
  | { type: 'speaker'; event: SpeakerEvent }
  | { type: 'config-loaded'; source: string; at: number }
  | { type: 'reload'; result: ReloadResult; reason: string; at: number }
  | { type: 'stopping'; message: string; at: number };

/** `tsbgp show memory`: bytes of the process (Node's view) and of the route tables. */
export interface DaemonMemory {
  readonly process: {
    readonly rss: number;
    readonly heapTotal: number;
    readonly heapUsed: number;
    readonly external: number;
    readonly arrayBuffers: number;
    /** Bytes of the big tables' own mappings (src/bgp/huge-pages.ts), outside arrayBuffers. */
    readonly hugePageMappings: number;
  };
  readonly speaker?: SpeakerMemory;
}

export interface DaemonState {
  version: string;
  pid: number;
  asn: number;
  routerId: string;
  routerIdSource: string;
  configSource: string;
  startedAt: number;
  lastReload?: { at: number; reason: string; ok: boolean; summary: string } | undefined;
  neighbors: PeerStatus[];
}

export interface DaemonOptions {
  source: ConfigSource;
  createSpeaker: SpeakerFactory;
  log: Logger;
  extensions?: DaemonExtension[];
  version?: string;
  /**
   * Log the speaker's state changes and NOTIFICATIONs here. Off for the session layer's Speaker,
   * which logs them itself (with `peer` and `reason`), so each appears once.
   */
  logSpeakerEvents?: boolean;
}

export class Daemon {
  readonly events = new Subject<DaemonEvent>();
  /** FibFeed + OriginationSink for the extensions; forwards to the current speaker's routing. */
  readonly routing = new RoutingHub();
  private readonly log: Logger;
  private config: Config | undefined;
  private speaker: SpeakerPort | undefined;
  private speakerSub: Subscription | undefined;
  private sourceSub: Subscription | undefined;
  private startedAt = 0;
  private lastReload: DaemonState['lastReload'];
  /** Reloads and stop run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DaemonOptions) {
    this.log = options.log;
  }

  /**
   * Loads the config (unless the caller already did) and starts everything. Throws ConfigError on
   * a bad config, with nothing started.
   */
  async start(preloaded?: Config): Promise<Config> {
    const config = preloaded ?? (await this.options.source.load());
    this.config = config;
    this.startedAt = Date.now();
    this.events.next({ type: 'config-loaded', source: config.source, at: Date.now() });
    const rid =
      config.routerIdSource.kind === 'host'
        ? `chosen from interface ${config.routerIdSource.interface} (highest non-loopback IPv4)`
        : 'configured';
    this.log.info(
      {
        asn: config.asn,
        routerId: config.routerId,
        neighbors: config.neighbors.length,
        originate: config.originate.length,
      },
      `starting: AS ${config.asn}, router-id ${config.routerId} (${rid})`,
    );
    for (const ext of this.options.extensions ?? []) {
      for (const source of ext.originationSources?.(config) ?? []) this.routing.expect(source);
    }
    await this.startSpeaker(config);
    for (const ext of this.options.extensions ?? []) {
      await ext.start(config, this.routing);
    }
    // The source says when to reload: SIGHUP for a file, a watch for a datastore.
    this.sourceSub = this.options.source.changes.subscribe((n) => {
      void this.reload(n.reason);
    });
    return config;
  }

  private async startSpeaker(config: Config): Promise<void> {
    const speaker = this.options.createSpeaker(config);
    this.speaker = speaker;
    this.speakerSub = speaker.events.subscribe((e) => this.onSpeakerEvent(e));
    speaker.attachRouting?.(this.routing);
    for (const n of config.neighbors) speaker.addPeer(n);
    speaker.setOriginated(config.originate);
    await speaker.start();
    for (const n of config.neighbors) {
      if (n.shutdown) this.log.info({ peer: n.name }, 'neighbour is shut down in the configuration');
    }
  }

  private onSpeakerEvent(e: SpeakerEvent): void {
    this.events.next({ type: 'speaker', event: e });
    if (!this.options.logSpeakerEvents) return;
    switch (e.type) {
      case 'state': {
        const fields = { peer: e.name, address: e.address, from: e.from, to: e.to, reason: e.reason };
        if (e.from === 'Established') this.log.warn(fields, `session down: ${e.from} -> ${e.to}`);
        else if (e.to === 'Established') this.log.info(fields, 'session Established');
        else this.log.info(fields, `session ${e.from} -> ${e.to}`);
        break;
      }
      case 'notification': {
        const n = e.notification;
        this.log.warn(
          { peer: e.name, direction: n.direction, code: n.code, subcode: n.subcode, reason: n.text },
          `NOTIFICATION ${n.direction}: ${n.text}`,
        );
        break;
      }
      case 'error':
        this.log.error({ peer: e.name, reason: e.message }, e.message);
        break;
    }
  }

  /**
   * Re-reads the config and applies the difference. A config that fails to load is refused with
   * its problems; the running state is left exactly as it was.
   */
  reload(reason: string): Promise<ReloadResult> {
    const run = this.queue.then(() => this.doReload(reason));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async doReload(reason: string): Promise<ReloadResult> {
    const old = this.config;
    if (this.stopped || !old || !this.speaker) {
      return { ok: false, error: 'the daemon is not running', issues: [] };
    }
    const t0 = performance.now();
    let next: Config;
    try {
      next = await this.options.source.load();
    } catch (e) {
      const issues = e instanceof ConfigError ? e.issues : [];
      const error = e instanceof Error ? e.message : String(e);
      this.log.error(
        { reason, issues: issues.length, err: e instanceof ConfigError ? undefined : e },
        `reload refused, running configuration kept: ${error}`,
      );
      const result: ReloadResult = { ok: false, error, issues };
      this.lastReload = { at: Date.now(), reason, ok: false, summary: error };
      this.events.next({ type: 'reload', result, reason, at: Date.now() });
      return result;
    }
    const diff = diffConfig(old, next);
    const warnings = await this.apply(old, next, diff);
    this.config = next;
    const summary = summarizeDiff(diff);
    const durationMs = Math.round((performance.now() - t0) * 10) / 10;
    this.log.info({ reason, changed: !diff.unchanged, durationMs }, `configuration reloaded: ${summary}`);
    const result: ReloadResult = { ok: true, summary, changed: !diff.unchanged, warnings };
    this.lastReload = { at: Date.now(), reason, ok: true, summary };
    this.events.next({ type: 'reload', result, reason, at: Date.now() });
    return result;
  }

  /** Applies a diff; returns warnings for parts that could not be applied (logged as well). */
  private async apply(_old: Config, next: Config, diff: ConfigDiff): Promise<string[]> {
    const warnings: string[] = [];
    const attempt = async (what: string, peer: string | undefined, fn: () => Promise<void> | void) => {
      try {
        await fn();
      } catch (e) {
        const msg = `${what} failed: ${e instanceof Error ? e.message : String(e)}`;
        warnings.push(peer ? `${peer}: ${msg}` : msg);
        this.log.error({ peer, err: e }, msg);
      }
    };
    if (diff.globalReset.length > 0 || diff.listenChanged) {
      // The local AS and router-id go into every OPEN, and the listeners belong to the speaker:
      // start over with a new speaker (every session resets, as in BIRD and FRR).
      const what = [...diff.globalReset, ...(diff.listenChanged ? ['listen'] : [])].join(', ');
      this.log.warn({ changed: what }, `${what} changed: restarting every session`);
      await attempt('restarting the speaker', undefined, async () => {
        await this.stopSpeaker(`configuration change: ${what}`);
        await this.startSpeaker(next);
      });
    } else if (this.speaker) {
      const speaker = this.speaker;
      speaker.setConfig?.(next);
      for (const n of diff.removedNeighbors) {
        this.log.info({ peer: n.name }, 'neighbour removed from the configuration: sending Cease');
        await attempt('removing', n.name, () =>
          speaker.removePeer(n.key, 'neighbor removed from configuration'),
        );
      }
      for (const c of [...diff.resetNeighbors, ...diff.inPlaceNeighbors]) {
        const expectReset = diff.resetNeighbors.includes(c);
        await attempt('updating', c.new.name, async () => {
          const outcome = await speaker.updatePeer(c.new);
          const fields = c.fields.join(', ');
          if (outcome.reset) {
            this.log.info(
              { peer: c.new.name, fields: c.fields, resetBy: outcome.fields },
              `neighbour changed (${fields}): session reset`,
            );
          } else {
            this.log.info(
              { peer: c.new.name, fields: c.fields },
              `neighbour changed (${fields}): applied without reset`,
            );
          }
          if (outcome.reset !== expectReset) {
            this.log.debug(
              { peer: c.new.name, expected: expectReset, actual: outcome.reset },
              'the speaker judged the reset differently',
            );
          }
        });
      }
      for (const n of diff.addedNeighbors) {
        this.log.info({ peer: n.name }, 'neighbour added to the configuration');
        await attempt('adding', n.name, () => speaker.addPeer(n));
      }
      if (diff.originateAdded.length + diff.originateRemoved.length + diff.originateChanged.length > 0) {
        await attempt('originating', undefined, () => speaker.setOriginated(next.originate));
      }
    }
    if (diff.otherSections.includes('control')) {
      const msg = 'control.socket changed: the daemon keeps its current socket until it restarts';
      warnings.push(msg);
      this.log.warn({}, msg);
    }
    // Fields that `tsbgp run` reads once, before the sessions start: a reload only says so.
    const startUpOnly = [
      ['warmUpRoutes', 'warmUp.routes changed: the warm-up runs only at start-up'],
      ['warmUpKeepWarm', 'warmUp.keepWarm changed: it is read only at start-up'],
    ] as const;
    for (const [field, msg] of startUpOnly) {
      if (!diff.otherSections.includes(field)) continue;
      warnings.push(msg);
      this.log.info({}, msg);
    }
    for (const ext of this.options.extensions ?? []) {
      if (ext.applyConfig)
        await attempt(`applying to ${ext.name}`, undefined, () => ext.applyConfig?.(next, diff));
    }
    return warnings;
  }

  private async stopSpeaker(message: string): Promise<void> {
    const speaker = this.speaker;
    this.speaker = undefined;
    if (!speaker) return;
    try {
      await speaker.stop(message);
    } finally {
      this.speakerSub?.unsubscribe();
      this.speakerSub = undefined;
    }
  }

  /** Sends Cease (Administrative Shutdown) to every peer and stops every part. Idempotent. */
  stop(message = 'daemon shutting down'): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.stopped) return;
      this.stopped = true;
      this.sourceSub?.unsubscribe();
      this.log.info({ reason: message }, 'stopping: sending Cease to every peer');
      this.events.next({ type: 'stopping', message, at: Date.now() });
      for (const ext of [...(this.options.extensions ?? [])].reverse()) {
        try {
          await ext.stop();
        } catch (e) {
          this.log.error({ err: e }, `stopping ${ext.name} failed`);
        }
      }
      await this.stopSpeaker(message);
      this.routing.close();
      this.events.complete();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---- read model and operations for the control socket ----------------------------------------

  currentConfig(): Config | undefined {
    return this.config;
  }

  state(): DaemonState {
    const c = this.config;
    return {
      version: this.options.version ?? '0.0.0',
      pid: process.pid,
      asn: c?.asn ?? 0,
      routerId: c?.routerId ?? '',
      routerIdSource:
        c?.routerIdSource.kind === 'host' ? `interface ${c.routerIdSource.interface}` : 'configured',
      configSource: c?.source ?? this.options.source.description,
      startedAt: this.startedAt,
      lastReload: this.lastReload,
      neighbors: this.speaker?.status() ?? [],
    };
  }

  neighbors(): PeerStatus[] {
    return this.speaker?.status() ?? [];
  }

  /** Finds sessions by id, config key, name or address (any spelling of an IPv6 address). */
  findNeighbors(which: string): PeerStatus[] {
    const canon = safeCanonical(which);
    return this.neighbors().filter(
      (p) =>
        p.id === which ||
        p.key === which ||
        p.name === which ||
        (p.address !== undefined && p.address === canon),
    );
  }

  neighbor(which: string): PeerStatus {
    return this.onlyNeighbor(which);
  }

  routes(query: RouteQuery): RouteView[] {
    const speaker = this.requireSpeaker();
    if (query.peer !== undefined) {
      const p = this.onlyNeighbor(query.peer);
      return speaker.routes({ ...query, peer: p.id });
    }
    return speaker.routes(query);
  }

  /** Process memory and what the route tables hold, as BIRD's `show memory`. */
  memory(): DaemonMemory {
    const m = process.memoryUsage();
    return {
      process: {
        rss: m.rss,
        heapTotal: m.heapTotal,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        hugePageMappings: mappedBytes,
      },
      ...(this.speaker?.memory ? { speaker: this.speaker.memory() } : {}),
    };
  }

  /** Every path of a prefix with the deciding best-path step; an address finds its longest match. */
  routeDetails(prefix: string): RouteDetail[] {
    const speaker = this.requireSpeaker();
    if (!speaker.routeDetails) throw new Error('this speaker keeps no Loc-RIB');
    return speaker.routeDetails(prefix);
  }

  async shutdownNeighbor(which: string, message: string | undefined): Promise<PeerStatus> {
    const p = this.onlyNeighbor(which);
    this.log.info({ peer: p.name, reason: message }, 'administrative shutdown requested');
    await this.requireSpeaker().shutdownPeer(p.id, message ?? '');
    return this.onlyNeighbor(p.id);
  }

  enableNeighbor(which: string): PeerStatus {
    const p = this.onlyNeighbor(which);
    this.log.info({ peer: p.name }, 'enable requested');
    this.requireSpeaker().enablePeer(p.id);
    return this.onlyNeighbor(p.id);
  }

  async resetNeighbor(which: string, message: string | undefined): Promise<PeerStatus> {
    const p = this.onlyNeighbor(which);
    this.log.info({ peer: p.name, reason: message }, 'administrative reset requested');
    await this.requireSpeaker().resetPeer(p.id, message ?? '');
    return this.onlyNeighbor(p.id);
  }

  /**
   * Soft refresh of one neighbour without a reset: 'in' re-applies import policy (from the kept
   * Adj-RIB-In, or by ROUTE-REFRESH), 'out' re-sends our Adj-RIB-Out.
   */
  refreshNeighbor(which: string, direction: 'in' | 'out'): RefreshOutcome[] {
    const p = this.onlyNeighbor(which);
    const speaker = this.requireSpeaker();
    if (speaker.refreshPeer === undefined || p.state !== 'Established') return [];
    this.log.info({ peer: p.name, direction }, `soft refresh ${direction} requested`);
    return speaker.refreshPeer(p.id, direction);
  }

  mtuReport(): MtuReport | undefined {
    for (const ext of this.options.extensions ?? []) {
      if (ext.mtuReport) return ext.mtuReport();
    }
    return undefined;
  }

  private onlyNeighbor(which: string): PeerStatus {
    const found = this.findNeighbors(which);
    if (found.length === 0) throw new NotFoundError(`no neighbour ${which}`);
    if (found.length > 1) {
      throw new NotFoundError(
        `${which} matches ${found.length} sessions (${found.map((p) => p.id).join(', ')}): name one`,
      );
    }
    return found[0]!;
  }

  private requireSpeaker(): SpeakerPort {
    if (!this.speaker) throw new Error('the daemon is not running');
    return this.speaker;
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

function safeCanonical(s: string): string {
  try {
    return canonicalAddress(s);
  } catch {
    return s;
  }
}
