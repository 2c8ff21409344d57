// The session layer's attribute interning: the byte key of an UPDATE's attributes
// (attributeKeyInto) and the store's byte-keyed table, reference counts and idle retention.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  asPathFromSequence,
  type CodecOptions,
  type PathAttributes,
  prefixListFromStrings,
  type UpdateMessage,
} from '../codec/index.ts';
import { AttributeStore, attributeKeyInto, type KeyScratch } from './attr-store.ts';
import { updateFrame, v4Update } from './testing/updates.ts';

/** The documented number of idle sets the store keeps (IDLE_SETS_KEPT, not exported). */
const IDLE_SETS_KEPT = 16384;

const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

const frame = (msg: UpdateMessage) => updateFrame(msg, opts);

function nextHop6(last: number): Uint8Array {
  const nh = new Uint8Array(16);
  nh[0] = 0x20;
  nh[1] = 0x01;
  nh[2] = 0x0d;
  nh[3] = 0xb8;
  nh[15] = last;
  return nh;
}

function v6Update(
  nlri: string[],
  nh: Uint8Array,
  extra: Partial<PathAttributes> = {},
  unreach: string[] = [],
): UpdateMessage {
  return {
    ...v4Update([], {}),
    attributes: {
      origin: 0,
      asPath: asPathFromSequence([65001]),
      ...extra,
      mpReach: { afi: 2, safi: 1, nextHop: nh, nlri: prefixListFromStrings(2, nlri), rawNlri: null },
      ...(unreach.length > 0
        ? { mpUnreach: { afi: 2, safi: 1, nlri: prefixListFromStrings(2, unreach), rawNlri: null } }
        : {}),
    },
  };
}

/** The key of a frame as a fresh array (the scratch is reused). */
function key(bytes: Uint8Array, fourOctetAs = true, scratch?: KeyScratch): Uint8Array {
  const s = scratch ?? { buf: new Uint8Array(4096), multiprotocol: false };
  const n = attributeKeyInto(bytes, fourOctetAs, s);
  assert.ok(n > 0, `key built (${n})`);
  return s.buf.slice(0, n);
}

const attrsA: PathAttributes = { origin: 0, asPath: asPathFromSequence([65001]), nextHop: 0x0a000001 };

const noAttrs = () => ({ attributes: {} as PathAttributes, mpNextHop: null });

/** FNV-1a 32 as the store documents it, written independently to find colliding keys. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Two different 8-byte keys with the same FNV-1a hash, found by a birthday search. */
function collidingKeys(): [Uint8Array, Uint8Array] {
  const next = rng(0x2545f491);
  const seen = new Map<number, Uint8Array>();
  for (let i = 0; i < 4_000_000; i++) {
    const k = new Uint8Array(8);
    for (let j = 0; j < 8; j += 4) {
      const r = next();
      k[j] = r & 0xff;
      k[j + 1] = (r >>> 8) & 0xff;
      k[j + 2] = (r >>> 16) & 0xff;
      k[j + 3] = r >>> 24;
    }
    const h = fnv1a(k);
    const prev = seen.get(h);
    if (prev !== undefined && hex(prev) !== hex(k)) return [prev, k];
    seen.set(h, k);
  }
  throw new Error('no FNV-1a collision found');
}

