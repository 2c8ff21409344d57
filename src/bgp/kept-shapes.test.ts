// Optimised code that makes short-lived objects survives a full collection that finds none of
// them, because one instance of each such class is kept (keptPackerShapes in codec/packer.ts,
// keptBatchShape in rib/update-group.ts, keptRouteWorkShape in policy/compile.ts). Checked in a
// child process with V8's own view (%GetOptimizationStatus), next to a class without a kept
// instance whose code V8 must throw away, or the test no longer shows what the kept ones are for.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runV8Child } from '../testing/v8-child.ts';

const module = (p: string): string => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));

const CHILD = `
const { packUpdates } = await import(${module('./codec/packer.ts')});
const { RouteWork } = await import(${module('./policy/compile.ts')});
const { settledStoredShape } = await import(${module('./rib/attrs.ts')});
const { keptBatchShape } = await import(${module('./rib/update-group.ts')});

// A class like RouteWork that nobody keeps an instance of.
class Unkept { attrs; modified = false; constructor(a) { this.attrs = a; } }
const makeUnkept = (a) => new Unkept(a);
// An UpdateBatch made as UpdateGroup.newBatch makes them.
const Batch = keptBatchShape.constructor;
const attrTable = keptBatchShape.attrs;
const makeBatch = () => new Batch(1, 0x10001, attrTable, false, null).empty;
const opts = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
const group = {
  family: 0x10001,
  attributes: { origin: 0, asPath: new Uint32Array(0), nextHop: 0x0a000001, localPref: 100 },
  prefixes: { afi: 1, count: 1, lengths: Uint8Array.of(24), words: Uint32Array.of(0x0a000000), pathIds: null },
};
const pack = () => packUpdates([group], [], opts).prefixCount;
// Returned, so that the object is really made (not optimised away).
const policy = () => new RouteWork(settledStoredShape);

const subjects = { makeUnkept, makeBatch, pack, policy };
for (const f of Object.values(subjects)) {
  %PrepareFunctionForOptimization(f);
  // More than the 7 instances after which V8 fixes a class's object size (in-object slack tracking).
  for (let i = 0; i < 20; i++) f({});
  %OptimizeFunctionOnNextCall(f);
  f({});
}
const optimised = (f) => (%GetOptimizationStatus(f) & 16) !== 0;
const before = Object.fromEntries(Object.entries(subjects).map(([k, f]) => [k, optimised(f)]));
// V8 keeps a map that optimised code uses for a few full collections after its last use
// (--retain-maps-for-n-gc, 2 by default), as several collections during a table do.
for (let i = 0; i < 4; i++) globalThis.gc();
const after = Object.fromEntries(Object.entries(subjects).map(([k, f]) => [k, optimised(f)]));
console.log(JSON.stringify({ before, after }));
`;

test('code making short-lived objects stays optimised through a full collection', async () => {
  const r = await runV8Child<{ before: Record<string, boolean>; after: Record<string, boolean> }>(CHILD, [
    '--allow-natives-syntax',
    '--expose-gc',
  ]);
  assert.deepEqual(
    r.before,
    { makeUnkept: true, makeBatch: true, pack: true, policy: true },
    'not optimised',
  );
  assert.equal(
    r.after.makeUnkept,
    false,
    'V8 kept code for a class with no instance: the test shows nothing',
  );
  assert.deepEqual(
    { makeBatch: r.after.makeBatch, pack: r.after.pack, policy: r.after.policy },
    { makeBatch: true, pack: true, policy: true },
  );
});
