// The policy model: workload endpoints, policies, profiles and named address sets, as read from
// YAML. The shapes follow Calico's WorkloadEndpoint / NetworkPolicy / Profile (calico-dataplane.md
// §5) with the field names an operator of calicoctl would expect. Everything here is validated
// before it reaches the renderer: the renderer may assume a well-formed model.
import { isIPv4, isIPv6 } from 'node:net';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { parseSelector, SelectorError } from './selector.ts';

export type Action = 'allow' | 'deny' | 'log' | 'pass';

export interface PortRange {
  from: number;
  to: number;
}

/** One side (source or destination) of a rule. Every listed condition must hold. */
export interface EntityMatch {
  nets: string[];
  notNets: string[];
  selector?: string;
  notSelector?: string;
  /** Names of address sets; the packet's address must be in at least one of them. */
  addressSets: string[];
  notAddressSets: string[];
  ports: PortRange[];
  notPorts: PortRange[];
}

export interface IcmpMatch {
  type: number;
  code?: number;
}

export interface Rule {
  action: Action;
  ipVersion?: 4 | 6;
  /** Lower-case protocol name or a number 0-255. */
  protocol?: string | number;
  notProtocol?: string | number;
  icmp?: IcmpMatch;
  notIcmp?: IcmpMatch;
  source: EntityMatch;
  destination: EntityMatch;
  /** Shown in the rule's comment and as the LOG prefix for `log`. */
  comment?: string;
}

export interface Endpoint {
  name: string;
  /** Host-side interface of the workload's veth or tap. */
  interface: string;
  ipv4: string[];
  ipv6: string[];
  mac?: string;
  labels: Record<string, string>;
  /** Applied after the policies, in this order. */
  profiles: string[];
}

export interface Policy {
  name: string;
  /**
   * The tier the policy belongs to (Calico's NetworkPolicy `tier`); absent means DEFAULT_TIER.
   * Tiers run in their own order; within a tier, policies run by `order`.
   */
  tier?: string;
  /** Lower first within the tier; ties broken by name, as Calico does. */
  order: number;
  /** Which endpoints the policy applies to. */
  selector: string;
  /**
   * Directions the policy governs. As in Calico: when not given, ingress always, egress when
   * the policy has egress rules. A governed direction with no rule that allows drops everything.
   */
  types: ('ingress' | 'egress')[];
  ingress: Rule[];
  egress: Rule[];
}

/**
 * A tier (Calico's Tier resource): a group of policies evaluated together. A `pass` ends the
 * tier and goes to the next one; a tier in which no policy allowed, denied or passed drops, or
 * with `defaultAction: pass` goes to the next one too.
 */
export interface Tier {
  name: string;
  /** Lower first; ties by name. Absent: after every tier with an order (Calico's nil order). */
  order?: number;
  /** What happens at the end of the tier to a packet none of its policies decided (default deny). */
  defaultAction?: 'deny' | 'pass';
}

/** The tier of policies that name none; it exists without being declared (Calico's `default`). */
export const DEFAULT_TIER = 'default';
/** The default tier's order unless declared otherwise: Calico's, which puts it after the usual tiers. */
export const DEFAULT_TIER_ORDER = 1_000_000;

export interface Profile {
  name: string;
  ingress: Rule[];
  egress: Rule[];
}

export interface AddressSet {
  name: string;
  /** Addresses or CIDR networks, IPv4 and IPv6 mixed. */
  nets: string[];
}

export interface PolicyModel {
  endpoints: Endpoint[];
  policies: Policy[];
  profiles: Profile[];
  addressSets: AddressSet[];
  /** Declared tiers; policies may also use DEFAULT_TIER without declaring it. */
  tiers?: Tier[];
}

export const emptyModel = (): PolicyModel => ({ endpoints: [], policies: [], profiles: [], addressSets: [] });

/**
 * The order of each tier by name: the declared ones, and DEFAULT_TIER at DEFAULT_TIER_ORDER unless
 * declared. A tier declared without an order sorts after all that have one.
 */
export function tierOrders(tiers: readonly Tier[] | undefined): Map<string, number> {
  const out = new Map<string, number>([[DEFAULT_TIER, DEFAULT_TIER_ORDER]]);
  for (const t of tiers ?? []) out.set(t.name, t.order ?? Number.POSITIVE_INFINITY);
  return out;
}

/**
 * Policies in evaluation order: by their tier's order, then tier name, then the policy's order,
 * then its name (Calico's tie-breaks). Policies of a tier are therefore contiguous.
 */
