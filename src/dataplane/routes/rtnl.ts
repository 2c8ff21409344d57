// A minimal rtnetlink client on the `netlink` package's raw socket (its N-API binding does the
// socket, uv_poll and recvmsg; everything above is here). We encode and decode the route, link and
// address messages ourselves because the package's high-level socket drops nlmsg_type on events
// (so add and delete look alike, node-libraries.md §1) and allocates an object per attribute.
//
// Layouts are from include/uapi/linux/{netlink,rtnetlink,if_link,if_addr}.h. Netlink is in host
// byte order; this module assumes a little-endian host (x86-64, arm64) and says so at start-up.
import { endianness } from 'node:os';
import { RawNetlinkSocket } from 'netlink';
import { formatIp, type IpFamily, writeIp } from './addr.ts';
import type { KernelRoute, NextHop, RouteType } from './model.ts';

if (endianness() !== 'LE') throw new Error('tsbgp rtnetlink codec supports little-endian hosts only');

export const NETLINK_ROUTE = 0;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

/** Multicast groups (enum rtnetlink_groups). */
export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;

const AF_INET = 2;
const AF_INET6 = 10;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_METRICS = 8;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTAX_MTU = 2;
const RTNH_F_ONLINK = 4;
const RTM_F_CLONED = 0x200;
const RT_TABLE_COMPAT = 252;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_NOWHERE = 255;

const RTN_UNICAST = 1;
const RTN_BLACKHOLE = 6;
const RTN_UNREACHABLE = 7;
const RTN_PROHIBIT = 8;

const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;

export const ENOENT = 2;
export const ESRCH = 3;
export const ENOBUFS = 105;
export const ENODEV = 19;
export const EEXIST = 17;
export const EOPNOTSUPP = 95;
export const EINVAL = 22;

/** errno numbers to names for messages (the common ones from route programming). */
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  12: 'ENOMEM',
  13: 'EACCES',
  16: 'EBUSY',
  17: 'EEXIST',
  19: 'ENODEV',
  22: 'EINVAL',
  34: 'ERANGE',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  101: 'ENETUNREACH',
  105: 'ENOBUFS',
  113: 'EHOSTUNREACH',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

