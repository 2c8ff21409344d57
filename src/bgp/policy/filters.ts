// Import and export filtering with per-attribute-set caching.
//
// Import (per neighbour and family): loop checks (rib/loop-check.ts), RFC 4271 §5.1.5 clean-up,
// then the neighbour's import chain. Export (per update group and family): the RFC 4456 / §9.2
// advertisement rules, the well-known communities (RFC 1997), the export chain, then the
// attribute rewriting the session type requires (AS_PATH prepend, LOCAL_PREF, MED, NEXT_HOP,
// reflection attributes).
//
// Caching is the point: when no statement of the chain looks at the prefix, the result depends
// only on the attribute set (and, for export, the peer the route came from), so it is computed
// once per attribute id and kept in an Int32Array indexed by id. A cached result holds one
// reference on its output set (when it differs from the input); the AttrTable's onFree hook
// drops entries whose input set is freed, before the id can be reused.
//
// RFC 8212: an eBGP neighbour without an explicit import (export) policy accepts (advertises)
// nothing; `rfc8212Blocked` says so, so the caller can log it once.

import type { PrefixList } from '../codec/types.ts';
import { AsPathSegmentType } from '../codec/types.ts';
import { ID_TABLE_INITIAL } from '../id-table.ts';
import {
  isReflection,
  mayAdvertise,
  type ReflectionRole,
  type ReflectorConfig,
  reflectAttributes,
} from '../reflector/reflector.ts';
import type { AttrTable } from '../rib/attr-table.ts';
import {
  asPathPrepend,
  asPathStripConfed,
  buildAsPath,
  cloneAttributes,
  type StoredAttributes,
  WellKnownCommunity,
} from '../rib/attrs.ts';
import type { LocRib } from '../rib/loc-rib.ts';
import { checkLoops, type LoopCheckConfig, type LoopVerdict } from '../rib/loop-check.ts';
import type { PeerInfo, PeerKind, PeerTable } from '../rib/peers.ts';
import type { Afi } from '../rib/prefix.ts';
import {
  type CompiledPolicy,
  evaluateChain,
  type NextHopAction,
  type PolicyCompiler,
  type RouteInput,
} from './compile.ts';

/** Cache value meaning "rejected". */
export const REJECT = -1;
const UNKNOWN = 0;

/** Per-id result cache: 0 unknown, -1 rejected, else the output attribute id. */
class AttrResultCache {
  private out = new Int32Array(ID_TABLE_INITIAL);
  private unsubscribe: () => void;
  entries = 0;

  constructor(private readonly attrs: AttrTable) {
    this.unsubscribe = attrs.onFree((id) => this.drop(id));
  }

  get(id: number): number {
    return id < this.out.length ? this.out[id]! : UNKNOWN;
  }

  /** Stores a result; takes a reference on the output when it is not the input itself. */
  set(id: number, result: number): void {
    if (id >= this.out.length) {
      let n = this.out.length;
      while (n <= id) n *= 2;
      const o = new Int32Array(n);
      o.set(this.out);
      this.out = o;
    }
    this.drop(id);
    if (result > 0 && result !== id) this.attrs.ref(result);
    this.out[id] = result;
    this.entries++;
  }

  drop(id: number): void {
    if (id >= this.out.length) return;
    const r = this.out[id]!;
    if (r === UNKNOWN) return;
    this.out[id] = UNKNOWN;
    this.entries--;
    if (r > 0 && r !== id) this.attrs.unref(r);
  }

  clear(): void {
    for (let id = 0; id < this.out.length; id++) this.drop(id);
  }

  dispose(): void {
    this.clear();
    this.unsubscribe();
  }
}

function defaultAcceptFor(
  kind: PeerKind,
  chain: readonly CompiledPolicy[] | null,
  requireEbgpPolicy: boolean,
): {
  accept: boolean;
  blocked: boolean;
} {
  if (chain !== null) return { accept: false, blocked: false }; // an explicit chain ends in an implicit reject
  if (kind === 'ebgp' && requireEbgpPolicy) return { accept: false, blocked: true };
  return { accept: true, blocked: false };
}

/**
 * The prefix a prefix-independent chain is evaluated with (it reads none): one shared array, not
 * one per evaluation. Nothing writes it.
 */
