// Building our OPEN and validating the peer's: RFC 4271 §4.2 / §6.2, RFC 6793 (4-octet AS),
// RFC 6286 (BGP Identifier), RFC 5492 (capabilities) and the capability RFCs that change how a
// session behaves. Pure functions: the result is either the negotiated session parameters or the
// NOTIFICATION to send.

import {
  AddPathMode,
  AS_TRANS,
  type Capability,
  CapabilityCode,
  type CodecOptions,
  Family,
  type FamilyKey,
  familyAfi,
  familyKey,
  familyName,
  familySafi,
  NotificationCode,
  type NotificationContent,
  type OpenMessage,
  OpenMessageErrorSubcode,
} from '../codec/index.ts';

export type AddPathDirection = 'receive' | 'send' | 'both';

/** What we offer in our OPEN; all of it comes from configuration. */
export interface LocalOpenConfig {
  readonly localAs: number;
  /** BGP Identifier as an unsigned 32-bit integer. */
  readonly routerId: number;
  /** Hold time we propose: 0, or 3..65535 (§4.2). */
  readonly holdTime: number;
  readonly families: readonly FamilyKey[];
  /** RFC 7911, per family. */
  readonly addPath?: ReadonlyMap<FamilyKey, AddPathDirection>;
  /** RFC 8654 */
  readonly extendedMessage?: boolean;
  /** RFC 2918 route refresh is always offered; RFC 7313 enhanced route refresh on request. */
  readonly enhancedRouteRefresh?: boolean;
  /** RFC 4724 (+ RFC 8538 N bit): advertise the graceful-restart capability. */
  readonly gracefulRestart?: GracefulRestartConfig;
  /** Capabilities without which we refuse the session (RFC 5492 §5; BIRD `require ...`). */
  readonly requiredCapabilities?: readonly RequirableCapability[];
}

/**
 * Our side of graceful restart (RFC 4724 §3, RFC 8538 §2). Every family of the session is listed
 * in the capability, so the peer keeps our routes of all of them across our restart (§4.2: a
 * family not listed is flushed at once).
 */
export interface GracefulRestartConfig {
  /** Restart Time (seconds, 12 bits): how long the peer keeps our routes while we are away. */
  readonly restartTime: number;
  /**
   * Forwarding State (F) bit of every family: our kernel routes persist across a restart of the
   * daemon. Clear: the peer deletes our stale routes as soon as we reconnect (§4.2).
   */
  readonly forwardingPreserved?: boolean;
  /** RFC 8538 N bit: a NOTIFICATION other than Hard Reset keeps graceful restart going. Default true. */
  readonly notification?: boolean;
  /**
   * Restart State (R) bit: set in the OPENs of a daemon that has just restarted gracefully, until
   * its initial End-of-RIBs are sent (§4.1).
   */
  readonly restarting?: boolean;
  /**
   * Receiving-speaker procedures only (BIRD's `graceful restart aware`): the capability lists no
   * family (§3), so peers flush our routes as soon as we go. Overrides forwardingPreserved.
   */
  readonly helperOnly?: boolean;
}

export type RequirableCapability =
  | 'four-octet-as'
  | 'route-refresh'
  | 'enhanced-route-refresh'
  | 'extended-message'
  | 'add-path'
  | 'graceful-restart';

/** What we expect of the peer (from the neighbour's configuration). */
export interface PeerExpectation {
  /** The configured remote AS, or a predicate for dynamic neighbours that accept a set of ASNs. */
  readonly remoteAs: number | ((asn: number) => boolean);
  /** iBGP when the peer's AS equals ours. */
}

