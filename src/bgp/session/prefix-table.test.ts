import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PrefixTable } from './prefix-table.ts';

function key4(addr: number, len: number, pathId: number): string {
  return `${addr}/${len}#${pathId}`;
}

describe('PrefixTable', () => {
  test('set, get, replace, delete (IPv4)', () => {
    const t = new PrefixTable(1);
    const w = new Uint32Array([0x0a000000]);
    assert.equal(t.get(w, 0, 8), -1);
    assert.equal(t.set(w, 0, 8, 0, 5), -1);
    assert.equal(t.get(w, 0, 8), 5);
    assert.equal(t.get(w, 0, 16), -1, 'length is part of the key');
    assert.equal(t.get(w, 0, 8, 1), -1, 'path id is part of the key');
    assert.equal(t.set(w, 0, 8, 0, 7), 5);
    assert.equal(t.size, 1);
    assert.equal(t.delete(w, 0, 8), 7);
    assert.equal(t.delete(w, 0, 8), -1);
    assert.equal(t.size, 0);
  });

  test('IPv6 keys use all four words', () => {
    const t = new PrefixTable(2);
    const a = new Uint32Array([0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2]);
    t.set(a, 0, 128, 0, 1);
    t.set(a, 4, 128, 0, 2);
    assert.equal(t.get(a, 0, 128), 1);
    assert.equal(t.get(a, 4, 128), 2);
    const seen: number[] = [];
    t.forEach((words, off, len, _id, v) => {
      assert.equal(len, 128);
      assert.equal(words[off + 3], v);
      seen.push(v);
    });
    assert.deepEqual(seen.sort(), [1, 2]);
  });

  test('behaves like a Map under random operations, through growth and deletion', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom('set', 'delete'),
            addr: fc.integer({ min: 0, max: 300 }),
            len: fc.integer({ min: 0, max: 2 }),
            pathId: fc.integer({ min: 0, max: 1 }),
            value: fc.integer({ min: 0, max: 1000 }),
          }),
          { maxLength: 600 },
        ),
        (ops) => {
          const t = new PrefixTable(1);
          const m = new Map<string, number>();
          const w = new Uint32Array(1);
          for (const o of ops) {
            // Spread addresses so that they collide in the low bits too.
            w[0] = (o.addr * 0x01000000 + o.addr) >>> 0;
            const k = key4(w[0], o.len, o.pathId);
            if (o.op === 'set') {
              assert.equal(t.set(w, 0, o.len, o.pathId, o.value), m.get(k) ?? -1);
              m.set(k, o.value);
            } else {
              assert.equal(t.delete(w, 0, o.len, o.pathId), m.get(k) ?? -1);
              m.delete(k);
            }
            assert.equal(t.size, m.size);
          }
          const seen = new Map<string, number>();
          t.forEach((words, off, len, id, v) => {
            seen.set(key4(words[off]!, len, id), v);
          });
          assert.deepEqual(seen, m);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('matches a Map across incremental migrations (large random workload)', () => {
    // Big enough that migrations span many operations, with sets, replaces and deletes of keys
    // on both sides of the migration cursor.
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const t = new PrefixTable(2);
    const m = new Map<string, number>();
    const w = new Uint32Array(4);
    for (let i = 0; i < 60_000; i++) {
      const k = rnd(20_000);
      w[0] = 0x20010db8;
      w[1] = k;
      w[2] = 0;
      w[3] = k & 7;
      const len = 64;
      const key = `${k}`;
      if (rnd(4) === 0) {
        assert.equal(t.delete(w, 0, len, 0), m.get(key) ?? -1);
        m.delete(key);
      } else {
        assert.equal(t.set(w, 0, len, 0, i), m.get(key) ?? -1);
        m.set(key, i);
      }
      if (i % 997 === 0) {
        assert.equal(t.size, m.size);
        w[1] = rnd(20_000);
        w[3] = w[1] & 7;
        assert.equal(t.get(w, 0, len, 0), m.get(`${w[1]}`) ?? -1);
      }
    }
    const seen = new Map<string, number>();
    t.forEach((words, off, _len, _id, v) => {
      assert.ok(!seen.has(`${words[off + 1]}`), 'no key in both tables');
      seen.set(`${words[off + 1]}`, v);
    });
    assert.deepEqual(seen, m);
  });

  test('growth is incremental: the old table is moved over later operations, not in one go', () => {
    const t = new PrefixTable(1);
    const w = new Uint32Array(1);
    const add = (i: number): void => {
      w[0] = (0x01000000 + i * 256) >>> 0;
      t.set(w, 0, 24, 0, i);
    };
    // 16 slots -> ... -> 2^17 slots: fill until the next insert doubles to 2^18 slots.
    let i = 0;
    const settled = 2 ** 17 * 16;
    while (t.byteLength !== settled) add(i++);
    while (t.byteLength === settled) add(i++);
    // Right after doubling both tables are held: the entries have not all been rehashed yet.
    assert.equal(t.byteLength, settled * 3, 'old table still held');
    // Each later operation moves a bounded number of slots; after enough of them it is gone.
    let ops = 0;
    while (t.byteLength !== settled * 2) {
      add(i++);
      ops++;
    }
    assert.ok(ops > 1000, `migration spread over ${ops} operations`);
    for (let k = 0; k < i; k++) {
      w[0] = (0x01000000 + k * 256) >>> 0;
      assert.equal(t.get(w, 0, 24), k);
    }
  });

  test('a million IPv4 prefixes: no per-prefix objects, about 16 bytes per entry', () => {
    const t = new PrefixTable(1);
    const w = new Uint32Array(1);
    for (let i = 0; i < 1_000_000; i++) {
      w[0] = (0x01000000 + i * 256) >>> 0;
      t.set(w, 0, 24, 0, i & 0xffff);
    }
    assert.equal(t.size, 1_000_000);
    w[0] = (0x01000000 + 123_456 * 256) >>> 0;
    assert.equal(t.get(w, 0, 24), 123_456 & 0xffff);
    assert.ok(t.byteLength <= 2 ** 21 * 16, `${t.byteLength} bytes`);
  });
});