/** Deterministic pseudo-random numbers (xorshift32). */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('attributeKeyInto', () => {
  test('the same attributes give the same key whatever the NLRI and withdrawn routes; a changed attribute a different one', () => {
    const a = key(frame(v4Update(['10.0.0.0/24'], attrsA)));
    const b = key(frame(v4Update(['10.9.0.0/16', '10.8.0.0/24'], attrsA, ['192.0.2.0/24'])));
    assert.deepEqual(b, a);
    const c = key(frame(v4Update(['10.0.0.0/24'], { ...attrsA, med: 10 })));
    assert.notDeepEqual(c, a);
    const d = key(frame(v4Update(['10.0.0.0/24'], { ...attrsA, nextHop: 0x0a000002 })));
    assert.notDeepEqual(d, a);
    assert.equal(a[0], 4, 'first byte: the AS number size');
  });

  test('the AS number size is part of the key: the same bytes mean another AS_PATH', () => {
    const bytes = frame(v4Update(['10.0.0.0/24'], attrsA));
    const four = key(bytes, true);
    const two = key(bytes, false);
    assert.equal(four[0], 4);
    assert.equal(two[0], 2);
    assert.deepEqual(two.subarray(1), four.subarray(1), 'only the size byte differs');
    const store = new AttributeStore();
    const id4 = store.internBytes(four, four.length, noAttrs);
    const id2 = store.internBytes(two, two.length, noAttrs);
    assert.notEqual(id4, id2);
  });

  test('MP_REACH_NLRI: the next hop is in the key, the NLRI are not; MP_UNREACH_NLRI is left out', () => {
    const base = key(frame(v6Update(['2001:db8::/32'], nextHop6(1))));
    assert.deepEqual(key(frame(v6Update(['2001:db8:1::/48', '2001:db8:2::/48'], nextHop6(1)))), base);
    assert.notDeepEqual(key(frame(v6Update(['2001:db8::/32'], nextHop6(2)))), base, 'other next hop');
    const withUnreach = frame(v6Update(['2001:db8::/32'], nextHop6(1), {}, ['2001:db8:ff::/48']));
    assert.deepEqual(key(withUnreach), base, 'MP_UNREACH_NLRI ignored');
    assert.notDeepEqual(key(frame(v6Update(['2001:db8::/32'], nextHop6(1), { med: 1 }))), base);
    // A link-local second next hop (32 bytes) is part of it too.
    const two = new Uint8Array(32);
    two.set(nextHop6(1));
    two[16] = 0xfe;
    two[17] = 0x80;
    two[31] = 1;
    assert.notDeepEqual(key(frame(v6Update(['2001:db8::/32'], two))), base);
    const s: KeyScratch = { buf: new Uint8Array(4096), multiprotocol: false };
    key(frame(v6Update(['2001:db8::/32'], nextHop6(1))), true, s);
    assert.equal(s.multiprotocol, true);
    key(frame(v4Update(['10.0.0.0/24'], attrsA)), true, s);
    assert.equal(s.multiprotocol, false, 'reset for each frame');
  });

  test('a scratch buffer too small is grown; a truncated frame gives -1', () => {
    const bytes = frame(v4Update(['10.0.0.0/24'], { ...attrsA, communities: new Uint32Array(60) }));
    const big = key(bytes);
    const small: KeyScratch = { buf: new Uint8Array(4), multiprotocol: false };
    assert.deepEqual(key(bytes, true, small), big);
    assert.ok(small.buf.length >= big.length);
    // The attribute length field claims more than the frame holds.
    const cut = bytes.slice(0, 30);
    assert.equal(attributeKeyInto(cut, true, small), -1);
    assert.equal(attributeKeyInto(bytes.slice(0, 20), true, small), -1);
  });
});

