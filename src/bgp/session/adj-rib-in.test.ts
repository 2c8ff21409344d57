import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  asPathFromSequence,
  type CodecOptions,
  decodeMessage,
  encodeEndOfRib,
  Family,
  type PathAttributes,
  prefixListFromStrings,
  prefixListToStrings,
  type UpdateMessage,
} from '../codec/index.ts';
import { AdjRibIn, type AdjRibInEntry } from './adj-rib-in.ts';
import { AttributeStore } from './attr-store.ts';
import { updateFrame, v4Update } from './testing/updates.ts';

const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
const both = new Set([Family.IPv4Unicast, Family.IPv6Unicast]);

const frame = (msg: UpdateMessage) => updateFrame(msg, opts);
const update = v4Update;

const attrsA: PathAttributes = { origin: 0, asPath: asPathFromSequence([65001]), nextHop: 0x0a000001 };
const attrsB: PathAttributes = {
  origin: 0,
  asPath: asPathFromSequence([65001, 65002]),
  nextHop: 0x0a000001,
  med: 5,
};

function apply(rib: AdjRibIn, bytes: Buffer, families = both) {
  const d = decodeMessage(bytes, opts);
  assert.ok(d.ok && d.value.type === 'update');
  if (!d.ok || d.value.type !== 'update') throw new Error('not an update');
  return rib.applyUpdate(d.value, bytes, opts.fourOctetAs, families);
}

function texts(e: AdjRibInEntry): string {
  if (e.kind === 'end-of-rib') return `eor ${e.family}`;
  return `${e.kind} ${prefixListToStrings(e.prefixes).join(',')}`;
}

function drain(rib: AdjRibIn): string[] {
  const b = rib.drain();
  if (!b) return [];
  rib.release(b);
  return b.entries.map(texts);
}

