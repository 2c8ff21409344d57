// Preload for the daemon (TSBGP_NODE_FLAGS='--import <this file>'): V8's sampling heap profiler,
// counting objects the GC has already freed too, from HEAP_SAMPLE_START_MS after start (default
// 4000) to exit. Writes HEAP_SAMPLE_OUT (default /tmp/heap-<pid>.heapprofile); read it with
// summarize.mjs. Used for docs/PERFORMANCE.md (nineteenth session).
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
        includeObjectsCollectedByMinorGC: true,
      },
      (error) => {
        sampling = error === null;
      },
    );
  });
}, startMs).unref();
process.on('exit', () => {
  if (!sampling) return;
  sampling = false;
  // An in-process session answers synchronously, so this completes before the process ends.
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error === null) fs.writeFileSync(out, JSON.stringify(result.profile));
  });
});
