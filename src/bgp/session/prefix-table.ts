// A compact hash map from (prefix, path id) to a non-negative int32 value, stored entirely in
// typed arrays: open addressing with linear probing and backward-shift deletion. One entry of an
// IPv4 table costs 4 words (address, length, path id, value) over the slot count, an IPv6 entry
// 7 words; nothing is allocated per prefix, so a full table is a handful of arrays for the GC.
//
// Growth is incremental (as Redis rehashes): doubling allocates the new arrays and every later
// operation moves a few old slots across, so no single UPDATE pays for rehashing a million
// entries (that took ~80 ms at once: long enough to make timers late under a full-table flood).
// While a migration runs, a key lives in exactly one of the two tables; the old table marks its
// deletions with tombstones, since shifting entries back could move them behind the cursor.

const MIN_CAPACITY = 16;
/** Old slots moved to the new table per operation during a migration. */
const MIGRATE_STEP = 64;
// Stored values are value + 1: a zero-filled array is an empty table. TOMBSTONE only in old tables.
const EMPTY = 0;
const TOMBSTONE = -1;

export class PrefixTable {
  /** Words of address per key: 1 for IPv4, 4 for IPv6. */
  readonly addrWords: number;
  private readonly stride: number;
  private keys: Uint32Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;
  // The table being migrated from, if any.
  private oldKeys: Uint32Array | null = null;
  private oldValues: Int32Array | null = null;
  private oldMask = 0;
  private cursor = 0;

