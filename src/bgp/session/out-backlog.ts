// The output backlog of one session: route changes waiting for a slow peer, merged per route.
//
// Packed UPDATEs wait in the session's output queue until the socket takes them. A peer that
// reads more slowly than routes change (an overloaded ToR CPU, a congested link) would let that
// queue grow with every change, without bound. So once the queue holds more than a threshold,
// further changes come here instead: one entry per route (family, prefix, path id) holding only
// its latest state, an attribute set to announce or a withdrawal. UPDATEs are packed from it
// when the socket has drained. Its size is bounded by the routes, not by how often they change,
// as in BIRD's per-channel prefix buckets and FRR's adj-out entries; a route that flapped a
// thousand times while the peer was slow costs one entry and goes out once, in its final state.
//
// Order: the latest state of each route wins, which is all BGP needs between markers (RFC 4271
// §9.2: a later UPDATE for a route replaces an earlier one). End-of-RIB and route-refresh
// markers (RFC 4724 §2, RFC 7313 §4) must stay after the changes queued before them, so they
// split the backlog into segments that go out in order.
//
// Storage (issue #4 §5, no object per route): a route is a record of 8 int32 in one array, in
// the order it was first queued, plus a slot in an open-addressing index of the records of the
// current segment (the one after the last marker). A whole table held back costs about 40 bytes
// a route, against 141 for a Map of objects. Records are consumed from the front; the consumed
// ones are dropped when they make up half the array, and the index is rebuilt then.

import {
  type FamilyKey,
  familyAfi,
  type PathAttributes,
  type PrefixList,
  type UpdateGroup,
  type WithdrawGroup,
} from '../codec/index.ts';
import type { ExportUpdate } from './types.ts';

/** The attributes an announced route goes out with (an UpdateGroup without its prefixes). */
interface Announce {
  readonly family: FamilyKey;
  readonly attributes: PathAttributes;
  readonly mpNextHop: Uint8Array | undefined;
}

/** What to send next: packed changes, or a marker message (End-of-RIB, ROUTE-REFRESH) as is. */
export type BacklogItem = { kind: 'update'; update: ExportUpdate } | { kind: 'message'; bytes: Buffer };

// Route record layout (int32 words).
const R_SIZE = 8;
const R_W0 = 0; // address words: IPv4 uses the first only
const R_LEN = 4; // prefix length | 0x100 when the route carries a path id (ADD-PATH)
const R_PATH_ID = 5;
const R_FAMILY = 6;
const R_STATE = 7; // index into `announces`, or WITHDRAWN
const WITH_PATH_ID = 0x100;
const WITHDRAWN = -1;

/** Consumed records are dropped once they are at least this many and half of the array. */
const COMPACT_MIN = 4096;

export class OutputBacklog {
  /** consumed records are dropped once they are at least this many and half of the array */
  private readonly compactMin: number;
  private rec = new Int32Array(64 * R_SIZE);
  /** records [head, top) wait; [0, head) were handed out */
  private head = 0;
  private top = 0;
  /** the current segment's first record: records before it are behind a marker */
  private segStart = 0;
  /** open-addressing index of the current segment's records: record index + 1, 0 empty */
  private slots = new Int32Array(128);
  private mask = 127;
  private used = 0;
  /** markers in order, each with the record index it precedes */
  private markerAt: number[] = [];
  private markerBytes: Buffer[] = [];
  /** the distinct announce states of waiting routes, and their lookup by attribute object */
  private announces: Announce[] = [];
  private announceIds = new Map<PathAttributes, number[]>();
  private routes = 0;
  private peak = 0;

  constructor(opts: { compactMin?: number } = {}) {
    this.compactMin = opts.compactMin ?? COMPACT_MIN;
  }

  /** Routes and markers waiting. */
  get size(): number {
    return this.routes + this.markerAt.length;
  }

  /** Routes waiting. */
  get pendingRoutes(): number {
    return this.routes;
  }

