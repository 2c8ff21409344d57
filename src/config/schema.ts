// The YAML configuration schema, written with zod. The schema checks each field on its own and
// applies defaults; relations between fields (unique neighbours, references to policies, address
// families that must agree) are checked in validate.ts so that every problem in a file is reported
// in one pass, each with its field path.
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { DEFAULTS } from './defaults.ts';
import { addressFamily, canonicalAddress, parsePrefix } from './net.ts';
import {
  globToRegExp,
  parseAsn,
  parseCommunity,
  parseExtendedCommunity,
  parseLargeCommunity,
} from './values.ts';

// ---- scalar value schemas ------------------------------------------------------------------------

export const asnSchema = z
  .union([z.number(), z.string()], { error: 'expected an AS number' })
  .transform((v, ctx): number => {
    const asn = parseAsn(v);
    if (typeof asn === 'string') {
      ctx.addIssue({ code: 'custom', message: asn });
      return z.NEVER;
    }
    if (asn === 0) {
      ctx.addIssue({ code: 'custom', message: 'AS 0 is reserved and cannot be used (RFC 7607)' });
      return z.NEVER;
    }
    return asn;
  });

/** A remote ASN, or `internal` / `external` (same / any other AS than ours), as FRR and BIRD allow. */
export const remoteAsnSchema = z.union([z.literal('internal'), z.literal('external'), asnSchema], {
  error: 'expected an AS number, "internal" or "external"',
});

export const ipv4Schema = z
  .string({ error: 'expected an IPv4 address' })
  .refine((s) => isIPv4(s), { error: (iss) => `"${String(iss.input)}" is not an IPv4 address` });

