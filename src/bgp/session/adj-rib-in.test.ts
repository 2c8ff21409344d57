import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  asPathFromSequence,
  type CodecOptions,
  decodeMessage,
  emptyPrefixList,
  encodeEndOfRib,
  encodeMessage,
  Family,
  type PathAttributes,
  prefixListFromStrings,
  prefixListToStrings,
  type UpdateMessage,
} from '../codec/index.ts';
import { AdjRibIn, type AdjRibInEntry } from './adj-rib-in.ts';
import { AttributeStore } from './attr-store.ts';

const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
const both = new Set([Family.IPv4Unicast, Family.IPv6Unicast]);

function frame(msg: UpdateMessage): Buffer {
  const e = encodeMessage(msg, opts);
  if (!e.ok) throw new Error(e.reason);
  return e.bytes;
}

function update(nlri: string[], attrs: PathAttributes, withdrawn: string[] = []): UpdateMessage {
  return {
    type: 'update',
    withdrawn: withdrawn.length ? prefixListFromStrings(1, withdrawn) : emptyPrefixList(1),
    attributes: attrs,
    nlri: nlri.length ? prefixListFromStrings(1, nlri) : emptyPrefixList(1),
    treatAsWithdraw: false,
    errors: [],
  };
}

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
