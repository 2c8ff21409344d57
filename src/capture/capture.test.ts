import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  bgpMessagesFromFrames,
  type CapturedMessage,
  CaptureFormatError,
  CaptureParser,
  detectCaptureFormat,
  ipv6Text,
  LinkType,
  readCaptureFrames,
} from './index.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'conformance', 'fixtures', 'pcap');

// --- builders for synthetic captures ---------------------------------------------------------

function bgp(type: number, body: number[] = []): Buffer {
  const len = 19 + body.length;
  return Buffer.from([...Array(16).fill(0xff), len >> 8, len & 0xff, type, ...body]);
}

interface Seg {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  flags: number;
  payload?: Buffer;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;

function tcp(s: Seg): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(s.sport, 0);
  h.writeUInt16BE(s.dport, 2);
  h.writeUInt32BE(s.seq >>> 0, 4);
  h.writeUInt32BE(0, 8);
  h[12] = 5 << 4;
  h[13] = s.flags;
  return Buffer.concat([h, s.payload ?? Buffer.alloc(0)]);
}

function ipv4(s: Seg): Buffer {
  const t = tcp(s);
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + t.length, 2);
  h[8] = 64;
  h[9] = 6;
  Buffer.from(s.src.split('.').map(Number)).copy(h, 12);
  Buffer.from(s.dst.split('.').map(Number)).copy(h, 16);
  return Buffer.concat([h, t]);
}

function ipv6Bytes(text: string): Buffer {
  const [head = '', tail = ''] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => {
    b.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return b;
}

function ipv6(s: Seg): Buffer {
  const t = tcp(s);
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(t.length, 4);
  h[6] = 6;
  h[7] = 64;
  ipv6Bytes(s.src).copy(h, 8);
  ipv6Bytes(s.dst).copy(h, 24);
  return Buffer.concat([h, t]);
}

function ethernet(ip: Buffer, v6 = false): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  return Buffer.concat([h, ip]);
}

function sll2(ip: Buffer, v6: boolean): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(v6 ? 0x86dd : 0x0800, 0);
  return Buffer.concat([h, ip]);
}

function pcap(frames: Buffer[], linkType: number, bigEndian = false): Buffer {
  const w32 = (b: Buffer, v: number, o: number) =>
    bigEndian ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o);
  const w16 = (b: Buffer, v: number, o: number) =>
    bigEndian ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o);
  const g = Buffer.alloc(24);
  w32(g, 0xa1b2c3d4, 0);
  w16(g, 2, 4);
  w16(g, 4, 6);
  w32(g, 65535, 16);
  w32(g, linkType, 20);
  const parts: Buffer[] = [g];
  frames.forEach((f, i) => {
    const r = Buffer.alloc(16);
    w32(r, 1700000000 + i, 0);
    w32(r, 500000, 4);
    w32(r, f.length, 8);
    w32(r, f.length, 12);
    parts.push(r, f);
  });
  return Buffer.concat(parts);
}

function pcapngBlock(type: number, body: Buffer): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const len = padded.length + 12;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  padded.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}

