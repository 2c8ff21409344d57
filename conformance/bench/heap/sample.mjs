// Preload for the daemon (TSBGP_NODE_FLAGS='--import <this file>'): V8's sampling heap profiler,
// counting objects the GC has already freed too, from HEAP_SAMPLE_START_MS after start (default
// 4000) to exit. Writes HEAP_SAMPLE_OUT (default /tmp/heap-<pid>.heapprofile); read it with
// summarize.mjs. Used for docs/PERFORMANCE.md (nineteenth session). HEAP_SAMPLE_SURVIVORS=1 leaves
// out what a scavenge freed. What is left is not only what survived one: while no scavenge runs
// (a young generation larger than the sampled burst), everything allocated stays in.
// HEAP_SAMPLE_UNTIL (below) ends the sampling at a log line instead of at exit.
import fs from 'node:fs';
import inspector from 'node:inspector';

const startMs = Number(process.env.HEAP_SAMPLE_START_MS ?? 4000);
const out = process.env.HEAP_SAMPLE_OUT ?? `/tmp/heap-${process.pid}.heapprofile`;
const session = new inspector.Session();
session.connect();
let sampling = false;
setTimeout(() => {
  session.post('HeapProfiler.enable', () => {
    session.post(
      'HeapProfiler.startSampling',
      {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: process.env.HEAP_SAMPLE_SURVIVORS !== '1',
      },
      (error) => {
        sampling = error === null;
      },
    );
  });
}, startMs).unref();
function stop() {
  if (!sampling) return;
  sampling = false;
  // An in-process session answers synchronously, so this completes before the process ends.
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error === null) fs.writeFileSync(out, JSON.stringify(result.profile));
  });
}
process.on('exit', stop);
// HEAP_SAMPLE_UNTIL=TEXT stops at the first log line holding TEXT (the daemon logs to stdout), e.g.
// 'initial routing table complete' with BENCH_LOG_LEVEL=info: the first table without its withdrawal.
const until = process.env.HEAP_SAMPLE_UNTIL;
if (until) {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    if (sampling && String(chunk).includes(until)) stop();
    return write(chunk, ...rest);
  };
}
