// The RIB's view of its peers: a dense index per peer (routes store the index, not the peer), with
// the fields the decision process and export need kept in typed arrays.
//
// Index 0 is the local pseudo-peer: routes tsbgp originates itself (static, redistributed).

export type PeerKind = 'local' | 'ibgp' | 'ebgp' | 'confed-ebgp';

export interface PeerInfo {
  readonly kind: PeerKind;
  /** the peer's transport address as bytes (4 or 16), used as the last tie-breaker */
  readonly address: Uint8Array;
  /** for logs and `show route --detail` */
  readonly name: string;
  /** BGP Identifier from the peer's OPEN, uint32 */
  readonly routerId: number;
  readonly remoteAs: number;
  /** RFC 4456: this peer is a route-reflector client of ours */
  readonly rrClient: boolean;
}

export const LOCAL_PEER = 0;

/** Decision-process rank of the session types (lower is preferred). */
const KIND_RANK: Record<PeerKind, number> = { local: 0, ebgp: 1, 'confed-ebgp': 2, ibgp: 2 };

export class PeerTable {
  private infos: (PeerInfo | undefined)[] = [];
  private freeIdx: number[] = [];
  private rank = new Uint8Array(64);
  private routerIds = new Uint32Array(64);

  constructor(localRouterId: number, localAs: number) {
    this.infos.push({
      kind: 'local',
      address: new Uint8Array(0),
      name: 'local',
      routerId: localRouterId,
      remoteAs: localAs,
      rrClient: false,
    });
    this.routerIds[0] = localRouterId;
  }

  add(info: PeerInfo): number {
    if (info.kind === 'local') throw new Error(`peer ${info.name}: kind 'local' is reserved for index 0`);
    const idx = this.freeIdx.pop() ?? this.infos.length;
    if (idx === this.infos.length) this.infos.push(info);
    else this.infos[idx] = info;
    if (idx >= this.rank.length) {
      const r = new Uint8Array(this.rank.length * 2);
      r.set(this.rank);
      this.rank = r;
      const id = new Uint32Array(this.routerIds.length * 2);
      id.set(this.routerIds);
      this.routerIds = id;
    }
    this.rank[idx] = KIND_RANK[info.kind];
    this.routerIds[idx] = info.routerId >>> 0;
    return idx;
  }

  /** Updates a peer's properties (e.g. the router-id learned when the session comes up). */
  update(idx: number, info: PeerInfo): void {
    if (this.infos[idx] === undefined) throw new Error(`peer index ${idx} is not in use`);
    this.infos[idx] = info;
    this.rank[idx] = KIND_RANK[info.kind];
    this.routerIds[idx] = info.routerId >>> 0;
  }

  /** Frees an index; the caller must have removed the peer's routes first. */
  remove(idx: number): void {
    if (idx === 0 || this.infos[idx] === undefined) return;
    this.infos[idx] = undefined;
    this.freeIdx.push(idx);
  }

  get(idx: number): PeerInfo {
    const p = this.infos[idx];
    if (p === undefined) throw new Error(`peer index ${idx} is not in use`);
    return p;
  }

  /** 0 local, 1 eBGP, 2 iBGP or confederation eBGP (RFC 5065 §5.3 treats those as internal). */
  kindRankOf(idx: number): number {
    return this.rank[idx]!;
  }

  routerIdOf(idx: number): number {
    return this.routerIds[idx]!;
  }

  isEbgp(idx: number): boolean {
    return this.rank[idx] === 1;
  }

  get capacity(): number {
    return this.infos.length;
  }
}
