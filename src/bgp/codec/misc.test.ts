// AS path helpers and the RFC 6793 merge, prefix text helpers, NOTIFICATION names and RFC 9003.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatIPv4, formatIPv6Words, parseIPv4, parseIPv6 } from './address.ts';
import {
  asPathFromSegments,
  asPathFromSequence,
  asPathLength,
  asPathOriginAs,
  asPathPrepend,
  formatAsPath,
  mergeAs4Path,
} from './aspath.ts';
import { applyAs4Merge, decodePathAttributes } from './attributes.ts';
import { decodeShutdownCommunication, encodeShutdownCommunication, notificationName } from './errors.ts';
import { decodeMessage, encodeMessage } from './messages.ts';
import {
  decodeNlri,
  encodePrefixes,
  formatPrefix,
  parsePrefix,
  parsePrefixes,
  prefixesEncodingLength,
  prefixListFromStrings,
  prefixListToStrings,
} from './prefix.ts';
import { AS_TRANS, type CodecOptions, type PathAttributes } from './types.ts';

const seq = asPathFromSequence;

describe('RFC 6793 §4.2.3 AS4_PATH merge', () => {
  test('leading 2-octet ASes are kept, the rest comes from AS4_PATH', () => {
    // OLD speakers 100 and 200 prepended after the NEW speaker's 4-octet path
    const merged = mergeAs4Path(seq([100, 200, AS_TRANS, 300]), seq([4200000000, 300]));
    assert.equal(formatAsPath(merged), '100 200 4200000000 300');
  });
  test('AS4_PATH longer than AS_PATH is ignored', () => {
    const merged = mergeAs4Path(seq([100, AS_TRANS]), seq([1, 2, 3]));
    assert.equal(formatAsPath(merged), `100 ${AS_TRANS}`);
  });
  test('an AS_SET counts as one and leading confederation segments are kept', () => {
    const as2 = asPathFromSegments([
      { type: 3, asns: [64512] },
      { type: 2, asns: [100] },
      { type: 1, asns: [AS_TRANS, 7] },
    ]);
    const as4 = asPathFromSegments([{ type: 1, asns: [4200000000, 7] }]);
    assert.equal(formatAsPath(mergeAs4Path(as2, as4)), '(64512) 100 {4200000000 7}');
  });
  test('AGGREGATOR other than AS_TRANS makes AS4_PATH and AS4_AGGREGATOR ignored', () => {
    const a: PathAttributes = {
      asPath: seq([AS_TRANS]),
      aggregator: { asn: 100, address: 1 },
      as4Path: seq([4200000000]),
      as4Aggregator: { asn: 4200000001, address: 1 },
    };
    applyAs4Merge(a);
    assert.equal(formatAsPath(a.asPath!), String(AS_TRANS));
    assert.equal(a.aggregator?.asn, 100);
    assert.equal(a.as4Path, undefined);
  });
  test('decoding from a 2-octet peer applies the merge; from a 4-octet speaker (MRT) both are exposed', () => {
    // AS_PATH 100 23456, AS4_PATH 4200000000, AGGREGATOR AS_TRANS, AS4_AGGREGATOR 4200000001
    const block2 = [
      0x40, 2, 6, 2, 2, 0, 100, 0x5b, 0xa0, 0xc0, 7, 6, 0x5b, 0xa0, 10, 0, 0, 1, 0xc0, 17, 6, 2, 1, 0xfa,
      0x56, 0xea, 0, 0xc0, 18, 8, 0xfa, 0x56, 0xea, 1, 10, 0, 0, 1,
    ];
    const two: CodecOptions = { fourOctetAs: false, extendedMessage: false, addPath: new Set() };
    const r = decodePathAttributes(Uint8Array.from(block2), 0, block2.length, two);
    assert.ok(r.ok);
    assert.equal(formatAsPath(r.value.attributes.asPath!), '100 4200000000');
    assert.deepStrictEqual(r.value.attributes.aggregator, { asn: 4200000001, address: 0x0a000001 });
    assert.equal(r.value.attributes.as4Path, undefined);
  });
});

