// An in-memory SpeakerPort for tests of the daemon, the control socket and the CLI: it records
// every call and keeps per-peer status the way a real speaker would report it, with no sockets.
import { Subject } from 'rxjs';
import type { Config, NeighborConfig, OriginatedPrefix } from '../config/types.ts';
import type {
  PeerStatus,
  PeerUpdateOutcome,
  RefreshOutcome,
  RouteQuery,
  RouteView,
  SpeakerEvent,
  SpeakerPort,
} from './speaker-port.ts';

export type RecordedCall =
  | { op: 'start' }
  | { op: 'add'; key: string }
  | { op: 'remove'; key: string; message: string }
  | { op: 'update'; key: string; reset: boolean }
  | { op: 'shutdown'; id: string; message: string }
  | { op: 'enable'; id: string }
  | { op: 'reset'; id: string; message: string }
  | { op: 'refresh'; id: string; direction: 'in' | 'out' }
  | { op: 'originate'; prefixes: string[] }
  | { op: 'stop'; message: string };

export class RecordingSpeaker implements SpeakerPort {
  readonly calls: RecordedCall[] = [];
  readonly events = new Subject<SpeakerEvent>();
  readonly peers = new Map<string, { config: NeighborConfig; status: PeerStatus }>();
  originated: OriginatedPrefix[] = [];
  routeTable: RouteView[] = [];
  started = false;
  stopped = false;

  constructor(readonly config: Config) {}

  async start(): Promise<void> {
    this.calls.push({ op: 'start' });
    this.started = true;
  }

  addPeer(n: NeighborConfig): void {
    if (this.peers.has(n.key)) throw new Error(`peer ${n.key} exists`);
    this.calls.push({ op: 'add', key: n.key });
    this.peers.set(n.key, {
      config: n,
      status: {
        key: n.key,
        id: n.key,
        name: n.name,
        address: n.address,
        range: n.range,
        description: n.description,
        localAs: this.config.asn,
        remoteAs: typeof n.asn === 'number' ? n.asn : undefined,
        state: 'Idle',
        adminDown: n.shutdown,
        since: Date.now(),
        prefixesReceived: 0,
        prefixesSent: 0,
        timers: { holdTime: n.holdTime, keepaliveTime: n.keepaliveTime, connectRetry: n.connectRetry },
      },
    });
  }

  async removePeer(key: string, message: string): Promise<void> {
    this.calls.push({ op: 'remove', key, message });
    if (!this.peers.delete(key)) throw new Error(`no peer ${key}`);
  }

  /** Resets on the fields that go into OPEN, as the session layer does; applies `shutdown`. */
  async updatePeer(n: NeighborConfig): Promise<PeerUpdateOutcome> {
    const p = this.peers.get(n.key);
    if (!p) throw new Error(`no peer ${n.key}`);
    const fields = (
      ['asn', 'localAddress', 'port', 'families', 'holdTime', 'addPath', 'gracefulRestart'] as const
    ).filter((f) => JSON.stringify(p.config[f]) !== JSON.stringify(n[f]));
    this.calls.push({ op: 'update', key: n.key, reset: fields.length > 0 });
    p.config = n;
    p.status = { ...p.status, name: n.name, description: n.description, adminDown: n.shutdown };
    return { reset: fields.length > 0, fields };
  }

  async shutdownPeer(id: string, message: string): Promise<void> {
    this.calls.push({ op: 'shutdown', id, message });
    const p = this.peers.get(id);
    if (p) p.status = { ...p.status, adminDown: true, state: 'Idle' };
  }

  enablePeer(id: string): void {
    this.calls.push({ op: 'enable', id });
    const p = this.peers.get(id);
    if (p) p.status = { ...p.status, adminDown: false };
  }

  async resetPeer(id: string, message: string): Promise<void> {
    this.calls.push({ op: 'reset', id, message });
  }

  /** Refreshes the session's families (as the session layer does when Established). */
  refreshPeer(id: string, direction: 'in' | 'out'): RefreshOutcome[] {
    this.calls.push({ op: 'refresh', id, direction });
    const p = this.peers.get(id);
    if (p?.status.state !== 'Established') return [];
    return [{ session: id, families: [...p.config.families] }];
  }

  status(): PeerStatus[] {
    return [...this.peers.values()].map((p) => p.status);
  }

  routes(q: RouteQuery): RouteView[] {
    return this.routeTable.filter(
      (r) => (q.peer === undefined || r.peer === q.peer) && (q.prefix === undefined || r.prefix === q.prefix),
    );
  }

  setOriginated(routes: OriginatedPrefix[]): void {
    this.calls.push({ op: 'originate', prefixes: routes.map((r) => r.prefix) });
    this.originated = routes;
  }

  async stop(message: string): Promise<void> {
    this.calls.push({ op: 'stop', message });
    this.stopped = true;
  }

  /** Simulates a state change, as the session layer reports it. */
  setState(key: string, to: PeerStatus['state'], reason?: string): void {
    const p = this.peers.get(key);
    if (!p) throw new Error(`no peer ${key}`);
    const from = p.status.state;
    p.status = { ...p.status, state: to, since: Date.now(), reason };
    this.events.next({
      type: 'state',
      peer: key,
      name: p.status.name,
      address: p.status.address,
      from,
      to,
      reason,
      at: Date.now(),
    });
  }
}
