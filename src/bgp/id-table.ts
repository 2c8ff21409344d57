// Sizing of the typed arrays indexed by attribute-set id (the session layer's AttributeStore, the
// RIB's AttrTable, the policy caches, the decision process's next-hop costs, the routing engine's
// session-to-RIB map). They start small and double as sets arrive.
//
// Why small: V8 treats a field that was only ever assigned once as constant, and optimised code
// that relied on that is thrown away ("code dependencies" in `--trace-deopt`) the first time the
// field is assigned again, which is the first time the array grows. The start-up warm-up
// (src/daemon/warm-up.ts) interns more sets than this, so every such table grows there once and
// the fields are known to change before the first real table arrives. At 1,024 the warm-up's 500
// sets grew none of them, and the first table's 3,000 sets threw away the optimised code of 15
// functions on the hot path (`ref`, `unref`, `derive`, `upsert`, `applyFrame`, `importUpdate`...)
// part way through it (docs/PERFORMANCE.md, eleventh session).

/** Initial length of an array indexed by attribute-set id; below the warm-up's set count. */
export const ID_TABLE_INITIAL = 256;
