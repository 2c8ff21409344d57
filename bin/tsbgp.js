#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point. The sources are TypeScript run through tsx's loader, so a checkout
// runs without a build step; `npm run build` still type-checks and emits dist/.
//
// --max-semi-space-size=8 (MiB; Node 20's default ceiling is 16): V8 grows its young generation
// while a table loads, and the pages it grows stay resident. Capped at 8, a 100k-prefix load grew
// the daemon's RSS by ~12 MB less, and 1M converged no slower (docs/PERFORMANCE.md). V8 reads
// the flag only at start, so it is here (`env -S`, coreutils ≥ 8.30) and not in the code; run as
// `node bin/tsbgp.js` or `node dist/cli/main.js`, add it by hand.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
