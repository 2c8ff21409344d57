// Framing tolerates a split at every byte (pg-protocol's "split buffer" suite) and frames stay valid.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { asPathFromSequence } from './aspath.ts';
import { BgpFrameReader } from './framer.ts';
import { decodeMessage, encodeKeepalive, encodeMessage, encodeNotification } from './messages.ts';
import { prefixListFromStrings } from './prefix.ts';
import { type CodecOptions, MessageType } from './types.ts';

const OPTS: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

function stream(): Buffer[] {
  const upd = encodeMessage(
    {
      type: 'update',
      withdrawn: prefixListFromStrings(1, ['10.9.0.0/16']),
      attributes: { origin: 0, asPath: asPathFromSequence([65001]), nextHop: 0xc0000201 },
      nlri: prefixListFromStrings(1, ['10.0.0.0/8', '192.0.2.0/24']),
      treatAsWithdraw: false,
      errors: [],
    },
    OPTS,
  );
  assert.ok(upd.ok);
  return [
    encodeKeepalive(),
    upd.bytes,
    encodeNotification(6, 2, Buffer.from([2, 0x68, 0x69])),
    encodeKeepalive(),
  ];
}

/** Feeds `all` in two parts, cut at every offset, draining frames after each part. */
function eachSplit(
  all: Buffer,
  drain: (r: BgpFrameReader, frames: Buffer[]) => void,
  check: (frames: Buffer[], r: BgpFrameReader, cut: number) => void,
): void {
  for (let cut = 0; cut <= all.length; cut++) {
    const r = new BgpFrameReader();
    const frames: Buffer[] = [];
    for (const part of [all.subarray(0, cut), all.subarray(cut)]) {
      r.push(part);
      drain(r, frames);
    }
    check(frames, r, cut);
  }
}

describe('BgpFrameReader', () => {
  test('nextRange() yields the frames next() does, at every split point, without views', () => {
    const msgs = stream();
    eachSplit(
      Buffer.concat(msgs),
      (r, frames) => {
        for (let n = r.nextRange(); n > 0; n = r.nextRange())
          frames.push(Buffer.from(r.frameBuffer.subarray(r.frameStart, r.frameStart + n)));
      },
      (frames, _r, cut) => assert.deepStrictEqual(frames, msgs, `split at ${cut}`),
    );
  });

  test('nextRange() stops at a header error, as next() does', () => {
    const bad = Buffer.concat([encodeKeepalive(), Buffer.alloc(19, 0xff)]);
    bad[bad.length - 1] = 9; // message type 9
    const r = new BgpFrameReader();
    r.push(bad);
    assert.equal(r.nextRange(), 19);
    assert.equal(r.nextRange(), 0);
    assert.equal(r.error?.notification.code, 1);
    assert.equal(r.error?.notification.subcode, 3, 'Bad Message Type');
    // An UPDATE whose marker is broken is refused though its type and length look fine.
    const upd = Buffer.from(stream()[1]!);
    upd[3] = 0;
    const r2 = new BgpFrameReader();
    r2.push(upd);
    assert.equal(r2.nextRange(), 0);
    assert.equal(r2.error?.notification.subcode, 1, 'Connection Not Synchronized');
  });

  test('yields the same frames whatever the split points (every single split, and byte by byte)', () => {
    const msgs = stream();
    const all = Buffer.concat(msgs);
    eachSplit(
      all,
      (r, frames) => {
        for (let f = r.next(); f !== null; f = r.next()) frames.push(f);
      },
      (frames, r, cut) => {
        assert.deepStrictEqual(frames, msgs, `split at ${cut}`);
        assert.equal(r.bufferedBytes, 0);
      },
    );
    const r = new BgpFrameReader();
    const frames: Buffer[] = [];
    for (let i = 0; i < all.length; i++) {
      r.push(all.subarray(i, i + 1));
      for (let f = r.next(); f !== null; f = r.next()) frames.push(Buffer.from(f));
    }
    assert.deepStrictEqual(frames, msgs);
  });

  test('three parts cut at every pair of points, drained after each part or only at the end', () => {
    // Covers a message split over three chunks, two messages split at once, and a push that
    // arrives before the frames already whole were taken.
    const msgs = stream();
    const all = Buffer.concat(msgs);
    for (const drainEach of [true, false]) {
      for (let i = 0; i <= all.length; i++) {
        for (let j = i; j <= all.length; j++) {
          const r = new BgpFrameReader();
          const frames: Buffer[] = [];
          for (const part of [all.subarray(0, i), all.subarray(i, j), all.subarray(j)]) {
            r.push(Buffer.from(part));
            if (drainEach) for (let f = r.next(); f !== null; f = r.next()) frames.push(f);
          }
          for (let f = r.next(); f !== null; f = r.next()) frames.push(f);
          assert.deepStrictEqual(frames, msgs, `cuts ${i}/${j}, drained each: ${drainEach}`);
          assert.equal(r.bufferedBytes, 0);
        }
      }
    }
  });

  test('a bad length in a header split across chunks is still refused', () => {
    const bad = encodeKeepalive();
    bad.writeUInt16BE(18, 16); // shorter than a header
    const all = Buffer.concat([encodeKeepalive(), bad, encodeKeepalive()]);
    for (let cut = 20; cut < 38; cut++) {
      const r = new BgpFrameReader();
      r.push(all.subarray(0, cut));
      assert.notEqual(r.next(), null);
      assert.equal(r.next(), null);
      r.push(all.subarray(cut));
      assert.equal(r.next(), null, `split at ${cut}`);
      assert.equal(r.error?.notification.subcode, 2, 'Bad Message Length');
    }
  });

  test('frames handed out stay intact after later pushes (they may be queued)', () => {
    const msgs = stream();
    const all = Buffer.concat(msgs);
    const r = new BgpFrameReader();
    const kept: Buffer[] = [];
    for (let i = 0; i < all.length; i += 5) {
      r.push(Buffer.from(all.subarray(i, i + 5)));
      for (let f = r.next(); f !== null; f = r.next()) kept.push(f);
    }
    assert.deepStrictEqual(kept, msgs);
    assert.equal(BgpFrameReader.frameType(kept[0]!), MessageType.Keepalive);
    assert.equal(BgpFrameReader.frameType(kept[1]!), MessageType.Update);
    const d = decodeMessage(kept[1]!, OPTS);
    assert.ok(d.ok && d.value.type === 'update');
  });

  test('a bad header stops framing with the NOTIFICATION to send', () => {
    const r = new BgpFrameReader();
    const bad = encodeKeepalive();
    bad[0] = 0;
    r.push(Buffer.concat([encodeKeepalive(), bad, encodeKeepalive()]));
    assert.notEqual(r.next(), null);
    assert.equal(r.next(), null);
    assert.equal(r.error?.notification.code, 1);
    assert.equal(r.error?.notification.subcode, 1);
    assert.equal(r.next(), null, 'error is sticky');
  });

  test('the maximum length follows extended-message negotiation', () => {
    const big = Buffer.alloc(5000);
    big.fill(0xff, 0, 16);
    big.writeUInt16BE(5000, 16);
    big[18] = 2;
    const r = new BgpFrameReader();
    r.push(big);
    assert.equal(r.next(), null);
    assert.equal(r.error?.notification.subcode, 2);
    const ext = new BgpFrameReader(65535);
    ext.push(big.subarray(0, 100));
    assert.equal(ext.next(), null);
    assert.equal(ext.error, null, 'waiting for the rest');
    ext.push(big.subarray(100));
    assert.equal(ext.next()?.length, 5000);
  });
});
