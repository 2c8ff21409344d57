// Route executor over rtnetlink (the default; see docs/dataplane.md for the measurements).
//
// Programming: the ops are encoded into one buffer per window (default 512 messages) and sent with
// a single sendmsg. Only the window's last message asks for an ACK: the kernel answers every
// failed request with an NLMSG_ERROR regardless of NLM_F_ACK (netlink_rcv_skb), and handles a
// socket's requests in order, so the last ACK proves the window done and every errno in it is
// mapped back to its op by sequence number. One window is in flight at a time, so the event loop
// turns between windows and the replies never outgrow the receive buffer. The kernel does a
// window's work inside our sendmsg, so a window is time we cannot give to keepalives: its size
// adapts (64..1024 requests) to keep each one near WINDOW_TARGET_MS.
//
// Watching: a second socket joined to the link and route groups. It reads the raw message type,
// so RTM_NEWROUTE and RTM_DELROUTE stay apart, and filters on rtm_protocol before decoding.
import type { KernelRoutes, LinkEvent, RouteOpFailure, RouteWatchHandlers } from './kernel-routes.ts';
import type { KernelRoute, RouteOp } from './model.ts';
import { formatRouteArgs } from './model.ts';
import { NetlinkMonitor } from './netlink-monitor.ts';
import {
  decodeLink,
  decodeRoute,
  dumpLinks,
  ENODEV,
  encodeRoute,
  errnoName,
  NetlinkError,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  type NlMessageView,
  NlWriter,
  RTM_DELLINK,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
  RtnlSocket,
  routeProtocol,
} from './rtnl.ts';

export interface NetlinkRoutesOptions {
  /** Largest window (requests per sendmsg / ACK round trip); it adapts below this. */
  window?: number;
  /** SO_RCVBUF of the monitor socket (capped by net.core.rmem_max). */
  monitorRecvBufferSize?: number;
}

/** Interface name <-> index, kept current from dumps and link events. */
export class LinkTable {
  private readonly byName = new Map<string, number>();
  private readonly byIndex = new Map<number, string>();

  set(index: number, name: string): void {
    const old = this.byIndex.get(index);
    if (old !== undefined && old !== name && this.byName.get(old) === index) this.byName.delete(old);
    this.byIndex.set(index, name);
    this.byName.set(name, index);
  }

  delete(index: number): void {
    const name = this.byIndex.get(index);
    this.byIndex.delete(index);
    if (name !== undefined && this.byName.get(name) === index) this.byName.delete(name);
  }

  index(name: string): number {
    return this.byName.get(name) ?? 0;
  }

  /** The name, or `if<N>` for an index not (yet) known. */
  name(index: number): string {
    return this.byIndex.get(index) ?? `if${index}`;
  }
}

export class NetlinkRoutes implements KernelRoutes {
  readonly name = 'netlink';
  private readonly cmd: RtnlSocket;
  private readonly links = new LinkTable();
  private readonly maxWindow: number;
  /** Current window, adapted to the time the kernel takes per window. */
  private window: number;
  private readonly writer = new NlWriter(1 << 16);
  private monitor: NetlinkMonitor | undefined;
  /** Highest echo of our requests the monitor has reported; -1 before the first (or after a loss). */
  private monitorSeq = -1;
  private readonly progressWaiters = new Set<ProgressWaiter>();
  private readonly watchers = new Set<RouteWatchHandlers>();

  private constructor(private readonly opts: NetlinkRoutesOptions) {
    this.cmd = new RtnlSocket({ recvBufferSize: 4 << 20 });
    this.maxWindow = opts.window ?? 1024;
    this.window = Math.min(256, this.maxWindow);
  }

  /** Opens the request socket and learns the interfaces. */
  static async open(opts: NetlinkRoutesOptions = {}): Promise<NetlinkRoutes> {
    const nr = new NetlinkRoutes(opts);
    await nr.refreshLinks();
    return nr;
  }

  async refreshLinks(): Promise<void> {
    for (const l of await dumpLinks(this.cmd)) this.links.set(l.index, l.name);
  }

