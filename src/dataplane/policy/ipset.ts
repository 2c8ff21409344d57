// ipsets: reading back `ipset save`, and the pure diff to `ipset restore` input, split in two
// phases around the iptables transaction (calico-dataplane.md §4.5): first creations, member
// additions and removals and whole-set replacements (fill a temporary set, `swap`, destroy the
// temporary: swapping is the only atomic replacement ipset offers), then, after iptables no longer
// refers to them, destruction of sets we no longer want.
import type { Names } from './names.ts';
import type { Family, IpSetSpec, IpSetType } from './render.ts';

/** Felix's MaxIpsetSize: one fixed maxelem means growth never forces a set to be replaced. */
export const IPSET_MAXELEM = 1048576;

export interface InstalledSet {
  name: string;
  type: string;
  family: string;
  maxelem: number;
  members: Set<string>;
  /** For the cache of our own writes: the wanted member array it was made from. A wanted set
   * holding that same array object is unchanged and is skipped without comparing members. */
  source?: readonly string[];
}

/** Parses `ipset save` (or `ipset list -o save`), keeping only our sets. */
export function parseIpsetSave(text: string, names: Names): Map<string, InstalledSet> {
  const sets = new Map<string, InstalledSet>();
  for (const line of text.split('\n')) {
    if (line.startsWith('create ')) {
      const f = line.split(' ');
      const name = f[1]!;
      if (!names.isOurSet(name)) continue;
      const fam = f.indexOf('family');
      const max = f.indexOf('maxelem');
      sets.set(name, {
        name,
        type: f[2]!,
        family: fam > 0 ? f[fam + 1]! : 'inet',
        maxelem: max > 0 ? Number(f[max + 1]) : 65536,
        members: new Set(),
      });
    } else if (line.startsWith('add ')) {
      const sp = line.indexOf(' ', 4);
      const set = sets.get(line.slice(4, sp));
      // Members may carry options (timeout, comment); the element is the first word.
      if (set) set.members.add(line.slice(sp + 1).split(' ')[0]!);
    }
  }
  return sets;
}

export interface IpsetDiff {
  /** Restore input to run before iptables (may be ''). */
  before: string;
  /** Restore input to run after iptables (may be ''). */
  after: string;
  created: string[];
  replaced: string[];
  destroyed: string[];
  membersAdded: number;
  membersRemoved: number;
  /** Addresses taken out of sets: their connections may no longer be allowed. */
  removedMembers: string[];
}

const familyName = (f: Family): string => (f === 4 ? 'inet' : 'inet6');

function createLine(name: string, type: IpSetType, family: Family): string {
  return `create ${name} ${type} family ${familyName(family)} maxelem ${IPSET_MAXELEM}`;
}

