// Reading back the installed filter table (`iptables-save -t filter`) and the pure diff that turns
// wanted-vs-installed into one `iptables-restore --noflush` transaction (calico-dataplane.md §4.4).
// We only ever look at rule hash comments, never at the rule text iptables-save prints (which it
// reorders and respells): a chain whose hash list differs from the wanted one is rewritten whole.
import type { Names } from './names.ts';
import type { ChainSpec, HookSpec, TableSpec } from './render.ts';

export type Builtin = 'INPUT' | 'FORWARD' | 'OUTPUT';
const BUILTINS: readonly Builtin[] = ['INPUT', 'FORWARD', 'OUTPUT'];

export interface InstalledRule {
  /** Our hash from the rule's comment, or null for a rule without one. */
  hash: string | null;
  /** Rule text after `-A <chain> ` as iptables-save printed it. */
  text: string;
  packets?: bigint;
  bytes?: bigint;
}

export interface InstalledTable {
  /** Our chains (by prefix): the hash of each rule in order (null for a rule without one). */
  chains: Map<string, readonly (string | null)[]>;
  /** The rules themselves, when read back from the kernel (empty for the cache of our own writes). */
  rules: Map<string, InstalledRule[]>;
  /** For each built-in chain, the 1-based positions and hashes of rules that are ours. */
  hooks: Map<Builtin, { index: number; hash: string | null }[]>;
}

/** Parses `iptables-save -t filter` (with or without -c counters). */
export function parseIptablesSave(text: string, names: Names): InstalledTable {
  const rules = new Map<string, InstalledRule[]>();
  const hooks = new Map<Builtin, { index: number; hash: string | null }[]>(BUILTINS.map((b) => [b, []]));
  const builtinCount = new Map<string, number>();
  const hashRe = new RegExp(`--comment "?${names.hashTag}([A-Za-z0-9_-]{16})"?`);
  let inFilter = false;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) {
      inFilter = line === '*filter';
      continue;
    }
    if (!inFilter || line === '' || line.startsWith('#')) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0]!;
      if (names.isOurChain(name)) rules.set(name, []);
      continue;
    }
    let rest = line;
    let packets: bigint | undefined;
    let bytes: bigint | undefined;
    const ctr = /^\[(\d+):(\d+)\] /.exec(rest);
    if (ctr) {
      packets = BigInt(ctr[1]!);
      bytes = BigInt(ctr[2]!);
      rest = rest.slice(ctr[0].length);
    }
    if (!rest.startsWith('-A ')) continue;
    const sp = rest.indexOf(' ', 3);
    const chain = sp < 0 ? rest.slice(3) : rest.slice(3, sp);
    const body = sp < 0 ? '' : rest.slice(sp + 1);
    const m = hashRe.exec(body);
    const hash = m ? m[1]! : null;
    if (names.isOurChain(chain)) {
      const r: InstalledRule = { hash, text: body };
      if (packets !== undefined) r.packets = packets;
      if (bytes !== undefined) r.bytes = bytes;
      const list = rules.get(chain);
      if (list) list.push(r);
      else rules.set(chain, [r]);
    } else if ((BUILTINS as readonly string[]).includes(chain)) {
      const index = (builtinCount.get(chain) ?? 0) + 1;
      builtinCount.set(chain, index);
      const jumpsToUs = new RegExp(`-[jg] ${names.prefix}-`).test(body);
      if (hash !== null || jumpsToUs) hooks.get(chain as Builtin)!.push({ index, hash });
    }
  }
  const chains = new Map<string, readonly (string | null)[]>();
  for (const [name, list] of rules)
    chains.set(
      name,
      list.map((r) => r.hash),
    );
  return { chains, rules, hooks };
}

export interface TableDiff {
  /** Chains created or rewritten whole. */
  write: string[];
  /** Our chains that are no longer wanted. */
  remove: string[];
  /** Built-in chains whose hook rule is re-inserted. */
  rehook: Builtin[];
  /** The restore input, or '' when nothing differs. */
  restore: string;
}

function sameHashes(installed: readonly (string | null)[] | undefined, wanted: readonly string[]): boolean {
  if (installed === wanted) return true;
  if (!installed || installed.length !== wanted.length) return false;
  for (let i = 0; i < wanted.length; i++) if (installed[i] !== wanted[i]) return false;
  return true;
}

/**
 * Pure diff of one table (of only the chains in `only`, when given). New and changed chains are declared (which, under --noflush, flushes
 * them) and refilled; stale hook rules are deleted from the highest index down and the hook
 * re-inserted at the top; unwanted chains are flushed and deleted last, when nothing refers to
 * them any more. Rules of other programs are never named.
 */
