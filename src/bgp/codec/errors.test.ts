// One test per RFC 4271 §6 error case the codec can detect, and per RFC 7606 attribute rule,
// on hand-written bytes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePathAttributes } from './attributes.ts';
import { decodeMessage } from './messages.ts';
import { prefixListToStrings } from './prefix.ts';
import type { BgpMessage, CodecOptions, DecodeResult, UpdateMessage } from './types.ts';

const FOUR: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
const EXT: CodecOptions = { fourOctetAs: true, extendedMessage: true, addPath: new Set() };

function msg(type: number, body: readonly number[], lengthOverride?: number): Buffer {
  const buf = Buffer.alloc(19 + body.length);
  buf.fill(0xff, 0, 16);
  buf.writeUInt16BE(lengthOverride ?? 19 + body.length, 16);
  buf[18] = type;
  buf.set(body, 19);
  return buf;
}

function attr(flags: number, code: number, ...value: number[]): number[] {
  if (flags & 0x10) return [flags, code, value.length >> 8, value.length & 0xff, ...value];
  return [flags, code, value.length, ...value];
}

const ORIGIN = attr(0x40, 1, 0);
const AS_PATH = attr(0x40, 2, 2, 1, 0, 0, 0xfd, 0xe9);
const NEXT_HOP = attr(0x40, 3, 192, 0, 2, 1);
const NLRI = [24, 10, 0, 0];

function update(
  attrs: readonly number[][],
  nlri: readonly number[] = NLRI,
  withdrawn: readonly number[] = [],
): Buffer {
  const a = attrs.flat();
  return msg(2, [
    withdrawn.length >> 8,
    withdrawn.length & 0xff,
    ...withdrawn,
    a.length >> 8,
    a.length & 0xff,
    ...a,
    ...nlri,
  ]);
}

function expectError(
  r: DecodeResult<BgpMessage>,
  code: number,
  subcode: number,
  data?: readonly number[],
): void {
  if (r.ok) assert.fail(`expected NOTIFICATION ${code}/${subcode}, decoded ${r.value.type}`);
  assert.equal(r.error.action, 'session-reset');
  assert.equal(r.error.notification.code, code, r.error.reason);
  assert.equal(r.error.notification.subcode, subcode, r.error.reason);
  if (data !== undefined) assert.deepStrictEqual(Array.from(r.error.notification.data), data);
}

function expectUpdate(r: DecodeResult<BgpMessage>): UpdateMessage {
  if (!r.ok) assert.fail(`unexpected error: ${r.error.reason}`);
  assert.equal(r.value.type, 'update');
  return r.value as UpdateMessage;
}

/** Decodes an UPDATE whose only fault is `bad` and checks the RFC 7606 outcome. */
function expectOutcome(
  bad: number[],
  others: number[][],
  action: 'treat-as-withdraw' | 'attribute-discard',
  code: number,
): UpdateMessage {
  const u = expectUpdate(decodeMessage(update([...others, bad]), FOUR));
  assert.equal(u.treatAsWithdraw, action === 'treat-as-withdraw');
  assert.ok(
    u.errors.some((e) => e.action === action && e.attributeCode === code),
    `expected ${action} for attribute ${code}, got ${JSON.stringify(u.errors)}`,
  );
  return u;
}

