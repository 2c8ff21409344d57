// Pure rendering: (model, options) → the wanted iptables chains (filter table, IPv4 and IPv6)
// and ipsets. Layout after Felix (calico-dataplane.md §4.1–4.3) and the seed talk's chains:
//
//   INPUT   → tsb-INPUT   → -i wl+ -g tsb-wl-to-host → tsb-from-wl-dispatch, then the
//                            configured endpoint-to-host action
//   FORWARD → tsb-FORWARD → -i wl+ -j tsb-from-wl-dispatch; -o wl+ -j tsb-to-wl-dispatch; ACCEPT
//   OUTPUT  → tsb-OUTPUT  → -o wl+ RETURN (the host may always reach its own workloads, as in Calico)
//
// The dispatch chains are a tree split by interface-name prefix: each chain holds at most
// `dispatchFanout` gotos, so a packet crosses O(log n) chains rather than n rules. Per-endpoint
// chains then run: INVALID drop; RELATED,ESTABLISHED accept; DHCP/NDP; anti-spoof (from-workload
// side); per tier, its policies in order and an end-of-tier drop; profiles in order; a commented
// default drop. Policies and profiles signal "allow" and "pass" with mark bits and RETURN, as
// Felix does, so a chain can be shared by every endpoint it applies to.
//
// Selector and address-set matches refer to ipsets by names derived from the selector text, never
// from their members: a membership change changes only the set, never a rule.
//
// Through a RenderCache, a change of endpoints alone costs O(changed + dispatch path): the last
// state is updated in place and the dataplane is told exactly what changed (RenderDelta).
import type { Endpoint, EntityMatch, Policy, PolicyModel, PortRange, Profile, Rule, Tier } from './model.ts';
import { canonicalNet, DEFAULT_TIER, netFamily, sortPolicies, tierOrders } from './model.ts';
import { chainRuleHashes, chainSeedHash, hashRuleInput, Names, ruleHashInput } from './names.ts';
import { matchSelector, parseSelector, printSelector, type SelectorAst } from './selector.ts';

export type Family = 4 | 6;
export type EndpointToHostAction = 'drop' | 'accept' | 'return';

export interface RenderOptions {
  /** Prefix of every chain and set name (default `tsb`). */
  prefix: string;
  /** Interface-name prefixes of workload interfaces; traffic on one with no endpoint is dropped. */
  workloadInterfacePrefixes: string[];
  /** What happens to workload→host traffic that the workload's egress policy allowed. */
  endpointToHostAction: EndpointToHostAction;
  /** Allow DHCPv4/DHCPv6 requests from workloads (before anti-spoofing: they come from 0.0.0.0). */
  allowDhcp: boolean;
  /** Mark bits reserved for us (Felix's defaults from IptablesMarkMask 0xffff0000). */
  markAccept: number;
  markPass: number;
  markScratch: number;
  /** At most this many gotos per dispatch chain before it is split by the next character. */
  dispatchFanout: number;
  ipv6: boolean;
}

export const defaultRenderOptions: RenderOptions = {
  prefix: 'tsb',
  workloadInterfacePrefixes: ['cali'],
  endpointToHostAction: 'drop',
  allowDhcp: true,
  markAccept: 0x10000,
  markPass: 0x20000,
  markScratch: 0x40000,
  dispatchFanout: 16,
  ipv6: true,
};

export interface ChainSpec {
  name: string;
  /** Rule text after `-A <chain> `, each starting with its hash comment. */
  readonly rules: string[];
  hashes: string[];
  /**
   * When rendered: the chain's `-A <chain> <rule>` lines for iptables-restore, each ending in a
   * newline, as one string (see RenderedChain).
   */
  readonly restoreLines?: string;
}

/**
 * Restore lines of many chains, written into one string. A from-scratch render at 10k endpoints
 * makes 342k rules: kept as separate strings (rule texts, hashes, rule lines) they survive two
 * young-generation copies each and are gathered again from all over the heap for the restore
 * input, which cost more than the render's own work. Written here while the render has them at
 * hand, they become one large string per ~256k characters, allocated where the scavenger never
 * copies it (V8's large-object space), and a chain's lines, hashes and rules are slices of it,
 * made when asked for. Rule texts never hold a newline (the model refuses one in comments, and
 * iptables-restore input is line-based anyway), so a chain's lines are found by counting them.
 * An arena lives while any of its chains does: at most about the size of one full render.
 */
class LineArena {
  /** The pieces until sealed (then empty), and their total length. */
  parts: string[] = [];
  length = 0;
  private sealed: string | undefined;
  get isSealed(): boolean {
    return this.sealed !== undefined;
  }
  text(): string {
    if (this.sealed === undefined) {
      this.sealed = this.parts.join('');
      this.parts = [];
    }
    return this.sealed;
  }
}

/** Characters after which an arena is sealed and a new one started (between chains). */
const ARENA_CHARS = 1 << 18;
let arena = new LineArena();
/** Seals the arena being written, at the end of a render (its chains are read soon after). */
const sealArena = (): void => {
  arena.text();
};

/** A rendered chain: its lines in an arena; `hashes` and `rules` are sliced out on first use. */
class RenderedChain implements ChainSpec {
  private hashList: string[] | undefined;
  private ruleList: string[] | undefined;
  constructor(
    readonly name: string,
    private readonly arena: LineArena,
    private readonly start: number,
    private readonly end: number,
    private readonly count: number,
    /** Length of `-A <chain> -m comment --comment "tsb:`, in front of each hash. */
    private readonly headLength: number,
  ) {}
  get restoreLines(): string {
    return this.arena.text().slice(this.start, this.end);
  }
  get hashes(): string[] {
    if (this.hashList === undefined) {
      const s = this.arena.text();
      const out: string[] = [];
      let at = this.start;
      for (let i = 0; i < this.count; i++) {
        out.push(s.slice(at + this.headLength, at + this.headLength + 16));
        at = s.indexOf('\n', at + this.headLength) + 1;
      }
      this.hashList = out;
    }
    return this.hashList;
  }
  get rules(): string[] {
    if (this.ruleList === undefined) {
      const s = this.arena.text();
      const skip = this.name.length + 4; // '-A ' + name + ' '
      const out: string[] = [];
      let at = this.start;
      for (let i = 0; i < this.count; i++) {
        const end = s.indexOf('\n', at + this.headLength);
        out.push(s.slice(at + skip, end));
        at = end + 1;
      }
      this.ruleList = out;
    }
    return this.ruleList;
  }
  /** Whether the chain's rules are exactly `texts` (each rule is its hash comment, then its text). */
  hasTexts(texts: readonly string[]): boolean {
    if (texts.length !== this.count) return false;
    const s = this.arena.text();
    let at = this.start;
    for (const t of texts) {
      // After the hash: '" ' and the text, or ' ' and the text's merged comment (finishChain).
      const merged = t.startsWith(COMMENT_OPEN);
      const p = at + this.headLength + (merged ? 17 : 18);
      const body = merged ? t.slice(COMMENT_OPEN.length) : t;
      if (!s.startsWith(body, p) || s.charCodeAt(p + body.length) !== 10) return false;
      at = p + body.length + 1;
    }
    return at === this.end;
  }
}

export interface HookSpec {
  builtin: 'INPUT' | 'FORWARD' | 'OUTPUT';
  /** Rule text after `-I <builtin> 1 `. */
  rule: string;
  hash: string;
}

export interface TableSpec {
  family: Family;
  chains: Map<string, ChainSpec>;
  hooks: HookSpec[];
}

export type IpSetType = 'hash:ip' | 'hash:net';

export interface IpSetSpec {
  name: string;
  family: Family;
  type: IpSetType;
  /** Sorted, canonical text (`ipset save` form: a /32 or /128 net is written as an address). */
  members: string[];
  /** What the set is for, for `policy show` and logs. */
  purpose: string;
}

export interface EndpointSummary {
  name: string;
  interface: string;
  fromChain: string;
  toChain: string;
  policies: { ingress: string[]; egress: string[] };
  profiles: string[];
  /** Every chain that decides this endpoint's ingress (to-workload) and egress traffic. */
  ingressChains: string[];
  egressChains: string[];
}

export interface DesiredState {
  tables: Record<Family, TableSpec>;
  ipsets: Map<string, IpSetSpec>;
  endpoints: EndpointSummary[];
  /** Addresses of each endpoint, for tearing down conntrack state when its policy changes. */
  endpointAddresses: Map<string, string[]>;
  /** Which render this is (renders through a cache only): the `since` of the next render's delta. */
  render?: { source: object; seq: number };
  /**
   * Set when this render differs from render `since` of the same cache only by endpoints that came,
   * went or changed: a dataplane that installed exactly that render need look at nothing else.
   */
  delta?: RenderDelta;
}

/**
 * What an endpoint-only render changed. A render through a cache updates the previous render's
 * state in place, so a DesiredState from a cache is valid until the next render through it.
 */