describe('AttributeStore', () => {
  test('equal byte keys intern once; the key is copied, so a reused scratch buffer is safe', () => {
    const store = new AttributeStore();
    let made = 0;
    const make = () => {
      made++;
      return noAttrs();
    };
    const scratch = Uint8Array.of(4, 1, 2, 3, 9, 9);
    const a = store.internBytes(scratch, 4, make);
    assert.equal(store.internBytes(Uint8Array.of(4, 1, 2, 3), 4, make), a, 'same bytes, same id');
    scratch[3] = 7;
    const b = store.internBytes(scratch, 4, make);
    assert.notEqual(b, a, 'other bytes');
    assert.notEqual(store.internBytes(scratch, 5, make), b, 'a longer key is another key');
    assert.equal(store.internBytes(Uint8Array.of(4, 1, 2, 3), 4, make), a, 'first key kept its bytes');
    assert.equal(made, 3);
    assert.equal(store.size, 3);
    assert.equal(store.lookupBytes(Uint8Array.of(4, 1, 2, 7), 4), b);
    assert.equal(store.lookupBytes(Uint8Array.of(4, 1, 2, 8), 4), -1);
  });

  test('keys with equal FNV-1a hashes stay distinct, also after one of them is forgotten', () => {
    const [k1, k2] = collidingKeys();
    assert.notDeepEqual(k1, k2);
    assert.equal(fnv1a(k1), fnv1a(k2));
    const store = new AttributeStore();
    let made = 0;
    const make = () => {
      made++;
      return noAttrs();
    };
    const id1 = store.internBytes(k1, 8, make);
    const id2 = store.internBytes(k2, 8, make);
    assert.notEqual(id1, id2);
    assert.equal(made, 2);
    // Precondition: the store's hash did collide (one slot chaining both ids).
    const byHash = (store as unknown as { byHash: { readonly size: number } }).byHash;
    assert.equal(byHash.size, 1, 'both keys hash to one slot');
    assert.equal(store.internBytes(k1, 8, make), id1);
    assert.equal(store.internBytes(k2, 8, make), id2);
    assert.equal(made, 2);
    // Forget the first: the second is still found, and the first is new again.
    store.ref(id1);
    store.ref(id2);
    store.unref(id1);
    store.sweepIdle();
    assert.equal(store.lookupBytes(k1, 8), -1);
    assert.equal(store.internBytes(k2, 8, make), id2);
    assert.equal(made, 2);
    const again = store.internBytes(k1, 8, make);
    assert.equal(made, 3, 'the forgotten key is interned anew');
    assert.equal(store.internBytes(k1, 8, make), again);
    assert.equal(store.internBytes(k2, 8, make), id2);
    // Forget the second (the slot now holds the re-interned first and the second).
    store.unref(id2);
    store.sweepIdle();
    assert.equal(store.lookupBytes(k2, 8), -1);
    assert.equal(store.lookupBytes(k1, 8), again);
  });

  test('many random keys: equal ids exactly for equal bytes (collisions included), through forgetting', () => {
    const store = new AttributeStore();
    const next = rng(0x7b5);
    const ids = new Map<string, number>();
    const keys: Uint8Array[] = [];
    // A quarter short keys (many repeats), the rest 8 bytes (a few FNV-1a collisions among them).
    for (let i = 0; i < 250_000; i++) {
      const len = next() % 4 === 0 ? 2 : 8;
      const k = new Uint8Array(len);
      for (let j = 0; j < len; j++) k[j] = next() & 0xff;
      const id = store.internBytes(k, len, noAttrs);
      const h = hex(k);
      const known = ids.get(h);
      if (known === undefined) {
        ids.set(h, id);
        keys.push(k);
        store.ref(id);
      } else assert.equal(id, known, `key ${h}`);
    }
    assert.equal(store.size, ids.size);
    assert.equal(new Set(ids.values()).size, ids.size, 'distinct keys, distinct ids');
    const hashes = new Set(keys.map(fnv1a));
    assert.ok(keys.length - hashes.size >= 2, `precondition: colliding keys (${keys.length - hashes.size})`);
    assert.ok(keys.length < 240_000, 'precondition: repeated keys');
    // Drop every other key, sweep, and check the rest still resolve to their ids.
    for (let i = 0; i < keys.length; i += 2) store.unref(ids.get(hex(keys[i]!))!);
    store.sweepIdle();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const found = store.lookupBytes(k, k.length);
      if (i % 2 === 0) assert.equal(found, -1, `forgotten ${hex(k)}`);
      else assert.equal(found, ids.get(hex(k)), `kept ${hex(k)}`);
    }
    // Re-interning the forgotten ones gives ids distinct from the kept ones.
    const kept = new Set(keys.filter((_, i) => i % 2 === 1).map((k) => ids.get(hex(k))!));
    for (let i = 0; i < keys.length; i += 2) {
      const k = keys[i]!;
      assert.equal(kept.has(store.internBytes(k, k.length, noAttrs)), false);
    }
  });

  test('keys survive the slab compacting around forgotten ones, round after round', () => {
    const store = new AttributeStore();
    const next = rng(0x51ab);
    const kept: { key: Uint8Array; id: number }[] = [];
    for (let round = 0; round < 20; round++) {
      const fresh: { key: Uint8Array; id: number }[] = [];
      for (let i = 0; i < 5_000; i++) {
        const k = new Uint8Array(9 + (next() % 24));
        for (let j = 0; j < k.length; j++) k[j] = next() & 0xff;
        const id = store.internBytes(k, k.length, noAttrs);
        store.ref(id);
        fresh.push({ key: k, id });
      }
      // Keep one in ten of this round; forget the rest, leaving holes all over the slab.
      for (let i = 0; i < fresh.length; i++) {
        if (i % 10 === 0) kept.push(fresh[i]!);
        else store.unref(fresh[i]!.id);
      }
      store.sweepIdle();
      for (const { key, id } of kept) assert.equal(store.lookupBytes(key, key.length), id, `round ${round}`);
      for (let i = 1; i < fresh.length; i += 97) {
        if (i % 10 === 0) continue;
        const k = fresh[i]!.key;
        assert.equal(store.lookupBytes(k, k.length), -1, `forgotten, round ${round}`);
      }
    }
    assert.equal(store.size, kept.length);
  });

  test('string keys intern once and are forgotten like byte keys', () => {
    const store = new AttributeStore();
    let made = 0;
    const make = () => {
      made++;
      return noAttrs();
    };
    const id = store.intern('a', make);
    assert.equal(store.intern('a', make), id);
    assert.notEqual(store.intern('b', make), id);
    store.ref(id);
    store.unref(id);
    store.sweepIdle();
    store.intern('a', make);
    assert.equal(made, 3);
  });

  test('a set whose last reference went idles: not counted, not readable, revived with its id by a new reference', () => {
    const store = new AttributeStore();
    let made = 0;
    const k = Uint8Array.of(4, 0x40, 1, 1, 0);
    const make = () => {
      made++;
      return { attributes: { origin: 0 } as PathAttributes, mpNextHop: null };
    };
    const id = store.internBytes(k, k.length, make);
    assert.equal(store.size, 1, 'fresh and unreferenced still counts');
    store.ref(id, 2);
    const stored = store.get(id);
    assert.ok(stored);
    store.unref(id);
    assert.equal(store.size, 1);
    store.unref(id);
    assert.equal(store.size, 0);
    assert.equal(store.refCount(id), 0);
    assert.equal(store.get(id), undefined, 'an idle set is not readable');
    assert.equal(store.internBytes(k, k.length, make), id, 'the same id');
    assert.equal(made, 1, 'not decoded again');
    store.ref(id);
    assert.equal(store.size, 1);
    assert.equal(store.get(id), stored, 'the same stored attributes');
    store.unref(id);
    store.sweepIdle();
    assert.equal(store.get(id), undefined);
    store.internBytes(k, k.length, make);
    assert.equal(made, 2, 'swept: interned anew');
  });

  test('more than IDLE_SETS_KEPT idle sets: the oldest idle ones are forgotten', () => {
    const store = new AttributeStore();
    let made = 0;
    const make = () => {
      made++;
      return noAttrs();
    };
    const keyOf = (i: number) => Uint8Array.of(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff);
    const n = IDLE_SETS_KEPT + 2;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = store.internBytes(keyOf(i), 3, make);
      store.ref(id);
      ids.push(id);
    }
    for (const id of ids) store.unref(id);
    assert.equal(store.size, 0);
    assert.equal(made, n);
    assert.equal(store.lookupBytes(keyOf(0), 3), -1, 'oldest forgotten');
    assert.equal(store.lookupBytes(keyOf(1), 3), -1, 'second oldest forgotten');
    assert.equal(store.lookupBytes(keyOf(2), 3), ids[2], 'the rest kept');
    assert.equal(store.lookupBytes(keyOf(n - 1), 3), ids[n - 1]);
    store.internBytes(keyOf(n - 1), 3, make);
    assert.equal(made, n, 'a kept idle set is not decoded again');
  });

  test('the idle queue keeps its order through thousands of revivals (each leaves a stale entry)', () => {
    const store = new AttributeStore();
    const keyOf = (i: number) => Uint8Array.of(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff);
    const first = store.internBytes(keyOf(0), 3, noAttrs);
    store.ref(first);
    store.unref(first);
    const churned = store.internBytes(keyOf(1), 3, noAttrs);
    // Far more idlings than the queue's first capacity: it compacts, and grows, meanwhile.
    for (let i = 0; i < 5000; i++) {
      store.ref(churned);
      store.unref(churned);
    }
    const rest: number[] = [];
    for (let i = 2; i <= IDLE_SETS_KEPT; i++) {
      const id = store.internBytes(keyOf(i), 3, noAttrs);
      store.ref(id);
      store.unref(id);
      rest.push(id);
    }
    // IDLE_SETS_KEPT + 1 idle sets: only the first to idle is forgotten.
    assert.equal(store.lookupBytes(keyOf(0), 3), -1, 'the oldest idle set is forgotten');
    assert.equal(store.lookupBytes(keyOf(1), 3), churned, 'the churned set idled late and is kept');
    assert.equal(store.lookupBytes(keyOf(2), 3), rest[0]);
    assert.equal(store.lookupBytes(keyOf(IDLE_SETS_KEPT), 3), rest[rest.length - 1]);
    // One more idle set: now the churned one is the oldest (its latest idling counts).
    const last = store.internBytes(keyOf(IDLE_SETS_KEPT + 1), 3, noAttrs);
    store.ref(last);
    store.unref(last);
    assert.equal(store.lookupBytes(keyOf(1), 3), -1, 'the churned set goes next');
    assert.equal(store.lookupBytes(keyOf(2), 3), rest[0]);
  });

  test('a set revived and idle again counts from its latest idling, not its first', () => {
    const store = new AttributeStore();
    const keyOf = (i: number) => Uint8Array.of(i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff);
    const ids: number[] = [];
    for (let i = 0; i <= IDLE_SETS_KEPT; i++) {
      const id = store.internBytes(keyOf(i), 3, noAttrs);
      store.ref(id);
      ids.push(id);
    }
    // Set 0 idles first, is used again (the next UPDATE carrying it), and idles again last.
    store.unref(ids[0]!);
    store.ref(ids[0]!);
    for (let i = 1; i < IDLE_SETS_KEPT; i++) store.unref(ids[i]!);
    store.unref(ids[0]!);
    // One more idle set than kept: the one idle longest (set 1) should go, not set 0.
    store.unref(ids[IDLE_SETS_KEPT]!);
    assert.equal(store.lookupBytes(keyOf(1), 3), -1, 'set 1 (idle longest) forgotten');
    assert.equal(store.lookupBytes(keyOf(0), 3), ids[0], 'set 0 (recently used) kept');
  });

  test('a set that idles and revives over and over does not grow the idle queue', () => {
    const store = new AttributeStore();
    const id = store.internBytes(Uint8Array.of(1, 2, 3), 3, noAttrs);
    // What one non-retained Adj-RIB-In does per UPDATE: the batch entry's reference comes and goes.
    for (let i = 0; i < 100_000; i++) {
      store.ref(id);
      store.unref(id);
    }
    assert.equal(store.size, 0);
    const queued = (store as unknown as { idle: number[]; idleHead: number }).idle.length;
    assert.ok(queued <= 2 * IDLE_SETS_KEPT, `idle queue holds ${queued} entries for 1 idle set`);
  });

  test('sets streaming through idle (more than IDLE_SETS_KEPT distinct) do not grow the idle queue', () => {
    const store = new AttributeStore();
    const k = new Uint8Array(4);
    // A full table with (almost) every route its own attribute set, no Adj-RIB-In holding them:
    // each set idles after its batch, and the oldest idle ones are forgotten.
    for (let i = 0; i < 200_000; i++) {
      new DataView(k.buffer).setUint32(0, i);
      const id = store.internBytes(k, 4, noAttrs);
      store.ref(id);
      store.unref(id);
    }
    assert.equal(store.size, 0);
    const queued = (store as unknown as { idle: number[] }).idle.length;
    assert.ok(
      queued <= 4 * IDLE_SETS_KEPT,
      `idle queue array holds ${queued} entries for ${IDLE_SETS_KEPT} idle sets`,
    );
    // The newest IDLE_SETS_KEPT are still there, the older ones are not.
    new DataView(k.buffer).setUint32(0, 199_999);
    assert.ok(store.lookupBytes(k, 4) >= 0);
    new DataView(k.buffer).setUint32(0, 200_000 - IDLE_SETS_KEPT - 1);
    assert.equal(store.lookupBytes(k, 4), -1);
  });

  test('releasing more references than taken throws', () => {
    const store = new AttributeStore();
    const id = store.internBytes(Uint8Array.of(1), 1, noAttrs);
    assert.throws(() => store.unref(id), /released more often than referenced/);
    const other = store.internBytes(Uint8Array.of(2), 1, noAttrs);
    store.ref(other, 2);
    store.unref(other, 2);
    assert.throws(() => store.unref(other), /released more often than referenced/);
    const third = store.internBytes(Uint8Array.of(3), 1, noAttrs);
    store.ref(third);
    assert.throws(() => store.unref(third, 2), /released more often than referenced/);
  });
});