  /** The most routes waiting at once since the backlog was created or cleared. */
  get peakRoutes(): number {
    return this.peak;
  }

  /** Bytes held by the records, the index and the marker list (not the shared attributes). */
  storageBytes(): number {
    return this.rec.byteLength + this.slots.byteLength + this.markerAt.length * 8;
  }

  /** Merges a batch of changes: each route's entry takes the batch's state. */
  add(update: ExportUpdate): void {
    // Withdrawals first, as a packed UPDATE applies them: a route both withdrawn and announced in
    // one batch ends up announced.
    for (const w of update.withdraw) this.merge(w.family, w.prefixes, WITHDRAWN);
    for (const g of update.announce) this.merge(g.family, g.prefixes, this.announceId(g));
    if (this.routes > this.peak) this.peak = this.routes;
  }

  /** Queues a message that must follow everything added so far. */
  marker(bytes: Buffer): void {
    this.markerAt.push(this.top);
    this.markerBytes.push(bytes);
    // Later changes of a route queued before the marker must not move back in front of it.
    this.segStart = this.top;
    this.slots.fill(0);
    this.used = 0;
  }

  /**
   * Takes the next item: a marker, or up to `maxRoutes` routes of the oldest segment grouped
   * for the packer (one announce group per attribute set, one withdraw group per family).
   */
  take(maxRoutes: number): BacklogItem | null {
    if (this.markerAt.length > 0 && this.markerAt[0] === this.head) {
      this.markerAt.shift();
      return { kind: 'message', bytes: this.markerBytes.shift()! };
    }
    if (this.head === this.top) return null;
    const end = Math.min(this.top, this.head + maxRoutes, this.markerAt[0] ?? this.top);
    const r = this.rec;
    // Count the routes per state, then fill one prefix list per state (and per withdrawn family).
    const perState = new Map<number, number>();
    const perWithdrawn = new Map<FamilyKey, number>();
    for (let i = this.head; i < end; i++) {
      const b = i * R_SIZE;
      const st = r[b + R_STATE]!;
      if (st === WITHDRAWN) perWithdrawn.set(r[b + R_FAMILY]!, (perWithdrawn.get(r[b + R_FAMILY]!) ?? 0) + 1);
      else perState.set(st, (perState.get(st) ?? 0) + 1);
    }
    const lists = new Map<number, PrefixList>();
    const wLists = new Map<FamilyKey, PrefixList>();
    for (const [st, n] of perState) lists.set(st, newList(this.announces[st]!.family, n, this.head, end, r));
    for (const [f, n] of perWithdrawn) wLists.set(f, newList(f, n, this.head, end, r));
    for (let i = this.head; i < end; i++) {
      const b = i * R_SIZE;
      const st = r[b + R_STATE]!;
      const list = st === WITHDRAWN ? wLists.get(r[b + R_FAMILY]!)! : lists.get(st)!;
      const k = list.count++;
      const stride = list.afi === 1 ? 1 : 4;
      for (let w = 0; w < stride; w++) list.words[k * stride + w] = r[b + R_W0 + w]! >>> 0;
      list.lengths[k] = r[b + R_LEN]! & 0xff;
      if (list.pathIds !== null) list.pathIds[k] = r[b + R_PATH_ID]! >>> 0;
    }
    this.routes -= end - this.head;
    this.head = end;
    const announce: UpdateGroup[] = [];
    for (const [st, prefixes] of lists) {
      const a = this.announces[st]!;
      announce.push(
        a.mpNextHop === undefined
          ? { family: a.family, attributes: a.attributes, prefixes }
          : { family: a.family, attributes: a.attributes, prefixes, mpNextHop: a.mpNextHop },
      );
    }
    const withdraw: WithdrawGroup[] = [];
    for (const [family, prefixes] of wLists) withdraw.push({ family, prefixes });
    this.reclaim();
    return { kind: 'update', update: { announce, withdraw } };
  }