export function diffTable(wanted: TableSpec, installed: InstalledTable, only?: Iterable<string>): TableDiff {
  const write: string[] = [];
  const remove: string[] = [];
  if (only) {
    // An incremental render names the chains it touched; the rest are as installed.
    for (const name of only) {
      const spec = wanted.chains.get(name);
      if (spec) {
        const have = installed.chains.get(name);
        if (!have || !sameHashes(have, spec.hashes)) write.push(name);
      } else if (installed.chains.has(name)) remove.push(name);
    }
  } else {
    // A chain not installed at all is written without looking at its hashes.
    for (const [name, spec] of wanted.chains) {
      const have = installed.chains.get(name);
      if (!have || !sameHashes(have, spec.hashes)) write.push(name);
    }
    for (const name of installed.chains.keys()) if (!wanted.chains.has(name)) remove.push(name);
  }
  const rehook: Builtin[] = [];
  const hookLines: string[] = [];
  const deletes: string[] = [];
  for (const b of BUILTINS) {
    const want: HookSpec | undefined = wanted.hooks.find((h) => h.builtin === b);
    const have = installed.hooks.get(b) ?? [];
    const ok = want ? have.length === 1 && have[0]!.hash === want.hash : have.length === 0;
    if (ok) continue;
    for (const h of [...have].sort((x, y) => y.index - x.index)) deletes.push(`-D ${b} ${h.index}`);
    if (want) {
      rehook.push(b);
      hookLines.push(`-I ${b} 1 ${want.rule}`);
    }
  }
  if (write.length === 0 && remove.length === 0 && deletes.length === 0 && hookLines.length === 0)
    return { write, remove, rehook, restore: '' };
  // Pieces of the text, each line ending in its own '\n', joined once: at 10k endpoints this is
  // ~40 MB, and a string per line would be 342k more objects to make, keep and walk.
  const out: string[] = ['*filter\n'];
  for (const c of write) out.push(':', c, ' - [0:0]\n');
  for (const c of remove) out.push(':', c, ' - [0:0]\n');
  for (const d of deletes) out.push(d, '\n');
  for (const c of write) appendRules(out, c, wanted.chains.get(c)!);
  for (const h of hookLines) out.push(h, '\n');
  for (const c of remove) out.push('-X ', c, '\n');
  out.push('COMMIT\n');
  return { write, remove, rehook, restore: out.join('') };
}

/** Appends a chain's `-A` lines (each ending in '\n') to `out`, as the render wrote them when it did. */
function appendRules(out: string[], chain: string, spec: ChainSpec): void {
  if (spec.restoreLines !== undefined) out.push(spec.restoreLines);
  else {
    const head = `-A ${chain} `;
    for (const r of spec.rules) out.push(head, r, '\n');
  }
}

/** Dependency rank of one of our chains: a chain only jumps to chains of a lower rank. */
function chainRank(name: string): number {
  if (/-(pi|po|pri|pro)-/.test(name)) return 0;
  if (/-(fw|tw)-/.test(name)) return 1;
  if (/-(fd|td)-/.test(name)) return 2;
  if (name.endsWith('-wl-dispatch')) return 3;
  if (name.endsWith('-wl-to-host')) return 4;
  return 5;
}

/**
 * The same change as `diff.restore`, cut into transactions of about `maxRules` rules each, for
 * iptables-nft, whose restore time grows faster than linearly with the size of one transaction
 * (measured: 44k rules 2.5 s, 444k rules 795 s). Chains are written bottom-up — policy and profile
 * chains, then endpoint chains, then the dispatch tree from the leaves, then the hook chains — so
 * every chain a transaction jumps to already exists and is complete; hooks and deletions come last.
 * Each transaction is atomic; between them the host runs a mix of old and new chains, each whole.
 */
export function splitRestore(wanted: TableSpec, diff: TableDiff, maxRules: number): string[] {
  if (!diff.restore) return [];
  const lines = diff.restore.split('\n');
  const tail = lines.filter((l) => l.startsWith('-D ') || l.startsWith('-I ') || l.startsWith('-X '));
  const order = [...diff.write].sort(
    (a, b) => chainRank(a) - chainRank(b) || b.length - a.length || (a < b ? -1 : 1),
  );
  const out: string[] = [];
  let decl: string[] = [];
  let body: string[] = [];
  const flush = (): void => {
    if (decl.length) out.push(['*filter', ...decl, ...body, 'COMMIT', ''].join('\n'));
    decl = [];
    body = [];
  };
  let rules = 0;
  for (const c of order) {
    decl.push(`:${c} - [0:0]`);
    const spec = wanted.chains.get(c)!;
    const lines: string[] = [];
    appendRules(lines, c, spec);
    // appendRules wrote whole lines ending in '\n'; `body` holds lines without it.
    if (lines.length) body.push(lines.join('').slice(0, -1));
    rules += spec.hashes.length;
    if (rules >= maxRules) {
      flush();
      rules = 0;
    }
  }
  flush();
  if (tail.length || diff.remove.length)
    out.push(['*filter', ...diff.remove.map((c) => `:${c} - [0:0]`), ...tail, 'COMMIT', ''].join('\n'));
  return out;
}

/** A full table image of what we installed, in the same shape as a readback (for the cache). */
export function tableAsInstalled(spec: TableSpec): InstalledTable {
  // The hash arrays are shared, not copied: an unchanged chain compares by identity next time.
  const chains = new Map<string, readonly (string | null)[]>();
  for (const [name, c] of spec.chains) chains.set(name, c.hashes);
  const hooks = new Map<Builtin, { index: number; hash: string | null }[]>(
    BUILTINS.map((b) => {
      const h = spec.hooks.find((x) => x.builtin === b);
      return [b, h ? [{ index: 1, hash: h.hash }] : []];
    }),
  );
  return { chains, rules: new Map(), hooks };
}

/** Restore input removing everything of ours: hook rules, then every chain with our prefix. */
export function cleanupRestore(installed: InstalledTable): string {
  const empty: TableSpec = { family: 4, chains: new Map(), hooks: [] };
  return diffTable(empty, installed).restore;
}
