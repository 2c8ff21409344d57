// The applying half: compares the rendered state with what is installed and brings the kernel to
// it in the safe order — ipset additions, then one iptables-restore transaction per table, then
// ipset deletions — so no moment exists in which a rule refers to a missing set or an endpoint is
// open that should be closed. What we installed is cached; a resync reads the kernel back, and any
// difference it then finds is drift (someone else changed our rules) and is logged and repaired.
import type Logger from 'bunyan';
import {
  type Backend,
  CommandError,
  type CommandRunner,
  defaultRetry,
  type RetryPolicy,
  spawnRunner,
  type Tools,
  toolsFor,
  withRetries,
} from './executor.ts';
import {
  diffIpsets,
  type InstalledSet,
  parseIpsetSave,
  setsAsInstalled,
  updateSetsAsInstalled,
} from './ipset.ts';
import {
  cleanupRestore,
  diffTable,
  type InstalledTable,
  parseIptablesSave,
  splitRestore,
  tableAsInstalled,
} from './iptables.ts';
import { Names } from './names.ts';
import type { DesiredState, EndpointSummary, Family, RenderDelta } from './render.ts';

export interface InstalledState {
  tables: Record<Family, InstalledTable>;
  ipsets: Map<string, InstalledSet>;
}

export interface ApplyReport {
  /** True when something had to change. */
  changed: boolean;
  chainsWritten: Record<Family, string[]>;
  chainsRemoved: Record<Family, string[]>;
  hooksRestored: Record<Family, string[]>;
  setsCreated: string[];
  setsReplaced: string[];
  setsDestroyed: string[];
  membersAdded: number;
  membersRemoved: number;
  conntrackFlushed: number;
  ms: number;
}

export interface DataplaneOptions {
  backend: Backend;
  prefix: string;
  ipv6: boolean;
  run?: CommandRunner;
  retry?: RetryPolicy;
  log: Logger;
  /** Delete conntrack entries of endpoints whose policy changed, so denied flows stop (default true). */
  flushConntrack?: boolean;
  /**
   * nft only: changes bigger than this many rules are cut into several transactions
   * (splitRestore). Default: nftTransactionRules().
   */
  nftMaxRulesPerTransaction?: number;
  /** Seconds iptables-restore waits for the xtables lock (legacy only; nft needs no lock). */
  lockWaitSeconds?: number;
}

const FAMILIES: readonly Family[] = [4, 6];

export class PolicyDataplane {
  readonly names: Names;
  readonly tools: Tools;
  private readonly run: CommandRunner;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;
  /** What we believe is installed; undefined until read back, and after any failure. */
  private cache: InstalledState | undefined;
  private lastDesired: DesiredState | undefined;
  /** The render the cache mirrors, when it came from a render cache: the base of the next delta. */
  private installedRender: { source: object; seq: number } | undefined;
  private readonly families: Family[];

  constructor(private readonly opts: DataplaneOptions) {
    this.names = new Names(opts.prefix);
    this.tools = toolsFor(opts.backend);
    this.run = opts.run ?? spawnRunner;
    this.retry = opts.retry ?? defaultRetry;
    this.log = opts.log;
    this.families = opts.ipv6 ? [4, 6] : [4];
  }

  private async must(cmd: string, args: readonly string[], stdin?: string): Promise<string> {
    const r = await this.run(cmd, args, stdin);
    if (r.code !== 0) throw new CommandError(`${cmd} ${args.join(' ')}`, r, stdin);
    return r.stdout;
  }

  /** Reads the kernel's state: our chains and hooks in both tables, and our ipsets. */
  async readInstalled(counters = false): Promise<InstalledState> {
    const tables = {} as Record<Family, InstalledTable>;
    await Promise.all(
      FAMILIES.map(async (f) => {
        if (!this.families.includes(f)) {
          tables[f] = { chains: new Map(), rules: new Map(), hooks: new Map() };
          return;
        }
        const out = await this.must(this.tools.save[f], ['-t', 'filter', ...(counters ? ['-c'] : [])]);
        tables[f] = parseIptablesSave(out, this.names);
      }),
    );
    const sets = await this.must('ipset', ['save']);
    return { tables, ipsets: parseIpsetSave(sets, this.names) };
  }

  private restoreArgs(): string[] {
    // nft's restore takes --wait for compatibility but needs no lock; legacy waits for xtables.lock.
    const wait = String(this.opts.lockWaitSeconds ?? 10);
    return this.opts.backend === 'legacy'
      ? ['--noflush', '--wait', wait, '--wait-interval', '50000']
      : ['--noflush', '--wait', wait];
  }

