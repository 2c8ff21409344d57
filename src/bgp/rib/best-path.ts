// The BGP decision process (RFC 4271 §9.1.2) as a chain of small comparison steps.
//
// Each step compares two candidate paths on one criterion and says which is better (<0: the first,
// >0: the second, 0: no preference). Selection runs the chain as the RFC describes it in
// §9.1.2.2: at each step, every remaining path that some other remaining path beats is removed.
// For criteria that are total orders this equals "keep the minimum"; for MED, which is only
// comparable between paths from the same neighbouring AS, it is exactly the RFC's rule c) and
// avoids the order dependence of a pairwise sort (the classic MED non-transitivity problem).
//
// Order (the order; FRR and Cisco use the same, RFC 4456 §9 puts the CLUSTER_LIST length
// after the router-id):
//   local-pref, as-path-length, origin, med, ebgp-over-ibgp, igp-cost, cluster-list-length,
//   router-id (ORIGINATOR_ID when present, RFC 4456 §9), peer-address, path-id (ADD-PATH paths of
//   one peer; the RFC never needs it, it only makes the result deterministic).
//
// Paths whose next hop does not resolve are not eligible (§9.1.2 "If the NEXT_HOP attribute of a
// BGP route depicts an address that is not resolvable ... the route SHOULD be excluded").
//
// Multipath (ECMP): the paths that survive up to and including the igp-cost step are equal for
// forwarding purposes; of those, eBGP multipath also needs the same neighbouring AS (unless
// relaxed: then any AS_PATH of equal length), iBGP multipath optionally the same CLUSTER_LIST
// length, each next hop counts once, and at most maxPaths are used (FRR's maximum-paths).

import { ID_TABLE_INITIAL } from '../id-table.ts';
import { AttrFlag, type AttrTable } from './attr-table.ts';
import { nextHopBytes, type StoredAttributes } from './attrs.ts';
import type { PeerTable } from './peers.ts';

export interface DecisionOptions {
  /** compare MED between paths from different neighbouring ASes (FRR `bgp always-compare-med`) */
  readonly alwaysCompareMed: boolean;
  /** a path without MED ranks worst instead of as 0 (FRR `bgp bestpath med missing-as-worst`) */
  readonly missingMedAsWorst: boolean;
  /** multipath maximum for eBGP paths (1: no ECMP) */
  readonly maxPathsEbgp: number;
  /** multipath maximum for iBGP paths (1: no ECMP) */
  readonly maxPathsIbgp: number;
  /** eBGP multipath across different neighbouring ASes (FRR `bgp bestpath as-path multipath-relax`) */
  readonly multipathRelax: boolean;
  /** iBGP multipath only between paths of equal CLUSTER_LIST length (FRR `equal-cluster-length`) */
  readonly ibgpMultipathEqualClusterLength: boolean;
}

export const DEFAULT_DECISION_OPTIONS: DecisionOptions = Object.freeze({
  alwaysCompareMed: false,
  missingMedAsWorst: false,
  maxPathsEbgp: 1,
  maxPathsIbgp: 1,
  multipathRelax: false,
  ibgpMultipathEqualClusterLength: false,
});

/** Decision options from the configuration's `bestPath` block (docs/configuration.md#best-path). */
export function decisionOptionsFromConfig(bestPath: {
  readonly multipath: number;
  readonly multipathRelaxAsPath: boolean;
  readonly alwaysCompareMed: boolean;
  readonly missingMedAsWorst: boolean;
}): DecisionOptions {
  return {
    alwaysCompareMed: bestPath.alwaysCompareMed,
    missingMedAsWorst: bestPath.missingMedAsWorst,
    maxPathsEbgp: bestPath.multipath,
    maxPathsIbgp: bestPath.multipath,
    multipathRelax: bestPath.multipathRelaxAsPath,
    ibgpMultipathEqualClusterLength: false,
  };
}

/** The IPv4 next hop handed to a resolver: one array, rewritten per call (see NextHopResolver). */
const ipv4NextHop = new Uint8Array(4);