const NO_PREFIX = new Uint32Array(4);

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportFilterOptions {
  readonly attrs: AttrTable;
  readonly compiler: PolicyCompiler;
  readonly afi: Afi;
  /** the neighbour (its kind decides RFC 8212 and the LOCAL_PREF rule) */
  readonly neighbor: PeerInfo;
  /** import policy names; undefined = none configured */
  readonly policies?: readonly string[];
  readonly loop: LoopCheckConfig;
  /** RFC 8212 (default true; FRR `no bgp ebgp-requires-policy` turns it off) */
  readonly requireEbgpPolicy?: boolean;
}

export interface ImportResult {
  accepted: number;
  rejected: number;
  /** the loop verdict of the attribute set (when the chain is prefix-independent) */
  loop: LoopVerdict;
}

export class ImportFilter {
  readonly rfc8212Blocked: boolean;
  /** true when results are cached per attribute set (the chain never reads the prefix) */
  readonly cacheable: boolean;
  /** number of times the policy chain actually ran (the cache's effectiveness) */
  evaluations = 0;
  private readonly chain: readonly CompiledPolicy[];
  private readonly defaultAccept: boolean;
  private readonly cache: AttrResultCache;
  private readonly loopVerdicts = new Map<number, LoopVerdict>();
  private readonly attrs: AttrTable;
  private readonly result: ImportResult = { accepted: 0, rejected: 0, loop: 'ok' };

  constructor(private readonly opts: ImportFilterOptions) {
    this.attrs = opts.attrs;
    const names = opts.policies;
    const chain =
      names === undefined ? null : opts.compiler.chain(names, `import policy of ${opts.neighbor.name}`);
    const d = defaultAcceptFor(opts.neighbor.kind, chain, opts.requireEbgpPolicy ?? true);
    this.chain = chain ?? [];
    this.defaultAccept = d.accept;
    this.rfc8212Blocked = d.blocked;
    this.cacheable = !this.chain.some((p) => p.usesPrefix);
    this.cache = new AttrResultCache(opts.attrs);
  }

  /**
   * Filters one UPDATE's worth of routes (one interned attribute set, many prefixes) into the
   * Loc-RIB: accepted prefixes are announced with the post-policy set, rejected ones withdrawn
   * (a route that policy now rejects replaces an earlier accepted one, RFC 4271 §9.1.2).
   * inAttrId stays owned by the caller.
   */
  importUpdate(rib: LocRib, peer: number, inAttrId: number, list: PrefixList): Readonly<ImportResult> {
    // One object reused, valid until the next call: this runs once per received UPDATE, and the
    // routing engine reads nothing of it (an object each was ~1 MB of garbage per 100k routes).
    const res = this.result;
    res.accepted = 0;
    res.rejected = 0;
    res.loop = 'ok';
    if (this.cacheable) {
      const out = this.resultFor(inAttrId, null, 0, 0);
      res.loop = this.loopVerdicts.get(inAttrId) ?? 'ok';
      if (out === REJECT) {
        rib.withdraw(peer, list);
        res.rejected = list.count;
      } else {
        rib.announce(peer, out, list);
        res.accepted = list.count;
      }
      return res;
    }
    const stride = this.opts.afi === 1 ? 1 : 4;
    for (let i = 0; i < list.count; i++) {
      const pathId = list.pathIds === null ? 0 : list.pathIds[i]!;
      const out = this.evaluate(inAttrId, list.words, i * stride, list.lengths[i]!);
      if (out === REJECT) {
        rib.remove(peer, pathId, list.words, i * stride, list.lengths[i]!);
        res.rejected++;
      } else {
        rib.upsert(peer, pathId, out, list.words, i * stride, list.lengths[i]!);
        this.attrs.unref(out);
        res.accepted++;
      }
    }
    return res;
  }

  /**
   * The post-policy attribute id for a route, or REJECT. For a cacheable chain the result is
   * owned by the cache (valid while inAttrId is interned); otherwise the caller owns one reference.
   */
  resultFor(inAttrId: number, words: Uint32Array | null, offset: number, length: number): number {
    if (this.cacheable) {
      const hit = this.cache.get(inAttrId);
      if (hit !== UNKNOWN) return hit;
      const out = this.evaluate(inAttrId, NO_PREFIX, 0, 0);
      this.cache.set(inAttrId, out);
      if (out > 0) this.attrs.unref(out); // the cache holds it now
      return out;
    }
    return this.evaluate(inAttrId, words ?? NO_PREFIX, offset, length);
  }

