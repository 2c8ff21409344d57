// The decoder is total: random and mutated bytes give a message or a typed error, never an
// exception, and always terminate (each test has a timeout).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodePathAttributes } from './attributes.ts';
import { BgpFrameReader } from './framer.ts';
import { decodeMessage, decodeMessageAt, messageLength, writeMessage } from './messages.ts';
import { arbCodecOptions, arbMessage } from './testing/arbitraries.ts';
import { type BgpMessage, type CodecOptions, type DecodeResult, Family } from './types.ts';

function checkResult(r: DecodeResult<BgpMessage>): void {
  if (r.ok) {
    assert.ok(['open', 'update', 'notification', 'keepalive', 'route-refresh'].includes(r.value.type));
  } else {
    assert.equal(r.error.action, 'session-reset');
    assert.ok(
      r.error.notification.code >= 1 && r.error.notification.code <= 7,
      `code ${r.error.notification.code}`,
    );
    assert.ok(r.error.notification.data instanceof Uint8Array);
    assert.ok(r.error.reason.length > 0);
  }
}

/** A random body behind a valid marker/length/type header, so decoding gets past the header. */
const arbFramed = fc
  .tuple(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 600 }))
  .map(([type, body]) => {
    const buf = Buffer.alloc(19 + body.length);
    buf.fill(0xff, 0, 16);
    buf.writeUInt16BE(19 + body.length, 16);
    buf[18] = type;
    buf.set(body, 19);
    return buf;
  });

/** A valid encoded message with some bytes overwritten and maybe truncated or extended. */
const arbMutated = arbCodecOptions.chain((opts) =>
  fc.tuple(
    fc.constant(opts),
    arbMessage(opts),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.integer({ min: -8, max: 8 }),
    fc.boolean(),
  ),
);

describe('decoder totality', { timeout: 120_000 }, () => {
  test('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), arbCodecOptions, (bytes, opts) => {
        checkResult(decodeMessage(bytes, opts));
      }),
      { numRuns: 3000 },
    );
  });

  test('random bodies behind a valid header never throw', () => {
    fc.assert(
      fc.property(arbFramed, arbCodecOptions, (frame, opts) => {
        checkResult(decodeMessage(frame, opts));
      }),
      { numRuns: 5000 },
    );
  });

  test('mutated valid messages never throw', () => {
    fc.assert(
      fc.property(arbMutated, ([opts, m, edits, resize, fixLength]) => {
        const len = messageLength(m, opts);
        const buf = Buffer.alloc(Math.max(0, len + resize));
        const full = Buffer.alloc(len);
        writeMessage(m, opts, full, 0);
        full.copy(buf, 0, 0, Math.min(len, buf.length));
        for (const [at, v] of edits) if (buf.length > 0) buf[19 + (at % Math.max(1, buf.length - 19))] = v;
        if (fixLength && buf.length >= 19) buf.writeUInt16BE(Math.min(buf.length, 0xffff), 16);
        checkResult(decodeMessage(buf, opts));
        checkResult(decodeMessageAt(buf, 0, buf.length, opts));
      }),
      { numRuns: 4000 },
    );
  });

  test('random attribute blocks (session and MRT forms) never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), arbCodecOptions, fc.boolean(), (bytes, opts, mrt) => {
        const r = decodePathAttributes(
          bytes,
          0,
          bytes.length,
          opts,
          mrt ? { mrtFamily: Family.IPv6Unicast } : undefined,
        );
        if (!r.ok) assert.equal(r.error.action, 'session-reset');
        else
          for (const e of r.value.errors)
            assert.ok(e.action === 'treat-as-withdraw' || e.action === 'attribute-discard');
      }),
      { numRuns: 3000 },
    );
  });

  test('the frame reader never throws and never returns a frame longer than the maximum', () => {
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    fc.assert(
      fc.property(
        fc.array(fc.oneof(arbFramed, fc.uint8Array({ maxLength: 64 })), { maxLength: 8 }),
        (chunks) => {
          const r = new BgpFrameReader(4096);
          for (const c of chunks) {
            r.push(c);
            for (let f = r.next(); f !== null; f = r.next()) {
              assert.ok(f.length >= 19 && f.length <= 4096);
              checkResult(decodeMessage(f, opts));
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