describe('RFC 4271 §6.1 message header errors', () => {
  test('marker not all ones: Connection Not Synchronized', () => {
    const m = msg(4, []);
    m[3] = 0;
    expectError(decodeMessage(m, FOUR), 1, 1);
  });
  test('length below 19: Bad Message Length with the length as data', () => {
    expectError(decodeMessage(msg(4, [], 18), FOUR), 1, 2, [0, 18]);
  });
  test('length above 4096 without extended messages', () => {
    const m = update(
      [ORIGIN, AS_PATH, NEXT_HOP],
      new Array(5000)
        .fill(0)
        .map((_, i) => (i % 4 === 0 ? 24 : 1))
        .slice(0, 4800),
    );
    expectError(decodeMessage(m, FOUR), 1, 2);
    // RFC 8654: the same UPDATE is fine once extended messages are negotiated
    expectUpdate(decodeMessage(m, EXT));
  });
  test('OPEN and KEEPALIVE may not exceed 4096 even with extended messages (RFC 8654 §4)', () => {
    expectError(decodeMessage(msg(1, new Array(5000).fill(0)), EXT), 1, 2);
  });
  test('per-type minimum lengths', () => {
    expectError(decodeMessage(msg(4, [0]), FOUR), 1, 2, [0, 20]); // KEEPALIVE must be 19
    expectError(decodeMessage(msg(1, new Array(9).fill(0)), FOUR), 1, 2, [0, 28]); // OPEN >= 29
    expectError(decodeMessage(msg(2, [0, 0, 0]), FOUR), 1, 2, [0, 22]); // UPDATE >= 23
    expectError(decodeMessage(msg(3, [6]), FOUR), 1, 2, [0, 20]); // NOTIFICATION >= 21
  });
  test('unknown type: Bad Message Type with the type as data', () => {
    expectError(decodeMessage(msg(6, []), FOUR), 1, 3, [6]);
    expectError(decodeMessage(msg(0, []), FOUR), 1, 3, [0]);
  });
  test('header length disagreeing with the buffer', () => {
    const m = Buffer.concat([msg(4, []), Buffer.from([0])]);
    expectError(decodeMessage(m, FOUR), 1, 2);
  });
  test('ROUTE-REFRESH of the wrong length: RFC 7313 §5 error with the message as data', () => {
    const m = msg(5, [0, 1, 0, 1, 0]);
    expectError(decodeMessage(m, FOUR), 7, 1, Array.from(m));
  });
});

function open(version: number, holdTime: number, bgpId: number[], optParams: number[]): Buffer {
  return msg(1, [
    version,
    0xfd,
    0xe9,
    holdTime >> 8,
    holdTime & 0xff,
    ...bgpId,
    optParams.length,
    ...optParams,
  ]);
}

describe('RFC 4271 §6.2 OPEN message errors', () => {
  test('Unsupported Version Number carries the supported version', () => {
    expectError(decodeMessage(open(3, 90, [1, 2, 3, 4], []), FOUR), 2, 1, [0, 4]);
  });
  test('Unacceptable Hold Time for 1 and 2 seconds; 0 and 3 are accepted', () => {
    expectError(decodeMessage(open(4, 1, [1, 2, 3, 4], []), FOUR), 2, 6);
    expectError(decodeMessage(open(4, 2, [1, 2, 3, 4], []), FOUR), 2, 6);
    assert.ok(decodeMessage(open(4, 0, [1, 2, 3, 4], []), FOUR).ok);
    assert.ok(decodeMessage(open(4, 3, [1, 2, 3, 4], []), FOUR).ok);
  });
  test('Bad BGP Identifier for 0.0.0.0', () => {
    expectError(decodeMessage(open(4, 90, [0, 0, 0, 0], []), FOUR), 2, 3);
  });
  test('Unsupported Optional Parameter for a non-capability parameter', () => {
    expectError(decodeMessage(open(4, 90, [1, 2, 3, 4], [1, 2, 0xaa, 0xbb]), FOUR), 2, 4);
  });
  test('optional parameters length inconsistent with the message', () => {
    const m = open(4, 90, [1, 2, 3, 4], [2, 2, 2, 0]);
    m[28] = 10;
    expectError(decodeMessage(m, FOUR), 1, 2);
  });
  test('malformed capability value', () => {
    expectError(decodeMessage(open(4, 90, [1, 2, 3, 4], [2, 5, 1, 3, 0, 1, 0]), FOUR), 2, 0);
  });
  test('capabilities over several parameters and RFC 9072 extended parameters decode', () => {
    const plain = decodeMessage(open(4, 90, [1, 2, 3, 4], [2, 2, 2, 0, 2, 6, 65, 4, 0, 0, 0xfd, 0xe9]), FOUR);
    assert.ok(plain.ok && plain.value.type === 'open');
    assert.deepStrictEqual(plain.value.capabilities, [
      { kind: 'route-refresh' },
      { kind: 'four-octet-as', asn: 65001 },
    ]);
    // Non-Ext OP Len 255, Non-Ext OP Type 255, Extended Opt. Parm. Length, params with 2-octet lengths
    const body = [4, 0xfd, 0xe9, 0, 90, 1, 2, 3, 4, 255, 255, 0, 5, 2, 0, 2, 2, 0];
    const ext = decodeMessage(msg(1, body), FOUR);
    assert.ok(ext.ok && ext.value.type === 'open');
    assert.deepStrictEqual(ext.value.capabilities, [{ kind: 'route-refresh' }]);
    assert.equal(ext.value.extendedOptionalParameters, true);
  });
});