  /** Drops cached results (after a policy change, before re-running import: soft reconfiguration). */
  invalidate(): void {
    this.cache.clear();
    this.loopVerdicts.clear();
  }

  dispose(): void {
    this.cache.dispose();
  }

  /** Returns REJECT or an output id with one reference owned by the caller. */
  private evaluate(inAttrId: number, words: Uint32Array, offset: number, length: number): number {
    const inAttrs = this.attrs.get(inAttrId);
    const verdict = checkLoops(inAttrs, this.opts.loop);
    if (this.cacheable) {
      if (verdict !== 'ok') this.loopVerdicts.set(inAttrId, verdict);
      else this.loopVerdicts.delete(inAttrId);
    }
    if (verdict !== 'ok') return REJECT;
    let attrs = inAttrs;
    // RFC 4271 §5.1.5: LOCAL_PREF from an external peer MUST be ignored.
    if (this.opts.neighbor.kind === 'ebgp' && attrs.localPref !== undefined) {
      attrs = cloneAttributes(attrs);
      attrs.localPref = undefined;
    }
    this.evaluations++;
    const outcome = evaluateChain(
      this.chain,
      {
        afi: this.opts.afi,
        words,
        offset,
        length,
        attrs,
        from: this.opts.neighbor,
        localAs: this.opts.loop.localAs,
      },
      this.defaultAccept,
    );
    if (!outcome.accept) return REJECT;
    if (outcome.attrs === inAttrs) {
      this.attrs.ref(inAttrId);
      return inAttrId;
    }
    return this.attrs.internDerived(outcome.attrs);
  }
}

// ---------------------------------------------------------------------------------------------
// Export

export interface ExportSettings {
  readonly afi: Afi;
  /** the session type of the receiving peers */
  readonly kind: Exclude<PeerKind, 'local'>;
  /** the receiving peers are route-reflector clients of ours (iBGP only) */
  readonly rrClient: boolean;
  /** export policy names; undefined = none configured */
  readonly policies?: readonly string[];
  /** per-neighbour next-hop handling: 'default' is self for eBGP, unchanged for iBGP */
  readonly nextHop: 'default' | 'self' | 'unchanged';
  /** our address on these sessions (next-hop self) */
  readonly localIpv4?: number;
  readonly localIpv6?: Uint8Array;
  readonly localAs: number;
  readonly reflector: ReflectorConfig;
  readonly requireEbgpPolicy?: boolean;
}

function roleOfSource(p: PeerInfo): ReflectionRole {
  if (p.kind === 'ibgp') return p.rrClient ? 'client' : 'non-client';
  return p.kind;
}

function roleOfTarget(s: ExportSettings): ReflectionRole {
  if (s.kind === 'ibgp') return s.rrClient ? 'client' : 'non-client';
  return s.kind;
}

/** Prepends asn into a leading AS_CONFED_SEQUENCE (RFC 5065 §5.1.3). */
function confedPrepend(path: Uint32Array | undefined, asn: number): Uint32Array {
  const src = path ?? new Uint32Array(0);
  if (src.length > 0 && src[0]! >>> 24 === AsPathSegmentType.ConfedSequence) {
    const out = new Uint32Array(src.length + 1);
    out[0] = src[0]! + 1;
    out[1] = asn;
    out.set(src.subarray(1), 2);
    return out;
  }
  const head = buildAsPath([{ type: AsPathSegmentType.ConfedSequence, asns: [asn] }]);
  const out = new Uint32Array(head.length + src.length);
  out.set(head);
  out.set(src, head.length);
  return out;
}

