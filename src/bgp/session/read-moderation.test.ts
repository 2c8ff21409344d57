import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BURST_GAP_MS,
  HELPED,
  MODERATE_AFTER,
  MODERATE_WINDOW,
  ReadModeration,
  SMALL_UPDATE,
  STREAMING_UPDATES,
  TRIAL_WINDOWS,
} from './read-moderation.ts';

/** A read clock: each read comes 1 ms after the previous one (a stream, no burst gap). */
function clock(): () => number {
  let t = 0;
  return () => ++t;
}

/** Feeds reads of `updates` UPDATEs of `size` bytes each until `bytes` have gone by; pauses asked. */
function feed(m: ReadModeration, now: () => number, bytes: number, updates: number, size: number): number {
  let asked = 0;
  for (let n = 0; n < bytes; n += updates * size) if (m.observe(updates, updates * size, now())) asked++;
  return asked;
}

/** Feeds 55-byte UPDATEs, 100 a read, until the trial starts; returns the bytes it took. */
function startTrial(m: ReadModeration, now: () => number): number {
  let n = 0;
  while (m.state === 'watching') {
    const asked = m.observe(100, 5500, now());
    // Only the read that completes the window starting the trial may pause.
    assert.equal(asked, (m.state as string) === 'trial', 'no pause before the trial');
    n += 5500;
    assert.ok(n <= MODERATE_AFTER + MODERATE_WINDOW + 5500, 'the trial starts by then');
  }
  return n;
}

describe('read moderation', () => {
  test('a burst under MODERATE_AFTER bytes is never moderated, however small its UPDATEs', () => {
    const m = new ReadModeration();
    assert.equal(feed(m, clock(), MODERATE_AFTER - 64 * 1024, 100, 55), 0);
    assert.equal(m.state, 'watching');
  });

  test('a long stream of small UPDATEs is moderated; the sender packing more keeps it on', () => {
    const m = new ReadModeration();
    const now = clock();
    assert.ok(startTrial(m, now) >= MODERATE_AFTER);
    assert.equal(m.state, 'trial');
    // The sender packs: UPDATEs grow past HELPED times the size that started the trial, still small.
    const grown = Math.ceil(55 * HELPED) + 2;
    assert.ok(grown < SMALL_UPDATE);
    const asked = feed(m, now, TRIAL_WINDOWS * MODERATE_WINDOW + 100 * grown, 100, grown);
    assert.ok(asked > 0, 'reads were paused during the trial');
    assert.equal(m.state, 'on');
    assert.ok(feed(m, now, MODERATE_WINDOW, 100, 60) > 0, 'and after it');
  });

  test('a sender that cannot pack ends the trial: moderation is off for the rest of the burst', () => {
    const m = new ReadModeration();
    const now = clock();
    startTrial(m, now);
    assert.equal(m.state, 'trial');
    feed(m, now, TRIAL_WINDOWS * MODERATE_WINDOW + 5500, 100, 55);
    assert.equal(m.state, 'off');
    assert.equal(feed(m, now, 8 * MODERATE_WINDOW, 100, 40), 0);
  });

  test('a gap of BURST_GAP_MS ends the burst: churn after a table starts from nothing', () => {
    const m = new ReadModeration();
    let t = 0;
    const now = () => ++t;
    startTrial(m, now);
    feed(m, now, TRIAL_WINDOWS * MODERATE_WINDOW + 5500, 100, 55);
    assert.equal(m.state, 'off');
    t += BURST_GAP_MS + 1;
    assert.equal(m.observe(100, 5500, now()), false);
    assert.equal(m.state, 'watching', 'a new burst, a new trial later');
    // Churn: small UPDATEs, but with a gap between reads; never a burst of MODERATE_AFTER bytes.
    const churn = new ReadModeration();
    let c = 0;
    for (let i = 0; i < 2000; i++) {
      c += BURST_GAP_MS + 1;
      assert.equal(churn.observe(100, 5500, c), false);
    }
    assert.equal(churn.state, 'watching');
  });

  test('packed UPDATEs, and reads of a few UPDATEs (trickling), are not paused', () => {
    const packed = new ReadModeration();
    assert.equal(feed(packed, clock(), 4 * MODERATE_AFTER, 30, 400), 0);
    assert.equal(packed.state, 'watching');
    const m = new ReadModeration();
    const now = clock();
    startTrial(m, now);
    assert.equal(m.observe(STREAMING_UPDATES - 1, (STREAMING_UPDATES - 1) * 55, now()), false);
    assert.equal(m.observe(STREAMING_UPDATES, STREAMING_UPDATES * SMALL_UPDATE, now()), false);
    assert.equal(m.observe(STREAMING_UPDATES, STREAMING_UPDATES * 55, now()), true);
    assert.equal(m.observe(0, 0, now()), false, 'a read of no UPDATEs');
  });
});
