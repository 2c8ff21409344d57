// Empty arrays for objects, made in the elements kind V8 gives such arrays sooner or later.
//
// Why: V8 gives every array a hidden class by the kind of its elements: small integers, other
// numbers, any values, each packed or with holes. `[]` starts as packed small integers and moves on
// at its first object or hole, and optimised code checks that kind. A long-lived array moves on
// once, in its first minutes; the start-up warm-up's arrays had moved on long before its code was
// optimised, so the real stack's fresh `[]`s did not match and their first use threw that code
// away: "wrong map" at `this.listPool.length` (Adj-RIB-In), `this.passes.length` (Loc-RIB),
// `this.ranges[b]` (update-group batches) and `this.sessObj.length` (routing engine) in
// --trace-deopt-verbose, each just as the first real table came. An array that starts in the most
// general kind for objects never moves: the warm-up's and the real stack's share one hidden class.

/** An empty array already in V8's "any values, with holes" kind (HOLEY_ELEMENTS). */
export function holeyArray<T>(): T[] {
  const a: unknown[] = [];
  a[1] = undefined; // leaves a hole at 0: the array becomes holey, and holds any value
  a.length = 0;
  return a as T[];
}