describe('RFC 4271 §6.3 UPDATE errors that reset the session', () => {
  test('withdrawn routes length overruns the message: Malformed Attribute List', () => {
    expectError(decodeMessage(msg(2, [0, 50, 0, 0]), FOUR), 3, 1);
  });
  test('total attribute length overruns the message: Malformed Attribute List', () => {
    expectError(decodeMessage(msg(2, [0, 0, 0, 50, 0x40, 1, 1, 0]), FOUR), 3, 1);
  });
  test('invalid prefix length in NLRI or withdrawn routes: Invalid Network Field (RFC 7606 §5.3)', () => {
    expectError(decodeMessage(update([ORIGIN, AS_PATH, NEXT_HOP], [33, 1, 2, 3, 4, 5]), FOUR), 3, 10);
    expectError(decodeMessage(update([], [], [33, 1, 2, 3, 4, 5]), FOUR), 3, 10);
    expectError(decodeMessage(update([ORIGIN, AS_PATH, NEXT_HOP], [24, 10, 0]), FOUR), 3, 10);
  });
  test('unrecognized well-known attribute: session reset with the attribute as data', () => {
    expectError(
      decodeMessage(update([ORIGIN, AS_PATH, NEXT_HOP, attr(0x40, 99, 1, 2)]), FOUR),
      3,
      2,
      [0x40, 99, 2, 1, 2],
    );
  });
  test('MP_REACH_NLRI with a next hop length invalid for the AFI (RFC 7606 §7.11)', () => {
    const mp = attr(0x80, 14, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0);
    expectError(decodeMessage(update([mp, ORIGIN, AS_PATH], []), FOUR), 3, 9);
  });
  test('MP_REACH_NLRI with a malformed prefix (RFC 7606 §7.11, §5.3)', () => {
    const mp = attr(0x80, 14, 0, 2, 1, 16, ...new Array(16).fill(1), 0, 129, 1);
    expectError(decodeMessage(update([mp, ORIGIN, AS_PATH], []), FOUR), 3, 10);
  });
  test('MP_REACH_NLRI / MP_UNREACH_NLRI too short (RFC 7606 §7.11, §7.12)', () => {
    expectError(decodeMessage(update([attr(0x80, 14, 0, 2, 1, 16)], []), FOUR), 3, 9);
    expectError(decodeMessage(update([attr(0x80, 15, 0, 2)], []), FOUR), 3, 9);
  });
  test('MP_UNREACH_NLRI with a malformed prefix', () => {
    expectError(decodeMessage(update([attr(0x80, 15, 0, 2, 1, 64, 1, 2)], []), FOUR), 3, 10);
  });
  test('MP_REACH_NLRI appearing twice: Malformed Attribute List (RFC 7606 §3 g)', () => {
    const mp = attr(0x80, 15, 0, 2, 1);
    expectError(decodeMessage(update([mp, mp], []), FOUR), 3, 1);
  });
  test('an MP attribute overrunning the attribute block (RFC 7606 §4, NLRI cannot be located)', () => {
    const a = [0x80, 14, 40, 0, 2, 1];
    expectError(decodeMessage(msg(2, [0, 0, 0, a.length, ...a]), FOUR), 3, 5);
  });
});

