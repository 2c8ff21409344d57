import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameQueue } from './frame-queue.ts';

test('FrameQueue keeps frames in order through growth and wrap-around, and counts bytes (property)', () => {
  const chunks = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)];
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(fc.tuple(fc.nat(2), fc.nat(1000), fc.integer({ min: 19, max: 4096 })), fc.constant(null)),
        {
          maxLength: 600,
        },
      ),
      (ops) => {
        const q = new FrameQueue(2);
        const model: [number, number, number][] = [];
        for (const op of ops) {
          if (op === null) {
            if (model.length === 0) {
              assert.throws(() => q.shift(), /empty/);
              continue;
            }
            const [c, start, length] = model.shift()!;
            assert.equal(q.frontBuffer, chunks[c]);
            assert.equal(q.frontStart, start);
            assert.equal(q.frontLength, length);
            q.shift();
          } else {
            q.push(chunks[op[0]]!, op[1], op[2]);
            model.push(op);
          }
          assert.equal(q.size, model.length);
          assert.equal(
            q.bytes,
            model.reduce((s, m) => s + m[2], 0),
          );
        }
      },
    ),
  );
});

test('FrameQueue.clear empties it and it is usable again', () => {
  const q = new FrameQueue(4);
  const b = new Uint8Array(64);
  for (let i = 0; i < 10; i++) q.push(b, i, 19);
  q.shift();
  q.clear();
  assert.equal(q.size, 0);
  assert.equal(q.bytes, 0);
  q.push(b, 7, 23);
  assert.equal(q.frontStart, 7);
  assert.equal(q.frontLength, 23);
  assert.equal(q.bytes, 23);
});