  async apply(ops: readonly RouteOp[]): Promise<RouteOpFailure[]> {
    const failures: RouteOpFailure[] = [];
    let refreshed = false;
    for (let start = 0; start < ops.length; ) {
      const end = Math.min(ops.length, start + this.window);
      const t0 = performance.now();
      let chunkFailures = await this.applyWindow(ops, start, end);
      this.adaptWindow(end - start, performance.now() - t0);
      start = end;
      // An unknown interface may just be new: learn the links once and retry those ops.
      if (!refreshed && chunkFailures.some((f) => f.errno === ENODEV)) {
        refreshed = true;
        await this.refreshLinks();
        const retry = chunkFailures.filter((f) => f.errno === ENODEV).map((f) => f.index);
        chunkFailures = chunkFailures.filter((f) => f.errno !== ENODEV);
        for (const i of retry) chunkFailures.push(...(await this.applyWindow(ops, i, i + 1)));
      }
      failures.push(...chunkFailures);
    }
    return failures;
  }

  private adaptWindow(size: number, ms: number): void {
    if (size < this.window) return; // a short tail says nothing about the rate
    if (ms > 2 * WINDOW_TARGET_MS) this.window = Math.max(MIN_WINDOW, this.window >> 1);
    else if (ms < WINDOW_TARGET_MS / 2) this.window = Math.min(this.maxWindow, this.window << 1);
  }

