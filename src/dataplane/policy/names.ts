// Names of our chains and ipsets, and rule hashes. Every name starts with one prefix so that
// `--cleanup` and resync can tell ours from everyone else's, and fits the kernel limits:
// iptables chain names 28 characters (XT_EXTENSION_MAXNAMELEN 29 with the NUL), ipset names 31
// (IPSET_MAXNAMELEN 32 with the NUL). Variable parts are hashes, as Felix does
// (libcalico-go GetLengthLimitedID), so names are stable across restarts and hosts.
import { hash } from 'node:crypto';

export const MAX_CHAIN_NAME = 28;
export const MAX_IPSET_NAME = 31;

/** base64url SHA-224 of `text`, cut to `len` characters. */
export function shortHash(text: string, len = 16): string {
  return hash('sha224', text, 'base64url').slice(0, len);
}

export class Names {
  /** Hashed names are asked for once per endpoint per render: remember them. */
  private readonly memo = new Map<string, Map<string, string>>();
  private hashed(kind: string, text: string, len: number): string {
    let byKind = this.memo.get(kind);
    if (!byKind) {
      byKind = new Map();
      this.memo.set(kind, byKind);
    }
    let v = byKind.get(text);
    if (v === undefined) {
      v = shortHash(`${kind}:${text}`, len);
      byKind.set(text, v);
    }
    return v;
  }
  constructor(readonly prefix: string) {
    if (!/^[a-z][a-z0-9]{0,4}$/.test(prefix))
      throw new Error(
        `prefix ${JSON.stringify(prefix)}: 1-5 lower-case letters/digits, starting with a letter`,
      );
    this.commentHead = `-m comment --comment "${prefix}:`;
  }
  // Hook chains, jumped to from the built-in chains.
  get input(): string {
    return `${this.prefix}-INPUT`;
  }
  get forward(): string {
    return `${this.prefix}-FORWARD`;
  }
  get output(): string {
    return `${this.prefix}-OUTPUT`;
  }
  get fromWlDispatch(): string {
    return `${this.prefix}-from-wl-dispatch`;
  }
  get toWlDispatch(): string {
    return `${this.prefix}-to-wl-dispatch`;
  }
  get wlToHost(): string {
    return `${this.prefix}-wl-to-host`;
  }
  /** Dispatch sub-chain for interfaces starting with `ifPrefix` (at most 15 characters). */
  dispatchChild(dir: 'from' | 'to', ifPrefix: string): string {
    return `${this.prefix}-${dir === 'from' ? 'fd' : 'td'}-${ifPrefix}`;
  }
  /** Per-endpoint chains, named after the interface as Felix does (cali-fw-X / cali-tw-X). */
  fromWl(iface: string): string {
    return `${this.prefix}-fw-${iface}`;
  }
  toWl(iface: string): string {
    return `${this.prefix}-tw-${iface}`;
  }
  /** Policy and profile chain names, per direction: asked for per endpoint, so kept whole. */
  private readonly chainNames = {
    policy: { ingress: new Map<string, string>(), egress: new Map<string, string>() },
    profile: { ingress: new Map<string, string>(), egress: new Map<string, string>() },
  };
  policy(dir: 'ingress' | 'egress', name: string): string {
    return memoized(this.chainNames.policy[dir], name, () => {
      return `${this.prefix}-p${dir === 'ingress' ? 'i' : 'o'}-${this.hashed('policy', name, 16)}`;
    });
  }
  profile(dir: 'ingress' | 'egress', name: string): string {
    return memoized(this.chainNames.profile[dir], name, () => {
      return `${this.prefix}-pr${dir === 'ingress' ? 'i' : 'o'}-${this.hashed('profile', name, 16)}`;
    });
  }
  /** Set names by family, kept whole: asked for per rule that refers to the set. */
  private readonly setNames = {
    selector: { 4: new Map<string, string>(), 6: new Map<string, string>() },
    address: { 4: new Map<string, string>(), 6: new Map<string, string>() },
  };
  /** ipset of the addresses of endpoints matching a selector (canonical text). */
  selectorSet(family: 4 | 6, canonicalSelector: string): string {
    return memoized(this.setNames.selector[family], canonicalSelector, () => {
      return `${this.prefix}${family}s-${this.hashed('sel', canonicalSelector, 20)}`;
    });
  }
  /** ipset of a named address set. */
  addressSet(family: 4 | 6, name: string): string {
    return memoized(this.setNames.address[family], name, () => {
      return `${this.prefix}${family}a-${this.hashed('set', name, 20)}`;
    });
  }
  /** ipset holding a rule's literal list of networks (more than one net needs a set). */
  netsSet(family: 4 | 6, sortedNets: readonly string[]): string {
    return `${this.prefix}${family}n-${this.hashed('nets', sortedNets.join(','), 20)}`;
  }
  /** Temporary twin of a set, filled and swapped in when a set must be replaced whole. */
  tempSet(name: string): string {
    return `${this.prefix}t-${this.hashed('tmp', name, 20)}`;
  }
  isOurChain(name: string): boolean {
    return name.startsWith(`${this.prefix}-`);
  }
  isOurSet(name: string): boolean {
    return name.startsWith(this.prefix) && /^([46][san]|t)-/.test(name.slice(this.prefix.length));
  }
  /** The comment tag in front of every rule hash: `tsb:` + 16 hash characters. */
  get hashTag(): string {
    return `${this.prefix}:`;
  }
  /** What precedes the hash in a rule: `-m comment --comment "tsb:` (one string, shared). */
  readonly commentHead: string;
}

/**
 * Chained rule hashes (Felix's RuleHashes, calico-dataplane.md §4.4): h0 = H(chain), hi =
 * H(h(i-1) ‖ rulei). A rule's hash covers its position, so comparing the installed hash list
 * with the wanted one finds any change, insertion or deletion in the chain.
 */
export function chainRuleHashes(chain: string, ruleBodies: readonly string[]): string[] {
  const out: string[] = [];
  let prev = chainSeedHash(chain);
  for (let i = 0; i < ruleBodies.length; i++) {
    prev = nextRuleHash(prev, ruleBodies[i]!);
    out.push(prev);
  }
  return out;
}

/** h0 of chainRuleHashes. */
export const chainSeedHash = (chain: string): string => shortHash(chain, 27);

/** hi of chainRuleHashes from h(i-1) and rule i. */
export const nextRuleHash = (prev: string, body: string): string => hashRuleInput(ruleHashInput(prev, body));

/** What hi hashes: h(i-1), a NUL, rule i. */
export const ruleHashInput = (prev: string, body: string): string => `${prev}\0${body}`;

/** hi from ruleHashInput(h(i-1), rule i). */
export const hashRuleInput = (input: string): string => hash('sha224', input, 'base64url').slice(0, 16);

/** memo's value for key, made (and kept) on first use. */
function memoized(memo: Map<string, string>, key: string, make: () => string): string {
  let v = memo.get(key);
  if (v === undefined) {
    v = make();
    memo.set(key, v);
  }
  return v;
}
