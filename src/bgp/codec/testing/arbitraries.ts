// fast-check arbitraries for valid codec values under random session options. Test-only (imports
// fast-check, a dev dependency); other areas' tests may reuse them.

import fc from 'fast-check';
import { asPathFromSegments, asPathHasFourOctetAs } from '../aspath.ts';
import { PrefixListBuilder } from '../prefix.ts';
import {
  AS_TRANS,
  type AsPath,
  type BgpMessage,
  type Capability,
  CapabilityCode,
  type CodecOptions,
  Family,
  type FamilyKey,
  type MpReach,
  type MpUnreach,
  type NotificationMessage,
  type OpenMessage,
  type PathAttributes,
  type PrefixList,
  type RawAttribute,
  type RouteRefreshMessage,
  type UpdateMessage,
} from '../types.ts';

/** fc.record with ordinary prototypes (decoded values are plain objects). */
function rec<T>(
  model: { [K in keyof T]: fc.Arbitrary<T[K]> },
  constraints?: { requiredKeys: never[]; noNullPrototype: true },
): fc.Arbitrary<T> {
  if (constraints !== undefined) return fc.record(model, constraints) as unknown as fc.Arbitrary<T>;
  return fc.record(model, { noNullPrototype: true });
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 255 });

export const prefixFamilies: readonly FamilyKey[] = [
  Family.IPv4Unicast,
  Family.IPv4Multicast,
  Family.IPv6Unicast,
  Family.IPv6Multicast,
];

export const arbCodecOptions: fc.Arbitrary<CodecOptions> = rec({
  fourOctetAs: fc.boolean(),
  extendedMessage: fc.boolean(),
  addPath: fc.subarray([...prefixFamilies]).map((fs) => new Set<FamilyKey>(fs)),
});

/** A prefix list of afi; with path ids when withPathIds (and non-empty). */
export function arbPrefixList(afi: 1 | 2, withPathIds: boolean, maxCount = 40): fc.Arbitrary<PrefixList> {
  const maxLen = afi === 1 ? 32 : 128;
  const entry = rec({
    len: fc.integer({ min: 0, max: maxLen }),
    words: fc.tuple(u32, u32, u32, u32),
    id: u32,
  });
  return fc.array(entry, { maxLength: maxCount }).map((entries) => {
    const b = new PrefixListBuilder(afi, withPathIds && entries.length > 0, Math.max(1, entries.length));
    for (const e of entries) {
      if (afi === 1) b.addIPv4(e.words[0], e.len, e.id);
      else b.addIPv6(e.words[0], e.words[1], e.words[2], e.words[3], e.len, e.id);
    }
    return b.finish();
  });
}

function arbAsPath(fourOctetAs: boolean): fc.Arbitrary<AsPath> {
  const asn = fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 65536, max: 0xffffffff }));
  const seg = (types: number[], asnArb = asn) =>
    rec({
      type: fc.constantFrom(...types),
      asns: fc.array(asnArb, { minLength: 1, maxLength: 12 }),
    });
  if (fourOctetAs) return fc.array(seg([1, 2, 3, 4]), { maxLength: 5 }).map(asPathFromSegments);
  // Towards a 2-octet peer, AS4_PATH omits confederation segments (RFC 6793 §4.2.2), so the
  // merge restores the path exactly only when they lead the path and hold 2-octet ASNs.
  return fc
    .tuple(
      fc.array(seg([3, 4], fc.integer({ min: 1, max: 65535 })), { maxLength: 2 }),
      fc.array(seg([1, 2]), { maxLength: 4 }),
    )
    .map(([confed, rest]) => asPathFromSegments([...confed, ...rest]));
}

function arbWords(wordsPerItem: number): fc.Arbitrary<Uint32Array> {
  return fc
    .array(u32, { minLength: wordsPerItem, maxLength: wordsPerItem * 12 })
    .map((a) => Uint32Array.from(a.slice(0, a.length - (a.length % wordsPerItem))));
}

const validNextHop = fc.integer({ min: 0x01000000, max: 0xdfffffff });

const knownCodes = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32, 35]);
const arbUnknown: fc.Arbitrary<RawAttribute[]> = fc
  .uniqueArray(
    rec({
      code: fc.integer({ min: 0, max: 255 }).filter((c) => !knownCodes.has(c)),
      data: fc.uint8Array({ maxLength: 300 }),
    }),
    { selector: (u) => u.code, maxLength: 3 },
  )
  .map((us) => us.map((u) => ({ flags: 0xe0, code: u.code, data: u.data })));

