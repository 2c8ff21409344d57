// Keeps V8's young generation at its working size while the daemon idles, so that a full table
// arriving after a quiet period is loaded as fast as one arriving at start.
//
// Why: V8 shrinks its young generation at a scavenge whose measured allocation rate is under
// 1,000 bytes/ms (Heap::ResizeNewSpace; the rate is taken over the last ~5 s of samples, and
// one sample spans everything since the previous collection). An idle daemon allocates ~100
// bytes/ms, so when a peer's first table comes in, the young generation is 1 MiB instead of the
// 16 MiB the warm-up grew it to, and V8 grows it back only after about ten collections of the
// table. In the convergence benchmark the first 100k table 30 s after start then ran 12-13
// scavenges and a full collection (43-63 ms of pauses) against 2 scavenges (11 ms) at once, and
// faulted the young generation's pages back in (docs/PERFORMANCE.md, twenty-first and
// twenty-second sessions).
//
// How: allocate a steady ~2 MiB/s of arrays that die at once, twice V8's threshold. A scavenge
// of dead arrays costs ~0.5 ms, once per ~4 s. V8's memory reducer is turned off at launch
// (--no-memory-reducer in bin/tsbgp.js): on an idle heap it starts full collections that shrink
// the young generation regardless of the rate (at the latest by its 100 s watchdog), and
// V8 creates it at start-up only, so no code can turn it off later.
//
// Costs (measured, docs/PERFORMANCE.md): ~2 ms of CPU per second on the idle daemon (0.2% of a
// core), and the young generation's ~16 MiB stay resident. `warmUp.keepWarm: false` turns it
// off; a per-host daemon whose tables are small has no use for it.

/** What the keeper allocates per second: twice V8's "low allocation rate" (1,000 bytes/ms). */
export const KEEP_WARM_BYTES_PER_SECOND = 2 * 1024 * 1024;

/** One allocation round per second: the rate V8 measures spans seconds, so finer ticks buy nothing. */
const TICK_MS = 1000;

/**
 * Slots per array. 8,192 slots of 8 bytes (Node 20 on x64 does not compress pointers) is 64 KiB:
 * well under V8's largest regular object (128 KiB), so it is allocated in the young generation
 * itself, not in the large-object space.
 */
const ARRAY_SLOTS = 8192;
const ARRAY_BYTES = ARRAY_SLOTS * 8;

export interface YoungGenerationKeeper {
  /** Bytes allocated so far (the arrays' payload). */
  readonly allocatedBytes: number;
  stop(): void;
}

/**
 * Starts allocating `bytesPerSecond` of short-lived arrays, in rounds every `tickMs`. The timer
 * does not keep the process alive.
 */
export function keepYoungGenerationWarm(
  bytesPerSecond: number = KEEP_WARM_BYTES_PER_SECOND,
  tickMs: number = TICK_MS,
): YoungGenerationKeeper {
  const arraysPerTick = Math.max(1, Math.round((bytesPerSecond * tickMs) / 1000 / ARRAY_BYTES));
  // Each round's last array is kept until the next round: a value that escapes into this
  // closure cannot be optimised away by TurboFan's escape analysis.
  const state = { last: null as unknown[] | null, rounds: 0 };
  const timer = setInterval(() => {
    for (let i = 0; i < arraysPerTick; i++) state.last = new Array<unknown>(ARRAY_SLOTS);
    state.rounds++;
  }, tickMs);
  timer.unref();
  return {
    get allocatedBytes() {
      return state.rounds * arraysPerTick * ARRAY_BYTES;
    },
    stop() {
      clearInterval(timer);
      state.last = null;
    },
  };
}