describe('Adj-RIB-In', () => {
  test('announcements intern one attribute set per distinct attributes, shared across UPDATEs', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    apply(rib, frame(update(['10.0.2.0/24'], attrsA)));
    apply(rib, frame(update(['10.0.3.0/24'], attrsB)));
    assert.equal(rib.size(), 4);
    assert.equal(store.size, 2);
    const id = rib.lookup(Family.IPv4Unicast, new Uint32Array([0x0a000100]), 0, 24);
    // Three routes, plus one reference per undelivered batch entry.
    assert.equal(store.refCount(id), 5);
    assert.deepEqual(drain(rib), [
      'announce 10.0.0.0/24,10.0.1.0/24',
      'announce 10.0.2.0/24',
      'announce 10.0.3.0/24',
    ]);
    assert.equal(store.refCount(id), 3);
    assert.deepEqual(store.get(id)?.attributes.asPath, attrsA.asPath);
    assert.equal(store.get(id)?.attributes.mpReach, undefined);
  });

  test('an unchanged re-announcement emits nothing; a changed one moves the reference', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    drain(rib);
    const out = apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    assert.equal(out.announced, 0);
    assert.deepEqual(drain(rib), []);
    apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsB)));
    assert.deepEqual(drain(rib), ['announce 10.0.0.0/24,10.0.1.0/24']);
    assert.equal(store.size, 1, 'the set nobody refers to any more is gone');
  });

  test('withdrawals list only prefixes that were present; withdraw-then-announce ends announced', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    drain(rib);
    const out = apply(rib, frame(update([], {}, ['10.9.9.0/24', '10.0.0.0/24'])));
    assert.equal(out.withdrawn, 1);
    assert.deepEqual(drain(rib), ['withdraw 10.0.0.0/24']);
    apply(rib, frame(update(['10.0.1.0/24'], attrsB, ['10.0.1.0/24'])));
    assert.deepEqual(drain(rib), ['withdraw 10.0.1.0/24', 'announce 10.0.1.0/24']);
    assert.equal(rib.size(), 1);
  });

  test('RFC 7606 treat-as-withdraw removes the announced prefixes', () => {
    const rib = new AdjRibIn('p', new AttributeStore());
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    drain(rib);
    const bytes = frame(update(['10.0.0.0/24'], attrsA));
    const d = decodeMessage(bytes, opts);
    assert.ok(d.ok && d.value.type === 'update');
    if (!d.ok || d.value.type !== 'update') return;
    rib.applyUpdate({ ...d.value, treatAsWithdraw: true }, bytes, true, both);
    assert.deepEqual(drain(rib), ['withdraw 10.0.0.0/24']);
    assert.equal(rib.size(), 0);
  });

  test('a real malformed attribute from the codec ends as a withdrawal', () => {
    const rib = new AdjRibIn('p', new AttributeStore());
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    drain(rib);
    // ORIGIN with the invalid value 7: RFC 7606 §7.1 says treat-as-withdraw.
    const bytes = Buffer.from(frame(update(['10.0.0.0/24'], attrsA)));
    const originAt = bytes.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
    assert.ok(originAt > 0);
    bytes[originAt + 3] = 7;
    const d = decodeMessage(bytes, opts);
    assert.ok(d.ok && d.value.type === 'update' && d.value.treatAsWithdraw);
    apply(rib, bytes);
    assert.deepEqual(drain(rib), ['withdraw 10.0.0.0/24']);
  });

  test('prefixes of a family that was not negotiated are ignored and counted', () => {
    const rib = new AdjRibIn('p', new AttributeStore());
    const out = apply(rib, frame(update(['10.0.0.0/24'], attrsA)), new Set([Family.IPv6Unicast]));
    assert.equal(out.ignored, 1);
    assert.equal(rib.size(), 0);
  });

  test('IPv6 via MP_REACH keeps its next hop with the attribute set', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    const nh = new Uint8Array(16);
    nh[0] = 0x20;
    nh[1] = 0x01;
    nh[15] = 1;
    const msg: UpdateMessage = {
      ...update([], { origin: 0, asPath: asPathFromSequence([65001]) }),
      attributes: {
        origin: 0,
        asPath: asPathFromSequence([65001]),
        mpReach: {
          afi: 2,
          safi: 1,
          nextHop: nh,
          nlri: prefixListFromStrings(2, ['2001:db8::/32']),
          rawNlri: null,
        },
      },
    };
    apply(rib, frame(msg));
    assert.equal(rib.size(Family.IPv6Unicast), 1);
    const id = rib.lookup(Family.IPv6Unicast, new Uint32Array([0x20010db8, 0, 0, 0]), 0, 32);
    assert.deepEqual(store.get(id)?.mpNextHop, nh);
  });

  test('End-of-RIB is reported per family', () => {
    const rib = new AdjRibIn('p', new AttributeStore());
    assert.equal(apply(rib, encodeEndOfRib(Family.IPv4Unicast, opts)).endOfRib, Family.IPv4Unicast);
    assert.equal(apply(rib, encodeEndOfRib(Family.IPv6Unicast, opts)).endOfRib, Family.IPv6Unicast);
    assert.deepEqual(drain(rib), [`eor ${Family.IPv4Unicast}`, `eor ${Family.IPv6Unicast}`]);
  });

  test('clear withdraws everything and releases every attribute set', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    apply(rib, frame(update(['10.0.3.0/24'], attrsB)));
    drain(rib);
    assert.equal(rib.clear(), 3);
    const entries = drain(rib);
    assert.equal(entries.length, 1);
    assert.match(entries[0] ?? '', /^withdraw /);
    assert.equal(rib.size(), 0);
    assert.equal(store.size, 0);
  });

  test('a drained batch keeps its attribute ids alive until released', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    apply(rib, frame(update(['10.0.0.0/24'], attrsB)));
    const batch = rib.drain();
    assert.ok(batch);
    const first = batch.entries[0];
    assert.ok(first?.kind === 'announce');
    if (first?.kind !== 'announce') return;
    assert.ok(store.get(first.attrId), 'superseded set still readable while the batch is out');
    rib.release(batch);
    assert.equal(store.get(first.attrId), undefined);
    assert.equal(store.size, 1);
  });
});