/**
 * nextHopBytes() for a resolver, without a new array per IPv4 next hop: that was an array per
 * attribute set and next-hop epoch, ~0.5 MB of a 100k table's garbage.
 */
function resolverNextHop(a: StoredAttributes): Uint8Array | null {
  if (a.mpNextHop !== undefined || a.nextHop === undefined) return nextHopBytes(a);
  const n = a.nextHop;
  ipv4NextHop[0] = n >>> 24;
  ipv4NextHop[1] = (n >>> 16) & 255;
  ipv4NextHop[2] = (n >>> 8) & 255;
  ipv4NextHop[3] = n & 255;
  return ipv4NextHop;
}

/** IGP cost of an unresolvable next hop. */
export const UNREACHABLE = -1;

/**
 * Resolves a next hop to its IGP cost (>= 0) or UNREACHABLE; supplied by the dataplane layer
 * (kernel routes). nextHop is 4 or 16/32 bytes, null when the set has none (local routes). It is
 * valid only during the call: an IPv4 next hop comes in one array that the next call rewrites.
 */
export interface NextHopResolver {
  cost(nextHop: Uint8Array | null, attrs: StoredAttributes): number;
}

/** Every next hop reachable at cost 0 (a directly connected world; tests and benches). */
export const CONNECTED_RESOLVER: NextHopResolver = { cost: () => 0 };

/** Candidate paths of one prefix, in parallel arrays (no object per path). */
export class CandidateSet {
  n = 0;
  attr = new Uint32Array(16);
  peer = new Uint32Array(16);
  pathId = new Uint32Array(16);
  /** caller's handle for the path (the Loc-RIB's path index) */
  handle = new Int32Array(16);
  igp = new Float64Array(16);

  clear(): void {
    this.n = 0;
  }

  push(attr: number, peer: number, pathId: number, handle: number): number {
    if (this.n === this.attr.length) this.grow();
    const i = this.n++;
    this.attr[i] = attr;
    this.peer[i] = peer;
    this.pathId[i] = pathId;
    this.handle[i] = handle;
    this.igp[i] = 0;
    return i;
  }

  private grow(): void {
    const n = this.attr.length * 2;
    const a = new Uint32Array(n);
    a.set(this.attr);
    this.attr = a;
    const p = new Uint32Array(n);
    p.set(this.peer);
    this.peer = p;
    const id = new Uint32Array(n);
    id.set(this.pathId);
    this.pathId = id;
    const h = new Int32Array(n);
    h.set(this.handle);
    this.handle = h;
    const g = new Float64Array(n);
    g.set(this.igp);
    this.igp = g;
  }
}

export interface DecisionEnv {
  readonly attrs: AttrTable;
  readonly peers: PeerTable;
  readonly options: DecisionOptions;
}

export type StepName =
  | 'local-pref'
  | 'as-path-length'
  | 'origin'
  | 'med'
  | 'ebgp-over-ibgp'
  | 'igp-cost'
  | 'cluster-list-length'
  | 'router-id'
  | 'peer-address'
  | 'path-id';

export interface DecisionStep {
  readonly name: StepName;
  /**
   * true when compare() is a total preorder (every pair comparable), so elimination is "keep the
   * minimum" in one pass; false for MED, whose pairs are comparable only within a neighbouring AS
   */
  readonly total: boolean;
  /** <0: candidate i is better, >0: candidate j is better, 0: no preference at this step */
  compare(c: CandidateSet, i: number, j: number, env: DecisionEnv): number;
}