function arbMpReach(opts: CodecOptions): fc.Arbitrary<MpReach> {
  const prefixFamily = fc.constantFrom(...prefixFamilies).chain((fam) => {
    const afi = (fam >>> 8) as 1 | 2;
    const nhLen = afi === 1 ? fc.constantFrom(4, 16, 32) : fc.constantFrom(16, 32);
    return rec({
      afi: fc.constant(afi as number),
      safi: fc.constant(fam & 0xff),
      nextHop: nhLen.chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      nlri: arbPrefixList(afi, opts.addPath.has(fam)).map((l): PrefixList | null => l),
      rawNlri: fc.constant(null),
    });
  });
  const otherFamily = rec({
    afi: fc.constantFrom(1, 2, 25, 16388),
    safi: fc.constantFrom(4, 70, 128, 133),
    nextHop: fc.uint8Array({ maxLength: 24 }),
    nlri: fc.constant(null),
    rawNlri: fc.uint8Array({ maxLength: 60 }).map((r): Uint8Array | null => r),
  });
  return fc.oneof({ weight: 4, arbitrary: prefixFamily }, { weight: 1, arbitrary: otherFamily });
}

function arbMpUnreach(opts: CodecOptions): fc.Arbitrary<MpUnreach> {
  const prefixFamily = fc.constantFrom(...prefixFamilies).chain((fam) => {
    const afi = (fam >>> 8) as 1 | 2;
    return rec({
      afi: fc.constant(afi as number),
      safi: fc.constant(fam & 0xff),
      nlri: arbPrefixList(afi, opts.addPath.has(fam)).map((l): PrefixList | null => l),
      rawNlri: fc.constant(null),
    });
  });
  const otherFamily = rec({
    afi: fc.constantFrom(1, 2, 25),
    safi: fc.constantFrom(4, 70, 128),
    nlri: fc.constant(null),
    rawNlri: fc.uint8Array({ maxLength: 40 }).map((r): Uint8Array | null => r),
  });
  return fc.oneof(prefixFamily, otherFamily);
}

/** Attributes as they decode back unchanged (no AS4_* fields: those never go on the wire as given). */
export function arbPathAttributes(opts: CodecOptions): fc.Arbitrary<PathAttributes> {
  return fc
    .record(
      {
        origin: fc.integer({ min: 0, max: 2 }),
        asPath: arbAsPath(opts.fourOctetAs),
        nextHop: validNextHop,
        med: u32,
        localPref: u32,
        atomicAggregate: fc.constant(true),
        aggregator: rec({ asn: u32, address: u32 }),
        communities: arbWords(1),
        originatorId: u32,
        clusterList: arbWords(1),
        mpReach: arbMpReach(opts),
        mpUnreach: arbMpUnreach(opts),
        extendedCommunities: arbWords(2),
        largeCommunities: arbWords(3),
        otc: u32,
        unknown: arbUnknown,
      },
      { requiredKeys: [], noNullPrototype: true },
    )
    .map((a) => {
      const out: PathAttributes = { ...a };
      if (out.unknown !== undefined && out.unknown.length === 0) delete out.unknown;
      // RFC 6793 §4.2.3: a 2-octet AGGREGATOR other than AS_TRANS makes the receiver ignore
      // AS4_PATH, so with 4-octet ASNs in the path the aggregator must be a 4-octet one.
      if (
        !opts.fourOctetAs &&
        out.aggregator !== undefined &&
        out.asPath !== undefined &&
        asPathHasFourOctetAs(out.asPath)
      ) {
        if (out.aggregator.asn <= 0xffff && out.aggregator.asn !== AS_TRANS) {
          out.aggregator = { asn: out.aggregator.asn + 0x10000, address: out.aggregator.address };
        }
      }
      return out;
    });
}

function announces(a: PathAttributes, nlri: PrefixList): boolean {
  const mp = a.mpReach;
  return (
    nlri.count > 0 ||
    (mp !== undefined &&
      ((mp.nlri !== null && mp.nlri.count > 0) || (mp.rawNlri !== null && mp.rawNlri.length > 0)))
  );
}

