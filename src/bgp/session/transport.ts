// The one place where BGP's TCP sockets are created (RFC 4271 §8.2.1.2: port 179). Outgoing
// connections and listening sockets both come from a SocketFactory so that per-socket options
// (TCP_NODELAY and the receive buffer today; TCP-MD5 / RFC 2385 and GTSM / RFC 5082 through the
// same FFI later, socket-options.ts) are set in one module, and tests can substitute their own.

import { createConnection, createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import { formatIPv6Bytes, parseIPv6Bytes } from '../codec/index.ts';
import { setReceiveBuffer, socketFd } from './socket-options.ts';

export interface ConnectOptions {
  remoteAddress: string;
  remotePort: number;
  localAddress?: string | undefined;
  /** Source port; normally left to the kernel. */
  localPort?: number | undefined;
}

export interface ListenOptions {
  address: string;
  port: number;
  /** For '::' beside a '0.0.0.0' listener: take IPv6 only, leave IPv4 to the other socket. */
  ipv6Only?: boolean | undefined;
}

export interface SocketFactory {
  /** Starts an outgoing connection; 'connect' or 'error' follows on the socket. */
  connect(opts: ConnectOptions): Socket;
  /** A listening server; `onConnection` receives every accepted socket. */
  listen(opts: ListenOptions, onConnection: (socket: Socket) => void): Promise<Server>;
}

/** BGP messages are small and latency matters for keepalives: no Nagle (OpenBGPD sets TCP_NODELAY too). */
export function configureSocket(socket: Socket): void {
  socket.setNoDelay(true);
}

/**
 * SO_RCVBUF of every BGP socket, in bytes (the kernel reports twice this). BIRD 2's sessions run
 * with the same 128 KiB the kernel shows (`ss -tm`: rb131072), and OpenBGPD sets SO_RCVBUF too.
 *
 * Why a fixed, small buffer: with autotuning the kernel grew a busy session's buffer to ~3 MB
 * (`ss -tm` during the convergence benchmark), so a sender never met back-pressure and flushed
 * its per-attribute buckets (BIRD's, FRR's update groups) as fast as it filled them, one or two
 * prefixes per UPDATE. With the buffer bounded, a sender that is ahead waits and packs: the BIRD
 * injector of the 1M benchmark sent tsbgp 0.40–0.95M UPDATEs with autotuning, and 47k–368k
 * (median 72k) with this and the smaller input queue; BIRD 2 got 60k–133k (docs/PERFORMANCE.md). Together with the Peer's input
 * queue bound (QUEUE_HIGH) it is the whole receive-side buffering of a session. On a data centre's
 * sub-millisecond RTT 128 KiB does not limit throughput (≥ 1 GB/s at 0.1 ms).
 */
export const RECEIVE_BUFFER = 64 * 1024;

export interface SocketFactoryOptions {
  /** SO_RCVBUF in bytes; 0 leaves the kernel's autotuning on. Default RECEIVE_BUFFER. */
  receiveBuffer?: number;
  /** Told once why a socket option could not be set (the session runs with kernel defaults). */
  onOptionError?: (reason: string) => void;
}

/** A SocketFactory over node:net that sets TCP_NODELAY and SO_RCVBUF on every socket. */
export function createSocketFactory(options: SocketFactoryOptions = {}): SocketFactory {
  const receiveBuffer = options.receiveBuffer ?? RECEIVE_BUFFER;
  let reported = false;
  const apply = (fd: number | null): void => {
    if (receiveBuffer <= 0 || fd === null) return;
    const error = setReceiveBuffer(fd, receiveBuffer);
    if (error === null || reported) return;
    reported = true;
    options.onOptionError?.(error);
  };
  return {
    connect(opts) {
      const socket = plainFactory.connect(opts);
      // libuv creates the descriptor inside connect (on the next tick), so the option is set once
      // connected: it stops autotuning before the peer's first UPDATE can arrive.
      socket.once('connect', () => apply(socketFd(socket)));
      return socket;
    },
    async listen(opts, onConnection) {
      const server = await plainFactory.listen(opts, onConnection);
      // Accepted sockets inherit the listener's SO_RCVBUF (and its lock against autotuning).
      apply(socketFd(server));
      return server;
    },
  };
}

/** node:net with TCP_NODELAY only: the kernel's buffer autotuning stays on. */
const plainFactory: SocketFactory = {
  connect(opts) {
    const family = isIPv6(opts.remoteAddress) ? 6 : 4;
    const socket = createConnection({
      host: opts.remoteAddress,
      port: opts.remotePort,
      family,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.localPort ? { localPort: opts.localPort } : {}),
      noDelay: true,
    });
    configureSocket(socket);
    return socket;
  },

  listen(opts, onConnection) {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
        configureSocket(socket);
        onConnection(socket);
      });
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      // An IPv6 wildcard accepts IPv4 too unless another listener takes IPv4; IPv4-mapped peers
      // are normalised by normalizeAddress.
      server.listen(
        {
          host: opts.address,
          port: opts.port,
          exclusive: true,
          backlog: 64,
          ipv6Only: opts.ipv6Only ?? false,
        },
        () => {
          server.off('error', onError);
          resolve(server);
        },
      );
    });
  },
};

export const defaultSocketFactory: SocketFactory = createSocketFactory();

/** '::ffff:192.0.2.1' -> '192.0.2.1'; IPv6 text is lower-cased; anything else unchanged. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  if (isIPv6(lower)) {
    // RFC 5952 canonical text, so that configured and socket addresses compare equal.
    const bytes = parseIPv6Bytes(lower);
    if (bytes) return formatIPv6Bytes(bytes);
  }
  return lower;
}

/** Parses 'ADDR/LEN' into bytes for range matching; null when malformed. */
export interface AddressRange {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly text: string;
}

export function addressToBytes(address: string): Uint8Array | null {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!isIPv6(address)) return null;
  let head = address;
  let tail: number[] = [];
  const lastColon = address.lastIndexOf(':');
  if (address.indexOf('.', lastColon) > lastColon) {
    const v4 = address
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    head = address.slice(0, lastColon + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parts = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const dbl = head.indexOf('::');
  let groups: number[];
  if (dbl >= 0) {
    const left = parts(head.slice(0, dbl));
    const right = parts(head.slice(dbl + 2));
    groups = [
      ...left,
      ...new Array<number>(8 - left.length - right.length - tail.length).fill(0),
      ...right,
      ...tail,
    ];
  } else {
    groups = [...parts(head), ...tail];
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

export function parseRange(text: string): AddressRange | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const bytes = addressToBytes(text.slice(0, slash));
  const length = Number(text.slice(slash + 1));
  if (!bytes || !Number.isInteger(length) || length < 0 || length > bytes.length * 8) return null;
  return { family: bytes.length === 4 ? 4 : 6, bytes, length, text };
}

/** Whether `address` lies inside `range` (listen ranges for dynamic neighbours). */
export function rangeContains(range: AddressRange, address: string): boolean {
  const a = addressToBytes(address);
  if (!a || a.length !== range.bytes.length) return false;
  let bits = range.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

/** IPv4 dotted quad -> uint32 (router ids); null when not IPv4. */
export function ipv4ToUint32(address: string): number | null {
  if (!isIPv4(address)) return null;
  const p = address.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function uint32ToIPv4(id: number): string {
  return `${id >>> 24}.${(id >>> 16) & 0xff}.${(id >>> 8) & 0xff}.${id & 0xff}`;
}