export interface RenderDelta {
  source: object;
  since: number;
  /** Chains added, rewritten or removed, per family (their wanted state is in `tables`). */
  chains: Record<Family, Set<string>>;
  /** Sets created or destroyed whole. */
  sets: Set<string>;
  /** Per set: addresses that entered or left it (presence, not multiplicity). */
  members: Map<string, { add: Set<string>; del: Set<string> }>;
  /** Endpoints rendered anew that existed, by name, before (their flows may need re-judging). */
  changedEndpoints: EndpointSummary[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const q = (s: string): string => `"${s}"`;

/** Memo of rendered chains, keyed by chain name and rule text; lets re-renders skip unchanged chains. */
export class HashMemo {
  // The chain's own lines are the key, compared text by text on a hit: no second copy of the rules.
  private readonly memo = new Map<string, RenderedChain>();
  get(chain: string, texts: readonly string[]): RenderedChain | undefined {
    const hit = this.memo.get(chain);
    return hit?.hasTexts(texts) ? hit : undefined;
  }
  set(chain: RenderedChain): void {
    this.memo.set(chain.name, chain);
  }
  /** Forget chains not seen in the latest render, so the memo does not grow without bound. */
  retain(live: { has(name: string): boolean }): void {
    for (const k of this.memo.keys()) if (!live.has(k)) this.memo.delete(k);
  }
}

/** How a rule text with a human comment starts (see commented()). */
const COMMENT_OPEN = '-m comment --comment "';

/**
 * A rule before hashing is its text: the match-and-target text, preceded by its human comment
 * when it has one (this function). Texts are built once and shared wherever they are the same.
 *
 * When the rule is written, the human comment is merged into the rule's hash comment
 * ("tsb:HASH DHCP", see finishChain): one comment match per rule, not two. Each comment match is
 * a 288-byte entry in the legacy table blob and one more option for iptables-restore to parse;
 * at 10k endpoints ~71k rules carry a human comment, and merging took the table from 207.4 to
 * 187.9 MB (docs/policy.md, "One comment match per rule").
 */
const commented = (comment: string, text: string): string => `${COMMENT_OPEN}${comment}" ${text}`;

/**
 * A written rule (ChainSpec.rules) split into its hash and its text as rendered: the inverse of
 * finishChain's comment merge, for tests and tools that compare rule texts.
 */
export function splitRule(rule: string): { hash: string; text: string } {
  const m = /^-m comment --comment "[a-z][a-z0-9]{0,4}:([A-Za-z0-9_-]{16})(" | )/.exec(rule);
  if (m === null) throw new Error(`not a rule of ours: ${rule}`);
  const rest = rule.slice(m[0].length);
  return { hash: m[1]!, text: m[2] === ' ' ? `${COMMENT_OPEN}${rest}` : rest };
}

/**
 * The kernel's comment match holds 255 characters (XT_MAX_COMMENT_LEN 256 with the NUL); the
 * merged hash comment in front takes up to 23 of them (a 5-character prefix, ':', 16 hash
 * characters and a space).
 */
const COMMENT_MAX = 255 - 23;

/** A comment cut to what the kernel takes (endpoint names may be 253 characters long). */
function fitComment(text: string): string {
  return text.length <= COMMENT_MAX ? text : `${text.slice(0, COMMENT_MAX - 3)}...`;
}

/**
 * Hashes a chain's rule texts (chainRuleHashes) and writes its restore lines: each rule is its
 * hash comment, then its text; a text that starts with a human comment has it merged into the
 * hash comment (`"tsb:HASH DHCP" -p udp ...`). The hash is always of the text as rendered.
 */
function finishChain(names: Names, name: string, texts: string[], memo: HashMemo | undefined): ChainSpec {
  const known = memo?.get(name, texts);
  if (known) return known;
  if (arena.isSealed || arena.length >= ARENA_CHARS) arena = new LineArena();
  const a = arena;
  const parts = a.parts;
  const head = `-A ${name} ${names.commentHead}`;
  // A rule's line is head, hash, '" ', text, '\n'; one piece per rule (the newline goes in
  // front of the next rule's head), which the join at sealing walks faster than five.
  const nlHead = `\n${head}`;
  const start = a.length;
  let length = 0;
  let prev = chainSeedHash(name);
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i]!;
    const input = ruleHashInput(prev, text);
    const at = prev.length + 1;
    prev = hashRuleInput(input);
    // Hashing flattened `input` into one piece; the text sliced out of it is copied at sealing in
    // one go, where the text itself is a tree of the pieces it was built from.
    if (text.startsWith(COMMENT_OPEN)) {
      // '"tsb:HASH" -m comment --comment "X" rest' becomes '"tsb:HASH X" rest': the '" ' after the
      // hash and COMMENT_OPEN become one space.
      parts.push(`${i === 0 ? head : nlHead}${prev} ${input.slice(at + COMMENT_OPEN.length)}`);
      length -= COMMENT_OPEN.length + 1;
    } else parts.push(`${i === 0 ? head : nlHead}${prev}" ${input.slice(at)}`);
    length += text.length;
  }
  if (texts.length > 0) {
    parts.push('\n');
    length += texts.length * (head.length + 19); // head, 16 hash characters, '" ', '\n'
  }
  a.length += length;
  const chain = new RenderedChain(name, a, start, a.length, texts.length, head.length);
  // Sealed while its pieces are fresh: they die young, and the arena is one string from now on.
  if (a.length >= ARENA_CHARS) a.text();
  memo?.set(chain);
  return chain;
}

interface Ctx {
  names: Names;
  opts: RenderOptions;
  model: PolicyModel;
  ipsets: Map<string, IpSetSpec>;
  selectorCache: Map<string, { ast: SelectorAst; canonical: string }>;
  selectorMembers: Map<string, Record<Family, string[]>>;
  cache?: RenderCache;
  /** Set references already replayed in this render (see rulesChain). */
  replayed: Set<SetRef>;
  /** Set names already resolved in this render, per family, by selector text or `\0set\0name`. */
  setNames: Record<Family, Map<string, string>>;
  /** While compiling a cacheable chain: the sets it refers to, replayed on a cache hit. */
  refs: SetRef[] | undefined;
  texts: RuleTexts;
  /** The model's tiers (tiersKey) and those whose defaultAction is pass. */
  tiers: string;
  passingTiers: ReadonlySet<string>;
}

type SetRef =
  | { kind: 'selector'; text: string; family: Family }
  | { kind: 'addressSet'; name: string; family: Family }
  | { kind: 'nets'; nets: readonly string[]; family: Family };

function replayRef(ctx: Ctx, r: SetRef): void {
  if (r.kind === 'selector') selectorSetName(ctx, r.text, r.family);
  else if (r.kind === 'addressSet') addressSetName(ctx, r.name, r.family);
  else netsSetName(ctx, r.nets, r.family);
}

function selector(ctx: Ctx, text: string): { ast: SelectorAst; canonical: string } {
  let s = ctx.selectorCache.get(text);
  if (!s) {
    const ast = parseSelector(text);
    s = { ast, canonical: printSelector(ast) };
    ctx.selectorCache.set(text, s);
  }
  return s;
}

function selectorSetName(ctx: Ctx, text: string, family: Family): string {
  ctx.refs?.push({ kind: 'selector', text, family });
  const known = ctx.setNames[family].get(text);
  if (known !== undefined) return known;
  const { ast, canonical } = selector(ctx, text);
  const name = ctx.names.selectorSet(family, canonical);
  if (!ctx.ipsets.has(name)) {
    let members =
      ctx.selectorMembers.get(canonical) ?? ctx.cache?.selectorMembers(canonical, ast, ctx.model.endpoints);
    if (!members) {
      const v4: string[] = [];
      const v6: string[] = [];
      for (const ep of ctx.model.endpoints) {
        if (!matchSelector(ast, ep.labels)) continue;
        v4.push(...ep.ipv4);
        v6.push(...ep.ipv6);
      }
      members = { 4: v4.sort(), 6: v6.sort() };
      ctx.selectorMembers.set(canonical, members);
    }
    ctx.ipsets.set(name, {
      name,
      family,
      type: 'hash:ip',
      members: members[family],
      purpose: `selector ${canonical}`,
    });
  }
  return name;
}

/** The `ipset save` spelling of a member: addresses without /32 or /128, networks as given. */
export function canonicalMember(net: string): string {
  return canonicalNet(net) ?? net;
}

function addressSetName(ctx: Ctx, setName: string, family: Family): string {
  ctx.refs?.push({ kind: 'addressSet', name: setName, family });
  const known = ctx.setNames[family].get(`\0set\0${setName}`);
  if (known !== undefined) return known;
  const name = ctx.names.addressSet(family, setName);
  ctx.setNames[family].set(`\0set\0${setName}`, name);
  if (!ctx.ipsets.has(name)) {
    const def = ctx.model.addressSets.find((s) => s.name === setName);
    const nets = def?.nets ?? [];
    let perFamily = ctx.cache?.addressSetMembers.get(nets);
    let members = perFamily?.[family];
    if (!members) {
      members = [...new Set(nets.filter((n) => netFamily(n) === family).map(canonicalMember))].sort();
      if (ctx.cache && def) {
        perFamily ??= { 4: undefined, 6: undefined };
        perFamily[family] = members;
        ctx.cache.addressSetMembers.set(nets, perFamily);
      }
    }
    ctx.ipsets.set(name, { name, family, type: 'hash:net', members, purpose: `address set ${setName}` });
  }
  return name;
}