function medOf(env: DecisionEnv, attr: number): number {
  if ((env.attrs.flagsOf(attr) & AttrFlag.HasMed) === 0) {
    // RFC 4271 §9.1.2.2 c) treats a missing MED as 0; "missing as worst" counts it as the
    // largest MED, 4294967295 (FRR, Cisco; docs/configuration.md).
    return env.options.missingMedAsWorst ? 0xffffffff : 0;
  }
  return env.attrs.medOf(attr);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) {
    const d = a[k]! - b[k]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The steps of the chain, in order. */
export const DECISION_STEPS: readonly DecisionStep[] = Object.freeze([
  {
    name: 'local-pref',
    total: true,
    // §9.1.1: higher degree of preference wins.
    compare: (c, i, j, env) => env.attrs.localPrefOf(c.attr[j]!) - env.attrs.localPrefOf(c.attr[i]!),
  },
  {
    name: 'as-path-length',
    total: true,
    // §9.1.2.2 a): AS_SET counts 1, confederation segments 0 (RFC 5065 §5.3).
    compare: (c, i, j, env) => env.attrs.asPathLengthOf(c.attr[i]!) - env.attrs.asPathLengthOf(c.attr[j]!),
  },
  {
    name: 'origin',
    total: true,
    // §9.1.2.2 b): IGP < EGP < INCOMPLETE.
    compare: (c, i, j, env) => env.attrs.originOf(c.attr[i]!) - env.attrs.originOf(c.attr[j]!),
  },
  {
    name: 'med',
    total: false,
    // §9.1.2.2 c): only between paths from the same neighbouring AS unless always-compare.
    compare: (c, i, j, env) => {
      const ai = c.attr[i]!;
      const aj = c.attr[j]!;
      if (!env.options.alwaysCompareMed && env.attrs.neighborAsOf(ai) !== env.attrs.neighborAsOf(aj))
        return 0;
      return medOf(env, ai) - medOf(env, aj);
    },
  },
  {
    name: 'ebgp-over-ibgp',
    total: true,
    // §9.1.2.2 d); locally originated routes rank before both.
    compare: (c, i, j, env) => env.peers.kindRankOf(c.peer[i]!) - env.peers.kindRankOf(c.peer[j]!),
  },
  {
    name: 'igp-cost',
    total: true,
    // §9.1.2.2 e): lower interior cost to the NEXT_HOP.
    compare: (c, i, j) => c.igp[i]! - c.igp[j]!,
  },
  {
    name: 'cluster-list-length',
    total: true,
    // RFC 4456 §9: shorter CLUSTER_LIST.
    compare: (c, i, j, env) =>
      env.attrs.clusterListLengthOf(c.attr[i]!) - env.attrs.clusterListLengthOf(c.attr[j]!),
  },
  {
    name: 'router-id',
    total: true,
    // §9.1.2.2 f), with RFC 4456 §9: the ORIGINATOR_ID stands in for the BGP Identifier.
    compare: (c, i, j, env) => routerIdForDecision(c, i, env) - routerIdForDecision(c, j, env),
  },
  {
    name: 'peer-address',
    total: true,
    // §9.1.2.2 g): lower peer address.
    compare: (c, i, j, env) =>
      compareBytes(env.peers.get(c.peer[i]!).address, env.peers.get(c.peer[j]!).address),
  },
  {
    name: 'path-id',
    total: true,
    compare: (c, i, j) => c.pathId[i]! - c.pathId[j]!,
  },
]);

const IGP_STEP = DECISION_STEPS.findIndex((s) => s.name === 'igp-cost');

function routerIdForDecision(c: CandidateSet, i: number, env: DecisionEnv): number {
  const a = c.attr[i]!;
  if ((env.attrs.flagsOf(a) & AttrFlag.HasOriginatorId) !== 0) return env.attrs.originatorIdOf(a);
  return env.peers.routerIdOf(c.peer[i]!);
}

/** Why one path lost: the step that removed it and a path that beat it there. */
export interface PathVerdict {
  /** index into the candidate list given to explain() */
  readonly index: number;
  readonly eligible: boolean;
  readonly best: boolean;
  readonly multipath: boolean;
  /** the step that removed this path from consideration; null for the best and ineligible paths */
  readonly lostAt: StepName | null;
  /** index of a path that beat it at that step */
  readonly beatenBy: number | null;
  /** human-readable reason, e.g. "higher local-pref (200 vs 100) of path 0" */
  readonly reason: string;
}

export interface Explanation {
  readonly best: number;
  readonly multipath: readonly number[];
  readonly paths: readonly PathVerdict[];
}

export interface PairwiseResult {
  /** 'a' or 'b' wins, or 'tie' when the chain cannot tell them apart */
  readonly winner: 'a' | 'b' | 'tie';
  readonly step: StepName | null;
}

/**
 * Runs the decision process. One instance per Loc-RIB family; it is not re-entrant (its scratch
 * arrays are reused for every prefix).
 */
export class DecisionProcess implements DecisionEnv {
  readonly steps = DECISION_STEPS;
  private alive = new Uint8Array(64);
  private lostAt = new Int8Array(64);
  private beatenBy = new Int32Array(64);
  private beatenNow = new Uint8Array(64);
  /** candidate indices of the multipath set of the last select(), best first */
  multipath = new Int32Array(64);
  multipathCount = 0;
  private nhCost = new Float64Array(ID_TABLE_INITIAL);
  private nhEpoch = new Uint32Array(ID_TABLE_INITIAL);
  private epoch = 1;

  constructor(
    readonly attrs: AttrTable,
    readonly peers: PeerTable,
    readonly options: DecisionOptions = DEFAULT_DECISION_OPTIONS,
    private readonly resolver: NextHopResolver = CONNECTED_RESOLVER,
  ) {
    attrs.onFree((id) => {
      if (id < this.nhEpoch.length) this.nhEpoch[id] = 0;
    });
  }

  /** Forget cached next-hop costs (the kernel's routes changed); re-run selection afterwards. */
  invalidateNextHops(): void {
    this.epoch++;
  }

  /** IGP cost to the next hop of a set, cached per attribute id until invalidateNextHops(). */
  igpCost(attr: number): number {
    if (attr >= this.nhEpoch.length) this.growNh(attr + 1);
    if (this.nhEpoch[attr] === this.epoch) return this.nhCost[attr]!;
    const a = this.attrs.get(attr);
    const cost = this.resolver.cost(resolverNextHop(a), a);
    this.nhCost[attr] = cost;
    this.nhEpoch[attr] = this.epoch;
    return cost;
  }

  private growNh(min: number): void {
    let n = this.nhEpoch.length;
    while (n < min) n *= 2;
    const c = new Float64Array(n);
    c.set(this.nhCost);
    this.nhCost = c;
    const e = new Uint32Array(n);
    e.set(this.nhEpoch);
    this.nhEpoch = e;
  }

  /**
   * Selects the best path among c's candidates and fills multipath/multipathCount.
   * Returns the best candidate's index, or -1 when none is eligible.
   */
  select(c: CandidateSet): number {
    const n = c.n;
    if (n > this.alive.length) this.growScratch(n);
    this.multipathCount = 0;
    if (n === 1) {
      // The common case (one path per prefix): eligibility is the only question.
      const cost = this.igpCost(c.attr[0]!);
      if (cost === UNREACHABLE) return -1;
      c.igp[0] = cost;
      this.multipath[0] = 0;
      this.multipathCount = 1;
      return 0;
    }
    let remaining = 0;
    for (let i = 0; i < n; i++) {
      const cost = this.igpCost(c.attr[i]!);
      c.igp[i] = cost;
      const ok = cost !== UNREACHABLE;
      this.alive[i] = ok ? 1 : 0;
      this.lostAt[i] = ok ? DECISION_STEPS.length : -1;
      this.beatenBy[i] = -1;
      if (ok) remaining++;
    }
    if (remaining === 0) return -1;
    for (let s = 0; s < DECISION_STEPS.length && remaining > 1; s++) {
      const step = DECISION_STEPS[s]!;
      if (step.total || (step.name === 'med' && this.options.alwaysCompareMed)) {
        // A total preorder: find a minimum in one pass, then drop everything worse than it.
        let min = -1;
        for (let i = 0; i < n; i++) {
          if (this.alive[i] === 0) continue;
          if (min < 0 || step.compare(c, i, min, this) < 0) min = i;
        }
        for (let i = 0; i < n; i++) {
          if (this.alive[i] === 0 || i === min) continue;
          if (step.compare(c, min, i, this) < 0) {
            this.alive[i] = 0;
            this.lostAt[i] = s;
            this.beatenBy[i] = min;
            remaining--;
          }
        }
        continue;
      }
      // MED within each neighbouring AS: a path is removed when another remaining path beats it.
      if (n > 8) {
        this.medByNeighborAs(c, n, s);
        remaining = 0;
        for (let i = 0; i < n; i++) remaining += this.alive[i]!;
        continue;
      }
      for (let i = 0; i < n; i++) {
        this.beatenNow[i] = 0;
        if (this.alive[i] === 0) continue;
        for (let j = 0; j < n; j++) {
          if (j === i || this.alive[j] === 0) continue;
          if (step.compare(c, j, i, this) < 0) {
            this.beatenNow[i] = 1;
            this.beatenBy[i] = j;
            break;
          }
        }
      }
      for (let i = 0; i < n; i++) {
        if (this.beatenNow[i] === 1) {
          this.alive[i] = 0;
          this.lostAt[i] = s;
          remaining--;
        }
      }
    }
    let best = -1;
    for (let i = 0; i < n; i++) if (this.alive[i] === 1) best = i;
    this.fillMultipath(c, best);
    return best;
  }

  /** The MED step in O(n) for many paths: the lowest MED per neighbouring AS survives. */
  private medByNeighborAs(c: CandidateSet, n: number, s: number): void {
    const minByAs = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      if (this.alive[i] === 0) continue;
      const as = this.attrs.neighborAsOf(c.attr[i]!);
      const cur = minByAs.get(as);
      if (cur === undefined || medOf(this, c.attr[i]!) < medOf(this, c.attr[cur]!)) minByAs.set(as, i);
    }
    for (let i = 0; i < n; i++) {
      if (this.alive[i] === 0) continue;
      const m = minByAs.get(this.attrs.neighborAsOf(c.attr[i]!))!;
      if (medOf(this, c.attr[m]!) < medOf(this, c.attr[i]!)) {
        this.alive[i] = 0;
        this.lostAt[i] = s;
        this.beatenBy[i] = m;
      }
    }
  }

  /** A route server can hold hundreds of paths for one prefix: the scratch arrays follow. */
  private growScratch(n: number): void {
    let size = this.alive.length;
    while (size < n) size *= 2;
    this.alive = new Uint8Array(size);
    this.lostAt = new Int8Array(size);
    this.beatenBy = new Int32Array(size);
    this.beatenNow = new Uint8Array(size);
    this.multipath = new Int32Array(size);
  }

  private fillMultipath(c: CandidateSet, best: number): void {
    this.multipath[0] = best;
    this.multipathCount = 1;
    const bestPeer = c.peer[best]!;
    const ebgp = this.peers.kindRankOf(bestPeer) === 1;
    const ibgp = this.peers.kindRankOf(bestPeer) === 2;
    const max = ebgp ? this.options.maxPathsEbgp : ibgp ? this.options.maxPathsIbgp : 1;
    if (max <= 1) return;
    const bestAttr = c.attr[best]!;
    // Candidates still in the race after the igp-cost step, ranked by the rest of the chain.
    const members: number[] = [];
    for (let i = 0; i < c.n; i++) {
      if (i === best || this.lostAt[i]! <= IGP_STEP) continue;
      const a = c.attr[i]!;
      if (
        ebgp &&
        !this.options.multipathRelax &&
        this.attrs.neighborAsOf(a) !== this.attrs.neighborAsOf(bestAttr)
      )
        continue;
      if (
        ibgp &&
        this.options.ibgpMultipathEqualClusterLength &&
        this.attrs.clusterListLengthOf(a) !== this.attrs.clusterListLengthOf(bestAttr)
      )
        continue;
      members.push(i);
    }
    if (members.length > 1) members.sort((i, j) => this.chainCompare(c, i, j));
    for (const i of members) {
      if (this.multipathCount >= max) break;
      if (!this.sameNextHopAsChosen(c, i)) this.multipath[this.multipathCount++] = i;
    }
  }

  private chainCompare(c: CandidateSet, i: number, j: number): number {
    for (const step of DECISION_STEPS) {
      const r = step.compare(c, i, j, this);
      if (r !== 0) return r;
    }
    return 0;
  }

  private sameNextHopAsChosen(c: CandidateSet, i: number): boolean {
    const nh = nextHopBytes(this.attrs.get(c.attr[i]!));
    for (let k = 0; k < this.multipathCount; k++) {
      const other = nextHopBytes(this.attrs.get(c.attr[this.multipath[k]!]!));
      if (nh === null || other === null) return true;
      if (compareBytes(nh, other) === 0) return true;
    }
    return false;
  }

  /** Compares two paths with the chain alone (both assumed eligible): the first step that decides. */
  compare(c: CandidateSet, i: number, j: number): PairwiseResult {
    c.igp[i] = this.igpCost(c.attr[i]!);
    c.igp[j] = this.igpCost(c.attr[j]!);
    for (const step of DECISION_STEPS) {
      const r = step.compare(c, i, j, this);
      if (r < 0) return { winner: 'a', step: step.name };
      if (r > 0) return { winner: 'b', step: step.name };
    }
    return { winner: 'tie', step: null };
  }

  /** Runs select() and describes, for every path, what decided against it (`show route --detail`). */
  explain(c: CandidateSet): Explanation {
    const best = this.select(c);
    const multipath = Array.from(this.multipath.subarray(0, best < 0 ? 0 : this.multipathCount));
    const paths: PathVerdict[] = [];
    for (let i = 0; i < c.n; i++) {
      const eligible = c.igp[i] !== UNREACHABLE && (c.n > 1 || best === 0);
      const isBest = i === best;
      let lostAt: StepName | null = null;
      let beatenBy: number | null = null;
      let reason: string;
      if (!eligible) reason = 'next hop unreachable';
      else if (isBest) reason = c.n === 1 ? 'only path' : 'best path';
      else {
        const s = this.lostAt[i]!;
        const step = DECISION_STEPS[s]!;
        lostAt = step.name;
        beatenBy = this.beatenBy[i]!;
        reason = `${describeStep(this, c, step.name, beatenBy, i)} of path ${beatenBy}`;
      }
      paths.push({
        index: i,
        eligible,
        best: isBest,
        multipath: multipath.includes(i),
        lostAt,
        beatenBy,
        reason,
      });
    }
    return { best, multipath, paths };
  }
}

