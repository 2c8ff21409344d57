// Ids filed by a hash of their key, for the two attribute interning tables (the session layer's
// AttributeStore and the RIB's AttrTable). Neither keeps a key object to hand a Map: the caller
// hashes its key, looks up the slot, and confirms each candidate id against its own stored form.

/** One id, or several when keys collide (rare: an array is made only then). */
export type HashSlot = number | number[];

export class HashSlots {
  private readonly byHash = new Map<number, HashSlot>();

  /** Number of distinct hashes filed. */
  get size(): number {
    return this.byHash.size;
  }

  get(hash: number): HashSlot | undefined {
    return this.byHash.get(hash);
  }

  /** Files `id` under `hash`; `slot` is what get(hash) returned (the caller has just looked). */
  add(hash: number, id: number, slot: HashSlot | undefined): void {
    if (slot === undefined) this.byHash.set(hash, id);
    else if (typeof slot === 'number') this.byHash.set(hash, [slot, id]);
    else slot.push(id);
  }

  remove(hash: number, id: number): void {
    const slot = this.byHash.get(hash);
    if (slot === id) this.byHash.delete(hash);
    else if (Array.isArray(slot)) {
      const rest = slot.filter((x) => x !== id);
      this.byHash.set(hash, rest.length === 1 ? rest[0]! : rest);
    }
  }
}
