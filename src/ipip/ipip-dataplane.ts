// The IP-in-IP dataplane: the tunl0 device, the detected MTU, and the route form for learned
// routes. Modelled on Felix's ipipManager/routeManager (calico-dataplane.md §1.1, §2):
// - tunl0 is ensured over netlink: it exists (created as kind ipip if missing), its MTU is the
//   tunnel MTU, it holds exactly one IPv4 address, the configured /32 (IPv6 link-local kept), and it
//   is up. Reconciled every 10 s and on every link or address event touching it.
// - A kernel without ipip (EOPNOTSUPP on create) is a clear, logged, reported error; the daemon
//   keeps running and retries (someone may `modprobe ipip`).
// - The MTU is re-detected on link events (MTU change, interface up/down) rather than Felix's 30 s
//   poll; a change updates tunl0, rewrites the MTU file, and is reported to onMtuChange so the
//   routes through tunl0 are re-rendered with the new route MTU.
import { canonicalIp } from '../dataplane/routes/addr.ts';
import type { DataplaneLogger, KernelRoutes } from '../dataplane/routes/kernel-routes.ts';
import { silentLogger } from '../dataplane/routes/kernel-routes.ts';
import { NetlinkMonitor } from '../dataplane/routes/netlink-monitor.ts';
import {
  type AddrInfo,
  changeAddr,
  createLink,
  dumpAddrs,
  dumpLinks,
  EEXIST,
  EOPNOTSUPP,
  type LinkInfo,
  NetlinkError,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_LINK,
  RtnlSocket,
  routeGetOif,
  setLink,
} from '../dataplane/routes/rtnl.ts';
import { decideMtu, type MtuReport, writeMtuFile } from './mtu.ts';
import {
  type HostUnderlay,
  type IpPool,
  type LearnedRouteDecision,
  poolsUseIpip,
  routeForLearnedPrefix,
  TUNNEL_DEVICE,
  validatePools,
} from './route-form.ts';

export class IpipUnavailableError extends Error {
  constructor() {
    super(
      'this kernel has no IP-in-IP support: creating tunl0 (kind ipip) failed with EOPNOTSUPP. ' +
        'Load the module (`modprobe ipip`, CONFIG_NET_IPIP) or set every pool to ipipMode: Never',
    );
  }
}

export interface IpipDataplaneOptions {
  pools: readonly IpPool[];
  /** The /32 address for tunl0 (Calico's IPv4IPIPTunnelAddr); none = no address. */
  tunnelAddress?: string;
  /** Our BGP source address: the interface holding it is the MTU and CrossSubnet interface. */
  peeringAddress?: string;
  /** Peer addresses: when peeringAddress is not set, the route to the first one decides. */
  peers?: readonly string[];
  /** Regular expression for the MTU fallback scan (default Felix's). */
  mtuIfacePattern?: string;
  /** Tunnel MTU from the config, used outright. */
  tunnelMtu?: number;
  /** Where to write the workload MTU for CNI (e.g. /var/lib/calico/mtu); none = not written. */
  mtuFilePath?: string;
  /** tunl0 reconcile period (default 10 000 ms, Felix's). */
  reconcileIntervalMs?: number;
  onMtuChange?(report: MtuReport): void;
  /**
   * Share the route executor's event subscription for link events instead of starting a monitor
   * of our own (one netlink monitor process per daemon). Address changes on tunl0 are then caught
   * by the periodic reconcile.
   */
  events?: KernelRoutes;
  logger?: DataplaneLogger;
}

export interface TunnelStatus {
  ok: boolean;
  error?: string;
  ifindex?: number;
  mtu?: number;
  up?: boolean;
  addresses?: string[];
}

export class IpipDataplane {
  private readonly sock = new RtnlSocket();
  private readonly pools: IpPool[];
  private readonly log: DataplaneLogger;
  private readonly tunnelAddress: string | undefined;
  private report: MtuReport | undefined;
  private underlayInfo: HostUnderlay = { ifname: '', subnets: [] };
  private tunnel: TunnelStatus = { ok: false, error: 'not yet reconciled' };
  private monitor: NetlinkMonitor | undefined;
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private eventTimer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> = Promise.resolve();
  private lastMtuFileValue: number | undefined;

  constructor(private readonly opts: IpipDataplaneOptions) {
    this.pools = validatePools(opts.pools);
    this.log = opts.logger ?? silentLogger;
    this.tunnelAddress = opts.tunnelAddress ? canonicalIp(opts.tunnelAddress) : undefined;
    if (this.tunnelAddress?.includes(':'))
      throw new Error(`tunnel address ${this.tunnelAddress} must be IPv4`);
  }

