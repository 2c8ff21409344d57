#!/usr/bin/env -S node --max-semi-space-size=8 --v8-pool-size=1 --max-inlined-bytecode-size-cumulative=230 --no-memory-reducer
// Entry point. It runs the compiled JavaScript in dist/ when that is current (every source file
// in src/ has its .js in dist/, no older than it), and the TypeScript sources through tsx's loader
// otherwise, so a checkout runs without a build step and a stale build is never run.
//
// Why prefer dist/: tsx compiles each module at start and keeps its loader on a worker thread
// for the life of the process. From dist/ an idle daemon is ~28 MB smaller (RSS after the
// warm-up: 110-116 MB against 140-148 MB in the convergence benchmark) and `--version` returns
// in 0.43 s against 0.74 s (docs/architecture.md). The check stats ~240 files, a few ms.
// TSBGP_FROM_SOURCE=1 forces the sources.
//
// --max-semi-space-size=8 (MiB; Node 20's default ceiling is 16): V8 grows its young generation
// while a table loads, and the pages it grows stay resident. Capped at 8, a 100k-prefix load grew
// the daemon's RSS by ~12 MB less, and 1M converged no slower (docs/PERFORMANCE.md). V8 reads
// the flag only at start, so it is here (`env -S`, coreutils ≥ 8.30) and not in the code; run as
// `node bin/tsbgp.js` or `node dist/cli/main.js`, add it by hand.
//
// --v8-pool-size=1: one V8 worker thread, not four. The first table is compiled by TurboFan while
// it loads; on a small host four workers' compile jobs take the main thread's core. The first
// 100k table converged in 0.320 s against 0.399 s (7 of 7 runs), 1M no slower, and each worker
// fewer is one malloc arena fewer (idle RSS 103-105 MB against 105-118; docs/PERFORMANCE.md).
//
// --max-inlined-bytecode-size-cumulative=230 (V8's default is 920): TurboFan inlines less into
// each function it optimises, so each compile job is smaller. The first 100k table's jobs took
// 278-331 ms of compile time against 464-497 ms, and the daemon's CPU fell by 2-6% at 100k and at
// 1M (2.02 s against 2.15) with convergence level; the RIB benchmark's steady state was no slower
// (docs/PERFORMANCE.md, seventeenth session).
//
// --no-memory-reducer: V8's memory reducer starts full collections on an idle heap, and those
// shrink the young generation that src/daemon/young-generation.ts keeps at its working size (at
// the latest at the reducer's 100 s watchdog). With both, the first 100k table 30 s after start
// converged in 0.278 s against 0.318 s (6 of 7 runs) with 0.38 against 0.48 CPU s; the idle
// daemon's RSS stays ~20 MiB higher (docs/PERFORMANCE.md, twenty-second session). V8 creates the
// reducer at start-up only, so the flag cannot be set from the code.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src', import.meta.url));
const DIST = fileURLToPath(new URL('../dist', import.meta.url));

/** Whether dist/ holds a build of every module under src/dir, each no older than its source. */
function builtIsCurrent(dir) {
  for (const e of readdirSync(join(SRC, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) {
      // The build leaves out test helpers (tsconfig.build.json), as it leaves out tests.
      if (e.name !== 'testing' && !builtIsCurrent(rel)) return false;
      continue;
    }
    if (!e.name.endsWith('.ts') || e.name.endsWith('.test.ts') || e.name.endsWith('.d.ts')) continue;
    let built;
    try {
      built = statSync(join(DIST, rel.replace(/\.ts$/, '.js'))).mtimeMs;
    } catch {
      return false;
    }
    if (statSync(join(SRC, rel)).mtimeMs > built) return false;
  }
  return true;
}

function fromDist() {
  if (process.env.TSBGP_FROM_SOURCE) return false;
  try {
    return builtIsCurrent('');
  } catch {
    return false; // no dist/ at all, or unreadable: run the sources
  }
}

if (fromDist()) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