  /**
   * Brings the kernel to `desired`. With `fromKernel`, the installed state is read back first
   * (resync); otherwise the cache of what we last installed is trusted. Retries with back-off; each
   * retry reads the kernel back, since a failure leaves the cache in doubt.
   */
  async apply(desired: DesiredState, fromKernel = false): Promise<ApplyReport> {
    const t0 = performance.now();
    return withRetries(
      this.retry,
      async (n) => {
        const base = this.installedRender;
        this.installedRender = undefined;
        if (fromKernel || n > 1 || !this.cache) this.cache = await this.readInstalled();
        const installed = this.cache;
        const previous = this.lastDesired;
        // The cache mirrors exactly the render this one is a delta of: only the delta is compared.
        const delta =
          !fromKernel &&
          n === 1 &&
          desired.delta &&
          base &&
          desired.delta.source === base.source &&
          desired.delta.since === base.seq
            ? desired.delta
            : undefined;
        try {
          const report = await this.applyOnce(desired, installed, previous, delta);
          this.installedRender = desired.render;
          report.ms = performance.now() - t0;
          this.lastDesired = desired;
          return report;
        } catch (err) {
          this.cache = undefined;
          throw err;
        }
      },
      (err, n, delay) =>
        this.log.warn({ err: String(err), attempt: n, retryInMs: delay }, 'policy apply failed; retrying'),
    );
  }

  private async applyOnce(
    desired: DesiredState,
    installed: InstalledState,
    previous: DesiredState | undefined,
    delta: RenderDelta | undefined,
  ): Promise<ApplyReport> {
    const sets = diffIpsets(desired.ipsets, installed.ipsets, this.names, delta);
    const tables = this.families.map((f) => ({
      f,
      d: diffTable(desired.tables[f], installed.tables[f], delta?.chains[f]),
    }));
    const report: ApplyReport = {
      changed: false,
      chainsWritten: { 4: [], 6: [] },
      chainsRemoved: { 4: [], 6: [] },
      hooksRestored: { 4: [], 6: [] },
      setsCreated: sets.created,
      setsReplaced: sets.replaced,
      setsDestroyed: sets.destroyed,
      membersAdded: sets.membersAdded,
      membersRemoved: sets.membersRemoved,
      conntrackFlushed: 0,
      ms: 0,
    };
    if (sets.before) await this.must('ipset', ['restore'], sets.before);
    // The two families are independent tables; each transaction is atomic on its own.
    await Promise.all(
      tables.map(async ({ f, d }) => {
        if (!d.restore) return;
        const max = this.opts.nftMaxRulesPerTransaction ?? nftTransactionRules(installed.tables[f]);
        let written = 0;
        for (const c of d.write) written += desired.tables[f].chains.get(c)!.hashes.length;
        if (this.opts.backend === 'nft' && written > max) {
          for (const tx of splitRestore(desired.tables[f], d, max))
            await this.must(this.tools.restore[f], this.restoreArgs(), tx);
        } else await this.must(this.tools.restore[f], this.restoreArgs(), d.restore);
      }),
    );
    if (sets.after) await this.must('ipset', ['restore'], sets.after);
    for (const { f, d } of tables) {
      report.chainsWritten[f] = d.write;
      report.chainsRemoved[f] = d.remove;
      report.hooksRestored[f] = d.rehook;
    }
    report.changed = !!sets.before || !!sets.after || tables.some(({ d }) => d.restore !== '');
    // The cache now mirrors what we wanted, without another readback.
    if (delta) {
      // In place, for the chains and sets the delta names: O(change), not O(table).
      for (const { f, d } of tables) {
        const have = installed.tables[f];
        for (const name of delta.chains[f]) {
          const spec = desired.tables[f].chains.get(name);
          if (spec) have.chains.set(name, spec.hashes);
          else have.chains.delete(name);
          have.rules.delete(name);
        }
        if (d.rehook.length) have.hooks = tableAsInstalled(desired.tables[f]).hooks;
      }
      updateSetsAsInstalled(installed.ipsets, desired.ipsets, delta);
      this.cache = installed;
    } else
      this.cache = {
        tables: { 4: tableAsInstalled(desired.tables[4]), 6: tableAsInstalled(desired.tables[6]) },
        ipsets: setsAsInstalled(desired.ipsets, installed.ipsets),
      };
    // The first apply has no earlier policy whose flows could need re-judging.
    if (this.opts.flushConntrack !== false && report.changed && (delta || previous)) {
      const written = new Set<string>();
      for (const { d } of tables) for (const c of [...d.write, ...d.remove]) written.add(c);
      // Endpoints whose flows may need re-judging: after a delta, only those it rendered anew.
      let candidates: readonly EndpointSummary[] = [];
      if (delta) candidates = delta.changedEndpoints;
      else if (previous) {
        const before = new Set(previous.endpoints.map((e) => e.name));
        candidates = desired.endpoints.filter((e) => before.has(e.name));
      }
      report.conntrackFlushed = await this.flushConntrack(desired, candidates, written, sets.removedMembers);
    }
    return report;
  }

