// Maps the daemon's SpeakerPort onto the session layer's Speaker (src/bgp/session). The only
// translation is of neighbour configs: config field names are the operator's (asn, connectRetry,
// maxPrefix per family), PeerConfig's are the session layer's.

import { filter } from 'rxjs';
import { familyName } from '../bgp/codec/index.ts';
import type { StoredAttributes } from '../bgp/rib/attrs.ts';
import type { NextHopResolver } from '../bgp/rib/best-path.ts';
import { CONNECTED_RESOLVER } from '../bgp/rib/best-path.ts';
import type { FamilyName, MaxPrefixLimit, OriginatedRoute, PeerConfig } from '../bgp/session/index.ts';
import { Speaker } from '../bgp/session/index.ts';
import type { Config, NeighborConfig, OriginatedPrefix } from '../config/types.ts';
import type { KernelRoutes } from '../dataplane/routes/kernel-routes.ts';
import { RTPROT_BGP } from '../dataplane/routes/model.ts';
import type { Logger } from '../log/logger.ts';
import { RoutingEngine } from './routing.ts';
import type { RoutingHub } from './routing-hub.ts';
import { KernelNextHopResolver } from './routing-resolver.ts';
import type { SpeakerEvent as PortSpeakerEvent, SpeakerPort } from './speaker-port.ts';

/** The session layer's view of one neighbour. */
export function toPeerConfig(n: NeighborConfig, config: Config): PeerConfig {
  let addPath: Partial<Record<FamilyName, 'receive' | 'send' | 'both'>> | undefined;
  const send = n.addPath.send !== false;
  if (n.addPath.receive || send) {
    const dir = n.addPath.receive && send ? 'both' : n.addPath.receive ? 'receive' : 'send';
    addPath = {};
    for (const f of n.families) addPath[f] = dir;
  }
  // Per family: the session layer stops the session when one family exceeds its own limit.
  let maxPrefixes: Partial<Record<FamilyName, MaxPrefixLimit>> | undefined;
  for (const [family, m] of Object.entries(n.maxPrefix ?? {})) {
    if (m === undefined) continue;
    maxPrefixes ??= {};
    maxPrefixes[family as FamilyName] = { limit: m.limit, restartAfter: m.restartAfter };
  }
  return {
    key: n.key,
    name: n.name,
    description: n.description,
    address: n.address,
    range: n.range,
    remoteAs: n.asn,
    localAddress: n.localAddress,
    port: n.port,
    passive: n.passive,
    holdTime: n.holdTime,
    keepaliveTime: n.keepaliveTime,
    connectRetryTime: n.connectRetry,
    connectRetryTimeMax: n.connectRetryMax,
    idleHoldTime: n.idleHold,
    idleHoldTimeMax: n.idleHoldMax,
    errorForgetTime: n.errorForget,
    families: n.families,
    addPath,
    // 'helper' advertises the capability with no family (BIRD's `graceful restart aware`): we keep
    // a restarting peer's routes, but peers flush ours when we go. 'enabled' also preserves our
    // forwarding state (F bit), which holds only while the kernel routes persist across restarts.
    gracefulRestart:
      n.gracefulRestart === 'disabled'
        ? undefined
        : {
            restartTime: config.gracefulRestart.restartTime,
            notification: config.gracefulRestart.notification,
            helperOnly: n.gracefulRestart === 'helper',
            forwardingPreserved: n.gracefulRestart === 'enabled' && config.kernel?.persist !== false,
          },
    maxPrefixes,
    // Without the option, pre-policy routes are kept only for peers that cannot refresh.
    retainAdjRibIn: n.softReconfigurationInbound ? 'always' : 'auto',
    enhancedRouteRefresh: n.enhancedRouteRefresh,
    shutdown: n.shutdown,
  };
}

export function toOriginatedRoutes(list: readonly OriginatedPrefix[]): OriginatedRoute[] {
  return list.map((o) => ({
    prefix: o.prefix,
    communities: o.communities,
    largeCommunities: o.largeCommunities,
    med: o.med,
    localPref: o.localPref,
    nextHop: o.nextHop,
  }));
}

/**
 * The decision process's next-hop resolver: every next hop connected until the kernel's resolver is
 * plugged in. A class rather than a closure per speaker, so that every speaker's decision process
 * calls the same function: V8 specialises optimised code on the function a call site saw, and the
 * warm-up's scratch speaker and the real one had a closure each ("wrong call target" in `select`
 * and `igpCost` when the first real table arrived, `--trace-deopt`).
 */
