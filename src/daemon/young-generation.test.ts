import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runV8Child } from '../testing/v8-child.ts';
import { keepYoungGenerationWarm } from './young-generation.ts';

const MODULE = fileURLToPath(new URL('./young-generation.ts', import.meta.url));

// A child process grows its young generation to the launch cap (as the warm-up does), drops
// everything, idles for 6 s, then forces a scavenge and reports the young generation's size
// before and after. With the keeper running it must keep its size; without it V8 must shrink it,
// or the test no longer shows what the keeper is for. The flags are the daemon's (bin/tsbgp.js).
const CHILD = `
import { getHeapSpaceStatistics } from 'node:v8';
const { keepYoungGenerationWarm } = await import(${JSON.stringify(MODULE)});
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
// Survivors across many scavenges make V8 grow the young generation.
let ring = new Array(64);
for (let i = 0; i < 2000; i++) ring[i % 64] = new Array(8192);
ring = null;
const grown = newSpace();
const keeper = process.argv.at(-1) === 'keeper' ? keepYoungGenerationWarm() : null;
await new Promise((r) => setTimeout(r, 6000));
globalThis.gc({ type: 'minor' });
console.log(JSON.stringify({ grown, after: newSpace(), allocated: keeper?.allocatedBytes ?? 0 }));
keeper?.stop();
`;

interface ChildReport {
  grown: number;
  after: number;
  allocated: number;
}

function runChild(mode: 'keeper' | 'idle'): Promise<ChildReport> {
  return runV8Child<ChildReport>(
    CHILD,
    ['--max-semi-space-size=8', '--no-memory-reducer', '--expose-gc'],
    [mode],
  );
}

test('the keeper keeps an idle young generation from shrinking; without it V8 shrinks it', async () => {
  const [kept, idle] = await Promise.all([runChild('keeper'), runChild('idle')]);
  const MiB = 2 ** 20;
  assert.ok(kept.grown >= 8 * MiB, `the young generation did not grow first: ${kept.grown}`);
  assert.ok(idle.grown >= 8 * MiB, `the young generation did not grow first: ${idle.grown}`);
  assert.ok(
    idle.after < idle.grown,
    `without the keeper V8 kept ${idle.after} of ${idle.grown} bytes: the test shows nothing`,
  );
  assert.ok(kept.after >= kept.grown, `with the keeper it shrank from ${kept.grown} to ${kept.after}`);
  // 6 s at 2 MiB/s, in whole rounds of 32 arrays.
  assert.ok(kept.allocated >= 5 * 2 * MiB, `the keeper allocated only ${kept.allocated} bytes`);
});

test('the keeper allocates in whole rounds at the asked rate and stops', async () => {
  const keeper = keepYoungGenerationWarm(1024 * 1024, 20);
  await new Promise((r) => setTimeout(r, 110));
  keeper.stop();
  const at = keeper.allocatedBytes;
  // 1 MiB/s in 20 ms rounds is one 64 KiB array per round (rounded up from 0.32).
  assert.equal(at % (64 * 1024), 0);
  assert.ok(at >= 3 * 64 * 1024 && at <= 6 * 64 * 1024, `allocated ${at}`);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(keeper.allocatedBytes, at, 'it allocated after stop()');
});