describe('Adj-RIB-In without retention (no soft reconfiguration inbound)', () => {
  const V4 = Family.IPv4Unicast;
  const V6 = Family.IPv6Unicast;

  function loose(store = new AttributeStore()): { rib: AdjRibIn; store: AttributeStore } {
    const rib = new AdjRibIn('p', store);
    rib.retained = false;
    return { rib, store };
  }

  function v6(nlri: string[], unreach: string[] = []): UpdateMessage {
    const nh = new Uint8Array(16);
    nh[0] = 0x20;
    nh[1] = 0x01;
    nh[15] = 1;
    return {
      ...update([], {}),
      attributes: {
        origin: 0,
        asPath: asPathFromSequence([65001]),
        ...(nlri.length > 0
          ? {
              mpReach: {
                afi: 2,
                safi: 1,
                nextHop: nh,
                nlri: prefixListFromStrings(2, nlri),
                rawNlri: null,
              },
            }
          : {}),
        ...(unreach.length > 0
          ? { mpUnreach: { afi: 2, safi: 1, nlri: prefixListFromStrings(2, unreach), rawNlri: null } }
          : {}),
      },
    };
  }

  test('announcements and withdrawals pass through as received: repeats and unknown withdrawals included', () => {
    const { rib, store } = loose();
    assert.equal(rib.retained, false);
    let out = apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    assert.equal(out.announced, 2);
    out = apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    assert.equal(out.announced, 2, 'an unchanged re-announcement is passed on');
    out = apply(rib, frame(update([], {}, ['10.9.9.0/24', '10.0.0.0/24'])));
    assert.equal(out.withdrawn, 2, 'withdrawals of prefixes never announced are passed on');
    apply(rib, frame(update(['10.0.1.0/24'], attrsB, ['10.0.1.0/24'])));
    const b = rib.drain();
    assert.ok(b);
    assert.deepEqual(b.entries.map(texts), [
      'announce 10.0.0.0/24,10.0.1.0/24',
      'announce 10.0.0.0/24,10.0.1.0/24',
      'withdraw 10.9.9.0/24,10.0.0.0/24',
      'withdraw 10.0.1.0/24',
      'announce 10.0.1.0/24',
    ]);
    const ids = b.entries.flatMap((e) => (e.kind === 'announce' ? [e.attrId] : []));
    assert.equal(ids[0], ids[1], 'the same attributes intern to the same set');
    assert.notEqual(ids[2], ids[0]);
    assert.deepEqual(store.get(ids[0]!)?.attributes.asPath, attrsA.asPath);
    assert.equal(store.get(ids[2]!)?.attributes.med, 5);
    rib.release(b);
    // No table: nothing to look up, nothing to list.
    assert.equal(rib.lookup(V4, new Uint32Array([0x0a000100]), 0, 24), -1);
    let listed = 0;
    rib.forEach(V4, () => listed++);
    assert.equal(listed, 0);
    assert.equal(rib.byteLength, 0);
  });

  test('each pending announcement holds a reference until its batch is released; none remain after', () => {
    const { rib, store } = loose();
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    apply(rib, frame(update(['10.0.1.0/24'], attrsA)));
    apply(rib, frame(update(['10.0.2.0/24'], attrsB)));
    const first = rib.drain();
    assert.ok(first);
    const [a, , b] = first.entries;
    assert.ok(a?.kind === 'announce' && b?.kind === 'announce');
    if (a?.kind !== 'announce' || b?.kind !== 'announce') return;
    assert.equal(store.refCount(a.attrId), 2, 'one per undelivered entry');
    assert.equal(store.refCount(b.attrId), 1);
    assert.equal(store.size, 2);
    // A second batch while the first is still out: releasing the first leaves the second's alive.
    apply(rib, frame(update(['10.0.3.0/24'], attrsA)));
    const second = rib.drain();
    assert.ok(second);
    rib.release(first);
    assert.equal(store.refCount(a.attrId), 1);
    assert.ok(store.get(a.attrId), 'still readable for the undelivered batch');
    assert.equal(store.get(b.attrId), undefined, 'released set idles');
    rib.release(second);
    assert.equal(store.refCount(a.attrId), 0);
    assert.equal(store.size, 0);
    // IPv6 through MP_REACH, and MP_UNREACH of something never announced, balance the same way.
    apply(rib, frame(v6(['2001:db8::/32'])));
    apply(rib, frame(v6([], ['2001:db8:ff::/48'])));
    assert.deepEqual(drain(rib), ['announce 2001:db8::/32', 'withdraw 2001:db8:ff::/48']);
    assert.equal(store.size, 0);
    // An UPDATE whose only family is not negotiated takes no reference at all.
    const out = apply(rib, frame(update(['10.0.0.0/24'], attrsA)), new Set([V6]));
    assert.equal(out.ignored, 1);
    assert.equal(rib.hasPending, false);
    assert.equal(store.size, 0);
  });

  test('size() counts what the consumer accepted, through countWith', () => {
    const { rib } = loose();
    apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    drain(rib);
    assert.equal(rib.size(), 0, 'no counter registered: nothing known');
    const asked: number[] = [];
    rib.countWith((f) => {
      asked.push(f);
      return f === V4 ? 7 : f === V6 ? 3 : 0;
    });
    assert.equal(rib.size(V4), 7);
    assert.equal(rib.size(V6), 3);
    assert.equal(rib.size(), 10);
    assert.ok(asked.includes(V4) && asked.includes(V6));
    rib.countWith(null);
    assert.equal(rib.size(), 0);
    // A retained Adj-RIB-In counts its own table whatever the counter says.
    const kept = new AdjRibIn('q', new AttributeStore());
    kept.countWith(() => 99);
    apply(kept, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    assert.equal(kept.size(), 2);
    assert.equal(kept.size(V4), 2);
  });

  test('turning retention off forgets the table and its references without withdrawing anything', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    assert.equal(rib.retained, true, 'retained by default');
    apply(rib, frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA)));
    apply(rib, frame(update(['10.0.2.0/24'], attrsB)));
    apply(rib, frame(v6(['2001:db8::/32'])));
    drain(rib);
    assert.equal(rib.size(), 4);
    assert.equal(store.size, 3);
    rib.retained = false;
    assert.equal(rib.retained, false);
    assert.equal(rib.hasPending, false, 'no withdrawals queued');
    assert.equal(rib.drain(), null);
    assert.equal(store.size, 0, 'every route reference dropped');
    assert.equal(rib.lookup(V4, new Uint32Array([0x0a000000]), 0, 24), -1);
    assert.equal(rib.size(), 0);
    rib.countWith((f) => (f === V4 ? 3 : 1));
    assert.equal(rib.size(), 4, 'now from the counter');
    // Setting it again changes nothing; from now on routes pass through.
    rib.retained = false;
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    assert.deepEqual(drain(rib), ['announce 10.0.0.0/24']);
    assert.equal(store.size, 0);
    // Back on: starts empty, and keeps what arrives from then on.
    rib.retained = true;
    assert.equal(rib.size(), 0);
    apply(rib, frame(update(['10.0.5.0/24'], attrsA)));
    assert.deepEqual(drain(rib), ['announce 10.0.5.0/24']);
    assert.equal(rib.size(), 1);
    assert.equal(store.size, 1);
  });

  test('turning retention off with a batch pending keeps that batch and its references intact', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    rib.retained = false;
    const b = rib.drain();
    assert.ok(b);
    assert.deepEqual(b.entries.map(texts), ['announce 10.0.0.0/24']);
    const e = b.entries[0];
    assert.ok(e?.kind === 'announce' && store.get(e.attrId), 'the pending entry still readable');
    rib.release(b);
    assert.equal(store.size, 0);
  });

  test('RFC 7606 treat-as-withdraw turns announcements into withdrawals, interning nothing', () => {
    const { rib, store } = loose();
    const bytes = frame(update(['10.0.0.0/24', '10.0.1.0/24'], attrsA));
    const d = decodeMessage(bytes, opts);
    assert.ok(d.ok && d.value.type === 'update');
    if (!d.ok || d.value.type !== 'update') return;
    const out = rib.applyUpdate({ ...d.value, treatAsWithdraw: true }, bytes, true, both);
    assert.equal(out.withdrawn, 2);
    assert.equal(out.announced, 0);
    assert.deepEqual(drain(rib), ['withdraw 10.0.0.0/24,10.0.1.0/24']);
    assert.equal(store.size, 0);
    // A real malformed ORIGIN (RFC 7606 §7.1), as the codec reports it.
    const bad = Buffer.from(frame(update(['10.0.2.0/24'], attrsA)));
    const originAt = bad.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
    assert.ok(originAt > 0);
    bad[originAt + 3] = 7;
    apply(rib, bad);
    assert.deepEqual(drain(rib), ['withdraw 10.0.2.0/24']);
    // IPv6 too (MP_REACH with an error: the MP_REACH prefixes are withdrawn).
    const v6bytes = frame(v6(['2001:db8::/32']));
    const d6 = decodeMessage(v6bytes, opts);
    assert.ok(d6.ok && d6.value.type === 'update');
    if (!d6.ok || d6.value.type !== 'update') return;
    rib.applyUpdate({ ...d6.value, treatAsWithdraw: true }, v6bytes, true, both);
    assert.deepEqual(drain(rib), ['withdraw 2001:db8::/32']);
    assert.equal(store.size, 0);
  });

  test('End-of-RIB passes; clear() has nothing to withdraw', () => {
    const { rib } = loose();
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    const out = apply(rib, encodeEndOfRib(Family.IPv4Unicast, opts));
    assert.equal(out.endOfRib, Family.IPv4Unicast);
    apply(rib, encodeEndOfRib(Family.IPv6Unicast, opts));
    assert.deepEqual(drain(rib), ['announce 10.0.0.0/24', `eor ${V4}`, `eor ${V6}`]);
    // Session down: the consumer drops the peer's routes on the state event; no table to list.
    assert.equal(rib.clear(), 0);
    assert.equal(rib.hasPending, false);
  });
});