export function sortPolicies(policies: readonly Policy[], tiers: readonly Tier[] | undefined): Policy[] {
  const orders = tierOrders(tiers);
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...policies].sort((a, b) => {
    const ta = a.tier ?? DEFAULT_TIER;
    const tb = b.tier ?? DEFAULT_TIER;
    if (ta !== tb) {
      const oa = orders.get(ta) ?? Number.POSITIVE_INFINITY;
      const ob = orders.get(tb) ?? Number.POSITIVE_INFINITY;
      return oa === ob ? cmp(ta, tb) : oa < ob ? -1 : 1;
    }
    return a.order - b.order || cmp(a.name, b.name);
  });
}

// ---------------------------------------------------------------------------------------------
// Schema (shape only; cross-references and addresses are checked after it).

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const nameField = z
  .string()
  .max(253)
  .regex(NAME, 'must start with a letter or digit and use only letters, digits, _ . : -');
const PROTOCOL_NAMES = [
  'tcp',
  'udp',
  'icmp',
  'icmpv6',
  'sctp',
  'udplite',
  'gre',
  'esp',
  'ah',
  'ipip',
] as const;
const protocolField = z.union([z.enum(PROTOCOL_NAMES), z.number().int().min(0).max(255)]);
const portField = z.union([
  z.number().int().min(0).max(65535),
  z.string().regex(/^\d{1,5}[:-]\d{1,5}$/, "a port range is written 'from:to' or 'from-to'"),
]);
const icmpField = z.strictObject({
  type: z.number().int().min(0).max(255),
  code: z.number().int().min(0).max(255).optional(),
});
const stringList = z.array(z.string()).default([]);
const entityField = z
  .strictObject({
    nets: stringList,
    notNets: stringList,
    selector: z.string().optional(),
    notSelector: z.string().optional(),
    addressSets: z.array(nameField).default([]),
    notAddressSets: z.array(nameField).default([]),
    ports: z.array(portField).default([]),
    notPorts: z.array(portField).default([]),
  })
  .default({ nets: [], notNets: [], addressSets: [], notAddressSets: [], ports: [], notPorts: [] });