function describeStep(env: DecisionProcess, c: CandidateSet, step: StepName, w: number, l: number): string {
  const a = env.attrs;
  const vs = (x: number | string, y: number | string): string => `(${x} vs ${y})`;
  switch (step) {
    case 'local-pref':
      return `higher local-pref ${vs(a.localPrefOf(c.attr[w]!), a.localPrefOf(c.attr[l]!))}`;
    case 'as-path-length':
      return `shorter AS path ${vs(a.asPathLengthOf(c.attr[w]!), a.asPathLengthOf(c.attr[l]!))}`;
    case 'origin': {
      const names = ['IGP', 'EGP', 'incomplete'];
      return `better origin ${vs(names[a.originOf(c.attr[w]!)] ?? '?', names[a.originOf(c.attr[l]!)] ?? '?')}`;
    }
    case 'med':
      return `lower MED ${vs(medOf(env, c.attr[w]!), medOf(env, c.attr[l]!))}`;
    case 'ebgp-over-ibgp': {
      const k = (i: number): string => env.peers.get(c.peer[i]!).kind;
      return `${k(w)} preferred over ${k(l)}`;
    }
    case 'igp-cost':
      return `lower IGP cost to next hop ${vs(c.igp[w]!, c.igp[l]!)}`;
    case 'cluster-list-length':
      return `shorter CLUSTER_LIST ${vs(a.clusterListLengthOf(c.attr[w]!), a.clusterListLengthOf(c.attr[l]!))}`;
    case 'router-id':
      return `lower router-id/ORIGINATOR_ID ${vs(routerIdForDecision(c, w, env) >>> 0, routerIdForDecision(c, l, env) >>> 0)}`;
    case 'peer-address':
      return `lower peer address ${vs(env.peers.get(c.peer[w]!).name, env.peers.get(c.peer[l]!).name)}`;
    case 'path-id':
      return `lower path id ${vs(c.pathId[w]!, c.pathId[l]!)}`;
  }
}