export class NetlinkError extends Error {
  constructor(
    readonly errno: number,
    what: string,
  ) {
    super(`${what}: ${errnoName(errno)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writer: appends netlink messages to one growing buffer, attribute by attribute.

export class NlWriter {
  buf: Buffer;
  off = 0;
  private msgStart = 0;
  private nests: number[] = [];

  constructor(size = 65536) {
    this.buf = Buffer.allocUnsafe(size);
  }

  reset(): void {
    this.off = 0;
  }

  /** Makes room for `n` more bytes; the buffer may move, so call it before taking offsets. */
  reserve(n: number): void {
    this.ensure(n);
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }

  beginMessage(type: number, flags: number, seq: number): void {
    this.ensure(16);
    this.msgStart = this.off;
    const b = this.buf;
    b.writeUInt32LE(0, this.off);
    b.writeUInt16LE(type, this.off + 4);
    b.writeUInt16LE(flags, this.off + 6);
    b.writeUInt32LE(seq >>> 0, this.off + 8);
    b.writeUInt32LE(0, this.off + 12);
    this.off += 16;
  }

  endMessage(): void {
    this.buf.writeUInt32LE(this.off - this.msgStart, this.msgStart);
  }

  /** Writes `n` zero bytes (a fixed header) and returns its offset. */
  header(n: number): number {
    this.ensure(n);
    const at = this.off;
    this.buf.fill(0, at, at + n);
    this.off += n;
    return at;
  }

  u32(type: number, v: number): void {
    this.ensure(8);
    this.buf.writeUInt16LE(8, this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    this.buf.writeUInt32LE(v >>> 0, this.off + 4);
    this.off += 8;
  }

  /** An address attribute parsed straight from text; returns the family or 0 if malformed. */
  ip(type: number, text: string): 0 | IpFamily {
    this.ensure(20);
    const fam = writeIp(text, this.buf, this.off + 4);
    if (fam === 0) return 0;
    const n = fam === 4 ? 4 : 16;
    this.buf.writeUInt16LE(4 + n, this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    this.off += 4 + n;
    return fam;
  }

  str(type: number, s: string): void {
    const n = Buffer.byteLength(s) + 1;
    const padded = (4 + n + 3) & ~3;
    this.ensure(padded);
    this.buf.writeUInt16LE(4 + n, this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    this.buf.write(s, this.off + 4);
    this.buf.fill(0, this.off + 4 + n - 1, this.off + padded);
    this.off += padded;
  }

  beginNest(type: number): void {
    this.ensure(4);
    this.nests.push(this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    this.off += 4;
  }

  endNest(): void {
    const at = this.nests.pop()!;
    this.buf.writeUInt16LE(this.off - at, at);
  }

  /** A copy of the bytes written so far (the binding keeps the buffer until the send completes). */
  take(): Buffer {
    // Not Buffer.from(): small copies come from Node's shared pool, and the addon aborts the
    // process on a pooled (offset) buffer. allocUnsafeSlow gives a buffer of its own.
    const out = Buffer.allocUnsafeSlow(this.off);
    this.buf.copy(out, 0, 0, this.off);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Attribute reader.

/** Calls `fn(type, offset, length)` for each attribute in buf[start, end). */
export function forEachAttr(
  buf: Buffer,
  start: number,
  end: number,
  fn: (type: number, off: number, len: number) => void,
): void {
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    fn(buf.readUInt16LE(off + 2) & 0x3fff, off + 4, len - 4);
    off += (len + 3) & ~3;
  }
}

// ---------------------------------------------------------------------------------------------
// The socket: request/response with sequence numbers, dumps, and notifications.

export interface NlMessageView {
  type: number;
  flags: number;
  seq: number;
  buf: Buffer;
  /** Offset of the payload (after the 16-byte header) and end of the message. */
  off: number;
  end: number;
}

export interface Pending {
  /** Called for every reply message with this seq; returns true when the request is complete. */
  onMessage(m: NlMessageView): boolean;
  fail(err: Error): void;
}

export interface RtnlSocketOptions {
  /** Multicast groups to join (RTNLGRP_*); a socket with groups is a monitor. */
  groups?: readonly number[];
  /** SO_RCVBUF; the kernel caps it at net.core.rmem_max (and doubles it). */
  recvBufferSize?: number;
  /** Receives notifications (messages not answering one of our requests). */
  onNotification?: (m: NlMessageView) => void;
  /** Called when the kernel reports ENOBUFS: notifications were lost, resync everything. */
  onOverrun?: () => void;
}

export class RtnlSocket {
  readonly raw: RawNetlinkSocket;
  /** Our netlink port id (nl_pid); kernel notifications caused by our requests carry it. */
  readonly port: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, Pending>();
  /** Handlers for a block of consecutive sequence numbers (a batch of route requests). */
  private ranges: Array<{ first: number; last: number; p: Pending }> = [];
  private closed = false;

  constructor(private readonly opts: RtnlSocketOptions = {}) {
    this.raw = new RawNetlinkSocket(NETLINK_ROUTE, {
      recvBufferSize: opts.recvBufferSize ?? 8 << 20,
      sendBufferSize: 1 << 20,
    });
    this.port = this.raw.address().port;
    for (const g of opts.groups ?? []) this.raw.addMembership(g);
    // An exception escaping into the native callback aborts the process (the addon is built with
    // C++ exceptions), so nothing may be thrown from here: report it as a socket error instead.
    this.raw.on('message', (buf: Buffer) => {
      try {
        this.receive(buf);
      } catch (e) {
        this.failAll(e instanceof Error ? e : new Error(String(e)));
        process.emitWarning(`rtnetlink receive handler failed: ${e instanceof Error ? e.stack : e}`);
      }
    });
    this.raw.on('error', (err: Error & { errno?: number; code?: string }) => {
      try {
        this.onError(err);
      } catch (e) {
        process.emitWarning(`rtnetlink error handler failed: ${e instanceof Error ? e.stack : e}`);
      }
    });
    // A pure request socket keeps the process alive only while a request is outstanding; a
    // monitor always does.
    this.monitor = (opts.groups?.length ?? 0) > 0;
    if (!this.monitor) this.raw.unref();
  }

  private readonly monitor: boolean;
  private referenced = false;

  private updateRef(): void {
    if (this.monitor || this.closed) return;
    const want = this.pending.size > 0 || this.ranges.length > 0;
    if (want === this.referenced) return;
    this.referenced = want;
    if (want) this.raw.ref();
    else this.raw.unref();
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  /** Allocates `n` consecutive sequence numbers and returns the first. */
  reserveSeqs(n: number): number {
    if (this.seq + n + 1 > 0xffffffff) this.seq = 1;
    const first = this.seq + 1;
    this.seq += n;
    return first;
  }

  private onError(err: Error & { errno?: number; code?: string }): void {
    if (err.code === 'ENOBUFS' || err.errno === ENOBUFS || err.errno === -ENOBUFS) {
      // Replies to our requests may be among what was lost: fail them so callers retry.
      const lost = new NetlinkError(ENOBUFS, 'netlink receive buffer overrun');
      this.failAll(lost);
      this.opts.onOverrun?.();
      return;
    }
    this.failAll(err);
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values(), ...this.ranges.map((r) => r.p)];
    this.pending.clear();
    this.ranges = [];
    this.updateRef();
    for (const p of all) p.fail(err);
  }

  /** Registers one handler for replies with seq in [first, last]; it is removed when it says done. */
  expectRange(first: number, last: number, p: Pending): void {
    this.ranges.push({ first, last, p });
    this.updateRef();
  }

  forgetRange(first: number): void {
    this.ranges = this.ranges.filter((r) => r.first !== first);
    this.updateRef();
  }

  private receive(buf: Buffer): void {
    let off = 0;
    while (off + 16 <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < 16 || off + len > buf.length) break;
      const m: NlMessageView = {
        type: buf.readUInt16LE(off + 4),
        flags: buf.readUInt16LE(off + 6),
        seq: buf.readUInt32LE(off + 8),
        buf,
        off: off + 16,
        end: off + len,
      };
      const pid = buf.readUInt32LE(off + 12);
      const p = pid === this.port ? this.pending.get(m.seq) : undefined;
      const range =
        pid === this.port && !p ? this.ranges.find((r) => m.seq >= r.first && m.seq <= r.last) : undefined;
      if (p) {
        if (p.onMessage(m)) this.forget(m.seq);
      } else if (range) {
        if (range.p.onMessage(m)) this.forgetRange(range.first);
      } else if (this.opts.onNotification) {
        this.opts.onNotification(m);
      }
      off += (len + 3) & ~3;
    }
  }

  /** Sends bytes (one or more complete messages) without waiting. */
  send(bytes: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('netlink socket is closed'));
    return new Promise((resolve, reject) => {
      this.raw.send(bytes, {}, (err) => {
        // Settle on the next tick: a rejection handler must not run inside the native callback.
        process.nextTick(() => (err ? reject(err) : resolve()));
      });
    });
  }

  /** Registers a handler for replies carrying `seq`. */
  expect(seq: number, p: Pending): void {
    this.pending.set(seq, p);
    this.updateRef();
  }

  forget(seq: number): void {
    this.pending.delete(seq);
    this.updateRef();
  }

  /**
   * One request with NLM_F_ACK. Resolves with the reply messages (a get returns its object before
   * the ACK); rejects with NetlinkError on a negative errno.
   */
  request(type: number, flags: number, build: (w: NlWriter) => void, what: string): Promise<Buffer[]> {
    const w = new NlWriter(256);
    const seq = this.nextSeq();
    w.beginMessage(type, flags | NLM_F_REQUEST | NLM_F_ACK, seq);
    build(w);
    w.endMessage();
    return new Promise((resolve, reject) => {
      const replies: Buffer[] = [];
      this.expect(seq, {
        onMessage: (m) => {
          if (m.type === NLMSG_ERROR) {
            const errno = -m.buf.readInt32LE(m.off);
            if (errno === 0) resolve(replies);
            else reject(new NetlinkError(errno, what));
            return true;
          }
          replies.push(Buffer.from(m.buf.subarray(m.off - 16, m.end)));
          return false;
        },
        fail: reject,
      });
      this.send(w.take()).catch((e: Error) => {
        this.forget(seq);
        reject(e);
      });
    });
  }

  /**
   * A dump: calls `each` for every reply message until NLMSG_DONE. Dumps on one socket run one at
   * a time: the kernel refuses a second dump while one is in progress (netlink_dump_start returns
   * EBUSY), and the syncer, the workload watcher and IP-in-IP share the daemon's socket.
   */
  dump(type: number, header: (w: NlWriter) => void, each: (m: NlMessageView) => void): Promise<void> {
    const run = this.dumpChain.then(() => this.dumpNow(type, header, each));
    this.dumpChain = run.catch(() => undefined);
    return run;
  }

  private dumpChain: Promise<void> = Promise.resolve();

  private dumpNow(
    type: number,
    header: (w: NlWriter) => void,
    each: (m: NlMessageView) => void,
  ): Promise<void> {
    const w = new NlWriter(64);
    const seq = this.nextSeq();
    w.beginMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq);
    header(w);
    w.endMessage();
    return new Promise((resolve, reject) => {
      this.expect(seq, {
        onMessage: (m) => {
          if (m.type === NLMSG_DONE) {
            resolve();
            return true;
          }
          if (m.type === NLMSG_ERROR) {
            const errno = -m.buf.readInt32LE(m.off);
            if (errno === 0) resolve();
            else reject(new NetlinkError(errno, `dump type ${type}`));
            return true;
          }
          each(m);
          return false;
        },
        fail: reject,
      });
      this.send(w.take()).catch((e: Error) => {
        this.forget(seq);
        reject(e);
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('netlink socket closed'));
    this.raw.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Links.

export interface LinkInfo {
  index: number;
  name: string;
  mtu: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Operationally up: IFF_LOWER_UP or IF_OPER_UP. */
  operUp: boolean;
  /** IFLA_INFO_KIND (veth, ipip, ...) when the link has one. */
  kind?: string;
}

export function decodeLink(m: NlMessageView): LinkInfo {
  const b = m.buf;
  const index = b.readInt32LE(m.off + 4);
  const flags = b.readUInt32LE(m.off + 8);
  const link: LinkInfo = { index, name: '', mtu: 0, up: (flags & IFF_UP) !== 0, operUp: false };
  let operstate = 0;
  forEachAttr(b, m.off + 16, m.end, (t, o, l) => {
    if (t === IFLA_IFNAME) link.name = b.toString('utf8', o, o + l).replace(/\0.*$/, '');
    else if (t === IFLA_MTU) link.mtu = b.readUInt32LE(o);
    else if (t === IFLA_OPERSTATE) operstate = b.readUInt8(o);
    else if (t === IFLA_LINKINFO) {
      forEachAttr(b, o, o + l, (t2, o2, l2) => {
        if (t2 === IFLA_INFO_KIND) link.kind = b.toString('utf8', o2, o2 + l2).replace(/\0.*$/, '');
      });
    }
  });
  // IF_OPER_UP = 6; IF_OPER_UNKNOWN (0) with the carrier up is how lo and tunnels report.
  link.operUp = link.up && (operstate === 6 || (operstate === 0 && (flags & IFF_LOWER_UP) !== 0));
  return link;
}

export async function dumpLinks(sock: RtnlSocket): Promise<LinkInfo[]> {
  const out: LinkInfo[] = [];
  await sock.dump(
    RTM_GETLINK,
    (w) => w.header(16),
    (m) => {
      if (m.type === RTM_NEWLINK) out.push(decodeLink(m));
    },
  );
  return out;
}

/** Creates a link of `kind` (e.g. ipip); EEXIST is the caller's to judge. */
export async function createLink(sock: RtnlSocket, name: string, kind: string): Promise<void> {
  await sock.request(
    RTM_NEWLINK,
    NLM_F_CREATE | NLM_F_EXCL,
    (w) => {
      w.header(16);
      w.str(IFLA_IFNAME, name);
      w.beginNest(IFLA_LINKINFO);
      w.str(IFLA_INFO_KIND, kind);
      w.endNest();
    },
    `create ${kind} link ${name}`,
  );
}

/** Sets MTU and/or admin state of a link by index. */
export async function setLink(
  sock: RtnlSocket,
  index: number,
  change: { mtu?: number; up?: boolean },
  what: string,
): Promise<void> {
  await sock.request(
    RTM_NEWLINK,
    0,
    (w) => {
      const h = w.header(16);
      w.buf.writeInt32LE(index, h + 4);
      if (change.up !== undefined) {
        w.buf.writeUInt32LE(change.up ? IFF_UP : 0, h + 8);
        w.buf.writeUInt32LE(IFF_UP, h + 12);
      }
      if (change.mtu !== undefined) w.u32(IFLA_MTU, change.mtu);
    },
    what,
  );
}

// ---------------------------------------------------------------------------------------------
// Addresses.

export interface AddrInfo {
  index: number;
  family: IpFamily;
  address: string;
  prefixLen: number;
  /** RT_SCOPE_LINK for IPv6 link-local. */
  scope: number;
}

export function decodeAddr(m: NlMessageView): AddrInfo | undefined {
  const b = m.buf;
  const fam = b.readUInt8(m.off);
  const family: IpFamily | undefined = fam === AF_INET ? 4 : fam === AF_INET6 ? 6 : undefined;
  if (!family) return undefined;
  let address = '';
  let local = '';
  forEachAttr(b, m.off + 8, m.end, (t, o) => {
    if (t === IFA_ADDRESS) address = formatIp(family, b, o);
    else if (t === IFA_LOCAL) local = formatIp(family, b, o);
  });
  return {
    index: b.readUInt32LE(m.off + 4),
    family,
    address: local || address,
    prefixLen: b.readUInt8(m.off + 1),
    scope: b.readUInt8(m.off + 3),
  };
}

export async function dumpAddrs(sock: RtnlSocket): Promise<AddrInfo[]> {
  const out: AddrInfo[] = [];
  await sock.dump(
    RTM_GETADDR,
    (w) => w.header(8),
    (m) => {
      if (m.type !== RTM_NEWADDR) return;
      const a = decodeAddr(m);
      if (a) out.push(a);
    },
  );
  return out;
}

export async function changeAddr(
  sock: RtnlSocket,
  add: boolean,
  index: number,
  address: string,
  prefixLen: number,
): Promise<void> {
  await sock.request(
    add ? RTM_NEWADDR : RTM_DELADDR,
    add ? NLM_F_CREATE | NLM_F_REPLACE : 0,
    (w) => {
      const h = w.header(8);
      const fam = address.indexOf(':') >= 0 ? AF_INET6 : AF_INET;
      w.buf.writeUInt8(fam, h);
      w.buf.writeUInt8(prefixLen, h + 1);
      w.buf.writeUInt32LE(index, h + 4);
      w.ip(IFA_LOCAL, address);
      w.ip(IFA_ADDRESS, address);
    },
    `${add ? 'add' : 'delete'} address ${address}/${prefixLen}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Routes.

const TYPE_CODES: Record<RouteType, number> = {
  unicast: RTN_UNICAST,
  blackhole: RTN_BLACKHOLE,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
};

/** Resolves an interface name to its index; 0 when unknown. */
export type IfindexOf = (name: string) => number;
export type IfnameOf = (index: number) => string;

/**
 * Appends an RTM_NEWROUTE (replace) or RTM_DELROUTE for `r`. Returns an errno (ENODEV for an
 * unknown interface, EINVAL for a malformed address) instead of writing when it cannot encode.
 */
export function encodeRoute(
  w: NlWriter,
  del: boolean,
  r: KernelRoute,
  flags: number,
  seq: number,
  ifindexOf: IfindexOf,
): number {
  // Reserve the worst case up front so the buffer cannot move while the header is filled in.
  w.reserve(96 + 32 * r.nextHops.length);
  const start = w.off;
  w.beginMessage(del ? RTM_DELROUTE : RTM_NEWROUTE, flags | (del ? 0 : NLM_F_CREATE | NLM_F_REPLACE), seq);
  const h = w.header(12);
  const b = w.buf;
  const slash = r.dst.indexOf('/');
  const dstLen = Number(r.dst.slice(slash + 1));
  const family = w.ip(RTA_DST, r.dst.slice(0, slash));
  if (family === 0) {
    w.off = start;
    return EINVAL;
  }
  b.writeUInt8(family === 4 ? AF_INET : AF_INET6, h);
  b.writeUInt8(dstLen, h + 1);
  b.writeUInt8(r.table < 256 ? r.table : RT_TABLE_COMPAT, h + 4);
  b.writeUInt8(r.protocol, h + 5);
  w.u32(RTA_TABLE, r.table);
  w.u32(RTA_PRIORITY, r.metric);
  if (del) {
    // Match every scope and type; the protocol and priority in the request pin the route down.
    b.writeUInt8(RT_SCOPE_NOWHERE, h + 6);
    w.endMessage();
    return 0;
  }
  b.writeUInt8(TYPE_CODES[r.type], h + 7);
  if (r.mtu) {
    w.beginNest(RTA_METRICS);
    w.u32(RTAX_MTU, r.mtu);
    w.endNest();
  }
  if (r.type === 'unicast' && r.nextHops.length === 1) {
    const nh = r.nextHops[0]!;
    if (nh.gateway && w.ip(RTA_GATEWAY, nh.gateway) !== family) {
      w.off = start;
      return EINVAL;
    }
    if (nh.dev) {
      const ifindex = ifindexOf(nh.dev);
      if (!ifindex) {
        w.off = start;
        return ENODEV;
      }
      w.u32(RTA_OIF, ifindex);
    }
    // A dev-only route is link scope, as `ip route add X dev Y` makes it.
    b.writeUInt8(nh.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK, h + 6);
    if (nh.onlink) b.writeUInt32LE(RTNH_F_ONLINK, h + 8);
  } else if (r.type === 'unicast') {
    w.beginNest(RTA_MULTIPATH);
    for (const nh of r.nextHops) {
      const at = w.header(8);
      if (nh.gateway && w.ip(RTA_GATEWAY, nh.gateway) !== family) {
        w.off = start;
        return EINVAL;
      }
      let ifindex = 0;
      if (nh.dev) {
        ifindex = ifindexOf(nh.dev);
        if (!ifindex) {
          w.off = start;
          return ENODEV;
        }
      }
      b.writeUInt16LE(w.off - at, at);
      b.writeUInt8(nh.onlink ? RTNH_F_ONLINK : 0, at + 2);
      b.writeUInt8((nh.weight ?? 1) - 1, at + 3);
      b.writeInt32LE(ifindex, at + 4);
    }
    w.endNest();
  }
  w.endMessage();
  return 0;
}

/** Header fields of a route message, read without decoding attributes (for cheap filtering). */
export function routeProtocol(m: NlMessageView): number {
  return m.buf.readUInt8(m.off + 5);
}

/**
 * Decodes a route message. Returns undefined for kinds we never manage (local, broadcast,
 * multicast, cloned cache entries, other families).
 */
export function decodeRoute(m: NlMessageView, ifnameOf: IfnameOf): KernelRoute | undefined {
  const b = m.buf;
  const fam = b.readUInt8(m.off);
  if (fam !== AF_INET && fam !== AF_INET6) return undefined;
  const family: IpFamily = fam === AF_INET ? 4 : 6;
  const dstLen = b.readUInt8(m.off + 1);
  const rtype = b.readUInt8(m.off + 7);
  const rflags = b.readUInt32LE(m.off + 8);
  if (rflags & RTM_F_CLONED) return undefined;
  let type: RouteType;
  if (rtype === RTN_UNICAST) type = 'unicast';
  else if (rtype === RTN_BLACKHOLE) type = 'blackhole';
  else if (rtype === RTN_UNREACHABLE) type = 'unreachable';
  else if (rtype === RTN_PROHIBIT) type = 'prohibit';
  else return undefined;
  let table = b.readUInt8(m.off + 4);
  let metric = 0;
  let mtu = 0;
  let dst = family === 4 ? '0.0.0.0' : '::';
  let gateway: string | undefined;
  let oif = 0;
  let multipath: NextHop[] | undefined;
  forEachAttr(b, m.off + 12, m.end, (t, o, l) => {
    switch (t) {
      case RTA_DST:
        dst = formatIp(family, b, o);
        break;
      case RTA_TABLE:
        table = b.readUInt32LE(o);
        break;
      case RTA_PRIORITY:
        metric = b.readUInt32LE(o);
        break;
      case RTA_GATEWAY:
        gateway = formatIp(family, b, o);
        break;
      case RTA_OIF:
        oif = b.readUInt32LE(o);
        break;
      case RTA_METRICS:
        forEachAttr(b, o, o + l, (t2, o2) => {
          if (t2 === RTAX_MTU) mtu = b.readUInt32LE(o2);
        });
        break;
      case RTA_MULTIPATH: {
        multipath = [];
        let p = o;
        while (p + 8 <= o + l) {
          const len = b.readUInt16LE(p);
          if (len < 8) break;
          const nh: NextHop = { weight: b.readUInt8(p + 3) + 1 };
          if (b.readUInt8(p + 2) & RTNH_F_ONLINK) nh.onlink = true;
          const idx = b.readInt32LE(p + 4);
          forEachAttr(b, p + 8, p + len, (t2, o2) => {
            if (t2 === RTA_GATEWAY) nh.gateway = formatIp(family, b, o2);
          });
          if (idx) nh.dev = ifnameOf(idx);
          multipath.push(nh);
          p += (len + 3) & ~3;
        }
        break;
      }
    }
  });
  const route: KernelRoute = {
    dst: `${dst}/${dstLen}`,
    table,
    protocol: b.readUInt8(m.off + 5),
    metric,
    type,
    nextHops: [],
  };
  if (mtu) route.mtu = mtu;
  if (type === 'unicast') {
    if (multipath && multipath.length > 0) {
      route.nextHops = multipath;
      if (multipath.length === 1) multipath[0]!.weight = 1;
    } else {
      const nh: NextHop = { weight: 1 };
      if (gateway) nh.gateway = gateway;
      if (oif) nh.dev = ifnameOf(oif);
      if (rflags & RTNH_F_ONLINK) nh.onlink = true;
      route.nextHops.push(nh);
    }
  }
  return route;
}

/** Kernel route lookup (`ip route get ADDR`): the output interface index, or undefined. */
export async function routeGetOif(sock: RtnlSocket, address: string): Promise<number | undefined> {
  const replies = await sock.request(
    RTM_GETROUTE,
    0,
    (w) => {
      w.reserve(64);
      const h = w.header(12);
      const fam = w.ip(RTA_DST, address);
      if (fam === 0) throw new Error(`"${address}" is not an IP address`);
      w.buf.writeUInt8(fam === 4 ? AF_INET : AF_INET6, h);
      w.buf.writeUInt8(fam === 4 ? 32 : 128, h + 1);
    },
    `route lookup for ${address}`,
  );
  for (const r of replies) {
    if (r.readUInt16LE(4) !== RTM_NEWROUTE) continue;
    let oif: number | undefined;
    forEachAttr(r, 16 + 12, r.length, (t, o) => {
      if (t === RTA_OIF) oif = r.readUInt32LE(o);
    });
    return oif;
  }
  return undefined;
}