/** The session parameters both sides agreed on (RFC 5492 §3: intersection of what both sent). */
export interface Negotiated {
  readonly peerAs: number;
  readonly peerId: number;
  readonly internal: boolean;
  /** The peer's proposed hold time and the negotiated one (§4.2: the lower). */
  readonly peerHoldTime: number;
  readonly holdTime: number;
  readonly keepaliveTime: number;
  readonly fourOctetAs: boolean;
  readonly extendedMessage: boolean;
  readonly routeRefresh: boolean;
  readonly enhancedRouteRefresh: boolean;
  /** Families both sides advertised (RFC 4760 §8; IPv4 unicast implied when the peer sent none). */
  readonly families: readonly FamilyKey[];
  /** ADD-PATH families per direction (RFC 7911 §4): we receive path ids / we send path ids. */
  readonly addPathReceive: ReadonlySet<FamilyKey>;
  readonly addPathSend: ReadonlySet<FamilyKey>;
  /** The peer's graceful-restart capability, as received (RFC 4724). */
  readonly peerGracefulRestart?: Extract<Capability, { kind: 'graceful-restart' }>;
  /** Both sides advertised graceful restart (RFC 4724 §3). */
  readonly gracefulRestart: boolean;
  /**
   * RFC 8538 §2: both sides advertised the N bit. Then a NOTIFICATION other than Cease/Hard
   * Reset keeps graceful restart going, and operator resets are sent as Hard Reset.
   */
  readonly gracefulRestartNotification: boolean;
  /** Codec options for decoding what the peer sends, and for encoding what we send. */
  readonly receiveOptions: CodecOptions;
  readonly sendOptions: CodecOptions;
  /** Everything the peer advertised, for `show neighbor`. */
  readonly peerCapabilities: readonly Capability[];
}

export type OpenValidation =
  | { readonly ok: true; readonly negotiated: Negotiated }
  | { readonly ok: false; readonly notification: NotificationContent; readonly reason: string };

/** Our capabilities, in the order FRR and BIRD send them. */
export function localCapabilities(cfg: LocalOpenConfig): Capability[] {
  const caps: Capability[] = [];
  for (const f of cfg.families) caps.push({ kind: 'multiprotocol', afi: familyAfi(f), safi: familySafi(f) });
  caps.push({ kind: 'route-refresh' });
  if (cfg.enhancedRouteRefresh) caps.push({ kind: 'enhanced-route-refresh' });
  if (cfg.extendedMessage) caps.push({ kind: 'extended-message' });
  caps.push({ kind: 'four-octet-as', asn: cfg.localAs >>> 0 });
  if (cfg.addPath && cfg.addPath.size > 0) {
    const families = [...cfg.addPath]
      .filter(([f]) => cfg.families.includes(f))
      .map(([f, d]) => ({
        afi: familyAfi(f),
        safi: familySafi(f),
        mode: d === 'both' ? AddPathMode.Both : d === 'send' ? AddPathMode.Send : AddPathMode.Receive,
      }));
    if (families.length > 0) caps.push({ kind: 'add-path', families });
  }
  const gr = cfg.gracefulRestart;
  if (gr) {
    const forwardingState = gr.forwardingPreserved ?? false;
    caps.push({
      kind: 'graceful-restart',
      restartState: gr.restarting ?? false,
      notification: gr.notification ?? true,
      restartTime: Math.max(0, Math.min(4095, Math.floor(gr.restartTime))),
      // §3: the families we can keep forwarding for; listing none tells the peer to flush our
      // routes on session loss, so every family of the session goes in.
      families: gr.helperOnly
        ? []
        : cfg.families.map((f) => ({ afi: familyAfi(f), safi: familySafi(f), forwardingState })),
    });
  }
  return caps;
}

/** Our OPEN (§4.2): 4-octet ASNs go in the capability with AS_TRANS in My AS (RFC 6793 §4.1). */
export function buildOpen(cfg: LocalOpenConfig): OpenMessage {
  return {
    type: 'open',
    version: 4,
    myAs: cfg.localAs > 0xffff ? AS_TRANS : cfg.localAs,
    holdTime: cfg.holdTime,
    bgpId: cfg.routerId >>> 0,
    capabilities: localCapabilities(cfg),
  };
}

function openError(subcode: number, reason: string, data: Uint8Array = new Uint8Array(0)): OpenValidation {
  return { ok: false, notification: { code: NotificationCode.OpenMessageError, subcode, data }, reason };
}

