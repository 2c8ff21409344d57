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

/** One route's latest state. */
interface Entry {
  /** null: withdrawn */
  announce: Announce | null;
  readonly family: FamilyKey;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly length: number;
  readonly pathId: number;
  readonly withPathId: boolean;
}

type Segment = Map<number | string, Entry>;

/** What to send next: packed changes, or a marker message (End-of-RIB, ROUTE-REFRESH) as is. */
export type BacklogItem = { kind: 'update'; update: ExportUpdate } | { kind: 'message'; bytes: Buffer };

export class OutputBacklog {
  private readonly segments: (Segment | Buffer)[] = [];
  private routes = 0;
  private markers = 0;
  private peak = 0;

  /** Routes and markers waiting. */
  get size(): number {
    return this.routes + this.markers;
  }

  /** Routes waiting. */
  get pendingRoutes(): number {
    return this.routes;
  }

  /** The most routes waiting at once since the backlog was created or cleared. */
  get peakRoutes(): number {
    return this.peak;
  }

  /** Merges a batch of changes: each route's entry takes the batch's state. */
  add(update: ExportUpdate): void {
    const last = this.segments[this.segments.length - 1];
    let seg: Segment;
    if (last instanceof Map) seg = last;
    else {
      seg = new Map();
      this.segments.push(seg);
    }
    // Withdrawals first, as a packed UPDATE applies them: a route both withdrawn and announced in
    // one batch ends up announced.
    for (const w of update.withdraw) this.merge(seg, w.family, w.prefixes, null);
    for (const g of update.announce)
      this.merge(seg, g.family, g.prefixes, {
        family: g.family,
        attributes: g.attributes,
        mpNextHop: g.mpNextHop,
      });
    if (this.routes > this.peak) this.peak = this.routes;
  }

  /** Queues a message that must follow everything added so far. */
  marker(bytes: Buffer): void {
    this.segments.push(bytes);
    this.markers++;
  }

  /**
   * Takes the next item: a marker, or up to `maxRoutes` routes of the oldest segment grouped
   * for the packer (one announce group per attribute set, one withdraw group per family).
   */
  take(maxRoutes: number): BacklogItem | null {
    for (;;) {
      const head = this.segments[0];
      if (head === undefined) return null;
      if (!(head instanceof Map)) {
        this.segments.shift();
        this.markers--;
        return { kind: 'message', bytes: head };
      }
      if (head.size === 0) {
        this.segments.shift();
        continue;
      }
      // Grouped by attribute object (one per attribute set from the RIB), so routes that share a
      // set share an UPDATE even if they were added by different batches.
      const announced = new Map<PathAttributes, { a: Announce; entries: Entry[] }[]>();
      const withdrawn = new Map<FamilyKey, Entry[]>();
      let n = 0;
      for (const [key, e] of head) {
        if (n >= maxRoutes) break;
        head.delete(key);
        n++;
        const a = e.announce;
        if (a === null) {
          const list = withdrawn.get(e.family);
          if (list === undefined) withdrawn.set(e.family, [e]);
          else list.push(e);
          continue;
        }
        const groups = announced.get(a.attributes);
        const same = groups?.find((g) => g.a.family === a.family && g.a.mpNextHop === a.mpNextHop);
        if (same !== undefined) same.entries.push(e);
        else if (groups !== undefined) groups.push({ a, entries: [e] });
        else announced.set(a.attributes, [{ a, entries: [e] }]);
      }
      this.routes -= n;
      if (head.size === 0) this.segments.shift();
      const announce: UpdateGroup[] = [];
      for (const groups of announced.values())
        for (const { a, entries } of groups) {
          const prefixes = listOf(a.family, entries);
          announce.push(
            a.mpNextHop === undefined
              ? { family: a.family, attributes: a.attributes, prefixes }
              : { family: a.family, attributes: a.attributes, prefixes, mpNextHop: a.mpNextHop },
          );
        }
      const withdraw: WithdrawGroup[] = [];
      for (const [family, entries] of withdrawn) withdraw.push({ family, prefixes: listOf(family, entries) });
      return { kind: 'update', update: { announce, withdraw } };
    }
  }

  /** Forgets everything (the session went down: the next one starts from the full table). */
  clear(): void {
    this.segments.length = 0;
    this.routes = 0;
    this.markers = 0;
    this.peak = 0;
  }

  private merge(seg: Segment, family: FamilyKey, list: PrefixList, announce: Announce | null): void {
    const stride = list.afi === 1 ? 1 : 4;
    const ids = list.pathIds;
    for (let i = 0; i < list.count; i++) {
      const o = i * stride;
      const w0 = list.words[o]!;
      const length = list.lengths[i]!;
      const pathId = ids === null ? 0 : ids[i]!;
      const key = routeKey(family, stride, list.words, o, length, ids === null ? -1 : pathId);
      const e = seg.get(key);
      if (e !== undefined) {
        e.announce = announce;
        continue;
      }
      seg.set(key, {
        announce,
        family,
        w0,
        w1: stride === 4 ? list.words[o + 1]! : 0,
        w2: stride === 4 ? list.words[o + 2]! : 0,
        w3: stride === 4 ? list.words[o + 3]! : 0,
        length,
        pathId,
        withPathId: ids !== null,
      });
      this.routes++;
    }
  }
}

/**
 * A route's identity within a session. IPv4 unicast without path ids, the common case, is a
 * number (address × 64 + length, below 2^38); everything else a string.
 */
function routeKey(
  family: FamilyKey,
  stride: number,
  words: Uint32Array,
  o: number,
  length: number,
  pathId: number,
): number | string {
  if (stride === 1 && pathId < 0) return family * 2 ** 38 + words[o]! * 64 + length;
  const addr = stride === 1 ? `${words[o]}` : `${words[o]},${words[o + 1]},${words[o + 2]},${words[o + 3]}`;
  return `${family}:${addr}/${length}#${pathId}`;
}

function listOf(family: FamilyKey, entries: readonly Entry[]): PrefixList {
  const afi = familyAfi(family) === 2 ? 2 : 1;
  const stride = afi === 1 ? 1 : 4;
  const n = entries.length;
  const words = new Uint32Array(n * stride);
  const lengths = new Uint8Array(n);
  const withIds = entries[0]?.withPathId === true;
  const pathIds = withIds ? new Uint32Array(n) : null;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    words[i * stride] = e.w0;
    if (stride === 4) {
      words[i * 4 + 1] = e.w1;
      words[i * 4 + 2] = e.w2;
      words[i * 4 + 3] = e.w3;
    }
    lengths[i] = e.length;
    if (pathIds !== null) pathIds[i] = e.pathId;
  }
  return { afi, count: n, words, lengths, pathIds };
}