export function arbUpdate(opts: CodecOptions): fc.Arbitrary<UpdateMessage> {
  const v4AddPath = opts.addPath.has(Family.IPv4Unicast);
  return fc
    .record({
      withdrawn: arbPrefixList(1, v4AddPath),
      attributes: arbPathAttributes(opts),
      nlri: arbPrefixList(1, v4AddPath),
      fillOrigin: fc.integer({ min: 0, max: 2 }),
      fillNextHop: validNextHop,
    })
    .map(({ withdrawn, attributes, nlri, fillOrigin, fillNextHop }) => {
      const a: PathAttributes = { ...attributes };
      if (announces(a, nlri)) {
        // mandatory attributes when routes are announced (RFC 4271 §5, RFC 4760 §3)
        a.origin ??= fillOrigin;
        a.asPath ??= new Uint32Array(0);
        if (nlri.count > 0) a.nextHop ??= fillNextHop;
      }
      return { type: 'update' as const, withdrawn, attributes: a, nlri, treatAsWithdraw: false, errors: [] };
    });
}

const knownCapabilityCodes = new Set<number>(Object.values(CapabilityCode));

export const arbCapability: fc.Arbitrary<Capability> = fc.oneof(
  rec({ kind: fc.constant('multiprotocol' as const), afi: u16, safi: u8 }),
  fc.constant({ kind: 'route-refresh' as const }),
  rec({
    kind: fc.constant('extended-next-hop' as const),
    entries: fc.array(rec({ afi: u16, safi: u16, nextHopAfi: u16 }), { maxLength: 5 }),
  }),
  fc.constant({ kind: 'extended-message' as const }),
  rec({
    kind: fc.constant('graceful-restart' as const),
    restartState: fc.boolean(),
    notification: fc.boolean(),
    restartTime: fc.integer({ min: 0, max: 4095 }),
    families: fc.array(rec({ afi: u16, safi: u8, forwardingState: fc.boolean() }), { maxLength: 5 }),
  }),
  rec({ kind: fc.constant('four-octet-as' as const), asn: u32 }),
  rec({
    kind: fc.constant('add-path' as const),
    families: fc.array(rec({ afi: u16, safi: u8, mode: fc.integer({ min: 1, max: 3 }) }), { maxLength: 5 }),
  }),
  fc.constant({ kind: 'enhanced-route-refresh' as const }),
  rec({
    kind: fc.constant('long-lived-graceful-restart' as const),
    families: fc.array(
      rec({
        afi: u16,
        safi: u8,
        forwardingState: fc.boolean(),
        staleTime: fc.integer({ min: 0, max: 0xffffff }),
      }),
      { maxLength: 5 },
    ),
  }),
  rec({
    kind: fc.constant('fqdn' as const),
    hostname: fc.stringMatching(/^[a-z0-9.-]{0,40}$/),
    domainName: fc.stringMatching(/^[a-z0-9.-]{0,40}$/),
  }),
  rec({ kind: fc.constant('role' as const), role: u8 }),
  rec({
    kind: fc.constant('unknown' as const),
    code: u8.filter((c) => !knownCapabilityCodes.has(c)),
    data: fc.uint8Array({ maxLength: 40 }),
  }),
);

export const arbOpen: fc.Arbitrary<OpenMessage> = fc
  .record({
    myAs: u16,
    holdTime: u16.filter((h) => h !== 1 && h !== 2),
    bgpId: fc.integer({ min: 1, max: 0xffffffff }),
    capabilities: fc.array(arbCapability, { maxLength: 30 }),
    extended: fc.boolean(),
  })
  .map(({ myAs, holdTime, bgpId, capabilities, extended }) =>
    extended
      ? {
          type: 'open' as const,
          version: 4,
          myAs,
          holdTime,
          bgpId,
          capabilities,
          extendedOptionalParameters: true,
        }
      : { type: 'open' as const, version: 4, myAs, holdTime, bgpId, capabilities },
  );

export const arbNotification: fc.Arbitrary<NotificationMessage> = rec({
  type: fc.constant('notification' as const),
  code: u8,
  subcode: u8,
  data: fc.uint8Array({ maxLength: 200 }),
});

export const arbRouteRefresh: fc.Arbitrary<RouteRefreshMessage> = rec({
  type: fc.constant('route-refresh' as const),
  afi: u16,
  safi: u8,
  subtype: u8,
});

export function arbMessage(opts: CodecOptions): fc.Arbitrary<BgpMessage> {
  return fc.oneof(
    arbOpen,
    arbUpdate(opts),
    arbNotification,
    fc.constant({ type: 'keepalive' as const }),
    arbRouteRefresh,
  );
}
