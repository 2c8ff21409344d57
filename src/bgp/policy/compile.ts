// Compiles policy definitions into closures, once, when the configuration is loaded: prefix lists
// become parsed word arrays, community strings become words, AS-path regular expressions are
// built once. Evaluating a route then runs no parsing at all.
//
// A compiled chain knows whether it reads the prefix (usesPrefix). When it does not, its result
// depends only on the attribute set and the neighbour, and filters.ts caches it per attribute id:
// a million routes sharing a few thousand attribute sets cost a few thousand evaluations.

import {
  asPathContains,
  asPathPrepend,
  cloneAttributes,
  formatAsPath,
  nextHopBytes,
  originAs,
  parseIpv4,
  type StoredAttributes,
  settledStoredShape,
} from '../rib/attrs.ts';
import type { PeerInfo } from '../rib/peers.ts';
import { type Afi, parseIpv6, parsePrefix, prefixCovers, strideOf } from '../rib/prefix.ts';
import {
  type CommunityPattern,
  hasCommunity,
  hasExtCommunity,
  hasLargeCommunity,
  type LargeCommunityPattern,
  parseCommunity,
  parseCommunityPattern,
  parseExtCommunity,
  parseLargeCommunity,
  parseLargeCommunityPattern,
} from './communities.ts';
import type {
  CommunityEditConfig,
  CommunityValue,
  LargeCommunityValue,
  MatchConfig,
  PolicyConfig,
  PolicyDefinitionsConfig,
  PrefixListEntryConfig,
  SetConfig,
  TermConfig,
} from './config.ts';

/** What a policy sees of one route. words/offset/length are the prefix (see rib/prefix.ts). */
export interface RouteInput {
  readonly afi: Afi;
  readonly words: Uint32Array;
  readonly offset: number;
  readonly length: number;
  readonly attrs: StoredAttributes;
  /** the peer the route was learned from */
  readonly from: PeerInfo;
  /** our AS (for prepend and for the origin AS of our own routes) */
  readonly localAs: number;
}

export type NextHopAction = 'self' | 'unchanged' | null;

/** The route as statements modify it: attrs are copied on the first change. */
export class RouteWork {
  attrs: StoredAttributes;
  modified = false;
  nextHop: NextHopAction = null;

  constructor(attrs: StoredAttributes) {
    this.attrs = attrs;
  }

  mut(): StoredAttributes {
    if (!this.modified) {
      this.attrs = cloneAttributes(this.attrs);
      this.modified = true;
    }
    return this.attrs;
  }
}

/**
 * A RouteWork kept for the process's life (one is made per route evaluated and dropped at once),
 * for the reason given at keptPackerShapes in codec/packer.ts.
 */
export const keptRouteWorkShape: RouteWork = new RouteWork(settledStoredShape);

type Matcher = (r: RouteInput) => boolean;
type Action = (r: RouteInput, w: RouteWork) => void;

export interface CompiledStatement {
  readonly name: string;
  readonly matchers: readonly Matcher[];
  readonly actions: readonly Action[];
  readonly result: 'accept' | 'reject' | 'continue';
}

export interface CompiledPolicy {
  readonly name: string;
  readonly statements: readonly CompiledStatement[];
  /** when no term decides */
  readonly defaultAccept: boolean;
  readonly usesPrefix: boolean;
}

export class PolicyConfigError extends Error {
  override name = 'PolicyConfigError';
}

interface PrefixEntry {
  readonly afi: Afi;
  readonly words: Uint32Array;
  readonly length: number;
  readonly min: number;
  readonly max: number;
}