/** The frame with `extra` appended to its path attributes (lengths adjusted). */
function withAttribute(bytes: Uint8Array, extra: number[]): Buffer {
  const wlen = (bytes[19]! << 8) | bytes[20]!;
  const alenAt = 21 + wlen;
  const alen = (bytes[alenAt]! << 8) | bytes[alenAt + 1]!;
  const end = alenAt + 2 + alen;
  const out = Buffer.concat([bytes.subarray(0, end), Buffer.from(extra), bytes.subarray(end)]);
  out.writeUInt16BE(out.length, 16);
  out.writeUInt16BE(alen + extra.length, alenAt);
  return out;
}

describe('Adj-RIB-In frame fast path (applyFrame)', () => {
  test('prefix lists are lent to a batch and reused only after release()', () => {
    const store = new AttributeStore();
    const rib = new AdjRibIn('p', store);
    rib.retained = false;
    apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
    drain(rib);
    assert.equal(
      rib.applyFrame(frame(update(['10.1.0.0/24', '10.1.1.0/24'], attrsA)), true, false, both),
      true,
    );
    const b1 = rib.drain()!;
    const l1 = b1.entries[0]!.kind === 'announce' ? b1.entries[0]!.prefixes : null;
    // Not released yet: the next UPDATE gets another list, and b1's stays as it was.
    assert.equal(rib.applyFrame(frame(update(['10.2.0.0/24'], attrsA)), true, false, both), true);
    const b2 = rib.drain()!;
    assert.deepEqual(b1.entries.map(texts), ['announce 10.1.0.0/24,10.1.1.0/24']);
    assert.deepEqual(b2.entries.map(texts), ['announce 10.2.0.0/24']);
    rib.release(b1);
    rib.release(b2);
    // Released: a later UPDATE parses into one of those lists.
    assert.equal(rib.applyFrame(frame(update(['10.3.0.0/24'], attrsA)), true, false, both), true);
    const b3 = rib.drain()!;
    const l3 = b3.entries[0]!.kind === 'announce' ? b3.entries[0]!.prefixes : null;
    const l2 = b2.entries[0]!.kind === 'announce' ? b2.entries[0]!.prefixes : null;
    assert.ok(l3 === l1 || l3 === l2, 'a released list is reused');
    assert.deepEqual(b3.entries.map(texts), ['announce 10.3.0.0/24']);
    rib.release(b3);
    assert.equal(store.size, 0);
  });

  for (const retained of [true, false]) {
    test(`a known clean attribute set skips decoding with the same result (retained: ${retained})`, () => {
      const store = new AttributeStore();
      const rib = new AdjRibIn('p', store);
      rib.retained = retained;
      const first = frame(update(['10.0.0.0/24'], attrsA));
      assert.equal(rib.applyFrame(first, true, false, both), false, 'unknown set: decode first');
      apply(rib, first);
      assert.deepEqual(drain(rib), ['announce 10.0.0.0/24']);
      const next = frame(update(['10.0.1.0/24', '10.0.2.0/24'], attrsA, ['10.0.0.0/24', '10.7.0.0/24']));
      assert.equal(rib.applyFrame(next, true, false, both), true);
      const b = rib.drain();
      assert.ok(b);
      assert.deepEqual(
        b.entries.map(texts),
        retained
          ? ['withdraw 10.0.0.0/24', 'announce 10.0.1.0/24,10.0.2.0/24']
          : ['withdraw 10.0.0.0/24,10.7.0.0/24', 'announce 10.0.1.0/24,10.0.2.0/24'],
      );
      const e = b.entries[1];
      assert.ok(e?.kind === 'announce');
      if (e?.kind !== 'announce') return;
      assert.deepEqual(store.get(e.attrId)?.attributes.asPath, attrsA.asPath);
      rib.release(b);
      assert.equal(store.size, retained ? 1 : 0);
      assert.equal(rib.size(), retained ? 2 : 0);
      // Multiprotocol attributes, and sets decoded with an RFC 7606 error, take the full decode.
      const nh = new Uint8Array(16);
      nh[0] = 0x20;
      const v6: UpdateMessage = {
        ...update([], {}),
        attributes: {
          origin: 0,
          asPath: asPathFromSequence([65001]),
          mpReach: {
            afi: 2,
            safi: 1,
            nextHop: nh,
            nlri: prefixListFromStrings(2, ['2001:db8::/32']),
            rawNlri: null,
          },
        },
      };
      apply(rib, frame(v6));
      assert.equal(rib.applyFrame(frame(v6), true, false, both), false);
      // ATOMIC_AGGREGATE twice: RFC 7606 attribute discard, so the routes are kept but the set
      // was decoded with an error and every UPDATE carrying it must be decoded (and logged) again.
      const bad = withAttribute(
        frame(update(['10.0.3.0/24'], { ...attrsA, atomicAggregate: true })),
        [0x40, 0x06, 0x00],
      );
      const d = decodeMessage(bad, opts);
      assert.ok(d.ok && d.value.type === 'update' && d.value.errors.length > 0 && !d.value.treatAsWithdraw);
      apply(rib, bad);
      assert.deepEqual(drain(rib).at(-1), 'announce 10.0.3.0/24');
      assert.equal(rib.applyFrame(bad, true, false, both), false, 'never for a set decoded with errors');
      drain(rib);
    });
  }
});

test('turning retention off leaves no table behind (no families listed, no bytes held)', () => {
  const rib = new AdjRibIn('p', new AttributeStore());
  apply(rib, frame(update(['10.0.0.0/24'], attrsA)));
  drain(rib);
  assert.deepEqual(rib.families(), [Family.IPv4Unicast]);
  rib.retained = false;
  assert.deepEqual(rib.families(), []);
  assert.equal(rib.byteLength, 0);
});