  /** Forgets everything (the session went down: the next one starts from the full table). */
  clear(): void {
    this.clearRecords(true);
    this.markerAt = [];
    this.markerBytes = [];
    this.routes = 0;
    this.peak = 0;
  }

  // ---- internals -------------------------------------------------------------------------------

  private announceId(g: UpdateGroup): number {
    const ids = this.announceIds.get(g.attributes);
    if (ids !== undefined)
      for (const id of ids) {
        const a = this.announces[id]!;
        if (a.family === g.family && a.mpNextHop === g.mpNextHop) return id;
      }
    const id = this.announces.length;
    this.announces.push({ family: g.family, attributes: g.attributes, mpNextHop: g.mpNextHop });
    if (ids === undefined) this.announceIds.set(g.attributes, [id]);
    else ids.push(id);
    return id;
  }

  private merge(family: FamilyKey, list: PrefixList, state: number): void {
    const stride = list.afi === 1 ? 1 : 4;
    const ids = list.pathIds;
    for (let i = 0; i < list.count; i++) {
      const o = i * stride;
      const len = list.lengths[i]! | (ids === null ? 0 : WITH_PATH_ID);
      const pathId = ids === null ? 0 : ids[i]! | 0;
      const w0 = list.words[o]! | 0;
      const w1 = stride === 4 ? list.words[o + 1]! | 0 : 0;
      const w2 = stride === 4 ? list.words[o + 2]! | 0 : 0;
      const w3 = stride === 4 ? list.words[o + 3]! | 0 : 0;
      let h = hashRoute(family, w0, w1, w2, w3, len, pathId) & this.mask;
      const r = this.rec;
      let found = -1;
      for (;;) {
        const v = this.slots[h]!;
        if (v === 0) break;
        const b = (v - 1) * R_SIZE;
        if (
          r[b + R_W0] === w0 &&
          r[b + R_LEN] === len &&
          r[b + R_PATH_ID] === pathId &&
          r[b + R_FAMILY] === family &&
          r[b + R_W0 + 1] === w1 &&
          r[b + R_W0 + 2] === w2 &&
          r[b + R_W0 + 3] === w3
        ) {
          found = v - 1;
          break;
        }
        h = (h + 1) & this.mask;
      }
      // Still waiting: the entry takes the new state. Already handed out: a new entry, in the
      // same slot.
      if (found >= this.head) {
        r[found * R_SIZE + R_STATE] = state;
        continue;
      }
      const n = this.append(w0, w1, w2, w3, len, pathId, family, state);
      this.slots[h] = n + 1;
      if (found < 0 && ++this.used * 10 > this.slots.length * 7) this.reindex();
    }
  }

  private append(
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    len: number,
    pathId: number,
    family: number,
    state: number,
  ): number {
    if ((this.top + 1) * R_SIZE > this.rec.length) {
      const a = new Int32Array(this.rec.length * 2);
      a.set(this.rec.subarray(0, this.top * R_SIZE));
      this.rec = a;
    }
    const b = this.top * R_SIZE;
    const r = this.rec;
    r[b + R_W0] = w0;
    r[b + R_W0 + 1] = w1;
    r[b + R_W0 + 2] = w2;
    r[b + R_W0 + 3] = w3;
    r[b + R_LEN] = len;
    r[b + R_PATH_ID] = pathId;
    r[b + R_FAMILY] = family;
    r[b + R_STATE] = state;
    this.routes++;
    return this.top++;
  }

  /**
   * Rebuilds the index over the current segment's waiting records, at most half full (slots
   * of records already handed out are dropped); it is rebuilt again at 70 %.
   */
  private reindex(): void {
    const live = this.top - Math.max(this.head, this.segStart);
    let s = 128;
    while (live * 2 > s) s *= 2;
    this.slots = new Int32Array(s);
    this.mask = s - 1;
    this.used = 0;
    const r = this.rec;
    for (let i = Math.max(this.head, this.segStart); i < this.top; i++) {
      const b = i * R_SIZE;
      let h =
        hashRoute(
          r[b + R_FAMILY]!,
          r[b]!,
          r[b + 1]!,
          r[b + 2]!,
          r[b + 3]!,
          r[b + R_LEN]!,
          r[b + R_PATH_ID]!,
        ) & this.mask;
      while (this.slots[h] !== 0) h = (h + 1) & this.mask;
      this.slots[h] = i + 1;
      this.used++;
    }
  }