/** Pure diff from installed sets to wanted sets. */
export function diffIpsets(
  wanted: ReadonlyMap<string, IpSetSpec>,
  installed: ReadonlyMap<string, InstalledSet>,
  names: Names,
  only?: SetChanges,
): IpsetDiff {
  const before: string[] = [];
  const after: string[] = [];
  const d: IpsetDiff = {
    before: '',
    after: '',
    created: [],
    replaced: [],
    destroyed: [],
    membersAdded: 0,
    membersRemoved: 0,
    removedMembers: [],
  };
  const entries: Iterable<[string, IpSetSpec]> = only ? onlyWanted(wanted, only) : wanted;
  for (const [name, spec] of entries) {
    const have = installed.get(name);
    if (!have) {
      d.created.push(name);
      before.push(createLine(name, spec.type, spec.family));
      for (const m of spec.members) before.push(`add ${name} ${m}`);
      d.membersAdded += spec.members.length;
      continue;
    }
    if (
      have.source === spec.members &&
      have.type === spec.type &&
      have.family === familyName(spec.family) &&
      have.maxelem >= spec.members.length
    )
      continue;
    if (
      have.type !== spec.type ||
      have.family !== familyName(spec.family) ||
      have.maxelem < spec.members.length
    ) {
      // Metadata differs: build the replacement beside it and swap atomically.
      const tmp = names.tempSet(name);
      d.replaced.push(name);
      // A temporary left by an interrupted run is destroyed first (it is never referenced).
      if (installed.has(tmp)) before.push(`destroy ${tmp}`);
      before.push(createLine(tmp, spec.type, spec.family));
      for (const m of spec.members) before.push(`add ${tmp} ${m}`);
      before.push(`swap ${name} ${tmp}`, `destroy ${tmp}`);
      const want = new Set(spec.members);
      for (const m of have.members) if (!want.has(m)) d.removedMembers.push(m);
      continue;
    }
    const moved = only?.members.get(name);
    if (moved && !only?.sets.has(name)) {
      // The render knows which addresses entered and left: no pass over the members.
      for (const m of moved.add)
        if (!have.members.has(m)) {
          before.push(`add ${name} ${m}`);
          d.membersAdded++;
        }
      for (const m of moved.del)
        if (have.members.has(m)) {
          before.push(`del ${name} ${m}`);
          d.membersRemoved++;
          d.removedMembers.push(m);
        }
      continue;
    }
    const want = new Set(spec.members);
    for (const m of spec.members) {
      if (!have.members.has(m)) {
        before.push(`add ${name} ${m}`);
        d.membersAdded++;
      }
    }
    for (const m of have.members) {
      if (!want.has(m)) {
        before.push(`del ${name} ${m}`);
        d.membersRemoved++;
        d.removedMembers.push(m);
      }
    }
  }
  const replacedTemps = new Set(d.replaced.map((n) => names.tempSet(n)));
  for (const name of only ? only.sets : installed.keys()) {
    if (!installed.has(name)) continue;
    if (wanted.has(name) || replacedTemps.has(name)) continue;
    d.destroyed.push(name);
    after.push(`destroy ${name}`);
  }
  d.before = before.length ? `${before.join('\n')}\n` : '';
  d.after = after.length ? `${after.join('\n')}\n` : '';
  return d;
}

/** The sets an incremental render touched: created or destroyed whole, or members moved. */
export interface SetChanges {
  sets: ReadonlySet<string>;
  members: ReadonlyMap<string, { add: ReadonlySet<string>; del: ReadonlySet<string> }>;
}

function* onlyWanted(
  wanted: ReadonlyMap<string, IpSetSpec>,
  only: SetChanges,
): Iterable<[string, IpSetSpec]> {
  for (const name of only.sets) {
    const spec = wanted.get(name);
    if (spec) yield [name, spec];
  }
  for (const name of only.members.keys()) {
    const spec = wanted.get(name);
    if (spec && !only.sets.has(name)) yield [name, spec];
  }
}

/**
 * Brings the installed image of the sets in `only` up to `wanted` in place, after a successful
 * incremental apply: O(sets and members moved), not O(all members).
 */
export function updateSetsAsInstalled(
  installed: Map<string, InstalledSet>,
  wanted: ReadonlyMap<string, IpSetSpec>,
  only: SetChanges,
): void {
  for (const name of [...only.sets, ...only.members.keys()]) {
    const spec = wanted.get(name);
    if (!spec) {
      installed.delete(name);
      continue;
    }
    const have = installed.get(name);
    const moved = only.members.get(name);
    if (
      have &&
      moved &&
      !only.sets.has(name) &&
      have.type === spec.type &&
      have.family === familyName(spec.family)
    ) {
      for (const m of moved.del) have.members.delete(m);
      for (const m of moved.add) have.members.add(m);
      have.source = spec.members;
      continue;
    }
    installed.set(name, setsAsInstalled(new Map([[name, spec]])).get(name)!);
  }
}

/**
 * The installed image of wanted sets (for the cache after a successful apply). Entries of
 * `previous` made from the same member array are reused, so an update costs O(sets changed).
 */
export function setsAsInstalled(
  wanted: ReadonlyMap<string, IpSetSpec>,
  previous?: ReadonlyMap<string, InstalledSet>,
): Map<string, InstalledSet> {
  const out = new Map<string, InstalledSet>();
  for (const [name, s] of wanted) {
    const prev = previous?.get(name);
    if (prev && prev.source === s.members && prev.type === s.type && prev.family === familyName(s.family)) {
      out.set(name, prev);
      continue;
    }
    out.set(name, {
      name,
      type: s.type,
      family: familyName(s.family),
      maxelem: IPSET_MAXELEM,
      members: new Set(s.members),
      source: s.members,
    });
  }
  return out;
}