describe('AS path helpers', () => {
  test('length, origin, prepend, text', () => {
    const p = asPathFromSegments([
      { type: 2, asns: [1, 2] },
      { type: 1, asns: [3, 4, 5] },
      { type: 3, asns: [6] },
    ]);
    assert.equal(asPathLength(p), 3);
    assert.equal(asPathOriginAs(p), null);
    assert.equal(asPathOriginAs(seq([1, 2, 3])), 3);
    assert.equal(formatAsPath(asPathPrepend(p, 9, 2)), '9 9 1 2 {3 4 5} (6)');
    assert.equal(formatAsPath(asPathPrepend(asPathFromSegments([{ type: 1, asns: [3] }]), 9)), '9 {3}');
  });
  test('segments longer than 255 ASNs are split on the wire', () => {
    const long = seq(Array.from({ length: 600 }, (_, i) => i + 1));
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    const e = encodeMessage(
      {
        type: 'update',
        withdrawn: prefixListFromStrings(1, []),
        attributes: { origin: 0, asPath: long, nextHop: 0x01010101 },
        nlri: prefixListFromStrings(1, ['10.0.0.0/8']),
        treatAsWithdraw: false,
        errors: [],
      },
      opts,
    );
    assert.ok(e.ok);
    const d = decodeMessage(e.bytes, opts);
    assert.ok(d.ok && d.value.type === 'update');
    assert.equal(asPathLength(d.value.attributes.asPath!), 600);
  });
});

describe('prefix and address text', () => {
  test('parse and format both families', () => {
    assert.deepStrictEqual(parsePrefix('10.1.2.0/23'), { afi: 1, length: 23, words: [0x0a010200] });
    assert.equal(parsePrefix('10.1.2.0/33'), null);
    assert.equal(parsePrefix('10.1.2/8'), null);
    assert.equal(parsePrefix('2001:db8::/129'), null);
    const l = prefixListFromStrings(
      2,
      ['2001:db8::/32', '::/0', '2001:db8:0:0:1::/80', '::ffff:1.2.3.4/128'],
      [5, 6, 7, 8],
    );
    assert.deepStrictEqual(prefixListToStrings(l), [
      '2001:db8::/32',
      '::/0',
      '2001:db8:0:0:1::/80',
      '::ffff:102:304/128',
    ]);
    assert.equal(formatPrefix(l, 0, true), '2001:db8::/32 path-id 5');
    // host bits are cleared
    assert.deepStrictEqual(prefixListToStrings(prefixListFromStrings(1, ['10.1.2.3/8'])), ['10.0.0.0/8']);
  });
  test('decodeNlri: standalone NLRI as a typed result', () => {
    const ok = decodeNlri(Uint8Array.of(0, 0, 0, 1, 24, 10, 1, 2), 0, 8, 1, true);
    assert.ok(ok.ok);
    assert.deepStrictEqual(prefixListToStrings(ok.value, true), ['10.1.2.0/24 path-id 1']);
    const bad = decodeNlri(Uint8Array.of(40, 1, 2, 3, 4, 5), 0, 6, 1, false);
    assert.ok(!bad.ok);
    assert.equal(bad.error.notification.subcode, 10);
  });
  test('addresses', () => {
    assert.equal(formatIPv4(0xc0000201), '192.0.2.1');
    assert.equal(parseIPv4('256.0.0.1'), null);
    assert.equal(parseIPv4('01.2.3.4'), null);
    assert.equal(formatIPv6Words(0x20010db8, 0, 0, 1), '2001:db8::1');
    assert.equal(formatIPv6Words(0x20010000, 0, 0x10000, 0), '2001::1:0:0:0'); // RFC 5952 §4.2.3: first of equal runs
    assert.equal(parseIPv6('1::2::3'), null);
    assert.deepStrictEqual(parseIPv6('fe80::1'), [0xfe800000, 0, 0, 1]);
  });
});