describe('RFC 7606 per-attribute outcomes', () => {
  const base = [ORIGIN, AS_PATH, NEXT_HOP];
  test('a clean UPDATE has no errors', () => {
    const u = expectUpdate(decodeMessage(update(base), FOUR));
    assert.equal(u.treatAsWithdraw, false);
    assert.equal(u.errors.length, 0);
    assert.deepStrictEqual(prefixListToStrings(u.nlri), ['10.0.0.0/24']);
  });
  test('§3 c: conflicting Optional/Transitive flags make the attribute malformed', () => {
    expectOutcome(attr(0xc0, 1, 0), [AS_PATH, NEXT_HOP], 'treat-as-withdraw', 1);
  });
  test('§3 d: missing ORIGIN, AS_PATH or NEXT_HOP with NLRI present', () => {
    for (const [without, code] of [
      [[AS_PATH, NEXT_HOP], 1],
      [[ORIGIN, NEXT_HOP], 2],
      [[ORIGIN, AS_PATH], 3],
    ] as const) {
      const u = expectUpdate(decodeMessage(update([...without]), FOUR));
      assert.equal(u.treatAsWithdraw, true);
      assert.ok(u.errors.some((e) => e.attributeCode === code && /missing/.test(e.reason)));
    }
    const none = expectUpdate(decodeMessage(update([]), FOUR));
    assert.equal(none.treatAsWithdraw, true);
    assert.equal(none.errors.length, 3);
  });
  test('§3 d: no mandatory attributes needed without NLRI; NEXT_HOP not needed for MP_REACH only', () => {
    const u = expectUpdate(decodeMessage(update([attr(0xc0, 8, 0, 0, 0, 1)], []), FOUR));
    assert.equal(u.treatAsWithdraw, false);
    const mp = attr(0x80, 14, 0, 2, 1, 16, ...new Array(16).fill(0x20), 0, 32, 0x20, 1, 0x0d, 0xb8);
    const v6 = expectUpdate(decodeMessage(update([mp, ORIGIN, AS_PATH], []), FOUR));
    assert.equal(v6.treatAsWithdraw, false);
    const v6missing = expectUpdate(decodeMessage(update([mp, ORIGIN], []), FOUR));
    assert.equal(v6missing.treatAsWithdraw, true);
  });
  test('§3 g: a duplicate attribute other than MP_* is discarded, the first kept', () => {
    const u = expectUpdate(
      decodeMessage(update([...base, attr(0x80, 4, 0, 0, 0, 1), attr(0x80, 4, 0, 0, 0, 2)]), FOUR),
    );
    assert.equal(u.attributes.med, 1);
    assert.equal(u.treatAsWithdraw, false);
    assert.ok(u.errors.some((e) => e.action === 'attribute-discard' && e.attributeCode === 4));
  });
  test('§4: the last attribute overruns the block, or a partial header remains: treat-as-withdraw', () => {
    const overrun = [0xc0, 8, 10, 0, 0];
    const a = [...base.flat(), ...overrun];
    const u = expectUpdate(decodeMessage(msg(2, [0, 0, 0, a.length, ...a, ...NLRI]), FOUR));
    assert.equal(u.treatAsWithdraw, true);
    assert.deepStrictEqual(
      prefixListToStrings(u.nlri),
      ['10.0.0.0/24'],
      'NLRI located via Total Attribute Length',
    );
    const b = [...base.flat(), 0xc0, 8];
    const v = expectUpdate(decodeMessage(msg(2, [0, 0, 0, b.length, ...b, ...NLRI]), FOUR));
    assert.equal(v.treatAsWithdraw, true);
  });
  test('§7.1 ORIGIN: bad length or undefined value', () => {
    expectOutcome(attr(0x40, 1, 0, 0), [AS_PATH, NEXT_HOP], 'treat-as-withdraw', 1);
    expectOutcome(attr(0x40, 1, 3), [AS_PATH, NEXT_HOP], 'treat-as-withdraw', 1);
  });
  test('§7.2 AS_PATH: unknown segment type, zero-length segment, overrun', () => {
    expectOutcome(attr(0x40, 2, 5, 1, 0, 0, 0, 1), [ORIGIN, NEXT_HOP], 'treat-as-withdraw', 2);
    expectOutcome(attr(0x40, 2, 2, 0), [ORIGIN, NEXT_HOP], 'treat-as-withdraw', 2);
    expectOutcome(attr(0x40, 2, 2, 2, 0, 0, 0, 1), [ORIGIN, NEXT_HOP], 'treat-as-withdraw', 2);
  });
  test('§7.3 NEXT_HOP: bad length or not a host address', () => {
    expectOutcome(attr(0x40, 3, 1, 2, 3, 4, 5), [ORIGIN, AS_PATH], 'treat-as-withdraw', 3);
    expectOutcome(attr(0x40, 3, 0, 0, 0, 0), [ORIGIN, AS_PATH], 'treat-as-withdraw', 3);
    expectOutcome(attr(0x40, 3, 224, 0, 0, 1), [ORIGIN, AS_PATH], 'treat-as-withdraw', 3);
  });
  test('§7.4 MULTI_EXIT_DISC and §7.5 LOCAL_PREF: bad length', () => {
    expectOutcome(attr(0x80, 4, 0, 0, 1), base, 'treat-as-withdraw', 4);
    expectOutcome(attr(0x40, 5, 0, 1), base, 'treat-as-withdraw', 5);
  });
  test('§7.6 ATOMIC_AGGREGATE and §7.7 AGGREGATOR: attribute discard', () => {
    const u = expectOutcome(attr(0x40, 6, 1), base, 'attribute-discard', 6);
    assert.equal(u.attributes.atomicAggregate, undefined);
    assert.deepStrictEqual(prefixListToStrings(u.nlri), ['10.0.0.0/24']);
    const v = expectOutcome(attr(0xc0, 7, 0, 0, 1, 2, 3, 4, 5), base, 'attribute-discard', 7);
    assert.equal(v.attributes.aggregator, undefined);
  });
  test('§7.8 COMMUNITIES: length not a non-zero multiple of 4', () => {
    expectOutcome(attr(0xc0, 8, 0, 0, 0, 1, 2), base, 'treat-as-withdraw', 8);
    expectOutcome(attr(0xc0, 8), base, 'treat-as-withdraw', 8);
  });
  test('§7.9 ORIGINATOR_ID and §7.10 CLUSTER_LIST: bad length', () => {
    expectOutcome(attr(0x80, 9, 1, 2, 3), base, 'treat-as-withdraw', 9);
    expectOutcome(attr(0x80, 10, 1, 2, 3, 4, 5, 6), base, 'treat-as-withdraw', 10);
  });
  test('§7.14 EXTENDED_COMMUNITIES: length not a non-zero multiple of 8', () => {
    expectOutcome(attr(0xc0, 16, 0, 2, 0, 1, 0, 0, 0, 1, 9, 9, 9, 9), base, 'treat-as-withdraw', 16);
  });
  test('RFC 8092 §6 LARGE_COMMUNITIES: length not a non-zero multiple of 12', () => {
    expectOutcome(attr(0xc0, 32, 0, 0, 0, 1, 0, 0, 0, 2), base, 'treat-as-withdraw', 32);
  });
  test('RFC 6793 §6 AS4_PATH / AS4_AGGREGATOR malformed: attribute discard', () => {
    expectOutcome(attr(0xc0, 17, 2, 0), base, 'attribute-discard', 17);
    expectOutcome(attr(0xc0, 18, 0, 0, 1, 2, 3, 4), base, 'attribute-discard', 18);
  });
  test('RFC 9234 §5 OTC: bad length', () => {
    expectOutcome(attr(0xc0, 35, 0, 1), base, 'treat-as-withdraw', 35);
  });
  test('the most severe outcome wins', () => {
    const u = expectUpdate(decodeMessage(update([...base, attr(0x40, 6, 1), attr(0xc0, 8, 1)]), FOUR));
    assert.equal(u.treatAsWithdraw, true);
    assert.equal(u.errors.length, 2);
  });
  test('RFC 4271 §5: unknown optional transitive kept (Partial set on re-send), non-transitive dropped', () => {
    const u = expectUpdate(decodeMessage(update([...base, attr(0xc0, 200, 1, 2), attr(0x80, 201, 3)]), FOUR));
    assert.deepStrictEqual(u.attributes.unknown, [{ flags: 0xc0, code: 200, data: new Uint8Array([1, 2]) }]);
    assert.equal(u.errors.length, 0);
  });
  test('extended length flag on a short attribute is accepted', () => {
    const u = expectUpdate(decodeMessage(update([attr(0x50, 1, 2), AS_PATH, NEXT_HOP]), FOUR));
    assert.equal(u.attributes.origin, 2);
    assert.equal(u.treatAsWithdraw, false);
  });
});

describe('RFC 6396 §4.3.4 MRT attribute blocks', () => {
  test('abbreviated MP_REACH_NLRI (next hop only) decodes with the RIB entry family', () => {
    const nh = [0x20, 1, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
    const block = [...ORIGIN, ...attr(0x80, 14, 16, ...nh)];
    const r = decodePathAttributes(Uint8Array.from(block), 0, block.length, FOUR, { mrtFamily: 0x0201 });
    assert.ok(r.ok);
    assert.deepStrictEqual(r.value.attributes.mpReach, {
      afi: 2,
      safi: 1,
      nextHop: Uint8Array.from(nh),
      nlri: null,
      rawNlri: null,
    });
  });
  test('a full-form MP_REACH_NLRI is still accepted in MRT mode', () => {
    const block = attr(0x80, 14, 0, 2, 1, 16, ...new Array(16).fill(0x20), 0, 32, 0x20, 1, 0x0d, 0xb8);
    const r = decodePathAttributes(Uint8Array.from(block), 0, block.length, FOUR, { mrtFamily: 0x0201 });
    assert.ok(r.ok);
    assert.equal(r.value.attributes.mpReach?.nlri?.count, 1);
  });
});