function netsSetName(ctx: Ctx, nets: readonly string[], family: Family): string {
  ctx.refs?.push({ kind: 'nets', nets, family });
  const members = [...new Set(nets.map(canonicalMember))].sort();
  const name = ctx.names.netsSet(family, members);
  if (!ctx.ipsets.has(name))
    ctx.ipsets.set(name, { name, family, type: 'hash:net', members, purpose: `nets ${members.join(',')}` });
  return name;
}

/** multiport takes at most 15 ports, a range counting as two (xt_multiport XT_MULTI_PORTS). */
function portChunks(ports: readonly PortRange[]): string[] {
  const chunks: string[] = [];
  let cur: string[] = [];
  let used = 0;
  for (const p of ports) {
    const cost = p.from === p.to ? 1 : 2;
    if (used + cost > 15) {
      chunks.push(cur.join(','));
      cur = [];
      used = 0;
    }
    cur.push(p.from === p.to ? String(p.from) : `${p.from}:${p.to}`);
    used += cost;
  }
  if (cur.length) chunks.push(cur.join(','));
  return chunks;
}

function cross(a: string[], b: string[]): string[] {
  if (a.length === 1 && b.length === 1) {
    const x = a[0]!;
    const y = b[0]!;
    return [x && y ? `${x} ${y}` : x || y];
  }
  const out: string[] = [];
  for (const x of a) for (const y of b) out.push(x && y ? `${x} ${y}` : x || y);
  return out;
}

/**
 * The address part of one side: alternatives (OR) of match text, or undefined when the side can
 * never match in this family (e.g. only IPv4 nets in the IPv6 table).
 */
function sideMatches(ctx: Ctx, side: EntityMatch, dir: 'src' | 'dst', family: Family): string[] | undefined {
  const flag = dir === 'src' ? '-s' : '-d';
  // The conjunction so far, as one string (most sides have one part or none).
  let all = '';
  if (side.nets.length > 0) {
    const nets = ofFamily(side.nets, family);
    if (nets.length === 0) return undefined;
    all = and(
      all,
      nets.length === 1
        ? `${flag} ${nets[0]}`
        : `-m set --match-set ${netsSetName(ctx, nets, family)} ${dir}`,
    );
  }
  if (side.notNets.length > 0) {
    const notNets = ofFamily(side.notNets, family);
    if (notNets.length === 1) all = and(all, `! ${flag} ${notNets[0]}`);
    else if (notNets.length > 1)
      all = and(all, `-m set ! --match-set ${netsSetName(ctx, notNets, family)} ${dir}`);
  }
  if (side.selector !== undefined)
    all = and(all, `-m set --match-set ${selectorSetName(ctx, side.selector, family)} ${dir}`);
  if (side.notSelector !== undefined)
    all = and(all, `-m set ! --match-set ${selectorSetName(ctx, side.notSelector, family)} ${dir}`);
  for (const s of side.notAddressSets)
    all = and(all, `-m set ! --match-set ${addressSetName(ctx, s, family)} ${dir}`);
  const flag2 = dir === 'src' ? '--sports' : '--dports';
  if (side.notPorts.length > 0)
    for (const chunk of portChunks(side.notPorts)) all = and(all, `-m multiport ! ${flag2} ${chunk}`);
  let alts = [all];
  if (side.addressSets.length > 0) {
    const sets: string[] = [];
    for (const s of side.addressSets)
      sets.push(`-m set --match-set ${addressSetName(ctx, s, family)} ${dir}`);
    alts = cross(alts, sets);
  }
  if (side.ports.length > 0) {
    const chunks = portChunks(side.ports);
    for (let i = 0; i < chunks.length; i++) chunks[i] = `-m multiport ${flag2} ${chunks[i]}`;
    alts = cross(alts, chunks);
  }
  return alts;
}

/** Match parts joined by a space (an empty part is none). */
const and = (a: string, b: string): string => (a ? `${a} ${b}` : b);

/** The nets of one family (the array itself when all are). */
function ofFamily(nets: readonly string[], family: Family): readonly string[] {
  let all = true;
  for (const n of nets) if (netFamily(n) !== family) all = false;
  return all ? nets : nets.filter((n) => netFamily(n) === family);
}

function protocolFamily(p: string | number | undefined): Family | undefined {
  if (p === 'icmp' || p === 1) return 4;
  if (p === 'icmpv6' || p === 58) return 6;
  return undefined;
}

function icmpMatch(family: Family, m: { type: number; code?: number }, negate: boolean): string {
  const v = m.code === undefined ? String(m.type) : `${m.type}/${m.code}`;
  return family === 4
    ? `-m icmp ${negate ? '! ' : ''}--icmp-type ${v}`
    : `-m icmp6 ${negate ? '! ' : ''}--icmpv6-type ${v}`;
}

