// Read moderation: when to stop reading a connection for a moment so that its sender packs more
// prefixes into each UPDATE. A pure decision over what each socket read brought; the Peer holds
// the socket and the timer.
//
// Why: a sender packs an UPDATE from what one attribute set's bucket holds when its socket can
// take more (BIRD's buckets, FRR's update groups). A reader that takes every byte the moment it
// arrives therefore gets one or two prefixes per UPDATE, and both ends pay per UPDATE. Behind the
// 1M benchmark's BIRD 2 injector, tsbgp was sent 0.55-0.81M UPDATEs where BIRD 2 as the reflector
// was sent 0.08-0.18M, and the injector spent about twice the CPU on them, on a machine whose two
// cores the three processes share (docs/PERFORMANCE.md, fourteenth session). BIRD 2 reads a
// session 4 KiB at a time between its other work, which paces its sender the same way.
//
// Rules, over the UPDATE bytes each read brings:
// - A burst is what a connection brings without a gap of BURST_GAP_MS between reads: a full table
//   or a route refresh streams, ordinary churn does not. Each burst starts from 'watching'.
// - Nothing is moderated before a burst has brought MODERATE_AFTER bytes: a table of up to
//   ~200k prefixes, and churn, is read as it comes.
// - Past that, the average UPDATE size is judged per MODERATE_WINDOW bytes. A window averaging
//   under SMALL_UPDATE bytes (about one to six prefixes with a typical attribute set) starts a
//   trial: each read that brings at least STREAMING_UPDATES small UPDATEs (the sender is ahead,
//   not trickling) asks for a pause.
// - The trial is judged after TRIAL_WINDOWS windows. If the UPDATEs did not grow by HELPED, the
//   sender cannot pack (every prefix its own attribute set, or a fixed stream), so pausing only
//   costs time: moderation stops for the rest of the burst. Otherwise it stays on.

/** UPDATE bytes a burst must have brought before any read is moderated. */
export const MODERATE_AFTER = 4 * 1024 * 1024;
/** Bytes of UPDATEs per judging window. */
export const MODERATE_WINDOW = 2 * 1024 * 1024;
/** An UPDATE under this many bytes, on average, is a small one. */
export const SMALL_UPDATE = 80;
/** A read with at least this many UPDATEs means the sender is streaming. */
export const STREAMING_UPDATES = 8;
/** Moderated windows before the trial is judged. */
export const TRIAL_WINDOWS = 2;
/** The trial helped when the average UPDATE grew by this factor. */
export const HELPED = 1.25;
/** A gap between reads this long (ms) ends a burst. */
export const BURST_GAP_MS = 500;
/** How long a moderated read pauses the socket. */
export const MODERATE_PAUSE_MS = 10;

export type ModerationState = 'watching' | 'trial' | 'on' | 'off';

export class ReadModeration {
  state: ModerationState = 'watching';
  /** Reads that asked for a pause. */
  pauses = 0;
  /** UPDATE bytes of the current burst, and when its last read came. */
  private total = 0;
  private lastRead = Number.NEGATIVE_INFINITY;
  private windowBytes = 0;
  private windowUpdates = 0;
  /** Average UPDATE size of the window that started the trial. */
  private before = 0;
  private trialWindows = 0;

  /**
   * Counts one read's UPDATEs, at `now` (ms, monotonic); true when reading should pause for
   * MODERATE_PAUSE_MS.
   */
  observe(updates: number, bytes: number, now: number): boolean {
    if (updates === 0) return false;
    if (now - this.lastRead > BURST_GAP_MS) {
      this.state = 'watching';
      this.total = 0;
      this.windowBytes = 0;
      this.windowUpdates = 0;
    }
    this.lastRead = now;
    if (this.state === 'off') return false;
    this.total += bytes;
    this.windowBytes += bytes;
    this.windowUpdates += updates;
    if (this.windowBytes >= MODERATE_WINDOW) this.judge(this.windowBytes / this.windowUpdates);
    if (this.state !== 'trial' && this.state !== 'on') return false;
    if (updates < STREAMING_UPDATES || bytes >= updates * SMALL_UPDATE) return false;
    this.pauses++;
    return true;
  }

  private judge(average: number): void {
    this.windowBytes = 0;
    this.windowUpdates = 0;
    if (this.state === 'watching') {
      if (this.total >= MODERATE_AFTER && average < SMALL_UPDATE) {
        this.state = 'trial';
        this.before = average;
        this.trialWindows = 0;
      }
      return;
    }
    if (this.state === 'trial' && ++this.trialWindows >= TRIAL_WINDOWS) {
      this.state = average >= this.before * HELPED ? 'on' : 'off';
    }
  }
}