function pcapng(frames: Buffer[], linkType: number): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeInt32LE(-1, 8);
  shb.writeInt32LE(-1, 12);
  // if_tsresol = 9 (nanoseconds), then end of options.
  const idb = Buffer.from([
    linkType & 0xff,
    linkType >> 8,
    0,
    0,
    0,
    0,
    1,
    0,
    9,
    0,
    1,
    0,
    9,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  const parts: Buffer[] = [pcapngBlock(0x0a0d0d0a, shb), pcapngBlock(1, idb)];
  frames.forEach((f, i) => {
    const h = Buffer.alloc(20);
    const ns = BigInt(1700000000 + i) * 1000000000n;
    h.writeUInt32LE(0, 0);
    h.writeUInt32LE(Number(ns >> 32n), 4);
    h.writeUInt32LE(Number(ns & 0xffffffffn), 8);
    h.writeUInt32LE(f.length, 12);
    h.writeUInt32LE(f.length, 16);
    parts.push(pcapngBlock(6, Buffer.concat([h, f])));
  });
  return Buffer.concat(parts);
}

function messages(items: ReturnType<typeof bgpMessagesFromFrames>): CapturedMessage[] {
  return items.filter((i): i is CapturedMessage => i.kind === 'message');
}

// --- tests ------------------------------------------------------------------------------------

describe('capture file readers', () => {
  test('detects pcap (both byte orders) and pcapng by magic number', () => {
    assert.equal(detectCaptureFormat(pcap([], LinkType.ETHERNET)), 'pcap');
    assert.equal(detectCaptureFormat(pcap([], LinkType.ETHERNET, true)), 'pcap');
    assert.equal(detectCaptureFormat(pcapng([], LinkType.ETHERNET)), 'pcapng');
    assert.equal(detectCaptureFormat(Buffer.from('hello')), undefined);
  });

  test('a big-endian pcap gives the same frames as a little-endian one', () => {
    const frame = ethernet(
      ipv4({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 179, seq: 1, flags: ACK }),
    );
    const le = readCaptureFrames(pcap([frame], LinkType.ETHERNET));
    const be = readCaptureFrames(pcap([frame], LinkType.ETHERNET, true));
    assert.equal(le.length, 1);
    assert.deepEqual(be, le);
    assert.equal(le[0]?.timestamp, 1700000000.5);
  });

  test('feeding one byte at a time gives the same frames as feeding the whole file', () => {
    for (const file of ['ebgp-v4-bird2-frr.pcap', 'ebgp-v6-gobgp-openbgpd.pcapng']) {
      const bytes = readFileSync(join(FIXTURES, file));
      const whole = readCaptureFrames(bytes);
      const p = new CaptureParser();
      const piecewise = [];
      for (let i = 0; i < bytes.length; i++) piecewise.push(...p.feed(bytes.subarray(i, i + 1)));
      p.end();
      assert.ok(whole.length > 5, file);
      assert.deepEqual(piecewise, whole, file);
    }
  });

  test('a truncated or foreign file is a clear error, not a crash', () => {
    const bytes = pcap([Buffer.alloc(60)], LinkType.ETHERNET);
    assert.throws(() => readCaptureFrames(bytes.subarray(0, bytes.length - 5)), CaptureFormatError);
    assert.throws(() => readCaptureFrames(Buffer.from('GIF89a....')), /unknown magic/);
    const huge = pcap([], LinkType.ETHERNET);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(0xfffffff0, 8);
    assert.throws(() => readCaptureFrames(Buffer.concat([huge, rec])), /claims/);
  });

  test('ipv6Text follows RFC 5952', () => {
    assert.equal(ipv6Text(ipv6Bytes('2001:db8::1')), '2001:db8::1');
    assert.equal(ipv6Text(ipv6Bytes('2001:db8:0:1:0:0:0:1')), '2001:db8:0:1::1');
    assert.equal(ipv6Text(ipv6Bytes('::')), '::');
  });
});

describe('TCP reassembly and BGP framing', () => {
  const c = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 179 };
  const s = { src: '10.0.0.2', dst: '10.0.0.1', sport: 179, dport: 40000 };
  const open = bgp(1, [4, 0xfd, 0xe9, 0, 90, 10, 0, 0, 1, 0]);
  const keepalive = bgp(4);
  const update = bgp(2, [0, 0, 0, 0, 24, 10, 1, 0]);

  test('messages split across segments, retransmitted and out of order come out once, in order', () => {
    const stream = Buffer.concat([open, keepalive, update]);
    const isn = 0xfffffff0; // the sequence space wraps inside the stream
    const at = (off: number) => (isn + 1 + off) >>> 0;
    const frames = [
      ipv4({ ...c, seq: isn, flags: SYN }), // 1
      ipv4({ ...s, seq: 5000, flags: SYN | ACK }), // 2
      ipv4({ ...c, seq: at(0), flags: ACK | PSH, payload: stream.subarray(0, 10) }), // 3
      ipv4({ ...c, seq: at(20), flags: ACK | PSH, payload: stream.subarray(20, 35) }), // 4: after a gap
      ipv4({ ...c, seq: at(0), flags: ACK | PSH, payload: stream.subarray(0, 10) }), // 5: retransmission
      ipv4({ ...c, seq: at(5), flags: ACK | PSH, payload: stream.subarray(5, 22) }), // 6: fills the gap, overlaps
      ipv4({ ...s, seq: 5001, flags: ACK | PSH, payload: keepalive }), // 7: other direction
      ipv4({ ...c, seq: at(35), flags: ACK | PSH, payload: stream.subarray(35) }), // 8
    ].map((ip) => ethernet(ip));
    const items = bgpMessagesFromFrames(readCaptureFrames(pcap(frames, LinkType.ETHERNET)));
    assert.deepEqual(
      items.filter((i) => i.kind === 'error'),
      [],
    );
    const m = messages(items);
    assert.deepEqual(
      m.map((x) => [x.bytes[18], x.firstFrame, x.lastFrame, x.stream.src.address, x.stream.direction]),
      [
        // The OPEN's last byte came early (frame 4) but the OPEN is complete only at frame 6.
        [1, 3, 6, '10.0.0.1', 'client-to-server'],
        [4, 7, 7, '10.0.0.2', 'server-to-client'],
        [4, 4, 8, '10.0.0.1', 'client-to-server'],
        [2, 8, 8, '10.0.0.1', 'client-to-server'],
      ],
    );
    assert.deepEqual(Buffer.from(m[0]?.bytes ?? []), open);
    assert.deepEqual(Buffer.from(m[3]?.bytes ?? []), update);
    assert.equal(m[0]?.stream.stream, m[2]?.stream.stream, 'both directions are one connection');
  });

  test('IPv6 over Linux cooked (SLL2) in pcapng', () => {
    const v6c = { src: 'fd00::1', dst: 'fd00::2', sport: 40001, dport: 179 };
    const frames = [
      sll2(ipv6({ ...v6c, seq: 100, flags: SYN }), true),
      sll2(
        ipv6({ ...v6c, seq: 101, flags: ACK | PSH, payload: Buffer.concat([keepalive, keepalive]) }),
        true,
      ),
    ];
    const m = messages(bgpMessagesFromFrames(readCaptureFrames(pcapng(frames, LinkType.LINUX_SLL2))));
    assert.equal(m.length, 2);
    assert.equal(m[0]?.stream.src.address, 'fd00::1');
    assert.equal(m[1]?.lastFrame, 2);
    assert.equal(m[0]?.timestamp, 1700000001);
  });

  test('Linux cooked (SLL v1), raw IP and 802.1Q-tagged Ethernet framing', () => {
    const seg = ipv4({ ...c, seq: 7, flags: ACK | PSH, payload: keepalive });
    const sll1 = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00]), seg]);
    const vlan = Buffer.concat([Buffer.alloc(12), Buffer.from([0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]), seg]);
    for (const [linkType, frame] of [
      [LinkType.LINUX_SLL, sll1],
      [LinkType.RAW, seg],
      [LinkType.ETHERNET, vlan],
    ] as const) {
      const m = messages(bgpMessagesFromFrames(readCaptureFrames(pcap([frame], linkType))));
      assert.equal(m.length, 1, `link type ${linkType}`);
      assert.equal(m[0]?.stream.dst.port, 179);
    }
  });

  test('a stream that is not BGP is ignored; a bad marker mid-stream is reported and resynchronised', () => {
    const http = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const garbage = Buffer.from('not a bgp message at all');
    const frames = [
      ipv4({
        src: '10.0.0.3',
        dst: '10.0.0.4',
        sport: 5555,
        dport: 80,
        seq: 1,
        flags: ACK | PSH,
        payload: http,
      }),
      ipv4({ ...c, seq: 1, flags: ACK | PSH, payload: Buffer.concat([keepalive, garbage, keepalive]) }),
    ].map((ip) => ethernet(ip));
    const items = bgpMessagesFromFrames(readCaptureFrames(pcap(frames, LinkType.ETHERNET)));
    assert.equal(messages(items).length, 2);
    const errors = items.filter((i) => i.kind === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.kind === 'error' ? errors[0].message : '', /marker/);
  });

  test('a message cut off by the end of the capture is reported', () => {
    const frames = [ethernet(ipv4({ ...c, seq: 1, flags: ACK | PSH, payload: open.subarray(0, 25) }))];
    const items = bgpMessagesFromFrames(readCaptureFrames(pcap(frames, LinkType.ETHERNET)));
    assert.equal(messages(items).length, 0);
    // The stream never completed a message, so it is not known to be BGP: nothing to report.
    assert.equal(items.length, 0);
    const frames2 = [
      ethernet(
        ipv4({ ...c, seq: 1, flags: ACK | PSH, payload: Buffer.concat([keepalive, open.subarray(0, 25)]) }),
      ),
    ];
    const items2 = bgpMessagesFromFrames(readCaptureFrames(pcap(frames2, LinkType.ETHERNET)));
    assert.equal(messages(items2).length, 1);
    assert.match(
      items2.find((i) => i.kind === 'error')?.kind === 'error'
        ? String((items2[1] as { message: string }).message)
        : '',
      /incomplete/,
    );
  });

  test('every fixture capture yields complete BGP streams without errors', () => {
    for (const file of [
      'ebgp-v4-bird2-frr.pcap',
      'ebgp-v6-gobgp-openbgpd.pcapng',
      'hold-timer-openbgpd-bird1.pcap',
    ]) {
      const items = bgpMessagesFromFrames(readCaptureFrames(readFileSync(join(FIXTURES, file))));
      assert.deepEqual(
        items.filter((i) => i.kind === 'error'),
        [],
        file,
      );
      assert.ok(messages(items).length >= 9, file);
      assert.equal(messages(items)[0]?.bytes[18], 1, `${file} starts with an OPEN`);
    }
  });
});