class SwitchableResolver implements NextHopResolver {
  current: NextHopResolver = CONNECTED_RESOLVER;

  cost(nextHop: Uint8Array | null, attrs: StoredAttributes): number {
    return this.current.cost(nextHop, attrs);
  }
}

export interface SessionSpeakerOptions {
  /**
   * Opens the kernel route table for next-hop resolution (default: rtnetlink). Returning null,
   * or failing, leaves every next hop resolvable at cost 0, with a warning.
   */
  openKernelRoutes?: () => Promise<KernelRoutes | null>;
}

async function openNetlink(): Promise<KernelRoutes | null> {
  const { NetlinkRoutes } = await import('../dataplane/routes/netlink-routes.ts');
  return NetlinkRoutes.open();
}

/**
 * Builds the session layer's Speaker for a config, with the routing engine (Loc-RIB, policy,
 * reflection, update groups) as its export source, behind the daemon's SpeakerPort.
 */
export function createSessionSpeaker(
  config: Config,
  log: Logger,
  options: SessionSpeakerOptions = {},
): SpeakerPort {
  const speaker = new Speaker({
    localAs: config.asn,
    routerId: config.routerId,
    listen: config.listen,
    logger: log.child({ component: 'bgp' }),
  });
  // The engine's decision process asks this resolver; the kernel's one is plugged in at start.
  const resolver = new SwitchableResolver();
  let kernelResolver: KernelNextHopResolver | null = null;
  let kernel: KernelRoutes | null = null;
  const routingLog = log.child({ component: 'routing' });
  const engine = new RoutingEngine({
    speaker,
    config,
    log: routingLog,
    resolver,
  });
  let hub: RoutingHub | null = null;
  let current = config;
  return {
    // Route-refresh demarcation events are for the routing engine only.
    events: speaker.events.pipe(filter((e): e is PortSpeakerEvent => e.type !== 'route-refresh')),
    start: async () => {
      try {
        kernel = await (options.openKernelRoutes ?? openNetlink)();
        if (kernel !== null) {
          const r = new KernelNextHopResolver(kernel, { ownProtocol: config.kernel?.protocol ?? RTPROT_BGP });
          await r.start();
          r.onChange(() => engine.nextHopsChanged());
          kernelResolver = r;
          resolver.current = r;
        }
      } catch (e) {
        routingLog.warn(
          { err: e },
          `next hops are not resolved against the kernel (${(e as Error).message}): every next hop counts as connected`,
        );
      }
      engine.start();
      await speaker.start();
    },
    setConfig: (c) => {
      current = c;
      engine.applyConfig(c);
    },
    addPeer: (n) => speaker.addPeer(toPeerConfig(n, current)),
    removePeer: (key, message) => speaker.removePeer(key, message),
    updatePeer: (n) => speaker.updatePeer(toPeerConfig(n, current)),
    shutdownPeer: (id, message) => speaker.shutdownPeer(id, message),
    enablePeer: (id) => speaker.enablePeer(id),
    resetPeer: (id, message) => speaker.resetPeer(id, message),
    refreshPeer: (id, direction) => {
      const sent = direction === 'in' ? engine.refreshIn(id) : speaker.refreshOut(id);
      return [...sent].map(([session, families]) => ({ session, families: families.map(familyName) }));
    },
    status: () => speaker.status(),
    // A peer's routes are its Adj-RIB-In (pre-policy) where that is retained, else the paths
    // import accepted from it; without a peer, the Loc-RIB's best paths.
    routes: (q) =>
      q.peer !== undefined && speaker.adjRibIn(q.peer)?.retained === true
        ? speaker.routes(q)
        : engine.routes(q),
    routeDetails: (prefix) => engine.routeDetails(prefix),
    memory: () => {
      const views = speaker.adjRibIns();
      return {
        rib: engine.memory(),
        adjRibInRetained: views.filter((v) => v.retained).length,
        adjRibInBytes: views.reduce((n, v) => n + v.byteLength, 0),
        sessionAttributeSets: speaker.attributes.size,
      };
    },
    setOriginated: (routes) => engine.setOriginated('config', toOriginatedRoutes(routes)),
    attachRouting: (h) => {
      hub = h;
      h.attach(engine);
    },
    stop: async (message) => {
      hub?.attach(null);
      hub = null;
      engine.stop();
      await speaker.stop(message);
      await kernelResolver?.stop();
      await kernel?.close();
    },
  };
}