/** RFC 5492 §5 data for "Unsupported Capability": the capability headers (code, length 0) we require. */
function unsupportedCapabilityData(codes: readonly number[]): Uint8Array {
  const out = new Uint8Array(codes.length * 2);
  codes.forEach((c, i) => {
    out[i * 2] = c;
  });
  return out;
}

const requirableCode: Record<RequirableCapability, number> = {
  'four-octet-as': CapabilityCode.FourOctetAs,
  'route-refresh': CapabilityCode.RouteRefresh,
  'enhanced-route-refresh': CapabilityCode.EnhancedRouteRefresh,
  'extended-message': CapabilityCode.ExtendedMessage,
  'add-path': CapabilityCode.AddPath,
  'graceful-restart': CapabilityCode.GracefulRestart,
};

function ipv4Text(id: number): string {
  return `${id >>> 24}.${(id >>> 16) & 0xff}.${(id >>> 8) & 0xff}.${id & 0xff}`;
}

/**
 * Validates a received OPEN against our configuration (§6.2) and negotiates capabilities.
 * Unknown capabilities are ignored (RFC 5492 §3); only a capability listed as required and
 * missing from the peer's OPEN yields "Unsupported Capability".
 */
export function validateOpen(
  open: OpenMessage,
  local: LocalOpenConfig,
  expect: PeerExpectation,
): OpenValidation {
  // §6.2: version. Data is the largest locally supported version, 2 octets.
  if (open.version !== 4) {
    return openError(
      OpenMessageErrorSubcode.UnsupportedVersionNumber,
      `unsupported version ${open.version}`,
      new Uint8Array([0, 4]),
    );
  }

  const caps = open.capabilities;
  const as4 = caps.find(
    (c): c is Extract<Capability, { kind: 'four-octet-as' }> => c.kind === 'four-octet-as',
  );
  // RFC 6793 §4.1/§4.2: a NEW speaker's real AS is in the capability; My AS carries AS_TRANS
  // when it does not fit. An OLD speaker cannot legitimately send AS_TRANS.
  let peerAs: number;
  if (as4) {
    peerAs = as4.asn >>> 0;
  } else {
    if (open.myAs === AS_TRANS) {
      return openError(
        OpenMessageErrorSubcode.BadPeerAs,
        'peer sent AS_TRANS as My AS without the 4-octet AS capability',
        new Uint8Array([0x5b, 0xa0]),
      );
    }
    peerAs = open.myAs;
  }
  const expected = expect.remoteAs;
  const asOk = peerAs !== 0 && (typeof expected === 'number' ? peerAs === expected >>> 0 : expected(peerAs));
  if (!asOk) {
    const want = typeof expected === 'number' ? `expected ${expected}` : 'not in the accepted set';
    return openError(
      OpenMessageErrorSubcode.BadPeerAs,
      `bad peer AS ${peerAs} (${want})`,
      new Uint8Array([(open.myAs >>> 8) & 0xff, open.myAs & 0xff]),
    );
  }
  const internal = peerAs === local.localAs >>> 0;

  // §4.2 / §6.2: hold time 0 or >= 3; 1 and 2 are refused.
  if (open.holdTime === 1 || open.holdTime === 2) {
    return openError(OpenMessageErrorSubcode.UnacceptableHoldTime, `unacceptable hold time ${open.holdTime}`);
  }

  // RFC 6286 §2.2: the identifier is a non-zero 32-bit value; within an AS it must be unique, so an
  // iBGP peer using ours is refused. (eBGP peers may share an identifier with us.)
  const peerId = open.bgpId >>> 0;
  if (peerId === 0) return openError(OpenMessageErrorSubcode.BadBgpIdentifier, 'BGP Identifier 0');
  if (internal && peerId === local.routerId >>> 0) {
    return openError(
      OpenMessageErrorSubcode.BadBgpIdentifier,
      `iBGP peer uses our BGP Identifier ${ipv4Text(peerId)}`,
    );
  }

  // Families: RFC 4760 §8 — a peer that sends no Multiprotocol capability speaks IPv4 unicast only.
  const peerFamilies = new Set<FamilyKey>();
  for (const c of caps) if (c.kind === 'multiprotocol') peerFamilies.add(familyKey(c.afi, c.safi));
  if (!caps.some((c) => c.kind === 'multiprotocol')) peerFamilies.add(Family.IPv4Unicast);
  const families = local.families.filter((f) => peerFamilies.has(f));
  if (families.length === 0) {
    // FRR and BIRD refuse a session with no family in common; RFC 5492 §5 names our MP capabilities.
    const data: number[] = [];
    for (const f of local.families)
      data.push(CapabilityCode.Multiprotocol, 4, familyAfi(f) >> 8, familyAfi(f) & 0xff, 0, familySafi(f));
    return openError(
      OpenMessageErrorSubcode.UnsupportedCapability,
      `no address family in common (we offer ${local.families.map(familyName).join(', ')}; peer offers ${[...peerFamilies].map(familyName).join(', ') || 'none'})`,
      new Uint8Array(data),
    );
  }

  const has = (kind: Capability['kind']): boolean => caps.some((c) => c.kind === kind);
  const missing = (local.requiredCapabilities ?? []).filter((k) => !has(k));
  if (missing.length > 0) {
    return openError(
      OpenMessageErrorSubcode.UnsupportedCapability,
      `peer lacks required capabilities: ${missing.join(', ')}`,
      unsupportedCapabilityData(missing.map((k) => requirableCode[k])),
    );
  }

  // RFC 7911 §4: we receive path ids for a family if we asked to receive and the peer can send.
  const addPathReceive = new Set<FamilyKey>();
  const addPathSend = new Set<FamilyKey>();
  const peerAddPath = new Map<FamilyKey, number>();
  for (const c of caps) {
    if (c.kind === 'add-path') for (const f of c.families) peerAddPath.set(familyKey(f.afi, f.safi), f.mode);
  }
  for (const f of families) {
    const ours = local.addPath?.get(f);
    const theirs = peerAddPath.get(f) ?? 0;
    if (!ours) continue;
    if ((ours === 'receive' || ours === 'both') && (theirs & AddPathMode.Send) !== 0) addPathReceive.add(f);
    if ((ours === 'send' || ours === 'both') && (theirs & AddPathMode.Receive) !== 0) addPathSend.add(f);
  }

  const fourOctetAs = as4 !== undefined;
  const extendedMessage = (local.extendedMessage ?? false) && has('extended-message');
  const holdTime = Math.min(local.holdTime, open.holdTime);
  const gr = caps.find(
    (c): c is Extract<Capability, { kind: 'graceful-restart' }> => c.kind === 'graceful-restart',
  );
  const negotiated: Negotiated = {
    peerAs,
    peerId,
    internal,
    peerHoldTime: open.holdTime,
    holdTime,
    keepaliveTime: Math.floor(holdTime / 3),
    fourOctetAs,
    extendedMessage,
    routeRefresh: has('route-refresh'),
    enhancedRouteRefresh: (local.enhancedRouteRefresh ?? false) && has('enhanced-route-refresh'),
    families,
    addPathReceive,
    addPathSend,
    ...(gr ? { peerGracefulRestart: gr } : {}),
    gracefulRestart: local.gracefulRestart !== undefined && gr !== undefined,
    gracefulRestartNotification:
      local.gracefulRestart !== undefined &&
      (local.gracefulRestart.notification ?? true) &&
      (gr?.notification ?? false),
    // Frozen, as DEFAULT_CODEC_OPTIONS (used until the OPENs are exchanged) is: one hidden class
    // for every options object the decoder meets, or the first session after the warm-up threw
    // its optimised code away ("wrong map" at maxMessageLength in --trace-deopt-verbose).
    receiveOptions: Object.freeze({ fourOctetAs, extendedMessage, addPath: addPathReceive }),
    sendOptions: Object.freeze({ fourOctetAs, extendedMessage, addPath: addPathSend }),
    peerCapabilities: caps,
  };
  return { ok: true, negotiated };
}
