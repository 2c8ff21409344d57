// Generic dns-packet style round trip over every codec: encode -> decode equal, bytes written ===
// encodingLength, re-encode stable, encode at an offset. Fixed examples plus fast-check properties
// (decode(encode(m)) equals m for random valid messages under random session options).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { asPathFromSegments, asPathWireLength, parseAsPath, writeAsPath } from './aspath.ts';
import { decodePathAttributes, encodePathAttributes, pathAttributesLength } from './attributes.ts';
import { capabilityCodec } from './capabilities.ts';
import { messageCodec } from './messages.ts';
import { encodePrefixes, parsePrefixes, prefixesEncodingLength, prefixListFromStrings } from './prefix.ts';
import {
  arbCapability,
  arbCodecOptions,
  arbMessage,
  arbPathAttributes,
  arbPrefixList,
} from './testing/arbitraries.ts';
import { presentFields } from './testing/present-fields.ts';
import {
  type AsPath,
  type BgpMessage,
  type Capability,
  type Codec,
  type CodecOptions,
  DEFAULT_CODEC_OPTIONS,
  Family,
  type PathAttributes,
  type PrefixList,
} from './types.ts';

/** What a value decodes back to (the OPEN's extended flag is implied by the parameter size). */
function normalize<T>(codec: Codec<T>, value: T, opts: CodecOptions): T {
  if (codec === (messageCodec as unknown)) {
    const m = value as BgpMessage;
    if (m.type === 'open') {
      let capLen = 0;
      for (const c of m.capabilities) capLen += capabilityCodec.encodingLength(c, opts);
      // RFC 9072: the encoder switches to the extended format when the parameters exceed 255 octets
      const extended = m.extendedOptionalParameters === true || capLen + 2 > 255;
      const { extendedOptionalParameters: _drop, ...rest } = m;
      return (extended ? { ...rest, extendedOptionalParameters: true } : rest) as T;
    }
  }
  return value;
}

function testCodec<T>(codec: Codec<T>, value: T, opts: CodecOptions): void {
  const len = codec.encodingLength(value, opts);
  const buf = Buffer.alloc(len);
  const written = codec.encode(value, opts, buf, 0);
  assert.equal(written, len, 'bytes written === encodingLength');
  const decoded = codec.decode(buf, 0, len, opts);
  if (!decoded.ok) assert.fail(`decode failed: ${decoded.error.reason}`);
  assert.deepStrictEqual(presentFields(decoded.value), presentFields(normalize(codec, value, opts)));
  // re-encoding the decoded value gives the same bytes
  const again = Buffer.alloc(codec.encodingLength(decoded.value, opts));
  codec.encode(decoded.value, opts, again, 0);
  assert.deepStrictEqual(again, buf, 're-encode is stable');
  // encode at an offset inside a larger buffer
  const big = Buffer.alloc(len + 20, 0xaa);
  assert.equal(codec.encode(value, opts, big, 10), len);
  assert.deepStrictEqual(big.subarray(10, 10 + len), buf);
  assert.equal(big[9], 0xaa);
  assert.equal(big[10 + len], 0xaa, 'nothing written past encodingLength');
  const atOffset = codec.decode(big, 10, 10 + len, opts);
  assert.ok(atOffset.ok);
  assert.deepStrictEqual(atOffset.value, decoded.value);
}

// Codecs over the building blocks, in the same abstract-encoding shape.
const attributesCodec: Codec<PathAttributes> = {
  encodingLength: pathAttributesLength,
  encode: (v, o, buf, off) => encodePathAttributes(v, o, buf, off) - off,
  decode(buf, start, end, o) {
    const r = decodePathAttributes(buf, start, end, o);
    if (!r.ok) return r;
    if (r.value.errors.length > 0)
      assert.fail(`attribute errors: ${r.value.errors.map((e) => e.reason).join('; ')}`);
    return { ok: true, value: r.value.attributes };
  },
};

function prefixCodec(afi: 1 | 2, family: number): Codec<PrefixList> {
  return {
    encodingLength: (v, o) => prefixesEncodingLength(v, 0, v.count, o.addPath.has(family)),
    encode: (v, o, buf, off) => encodePrefixes(v, 0, v.count, o.addPath.has(family), buf, off) - off,
    decode(buf, start, end, o) {
      const r = parsePrefixes(buf, start, end, afi, o.addPath.has(family));
      if (typeof r === 'string') assert.fail(r);
      return { ok: true, value: r };
    },
  };
}

function asPathCodec(asSize: 2 | 4): Codec<AsPath> {
  return {
    encodingLength: (v) => asPathWireLength(v, asSize),
    encode: (v, _o, buf, off) => writeAsPath(v, asSize, buf, off) - off,
    decode(buf, start, end) {
      const r = parseAsPath(buf, start, end, asSize);
      if (typeof r === 'string') assert.fail(r);
      return { ok: true, value: r };
    },
  };
}

