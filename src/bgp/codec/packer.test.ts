// The UPDATE packer: as few messages as the size allows, every prefix exactly once, sizes respected.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { asPathFromSequence, formatAsPath } from './aspath.ts';
import { decodeMessage, encodeEndOfRib, endOfRibFamily } from './messages.ts';
import { PrefixRangeGroup, packUpdates } from './packer.ts';
import { PrefixListBuilder, prefixListToStrings } from './prefix.ts';
import { arbCodecOptions, arbPrefixList } from './testing/arbitraries.ts';
import { type CodecOptions, Family, type PathAttributes, type UpdateMessage } from './types.ts';

const V4: PathAttributes = {
  origin: 0,
  asPath: asPathFromSequence([65001, 65002]),
  nextHop: 0xc0000201,
  med: 5,
};
const V6: PathAttributes = { origin: 0, asPath: asPathFromSequence([65001]) };
const NH6 = new Uint8Array(16).fill(0x20);

function decodeAll(messages: Buffer[], opts: CodecOptions): UpdateMessage[] {
  return messages.map((m) => {
    const d = decodeMessage(m, opts);
    if (!d.ok) assert.fail(d.error.reason);
    assert.equal(d.value.type, 'update');
    return d.value as UpdateMessage;
  });
}

/** Codec options, with an IPv4 and an IPv6 prefix list whose path ids follow the options. */
const arbOptionsAndLists = arbCodecOptions.chain((opts) =>
  fc.tuple(
    fc.constant(opts),
    arbPrefixList(1, opts.addPath.has(Family.IPv4Unicast), 400),
    arbPrefixList(2, opts.addPath.has(Family.IPv6Unicast), 400),
  ),
);

/** The announced prefixes of decoded UPDATEs: the NLRI field's, and MP_REACH_NLRI's. */
function announcedOf(decoded: UpdateMessage[]): { v4: string[]; mp: string[] } {
  return {
    v4: decoded.flatMap((u) => prefixListToStrings(u.nlri, true)),
    mp: decoded.flatMap((u) =>
      u.attributes.mpReach?.nlri ? prefixListToStrings(u.attributes.mpReach.nlri, true) : [],
    ),
  };
}

function manyV4(n: number): ReturnType<PrefixListBuilder['finish']> {
  const b = new PrefixListBuilder(1);
  for (let i = 0; i < n; i++) b.addIPv4((0x0a000000 + i * 256) >>> 0, 24);
  return b.finish();
}

