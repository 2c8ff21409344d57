// Binds the control socket's methods to the daemon. Parameters are checked here, so a malformed
// request gets a `bad-request` answer naming the parameter instead of reaching the daemon.
import { parsePrefix } from '../bgp/rib/prefix.ts';
import { ControlError } from '../control/protocol.ts';
import type { Handlers } from '../control/server.ts';
import type { Daemon } from './daemon.ts';
import type { PeerStatus, RefreshOutcome } from './speaker-port.ts';

function str(params: Record<string, unknown>, name: string, required: true): string;
function str(params: Record<string, unknown>, name: string, required: false): string | undefined;
function str(params: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = params[name];
  if (v === undefined || v === null) {
    if (required) throw new ControlError('bad-request', `parameter "${name}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new ControlError('bad-request', `parameter "${name}" must be a string`);
  if (v.length > 1024) throw new ControlError('bad-request', `parameter "${name}" is too long`);
  return v;
}

/** RFC 9003 limits the shutdown communication to 255 octets of UTF-8 (longer texts are truncated there). */
function message(params: Record<string, unknown>): string | undefined {
  const m = str(params, 'message', false);
  if (m !== undefined && Buffer.byteLength(m, 'utf8') > 255) {
    throw new ControlError('bad-request', 'the message is limited to 255 bytes of UTF-8 (RFC 9003 §2)');
  }
  return m;
}

/** A prefix or an address; a malformed one is a bad request naming what is wrong. */
function prefixParam(text: string): string {
  try {
    parsePrefix(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`);
  } catch (e) {
    throw new ControlError('bad-request', `parameter "prefix": ${(e as Error).message}`);
  }
  return text;
}

/** Soft refresh of one neighbour; a session that is not up (or cannot refresh) is named as such. */
function refresh(daemon: Daemon, which: string, direction: 'in' | 'out'): NeighborRefresh {
  const done = daemon.refreshNeighbor(which, direction);
  const peer = daemon.neighbor(which);
  if (done.length === 0 || done.every((d) => d.families.length === 0)) {
    const why =
      peer.state !== 'Established'
        ? `the session is ${peer.state}`
        : direction === 'out'
          ? 'our initial table has not been sent yet'
          : 'the peer did not negotiate route refresh and its routes were not kept';
    throw new ControlError(
      'unavailable',
      `cannot refresh ${direction === 'in' ? 'inbound' : 'outbound'} for ${peer.name}: ${why}`,
    );
  }
  return { neighbor: peer, direction, refreshed: done };
}

export interface NeighborRefresh {
  neighbor: PeerStatus;
  direction: 'in' | 'out';
  refreshed: RefreshOutcome[];
}

export function daemonHandlers(daemon: Daemon): Handlers {
  return {
    'show.status': () => daemon.state(),
    'show.neighbors': () => daemon.neighbors(),
    'show.memory': () => daemon.memory(),
    'show.neighbor': (p) => daemon.neighbor(str(p, 'neighbor', true)),
    'show.routes': (p) => {
      const limit = p.limit;
      if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
        throw new ControlError('bad-request', 'parameter "limit" must be a positive integer');
      }
      const prefix = str(p, 'prefix', false);
      return daemon.routes({
        peer: str(p, 'peer', false),
        prefix: prefix === undefined ? undefined : prefixParam(prefix),
        limit,
      });
    },
    'show.route': (p) => {
      const prefix = prefixParam(str(p, 'prefix', true));
      const found = daemon.routeDetails(prefix);
      if (found.length === 0) throw new ControlError('not-found', `no route for ${prefix} in the Loc-RIB`);
      return found;
    },
    'show.mtu': () => {
      const report = daemon.mtuReport();
      if (report === undefined) {
        throw new ControlError(
          'unavailable',
          'MTU detection is not running in this daemon (no mtu/ipip configuration)',
        );
      }
      return report;
    },
    'neighbor.shutdown': (p) => daemon.shutdownNeighbor(str(p, 'neighbor', true), message(p)),
    'neighbor.enable': (p) => daemon.enableNeighbor(str(p, 'neighbor', true)),
    'neighbor.reset': (p) => daemon.resetNeighbor(str(p, 'neighbor', true), message(p)),
    'neighbor.refresh-in': (p) => refresh(daemon, str(p, 'neighbor', true), 'in'),
    'neighbor.refresh-out': (p) => refresh(daemon, str(p, 'neighbor', true), 'out'),
    reload: async () => {
      const result = await daemon.reload('tsbgp reload');
      if (!result.ok) throw new ControlError('config', result.error, result.issues);
      return result;
    },
  };
}
