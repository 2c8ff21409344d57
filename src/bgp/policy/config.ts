// Policy definitions as the engine takes them. The syntax is the configuration file's
// (src/config/schema.ts, documented in docs/configuration.md#policies); these types accept both
// the validated output of that schema (communities already parsed to numbers) and plain strings
// (tests, the CLI), so the daemon hands its Config.prefixLists / Config.policies over unchanged.
//
// A policy is a list of terms tried in order; the first term whose `match` holds decides with its
// `action` (accept, the default, or reject) after applying its `set`; `action: continue` applies
// `set` and goes on. When no term decides, the policy's `default` applies (reject by default).
// A neighbour's import/export list applies its policies in order, each to the result of the
// previous one: a reject anywhere rejects the route.

export interface PrefixListEntryConfig {
  /** 'A.B.C.D/L' or 'X::/L' */
  readonly prefix: string;
  /** match lengths >= ge (no ge/le: the exact length; le alone: the prefix's own length..le) */
  readonly ge?: number | undefined;
  /** match lengths <= le (ge alone: ge..32/128) */
  readonly le?: number | undefined;
}

/** A community as text ('65000:100', 'no-export', and in matches '65000:*') or as its uint32. */
export type CommunityValue = string | number;
/** A large community as text ('65000:1:2', in matches fields may be '*') or its three words. */
export type LargeCommunityValue = string | readonly [number, number, number];

export interface CommunityEditConfig<T> {
  readonly add?: readonly T[] | undefined;
  /** values to remove (text patterns with '*' allowed) */
  readonly remove?: readonly T[] | undefined;
  /** replace the whole list (empty: delete the attribute) */
  readonly set?: readonly T[] | undefined;
}

export interface MatchConfig {
  /** a prefix list name, or inline entries; matches when an entry covers the prefix */
  readonly prefixList?: string | readonly (PrefixListEntryConfig | string)[] | undefined;
  readonly family?: 'ipv4-unicast' | 'ipv6-unicast' | undefined;
  /** the route carries any of these */
  readonly community?: readonly CommunityValue[] | undefined;
  readonly largeCommunity?: readonly LargeCommunityValue[] | undefined;
  /** 'rt:ASN:N', 'ro:ASN:N' / 'soo:ASN:N', 'rt:A.B.C.D:N' or 0x + 16 hex digits */
  readonly extCommunity?: readonly string[] | undefined;
  /**
   * a regular expression over the AS path written as space-separated numbers ('64512 64513',
   * sets as '{1 2}'); '_' matches a boundary as in Cisco/FRR as-path lists
   */
  readonly asPath?: string | undefined;
  /** the path contains any of these ASNs */
  readonly asPathContains?: readonly number[] | undefined;
  /** the originating AS (our own for routes with an empty path) is one of these */
  readonly originAs?: readonly number[] | undefined;
  /** the next hop is one of these addresses or inside one of these prefixes */
  readonly nextHop?: readonly string[] | undefined;
  /**
   * the peer the route was learned from (address or prefix; a name is also accepted). In export
   * policies too it names the route's source (BIRD's `from`), so that peers sharing an export
   * policy share its result (update groups).
   */
  readonly neighbor?: readonly string[] | undefined;
}

export interface SetConfig {
  readonly localPref?: number | undefined;
  readonly med?: number | undefined;
  readonly communities?: CommunityEditConfig<CommunityValue> | undefined;
  readonly largeCommunities?: CommunityEditConfig<LargeCommunityValue> | undefined;
  /** prepend asn (default: ours) count times (default 1) */
  readonly asPathPrepend?:
    | { readonly asn?: number | undefined; readonly count?: number | undefined }
    | undefined;
  /** 'self', 'unchanged' or an address */
  readonly nextHop?: string | undefined;
}

export interface TermConfig {
  /** for logs and `show route --detail` */
  readonly name?: string | undefined;
  /** all given conditions must hold; no match block matches every route */
  readonly match?: MatchConfig | undefined;
  readonly set?: SetConfig | undefined;
  /** default 'accept' */
  readonly action?: 'accept' | 'reject' | 'continue' | undefined;
}

export interface PolicyConfig {
  readonly terms: readonly TermConfig[];
  /** when no term decides (default 'reject') */
  readonly default?: 'accept' | 'reject' | undefined;
}

export interface PolicyDefinitionsConfig {
  readonly prefixLists?: Readonly<Record<string, readonly (PrefixListEntryConfig | string)[]>> | undefined;
  readonly policies?: Readonly<Record<string, PolicyConfig>> | undefined;
}
