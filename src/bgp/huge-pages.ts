// Big typed arrays on memory the kernel may back with 2 MiB pages: mmap(2), then madvise(2) with
// MADV_HUGEPAGE before anything is written, through koffi's FFI (as session/socket-options.ts
// does for setsockopt; Node has neither).
//
// Why: a full table is written into fresh typed arrays (the Loc-RIB's prefix and path records and
// its hash slots, the update groups' per-prefix state: tens of MB at 1M routes), and the kernel
// maps each 4 KiB page of them on its first write. That was ~25,000 minor faults over a 1M table,
// at ~12 µs apiece on this project's VM. With 2 MiB pages it is one fault per 2 MiB
// (docs/PERFORMANCE.md, twentieth session). The JVM's -XX:+UseTransparentHugePages asks the
// kernel the same way.
//
// Why not advise an ordinary `new Int32Array(n)`: its memory comes from malloc, which for a block
// it has had before zeroes it with memset, touching every page before the advice can be given.
// Fresh anonymous memory is zero already. The mapping is one huge page longer than asked, so that
// the array can start on a 2 MiB boundary and every 2 MiB of it can be a huge page; the slack is
// address space, never written. A FinalizationRegistry unmaps it once V8 has collected the
// ArrayBuffer (no view of it is left then).
//
// Only what the kernel allows: its THP mode must be "always" or "madvise" (Debian's default is
// "madvise"); with "never" the advice changes nothing and the memory behaves as any other. Arrays
// under HUGE_ARRAY_FROM bytes are ordinary ones. Where libc cannot be bound (not Linux, koffi
// missing its prebuilt binary) or a call fails, every array is an ordinary one.

import { createRequire } from 'node:module';

const HUGE_PAGE = 2 * 1024 * 1024;
/**
 * Arrays from this many bytes go on their own mapping. Not smaller: the Loc-RIB starts at 131,072
 * prefixes (a 2 MiB path pool), and on a mapping that pool's memory went back to the kernel with
 * the start-up warm-up's tables and was faulted in again by the first real one. A 100k table
 * then showed 4.8 MB more RSS growth and 10% more faults (docs/PERFORMANCE.md, twentieth session).
 */
export const HUGE_ARRAY_FROM = 2 * HUGE_PAGE;

// Linux x86-64 and arm64 values (<asm-generic/mman-common.h>, <bits/mman-linux.h>).
const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const MADV_HUGEPAGE = 14;
const MADV_DONTNEED = 4;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/** A pointer as koffi hands it out (an opaque external value). */
type Pointer = object;

interface Libc {
  mmap(length: number): Pointer | null;
  munmap(ptr: Pointer, length: number): void;
  madvise(start: bigint, length: bigint, advice: number): number;
  address(ptr: Pointer): bigint;
  view(ptr: Pointer, length: number): ArrayBuffer;
}

/** koffi's own typings, as far as used here (the package ships CommonJS and a .d.ts). */
interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  address(value: unknown): bigint;
  view(ptr: unknown, length: number): ArrayBuffer;
}

let libc: Libc | null | undefined;
let enabled = true;

function bind(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return libc;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const lib = koffi.load('libc.so.6');
    const mmap = lib.func(
      'void *mmap(uintptr_t addr, size_t length, int prot, int flags, int fd, intptr_t offset)',
    );
    const munmap = lib.func('int munmap(void *addr, size_t length)');
    const madvise = lib.func('int madvise(uintptr_t addr, size_t length, int advice)');
    libc = {
      mmap: (length) => mmap(0, length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0) as Pointer | null,
      munmap: (ptr, length) => {
        munmap(ptr, length);
      },
      madvise: (start, length, advice) => madvise(start, length, advice) as number,
      address: (ptr) => koffi.address(ptr),
      view: (ptr, length) => koffi.view(ptr, length),
    };
  } catch {
    libc = null;
  }
  return libc;
}

interface Mapping {
  readonly ptr: Pointer;
  readonly length: number;
}

/** Where each mapping's buffer lives, for releaseBigArray. */
const addresses = new WeakMap<ArrayBuffer, { readonly at: bigint; readonly length: number }>();

const unmapper = new FinalizationRegistry<Mapping>((m) => {
  libc?.munmap(m.ptr, m.length);
  mappedBytes -= m.length;
});

/** Bytes currently mapped here, slack included (`tsbgp show memory`, tests). */
export let mappedBytes = 0;

/** Turns the mappings off or on for arrays made from now on (tests compare both). */
export function setHugePageArrays(on: boolean): void {
  enabled = on;
}

/** A fresh mapping for `bytes`, advised, as (buffer, offset of the first 2 MiB boundary); or null. */
function mapFresh(bytes: number): { buffer: ArrayBuffer; offset: number } | null {
  if (!enabled || bytes < HUGE_ARRAY_FROM) return null;
  const c = bind();
  if (c === null) return null;
  const length = bytes + HUGE_PAGE;
  const ptr = c.mmap(length);
  if (ptr === null) return null;
  const at = c.address(ptr);
  if (at === MAP_FAILED) return null;
  const page = BigInt(HUGE_PAGE);
  const start = ((at + page - 1n) / page) * page;
  // A refused advice leaves ordinary pages: still fresh memory, still correct.
  c.madvise(start, (BigInt(bytes) / page) * page, MADV_HUGEPAGE);
  const buffer = c.view(ptr, length);
  unmapper.register(buffer, { ptr, length });
  addresses.set(buffer, { at, length });
  mappedBytes += length;
  return { buffer, offset: Number(start - at) };
}

/** new Int32Array(length), zeroed, on huge pages when it is big enough. */
export function bigInt32Array(length: number): Int32Array<ArrayBuffer> {
  const m = mapFresh(length * 4);
  return m === null ? new Int32Array(length) : new Int32Array(m.buffer, m.offset, length);
}

/** new Uint16Array(length), zeroed, on huge pages when it is big enough. */
export function bigUint16Array(length: number): Uint16Array<ArrayBuffer> {
  const m = mapFresh(length * 2);
  return m === null ? new Uint16Array(length) : new Uint16Array(m.buffer, m.offset, length);
}

/**
 * Gives the memory of a big array back to the kernel now, for an owner that has just replaced the
 * array (a grown or emptied table) and reads it no more. Without this the pages stay resident
 * until V8 collects the buffer and the FinalizationRegistry unmaps it: a full collection that an
 * idle daemon may not run for minutes, so an idle reflector that had lost a 1M table held ~50 MiB
 * of it, and a growing table's old arrays stayed resident beside the new ones while it loaded
 * (docs/PERFORMANCE.md, twenty-fourth session).
 *
 * madvise(MADV_DONTNEED) on a private anonymous mapping drops its pages; the mapping stays, and a
 * read after this finds zeros, never a fault, so a stray view is wrong but memory-safe. Ordinary
 * (small, or not mapped here) arrays are left to the collector. True when pages were released.
 */
export function releaseBigArray(array: { readonly buffer: ArrayBufferLike }): boolean {
  const m = addresses.get(array.buffer as ArrayBuffer);
  if (m === undefined || libc === null || libc === undefined) return false;
  addresses.delete(array.buffer as ArrayBuffer);
  return libc.madvise(m.at, BigInt(m.length), MADV_DONTNEED) === 0;
}