const FOUR: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
const ADDPATH: CodecOptions = {
  fourOctetAs: true,
  extendedMessage: true,
  addPath: new Set([Family.IPv4Unicast, Family.IPv6Unicast]),
};

describe('codec round trip: fixed examples', () => {
  test('every message type', () => {
    const v4 = prefixListFromStrings(1, ['10.0.0.0/8', '192.0.2.0/24', '0.0.0.0/0', '198.51.100.7/32']);
    const v6 = prefixListFromStrings(2, ['2001:db8::/32', '::/0', '2001:db8:1:2::/64', '2001:db8::1/128']);
    const messages: BgpMessage[] = [
      { type: 'keepalive' },
      { type: 'notification', code: 6, subcode: 2, data: new Uint8Array([3, 0x62, 0x79, 0x65]) },
      { type: 'route-refresh', afi: 2, safi: 1, subtype: 1 },
      {
        type: 'open',
        version: 4,
        myAs: 23456,
        holdTime: 90,
        bgpId: 0x0a000001,
        capabilities: [
          { kind: 'multiprotocol', afi: 1, safi: 1 },
          { kind: 'four-octet-as', asn: 4200000000 },
          { kind: 'add-path', families: [{ afi: 1, safi: 1, mode: 3 }] },
          { kind: 'fqdn', hostname: 'r1', domainName: 'example.net' },
        ],
      },
      {
        type: 'update',
        withdrawn: v4,
        attributes: {
          origin: 0,
          asPath: asPathFromSegments([
            { type: 2, asns: [65001, 4200000000] },
            { type: 1, asns: [1, 2] },
          ]),
          nextHop: 0xc0000201,
          med: 10,
          localPref: 100,
          communities: Uint32Array.of(0xfde80064),
          mpReach: { afi: 2, safi: 1, nextHop: new Uint8Array(32).fill(0x20), nlri: v6, rawNlri: null },
          largeCommunities: Uint32Array.of(4200000000, 1, 2),
          otc: 65001,
        },
        nlri: v4,
        treatAsWithdraw: false,
        errors: [],
      },
    ];
    for (const opts of [DEFAULT_CODEC_OPTIONS, FOUR]) {
      for (const m of messages) testCodec(messageCodec, m, opts);
    }
  });

  test('prefix lists with and without path ids', () => {
    const v4 = prefixListFromStrings(1, ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/23'], [1, 2, 0xffffffff]);
    testCodec(prefixCodec(1, Family.IPv4Unicast), v4, ADDPATH);
    const v6 = prefixListFromStrings(2, ['2001:db8:ffff::/48', 'fe80::/10']);
    testCodec(prefixCodec(2, Family.IPv6Unicast), v6, FOUR);
  });

  test('AS paths with 2- and 4-octet ASNs and all segment types', () => {
    const p = asPathFromSegments([
      { type: 3, asns: [64512] },
      { type: 4, asns: [64513, 64514] },
      { type: 2, asns: [1, 2, 3] },
      { type: 1, asns: [7, 8] },
    ]);
    testCodec(asPathCodec(2), p, DEFAULT_CODEC_OPTIONS);
    testCodec(asPathCodec(4), asPathFromSegments([{ type: 2, asns: [4200000000, 1] }]), FOUR);
  });
});

describe('codec round trip: properties', () => {
  test('decode(encode(m)) equals m for random messages under random session options', () => {
    fc.assert(
      fc.property(
        arbCodecOptions.chain((opts) => fc.tuple(fc.constant(opts), arbMessage(opts))),
        ([opts, m]) => {
          const max = m.type === 'open' || !opts.extendedMessage ? 4096 : 65535;
          fc.pre(messageCodec.encodingLength(m, opts) <= max);
          testCodec(messageCodec, m, opts);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test('every capability round-trips as a TLV', () => {
    fc.assert(
      fc.property(arbCapability, (c: Capability) => {
        testCodec(capabilityCodec, c, FOUR);
      }),
      { numRuns: 500 },
    );
  });

  test('every attribute set round-trips as an attribute block', () => {
    fc.assert(
      fc.property(
        arbCodecOptions.chain((opts) => fc.tuple(fc.constant(opts), arbPathAttributes(opts))),
        ([opts, a]) => {
          testCodec(attributesCodec, a, opts);
        },
      ),
      { numRuns: 800 },
    );
  });

  test('prefix lists round-trip for both families, with and without ADD-PATH', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc
          .boolean()
          .chain((v6) =>
            fc.tuple(fc.constant(v6), arbPrefixList(v6 ? 2 : 1, true), arbPrefixList(v6 ? 2 : 1, false)),
          ),
        (useIds, [v6, withIds, withoutIds]) => {
          const fam = v6 ? Family.IPv6Unicast : Family.IPv4Unicast;
          const opts: CodecOptions = { ...FOUR, addPath: useIds ? new Set([fam]) : new Set() };
          testCodec(prefixCodec(v6 ? 2 : 1, fam), useIds ? withIds : withoutIds, opts);
        },
      ),
      { numRuns: 400 },
    );
  });
});