describe('NOTIFICATION names and RFC 9003 shutdown communication', () => {
  test('names of RFC 4271 / RFC 4486 codes', () => {
    assert.equal(notificationName(6, 2), 'Cease / Administrative Shutdown');
    assert.equal(notificationName(6, 8), 'Cease / Out of Resources');
    assert.equal(notificationName(3, 11), 'UPDATE Message Error / Malformed AS_PATH');
    assert.equal(notificationName(1, 1), 'Message Header Error / Connection Not Synchronized');
    assert.equal(notificationName(2, 6), 'OPEN Message Error / Unacceptable Hold Time');
    assert.equal(notificationName(4, 0), 'Hold Timer Expired / Unspecific');
    assert.equal(notificationName(9, 9), 'Unknown error code 9 / Unknown subcode 9');
  });
  test('encode/decode, truncation at 255 octets on a character boundary, invalid input', () => {
    const d = encodeShutdownCommunication('maintenance – back at 10:00');
    const r = decodeShutdownCommunication(d);
    assert.ok(r.ok);
    assert.equal(r.message, 'maintenance – back at 10:00');
    const long = encodeShutdownCommunication('é'.repeat(200));
    assert.equal(long[0], 254);
    assert.ok(decodeShutdownCommunication(long).ok);
    assert.equal(decodeShutdownCommunication(Uint8Array.of(5, 0x61)).ok, false);
    assert.equal(decodeShutdownCommunication(Uint8Array.of(1, 0xff)).ok, false);
    const empty = decodeShutdownCommunication(new Uint8Array(0));
    assert.ok(empty.ok && empty.message === '');
  });
});

describe('parsePrefixes into a reused list', () => {
  const wire = (afi: 1 | 2, prefixes: string[], withPathIds = false) => {
    const list = prefixListFromStrings(
      afi,
      prefixes,
      withPathIds ? prefixes.map((_, i) => i + 7) : undefined,
    );
    const buf = new Uint8Array(prefixesEncodingLength(list, 0, list.count, withPathIds));
    encodePrefixes(list, 0, list.count, withPathIds, buf, 0);
    return buf;
  };
  for (const [afi, big, small] of [
    [1, ['10.0.0.0/8', '192.168.10.0/24', '172.16.0.0/12', '0.0.0.0/0'], ['10.1.2.3/32']],
    [2, ['2001:db8:ffff::/48', 'fd00::/8', '2001:db8::1/128'], ['2001:db8:1::/64']],
  ] as const) {
    test(`IPv${afi === 1 ? 4 : 6}: the same list object, its arrays reused, contents as a fresh parse`, () => {
      const into = { afi, count: 0, lengths: new Uint8Array(1), words: new Uint32Array(4), pathIds: null };
      const a = parsePrefixes(wire(afi, [...big]), 0, wire(afi, [...big]).length, afi, false, into);
      assert.equal(a, into);
      assert.deepEqual(prefixListToStrings(into), [...big]);
      const lengths = into.lengths;
      // A shorter list next: same arrays, stale words from the longer one do not leak in.
      const b = parsePrefixes(wire(afi, [...small]), 0, wire(afi, [...small]).length, afi, false, into);
      assert.equal(b, into);
      assert.equal(into.lengths, lengths, 'arrays reused');
      assert.deepEqual(prefixListToStrings(into), [...small]);
      // An empty field gives an empty list and leaves `into` alone.
      const empty = parsePrefixes(new Uint8Array(0), 0, 0, afi, false, into);
      assert.notEqual(empty, into);
      assert.equal(typeof empty !== 'string' && empty.count, 0);
      assert.deepEqual(prefixListToStrings(into), [...small]);
    });
  }
  test('ADD-PATH: path ids land in the reused list; a malformed field leaves a reason', () => {
    const into = {
      afi: 1 as const,
      count: 0,
      lengths: new Uint8Array(0),
      words: new Uint32Array(0),
      pathIds: new Uint32Array(0),
    };
    const buf = wire(1, ['10.0.0.0/8', '10.9.0.0/16'], true);
    assert.equal(parsePrefixes(buf, 0, buf.length, 1, true, into), into);
    assert.deepEqual([...into.pathIds.subarray(0, into.count)], [7, 8]);
    assert.match(String(parsePrefixes(Uint8Array.of(33, 1, 2, 3, 4), 0, 5, 1, false, into)), /exceeds 32/);
  });
});