export const ipAddressSchema = z.string({ error: 'expected an IP address' }).transform((s, ctx): string => {
  if (!addressFamily(s)) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not an IPv4 or IPv6 address` });
    return z.NEVER;
  }
  return canonicalAddress(s);
});

export const prefixSchema = z
  .string({ error: 'expected a prefix such as 10.0.0.0/24' })
  .transform((s, ctx) => {
    const p = parsePrefix(s);
    if (typeof p === 'string') {
      ctx.addIssue({ code: 'custom', message: p });
      return z.NEVER;
    }
    return p.text;
  });

const port = z
  .number({ error: 'expected a TCP port number' })
  .int('a port is a whole number')
  .min(1, 'a port is 1..65535')
  .max(65535, 'a port is 1..65535');

const seconds = (what: string, min: number, max: number) =>
  z
    .number({ error: `expected ${what} in seconds` })
    .int(`${what} is a whole number of seconds`)
    .min(min, `${what} must be at least ${min} s`)
    .max(max, `${what} must be at most ${max} s`);

/** RFC 4271 §4.2: the Hold Time is 0 or at least three seconds; it is a 16-bit field. */
export const holdTimeSchema = z
  .number({ error: 'expected a hold time in seconds' })
  .int('the hold time is a whole number of seconds')
  .refine((v) => v === 0 || (v >= 3 && v <= 65535), {
    error: 'the hold time must be 0 (no keepalives) or 3..65535 seconds (RFC 4271 §4.2)',
  });

export const familySchema = z.enum(['ipv4-unicast', 'ipv6-unicast'], {
  error: 'a family is ipv4-unicast or ipv6-unicast',
});
export type Family = z.output<typeof familySchema>;

const communitySchema = z.string({ error: 'expected a community such as 65000:100' }).transform((s, ctx) => {
  const c = parseCommunity(s);
  if (typeof c === 'string') {
    ctx.addIssue({ code: 'custom', message: c });
    return z.NEVER;
  }
  return c;
});

const largeCommunitySchema = z
  .string({ error: 'expected a large community such as 65000:1:2' })
  .transform((s, ctx) => {
    const c = parseLargeCommunity(s);
    if (typeof c === 'string') {
      ctx.addIssue({ code: 'custom', message: c });
      return z.NEVER;
    }
    return c;
  });

const extCommunitySchema = z.string({ error: 'expected an extended community' }).transform((s, ctx) => {
  const c = parseExtendedCommunity(s);
  if (typeof c !== 'string') {
    ctx.addIssue({ code: 'custom', message: c.error });
    return z.NEVER;
  }
  return c;
});

const u32 = (what: string) =>
  z
    .number({ error: `expected ${what}` })
    .int(`${what} is a whole number`)
    .min(0, `${what} must be 0..4294967295`)
    .max(0xffffffff, `${what} must be 0..4294967295`);

const nameSchema = z
  .string({ error: 'expected a name' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/, 'a name is 1..64 letters, digits, and _ . : / -');

const interfaceGlob = z
  .string({ error: 'expected an interface name pattern such as cali*' })
  .min(1)
  .max(64)
  .refine(
    (s) => {
      try {
        globToRegExp(s);
        return true;
      } catch {
        return false;
      }
    },
    { error: 'not a valid interface pattern' },
  );

const regexSchema = (what: string) =>
  z.string({ error: `expected ${what} (a regular expression)` }).refine(
    (s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    },
    { error: (iss) => `"${String(iss.input)}" is not a valid regular expression` },
  );

// ---- policy (issue 4 fills in the engine; the syntax is fixed here) ----------------------------------

const prefixListEntrySchema = z.union([
  prefixSchema.transform((prefix) => ({
    prefix,
    ge: undefined as number | undefined,
    le: undefined as number | undefined,
  })),
  z
    .strictObject({
      prefix: prefixSchema,
      ge: z.number().int().min(0).max(128).optional(),
      le: z.number().int().min(0).max(128).optional(),
    })
    .transform((e) => ({ prefix: e.prefix, ge: e.ge, le: e.le })),
]);

const communityEditSchema = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    add: z.array(item).optional(),
    remove: z.array(item).optional(),
    set: z.array(item).optional(),
  });

const policyMatchSchema = z.strictObject({
  /** Name of a prefix list, or inline entries. */
  prefixList: z.union([nameSchema, z.array(prefixListEntrySchema)]).optional(),
  family: familySchema.optional(),
  community: z.array(communitySchema).optional(),
  largeCommunity: z.array(largeCommunitySchema).optional(),
  extCommunity: z.array(extCommunitySchema).optional(),
  asPath: regexSchema('an AS-path pattern').optional(),
  asPathContains: z.array(asnSchema).optional(),
  originAs: z.array(asnSchema).optional(),
  nextHop: z.array(z.union([prefixSchema, ipAddressSchema])).optional(),
  neighbor: z.array(z.union([prefixSchema, ipAddressSchema])).optional(),
});

const policySetSchema = z.strictObject({
  localPref: u32('a local preference').optional(),
  med: u32('a MED').optional(),
  communities: communityEditSchema(communitySchema).optional(),
  largeCommunities: communityEditSchema(largeCommunitySchema).optional(),
  asPathPrepend: z
    .strictObject({ asn: asnSchema.optional(), count: z.number().int().min(1).max(16).default(1) })
    .optional(),
  nextHop: z.union([z.literal('self'), z.literal('unchanged'), ipAddressSchema]).optional(),
});

const policyTermSchema = z.strictObject({
  name: nameSchema.optional(),
  match: policyMatchSchema.default({}),
  set: policySetSchema.optional(),
  action: z.enum(['accept', 'reject', 'continue']).default('accept'),
});

export const policySchema = z.strictObject({
  terms: z.array(policyTermSchema).default([]),
  default: z.enum(['accept', 'reject']).default('reject'),
});

// ---- neighbours -------------------------------------------------------------------------------

const addPathSchema = z.strictObject({
  receive: z.boolean().default(false),
  /** false, true (all paths) or the maximum number of paths to send per prefix. */
  send: z.union([z.boolean(), z.number().int().min(2).max(64)]).default(false),
});

const maxPrefixSchema = z.strictObject({
  limit: z.number().int().min(1),
  warningPercent: z.number().int().min(1).max(100).default(75),
  /** Seconds after which a session torn down for exceeding the limit restarts; absent: stays down. */
  restartAfter: seconds('the restart delay', 1, 86400).optional(),
});

export const neighborSchema = z.strictObject({
  name: nameSchema.optional(),
  address: ipAddressSchema.optional(),
  /** A prefix from which inbound sessions are accepted (dynamic neighbours, a "listen range"). */
  range: prefixSchema.optional(),
  asn: remoteAsnSchema,
  localAddress: ipAddressSchema.optional(),
  port: port.default(DEFAULTS.port),
  passive: z.boolean().default(false),
  holdTime: holdTimeSchema.default(DEFAULTS.holdTime),
  keepaliveTime: seconds('the keepalive time', 1, 21845).optional(),
  connectRetry: seconds('the connect retry time', 1, 65535).default(DEFAULTS.connectRetry),
  connectRetryMax: seconds('the maximum connect retry time', 1, 65535).default(DEFAULTS.connectRetryMax),
  idleHold: seconds('the idle hold time', 1, 65535).default(DEFAULTS.idleHold),
  idleHoldMax: seconds('the maximum idle hold time', 1, 65535).default(DEFAULTS.idleHoldMax),
  errorForget: seconds('the error forget time', 1, 86400).default(DEFAULTS.errorForget),
  families: z.array(familySchema).min(1, 'name at least one family').optional(),
  description: z.string().max(200).optional(),
  shutdown: z.boolean().default(false),
  addPath: addPathSchema.optional(),
  gracefulRestart: z.enum(['disabled', 'helper', 'enabled']).default('disabled'),
  import: z.array(nameSchema).optional(),
  export: z.array(nameSchema).optional(),
  routeReflectorClient: z.boolean().default(false),
  allowasIn: z.number().int().min(1).max(10).optional(),
  maxPrefix: z.partialRecord(familySchema, maxPrefixSchema).optional(),
  /** Keep the peer's pre-policy routes so import policy changes re-run locally (else ROUTE-REFRESH). */
  softReconfigurationInbound: z.boolean().default(false),
  /** Advertise enhanced route refresh (RFC 7313): BoRR/EoRR demarcate a re-sent table. */
  enhancedRouteRefresh: z.boolean().default(true),
  ttlSecurity: z.boolean().default(false),
  multihop: z.number().int().min(1).max(255).optional(),
});

// ---- originated prefixes ----------------------------------------------------------------------

export const originateSchema = z.union([
  prefixSchema.transform((prefix) => ({ prefix })),
  z.strictObject({
    prefix: prefixSchema,
    communities: z.array(communitySchema).optional(),
    largeCommunities: z.array(largeCommunitySchema).optional(),
    med: u32('a MED').optional(),
    localPref: u32('a local preference').optional(),
    nextHop: ipAddressSchema.optional(),
  }),
]);

// ---- dataplane (issue 5) ----------------------------------------------------------------------

const poolSchema = z.strictObject({
  cidr: prefixSchema,
  ipipMode: z
    .enum(['Always', 'CrossSubnet', 'Never'], {
      error: 'ipipMode is Always, CrossSubnet or Never',
    })
    .default('Never'),
  blockSize: z.number().int().min(0).max(128).optional(),
  disabled: z.boolean().default(false),
});

const kernelSchema = z.strictObject({
  enabled: z.boolean().default(true),
  table: z.union([z.literal('main'), z.number().int().min(1).max(0xffffffff)]).default('main'),
  /** rtm_protocol of our routes; 186 is RTPROT_BGP. 0..4 are the kernel's own and are refused. */
  protocol: z
    .number()
    .int()
    .min(5, 'protocols 0..4 belong to the kernel')
    .max(255)
    .default(DEFAULTS.kernelProtocol),
  /** Keep our routes in the kernel when the daemon stops (BIRD's `persist`); implied by graceful restart. */
  persist: z.boolean().optional(),
  ecmp: z.boolean().default(true),
});

const ipipSchema = z.strictObject({
  device: z.string().min(1).max(15).default('tunl0'),
  tunnelAddress: ipv4Schema.optional(),
});

const mtuSchema = z.strictObject({
  /** Fixed tunnel MTU; absent: detected from the host interface (host MTU - 20, multiple of 4). */
  override: z.number().int().min(576).max(65535).optional(),
  /** Where the workload MTU is written for a CNI plugin. */
  file: z.string().min(1).optional(),
  /** Interfaces considered when the peering interface cannot be found (regular expression). */
  interfacePattern: regexSchema('an interface pattern').default(DEFAULTS.mtuInterfacePattern),
});

const workloadsSchema = z.strictObject({
  interfacePatterns: z.array(interfaceGlob).default(['cali*']),
  /** Originate the pool blocks holding workloads (with a local blackhole) instead of each /32. */
  aggregateToBlocks: z.boolean().default(false),
  communities: z.array(communitySchema).optional(),
});

// ---- the whole file ---------------------------------------------------------------------------

export const configSchema = z.strictObject({
  asn: asnSchema,
  routerId: ipv4Schema.optional(),
  listen: z
    .strictObject({
      addresses: z.array(ipAddressSchema).default(['0.0.0.0', '::']),
      port: port.default(DEFAULTS.port),
    })
    .default({ addresses: ['0.0.0.0', '::'], port: DEFAULTS.port }),
  neighbors: z.array(neighborSchema).default([]),
  originate: z.array(originateSchema).default([]),
  prefixLists: z.record(nameSchema, z.array(prefixListEntrySchema)).default({}),
  policies: z.record(nameSchema, policySchema).default({}),
  routeReflector: z
    .strictObject({
      /** Defaults to the router-id (RFC 4456 §7). */
      clusterId: z.union([ipv4Schema, u32('a cluster ID')]).optional(),
    })
    .optional(),
  bestPath: z
    .strictObject({
      multipath: z.number().int().min(1).max(64).default(1),
      multipathRelaxAsPath: z.boolean().default(false),
      alwaysCompareMed: z.boolean().default(false),
      missingMedAsWorst: z.boolean().default(false),
    })
    .optional(),
  gracefulRestart: z
    .strictObject({
      restartTime: seconds('the restart time', 1, 4095).default(DEFAULTS.grRestartTime),
      stalePathTime: seconds('the stale path time', 1, 3600).default(DEFAULTS.grStalePathTime),
      notification: z.boolean().default(true),
    })
    .optional(),
  kernel: kernelSchema.optional(),
  pools: z.array(poolSchema).default([]),
  ipip: ipipSchema.optional(),
  mtu: mtuSchema.optional(),
  workloads: workloadsSchema.optional(),
  /** A synthetic table through a scratch routing stack before the sessions start (warm-up.ts). */
  warmUp: z
    .strictObject({
      routes: z.number().int().min(0).max(1_000_000).default(DEFAULTS.warmUpRoutes),
      /** Keep V8's young generation at its working size while idle (young-generation.ts). */
      keepWarm: z.boolean().default(DEFAULTS.warmUpKeepWarm),
    })
    .optional(),
  control: z
    .strictObject({
      socket: z.string().min(1).optional(),
      /** Group given the socket (and its directory, when the daemon creates it), like FRR's frrvty. */
      group: z
        .union([z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/i, 'not a group name'), z.number().int().min(0)])
        .optional(),
    })
    .optional(),
});

export type RawConfig = z.output<typeof configSchema>;
export type RawNeighbor = z.output<typeof neighborSchema>;
export type Policy = z.output<typeof policySchema>;
export type PrefixListEntry = z.output<typeof prefixListEntrySchema>;