export class ExportFilter {
  readonly rfc8212Blocked: boolean;
  readonly cacheable: boolean;
  evaluations = 0;
  private readonly chain: readonly CompiledPolicy[];
  private readonly defaultAccept: boolean;
  private readonly targetRole: ReflectionRole;
  // cache: per input id, one (source peer, result) pair in typed arrays; more peers in a Map
  private cPeer = new Int32Array(ID_TABLE_INITIAL);
  private cOut = new Int32Array(ID_TABLE_INITIAL);
  private readonly overflow = new Map<number, Map<number, number>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly attrs: AttrTable,
    private readonly peers: PeerTable,
    compiler: PolicyCompiler,
    readonly settings: ExportSettings,
  ) {
    const chain = settings.policies === undefined ? null : compiler.chain(settings.policies, 'export policy');
    const d = defaultAcceptFor(settings.kind, chain, settings.requireEbgpPolicy ?? true);
    this.chain = chain ?? [];
    this.defaultAccept = d.accept;
    this.rfc8212Blocked = d.blocked;
    this.cacheable = !this.chain.some((p) => p.usesPrefix);
    this.targetRole = roleOfTarget(settings);
    this.unsubscribe = attrs.onFree((id) => this.drop(id));
  }

  /**
   * The attribute id to advertise for a Loc-RIB best path (attribute id, source peer), or REJECT.
   * Owned by the cache when cacheable (valid while the input set is interned); otherwise the
   * caller owns one reference. The prefix is read only by prefix-dependent chains.
   */
  exportRoute(
    inAttrId: number,
    sourcePeer: number,
    words: Uint32Array,
    offset: number,
    length: number,
  ): number {
    if (!this.cacheable) return this.evaluate(inAttrId, sourcePeer, words, offset, length);
    if (inAttrId < this.cPeer.length && this.cPeer[inAttrId] === sourcePeer + 1) return this.cOut[inAttrId]!;
    const m = this.overflow.get(inAttrId);
    const hit = m?.get(sourcePeer);
    if (hit !== undefined) return hit;
    const out = this.evaluate(inAttrId, sourcePeer, words, offset, length);
    // evaluate() gave us one reference: the cache keeps it (unless out is the input itself).
    if (out === inAttrId) this.attrs.unref(out);
    this.store(inAttrId, sourcePeer, out);
    return out;
  }

  private store(id: number, peer: number, out: number): void {
    if (id >= this.cPeer.length) {
      let n = this.cPeer.length;
      while (n <= id) n *= 2;
      const p = new Int32Array(n);
      p.set(this.cPeer);
      this.cPeer = p;
      const o = new Int32Array(n);
      o.set(this.cOut);
      this.cOut = o;
    }
    if (this.cPeer[id] === 0) {
      this.cPeer[id] = peer + 1;
      this.cOut[id] = out;
      return;
    }
    let m = this.overflow.get(id);
    if (m === undefined) {
      m = new Map();
      this.overflow.set(id, m);
    }
    m.set(peer, out);
  }

  private release(id: number, out: number): void {
    if (out > 0 && out !== id) this.attrs.unref(out);
  }

  private drop(id: number): void {
    if (id < this.cPeer.length && this.cPeer[id] !== 0) {
      this.release(id, this.cOut[id]!);
      this.cPeer[id] = 0;
      this.cOut[id] = 0;
    }
    const m = this.overflow.get(id);
    if (m !== undefined) {
      for (const out of m.values()) this.release(id, out);
      this.overflow.delete(id);
    }
  }

  /** Forget cached results (policy or settings changed: Adj-RIB-Out is recomputed). */
  invalidate(): void {
    for (let id = 0; id < this.cPeer.length; id++) this.drop(id);
    for (const id of [...this.overflow.keys()]) this.drop(id);
  }

  dispose(): void {
    this.invalidate();
    this.unsubscribe();
  }

  private evaluate(
    inAttrId: number,
    sourcePeer: number,
    words: Uint32Array,
    offset: number,
    length: number,
  ): number {
    const s = this.settings;
    const src = this.peers.get(sourcePeer);
    const fromRole = roleOfSource(src);
    if (!mayAdvertise(fromRole, this.targetRole, s.reflector)) return REJECT;
    const inAttrs = this.attrs.get(inAttrId);
    // RFC 1997 well-known communities (RFC 5065 §5.2 for the confederation variants).
    const comms = inAttrs.communities;
    if (comms !== undefined) {
      for (let i = 0; i < comms.length; i++) {
        const c = comms[i]!;
        if (c === WellKnownCommunity.NoAdvertise) return REJECT;
        if (c === WellKnownCommunity.NoExport && s.kind === 'ebgp') return REJECT;
        if (c === WellKnownCommunity.NoExportSubconfed && s.kind !== 'ibgp') return REJECT;
      }
    }
    this.evaluations++;
    const input: RouteInput = {
      afi: s.afi,
      words,
      offset,
      length,
      attrs: inAttrs,
      from: src,
      localAs: s.localAs,
    };
    const outcome = evaluateChain(this.chain, input, this.defaultAccept);
    if (!outcome.accept) return REJECT;
    const out = this.rewrite(inAttrs, outcome.attrs, outcome.nextHop, src, fromRole);
    if (out === inAttrs) {
      this.attrs.ref(inAttrId);
      return inAttrId;
    }
    return this.attrs.internDerived(out);
  }

  /** Session-type rewriting (RFC 4271 §5.1, RFC 4456 §8, RFC 5065 §5). */
  private rewrite(
    original: StoredAttributes,
    a: StoredAttributes,
    policyNextHop: NextHopAction,
    src: PeerInfo,
    fromRole: ReflectionRole,
  ): StoredAttributes {
    const s = this.settings;
    // `out` becomes a copy before the first change (`a` is interned, hence shared). No closure
    // for that: tsx's keepNames wraps each closure created in __name(), a defineProperty per call.
    // Fields are cleared by assigning undefined, not deleted: delete turns the object into a
    // dictionary (storedAttributes() in attrs.ts keeps every set in one shape).
    let out = a;
    if (s.kind === 'ebgp') {
      // §5.1.2: prepend our AS (leaving the confederation: its segments go, RFC 5065 §5.1.3).
      out = cloneAttributes(a);
      out.asPath = asPathPrepend(asPathStripConfed(out.asPath), s.localAs, 1);
      // §5.1.5 LOCAL_PREF and RFC 4456 attributes are not sent to external peers.
      out.localPref = undefined;
      out.originatorId = undefined;
      out.clusterList = undefined;
      // §5.1.4: a MED learned from another AS is not passed on, unless our policy set it.
      if (out.med !== undefined && src.kind !== 'local' && a.med === original.med) out.med = undefined;
    } else if (s.kind === 'confed-ebgp') {
      out = cloneAttributes(a);
      out.asPath = confedPrepend(out.asPath, s.localAs);
      out.originatorId = undefined;
      out.clusterList = undefined;
      if (out.localPref === undefined) out.localPref = 100;
    } else {
      // §5.1.5: LOCAL_PREF is always sent to internal peers.
      if (out.localPref === undefined) {
        out = cloneAttributes(a);
        out.localPref = 100;
      }
      if (isReflection(fromRole, this.targetRole)) {
        out = reflectAttributes(out, src.routerId, s.reflector);
      }
    }
    const hasNextHop = out.nextHop !== undefined || out.mpNextHop !== undefined;
    const mode =
      policyNextHop ??
      (s.nextHop === 'default'
        ? s.kind === 'ebgp' || !hasNextHop || src.kind === 'local'
          ? 'self'
          : 'unchanged'
        : s.nextHop);
    if (mode === 'self' || !hasNextHop) {
      if (out === a) out = cloneAttributes(a);
      this.setSelf(out);
    }
    return out;
  }

  private setSelf(o: StoredAttributes): void {
    const s = this.settings;
    if (s.afi === 1 && s.localIpv4 !== undefined) {
      o.nextHop = s.localIpv4;
      o.mpNextHop = undefined;
    } else if (s.afi === 2 && s.localIpv6 !== undefined) {
      o.mpNextHop = s.localIpv6;
      o.nextHop = undefined;
    } else if (s.afi === 2 && s.localIpv4 !== undefined) {
      // RFC 8950-less peers cannot take an IPv4 next hop for IPv6; an IPv4-mapped address is the
      // RFC 4291 fallback (as BIRD does without an IPv6 source address).
      const v = s.localIpv4;
      o.mpNextHop = Uint8Array.of(
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0xff,
        0xff,
        v >>> 24,
        (v >>> 16) & 255,
        (v >>> 8) & 255,
        v & 255,
      );
      o.nextHop = undefined;
    }
  }
}