const ruleField = z.strictObject({
  action: z.enum(['allow', 'deny', 'log', 'pass']),
  ipVersion: z.union([z.literal(4), z.literal(6)]).optional(),
  protocol: protocolField.optional(),
  notProtocol: protocolField.optional(),
  icmp: icmpField.optional(),
  notIcmp: icmpField.optional(),
  source: entityField,
  destination: entityField,
  comment: z
    .string()
    .max(200)
    .regex(/^[^"\n\\]*$/, 'may not contain quotes, backslashes or newlines')
    .optional(),
});
const rulesField = z.array(ruleField).default([]);
const endpointField = z.strictObject({
  name: nameField,
  interface: z
    .string()
    .min(1)
    .max(15, 'Linux interface names have at most 15 characters')
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  ipv4: stringList,
  ipv6: stringList,
  mac: z
    .string()
    .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'a MAC address is six colon-separated hex bytes')
    .optional(),
  labels: z.record(z.string(), z.string()).default({}),
  profiles: z.array(nameField).default([]),
});
// Tier names appear whole in rule comments ("End of tier NAME: drop"), which the kernel caps at
// 255 characters.
const tierNameField = nameField.max(200);
const tierField = z.strictObject({
  name: tierNameField,
  order: z.number().optional(),
  defaultAction: z.enum(['deny', 'pass']).optional(),
});
const policyField = z.strictObject({
  name: nameField,
  tier: tierNameField.optional(),
  order: z.number().default(1000),
  selector: z.string().default('all()'),
  types: z.array(z.enum(['ingress', 'egress'])).optional(),
  ingress: rulesField,
  egress: rulesField,
});
const profileField = z.strictObject({ name: nameField, ingress: rulesField, egress: rulesField });
const addressSetField = z.strictObject({ name: nameField, nets: z.array(z.string()) });
export const policyFileSchema = z.strictObject({
  endpoints: z.array(endpointField).default([]),
  policies: z.array(policyField).default([]),
  profiles: z.array(profileField).default([]),
  addressSets: z.array(addressSetField).default([]),
  tiers: z.array(tierField).default([]),
});

// ---------------------------------------------------------------------------------------------
// Errors that name the file, the field path, the line and the problem.

export interface PolicyIssue {
  file: string;
  /** Field path inside the file, e.g. `endpoints[2].ipv4[0]`. */
  path: string;
  line?: number;
  message: string;
}

export class PolicyValidationError extends Error {
  constructor(readonly issues: PolicyIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'PolicyValidationError';
  }
}

export function formatIssue(i: PolicyIssue): string {
  const where = i.line === undefined ? i.file : `${i.file}:${i.line}`;
  return `${where}: ${i.path || '(top level)'}: ${i.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Address helpers shared with the renderer.

/** Splits `a.b.c.d[/n]` or `x::y[/n]` and checks it; returns undefined when malformed. */
export function parseNet(text: string): { family: 4 | 6; addr: string; prefix: number } | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : undefined;
  if (family === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  return { family, addr, prefix };
}

/**
 * The kernel's spelling of a network, as `ipset save` prints it: host bits cleared, IPv6
 * compressed, and a full-length prefix written as a bare address. Undefined when malformed.
 */
export function canonicalNet(text: string): string | undefined {
  const n = parseNet(text);
  if (!n) return undefined;
  if (n.family === 4) {
    const v = n.addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const masked = (v - (v % 2 ** (32 - n.prefix))) >>> 0;
    const addr = [24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.');
    return n.prefix === 32 ? addr : `${addr}/${n.prefix}`;
  }
  // The URL parser prints IPv6 in RFC 5952 form; clear host bits on the 128-bit value.
  const full = new URL(`http://[${n.addr}]/`).hostname.slice(1, -1);
  let addr = full;
  if (n.prefix < 128) {
    const groups = expandV6(full);
    let bits = n.prefix;
    const out = groups.map((g) => {
      const keep = Math.max(0, Math.min(16, bits));
      bits -= 16;
      return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
    });
    addr = new URL(`http://[${out.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
  }
  return n.prefix === 128 ? addr : `${addr}/${n.prefix}`;
}

function expandV6(a: string): number[] {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = a.includes('::') ? 8 - h.length - t.length : 0;
  return [...h, ...Array(fill).fill('0'), ...t].map((x) => Number.parseInt(x, 16));
}

export const netFamily = (text: string): 4 | 6 => (text.includes(':') ? 6 : 4);

export function parsePort(p: number | string): PortRange {
  if (typeof p === 'number') return { from: p, to: p };
  const [a, b] = p.split(/[:-]/).map(Number) as [number, number];
  return { from: a, to: b };
}

// ---------------------------------------------------------------------------------------------
// Loading: one or more YAML documents (one per file), merged into one model.

export interface PolicySourceText {
  /** The file name used in errors. */
  file: string;
  text: string;
}

interface Located<T> {
  value: T;
  file: string;
  /** Path of the item within its file, e.g. ['endpoints', 3]. */
  path: (string | number)[];
}

type FileLocator = (path: readonly PropertyKey[]) => number | undefined;

/** Parses and validates policy files; throws PolicyValidationError listing every problem found. */
export function loadPolicyModel(sources: readonly PolicySourceText[]): PolicyModel {
  const issues: PolicyIssue[] = [];
  const locators = new Map<string, FileLocator>();
  const endpoints: Located<Endpoint>[] = [];
  const policies: Located<Policy>[] = [];
  const profiles: Located<Profile>[] = [];
  const addressSets: Located<AddressSet>[] = [];
  const tiers: Located<Tier>[] = [];

  for (const src of sources) {
    const lineCounter = new LineCounter();
    const doc = parseDocument(src.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        issues.push({
          file: src.file,
          path: '',
          line: lineCounter.linePos(e.pos[0]).line,
          message: `YAML: ${e.message.split('\n')[0]}`,
        });
      }
      continue;
    }
    const locate: FileLocator = (path) => {
      // The deepest node that exists on the path: a missing field is reported at its parent.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n) as unknown[], true) as
          | { range?: [number, number, number] }
          | undefined;
        if (node && typeof node === 'object' && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    };
    locators.set(src.file, locate);
    const raw: unknown = doc.toJS() ?? {};
    const parsed = policyFileSchema.safeParse(raw);
    if (!parsed.success) {
      for (const iss of parsed.error.issues) {
        issues.push({
          file: src.file,
          path: formatPath(iss.path),
          line: locate(iss.path),
          message: iss.message,
        });
      }
      continue;
    }
    const f = parsed.data;
    f.endpoints.forEach((e, i) => {
      endpoints.push({
        value: { ...e, ...(e.mac ? { mac: e.mac.toLowerCase() } : {}) },
        file: src.file,
        path: ['endpoints', i],
      });
    });
    f.policies.forEach((p, i) => {
      const types = p.types ?? (p.egress.length > 0 ? ['ingress', 'egress'] : ['ingress']);
      policies.push({ value: { ...normalizeRules(p), types }, file: src.file, path: ['policies', i] });
    });
    f.profiles.forEach((p, i) => {
      profiles.push({ value: normalizeRules(p), file: src.file, path: ['profiles', i] });
    });
    f.addressSets.forEach((s, i) => {
      addressSets.push({ value: s, file: src.file, path: ['addressSets', i] });
    });
    f.tiers.forEach((t, i) => {
      tiers.push({
        value: {
          name: t.name,
          ...(t.order !== undefined ? { order: t.order } : {}),
          ...(t.defaultAction !== undefined ? { defaultAction: t.defaultAction } : {}),
        },
        file: src.file,
        path: ['tiers', i],
      });
    });
  }

  const report = (item: Located<unknown>, sub: (string | number)[], message: string): void => {
    const path = [...item.path, ...sub];
    issues.push({ file: item.file, path: formatPath(path), line: locators.get(item.file)?.(path), message });
  };

  const unique = <T extends { name: string }>(items: Located<T>[], what: string): void => {
    const seen = new Map<string, Located<T>>();
    for (const it of items) {
      const prev = seen.get(it.value.name);
      if (prev) {
        const line = locators.get(prev.file)?.(prev.path);
        report(
          it,
          ['name'],
          `duplicate ${what} name ${JSON.stringify(it.value.name)} (first defined in ${prev.file}${line ? `:${line}` : ''})`,
        );
      } else seen.set(it.value.name, it);
    }
  };
  unique(endpoints, 'endpoint');
  unique(policies, 'policy');
  unique(profiles, 'profile');
  unique(addressSets, 'address set');
  unique(tiers, 'tier');

  const profileNames = new Set(profiles.map((p) => p.value.name));
  const setNames = new Set(addressSets.map((s) => s.value.name));
  const ifaces = new Map<string, string>();
  const addrOwners = new Map<string, string>();
  for (const ep of endpoints) {
    const e = ep.value;
    const other = ifaces.get(e.interface);
    if (other) report(ep, ['interface'], `interface ${e.interface} is already used by endpoint ${other}`);
    else ifaces.set(e.interface, e.name);
    for (const [field, fam] of [
      ['ipv4', 4],
      ['ipv6', 6],
    ] as const) {
      e[field].forEach((a, i) => {
        const n = parseNet(a);
        if (!n || n.family !== fam || n.prefix !== (fam === 4 ? 32 : 128)) {
          report(
            ep,
            [field, i],
            `${JSON.stringify(a)} is not an IPv${fam} address (a /${fam === 4 ? 32 : 128} at most)`,
          );
          return;
        }
        const addr = canonicalNet(n.addr)!;
        e[field][i] = addr;
        const owner = addrOwners.get(addr);
        if (owner && owner !== e.name)
          report(ep, [field, i], `address ${addr} is already used by endpoint ${owner}`);
        addrOwners.set(addr, e.name);
      });
    }
    e.profiles.forEach((p, i) => {
      if (!profileNames.has(p)) report(ep, ['profiles', i], `unknown profile ${JSON.stringify(p)}`);
    });
  }
  for (const s of addressSets) {
    s.value.nets.forEach((n, i) => {
      if (!parseNet(n)) report(s, ['nets', i], `${JSON.stringify(n)} is not an address or CIDR network`);
    });
  }
  const tierNames = new Set([DEFAULT_TIER, ...tiers.map((t) => t.value.name)]);
  for (const p of policies) {
    const tier = p.value.tier;
    if (tier !== undefined && !tierNames.has(tier))
      report(
        p,
        ['tier'],
        `unknown tier ${JSON.stringify(tier)} (declare it under tiers, or use ${DEFAULT_TIER})`,
      );
    try {
      parseSelector(p.value.selector);
    } catch (err) {
      report(p, ['selector'], err instanceof SelectorError ? err.message : String(err));
    }
  }
  for (const holder of [...policies, ...profiles]) {
    for (const dir of ['ingress', 'egress'] as const) {
      holder.value[dir].forEach((r, i) => {
        for (const problem of checkRule(r, setNames))
          report(holder, [dir, i, ...problem.path], problem.message);
      });
    }
  }

  if (issues.length > 0) throw new PolicyValidationError(issues);
  return {
    endpoints: endpoints.map((e) => e.value),
    policies: policies.map((p) => p.value),
    profiles: profiles.map((p) => p.value),
    addressSets: addressSets.map((s) => s.value),
    tiers: tiers.map((t) => t.value),
  };
}

type ParsedRule = z.infer<typeof ruleField>;
function normalizeRules<T extends { ingress: ParsedRule[]; egress: ParsedRule[] }>(
  holder: T,
): Omit<T, 'ingress' | 'egress'> & { ingress: Rule[]; egress: Rule[] } {
  const norm = (r: ParsedRule): Rule => {
    const side = (s: ParsedRule['source']): EntityMatch => ({
      nets: s.nets,
      notNets: s.notNets,
      ...(s.selector !== undefined ? { selector: s.selector } : {}),
      ...(s.notSelector !== undefined ? { notSelector: s.notSelector } : {}),
      addressSets: s.addressSets,
      notAddressSets: s.notAddressSets,
      ports: s.ports.map(parsePort),
      notPorts: s.notPorts.map(parsePort),
    });
    const out: Rule = { action: r.action, source: side(r.source), destination: side(r.destination) };
    if (r.ipVersion !== undefined) out.ipVersion = r.ipVersion;
    if (r.protocol !== undefined) out.protocol = r.protocol;
    if (r.notProtocol !== undefined) out.notProtocol = r.notProtocol;
    if (r.icmp)
      out.icmp = r.icmp.code === undefined ? { type: r.icmp.type } : { type: r.icmp.type, code: r.icmp.code };
    if (r.notIcmp)
      out.notIcmp =
        r.notIcmp.code === undefined
          ? { type: r.notIcmp.type }
          : { type: r.notIcmp.type, code: r.notIcmp.code };
    if (r.comment !== undefined) out.comment = r.comment;
    return out;
  };
  return { ...holder, ingress: holder.ingress.map(norm), egress: holder.egress.map(norm) };
}

const PORT_PROTOCOLS = new Set<string | number>(['tcp', 'udp', 'sctp', 'udplite', 6, 17, 132, 136]);

/** Semantic checks of one rule; paths are relative to the rule. */
export function checkRule(
  r: Rule,
  addressSetNames: ReadonlySet<string>,
): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const families = new Set<4 | 6>();
  for (const sideName of ['source', 'destination'] as const) {
    const side = r[sideName];
    for (const field of ['nets', 'notNets'] as const) {
      side[field].forEach((n, i) => {
        const p = parseNet(n);
        if (!p)
          out.push({
            path: [sideName, field, i],
            message: `${JSON.stringify(n)} is not an address or CIDR network`,
          });
        else if (field === 'nets') families.add(p.family);
      });
    }
    for (const field of ['selector', 'notSelector'] as const) {
      const s = side[field];
      if (s === undefined) continue;
      try {
        parseSelector(s);
      } catch (err) {
        out.push({
          path: [sideName, field],
          message: err instanceof SelectorError ? err.message : String(err),
        });
      }
    }
    for (const field of ['addressSets', 'notAddressSets'] as const) {
      side[field].forEach((n, i) => {
        if (!addressSetNames.has(n))
          out.push({ path: [sideName, field, i], message: `unknown address set ${JSON.stringify(n)}` });
      });
    }
    for (const field of ['ports', 'notPorts'] as const) {
      side[field].forEach((p, i) => {
        if (p.from > 65535 || p.to > 65535 || p.from > p.to)
          out.push({
            path: [sideName, field, i],
            message: `port range ${p.from}:${p.to} is not within 0-65535 and ascending`,
          });
      });
      if (side[field].length > 0 && (r.protocol === undefined || !PORT_PROTOCOLS.has(r.protocol)))
        out.push({ path: [sideName, field], message: 'ports need protocol tcp, udp, sctp or udplite' });
    }
  }
  if (r.protocol !== undefined && r.notProtocol !== undefined && r.protocol === r.notProtocol)
    out.push({
      path: ['notProtocol'],
      message: 'protocol and notProtocol are the same: the rule can never match',
    });
  for (const field of ['icmp', 'notIcmp'] as const) {
    if (r[field] === undefined) continue;
    const p = r.protocol;
    if (p !== 'icmp' && p !== 'icmpv6' && p !== 1 && p !== 58)
      out.push({ path: [field], message: `${field} needs protocol icmp or icmpv6` });
  }
  const protoFamily =
    r.protocol === 'icmp' || r.protocol === 1
      ? 4
      : r.protocol === 'icmpv6' || r.protocol === 58
        ? 6
        : undefined;
  if (protoFamily !== undefined) families.add(protoFamily);
  if (r.ipVersion !== undefined) families.add(r.ipVersion);
  if (families.size > 1 && (r.ipVersion !== undefined || protoFamily !== undefined))
    out.push({
      path: [],
      message: 'the rule mixes IPv4 and IPv6 (ipVersion, protocol and nets disagree): it can never match',
    });
  return out;
}