  /** Whether tunl0 is needed at all (some pool encapsulates). */
  get enabled(): boolean {
    return poolsUseIpip(this.pools);
  }

  /** Detects the MTU, ensures tunl0, writes the MTU file; then keeps them in line. */
  async start(): Promise<void> {
    this.running = true;
    if (this.opts.events) {
      this.unwatch = this.opts.events.watch({
        onLink: () => this.scheduleReconcile(),
        onOverrun: () => this.scheduleReconcile(),
      });
      await this.opts.events.whenWatching();
    } else {
      this.monitor = new NetlinkMonitor({
        groups: [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR],
        onMessage: () => this.scheduleReconcile(),
        onLost: () => this.scheduleReconcile(),
      });
      await this.monitor.ready();
    }
    await this.reconcile();
    this.timer = setInterval(() => this.scheduleReconcile(0), this.opts.reconcileIntervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    if (this.eventTimer) clearTimeout(this.eventTimer);
    this.monitor?.stop();
    this.unwatch?.();
    this.sock.close();
  }

  /** The MTU decision for `tsbgp show mtu` (value, interface, reason). */
  mtuReport(): MtuReport | undefined {
    return this.report;
  }

  tunnelStatus(): TunnelStatus {
    return this.tunnel;
  }

  underlay(): HostUnderlay {
    return this.underlayInfo;
  }

  /** The kernel route for a prefix learned from a peer host (feed it to RouteSyncer.setRoute). */
  routeFor(prefix: string, nextHop: string): LearnedRouteDecision {
    return routeForLearnedPrefix({
      prefix,
      nextHop,
      pools: this.pools,
      underlay: this.underlayInfo,
      tunnelMtu: this.report?.tunnelMtu ?? 1440,
    });
  }

  /** One reconcile pass (serialized). */
  reconcile(): Promise<void> {
    const run = this.busy.then(() => this.reconcileNow());
    this.busy = run.catch((e: Error) => this.log.error({ err: e.message }, 'IP-in-IP reconcile failed'));
    return run;
  }

  private scheduleReconcile(delayMs = 200): void {
    if (!this.running) return;
    if (delayMs === 0) {
      void this.reconcile().catch(() => {});
      return;
    }
    if (this.eventTimer) return;
    this.eventTimer = setTimeout(() => {
      this.eventTimer = undefined;
      void this.reconcile().catch(() => {});
    }, delayMs);
    this.eventTimer.unref();
  }

  private async reconcileNow(): Promise<void> {
    const links = await dumpLinks(this.sock);
    const addrs = await dumpAddrs(this.sock);
    await this.detectMtu(links, addrs);
    if (!this.enabled) {
      this.tunnel = { ok: true };
      return;
    }
    try {
      this.tunnel = await this.ensureTunnel(links, addrs);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (this.tunnel.error !== msg) this.log.error({ device: TUNNEL_DEVICE }, msg);
      this.tunnel = { ok: false, error: msg };
      if (e instanceof IpipUnavailableError) return;
      throw e;
    }
  }

  /** Detects the MTU now (without touching tunl0) and returns the report. */
  async detect(): Promise<MtuReport> {
    await this.detectMtu(await dumpLinks(this.sock), await dumpAddrs(this.sock));
    return this.report!;
  }

  private async detectMtu(links: LinkInfo[], addrs: AddrInfo[]): Promise<void> {
    let peeringInterface: LinkInfo | undefined;
    let peeringReason: string | undefined;
    if (this.opts.peeringAddress) {
      const want = canonicalIp(this.opts.peeringAddress);
      const a = addrs.find((x) => x.address === want);
      peeringInterface = a ? links.find((l) => l.index === a.index) : undefined;
      peeringReason = `holds ${want}`;
    }
    if (!peeringInterface) {
      for (const peer of this.opts.peers ?? []) {
        const oif = await routeGetOif(this.sock, peer).catch(() => undefined);
        const l = oif ? links.find((x) => x.index === oif) : undefined;
        if (l && l.name !== TUNNEL_DEVICE && l.name !== 'lo') {
          peeringInterface = l;
          peeringReason = `route to peer ${peer}`;
          break;
        }
      }
    }
    if (peeringInterface) {
      this.underlayInfo = {
        ifname: peeringInterface.name,
        subnets: addrs
          .filter((a) => a.index === peeringInterface.index && a.family === 4)
          .map((a) => `${a.address}/${a.prefixLen}`),
      };
    }
    const inputs: Parameters<typeof decideMtu>[0] = {
      links: links.map((l) => ({ name: l.name, mtu: l.mtu, operUp: l.operUp })),
      encapsulation: this.enabled,
    };
    if (peeringInterface) inputs.peeringInterface = peeringInterface.name;
    if (peeringReason) inputs.peeringReason = peeringReason;
    if (this.opts.mtuIfacePattern) inputs.ifacePattern = this.opts.mtuIfacePattern;
    if (this.opts.tunnelMtu !== undefined) inputs.tunnelMtuOverride = this.opts.tunnelMtu;
    const report = decideMtu(inputs);
    const prev = this.report;
    this.report = report;
    if (!prev || prev.tunnelMtu !== report.tunnelMtu || prev.hostMtu !== report.hostMtu) {
      this.log.info({ ...report }, prev ? 'MTU changed' : 'MTU detected');
      if (prev) this.opts.onMtuChange?.(report);
    }
    if (this.opts.mtuFilePath && this.lastMtuFileValue !== report.workloadMtu) {
      writeMtuFile(this.opts.mtuFilePath, report.workloadMtu);
      this.lastMtuFileValue = report.workloadMtu;
    }
  }

  private async ensureTunnel(links: LinkInfo[], addrs: AddrInfo[]): Promise<TunnelStatus> {
    let tunl = links.find((l) => l.name === TUNNEL_DEVICE);
    if (!tunl) {
      try {
        await createLink(this.sock, TUNNEL_DEVICE, 'ipip');
        this.log.info({ device: TUNNEL_DEVICE }, 'created tunnel device');
      } catch (e) {
        if (e instanceof NetlinkError && e.errno === EOPNOTSUPP) throw new IpipUnavailableError();
        // EEXIST: loading the module made it meanwhile (the kernel's fallback device).
        if (!(e instanceof NetlinkError && e.errno === EEXIST)) throw e;
      }
      tunl = (await dumpLinks(this.sock)).find((l) => l.name === TUNNEL_DEVICE);
      if (!tunl) throw new Error(`${TUNNEL_DEVICE} is missing right after it was created`);
      addrs = await dumpAddrs(this.sock);
    }
    if (tunl.kind && tunl.kind !== 'ipip') {
      throw new Error(`${TUNNEL_DEVICE} exists but is of kind ${tunl.kind}, not ipip; remove it`);
    }
    const mtu = this.report!.tunnelMtu;
    if (tunl.mtu !== mtu) {
      await setLink(this.sock, tunl.index, { mtu }, `set ${TUNNEL_DEVICE} mtu ${mtu}`);
      this.log.info({ device: TUNNEL_DEVICE, from: tunl.mtu, to: mtu }, 'set tunnel MTU');
    }
    // Exactly one IPv4 address, the configured /32; IPv6 link-local is left alone.
    const mine = addrs.filter((a) => a.index === tunl.index && a.family === 4);
    let haveWanted = false;
    for (const a of mine) {
      if (this.tunnelAddress && a.address === this.tunnelAddress && a.prefixLen === 32) {
        haveWanted = true;
        continue;
      }
      await changeAddr(this.sock, false, tunl.index, a.address, a.prefixLen);
      this.log.info(
        { device: TUNNEL_DEVICE, address: `${a.address}/${a.prefixLen}` },
        'removed stray tunnel address',
      );
    }
    if (this.tunnelAddress && !haveWanted) {
      await changeAddr(this.sock, true, tunl.index, this.tunnelAddress, 32);
      this.log.info({ device: TUNNEL_DEVICE, address: `${this.tunnelAddress}/32` }, 'set tunnel address');
    }
    if (!tunl.up) {
      await setLink(this.sock, tunl.index, { up: true }, `set ${TUNNEL_DEVICE} up`);
      this.log.info({ device: TUNNEL_DEVICE }, 'set tunnel device up');
    }
    return {
      ok: true,
      ifindex: tunl.index,
      mtu,
      up: true,
      addresses: this.tunnelAddress ? [`${this.tunnelAddress}/32`] : [],
    };
  }
}

/** One-shot MTU detection (for `tsbgp show mtu` when no daemon state is at hand). */
export async function detectMtuOnce(
  opts: Omit<IpipDataplaneOptions, 'onMtuChange' | 'mtuFilePath'>,
): Promise<MtuReport> {
  const d = new IpipDataplane(opts);
  try {
    return await d.detect();
  } finally {
    d.stop();
  }
}
