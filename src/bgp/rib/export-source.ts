// The Adj-RIB-Out as the session layer's ExportSource (src/bgp/session/types.ts): the Speaker
// asks for a peer's full table when its session comes up, and receives incremental changes
// through the sinks peers attach. Each family's UpdateGroups compute the export once per group;
// this adapter only maps a session peer to its group and hands out the group's batch, split-
// horizon adjusted (UpdateBatch.forPeer).
//
// Which RIB peer index and export settings a session peer has is configuration knowledge, so
// the daemon supplies it (RibExportBinding). Call publish() after each Loc-RIB commit.

import type { FamilyKey, UpdateGroup as PackerUpdateGroup, WithdrawGroup } from '../codec/types.ts';
import type { ExportSettings } from '../policy/filters.ts';
import type { ExportPeer, ExportSource, ExportUpdate } from '../session/types.ts';
import type { RibChanges } from './loc-rib.ts';
import type { SessionWireProperties, UpdateBatch, UpdateGroup, UpdateGroups } from './update-group.ts';

export interface RibExportBinding {
  /** The RIB's index and export settings of a session peer for one family; null: send nothing. */
  resolve(
    peer: ExportPeer,
    family: FamilyKey,
  ): {
    readonly peerIndex: number;
    readonly settings: ExportSettings;
    readonly wire: SessionWireProperties;
  } | null;
}

/**
 * A session's export: it calls `changes` for its peer and must pack the result before returning.
 * The prefix lists in an ExportUpdate are views of buffers the next commit reuses.
 */
type Sink = (changes: (peer: ExportPeer) => ExportUpdate | null) => void;

export class RibExportSource implements ExportSource {
  private readonly sinks = new Set<Sink>();

  constructor(
    private readonly families: ReadonlyMap<FamilyKey, UpdateGroups>,
    private readonly binding: RibExportBinding,
  ) {}

  /** The full table for a peer whose session just came up; puts it in its update group. */
  initial(peer: ExportPeer): ExportUpdate {
    const announce: PackerUpdateGroup[] = [];
    const withdraw: WithdrawGroup[] = [];
    for (const family of peer.families) {
      const groups = this.families.get(family);
      const b = this.binding.resolve(peer, family);
      if (groups === undefined || b === null) continue;
      const group = groups.join(b.peerIndex, b.settings, b.wire);
      const batch = group.fullTable();
      const u = batch.forPeer(b.peerIndex);
      announce.push(...u.announce);
      if (u.withdraw !== null) withdraw.push(u.withdraw);
      batch.release();
    }
    return { announce, withdraw };
  }

  attach(sink: Sink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  /**
   * Routes the peer has been sent: its group's table less the routes learned from the peer
   * itself, which split horizon keeps from it (forPeer).
   */
  count(peer: ExportPeer): number {
    let n = 0;
    for (const family of peer.families) {
      const b = this.binding.resolve(peer, family);
      if (b === null) continue;
      const g = this.families.get(family)?.groupOf(b.peerIndex);
      if (g !== undefined) n += g.size - g.advertisedFrom(b.peerIndex);
    }
    return n;
  }

  /**
   * Runs one family's Loc-RIB commit through its update groups and sends every attached peer its
   * part. Returns the number of group batches that had something to send.
   */
  publish(family: FamilyKey, changes: RibChanges): number {
    const groups = this.families.get(family);
    if (groups === undefined) return 0;
    const batches = groups.process(changes);
    let nonEmpty = 0;
    for (const b of batches.values()) if (!b.empty) nonEmpty++;
    if (nonEmpty > 0) {
      const compute = (peer: ExportPeer): ExportUpdate | null => {
        const b = this.binding.resolve(peer, family);
        if (b === null) return null;
        const g: UpdateGroup | undefined = groups.groupOf(b.peerIndex);
        const batch: UpdateBatch | undefined = g === undefined ? undefined : batches.get(g);
        if (batch === undefined || batch.empty) return null;
        const u = batch.forPeer(b.peerIndex);
        if (u.announce.length === 0 && u.withdraw === null) return null;
        return { announce: u.announce, withdraw: u.withdraw === null ? [] : [u.withdraw] };
      };
      for (const sink of this.sinks) sink(compute);
    }
    // The sinks packed what they took (synchronously), so the buckets can serve the next commit.
    for (const b of batches.values()) b.recycle();
    return nonEmpty;
  }
}
