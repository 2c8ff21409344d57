import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatAsPath, prefixListToStrings } from '../codec/index.ts';
import { looksLikeMrt, MAX_RECORD_LENGTH, MrtParser, type MrtRecord, readMrtRecords } from './index.ts';

const MRT_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'conformance',
  'fixtures',
  'mrt',
);

function record(type: number, subtype: number, body: number[] | Buffer, timestamp = 1700000000): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32BE(timestamp, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(subtype, 6);
  h.writeUInt32BE(body.length, 8);
  return Buffer.concat([h, Buffer.from(body)]);
}

const u16 = (v: number) => [v >> 8, v & 0xff];
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

// PEER_INDEX_TABLE: collector 192.0.2.9, view "v", two peers: IPv4/AS4 and IPv6/AS2.
const peerIndex = record(13, 1, [
  ...[192, 0, 2, 9],
  ...u16(1),
  0x76,
  ...u16(2),
  0x02,
  ...[10, 0, 0, 1],
  ...[10, 0, 0, 1],
  ...u32(4200000001),
  0x01,
  ...[10, 0, 0, 2],
  ...[0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 2],
  ...u16(65002),
]);

// Attributes: ORIGIN IGP, AS_PATH (4-octet) 4200000001 65010, NEXT_HOP 10.0.0.1, MED 5.
const attrs = [
  0x40,
  1,
  1,
  0,
  0x40,
  2,
  10,
  2,
  2,
  ...u32(4200000001),
  ...u32(65010),
  0x40,
  3,
  4,
  10,
  0,
  0,
  1,
  0x80,
  4,
  4,
  ...u32(5),
];
// RIB_IPV4_UNICAST_ADDPATH (RFC 8050): 10.9.0.0/16, one entry from peer 0 with path id 7.
const ribAddPath = record(13, 8, [
  ...u32(3),
  16,
  10,
  9,
  ...u16(1),
  ...u16(0),
  ...u32(1700000000),
  ...u32(7),
  ...u16(attrs.length),
  ...attrs,
]);

const keepalive = [...Array(16).fill(0xff), 0, 19, 4];
// BGP4MP_ET / MESSAGE_AS4 (RFC 6396 §4.4.3): microseconds, then the AS4 BGP4MP header and a KEEPALIVE.
const bgp4mpEt = record(17, 4, [
  ...u32(123456),
  ...u32(4200000001),
  ...u32(65000),
  ...u16(0),
  ...u16(1),
  10,
  0,
  0,
  1,
  10,
  0,
  0,
  2,
  ...keepalive,
]);
// BGP4MP STATE_CHANGE (2-octet): Established -> Idle.
const stateChange = record(16, 0, [
  ...u16(65001),
  ...u16(65000),
  ...u16(0),
  ...u16(1),
  10,
  0,
  0,
  1,
  10,
  0,
  0,
  2,
  ...u16(6),
  ...u16(1),
]);