function compilePrefixEntry(entry: PrefixListEntryConfig | string, where: string): PrefixEntry {
  const e = typeof entry === 'string' ? { prefix: entry } : entry;
  let parsed: ReturnType<typeof parsePrefix>;
  try {
    parsed = parsePrefix(e.prefix);
  } catch (err) {
    throw new PolicyConfigError(`${where}: ${(err as Error).message}`);
  }
  const maxLen = parsed.afi === 1 ? 32 : 128;
  // FRR semantics: no ge/le = exact; ge alone = ge..max; le alone = len..le.
  const min = e.ge ?? parsed.length;
  const max = e.le ?? (e.ge !== undefined ? maxLen : parsed.length);
  if (min < parsed.length || max > maxLen || min > max) {
    throw new PolicyConfigError(
      `${where}: '${e.prefix}' needs ${parsed.length} <= ge <= le <= ${maxLen} (got ge ${e.ge ?? '-'} le ${e.le ?? '-'})`,
    );
  }
  return {
    afi: parsed.afi,
    words: parsed.words,
    length: parsed.length,
    min,
    max,
  };
}

function matchPrefixEntries(entries: readonly PrefixEntry[], r: RouteInput): boolean {
  for (const e of entries) {
    if (e.afi !== r.afi || r.length < e.min || r.length > e.max) continue;
    if (prefixCovers(e.words, 0, e.length, r.words, r.offset, r.length, strideOf(e.afi))) return true;
  }
  return false;
}

/** Cisco/FRR '_' = start, end, or a separator; compiled once into a JS RegExp. */
export function compileAsPathRegex(source: string, where: string): RegExp {
  const translated = source.replace(/_/g, '(?:^|$|[ {}()\\[\\],])');
  try {
    return new RegExp(translated);
  } catch (err) {
    throw new PolicyConfigError(
      `${where}: bad AS-path regular expression '${source}': ${(err as Error).message}`,
    );
  }
}

interface NextHopMatch {
  readonly afi: Afi;
  readonly words: Uint32Array;
  readonly length: number;
}