/** Compiles one model rule into rule texts for one family (none when it cannot apply there). */
function compileRule(ctx: Ctx, rule: Rule, family: Family, label: string, index: number): string[] {
  if (rule.ipVersion !== undefined && rule.ipVersion !== family) return [];
  const pf = protocolFamily(rule.protocol);
  if (pf !== undefined && pf !== family) return [];
  let head = '';
  if (rule.protocol !== undefined) head = `-p ${rule.protocol}`;
  else if (rule.notProtocol !== undefined) head = `! -p ${rule.notProtocol}`;
  if (rule.icmp) head = and(head, icmpMatch(family, rule.icmp, false));
  if (rule.notIcmp) head = and(head, icmpMatch(family, rule.notIcmp, true));
  const src = sideMatches(ctx, rule.source, 'src', family);
  const dst = sideMatches(ctx, rule.destination, 'dst', family);
  if (!src || !dst) return [];
  const matches = cross(cross([head], src), dst);
  const { markAccept: A, markPass: P } = ctx.opts;
  let target: string;
  switch (rule.action) {
    case 'deny':
      target = '-j DROP';
      break;
    case 'log': {
      // LOG prefixes are at most 29 characters (xt_LOG); the hash comment names the rule exactly.
      const prefix = `${ctx.names.prefix} ${label}${index}`.slice(0, 28).replace(/["\\]/g, '');
      target = `-j LOG --log-prefix ${q(`${prefix} `)}`;
      break;
    }
    case 'allow':
    case 'pass': {
      // The RETURN that ends a run of allow (or pass) rules is added by rulesBodies.
      const bit = rule.action === 'allow' ? A : P;
      target = `-j MARK --set-xmark ${hex(bit)}/${hex(bit)}`;
      break;
    }
  }
  const comment = rule.comment;
  const out: string[] = [];
  for (const m of matches) {
    // No part has spaces around it: only an empty match needs none in front of the target.
    const text = m ? `${m} ${target}` : target;
    out.push(comment ? commented(comment, text) : text);
  }
  return out;
}

function dispatchChains(
  names: Names,
  dir: 'from' | 'to',
  ifaces: readonly string[],
  fanout: number,
  memo: HashMemo | undefined,
  out: ChainSpec[],
  subtrees?: Map<string, { key: string; chains: ChainSpec[] }>,
  children?: Map<string, string[]>,
): void {
  const flag = dir === 'from' ? '-i' : '-o';
  const target = (iface: string): string => (dir === 'from' ? names.fromWl(iface) : names.toWl(iface));
  const drop = commented('Unknown interface', '-j DROP');
  // A subtree depends only on its chain name and its interface list, so with a cache an
  // unchanged subtree is reused whole and an update re-renders only the O(log n) chains on the
  // path to the interface that came or went.
  const build = (chain: string, list: readonly string[], fixed: number): void => {
    if (subtrees) {
      const key = `${fixed}|${list.join(' ')}`;
      const hit = subtrees.get(chain);
      if (hit && hit.key === key) {
        for (const c of hit.chains) out.push(c);
        return;
      }
      const start = out.length;
      buildChain(chain, list, fixed);
      subtrees.set(chain, { key, chains: out.slice(start) });
      return;
    }
    buildChain(chain, list, fixed);
  };
  const buildChain = (chain: string, list: readonly string[], fixed: number): void => {
    const bodies: string[] = [];
    const kids: string[] = [];
    if (list.length <= fanout) {
      for (const i of list) bodies.push(`${flag} ${i} -g ${target(i)}`);
    } else {
      // Extend the common prefix, then bucket by the next character (Felix dispatch.go, made recursive).
      const first = list[0]!;
      const last = list[list.length - 1]!;
      let cp = fixed;
      while (cp < first.length && first[cp] === last[cp]) cp++;
      const stem = first.slice(0, cp);
      const buckets = new Map<string, string[]>();
      for (const i of list) {
        const key = i.length > cp ? stem + i[cp] : stem;
        const b = buckets.get(key);
        if (b) b.push(i);
        else buckets.set(key, [i]);
      }
      for (const [key, members] of buckets) {
        if (members.length === 1 || key === stem) {
          for (const i of members) bodies.push(`${flag} ${i} -g ${target(i)}`);
        } else {
          const child = names.dispatchChild(dir, key);
          bodies.push(`${flag} ${key}+ -g ${child}`);
          kids.push(child);
          build(child, members, key.length);
        }
      }
    }
    bodies.push(drop);
    children?.set(chain, kids);
    out.push(finishChain(names, chain, bodies, memo));
  };
  build(dir === 'from' ? names.fromWlDispatch : names.toWlDispatch, ifaces, 0);
}

/** The chains of one tier's policies that apply to an endpoint in one direction, in order. */
interface TierChains {
  tier: string;
  chains: string[];
  /** The tier's defaultAction is pass: no drop at its end. */
  passes: boolean;
}

interface EndpointPolicies {
  ep: Endpoint;
  /** Ingress and egress policy chains, grouped by tier, tiers in evaluation order. */
  pin: TierChains[];
  pout: TierChains[];
  /** The applicable policy chains as one string: the key of the endpoint's cached chains. */
  key: string;
  summary: EndpointSummary;
  used: string[];
}

const sameItems = (a: readonly unknown[], b: readonly unknown[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

interface ProfileChains {
  ingress: readonly Rule[];
  egress: readonly Rule[];
  4: { chains: [ChainSpec, ChainSpec]; refs: SetRef[] } | undefined;
  6: { chains: [ChainSpec, ChainSpec]; refs: SetRef[] } | undefined;
}

/** A policy's or profile's chain compiled from one rules array, for one family, name and label. */
interface RulesSlot {
  family: Family;
  label: string;
  chain: ChainSpec;
  refs: SetRef[];
}

/** Per-endpoint rendering is cached on the rendered text's inputs (the endpoint and its policy chains). */
export class RenderCache {
  hashes: Record<Family, HashMemo> = { 4: new HashMemo(), 6: new HashMemo() };
  /** Per-endpoint chains, keyed on the endpoint object (unchanged endpoints keep their object). */
  endpoints = new WeakMap<Endpoint, { key: string; chains: Record<Family, ChainSpec[]> }>();
  /** Compiled policy and profile chains, keyed on the rules array, then family and chain name. */
  // A rules array has one or two slots (a chain per family), so a list, not a Map per array.
  rules = new WeakMap<readonly Rule[], RulesSlot[]>();
  names: Names | undefined;
  optionsKey = '';
  private refs = new Map<string, SetRef>();
  /** Per selector: the endpoints (by object) it matches, and their addresses once sorted. */
  private selectors = new Map<
    string,
    { ast: SelectorAst; matching: Set<Endpoint>; sorted: Record<Family, string[]> | undefined; used: boolean }
  >();
  private lastEndpoints = new Set<Endpoint>();
  private added: Endpoint[] = [];
  private removed: Endpoint[] = [];
  /** Per endpoint: which policies apply, valid while the policy list is the same objects. */
  applicable = new WeakMap<
    Endpoint,
    { policies: readonly unknown[]; tiers: string; value: EndpointPolicies }
  >();
  /** Dispatch subtrees by root chain name: the interface list they were built for and their chains. */
  dispatch: Record<Family, Map<string, { key: string; chains: ChainSpec[] }>> = {
    4: new Map(),
    6: new Map(),
  };
  /** Both chains of a profile per family, valid while its rule arrays are the same objects. */
  profileChains = new WeakMap<Profile, ProfileChains>();
  /** The profile list sorted by name, valid while the model's profile array is the same object. */
  sortedProfiles: { of: readonly Profile[]; sorted: Profile[] } | undefined;
  /** Canonical members of a named address set, keyed on its nets array (per family). */
  addressSetMembers = new WeakMap<readonly string[], Record<Family, string[] | undefined>>();
  /** The last render, kept to be updated in place when only endpoints change. */
  live: LiveRender | undefined;
  /** Renders through this cache so far (see DesiredState.render). */
  seq = 0;
  /** Each dispatch chain's child dispatch chains (the same in both families). */
  dispatchChildren = new Map<string, string[]>();

  /**
   * Moves endpoints out of and into every tracked selector's match set and sorted members without
   * a pass over all endpoints. Reports, per selector and family, the new member array and the
   * addresses whose presence flipped (an address two endpoints share stays while one has it).
   */
  moveEndpoints(
    removed: readonly Endpoint[],
    added: readonly Endpoint[],
    onChange: (canonical: string, family: Family, members: string[], plus: string[], minus: string[]) => void,
  ): void {
    for (const e of removed) this.lastEndpoints.delete(e);
    for (const e of added) this.lastEndpoints.add(e);
    for (const [canonical, st] of this.selectors) {
      const out = removed.filter((e) => st.matching.delete(e));
      const into = added.filter((e) => {
        if (!matchSelector(st.ast, e.labels)) return false;
        st.matching.add(e);
        return true;
      });
      const sorted = st.sorted;
      if (!sorted || (out.length === 0 && into.length === 0)) continue;
      for (const f of [4, 6] as const) {
        const leaving = out.flatMap((e) => (f === 4 ? e.ipv4 : e.ipv6));
        const entering = into.flatMap((e) => (f === 4 ? e.ipv4 : e.ipv6));
        if (leaving.length === 0 && entering.length === 0) continue;
        const arr = [...sorted[f]];
        const plus: string[] = [];
        const minus: string[] = [];
        for (const a of leaving) {
          const i = lowerBound(arr, a);
          if (arr[i] !== a) continue;
          arr.splice(i, 1);
          if (arr[i] !== a) minus.push(a);
        }
        for (const a of entering) {
          const i = lowerBound(arr, a);
          if (arr[i] !== a) plus.push(a);
          arr.splice(i, 0, a);
        }
        sorted[f] = arr;
        onChange(canonical, f, arr, plus, minus);
      }
    }
  }

  internRef(r: SetRef): SetRef {
    const key =
      r.kind === 'nets'
        ? `n|${r.family}|${r.nets.join(',')}`
        : `${r.kind}|${r.family}|${r.kind === 'selector' ? r.text : r.name}`;
    const have = this.refs.get(key);
    if (have) return have;
    this.refs.set(key, r);
    return r;
  }

  /** Notes which endpoints came and went since the last render (by object identity). */
  beginRender(endpoints: readonly Endpoint[]): void {
    const now = new Set(endpoints);
    this.added = endpoints.filter((e) => !this.lastEndpoints.has(e));
    this.removed = [...this.lastEndpoints].filter((e) => !now.has(e));
    this.lastEndpoints = now;
    for (const st of this.selectors.values()) {
      st.used = false;
      for (const e of this.removed) if (st.matching.delete(e)) st.sorted = undefined;
      for (const e of this.added) {
        if (matchSelector(st.ast, e.labels)) {
          st.matching.add(e);
          st.sorted = undefined;
        }
      }
    }
  }

  /** Members of a selector's sets, maintained incrementally across renders. */
  selectorMembers(
    canonical: string,
    ast: SelectorAst,
    endpoints: readonly Endpoint[],
  ): Record<Family, string[]> {
    let st = this.selectors.get(canonical);
    if (!st) {
      st = {
        ast,
        matching: new Set(endpoints.filter((e) => matchSelector(ast, e.labels))),
        sorted: undefined,
        used: true,
      };
      this.selectors.set(canonical, st);
    }
    st.used = true;
    if (!st.sorted) {
      const v4: string[] = [];
      const v6: string[] = [];
      for (const e of st.matching) {
        for (const a of e.ipv4) v4.push(a);
        for (const a of e.ipv6) v6.push(a);
      }
      st.sorted = { 4: v4.sort(), 6: v6.sort() };
    }
    return st.sorted;
  }

  /** Forgets selectors no render used last time. */
  endRender(): void {
    for (const [k, st] of this.selectors) if (!st.used) this.selectors.delete(k);
  }

  clear(): void {
    this.selectors.clear();
    this.lastEndpoints = new Set();
    this.refs.clear();
    this.applicable = new WeakMap();
    this.dispatch = { 4: new Map(), 6: new Map() };
    this.sortedProfiles = undefined;
    this.profileChains = new WeakMap();
    this.addressSetMembers = new WeakMap();
    this.hashes = { 4: new HashMemo(), 6: new HashMemo() };
    this.endpoints = new WeakMap();
    this.rules = new WeakMap();
    this.names = undefined;
    this.live = undefined;
    this.dispatchChildren.clear();
  }
}

/** Compiles a policy's or profile's rules to a chain, through the cache when there is one. */
function rulesChain(
  ctx: Ctx,
  cache: RenderCache | undefined,
  family: Family,
  chainName: string,
  rules: readonly Rule[],
  label: string,
): ChainSpec {
  if (!cache) return finishChain(ctx.names, chainName, rulesBodies(ctx, rules, family, label), undefined);
  // Keyed on the rules array itself: the store hands over the same array while it is unchanged.
  let perRules = cache.rules.get(rules);
  if (!perRules) {
    perRules = [];
    cache.rules.set(rules, perRules);
  }
  const hit = ruleSlot(perRules, family, chainName, label);
  if (hit) {
    for (const r of hit.refs) {
      if (ctx.replayed.has(r)) continue;
      ctx.replayed.add(r);
      replayRef(ctx, r);
    }
    return hit.chain;
  }
  const made: SetRef[] = [];
  ctx.refs = made;
  const bodies = rulesBodies(ctx, rules, family, label);
  ctx.refs = undefined;
  const chain = finishChain(ctx.names, chainName, bodies, cache.hashes[family]);
  const refs: SetRef[] = [];
  for (const r of made) refs.push(cache.internRef(r));
  perRules.push({ family, label, chain, refs });
  return chain;
}

/**
 * A policy's or profile's rules in order. An allow (or pass) sets its mark bit; one RETURN ends
 * each run of consecutive allows (or passes): re-marking within a run changes nothing, so a run
 * needs one RETURN, not one per rule (Felix emits one per rule).
 */
function rulesBodies(ctx: Ctx, rules: readonly Rule[], family: Family, label: string): string[] {
  const out: string[] = [];
  let run: 'allow' | 'pass' | undefined;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    const bodies = compileRule(ctx, r, family, label, i);
    if (bodies.length === 0) continue;
    if (run && run !== r.action) {
      out.push(run === 'allow' ? ctx.texts.acceptReturn : ctx.texts.passReturn);
      run = undefined;
    }
    for (const b of bodies) out.push(b);
    if (r.action === 'allow' || r.action === 'pass') run = r.action;
  }
  if (run) out.push(run === 'allow' ? ctx.texts.acceptReturn : ctx.texts.passReturn);
  return out;
}

/**
 * Rule texts that depend on the options alone, built once per render and shared by every chain
 * that has them (most of the rules of an endpoint chain are the same in all of them).
 */
interface RuleTexts {
  invalid: string;
  established: string;
  dhcp4: string;
  dhcp6: string;
  ndp: string[];
  /** `-m mark --mark 0x0/PASS -j ` + a policy chain: a policy is only consulted if none passed. */
  policyJumpHead: string;
  acceptReturn: string;
  passReturn: string;
  noPolicyDrop: string;
  /** noPolicyDrop without its comment: drops unless a policy passed. */
  unpassedDrop: string;
  /** Clears the pass bit between tiers, so that the next tier's policies are consulted. */
  clearPass: string;
  /** Per tier name: its end-of-tier drop (when an endpoint has more tiers than the default one). */
  tierDrops: Map<string, string>;
  clearScratch: string;
  setScratch: string;
  scratchDrop: string;
  /** Per policy or profile chain name: the endpoint chain's jump to it (shared by all endpoints). */
  jumps: Map<string, string>;
}

function ruleTexts(opts: RenderOptions): RuleTexts {
  const A = hex(opts.markAccept);
  const P = hex(opts.markPass);
  const S = hex(opts.markScratch);
  return {
    invalid: '-m conntrack --ctstate INVALID -j DROP',
    established: '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    // multiport, not `-m udp --sport 68 --dport 67`: the udp match resolves each port through
    // getaddrinfo (a netlink address dump and three sockets per port, strace'd), which was
    // 20,000 lookups in a 10k-endpoint restore; multiport reads the numbers as they are.
    dhcp4: commented('DHCP', '-p udp -m multiport --sports 68 -m multiport --dports 67 -j ACCEPT'),
    dhcp6: commented('DHCPv6', '-p udp -m multiport --sports 546 -m multiport --dports 547 -j ACCEPT'),
    ndp: [133, 135, 136].map((t) => commented('NDP', `-p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j ACCEPT`)),
    policyJumpHead: `-m mark --mark 0x0/${P} -j `,
    acceptReturn: `-m mark --mark ${A}/${A} -j RETURN`,
    passReturn: `-m mark --mark ${P}/${P} -j RETURN`,
    noPolicyDrop: commented('Drop if no policy allowed', `-m mark --mark 0x0/${P} -j DROP`),
    unpassedDrop: `-m mark --mark 0x0/${P} -j DROP`,
    clearPass: `-j MARK --set-xmark 0x0/${P}`,
    tierDrops: new Map(),
    clearScratch: `-j MARK --set-xmark 0x0/${S}`,
    setScratch: ` -j MARK --set-xmark ${S}/${S}`,
    scratchDrop: commented('Anti-spoof: source address', `-m mark --mark 0x0/${S} -j DROP`),
    jumps: new Map(),
  };
}

/**
 * The end of an endpoint chain: per tier, its policies and the end-of-tier drop; then its
 * profiles; then the default drop. Calico's tier semantics (calico-dataplane.md §4.3 step 7): a
 * policy is consulted only while no policy of its tier passed; an allow RETURNs at once; a tier
 * in which no policy allowed, denied or passed drops; a pass goes on to the next tier (the pass
 * bit is cleared for it) or, after the last tier, to the profiles, whose jumps ignore the bit.
 */
function endpointTail(
  t: RuleTexts,
  out: string[],
  tiers: readonly TierChains[],
  profiles: readonly string[],
  defaultDrop: string,
): void {
  // The accept and pass bits are clear on entry: tsb-FORWARD and tsb-wl-to-host clear them
  // before each dispatch, once, rather than every endpoint chain doing it.
  // With the default tier alone the rules are those of a single-tier host, comment included.
  const single = tiers.length === 1 && tiers[0]!.tier === DEFAULT_TIER && !tiers[0]!.passes;
  for (let k = 0; k < tiers.length; k++) {
    const tier = tiers[k]!;
    for (const p of tier.chains) {
      let jump = t.jumps.get(p);
      if (jump === undefined) {
        jump = t.policyJumpHead + p;
        t.jumps.set(p, jump);
      }
      out.push(jump, t.acceptReturn);
    }
    // A tier whose defaultAction is pass has no end: what it left undecided goes on, as if passed.
    if (single) out.push(t.noPolicyDrop);
    else if (!tier.passes) {
      let drop = t.tierDrops.get(tier.tier);
      if (drop === undefined) {
        drop = commented(`End of tier ${tier.tier}: drop`, t.unpassedDrop);
        t.tierDrops.set(tier.tier, drop);
      }
      out.push(drop);
    }
    if (k < tiers.length - 1) out.push(t.clearPass);
  }
  for (const p of profiles) {
    let jump = t.jumps.get(p);
    if (jump === undefined) {
      jump = `-j ${p}`;
      t.jumps.set(p, jump);
    }
    out.push(jump, t.acceptReturn);
  }
  out.push(defaultDrop);
}

function endpointChains(
  ctx: Ctx,
  ep: Endpoint,
  family: Family,
  ingressPolicies: readonly TierChains[],
  egressPolicies: readonly TierChains[],
  memo: HashMemo | undefined,
): ChainSpec[] {
  const { names, opts } = ctx;
  const t = ctx.texts;
  const defaultDrop = commented(fitComment(`Default drop: endpoint ${ep.name}`), '-j DROP');
  const ingressProfiles: string[] = [];
  const egressProfiles: string[] = [];
  for (const p of ep.profiles) {
    ingressProfiles.push(names.profile('ingress', p));
    egressProfiles.push(names.profile('egress', p));
  }

  // From the workload: egress policy.
  const from: string[] = [t.invalid, t.established];
  if (family === 4 && opts.allowDhcp) from.push(t.dhcp4);
  if (family === 6) {
    if (opts.allowDhcp) from.push(t.dhcp6);
    // Router/neighbour solicitation and advertisement come from link-local or unspecified sources.
    for (const x of t.ndp) from.push(x);
  }
  if (ep.mac) from.push(commented('Anti-spoof: MAC', `-m mac ! --mac-source ${ep.mac} -j DROP`));
  const own = family === 4 ? ep.ipv4 : ep.ipv6;
  if (own.length === 0) from.push(commented(`Anti-spoof: no IPv${family} address`, '-j DROP'));
  else if (own.length === 1) from.push(commented('Anti-spoof: source address', `! -s ${own[0]} -j DROP`));
  else {
    from.push(t.clearScratch);
    for (const a of own) from.push(`-s ${a}${t.setScratch}`);
    from.push(t.scratchDrop);
  }
  endpointTail(t, from, egressPolicies, egressProfiles, defaultDrop);
  const to: string[] = [t.invalid, t.established];
  endpointTail(t, to, ingressPolicies, ingressProfiles, defaultDrop);
  return [
    finishChain(names, names.fromWl(ep.interface), from, memo),
    finishChain(names, names.toWl(ep.interface), to, memo),
  ];
}

/**
 * Endpoints whose interface starts with none of the workload interface prefixes. The hooks only
 * send traffic on `PREFIX+` interfaces to the dispatch tree, so such an endpoint's chains are never
 * reached and its traffic is judged by the host's own rules alone: unprotected, not dropped.
 */
export function endpointsOutsidePrefixes(
  endpoints: readonly Endpoint[],
  prefixes: readonly string[],
): Endpoint[] {
  return endpoints.filter((e) => !prefixes.some((p) => e.interface.startsWith(p)));
}

/** Which policies apply to one endpoint, in order, and its summary (cached on the endpoint object). */
function applicability(
  ctx: Ctx,
  ep: Endpoint,
  policies: readonly Policy[],
  policySelectors: readonly SelectorAst[],
): EndpointPolicies {
  const { names, cache } = ctx;
  const known = cache?.applicable.get(ep);
  if (known && known.tiers === ctx.tiers && sameItems(known.policies, policies)) return known.value;
  const used: string[] = [];
  const pin: TierChains[] = [];
  const pout: TierChains[] = [];
  const pinNames: string[] = [];
  const poutNames: string[] = [];
  // The policies come sorted by tier, so a tier's are contiguous; a tier with none that applies
  // in a direction is left out of it (Calico skips such tiers rather than dropping).
  const add = (groups: TierChains[], tier: string, chain: string): void => {
    const last = groups[groups.length - 1];
    if (last && last.tier === tier) last.chains.push(chain);
    else groups.push({ tier, chains: [chain], passes: ctx.passingTiers.has(tier) });
  };
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    if (!matchSelector(policySelectors[i]!, ep.labels)) continue;
    used.push(p.name);
    const tier = p.tier ?? DEFAULT_TIER;
    if (p.types.includes('ingress')) {
      add(pin, tier, names.policy('ingress', p.name));
      pinNames.push(p.name);
    }
    if (p.types.includes('egress')) {
      add(pout, tier, names.policy('egress', p.name));
      poutNames.push(p.name);
    }
  }
  const groupsKey = (groups: readonly TierChains[]): string =>
    groups.map((g) => `${g.tier}${g.passes ? '>' : ':'}${g.chains.join(',')}`).join(';');
  const key = `${groupsKey(pin)}|${groupsKey(pout)}`;
  const fromChain = names.fromWl(ep.interface);
  const toChain = names.toWl(ep.interface);
  const ingressChains = [toChain];
  const egressChains = [fromChain];
  for (const g of pin) for (const c of g.chains) ingressChains.push(c);
  for (const g of pout) for (const c of g.chains) egressChains.push(c);
  for (const p of ep.profiles) {
    ingressChains.push(names.profile('ingress', p));
    egressChains.push(names.profile('egress', p));
  }
  const summary: EndpointSummary = {
    name: ep.name,
    interface: ep.interface,
    fromChain,
    toChain,
    policies: { ingress: pinNames, egress: poutNames },
    profiles: ep.profiles,
    ingressChains,
    egressChains,
  };
  const value = { ep, pin, pout, key, summary, used };
  cache?.applicable.set(ep, { policies, tiers: ctx.tiers, value });
  return value;
}

/** An endpoint's two chains in one family, through the cache (keyed on the endpoint and its policies). */
function endpointChainPair(
  ctx: Ctx,
  info: EndpointPolicies,
  family: Family,
  families: readonly Family[],
): ChainSpec[] {
  const { cache } = ctx;
  const { ep, pin, pout, key } = info;
  if (!cache) return endpointChains(ctx, ep, family, pin, pout, undefined);
  let hit = cache.endpoints.get(ep);
  if (!hit || hit.key !== key) {
    hit = { key, chains: { 4: [], 6: [] } };
    for (const f of families) hit.chains[f] = endpointChains(ctx, ep, f, pin, pout, undefined);
    cache.endpoints.set(ep, hit);
  }
  return hit.chains[family];
}

/** Both chains of a profile in one family, through the cache; replays its set references. */
function profileChainPair(ctx: Ctx, family: Family, p: Profile): ChainSpec[] {
  const { cache, names } = ctx;
  // Fast path: the same profile object with the same rule arrays reuses both chains whole.
  const known = cache?.profileChains.get(p);
  const hit = known && known.ingress === p.ingress && known.egress === p.egress ? known[family] : undefined;
  if (hit) {
    for (const r of hit.refs) {
      if (ctx.replayed.has(r)) continue;
      ctx.replayed.add(r);
      replayRef(ctx, r);
    }
    return hit.chains;
  }
  const pair: ChainSpec[] = [];
  for (const dir of ['ingress', 'egress'] as const)
    pair.push(rulesChain(ctx, cache, family, names.profile(dir, p.name), p[dir], `${p.name} ${dir[0]}`));
  if (cache) {
    const entry =
      known && known.ingress === p.ingress && known.egress === p.egress
        ? known
        : { ingress: p.ingress, egress: p.egress, 4: undefined, 6: undefined };
    const refs = new Set<SetRef>();
    for (const dir of ['ingress', 'egress'] as const)
      for (const r of chainRefs(cache, family, names.profile(dir, p.name), p[dir], `${p.name} ${dir[0]}`))
        refs.add(r);
    entry[family] = { chains: [pair[0]!, pair[1]!], refs: [...refs] };
    cache.profileChains.set(p, entry);
  }
  return pair;
}

/** The set references a policy's or profile's chain made when it was compiled through the cache. */
function chainRefs(
  cache: RenderCache,
  family: Family,
  chainName: string,
  rules: readonly Rule[],
  label: string,
): readonly SetRef[] {
  const perRules = cache.rules.get(rules);
  return (perRules && ruleSlot(perRules, family, chainName, label)?.refs) ?? [];
}

function ruleSlot(
  list: readonly RulesSlot[],
  family: Family,
  chainName: string,
  label: string,
): RulesSlot | undefined {
  for (const e of list) if (e.family === family && e.chain.name === chainName && e.label === label) return e;
  return undefined;
}

/**
 * Renders the whole wanted state. Pure: the same model and options give the same chains, rules
 * and sets. The optional cache skips recomputing whatever's inputs are unchanged (by object
 * identity: callers must not mutate a model they rendered). When only endpoints changed since the
 * last render through the cache, that render's state is updated in place and returned with a
 * `delta` (renderEndpointChanges): a state from a cache is valid until the next render through it.
 */
export function renderPolicy(
  model: PolicyModel,
  options: Partial<RenderOptions> = {},
  cache?: RenderCache,
): DesiredState {
  const opts: RenderOptions = { ...defaultRenderOptions, ...options };
  if (cache && cache.optionsKey !== JSON.stringify(opts)) {
    cache.clear();
    cache.optionsKey = JSON.stringify(opts);
  }
  if (cache && !cache.names) cache.names = new Names(opts.prefix);
  const names = cache?.names ?? new Names(opts.prefix);
  const live = cache?.live;
  const tiers = tiersKey(model.tiers);
  if (
    cache &&
    live &&
    live.tiers === tiers &&
    sameItems(live.policies, model.policies) &&
    (live.profiles === model.profiles || sameItems(live.profiles, model.profiles)) &&
    (live.addressSets === model.addressSets || sameItems(live.addressSets, model.addressSets))
  ) {
    try {
      return renderEndpointChanges(model, opts, cache, live);
    } catch {
      // The state may be half-updated: forget it all and render in full (below), which throws
      // again if the model itself is at fault.
      cache.clear();
      cache.optionsKey = JSON.stringify(opts);
      cache.names = names;
    }
  }
  const ctx: Ctx = {
    names,
    opts,
    model,
    ipsets: new Map(),
    selectorCache: new Map(),
    selectorMembers: new Map(),
    setNames: { 4: new Map(), 6: new Map() },
    replayed: new Set(),
    refs: undefined,
    texts: ruleTexts(opts),
    tiers,
    passingTiers: passingTiers(model.tiers),
    ...(cache ? { cache } : {}),
  };
  cache?.beginRender(model.endpoints);
  const families: Family[] = opts.ipv6 ? [4, 6] : [4];

  // Which policies apply to which endpoint, in order (tier, then order, then name: Calico's).
  const policies = sortPolicies(model.policies, model.tiers);
  const policySelectors = policies.map((p) => selector(ctx, p.selector).ast);
  const usedPolicies = new Set<string>();
  const usedProfiles = new Set<string>();
  const endpoints = [...model.endpoints].sort((a, b) =>
    a.interface < b.interface ? -1 : a.interface > b.interface ? 1 : 0,
  );
  const summaries: EndpointSummary[] = [];
  const perEndpoint: EndpointPolicies[] = [];
  for (const ep of endpoints) {
    const value = applicability(ctx, ep, policies, policySelectors);
    for (const u of value.used) usedPolicies.add(u);
    for (const p of ep.profiles) usedProfiles.add(p);
    perEndpoint.push(value);
    summaries.push(value.summary);
  }

  const tables = {} as Record<Family, TableSpec>;
  for (const family of [4, 6] as const) {
    const memo = cache?.hashes[family];
    const chains: ChainSpec[] = [];
    if (families.includes(family)) {
      const ifaces = endpoints.map((e) => e.interface);
      const pfx = opts.workloadInterfacePrefixes;
      const clearMarks = `-j MARK --set-xmark 0x0/${hex(opts.markAccept | opts.markPass | opts.markScratch)}`;
      chains.push(
        finishChain(
          names,
          names.forward,
          [
            clearMarks,
            ...pfx.map((p) => `-i ${p}+ -j ${names.fromWlDispatch}`),
            clearMarks,
            ...pfx.map((p) => `-o ${p}+ -j ${names.toWlDispatch}`),
            ...pfx.map((p) => commented('Policy allowed the packet', `-i ${p}+ -j ACCEPT`)),
            ...pfx.map((p) => commented('Policy allowed the packet', `-o ${p}+ -j ACCEPT`)),
          ],
          memo,
        ),
        finishChain(
          names,
          names.input,
          pfx.map((p) => `-i ${p}+ -g ${names.wlToHost}`),
          memo,
        ),
        finishChain(
          names,
          names.output,
          pfx.map((p) => commented('Host to local workload: always allowed', `-o ${p}+ -j RETURN`)),
          memo,
        ),
        finishChain(
          names,
          names.wlToHost,
          [
            clearMarks,
            `-j ${names.fromWlDispatch}`,
            commented(
              `Endpoint-to-host action: ${opts.endpointToHostAction}`,
              `-j ${opts.endpointToHostAction.toUpperCase()}`,
            ),
          ],
          memo,
        ),
      );
      for (const dir of ['from', 'to'] as const)
        dispatchChains(
          names,
          dir,
          ifaces,
          opts.dispatchFanout,
          memo,
          chains,
          cache?.dispatch[family],
          cache?.dispatchChildren,
        );

      for (const info of perEndpoint) {
        if (cache) for (const c of endpointChainPair(ctx, info, family, families)) chains.push(c);
        else chains.push(...endpointChains(ctx, info.ep, family, info.pin, info.pout, memo));
      }
      for (const p of policies) {
        if (!usedPolicies.has(p.name)) continue;
        for (const dir of ['ingress', 'egress'] as const) {
          if (!p.types.includes(dir)) continue;
          chains.push(
            rulesChain(ctx, cache, family, names.policy(dir, p.name), p[dir], `${p.name} ${dir[0]}`),
          );
        }
      }
      let profiles = cache?.sortedProfiles?.of === model.profiles ? cache.sortedProfiles.sorted : undefined;
      if (!profiles) {
        profiles = [...model.profiles].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        if (cache) cache.sortedProfiles = { of: model.profiles, sorted: profiles };
      }
      for (const p of profiles) {
        if (!usedProfiles.has(p.name)) continue;
        for (const c of profileChainPair(ctx, family, p)) chains.push(c);
      }
    }
    const map = new Map<string, ChainSpec>();
    for (const c of chains) map.set(c.name, c);
    const hooks: HookSpec[] = families.includes(family)
      ? (['INPUT', 'FORWARD', 'OUTPUT'] as const).map((builtin) => {
          const target =
            builtin === 'INPUT' ? names.input : builtin === 'FORWARD' ? names.forward : names.output;
          const text = `-j ${target}`;
          const [hash] = chainRuleHashes(`hook:${builtin}`, [text]);
          return {
            builtin,
            rule: `-m comment --comment ${q(`${names.hashTag}${hash}`)} ${text}`,
            hash: hash!,
          };
        })
      : [];
    tables[family] = { family, chains: map, hooks };
  }
  if (cache) {
    cache.endRender();
    for (const f of [4, 6] as const) {
      const live = tables[f].chains;
      cache.hashes[f].retain(live);
      for (const k of cache.dispatch[f].keys()) if (!live.has(k)) cache.dispatch[f].delete(k);
    }
  }
  if (!opts.ipv6) for (const [k, s] of ctx.ipsets) if (s.family === 6) ctx.ipsets.delete(k);
  const endpointAddresses = new Map(model.endpoints.map((e) => [e.name, [...e.ipv4, ...e.ipv6]]));
  const state: DesiredState = { tables, ipsets: ctx.ipsets, endpoints: summaries, endpointAddresses };
  if (cache) {
    // Book-keeping for later endpoint-only renders: use counts of policies, profiles and sets.
    const count = (m: Map<string, number>, k: string): void => {
      m.set(k, (m.get(k) ?? 0) + 1);
    };
    const policyUse = new Map<string, number>();
    const profileUse = new Map<string, number>();
    const setUse = new Map<string, number>();
    for (const info of perEndpoint) for (const u of info.used) count(policyUse, u);
    for (const ep of endpoints) for (const p of ep.profiles) count(profileUse, p);
    const profileByName = new Map(model.profiles.map((p) => [p.name, p]));
    for (const f of families) {
      for (const p of policies) {
        if (!usedPolicies.has(p.name)) continue;
        for (const dir of p.types)
          for (const r of chainRefs(cache, f, names.policy(dir, p.name), p[dir], `${p.name} ${dir[0]}`))
            count(setUse, refSetName(ctx, r));
      }
      for (const p of profileByName.values()) {
        if (!usedProfiles.has(p.name)) continue;
        for (const dir of ['ingress', 'egress'] as const)
          for (const r of chainRefs(cache, f, names.profile(dir, p.name), p[dir], `${p.name} ${dir[0]}`))
            count(setUse, refSetName(ctx, r));
      }
    }
    for (const k of cache.dispatchChildren.keys())
      if (!tables[4].chains.has(k) && !tables[6].chains.has(k)) cache.dispatchChildren.delete(k);
    state.render = { source: cache, seq: ++cache.seq };
    cache.live = {
      state,
      seq: cache.seq,
      families,
      endpoints: model.endpoints,
      policies: model.policies,
      tiers,
      sortedPolicies: policies,
      policySelectors,
      policyByName: new Map(policies.map((p) => [p.name, p])),
      profiles: model.profiles,
      profileByName,
      addressSets: model.addressSets,
      policyUse,
      profileUse,
      setUse,
      ifaces: endpoints.map((e) => e.interface),
    };
  }
  sealArena();
  return state;
}

/** The last full render and the counts an endpoint-only update needs to change it in place. */
interface LiveRender {
  state: DesiredState;
  seq: number;
  families: Family[];
  endpoints: readonly Endpoint[];
  policies: readonly Policy[];
  /** The tiers' orders and default actions (tiersKey): another value needs a full render. */
  tiers: string;
  sortedPolicies: Policy[];
  policySelectors: SelectorAst[];
  policyByName: Map<string, Policy>;
  profiles: readonly Profile[];
  profileByName: Map<string, Profile>;
  addressSets: readonly PolicyModel['addressSets'][number][];
  /** Endpoints each policy or profile applies to, and chains referring to each set. */
  policyUse: Map<string, number>;
  profileUse: Map<string, number>;
  setUse: Map<string, number>;
  /** Workload interfaces, sorted (the dispatch tree's input). */
  ifaces: string[];
}

/** The tiers' orders and default actions as one string: equal strings render alike. */
function tiersKey(tiers: readonly Tier[] | undefined): string {
  if (!tiers || tiers.length === 0) return '';
  const pass = passingTiers(tiers);
  return JSON.stringify(
    [...tierOrders(tiers)]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, order]) => [name, order, pass.has(name)]),
  );
}