  /**
   * Gives back what was handed out: all of it when nothing waits, else the consumed front of the
   * array once it is half of it (moving the waiting records down, with their announce states and
   * the markers renumbered).
   */
  private reclaim(): void {
    if (this.head === this.top && this.markerAt.length === 0) {
      const big = this.rec.length > 64 * R_SIZE * 16;
      this.clearRecords(big);
      return;
    }
    if (this.head < this.compactMin || this.head * 2 < this.top) return;
    const shift = this.head;
    const n = this.top - shift;
    const r = new Int32Array(Math.max(64, n * 2) * R_SIZE);
    r.set(this.rec.subarray(shift * R_SIZE, this.top * R_SIZE));
    // Only the states still in use keep a number.
    const remap = new Map<number, number>();
    const announces: Announce[] = [];
    for (let i = 0; i < n; i++) {
      const b = i * R_SIZE + R_STATE;
      const st = r[b]!;
      if (st === WITHDRAWN) continue;
      let to = remap.get(st);
      if (to === undefined) {
        to = announces.length;
        announces.push(this.announces[st]!);
        remap.set(st, to);
      }
      r[b] = to;
    }
    this.announces = announces;
    this.announceIds = new Map();
    for (let id = 0; id < announces.length; id++) {
      const a = announces[id]!;
      const ids = this.announceIds.get(a.attributes);
      if (ids === undefined) this.announceIds.set(a.attributes, [id]);
      else ids.push(id);
    }
    this.rec = r;
    this.head = 0;
    this.top = n;
    this.segStart = Math.max(0, this.segStart - shift);
    for (let i = 0; i < this.markerAt.length; i++) this.markerAt[i] = this.markerAt[i]! - shift;
    this.reindex();
  }

  private clearRecords(shrink: boolean): void {
    if (shrink) this.rec = new Int32Array(64 * R_SIZE);
    this.head = 0;
    this.top = 0;
    this.segStart = 0;
    if (shrink || this.used > 0) {
      this.slots = new Int32Array(128);
      this.mask = 127;
    }
    this.used = 0;
    this.announces = [];
    this.announceIds = new Map();
  }
}

function hashRoute(
  family: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  len: number,
  id: number,
): number {
  let h = Math.imul(family ^ (len << 16), 0x9e3779b1);
  h = Math.imul(h ^ w0, 0x85ebca6b);
  h ^= h >>> 15;
  if ((w1 | w2 | w3) !== 0) {
    h = Math.imul(h ^ w1, 0x85ebca6b);
    h = Math.imul(h ^ w2, 0xc2b2ae35);
    h = Math.imul(h ^ w3, 0x85ebca6b);
  }
  h = Math.imul(h ^ id ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** An empty prefix list with room for n routes (count is filled by the caller). */
function newList(family: FamilyKey, n: number, from: number, to: number, r: Int32Array): PrefixList {
  const afi = familyAfi(family) === 2 ? 2 : 1;
  const stride = afi === 1 ? 1 : 4;
  // A family's routes either all carry path ids or none do (ADD-PATH is negotiated per family).
  let withIds = false;
  for (let i = from; i < to; i++)
    if (r[i * R_SIZE + R_FAMILY] === family) {
      withIds = (r[i * R_SIZE + R_LEN]! & WITH_PATH_ID) !== 0;
      break;
    }
  return {
    afi,
    count: 0,
    words: new Uint32Array(n * stride),
    lengths: new Uint8Array(n),
    pathIds: withIds ? new Uint32Array(n) : null,
  };
}
