// Preload for the daemon (TSBGP_NODE_FLAGS='--import <this file>', with BENCH_LOG_LEVEL=info):
// writes a heap snapshot when the benchmark's injector session ("inj") comes up and another when
// the initial routing table is complete, as /tmp/heap-1.heapsnapshot and /tmp/heap-2.heapsnapshot.
// Compare them with summarize.mjs. Used for docs/PERFORMANCE.md (nineteenth session).
import v8 from 'node:v8';

const write = process.stdout.write.bind(process.stdout);
let taken = 0;
process.stdout.write = (chunk, ...rest) => {
  const result = write(chunk, ...rest);
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  const injectorUp = text.includes('"to":"Established"') && text.includes('"inj"');
  if (injectorUp || text.includes('initial routing table complete')) {
    v8.writeHeapSnapshot(`/tmp/heap-${++taken}.heapsnapshot`);
  }
  return result;
};