  /**
   * Established connections skip policy (the RELATED,ESTABLISHED fast path), so a policy change
   * alone would not stop a flow it now denies. For each endpoint whose ingress or egress chains
   * changed, its conntrack entries in that direction are deleted; the next packet of each flow is
   * then judged by the new policy (nf_conntrack_tcp_loose picks allowed TCP flows up mid-stream),
   * so allowed flows carry on and denied ones stop. Addresses removed from sets lose theirs too.
   */
  private async flushConntrack(
    desired: DesiredState,
    candidates: readonly EndpointSummary[],
    written: ReadonlySet<string>,
    removedMembers: readonly string[],
  ): Promise<number> {
    const targets: [string, '-s' | '-d'][] = [];
    for (const ep of candidates) {
      const addrs = desired.endpointAddresses.get(ep.name) ?? [];
      const hit = (chains: string[]): boolean => chains.some((c) => written.has(c));
      if (hit(ep.ingressChains)) for (const a of addrs) targets.push([a, '-d']);
      if (hit(ep.egressChains)) for (const a of addrs) targets.push([a, '-s']);
    }
    for (const a of removedMembers) targets.push([a, '-s'], [a, '-d']);
    let flushed = 0;
    // conntrack exits 1 when nothing matched; a few at a time keeps the spawn count bounded.
    for (let i = 0; i < targets.length; i += 8) {
      const batch = targets.slice(i, i + 8);
      const results = await Promise.all(
        batch.map(([a, dir]) =>
          this.run('conntrack', ['-D', '-f', a.includes(':') ? 'ipv6' : 'ipv4', dir, a]),
        ),
      );
      for (const r of results) {
        const m = /(\d+) flow entries have been deleted/.exec(r.stderr);
        if (m) flushed += Number(m[1]);
      }
    }
    return flushed;
  }

  /** Removes every chain, hook and set of ours; leaves everything else as it was. */
  async cleanup(): Promise<{ chains: number; sets: number }> {
    const installed = await this.readInstalled();
    let chains = 0;
    for (const f of this.families) {
      const t = installed.tables[f];
      chains += t.chains.size;
      const text = cleanupRestore(t);
      if (text) await this.must(this.tools.restore[f], this.restoreArgs(), text);
    }
    const names = [...installed.ipsets.keys()];
    if (names.length)
      await this.must('ipset', ['restore'], `${names.map((n) => `destroy ${n}`).join('\n')}\n`);
    this.cache = undefined;
    this.lastDesired = undefined;
    this.installedRender = undefined;
    return { chains, sets: names.length };
  }
}

/**
 * How many rules one iptables-nft transaction should carry, measured at 10k endpoints (342k
 * rules, conformance/bench/policy.bench.ts and docs/policy.md):
 * - Before our hooks exist (a first apply), nothing we write is reachable from a base chain, so
 *   the kernel validates nothing on commit, and iptables-nft's own cost decides. That cost grows
 *   faster than linearly with the jumps in one transaction (the dispatch tree's 20k gotos took
 *   2.8 s as one 20k-rule transaction): 20k rules per transaction took 13.2 s in all, 3.5k-5k
 *   8.2 s, 1k 9.4 s (more processes).
 * - With our hooks in place, every commit re-validates the whole graph reachable from the base
 *   chains (about 0.3 s at 10k), so fewer transactions win: rewriting every chain took 18.3 s in
 *   20k-rule transactions and 37.1 s in 3.5k-rule ones.
 */
export function nftTransactionRules(installed: InstalledTable): number {
  for (const h of installed.hooks.values()) if (h.length > 0) return 20000;
  return 4000;
}