/** Tiers whose defaultAction is pass. */
function passingTiers(tiers: readonly Tier[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const t of tiers ?? []) if (t.defaultAction === 'pass') out.add(t.name);
  return out;
}

/** The set a reference resolves to. */
function refSetName(ctx: Ctx, r: SetRef): string {
  if (r.kind === 'selector') return ctx.names.selectorSet(r.family, selector(ctx, r.text).canonical);
  if (r.kind === 'addressSet') return ctx.names.addressSet(r.family, r.name);
  return ctx.names.netsSet(r.family, [...new Set(r.nets.map(canonicalMember))].sort());
}

/** First index in sorted `arr` (within [lo, hi)) whose item is not below `x`. */
function lowerBound(arr: readonly string[], x: string, lo = 0, hi = arr.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Endpoint objects that came and went between two snapshots (equal heads and tails skipped). */
function endpointChanges(
  before: readonly Endpoint[],
  after: readonly Endpoint[],
): { added: Endpoint[]; removed: Endpoint[] } {
  if (before === after) return { added: [], removed: [] };
  const min = Math.min(before.length, after.length);
  let head = 0;
  while (head < min && before[head] === after[head]) head++;
  let tail = 0;
  while (tail < min - head && before[before.length - 1 - tail] === after[after.length - 1 - tail]) tail++;
  const was = before.slice(head, before.length - tail);
  const now = after.slice(head, after.length - tail);
  const wasSet = new Set(was);
  const nowSet = new Set(now);
  return { added: now.filter((e) => !wasSet.has(e)), removed: was.filter((e) => !nowSet.has(e)) };
}

/**
 * The render when only endpoints changed (same policies, profiles and address sets): the last
 * render's state is updated in place, touching only the changed endpoints' chains, the policy and
 * profile chains whose use count went to or from zero, the selector sets they are members of, and
 * the dispatch chains on the path to their interfaces. Cost: O(changed + dispatch path), plus a
 * pointer comparison of the endpoint list. The output equals a full render's, except for the
 * iteration order of the chain and set maps (which no consumer depends on).
 */
function renderEndpointChanges(
  model: PolicyModel,
  opts: RenderOptions,
  cache: RenderCache,
  live: LiveRender,
): DesiredState {
  const names = cache.names!;
  const { state, families } = live;
  const { added, removed } = endpointChanges(live.endpoints, model.endpoints);
  live.endpoints = model.endpoints;
  live.profiles = model.profiles;
  live.addressSets = model.addressSets;
  const delta: RenderDelta = {
    source: cache,
    since: live.seq,
    chains: { 4: new Set(), 6: new Set() },
    sets: new Set(),
    members: new Map(),
    changedEndpoints: [],
  };
  live.seq = ++cache.seq;
  state.render = { source: cache, seq: live.seq };
  state.delta = delta;
  if (added.length === 0 && removed.length === 0) return state;
  const ctx: Ctx = {
    names,
    opts,
    model,
    ipsets: state.ipsets,
    selectorCache: new Map(),
    selectorMembers: new Map(),
    setNames: { 4: new Map(), 6: new Map() },
    replayed: new Set(),
    refs: undefined,
    texts: ruleTexts(opts),
    tiers: live.tiers,
    passingTiers: passingTiers(model.tiers),
    cache,
  };
  const put = (f: Family, c: ChainSpec): void => {
    state.tables[f].chains.set(c.name, c);
    delta.chains[f].add(c.name);
  };
  const drop = (f: Family, name: string): void => {
    if (state.tables[f].chains.delete(name)) delta.chains[f].add(name);
  };
  const acquire = (refs: readonly SetRef[]): void => {
    for (const r of refs) {
      const name = refSetName(ctx, r);
      const n = live.setUse.get(name) ?? 0;
      live.setUse.set(name, n + 1);
      if (n === 0) delta.sets.add(name);
    }
  };
  const release = (refs: readonly SetRef[]): void => {
    for (const r of refs) {
      const name = refSetName(ctx, r);
      const n = (live.setUse.get(name) ?? 1) - 1;
      if (n > 0) {
        live.setUse.set(name, n);
        continue;
      }
      live.setUse.delete(name);
      state.ipsets.delete(name);
      delta.sets.add(name);
      delta.members.delete(name);
    }
  };
  const use = (m: Map<string, number>, k: string, by: 1 | -1): number => {
    const n = (m.get(k) ?? 0) + by;
    if (n > 0) m.set(k, n);
    else m.delete(k);
    return n;
  };
  // Policy and profile chains exist while some endpoint uses them.
  const policyChains = (p: Policy, add: boolean): void => {
    for (const dir of p.types) {
      const chain = names.policy(dir, p.name);
      const label = `${p.name} ${dir[0]}`;
      for (const f of families) {
        if (add) put(f, rulesChain(ctx, cache, f, chain, p[dir], label));
        else drop(f, chain);
        (add ? acquire : release)(chainRefs(cache, f, chain, p[dir], label));
      }
    }
  };
  const profileChains = (p: Profile, add: boolean): void => {
    for (const f of families) {
      if (add) for (const c of profileChainPair(ctx, f, p)) put(f, c);
      for (const dir of ['ingress', 'egress'] as const) {
        const chain = names.profile(dir, p.name);
        if (!add) drop(f, chain);
        (add ? acquire : release)(chainRefs(cache, f, chain, p[dir], `${p.name} ${dir[0]}`));
      }
    }
  };

  // Selector memberships first, before anything below creates a selector from the new list.
  cache.moveEndpoints(removed, added, (canonical, f, members, plus, minus) => {
    const name = names.selectorSet(f, canonical);
    const spec = state.ipsets.get(name);
    if (!spec) return;
    state.ipsets.set(name, { ...spec, members });
    if (plus.length === 0 && minus.length === 0) return;
    let m = delta.members.get(name);
    if (!m) {
      m = { add: new Set(), del: new Set() };
      delta.members.set(name, m);
    }
    for (const a of minus) if (!m.add.delete(a)) m.del.add(a);
    for (const a of plus) if (!m.del.delete(a)) m.add.add(a);
  });

  const dirty: string[] = [];
  const summaryIndex = (iface: string): number => {
    let lo = 0;
    let hi = state.endpoints.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (state.endpoints[mid]!.interface < iface) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const formerNames = new Set<string>();
  for (const ep of removed) {
    const info = applicability(ctx, ep, live.sortedPolicies, live.policySelectors);
    for (const f of families) {
      drop(f, names.fromWl(ep.interface));
      drop(f, names.toWl(ep.interface));
    }
    for (const u of info.used)
      if (use(live.policyUse, u, -1) === 0) policyChains(live.policyByName.get(u)!, false);
    for (const pn of ep.profiles) {
      const p = live.profileByName.get(pn);
      if (use(live.profileUse, pn, -1) === 0 && p) profileChains(p, false);
    }
    const i = summaryIndex(ep.interface);
    if (state.endpoints[i]?.name === ep.name) state.endpoints.splice(i, 1);
    state.endpointAddresses.delete(ep.name);
    const j = lowerBound(live.ifaces, ep.interface);
    if (live.ifaces[j] === ep.interface) live.ifaces.splice(j, 1);
    dirty.push(ep.interface);
    formerNames.add(ep.name);
  }
  for (const ep of added) {
    const info = applicability(ctx, ep, live.sortedPolicies, live.policySelectors);
    for (const f of families) for (const c of endpointChainPair(ctx, info, f, families)) put(f, c);
    for (const u of info.used)
      if (use(live.policyUse, u, 1) === 1) policyChains(live.policyByName.get(u)!, true);
    for (const pn of ep.profiles) {
      const p = live.profileByName.get(pn);
      if (use(live.profileUse, pn, 1) === 1 && p) profileChains(p, true);
    }
    state.endpoints.splice(summaryIndex(ep.interface), 0, info.summary);
    state.endpointAddresses.set(ep.name, [...ep.ipv4, ...ep.ipv6]);
    live.ifaces.splice(lowerBound(live.ifaces, ep.interface), 0, ep.interface);
    dirty.push(ep.interface);
    if (formerNames.has(ep.name)) delta.changedEndpoints.push(info.summary);
  }
  if (families.length > 0)
    for (const dir of ['from', 'to'] as const)
      updateDispatch(
        names,
        dir,
        live.ifaces,
        opts.dispatchFanout,
        dirty,
        cache.dispatchChildren,
        (name) => state.tables[families[0]!].chains.has(name),
        (c) => {
          for (const f of families) put(f, c);
        },
        (name) => {
          for (const f of families) drop(f, name);
        },
      );
  sealArena();
  return state;
}

/**
 * Rebuilds the dispatch chains on the paths to the `dirty` interfaces (added or removed), from
 * the root down; a subtree none of them falls in is kept as it is. A chain for prefix K holds
 * exactly the interfaces starting with K (found by binary search in the sorted list), so its
 * content depends only on them: the same chains, the same rules as dispatchChains builds.
 */
function updateDispatch(
  names: Names,
  dir: 'from' | 'to',
  ifaces: readonly string[],
  fanout: number,
  dirty: readonly string[],
  children: Map<string, string[]>,
  has: (name: string) => boolean,
  put: (c: ChainSpec) => void,
  remove: (name: string) => void,
): void {
  const flag = dir === 'from' ? '-i' : '-o';
  const goto = (iface: string): string =>
    `${flag} ${iface} -g ${dir === 'from' ? names.fromWl(iface) : names.toWl(iface)}`;
  const kept = new Set<string>();
  const orphans: string[] = [];
  const isDirty = (key: string): boolean => dirty.some((i) => i.startsWith(key));
  const rebuild = (chain: string, key: string, fixed: number): void => {
    kept.add(chain);
    const lo = lowerBound(ifaces, key);
    const hi = key === '' ? ifaces.length : lowerBound(ifaces, `${key}\uffff`, lo);
    const bodies: string[] = [];
    const kids: string[] = [];
    if (hi - lo <= fanout) for (let i = lo; i < hi; i++) bodies.push(goto(ifaces[i]!));
    else {
      const first = ifaces[lo]!;
      const last = ifaces[hi - 1]!;
      let cp = fixed;
      while (cp < first.length && first[cp] === last[cp]) cp++;
      const stem = first.slice(0, cp);
      for (let i = lo; i < hi; ) {
        const iface = ifaces[i]!;
        if (iface.length <= cp) {
          bodies.push(goto(iface));
          i++;
          continue;
        }
        const bucket = stem + iface[cp];
        const end = lowerBound(ifaces, `${bucket}\uffff`, i, hi);
        if (end - i === 1) bodies.push(goto(iface));
        else {
          const child = names.dispatchChild(dir, bucket);
          bodies.push(`${flag} ${bucket}+ -g ${child}`);
          kids.push(child);
          if (isDirty(bucket) || !has(child)) rebuild(child, bucket, bucket.length);
          else kept.add(child);
        }
        i = end;
      }
    }
    bodies.push(commented('Unknown interface', '-j DROP'));
    for (const old of children.get(chain) ?? []) if (!kids.includes(old)) orphans.push(old);
    children.set(chain, kids);
    put(finishChain(names, chain, bodies, undefined));
  };
  rebuild(dir === 'from' ? names.fromWlDispatch : names.toWlDispatch, '', 0);
  const prune = (name: string): void => {
    if (kept.has(name)) return;
    for (const c of children.get(name) ?? []) prune(c);
    children.delete(name);
    remove(name);
  };
  for (const o of orphans) prune(o);
}