function nextHopWords(a: StoredAttributes): { afi: Afi; words: Uint32Array } | null {
  const b = nextHopBytes(a);
  if (b === null) return null;
  if (b.length === 4)
    return { afi: 1, words: Uint32Array.of(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) };
  if (b.length >= 16) {
    const w = new Uint32Array(4);
    for (let i = 0; i < 4; i++)
      w[i] = ((b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!) >>> 0;
    return { afi: 2, words: w };
  }
  return null;
}

function communityPattern(v: CommunityValue): CommunityPattern {
  return typeof v === 'number' ? { value: v >>> 0, mask: 0xffffffff } : parseCommunityPattern(v);
}

function largeCommunityPattern(v: LargeCommunityValue): LargeCommunityPattern {
  return typeof v === 'string' ? parseLargeCommunityPattern(v) : { words: [v[0], v[1], v[2]] };
}

function communityWords(v: CommunityValue): number[] {
  return [typeof v === 'number' ? v >>> 0 : parseCommunity(v)];
}

function largeCommunityWords(v: LargeCommunityValue): number[] {
  return typeof v === 'string' ? parseLargeCommunity(v) : [v[0], v[1], v[2]];
}

export class PolicyCompiler {
  private readonly prefixLists = new Map<string, PrefixEntry[]>();
  readonly policies = new Map<string, CompiledPolicy>();

  constructor(defs: PolicyDefinitionsConfig) {
    for (const [name, entries] of Object.entries(defs.prefixLists ?? {})) {
      this.prefixLists.set(
        name,
        entries.map((e, i) => compilePrefixEntry(e, `prefix list '${name}' entry ${i + 1}`)),
      );
    }
    for (const [name, policy] of Object.entries(defs.policies ?? {})) {
      this.policies.set(name, this.compilePolicy(name, policy));
    }
  }

  /** The policies of a chain, in order; a clear error names an unknown one. */
  chain(names: readonly string[], where: string): CompiledPolicy[] {
    return names.map((n) => {
      const p = this.policies.get(n);
      if (p === undefined) throw new PolicyConfigError(`${where}: unknown policy '${n}'`);
      return p;
    });
  }

  private compilePolicy(name: string, policy: PolicyConfig): CompiledPolicy {
    const dflt = policy.default ?? 'reject';
    if (dflt !== 'accept' && dflt !== 'reject') {
      throw new PolicyConfigError(
        `policy '${name}': default must be accept or reject (got '${String(dflt)}')`,
      );
    }
    const terms = policy.terms.map((t, i) => this.compileTerm(t, `policy '${name}' term ${t.name ?? i + 1}`));
    return {
      name,
      statements: terms,
      defaultAccept: dflt === 'accept',
      usesPrefix: policy.terms.some((t) => t.match?.prefixList !== undefined),
    };
  }

  private wrap<T>(where: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new PolicyConfigError(`${where}: ${(err as Error).message}`);
    }
  }

  private compileTerm(t: TermConfig, where: string): CompiledStatement {
    const action = t.action ?? 'accept';
    if (action !== 'accept' && action !== 'reject' && action !== 'continue') {
      throw new PolicyConfigError(
        `${where}: action must be accept, reject or continue (got '${String(action)}')`,
      );
    }
    return {
      name: t.name ?? where,
      matchers: t.match === undefined ? [] : this.compileMatch(t.match, where),
      actions: t.set === undefined ? [] : this.compileSet(t.set, where),
      result: action,
    };
  }

  private compileMatch(m: MatchConfig, where: string): Matcher[] {
    const out: Matcher[] = [];
    if (m.family !== undefined) {
      const afi = m.family === 'ipv4-unicast' ? 1 : m.family === 'ipv6-unicast' ? 2 : 0;
      if (afi === 0) throw new PolicyConfigError(`${where}: family must be ipv4-unicast or ipv6-unicast`);
      out.push((r) => r.afi === afi);
    }
    if (m.prefixList !== undefined) {
      let entries: PrefixEntry[];
      if (typeof m.prefixList === 'string') {
        const named = this.prefixLists.get(m.prefixList);
        if (named === undefined)
          throw new PolicyConfigError(`${where}: unknown prefix list '${m.prefixList}'`);
        entries = named;
      } else {
        entries = m.prefixList.map((e, i) => compilePrefixEntry(e, `${where} prefixList entry ${i + 1}`));
      }
      out.push((r) => matchPrefixEntries(entries, r));
    }
    if (m.community !== undefined) {
      const patterns = m.community.map((c) => this.wrap(where, () => communityPattern(c)));
      out.push((r) => patterns.some((p) => hasCommunity(r.attrs.communities, p)));
    }
    if (m.largeCommunity !== undefined) {
      const patterns = m.largeCommunity.map((c) => this.wrap(where, () => largeCommunityPattern(c)));
      out.push((r) => patterns.some((p) => hasLargeCommunity(r.attrs.largeCommunities, p)));
    }
    if (m.extCommunity !== undefined) {
      const values = m.extCommunity.map((c) => this.wrap(where, () => parseExtCommunity(c)));
      out.push((r) => values.some(([hi, lo]) => hasExtCommunity(r.attrs.extendedCommunities, hi, lo)));
    }
    if (m.asPath !== undefined) {
      const re = compileAsPathRegex(m.asPath, where);
      out.push((r) => re.test(formatAsPath(r.attrs.asPath)));
    }
    if (m.asPathContains !== undefined) {
      const asns = m.asPathContains.map((a) => a >>> 0);
      out.push((r) => asns.some((a) => asPathContains(r.attrs.asPath, a)));
    }
    if (m.originAs !== undefined) {
      const set = new Set(m.originAs.map((a) => a >>> 0));
      out.push((r) => {
        const o = originAs(r.attrs.asPath);
        return set.has(o === 0 ? r.localAs >>> 0 : o);
      });
    }
    if (m.nextHop !== undefined) {
      const nets = m.nextHop.map((t) => this.wrap(where, () => parseAddressOrPrefix(t)));
      out.push((r) => {
        const nh = nextHopWords(r.attrs);
        return nh !== null && nets.some((n) => addressIn(n, nh.afi, nh.words));
      });
    }
    if (m.neighbor !== undefined) {
      const nets: NextHopMatch[] = [];
      const names = new Set<string>();
      for (const t of m.neighbor) {
        if (/^[0-9a-fA-F:.]+(\/\d+)?$/.test(t) && (t.includes('.') || t.includes(':'))) {
          nets.push(this.wrap(where, () => parseAddressOrPrefix(t)));
        } else names.add(t);
      }
      out.push((r) => {
        if (names.has(r.from.name)) return true;
        const a = addressWords(r.from.address);
        return a !== null && nets.some((n) => addressIn(n, a.afi, a.words));
      });
    }
    return out;
  }

  private compileCommunityEdit<T>(
    c: CommunityEditConfig<T>,
    where: string,
    kind: 'communities' | 'largeCommunities',
    words: (v: T) => number[],
    pattern: (v: T) => (w: Uint32Array, i: number) => boolean,
  ): Action {
    const width = kind === 'communities' ? 1 : 3;
    const toWords = (list: readonly T[]): Uint32Array =>
      Uint32Array.from(list.flatMap((t) => this.wrap(`${where} set ${kind}`, () => words(t))));
    const replace = c.set !== undefined ? toWords(c.set) : null;
    const add = c.add !== undefined ? toWords(c.add) : null;
    const removers = (c.remove ?? []).map((t) => this.wrap(`${where} set ${kind}`, () => pattern(t)));
    return (_r, work) => {
      let cur: Uint32Array | undefined = replace ?? work.attrs[kind];
      if (cur !== undefined && removers.length > 0) {
        const kept: number[] = [];
        for (let i = 0; i + width <= cur.length; i += width) {
          if (removers.some((f) => f(cur!, i))) continue;
          for (let k = 0; k < width; k++) kept.push(cur[i + k]!);
        }
        cur = Uint32Array.from(kept);
      }
      if (add !== null) {
        const merged = cur === undefined ? [] : Array.from(cur);
        for (let i = 0; i + width <= add.length; i += width) {
          let present = false;
          for (let j = 0; j + width <= merged.length && !present; j += width) {
            present = true;
            for (let k = 0; k < width; k++) if (merged[j + k] !== add[i + k]) present = false;
          }
          if (!present) for (let k = 0; k < width; k++) merged.push(add[i + k]!);
        }
        cur = Uint32Array.from(merged);
      }
      const before = work.attrs[kind];
      if (cur === before) return;
      if (cur !== undefined && before !== undefined && sameWords(cur, before)) return;
      if ((cur === undefined || cur.length === 0) && before === undefined) return;
      const a = work.mut();
      if (cur === undefined || cur.length === 0) a[kind] = undefined;
      else a[kind] = cur;
    };
  }

  private compileSet(s: SetConfig, where: string): Action[] {
    const out: Action[] = [];
    if (s.localPref !== undefined) {
      const v = checkU32(s.localPref, `${where}: localPref`);
      out.push((_r, w) => {
        if (w.attrs.localPref !== v) w.mut().localPref = v;
      });
    }
    if (s.med !== undefined) {
      const v = checkU32(s.med, `${where}: med`);
      out.push((_r, w) => {
        if (w.attrs.med !== v) w.mut().med = v;
      });
    }
    if (s.communities !== undefined) {
      out.push(
        this.compileCommunityEdit(s.communities, where, 'communities', communityWords, (v) => {
          const p = communityPattern(v);
          return (w, i) => (w[i]! & p.mask) >>> 0 === p.value;
        }),
      );
    }
    if (s.largeCommunities !== undefined) {
      out.push(
        this.compileCommunityEdit(s.largeCommunities, where, 'largeCommunities', largeCommunityWords, (v) => {
          const p = largeCommunityPattern(v);
          return (w, i) => p.words.every((x, k) => x === null || x === w[i + k]);
        }),
      );
    }
    if (s.asPathPrepend !== undefined) {
      const { asn } = s.asPathPrepend;
      const count = s.asPathPrepend.count ?? 1;
      if (!Number.isInteger(count) || count < 1 || count > 32) {
        throw new PolicyConfigError(`${where}: asPathPrepend.count must be 1..32 (got ${count})`);
      }
      if (asn !== undefined) checkU32(asn, `${where}: asPathPrepend.asn`);
      out.push((r, w) => {
        w.mut().asPath = asPathPrepend(w.attrs.asPath, asn ?? r.localAs, count);
      });
    }
    if (s.nextHop !== undefined) {
      const nh = s.nextHop;
      if (nh === 'self' || nh === 'unchanged') {
        out.push((_r, w) => {
          w.nextHop = nh;
        });
      } else if (nh.includes(':')) {
        const words = this.wrap(where, () => parseIpv6(nh));
        const bytes = new Uint8Array(16);
        for (let i = 0; i < 4; i++) {
          bytes[4 * i] = words[i]! >>> 24;
          bytes[4 * i + 1] = (words[i]! >>> 16) & 255;
          bytes[4 * i + 2] = (words[i]! >>> 8) & 255;
          bytes[4 * i + 3] = words[i]! & 255;
        }
        out.push((_r, w) => {
          const a = w.mut();
          a.mpNextHop = bytes;
          a.nextHop = undefined;
          w.nextHop = 'unchanged';
        });
      } else {
        const v = this.wrap(where, () => parseIpv4(nh));
        out.push((r, w) => {
          const a = w.mut();
          if (r.afi === 1) {
            a.nextHop = v;
            a.mpNextHop = undefined;
          } else a.mpNextHop = Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
          w.nextHop = 'unchanged';
        });
      }
    }
    return out;
  }
}

