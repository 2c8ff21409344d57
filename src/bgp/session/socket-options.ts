// Socket options that Node's net module does not expose (it has no setsockopt: nodejs/node#49418),
// set through koffi's FFI on libc's setsockopt(2)/getsockopt(2). This is the module where
// TCP-MD5 (RFC 2385) and GTSM's IP_MINTTL (RFC 5082) belong when they come; today it holds the
// receive buffer size.
//
// libc is bound on first use. Where it cannot be (not Linux, koffi missing its prebuilt binary)
// every call reports that instead of throwing at import time, and the caller runs with the
// kernel's defaults.

import { createRequire } from 'node:module';
import type { Server, Socket } from 'node:net';

/** Linux <asm-generic/socket.h>; the values are the same on x86-64 and arm64. */
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;

interface Libc {
  setsockopt(fd: number, level: number, name: number, value: number[], length: number): number;
  getsockopt(fd: number, level: number, name: number, value: number[], length: number[]): number;
  errno(): number;
}

let libc: Libc | string | null = null;

/** koffi's own typings, as far as used here (the package ships CommonJS and a .d.ts). */
interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  errno(): number;
}

function bind(): Libc | string {
  if (libc !== null) return libc;
  if (process.platform !== 'linux') {
    libc = `socket options need Linux (this is ${process.platform})`;
    return libc;
  }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const lib = koffi.load('libc.so.6');
    const set = lib.func('int setsockopt(int, int, int, _In_ int *, uint32)');
    const get = lib.func('int getsockopt(int, int, int, _Out_ int *, _Inout_ uint32 *)');
    libc = {
      setsockopt: (fd, level, name, value, length) => set(fd, level, name, value, length) as number,
      getsockopt: (fd, level, name, value, length) => get(fd, level, name, value, length) as number,
      errno: () => koffi.errno(),
    };
  } catch (e) {
    libc = `cannot bind libc's setsockopt through koffi: ${(e as Error).message}`;
  }
  return libc;
}

/** The file descriptor behind a connected or listening socket, once libuv has created it. */
export function socketFd(socket: Socket | Server): number | null {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/**
 * Sets SO_RCVBUF, which also turns off the kernel's receive-buffer autotuning for the socket
 * (socket(7)); the kernel doubles the value for its bookkeeping. Returns null, or why not.
 */
export function setReceiveBuffer(fd: number, bytes: number): string | null {
  const c = bind();
  if (typeof c === 'string') return c;
  if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, [bytes], 4) !== 0)
    return `setsockopt(SO_RCVBUF, ${bytes}) failed: errno ${c.errno()}`;
  return null;
}

/** SO_RCVBUF as the kernel reports it (twice what was set), or a reason. */
export function receiveBufferOf(fd: number): number | string {
  const c = bind();
  if (typeof c === 'string') return c;
  const value = [0];
  if (c.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, value, [4]) !== 0)
    return `getsockopt(SO_RCVBUF) failed: errno ${c.errno()}`;
  return value[0]!;
}