  private applyWindow(ops: readonly RouteOp[], start: number, end: number): Promise<RouteOpFailure[]> {
    const w = this.writer;
    w.reset();
    const failures: RouteOpFailure[] = [];
    const first = this.cmd.reserveSeqs(end - start);
    let lastSeq = -1;
    let lastMsgOff = -1;
    const skipped = new Set<number>();
    const ifindexOf = (name: string) => this.links.index(name);
    for (let i = start; i < end; i++) {
      const op = ops[i]!;
      const at = w.off;
      const errno = encodeRoute(
        w,
        op.op === 'delete',
        op.route,
        NLM_F_REQUEST,
        first + (i - start),
        ifindexOf,
      );
      if (errno) {
        failures.push({ index: i, errno, message: describe(op, errno) });
        skipped.add(first + (i - start));
        continue;
      }
      lastSeq = first + (i - start);
      lastMsgOff = at;
    }
    if (lastSeq < 0) return Promise.resolve(failures);
    w.buf.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK | w.buf.readUInt16LE(lastMsgOff + 6), lastMsgOff + 6);
    const bytes = w.take();
    const failedSeqs = new Set<number>();
    return new Promise((resolve, reject) => {
      this.cmd.expectRange(first, lastSeq, {
        onMessage: (m) => {
          if (m.type !== NLMSG_ERROR) return false;
          const errno = -m.buf.readInt32LE(m.off);
          const i = start + (m.seq - first);
          if (errno !== 0) {
            failures.push({ index: i, errno, message: describe(ops[i]!, errno) });
            failedSeqs.add(m.seq);
          }
          if (m.seq === lastSeq) {
            // The last request that changed something: its echo is what the monitor must reach.
            let lastChanged = -1;
            for (let q = lastSeq; q >= first; q--) {
              if (!failedSeqs.has(q) && !skipped.has(q)) {
                lastChanged = q;
                break;
              }
            }
            // The monitor may lag a few windows behind (its socket buffer holds them); beyond
            // that, wait for it to catch up.
            if (lastChanged < 0) resolve(failures);
            else
              void this.waitForMonitor((lastChanged - MONITOR_MAX_LAG * this.window) >>> 0).then(() =>
                resolve(failures),
              );
            return true;
          }
          return false;
        },
        fail: reject,
      });
      this.cmd.send(bytes).catch((e: Error) => {
        this.cmd.forgetRange(first);
        reject(e);
      });
    });
  }

  async dump(): Promise<KernelRoute[]> {
    const out: KernelRoute[] = [];
    const ifnameOf = (i: number) => this.links.name(i);
    await this.refreshLinks();
    await this.cmd.dump(
      RTM_GETROUTE,
      (w) => w.header(12),
      (m) => {
        if (m.type !== RTM_NEWROUTE) return;
        const r = decodeRoute(m, ifnameOf);
        if (r) out.push(r);
      },
    );
    return out;
  }

  watch(handlers: RouteWatchHandlers): () => void {
    this.watchers.add(handlers);
    if (!this.monitor) {
      this.monitor = new NetlinkMonitor({
        groups: [RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
        recvBufferSize: this.opts.monitorRecvBufferSize ?? 8 << 20,
        ignorePort: this.cmd.port,
        onLost: () => {
          this.monitorSeq = -1;
          this.wakeProgress();
          for (const h of this.watchers) h.onOverrun?.();
        },
        onProgress: (seq) => {
          this.monitorSeq = seq;
          this.wakeProgress();
        },
        onMessage: (m) => this.onMonitorMessage(m),
      });
    }
    return () => {
      this.watchers.delete(handlers);
      if (this.watchers.size === 0 && this.monitor) {
        this.monitor.stop();
        this.monitor = undefined;
      }
    };
  }

  async whenWatching(): Promise<void> {
    await this.monitor?.ready();
  }

  private onMonitorMessage(m: NlMessageView): void {
    if (m.type === RTM_NEWROUTE || m.type === RTM_DELROUTE) {
      const proto = routeProtocol(m);
      let route: KernelRoute | undefined;
      for (const h of this.watchers) {
        if (!h.onRoute || (h.protocolFilter && !h.protocolFilter(proto))) continue;
        route ??= decodeRoute(m, (i) => this.links.name(i));
        if (!route) return;
        h.onRoute(route, m.type === RTM_DELROUTE);
      }
    } else if (m.type === RTM_NEWLINK || m.type === RTM_DELLINK) {
      const l = decodeLink(m);
      const deleted = m.type === RTM_DELLINK;
      if (deleted) this.links.delete(l.index);
      else this.links.set(l.index, l.name);
      const ev: LinkEvent = { ...l, deleted };
      for (const h of this.watchers) h.onLink?.(ev);
    }
  }

  /**
   * Back-pressure for the monitor: never run more than one window ahead of the notifications the
   * kernel queues for it, or its socket overruns. Resolves when the monitor has seen the echo of
   * request `seq`, or after MONITOR_WAIT_MS (an echo can be missing, e.g. a replace by an equal
   * route on some kernels).
   */
  private waitForMonitor(seq: number): Promise<void> {
    if (!this.monitor || this.monitorSeq < 0 || seqReached(this.monitorSeq, seq)) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { seq, resolve, timer: setTimeout(() => this.releaseWaiter(w), MONITOR_WAIT_MS) };
      this.progressWaiters.add(w);
    });
  }

  private releaseWaiter(w: ProgressWaiter): void {
    clearTimeout(w.timer);
    this.progressWaiters.delete(w);
    w.resolve();
  }

  private wakeProgress(): void {
    for (const w of [...this.progressWaiters]) {
      if (this.monitorSeq < 0 || seqReached(this.monitorSeq, w.seq)) this.releaseWaiter(w);
    }
  }

  async close(): Promise<void> {
    this.monitor?.stop();
    this.monitor = undefined;
    for (const w of [...this.progressWaiters]) this.releaseWaiter(w);
    this.watchers.clear();
    this.cmd.close();
  }
}

const MONITOR_WAIT_MS = 200;
const WINDOW_TARGET_MS = 5;
const MIN_WINDOW = 64;
/** Windows the monitor may trail by: 4 x 1024 echoes of ~1 KiB fit its 8 MiB buffer with room. */
const MONITOR_MAX_LAG = 4;

interface ProgressWaiter {
  seq: number;
  resolve: () => void;
  timer: NodeJS.Timeout;
}

/** True when sequence number `seen` is at or past `want` (modulo 2^32). */
function seqReached(seen: number, want: number): boolean {
  return (seen - want) >>> 0 < 0x80000000;
}

function describe(op: RouteOp, errno: number): string {
  const verb = op.op === 'delete' ? 'delete' : 'replace';
  return `${verb} ${formatRouteArgs(op.route, op.op !== 'delete')}: ${errnoName(errno)}`;
}

export { NetlinkError };