function parseAddressOrPrefix(t: string): NextHopMatch {
  const withLen = t.includes('/') ? t : `${t}/${t.includes(':') ? 128 : 32}`;
  return parsePrefix(withLen);
}

function addressIn(n: NextHopMatch, afi: Afi, words: Uint32Array): boolean {
  return n.afi === afi && prefixCovers(n.words, 0, n.length, words, 0, afi === 1 ? 32 : 128, strideOf(afi));
}

function addressWords(b: Uint8Array): { afi: Afi; words: Uint32Array } | null {
  if (b.length === 4)
    return { afi: 1, words: Uint32Array.of(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) };
  if (b.length === 16) {
    const w = new Uint32Array(4);
    for (let i = 0; i < 4; i++)
      w[i] = ((b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!) >>> 0;
    return { afi: 2, words: w };
  }
  return null;
}

function checkU32(v: number, where: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new PolicyConfigError(`${where} must be 0..4294967295 (got ${v})`);
  return v;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The outcome of running a chain on one route. */
export interface PolicyOutcome {
  readonly accept: boolean;
  /** the (possibly modified) attributes; the input object when nothing changed */
  readonly attrs: StoredAttributes;
  readonly nextHop: NextHopAction;
  /** the term (or "policy P default") that decided last, for logs and `show route --detail` */
  readonly decidedBy: string | null;
}

/**
 * Applies the policies of a chain in order, each to the result of the previous one. Within a
 * policy the first term whose conditions hold decides with its action (accept or reject) after
 * its set actions; 'continue' applies its set actions and goes on; no decision: the policy's
 * default. A reject ends the chain. An empty chain gives `emptyChainAccept` (the neighbour's
 * default: accept for iBGP, RFC 8212 reject for eBGP).
 */
export function evaluateChain(
  chain: readonly CompiledPolicy[],
  r: RouteInput,
  emptyChainAccept: boolean,
): PolicyOutcome {
  const work = new RouteWork(r.attrs);
  if (chain.length === 0) return { accept: emptyChainAccept, attrs: r.attrs, nextHop: null, decidedBy: null };
  // Matchers see the attributes as modified so far (BIRD semantics).
  const view: { -readonly [K in keyof RouteInput]: RouteInput[K] } = { ...r };
  let decidedBy: string | null = null;
  for (const policy of chain) {
    let accepted = policy.defaultAccept;
    decidedBy = `policy ${policy.name} default`;
    for (const st of policy.statements) {
      view.attrs = work.attrs;
      let ok = true;
      for (const m of st.matchers) {
        if (!m(view)) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      for (const a of st.actions) a(view, work);
      if (st.result === 'continue') continue;
      accepted = st.result === 'accept';
      decidedBy = st.name;
      break;
    }
    if (!accepted) return { accept: false, attrs: work.attrs, nextHop: work.nextHop, decidedBy };
  }
  return { accept: true, attrs: work.attrs, nextHop: work.nextHop, decidedBy };
}
