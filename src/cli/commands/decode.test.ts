import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeHexMessages, decodeInput, detectInputKind, parseHex } from './decode.ts';

const MARKER = 'ff'.repeat(16);
const flags = { addPath: [], twoOctetAs: false, extendedMessage: false };

describe('tsbgp decode (hex input)', () => {
  test('a KEEPALIVE and an UPDATE given as hex', () => {
    // UPDATE: ORIGIN IGP, AS_PATH 65001 (4-octet), NEXT_HOP 10.0.0.1, COMMUNITIES 65000:1, NLRI 10.1.0.0/24.
    const attrs = '40010100' + '400206020100' + '00fde9' + '4003040a000001' + 'c00804fde80001';
    const body = `0000${(attrs.length / 2).toString(16).padStart(4, '0')}${attrs}180a0100`;
    const update = `${MARKER}${(19 + body.length / 2).toString(16).padStart(4, '0')}02${body}`;
    const items = [...decodeHexMessages(parseHex(`${MARKER}001304 ${update}`) ?? new Uint8Array(), flags)];
    assert.deepEqual(
      items.map((i) => i.json.type),
      ['keepalive', 'update'],
    );
    const u = items[1]?.json;
    assert.deepEqual(u?.nlri, ['10.1.0.0/24']);
    const a = u?.attributes as Record<string, unknown>;
    assert.equal(a.nextHop, '10.0.0.1');
    assert.deepEqual(a.communities, ['65000:1']);
    assert.deepEqual(a.asPath, [{ type: 'as-sequence', asns: [65001] }]);
  });

  test('End-of-RIB markers are named with their family (RFC 4724 §2)', () => {
    // IPv4 unicast: an empty UPDATE. IPv6 unicast: an UPDATE with only an empty MP_UNREACH_NLRI.
    const v4 = `${MARKER}001702 00000000`;
    const v6 = `${MARKER}001e02 0000 0007 800f03 000201`;
    // Not one: an UPDATE with an attribute but no NLRI.
    const attrOnly = `${MARKER}001b02 0000 0004 40010100`;
    const items = [...decodeHexMessages(parseHex(`${v4} ${v6} ${attrOnly}`) ?? new Uint8Array(), flags)];
    assert.deepEqual(
      items.map((i) => i.json.endOfRib ?? null),
      ['ipv4-unicast', 'ipv6-unicast', null],
    );
  });

  test('RFC 7606 outcomes and session-reset errors are in the JSON', () => {
    // ORIGIN with an invalid value 7: treat-as-withdraw (RFC 7606 §7.1).
    const attrs = '40010107' + '400206020100' + '00fde9' + '4003040a000001';
    const body = `0000${(attrs.length / 2).toString(16).padStart(4, '0')}${attrs}180a0100`;
    const update = `${MARKER}${(19 + body.length / 2).toString(16).padStart(4, '0')}02${body}`;
    const [u] = [...decodeHexMessages(parseHex(update) ?? new Uint8Array(), flags)];
    assert.equal(u?.json.treatAsWithdraw, true);
    const errors = u?.json.errors as { action: string; attributeCode: number }[];
    assert.equal(errors[0]?.action, 'treat-as-withdraw');
    assert.equal(errors[0]?.attributeCode, 1);
    // A bad message type is a Message Header Error (RFC 4271 §6.1): session reset with its NOTIFICATION.
    const [bad] = [...decodeHexMessages(parseHex(`${MARKER}001309`) ?? new Uint8Array(), flags)];
    const err = bad?.json.error as { action: string; notification: { code: number; subcode: number } };
    assert.equal(err.action, 'session-reset');
    assert.deepEqual([err.notification.code, err.notification.subcode], [1, 3]);
  });

  test('stdin hex, and input detection', async () => {
    const stdin = (async function* () {
      yield Buffer.from(`${MARKER}001304\n`);
    })();
    const out = [];
    for await (const i of decodeInput(
      { json: true, addPath: [], twoOctetAs: false, extendedMessage: false },
      stdin,
    ))
      out.push(i);
    assert.deepEqual(
      out.map((i) => i.json.type),
      ['keepalive'],
    );
    assert.equal(detectInputKind(Buffer.from('d4c3b2a1', 'hex')), 'pcap');
    assert.equal(detectInputKind(Buffer.from(`${MARKER}001304`)), 'hex');
    assert.equal(detectInputKind(Buffer.from([0, 1, 2, 0xfe, 0xfe])), undefined);
    assert.equal(parseHex('zz'), null);
  });
});
