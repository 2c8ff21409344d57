import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HELPED,
  MODERATE_AFTER,
  MODERATE_WINDOW,
  ReadModeration,
  SMALL_UPDATE,
  STREAMING_UPDATES,
  TRIAL_WINDOWS,
} from './read-moderation.ts';

/** Feeds reads of `updates` UPDATEs of `size` bytes each until `bytes` have gone by; pauses asked. */
function feed(m: ReadModeration, bytes: number, updates: number, size: number): number {
  let asked = 0;
  for (let n = 0; n < bytes; n += updates * size) if (m.observe(updates, updates * size)) asked++;
  return asked;
}

/** Feeds 55-byte UPDATEs, 100 a read, until the trial starts; returns the bytes it took. */
function startTrial(m: ReadModeration): number {
  let n = 0;
  while (m.state === 'watching') {
    const asked = m.observe(100, 5500);
    // Only the read that completes the window starting the trial may pause.
    assert.equal(asked, (m.state as string) === 'trial', 'no pause before the trial');
    n += 5500;
    assert.ok(n <= MODERATE_AFTER + MODERATE_WINDOW + 5500, 'the trial starts by then');
  }
  return n;
}

describe('read moderation', () => {
  test('a table under MODERATE_AFTER bytes is never moderated, however small its UPDATEs', () => {
    const m = new ReadModeration();
    assert.equal(feed(m, MODERATE_AFTER - 64 * 1024, 100, 55), 0);
    assert.equal(m.state, 'watching');
  });

  test('a long stream of small UPDATEs is moderated; the sender packing more keeps it on', () => {
    const m = new ReadModeration();
    assert.ok(startTrial(m) >= MODERATE_AFTER);
    assert.equal(m.state, 'trial');
    // The sender packs: UPDATEs grow past HELPED times the size that started the trial, still small.
    const grown = Math.ceil(55 * HELPED) + 2;
    assert.ok(grown < SMALL_UPDATE);
    const asked = feed(m, TRIAL_WINDOWS * MODERATE_WINDOW + 100 * grown, 100, grown);
    assert.ok(asked > 0, 'reads were paused during the trial');
    assert.equal(m.state, 'on');
    assert.ok(feed(m, MODERATE_WINDOW, 100, 60) > 0, 'and after it');
  });

  test('a sender that cannot pack ends the trial: moderation is off for the connection', () => {
    const m = new ReadModeration();
    startTrial(m);
    assert.equal(m.state, 'trial');
    feed(m, TRIAL_WINDOWS * MODERATE_WINDOW + 5500, 100, 55);
    assert.equal(m.state, 'off');
    assert.equal(feed(m, 8 * MODERATE_WINDOW, 100, 40), 0);
  });

  test('packed UPDATEs, and reads of a few UPDATEs (trickling churn), are not paused', () => {
    const packed = new ReadModeration();
    assert.equal(feed(packed, 4 * MODERATE_AFTER, 30, 400), 0);
    assert.equal(packed.state, 'watching');
    const m = new ReadModeration();
    startTrial(m);
    assert.equal(m.observe(STREAMING_UPDATES - 1, (STREAMING_UPDATES - 1) * 55), false);
    assert.equal(m.observe(STREAMING_UPDATES, STREAMING_UPDATES * SMALL_UPDATE), false);
    assert.equal(m.observe(STREAMING_UPDATES, STREAMING_UPDATES * 55), true);
    assert.equal(m.observe(0, 0), false, 'a read of no UPDATEs');
  });
});