describe('packUpdates', () => {
  test('packs /24s into the minimum number of 4096-octet UPDATEs', () => {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    const prefixes = manyV4(5000);
    const out = packUpdates([{ family: Family.IPv4Unicast, attributes: V4, prefixes }], [], opts);
    const attrLen = 4 + 13 + 7 + 7; // ORIGIN, AS_PATH (2 x 4-octet), NEXT_HOP, MED
    const perMsg = Math.floor((4096 - 23 - attrLen) / 4);
    assert.equal(out.messages.length, Math.ceil(5000 / perMsg));
    assert.equal(out.prefixCount, 5000);
    for (const m of out.messages) assert.ok(m.length <= 4096);
    // every message but the last is full: one more /24 (4 octets) would not fit
    for (const m of out.messages.slice(0, -1))
      assert.ok(m.length + 4 > 4096, `message of ${m.length} is not full`);
    const decoded = decodeAll(out.messages, opts);
    assert.deepStrictEqual(
      decoded.flatMap((u) => prefixListToStrings(u.nlri)),
      prefixListToStrings(prefixes),
    );
    for (const u of decoded) assert.equal(formatAsPath(u.attributes.asPath!), '65001 65002');
  });

  test('extended messages (RFC 8654) allow 65535-octet UPDATEs', () => {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: true, addPath: new Set() };
    const out = packUpdates(
      [{ family: Family.IPv4Unicast, attributes: V4, prefixes: manyV4(40000) }],
      [],
      opts,
    );
    assert.equal(out.messages.length, 3);
    for (const m of out.messages) assert.ok(m.length <= 65535);
  });

  test('IPv6 goes in MP_REACH / MP_UNREACH; IPv4 withdrawals in the Withdrawn Routes field', () => {
    const opts: CodecOptions = {
      fourOctetAs: false,
      extendedMessage: false,
      addPath: new Set([Family.IPv6Unicast]),
    };
    const b = new PrefixListBuilder(2, true);
    for (let i = 0; i < 3000; i++) b.addIPv6(0x20010db8, i, 0, 0, 48, i);
    const v6 = b.finish();
    const out = packUpdates(
      [{ family: Family.IPv6Unicast, attributes: V6, prefixes: v6, mpNextHop: NH6 }],
      [
        { family: Family.IPv6Unicast, prefixes: v6 },
        { family: Family.IPv4Unicast, prefixes: manyV4(2000) },
      ],
      opts,
    );
    const decoded = decodeAll(out.messages, opts);
    const withdrawn6 = decoded.flatMap((u) =>
      u.attributes.mpUnreach?.nlri ? prefixListToStrings(u.attributes.mpUnreach.nlri, true) : [],
    );
    const reach6 = decoded.flatMap((u) =>
      u.attributes.mpReach?.nlri ? prefixListToStrings(u.attributes.mpReach.nlri, true) : [],
    );
    const withdrawn4 = decoded.flatMap((u) => prefixListToStrings(u.withdrawn));
    assert.deepStrictEqual(withdrawn6, prefixListToStrings(v6, true));
    assert.deepStrictEqual(reach6, prefixListToStrings(v6, true));
    assert.equal(withdrawn4.length, 2000);
    assert.equal(out.prefixCount, 8000);
    for (const m of out.messages) assert.ok(m.length <= 4096);
  });

  test('2-octet peers get AS_TRANS + AS4_PATH, decoded back to the 4-octet path', () => {
    const opts: CodecOptions = { fourOctetAs: false, extendedMessage: false, addPath: new Set() };
    const attrs = { ...V4, asPath: asPathFromSequence([4200000000, 65001]) };
    const out = packUpdates(
      [{ family: Family.IPv4Unicast, attributes: attrs, prefixes: manyV4(3) }],
      [],
      opts,
    );
    assert.equal(out.messages.length, 1);
    const raw = out.messages[0]!;
    assert.ok(
      raw.includes(Buffer.from([0x40, 0x02, 0x06, 0x02, 0x02, 0x5b, 0xa0, 0xfd, 0xe9])),
      'AS_PATH with AS_TRANS',
    );
    assert.ok(raw.includes(Buffer.from([0xc0, 0x11, 0x0a, 0x02, 0x02, 0xfa, 0x56, 0xea, 0x00])), 'AS4_PATH');
    const [u] = decodeAll(out.messages, opts);
    assert.equal(formatAsPath(u!.attributes.asPath!), '4200000000 65001');
    assert.equal(u!.attributes.as4Path, undefined);
  });

  test('an attribute set too large for one message is reported, not thrown', () => {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    const attrs = { ...V4, communities: new Uint32Array(1100) };
    const out = packUpdates(
      [{ family: Family.IPv4Unicast, attributes: attrs, prefixes: manyV4(1) }],
      [],
      opts,
    );
    assert.equal(out.messages.length, 0);
    assert.equal(out.failed.length, 1);
  });

  test('a frozen (interned) set is encoded once per AS width and reused; a mutable one every time', () => {
    const as4: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    const as2: CodecOptions = { ...as4, fourOctetAs: false };
    const frozen = Object.freeze({ ...V4, asPath: asPathFromSequence([4200000000, 65001]) });
    const pack = (attributes: PathAttributes, opts: CodecOptions) =>
      packUpdates([{ family: Family.IPv4Unicast, attributes, prefixes: manyV4(2) }], [], opts).messages;
    const first4 = pack(frozen, as4)[0]!;
    const first2 = pack(frozen, as2)[0]!;
    // The cache keeps the two encodings apart: AS_TRANS + AS4_PATH only for the 2-octet peer.
    assert.deepEqual(pack(frozen, as4)[0], first4);
    assert.deepEqual(pack(frozen, as2)[0], first2);
    assert.notDeepEqual(first2, first4);
    assert.equal(formatAsPath(decodeAll([first2], as2)[0]!.attributes.asPath!), '4200000000 65001');
    // A mutable object is encoded as it is now, not as it was.
    const mutable: PathAttributes = { ...V4 };
    const before = pack(mutable, as4)[0]!;
    mutable.med = 77;
    const after = decodeAll(pack(mutable, as4), as4)[0]!;
    assert.equal(after.attributes.med, 77);
    assert.notDeepEqual(pack(mutable, as4)[0], before);
  });

  test('a frozen set cached from an extended-message session still fails a 4096-octet one', () => {
    const ext: CodecOptions = { fourOctetAs: true, extendedMessage: true, addPath: new Set() };
    const big = Object.freeze({ ...V4, communities: new Uint32Array(1100) });
    const pack = (opts: CodecOptions) =>
      packUpdates([{ family: Family.IPv4Unicast, attributes: big, prefixes: manyV4(1) }], [], opts);
    assert.equal(pack(ext).messages.length, 1);
    const small = pack({ ...ext, extendedMessage: false });
    assert.equal(small.messages.length, 0);
    assert.equal(small.failed.length, 1);
    assert.match(small.failed[0]!.reason, /does not fit a 4096-octet UPDATE/);
  });

  test('property: every prefix is sent once, in order, within the size limit', () => {
    fc.assert(
      fc.property(arbOptionsAndLists, ([opts, v4, v6]) => {
        const out = packUpdates(
          [
            { family: Family.IPv4Unicast, attributes: V4, prefixes: v4 },
            { family: Family.IPv6Unicast, attributes: V6, prefixes: v6, mpNextHop: NH6 },
          ],
          [{ family: Family.IPv4Unicast, prefixes: v4 }],
          opts,
        );
        const max = opts.extendedMessage ? 65535 : 4096;
        // chunks hold exactly the messages, in order
        assert.equal(out.messageCount, out.messages.length);
        assert.deepStrictEqual(Buffer.concat(out.chunks), Buffer.concat(out.messages));
        for (const m of out.messages) assert.ok(m.length <= max);
        const decoded = decodeAll(out.messages, opts);
        assert.deepStrictEqual(announcedOf(decoded), {
          v4: prefixListToStrings(v4, true),
          mp: prefixListToStrings(v6, true),
        });
        assert.deepStrictEqual(
          decoded.flatMap((u) => prefixListToStrings(u.withdrawn, true)),
          prefixListToStrings(v4, true),
        );
      }),
      { numRuns: 200 },
    );
  });

  test('property: a range group packs the same UPDATEs as a group of just those prefixes', () => {
    fc.assert(
      fc.property(arbOptionsAndLists, fc.nat(), fc.nat(), ([opts, v4, v6], x, y) => {
        // The same [start, start + count) of each list, as a range and as a list of its own.
        const cut = (n: number): [number, number] => {
          const start = n === 0 ? 0 : x % (n + 1);
          return [start, n - start === 0 ? 0 : y % (n - start + 1)];
        };
        const [s4, c4] = cut(v4.count);
        const [s6, c6] = cut(v6.count);
        const ranged = [
          new PrefixRangeGroup(Family.IPv4Unicast, V4, undefined, v4, s4, c4),
          new PrefixRangeGroup(Family.IPv6Unicast, V6, NH6, v6, s6, c6),
        ];
        const plain = ranged.map((g) => ({ ...g, prefixes: g.prefixes }));
        assert.ok(!(plain[0] instanceof PrefixRangeGroup), 'a spread copy is a plain group');
        assert.equal(ranged[0]!.prefixes.count, c4);
        const a = packUpdates(ranged, [], opts);
        const b = packUpdates(plain, [], opts);
        assert.equal(a.prefixCount, c4 + c6);
        assert.deepStrictEqual(Buffer.concat(a.chunks), Buffer.concat(b.chunks));
        assert.deepStrictEqual(announcedOf(decodeAll(a.messages, opts)), {
          v4: prefixListToStrings(v4, true).slice(s4, s4 + c4),
          mp: prefixListToStrings(v6, true).slice(s6, s6 + c6),
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe('End-of-RIB (RFC 4724 §2)', () => {
  test('encode and detect for IPv4 and IPv6 unicast', () => {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    for (const fam of [Family.IPv4Unicast, Family.IPv6Unicast, Family.IPv4Multicast]) {
      const bytes = encodeEndOfRib(fam, opts);
      const d = decodeMessage(bytes, opts);
      assert.ok(d.ok && d.value.type === 'update');
      assert.equal(endOfRibFamily(d.value), fam);
    }
    assert.equal(encodeEndOfRib(Family.IPv4Unicast, opts).length, 23);
    const [u] = decodeAll(
      packUpdates([{ family: Family.IPv4Unicast, attributes: V4, prefixes: manyV4(1) }], [], opts).messages,
      opts,
    );
    assert.equal(endOfRibFamily(u!), null);
  });
});
