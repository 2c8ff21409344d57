// Maps the daemon's SpeakerPort onto the session layer's Speaker (src/bgp/session). The only
// translation is of neighbour configs: config field names are the operator's (asn, connectRetry,
// maxPrefix per family), PeerConfig's are the session layer's.
import type { FamilyName, PeerConfig } from '../bgp/session/index.ts';
import { Speaker } from '../bgp/session/index.ts';
import type { Config, NeighborConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { SpeakerPort } from './speaker-port.ts';

/** The session layer's view of one neighbour. */
export function toPeerConfig(n: NeighborConfig, config: Config): PeerConfig {
  let addPath: Partial<Record<FamilyName, 'receive' | 'send' | 'both'>> | undefined;
  const send = n.addPath.send !== false;
  if (n.addPath.receive || send) {
    const dir = n.addPath.receive && send ? 'both' : n.addPath.receive ? 'receive' : 'send';
    addPath = {};
    for (const f of n.families) addPath[f] = dir;
  }
  // The session layer counts prefixes over all families; per-family limits become their sum.
  const limits = n.maxPrefix ? Object.values(n.maxPrefix).filter((m) => m !== undefined) : [];
  const restarts = limits.map((m) => m.restartAfter).filter((r): r is number => r !== undefined);
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
    families: n.families,
    addPath,
    gracefulRestart:
      n.gracefulRestart === 'disabled' ? undefined : { restartTime: config.gracefulRestart.restartTime },
    maxPrefixes: limits.length > 0 ? limits.reduce((sum, m) => sum + m.limit, 0) : undefined,
    maxPrefixesRestart: restarts.length > 0 ? Math.min(...restarts) : undefined,
    shutdown: n.shutdown,
  };
}

/** Builds the session layer's Speaker for a config, behind the daemon's SpeakerPort. */
export function createSessionSpeaker(config: Config, log: Logger): SpeakerPort {
  const speaker = new Speaker({
    localAs: config.asn,
    routerId: config.routerId,
    listen: config.listen,
    logger: log.child({ component: 'bgp' }),
  });
  let current = config;
  return {
    events: speaker.events,
    start: () => speaker.start(),
    setConfig: (c) => {
      current = c;
    },
    addPeer: (n) => speaker.addPeer(toPeerConfig(n, current)),
    removePeer: (key, message) => speaker.removePeer(key, message),
    updatePeer: (n) => speaker.updatePeer(toPeerConfig(n, current)),
    shutdownPeer: (id, message) => speaker.shutdownPeer(id, message),
    enablePeer: (id) => speaker.enablePeer(id),
    resetPeer: (id, message) => speaker.resetPeer(id, message),
    status: () => speaker.status(),
    routes: (q) => speaker.routes(q),
    setOriginated: (routes) => speaker.setOriginated(routes),
    stop: (message) => speaker.stop(message),
  };
}