describe('MRT reader', () => {
  test('reads PEER_INDEX_TABLE, RIB ADD-PATH entries, BGP4MP_ET messages and state changes', () => {
    const records = readMrtRecords(Buffer.concat([peerIndex, ribAddPath, bgp4mpEt, stateChange]));
    assert.deepEqual(
      records.map((r) => r.kind),
      ['peer-index-table', 'rib', 'bgp4mp-message', 'bgp4mp-state-change'],
    );
    const [pit, rib, msg, state] = records as [MrtRecord, MrtRecord, MrtRecord, MrtRecord];
    assert.ok(pit.kind === 'peer-index-table');
    assert.equal(pit.collectorBgpId, '192.0.2.9');
    assert.equal(pit.viewName, 'v');
    assert.deepEqual(
      pit.peers.map((p) => [p.address, p.asn]),
      [
        ['10.0.0.1', 4200000001],
        ['2001:db8::2', 65002],
      ],
    );
    assert.ok(rib.kind === 'rib');
    assert.equal(rib.addPath, true);
    assert.deepEqual(prefixListToStrings(rib.prefix), ['10.9.0.0/16']);
    const e = rib.entries[0];
    assert.ok(e?.attributes.ok);
    assert.equal(e.pathId, 7);
    assert.equal(e.peer?.asn, 4200000001);
    assert.equal(formatAsPath(e.attributes.value.attributes.asPath ?? new Uint32Array()), '4200000001 65010');
    assert.equal(e.attributes.value.attributes.med, 5);
    assert.ok(msg.kind === 'bgp4mp-message');
    assert.equal(msg.microseconds, 123456);
    assert.equal(msg.peerAs, 4200000001);
    assert.equal(msg.as4, true);
    assert.ok(msg.message.ok && msg.message.value.type === 'keepalive');
    assert.ok(state.kind === 'bgp4mp-state-change');
    assert.deepEqual([state.peerAs, state.oldState, state.newState], [65001, 6, 1]);
  });

  test('chunk boundaries do not matter (fed one byte at a time)', () => {
    const bytes = Buffer.concat([
      peerIndex,
      ribAddPath,
      bgp4mpEt,
      stateChange,
      readFileSync(join(MRT_DIR, 'bird-master4.mrt')),
    ]);
    const whole = readMrtRecords(bytes);
    const p = new MrtParser();
    const pieces: MrtRecord[] = [];
    for (let i = 0; i < bytes.length; i++) pieces.push(...p.feed(bytes.subarray(i, i + 1)));
    pieces.push(...p.end());
    assert.equal(
      JSON.stringify(pieces, (_k, v) =>
        v instanceof Uint8Array || v instanceof Uint32Array ? [...v] : v instanceof Set ? [...v] : v,
      ),
      JSON.stringify(whole, (_k, v) =>
        v instanceof Uint8Array || v instanceof Uint32Array ? [...v] : v instanceof Set ? [...v] : v,
      ),
    );
  });

  test('malformed records become error records and reading goes on', () => {
    // A RIB record whose entry claims more attribute bytes than the record holds.
    const bad = record(13, 2, [...u32(1), 8, 10, ...u16(1), ...u16(0), ...u32(0), ...u16(200), 1, 2]);
    const records = readMrtRecords(Buffer.concat([bad, stateChange]));
    assert.deepEqual(
      records.map((r) => r.kind),
      ['error', 'bgp4mp-state-change'],
    );
    assert.match(records[0]?.kind === 'error' ? records[0].message : '', /attributes runs past/);
    // Truncated input.
    const cut = readMrtRecords(stateChange.subarray(0, stateChange.length - 3));
    assert.equal(cut[0]?.kind, 'error');
    // An absurd length stops the reader without buffering it.
    const huge = Buffer.alloc(12);
    huge.writeUInt16BE(13, 4);
    huge.writeUInt32BE(MAX_RECORD_LENGTH + 1, 8);
    const h = readMrtRecords(huge);
    assert.equal(h.length, 1);
    assert.match(h[0]?.kind === 'error' ? h[0].message : '', /exceeds/);
    // Unknown types are reported as unsupported, not errors.
    assert.equal(readMrtRecords(record(99, 0, [1, 2, 3]))[0]?.kind, 'unsupported');
  });

  test('recognises MRT by its first header', () => {
    assert.ok(looksLikeMrt(peerIndex));
    assert.ok(looksLikeMrt(bgp4mpEt));
    assert.ok(!looksLikeMrt(Buffer.from('ffffffffffffffffffffffff', 'hex')));
  });

  test('real dumps from BIRD 2 and GoBGP decode without errors', () => {
    for (const f of ['bird-master4.mrt', 'bird-master6.mrt', 'gobgp-updates.mrt']) {
      const records = readMrtRecords(readFileSync(join(MRT_DIR, f)));
      assert.ok(records.length > 0, f);
      assert.deepEqual(
        records.filter((r) => r.kind === 'error' || r.kind === 'unsupported'),
        [],
        f,
      );
    }
  });
});
