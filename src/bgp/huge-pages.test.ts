// Big typed arrays on their own huge-page mappings, checked against the real kernel: zeroed,
// aligned, backed by huge pages where the kernel's THP mode allows it, and unmapped once V8
// collects them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  bigInt32Array,
  bigUint16Array,
  HUGE_ARRAY_FROM,
  mappedBytes,
  releaseBigArray,
  setHugePageArrays,
} from './huge-pages.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** The kernel's THP mode: "always", "madvise" or "never" (null where it cannot be read). */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** The process's resident anonymous memory, KiB. */
function anonKiB(): number {
  const m = /Anonymous:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m ? Number(m[1]) : 0;
}

function anonHugeKiB(): number {
  const m = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('huge-page arrays', () => {
  test('a big array is zeroed, writable, on its own mapping, and starts on a 2 MiB boundary', () => {
    const before = mappedBytes;
    const n = (8 * 1024 * 1024) / 4;
    const a = bigInt32Array(n);
    assert.equal(a.length, n);
    assert.equal(
      mappedBytes - before,
      a.byteLength + 2 * 1024 * 1024,
      'mapped: the array and one huge page of slack',
    );
    for (let i = 0; i < n; i += 997) assert.equal(a[i], 0);
    a.fill(-7);
    assert.equal(a[0], -7);
    assert.equal(a[n - 1], -7);
    // The mapping starts on a page; the array at the first 2 MiB boundary inside it.
    assert.equal(a.byteOffset % 4096, 0);
    assert.ok(a.byteOffset < 2 * 1024 * 1024 + 1);
    const u = bigUint16Array(HUGE_ARRAY_FROM / 2);
    u[u.length - 1] = 65535;
    assert.equal(u[u.length - 1], 65535);
  });

  test('where the kernel allows THP, writing the array faults in huge pages', (t) => {
    const mode = thpMode();
    if (mode !== 'always' && mode !== 'madvise') {
      t.skip(`THP mode is ${mode}`);
      return;
    }
    const before = anonHugeKiB();
    const a = bigInt32Array((16 * 1024 * 1024) / 4);
    a.fill(1);
    const grown = anonHugeKiB() - before;
    // 16 MiB from a 2 MiB boundary: eight huge pages, unless the kernel had none free at once.
    assert.ok(grown >= 8 * 1024, `AnonHugePages grew by ${grown} KiB`);
    assert.equal(a[a.length - 1], 1);
  });

  test('small arrays, and every array while turned off, are ordinary ones', () => {
    const before = mappedBytes;
    const small = bigInt32Array(HUGE_ARRAY_FROM / 4 - 1);
    assert.equal(small.byteOffset, 0);
    assert.equal(mappedBytes, before);
    setHugePageArrays(false);
    try {
      const big = bigInt32Array((8 * 1024 * 1024) / 4);
      assert.equal(big.byteOffset, 0);
      assert.equal(big.length, (8 * 1024 * 1024) / 4);
      assert.equal(mappedBytes, before);
    } finally {
      setHugePageArrays(true);
    }
  });

  test('a collected array is unmapped', async () => {
    const make = () => {
      const a = bigInt32Array((4 * 1024 * 1024) / 4);
      a[0] = 1;
      return mappedBytes;
    };
    const withIt = make();
    for (let i = 0; i < 50 && mappedBytes >= withIt; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(mappedBytes < withIt, `mapped ${mappedBytes} B, ${withIt} B with the array`);
  });

  test('a released array gives its pages back at once, before any collection, and reads zeros', () => {
    const n = (32 * 1024 * 1024) / 4;
    const a = bigInt32Array(n);
    a.fill(3);
    const written = anonKiB();
    assert.equal(releaseBigArray(a), true);
    const after = anonKiB();
    // 32 MiB written, then dropped: the process's anonymous memory falls by (nearly) all of it,
    // while `a` is still referenced here, so no collection can have done it.
    assert.ok(
      written - after >= 30 * 1024,
      `anonymous memory ${written} KiB after writing, ${after} KiB after the release`,
    );
    assert.equal(a[0], 0);
    assert.equal(a[n - 1], 0);
    // Once only; an ordinary array is the collector's.
    assert.equal(releaseBigArray(a), false);
    assert.equal(releaseBigArray(new Int32Array(16)), false);
  });
});
