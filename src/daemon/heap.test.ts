import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectGarbage } from './heap.ts';

test('collectGarbage runs a full collection: an object reachable only through a WeakRef is gone', async () => {
  // Built in a function so that no stack slot of this frame keeps it alive.
  const makeRef = (): WeakRef<object> => new WeakRef({ payload: new Array<number>(100_000).fill(1) });
  const ref = makeRef();
  const kept = { payload: [1, 2, 3] };
  const keptRef = new WeakRef(kept);
  // A WeakRef's target is held until the end of the job that made it (ECMA-262 ClearKeptObjects).
  await new Promise((res) => setImmediate(res));
  assert.equal(collectGarbage(), true);
  assert.equal(ref.deref(), undefined, 'the unreachable object survived the collection');
  assert.equal(keptRef.deref(), kept, 'a reachable object was lost');
});