  constructor(afi: 1 | 2, initialCapacity = MIN_CAPACITY) {
    this.addrWords = afi === 1 ? 1 : 4;
    this.stride = this.addrWords + 2;
    let cap = MIN_CAPACITY;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keys = new Uint32Array(cap * this.stride);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays (both tables while migrating). */
  get byteLength(): number {
    return (
      this.keys.byteLength +
      this.values.byteLength +
      (this.oldKeys?.byteLength ?? 0) +
      (this.oldValues?.byteLength ?? 0)
    );
  }

  private hash(words: Uint32Array, off: number, length: number, pathId: number): number {
    let h = Math.imul(length ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(pathId, 0xc2b2ae35);
    for (let i = 0; i < this.addrWords; i++) {
      h ^= Math.imul(words[off + i]! ^ (h >>> 15), 0x2c1b3c6d);
      h = Math.imul(h ^ (h >>> 13), 0x297a2d39);
    }
    return h ^ (h >>> 16);
  }

  private static matches(
    keys: Uint32Array,
    base: number,
    aw: number,
    words: Uint32Array,
    off: number,
    length: number,
    pathId: number,
  ): boolean {
    if (keys[base + aw] !== length || keys[base + aw + 1] !== pathId >>> 0) return false;
    for (let i = 0; i < aw; i++) if (keys[base + i] !== words[off + i]) return false;
    return true;
  }

  /** Slot of the key in the current table, or -1 - (the empty slot where it would go). */
  private find(words: Uint32Array, off: number, length: number, pathId: number): number {
    const aw = this.addrWords;
    let slot = this.hash(words, off, length, pathId) & this.mask;
    for (;;) {
      if (this.values[slot] === EMPTY) return -1 - slot;
      if (PrefixTable.matches(this.keys, slot * this.stride, aw, words, off, length, pathId)) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Slot of the key in the old table, or -1. */
  private findOld(words: Uint32Array, off: number, length: number, pathId: number): number {
    const keys = this.oldKeys;
    const values = this.oldValues;
    if (keys === null || values === null) return -1;
    const aw = this.addrWords;
    let slot = this.hash(words, off, length, pathId) & this.oldMask;
    for (;;) {
      const v = values[slot]!;
      if (v === EMPTY) return -1;
      if (v !== TOMBSTONE && PrefixTable.matches(keys, slot * this.stride, aw, words, off, length, pathId))
        return slot;
      slot = (slot + 1) & this.oldMask;
    }
  }

  /** The value for a prefix whose address words start at words[off], or -1 when absent. */
  get(words: Uint32Array, off: number, length: number, pathId = 0): number {
    const slot = this.find(words, off, length, pathId);
    if (slot >= 0) return this.values[slot]! - 1;
    const o = this.findOld(words, off, length, pathId);
    return o >= 0 ? this.oldValues![o]! - 1 : -1;
  }

  private insertAt(
    emptySlot: number,
    words: Uint32Array,
    off: number,
    length: number,
    pathId: number,
    stored: number,
  ): void {
    const base = emptySlot * this.stride;
    const aw = this.addrWords;
    for (let i = 0; i < aw; i++) this.keys[base + i] = words[off + i]!;
    this.keys[base + aw] = length;
    this.keys[base + aw + 1] = pathId >>> 0;
    this.values[emptySlot] = stored;
  }

  /** Sets a value (>= 0); returns the previous value or -1 when the prefix was new. */
  set(words: Uint32Array, off: number, length: number, pathId: number, value: number): number {
    if (this.oldValues !== null) this.migrate(MIGRATE_STEP);
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const slot = this.find(words, off, length, pathId);
    if (slot >= 0) {
      const prev = this.values[slot]! - 1;
      this.values[slot] = value + 1;
      return prev;
    }
    const o = this.findOld(words, off, length, pathId);
    let prev = -1;
    if (o >= 0) {
      // Move it across now; it stays counted once.
      prev = this.oldValues![o]! - 1;
      this.oldValues![o] = TOMBSTONE;
    } else {
      this.count++;
    }
    this.insertAt(-1 - slot, words, off, length, pathId, value + 1);
    return prev;
  }

  /** Removes a prefix; returns its value or -1 when it was absent. */
  delete(words: Uint32Array, off: number, length: number, pathId = 0): number {
    if (this.oldValues !== null) this.migrate(MIGRATE_STEP);
    let slot = this.find(words, off, length, pathId);
    if (slot < 0) {
      const o = this.findOld(words, off, length, pathId);
      if (o < 0) return -1;
      const prev = this.oldValues![o]! - 1;
      this.oldValues![o] = TOMBSTONE;
      this.count--;
      return prev;
    }
    const prev = this.values[slot]! - 1;
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    const stride = this.stride;
    const aw = this.addrWords;
    let next = (slot + 1) & this.mask;
    while (this.values[next] !== EMPTY) {
      const nb = next * stride;
      const home = this.hash(this.keys, nb, this.keys[nb + aw]!, this.keys[nb + aw + 1]!) & this.mask;
      // Move `next` into `slot` if its home is not cyclically within (slot, next].
      const inRange = slot <= next ? home > slot && home <= next : home > slot || home <= next;
      if (!inRange) {
        this.keys.copyWithin(slot * stride, nb, nb + stride);
        this.values[slot] = this.values[next]!;
        slot = next;
      }
      next = (next + 1) & this.mask;
    }
    this.values[slot] = EMPTY;
    this.count--;
    return prev;
  }

  clear(): void {
    this.keys = new Uint32Array(MIN_CAPACITY * this.stride);
    this.values = new Int32Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
    this.count = 0;
    this.oldKeys = null;
    this.oldValues = null;
    this.cursor = 0;
  }

  /**
   * Calls fn for every entry. `words` holds the address at `off`; it is the table's own storage,
   * valid only during the call. The table must not be changed from inside fn.
   */
  forEach(
    fn: (words: Uint32Array, off: number, length: number, pathId: number, value: number) => void,
  ): void {
    const aw = this.addrWords;
    const visit = (keys: Uint32Array, values: Int32Array): void => {
      for (let s = 0; s < values.length; s++) {
        const v = values[s]!;
        if (v <= EMPTY) continue;
        const base = s * this.stride;
        fn(keys, base, keys[base + aw]!, keys[base + aw + 1]!, v - 1);
      }
    };
    visit(this.keys, this.values);
    if (this.oldKeys !== null && this.oldValues !== null) visit(this.oldKeys, this.oldValues);
  }

  /** Moves up to `slots` old slots into the current table. */
  private migrate(slots: number): void {
    const oldKeys = this.oldKeys;
    const oldValues = this.oldValues;
    if (oldKeys === null || oldValues === null) return;
    const stride = this.stride;
    const aw = this.addrWords;
    const keys = this.keys;
    const values = this.values;
    const end = Math.min(oldValues.length, this.cursor + slots);
    for (let s = this.cursor; s < end; s++) {
      const v = oldValues[s]!;
      if (v <= EMPTY) continue;
      const base = s * stride;
      let slot = this.hash(oldKeys, base, oldKeys[base + aw]!, oldKeys[base + aw + 1]!) & this.mask;
      while (values[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      const to = slot * stride;
      for (let i = 0; i < stride; i++) keys[to + i] = oldKeys[base + i]!;
      values[slot] = v;
      // A tombstone, not EMPTY: probe chains of entries not yet moved run through this slot.
      oldValues[s] = TOMBSTONE;
    }
    this.cursor = end;
    if (end === oldValues.length) {
      this.oldKeys = null;
      this.oldValues = null;
      this.cursor = 0;
    }
  }

  /** Doubles the slot count; the entries follow incrementally (see migrate). */
  private grow(): void {
    // A migration still running when the new table fills up is finished first (rare: each
    // operation moves MIGRATE_STEP slots, far faster than inserts can fill the doubled table).
    if (this.oldValues !== null) this.migrate(this.oldValues.length);
    this.oldKeys = this.keys;
    this.oldValues = this.values;
    this.oldMask = this.mask;
    this.cursor = 0;
    const cap = (this.mask + 1) * 2;
    this.keys = new Uint32Array(cap * this.stride);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
  }
}
