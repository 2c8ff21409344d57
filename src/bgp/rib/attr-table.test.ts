import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AttrFlag, AttrTable, attributeKeyHash } from './attr-table.ts';
import { asSequence, cloneAttributes, storedFromUpdate } from './attrs.ts';

describe('AttrTable', () => {
  test('equal sets share one id; different sets get different ids', () => {
    const t = new AttrTable();
    const a = t.intern({
      origin: 0,
      asPath: asSequence(1, 2),
      nextHop: 0x0a000001,
      communities: Uint32Array.of(1, 2),
    });
    const b = t.intern({
      origin: 0,
      asPath: asSequence(1, 2),
      nextHop: 0x0a000001,
      communities: Uint32Array.of(1, 2),
    });
    const c = t.intern({
      origin: 0,
      asPath: asSequence(1, 2),
      nextHop: 0x0a000001,
      communities: Uint32Array.of(2, 1),
    });
    const d = t.intern({ origin: 0, asPath: asSequence(1, 2), nextHop: 0x0a000001, med: 0 });
    const e = t.intern({ origin: 0, asPath: asSequence(1, 2), nextHop: 0x0a000001 });
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.notEqual(d, e, 'MED 0 differs from no MED');
    assert.equal(t.refCount(a), 2);
    assert.equal(t.size, 4);
  });

  test('sets whose words differ only in their 16-bit halves do not collide', () => {
    const t = new AttrTable();
    const a = t.intern({ med: 0x00010000 });
    const b = t.intern({ med: 0x00000001 });
    const c = t.intern({ localPref: 0x00010000 });
    assert.equal(new Set([a, b, c]).size, 3);
    const mp1 = t.intern({ mpNextHop: Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1) });
    const mp2 = t.intern({ mpNextHop: Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2) });
    assert.notEqual(mp1, mp2);
  });

  test('ids are freed only on collect(), with onFree listeners told first, then reused', () => {
    const t = new AttrTable();
    const freed: number[] = [];
    t.onFree((id) => freed.push(id));
    const a = t.intern({ med: 5 });
    t.unref(a);
    // Not yet collected: interning the same set again revives the id.
    assert.equal(t.intern({ med: 5 }), a);
    t.unref(a);
    assert.equal(t.collect(), 1);
    assert.deepEqual(freed, [a]);
    assert.equal(t.has(a), false);
    const b = t.intern({ med: 6 });
    assert.equal(b, a, 'freed id is reused');
    assert.equal(t.get(b).med, 6);
  });

  test('the table copies arrays and freezes the stored object', () => {
    const t = new AttrTable();
    const comms = Uint32Array.of(7);
    const id = t.intern({ communities: comms });
    comms[0] = 8;
    assert.equal(t.get(id).communities?.[0], 7);
    assert.throws(() => {
      (t.get(id) as { med?: number }).med = 1;
    });
  });

  test('internOwned keeps a handed-over set as it is, frozen, and finds it as intern() does', () => {
    const t = new AttrTable();
    const comms = Uint32Array.of(7);
    const handed = { origin: 0, communities: comms, mpNextHop: Uint8Array.of(10, 0, 0, 1) };
    const id = t.internOwned(handed);
    assert.equal(t.get(id), handed, 'the object itself is stored');
    assert.equal(t.get(id).communities, comms, 'its arrays are not copied');
    assert.ok(Object.isFrozen(t.get(id)));
    assert.equal(
      t.intern({ origin: 0, communities: Uint32Array.of(7), mpNextHop: Uint8Array.of(10, 0, 0, 1) }),
      id,
    );
    assert.equal(
      t.internOwned({ origin: 0, communities: Uint32Array.of(7), mpNextHop: Uint8Array.of(10, 0, 0, 1) }),
      id,
    );
    assert.equal(t.refCount(id), 3);
  });

  test('internOwned still copies a set with unknown attributes (their data may view a message)', () => {
    const t = new AttrTable();
    const message = Uint8Array.of(1, 2, 3, 4, 5, 6);
    const data = message.subarray(2, 4);
    const handed = { origin: 0, unknown: [{ flags: 0xc0, code: 99, data }] };
    const id = t.internOwned(handed);
    assert.notEqual(t.get(id), handed);
    const kept = t.get(id).unknown?.[0]?.data;
    assert.deepEqual([...(kept ?? [])], [3, 4]);
    assert.notEqual(kept?.buffer, message.buffer, 'the kept data does not pin the message');
  });

  test('a long set (3,000 communities) keys correctly, and its arrays share one buffer', () => {
    const t = new AttrTable();
    // 3,000 communities: past the key writer's first 256 words, so it grows meanwhile.
    const many = Uint32Array.from({ length: 3000 }, (_, i) => (65000 << 16) | i);
    const other = many.slice();
    other[2999] = other[2999]! + 1;
    const path = asSequence(65001, 65002);
    const a = t.intern({ origin: 0, asPath: path, communities: many, clusterList: Uint32Array.of(1, 2) });
    assert.equal(
      t.intern({
        origin: 0,
        asPath: path.slice(),
        communities: many.slice(),
        clusterList: Uint32Array.of(1, 2),
      }),
      a,
    );
    assert.notEqual(
      t.intern({ origin: 0, asPath: path, communities: other, clusterList: Uint32Array.of(1, 2) }),
      a,
    );
    const s = t.get(a);
    assert.deepEqual(Array.from(s.communities!), Array.from(many));
    assert.deepEqual(Array.from(s.asPath!), Array.from(path));
    assert.deepEqual(Array.from(s.clusterList!), [1, 2]);
    assert.equal(s.communities!.buffer, s.asPath!.buffer);
    assert.equal(s.clusterList!.buffer, s.asPath!.buffer);
  });

  test('sets whose keys hash alike stay distinct, also after one of them is freed', () => {
    // A birthday search over (MED, LOCAL_PREF) pairs, ~2^15 tries for 30-bit hashes. (Sets that
    // differ in one word never collide: FNV's last step is a bijection of that word.)
    const seen = new Map<number, [number, number]>();
    let pair: [[number, number], [number, number]] | null = null;
    let x = 12345;
    for (let i = 0; pair === null && i < 1_000_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const p: [number, number] = [x >>> 8, Math.imul(x, 2654435761) >>> 12];
      const h = attributeKeyHash({ origin: 0, med: p[0], localPref: p[1] });
      const prior = seen.get(h);
      if (prior !== undefined && (prior[0] !== p[0] || prior[1] !== p[1])) pair = [prior, p];
      else seen.set(h, p);
    }
    assert.ok(pair !== null, 'a colliding pair exists');
    const set1 = { origin: 0, med: pair[0][0], localPref: pair[0][1] };
    const set2 = { origin: 0, med: pair[1][0], localPref: pair[1][1] };
    const t = new AttrTable();
    const a = t.intern(set1);
    const b = t.intern(set2);
    assert.notEqual(a, b);
    assert.equal(t.get(b).med, set2.med);
    assert.equal(t.intern({ ...set1 }), a);
    assert.equal(t.intern({ ...set2 }), b);
    t.unref(a, 2);
    assert.equal(t.collect(), 1);
    assert.equal(t.has(a), false);
    assert.equal(t.intern({ ...set2 }), b, 'the other one is still found');
    const again = t.intern({ ...set1 });
    assert.equal(t.get(again).med, set1.med);
    assert.notEqual(again, b);
  });

  test('internDerived stores the set it is given, frozen, sharing the arrays it shares', () => {
    const t = new AttrTable();
    const base = t.get(t.intern({ origin: 0, asPath: asSequence(65001), communities: Uint32Array.of(7) }));
    const derived = cloneAttributes(base);
    derived.clusterList = Uint32Array.of(1);
    const id = t.internDerived(derived);
    const s = t.get(id);
    assert.equal(s, derived);
    assert.ok(Object.isFrozen(s));
    assert.equal(s.asPath, base.asPath);
    assert.equal(s.communities, base.communities);
    assert.equal(
      t.intern({
        origin: 0,
        asPath: asSequence(65001),
        communities: Uint32Array.of(7),
        clusterList: Uint32Array.of(1),
      }),
      id,
    );
  });

  test('derived decision fields', () => {
    const t = new AttrTable();
    const id = t.intern({
      origin: 1,
      asPath: asSequence(7, 8, 9),
      med: 30,
      clusterList: Uint32Array.of(1, 2),
    });
    assert.equal(t.localPrefOf(id), 100);
    assert.equal(t.asPathLengthOf(id), 3);
    assert.equal(t.neighborAsOf(id), 7);
    assert.equal(t.medOf(id), 30);
    assert.equal(t.originOf(id), 1);
    assert.equal(t.clusterListLengthOf(id), 2);
    assert.equal(t.flagsOf(id) & AttrFlag.HasMed, AttrFlag.HasMed);
    assert.equal(t.flagsOf(id) & AttrFlag.HasLocalPref, 0);
  });

  test('unref below zero is a clear error', () => {
    const t = new AttrTable();
    const id = t.intern({});
    t.unref(id);
    assert.throws(() => t.unref(id), /reference count below zero/);
  });

  test('storedFromUpdate keeps the MP next hop and drops the NLRI', () => {
    const nh = Uint8Array.of(0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    const s = storedFromUpdate({
      origin: 0,
      mpReach: { afi: 2, safi: 1, nextHop: nh, nlri: null, rawNlri: null },
      mpUnreach: { afi: 2, safi: 1, nlri: null, rawNlri: null },
    });
    const defined = Object.entries(s)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k);
    assert.deepEqual(defined.sort(), ['mpNextHop', 'origin']);
    assert.ok(!('mpReach' in s) && !('mpUnreach' in s));
    assert.equal(s.mpNextHop, nh);
  });
});
