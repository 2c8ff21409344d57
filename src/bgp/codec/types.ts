// Public types and protocol constants of the BGP-4 wire codec.
//
// The codec is independent of sessions and RIBs: every negotiated property that changes the wire
// format is passed in explicitly as CodecOptions (the way GoBGP's packet package takes a
// MarshallingOption). Decoding never throws: it returns a DecodeResult carrying either the value or
// a CodecError with the NOTIFICATION that RFC 4271 §6 / RFC 7606 require.
//
// Compactness rules (hot path): prefixes travel as PrefixList (typed arrays, no per-prefix objects,
// no strings); an UPDATE's path attributes decode to one PathAttributes object; addresses are
// uint32 words (IPv4) or raw bytes (next hops); AS paths are flat Uint32Arrays.

// ---------------------------------------------------------------------------------------------
// Address families (RFC 4760, IANA "Address Family Numbers" / "SAFI Values")

export const Afi = { IPv4: 1, IPv6: 2 } as const;
export type AfiValue = number;

export const Safi = { Unicast: 1, Multicast: 2, Mpls: 4, MplsVpn: 128, FlowSpec: 133 } as const;
export type SafiValue = number;

/** (afi << 8) | safi: a plain number so that ReadonlySet<FamilyKey> lookups are cheap. */
export type FamilyKey = number;

export function familyKey(afi: number, safi: number): FamilyKey {
  return ((afi & 0xffff) << 8) | (safi & 0xff);
}
export function familyAfi(key: FamilyKey): number {
  return key >>> 8;
}
export function familySafi(key: FamilyKey): number {
  return key & 0xff;
}

export const Family = {
  IPv4Unicast: familyKey(1, 1),
  IPv4Multicast: familyKey(1, 2),
  IPv6Unicast: familyKey(2, 1),
  IPv6Multicast: familyKey(2, 2),
} as const;

/** 'ipv4-unicast', 'ipv6-unicast', ... or 'afi-N-safi-M' for families without a name. */
export function familyName(key: FamilyKey): string {
  const afi = familyAfi(key);
  const safi = familySafi(key);
  const a = afi === 1 ? 'ipv4' : afi === 2 ? 'ipv6' : null;
  const s =
    safi === 1
      ? 'unicast'
      : safi === 2
        ? 'multicast'
        : safi === 4
          ? 'mpls'
          : safi === 128
            ? 'vpn'
            : safi === 133
              ? 'flowspec'
              : null;
  return a !== null && s !== null ? `${a}-${s}` : `afi-${afi}-safi-${safi}`;
}

/** Families whose NLRI this codec parses into PrefixLists (plain prefixes: RFC 4271 §4.3 format). */
export function isPrefixFamily(key: FamilyKey): boolean {
  const afi = familyAfi(key);
  const safi = familySafi(key);
  return (afi === 1 || afi === 2) && (safi === 1 || safi === 2);
}

// ---------------------------------------------------------------------------------------------
// Session options

/**
 * Negotiated properties of ONE direction of a session. The caller passes the receive-direction
 * options to decoders and the send-direction options to encoders.
 */
export interface CodecOptions {
  /** RFC 6793: both sides advertised the 4-octet AS capability. */
  readonly fourOctetAs: boolean;
  /** RFC 8654: both sides advertised extended messages; maximum message size 65535 instead of 4096. */
  readonly extendedMessage: boolean;
  /**
   * RFC 7911: families whose NLRI carry a 4-octet path identifier in THIS direction
   * (decode: families we negotiated to receive; encode: families we negotiated to send).
   */
  readonly addPath: ReadonlySet<FamilyKey>;
}

/** Options in force before OPENs are exchanged (and for tests): 2-octet AS, 4096 bytes, no ADD-PATH. */
export const DEFAULT_CODEC_OPTIONS: CodecOptions = Object.freeze({
  fourOctetAs: false,
  extendedMessage: false,
  addPath: new Set<FamilyKey>(),
});

export const BGP_HEADER_LENGTH = 19;
export const BGP_MAX_MESSAGE_LENGTH = 4096;
/** RFC 8654 §4 */
export const BGP_EXTENDED_MAX_MESSAGE_LENGTH = 65535;
/** RFC 6793 §9 */
export const AS_TRANS = 23456;

export function maxMessageLength(opts: CodecOptions): number {
  return opts.extendedMessage ? BGP_EXTENDED_MAX_MESSAGE_LENGTH : BGP_MAX_MESSAGE_LENGTH;
}

// ---------------------------------------------------------------------------------------------
// Prefixes

/**
 * A compact list of prefixes of one address family. Entry i has length lengths[i] and address
 * words words[i*stride .. i*stride+stride-1] (stride 1 for IPv4, 4 for IPv6; big-endian word order,
 * host bits beyond the length are zero). pathIds[i] is the RFC 7911 path identifier when the list
 * came from (or goes to) an ADD-PATH family, else pathIds is null.
 * The arrays may be longer than count; only the first count entries are meaningful.
 */
export interface PrefixList {
  readonly afi: 1 | 2;
  count: number;
  lengths: Uint8Array;
  words: Uint32Array;
  pathIds: Uint32Array | null;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** RFC 7606 §2 error-handling approaches, from most to least severe. */
export type ErrorAction = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard';

/** A NOTIFICATION's content (RFC 4271 §4.5). */
export interface NotificationContent {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

/**
 * A decode failure that ends the session (RFC 4271 §6 / RFC 7606 "session reset"): send
 * `notification`, then close. `reason` is for humans and logs.
 */
export interface CodecError {
  readonly action: 'session-reset';
  readonly notification: NotificationContent;
  readonly reason: string;
  /** Path attribute type code when an attribute caused the error. */
  readonly attributeCode?: number;
}

/** A non-fatal RFC 7606 outcome for one attribute, recorded on the decoded UPDATE. */
export interface AttributeError {
  readonly action: 'treat-as-withdraw' | 'attribute-discard';
  readonly attributeCode: number;
  readonly reason: string;
}

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CodecError };

/** Encoding fails only for messages that do not fit the negotiated maximum size or hold invalid values. */
export type EncodeResult =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: string };

// ---------------------------------------------------------------------------------------------
// NOTIFICATION codes (RFC 4271 §4.5, RFC 4486, RFC 5492, RFC 6608, RFC 7313, RFC 8538, RFC 9234, RFC 9384)

export const NotificationCode = {
  MessageHeaderError: 1,
  OpenMessageError: 2,
  UpdateMessageError: 3,
  HoldTimerExpired: 4,
  FiniteStateMachineError: 5,
  Cease: 6,
  RouteRefreshMessageError: 7,
} as const;

export const MessageHeaderErrorSubcode = {
  ConnectionNotSynchronized: 1,
  BadMessageLength: 2,
  BadMessageType: 3,
} as const;

export const OpenMessageErrorSubcode = {
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  /** deprecated (RFC 4271 Appendix A: Authentication Failure) */
  AuthenticationFailure: 5,
  UnacceptableHoldTime: 6,
  /** RFC 5492 */
  UnsupportedCapability: 7,
  /** RFC 9234 */
  RoleMismatch: 11,
} as const;

export const UpdateMessageErrorSubcode = {
  MalformedAttributeList: 1,
  UnrecognizedWellKnownAttribute: 2,
  MissingWellKnownAttribute: 3,
  AttributeFlagsError: 4,
  AttributeLengthError: 5,
  InvalidOriginAttribute: 6,
  /** deprecated (RFC 4271 Appendix A: AS Routing Loop) */
  AsRoutingLoop: 7,
  InvalidNextHopAttribute: 8,
  OptionalAttributeError: 9,
  InvalidNetworkField: 10,
  MalformedAsPath: 11,
} as const;

/** RFC 6608 */
export const FsmErrorSubcode = {
  Unspecified: 0,
  UnexpectedMessageInOpenSent: 1,
  UnexpectedMessageInOpenConfirm: 2,
  UnexpectedMessageInEstablished: 3,
} as const;

/** RFC 4486 (1-8), RFC 8538 (9), RFC 9384 (10) */
export const CeaseSubcode = {
  MaximumNumberOfPrefixesReached: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
  HardReset: 9,
  BfdDown: 10,
} as const;

/** RFC 7313 §5 */
export const RouteRefreshErrorSubcode = { InvalidMessageLength: 1 } as const;

// ---------------------------------------------------------------------------------------------
// Capabilities (RFC 5492 and the RFCs named per kind)

export const CapabilityCode = {
  Multiprotocol: 1,
  RouteRefresh: 2,
  ExtendedNextHop: 5,
  ExtendedMessage: 6,
  Role: 9,
  GracefulRestart: 64,
  FourOctetAs: 65,
  AddPath: 69,
  EnhancedRouteRefresh: 70,
  LongLivedGracefulRestart: 71,
  Fqdn: 73,
} as const;

/** RFC 7911 §4 Send/Receive field */
export const AddPathMode = { Receive: 1, Send: 2, Both: 3 } as const;

/** RFC 9234 §4.1 */
export const BgpRole = { Provider: 0, RouteServer: 1, RouteServerClient: 2, Customer: 3, Peer: 4 } as const;

export type Capability =
  /** RFC 4760 §8 */
  | { readonly kind: 'multiprotocol'; readonly afi: number; readonly safi: number }
  /** RFC 2918 §3 */
  | { readonly kind: 'route-refresh' }
  /** RFC 8950 §3: NLRI family (afi, safi) may carry next hops of nextHopAfi */
  | {
      readonly kind: 'extended-next-hop';
      readonly entries: readonly {
        readonly afi: number;
        readonly safi: number;
        readonly nextHopAfi: number;
      }[];
    }
  /** RFC 8654 §3 */
  | { readonly kind: 'extended-message' }
  /** RFC 4724 §3: restartState = R bit, notification = N bit (RFC 8538) */
  | {
      readonly kind: 'graceful-restart';
      readonly restartState: boolean;
      readonly notification: boolean;
      /** seconds, 12 bits */
      readonly restartTime: number;
      readonly families: readonly {
        readonly afi: number;
        readonly safi: number;
        readonly forwardingState: boolean;
      }[];
    }
  /** RFC 6793 §3 */
  | { readonly kind: 'four-octet-as'; readonly asn: number }
  /** RFC 7911 §4 */
  | {
      readonly kind: 'add-path';
      readonly families: readonly { readonly afi: number; readonly safi: number; readonly mode: number }[];
    }
  /** RFC 7313 §3 */
  | { readonly kind: 'enhanced-route-refresh' }
  /** RFC 9494 §3: staleTime in seconds, 24 bits */
  | {
      readonly kind: 'long-lived-graceful-restart';
      readonly families: readonly {
        readonly afi: number;
        readonly safi: number;
        readonly forwardingState: boolean;
        readonly staleTime: number;
      }[];
    }
  /** draft-walton-bgp-hostname-capability */
  | { readonly kind: 'fqdn'; readonly hostname: string; readonly domainName: string }
  /** RFC 9234 §4.1 */
  | { readonly kind: 'role'; readonly role: number }
  /** every other capability, kept verbatim */
  | { readonly kind: 'unknown'; readonly code: number; readonly data: Uint8Array };

export type CapabilityKind = Capability['kind'];

// ---------------------------------------------------------------------------------------------
// Path attributes

export const AttributeCode = {
  Origin: 1,
  AsPath: 2,
  NextHop: 3,
  MultiExitDisc: 4,
  LocalPref: 5,
  AtomicAggregate: 6,
  Aggregator: 7,
  Communities: 8,
  OriginatorId: 9,
  ClusterList: 10,
  MpReachNlri: 14,
  MpUnreachNlri: 15,
  ExtendedCommunities: 16,
  As4Path: 17,
  As4Aggregator: 18,
  LargeCommunities: 32,
  OnlyToCustomer: 35,
} as const;

/** RFC 4271 §4.3 attribute flag bits */
export const AttributeFlag = {
  Optional: 0x80,
  Transitive: 0x40,
  Partial: 0x20,
  ExtendedLength: 0x10,
} as const;

export const Origin = { Igp: 0, Egp: 1, Incomplete: 2 } as const;

/** AS_PATH segment types (RFC 4271 §4.3, RFC 5065 §3) */
export const AsPathSegmentType = { AsSet: 1, AsSequence: 2, ConfedSequence: 3, ConfedSet: 4 } as const;

/**
 * A whole AS path as one flat array: for each segment a header word (type << 24) | count, then
 * count ASNs. Segments may be longer than 255 internally (the encoder splits them). Use the
 * helpers asPathFromSegments / asPathSegments / asPathLength / formatAsPath.
 */
export type AsPath = Uint32Array;

export interface Aggregator {
  readonly asn: number;
  /** IPv4 address as uint32 */
  readonly address: number;
}

/**
 * MP_REACH_NLRI (RFC 4760 §3). nextHop holds the raw next hop field (4 or 16 or 32 bytes for the
 * prefix families: IPv6 global followed by link-local when 32). For the families the codec parses
 * (isPrefixFamily) nlri is a PrefixList and rawNlri is null; otherwise nlri is null and rawNlri
 * holds the NLRI bytes verbatim.
 */
export interface MpReach {
  readonly afi: number;
  readonly safi: number;
  readonly nextHop: Uint8Array;
  readonly nlri: PrefixList | null;
  readonly rawNlri: Uint8Array | null;
}

/** MP_UNREACH_NLRI (RFC 4760 §4), same nlri / rawNlri convention as MpReach. */
export interface MpUnreach {
  readonly afi: number;
  readonly safi: number;
  readonly nlri: PrefixList | null;
  readonly rawNlri: Uint8Array | null;
}

/** An attribute the codec does not interpret (optional transitive ones are passed on, RFC 4271 §5). */
export interface RawAttribute {
  readonly flags: number;
  readonly code: number;
  readonly data: Uint8Array;
}

/**
 * All path attributes of one UPDATE, one object. Absent attributes are absent properties.
 * asPath/aggregator always have 4-octet semantics: for a 2-octet peer the decoder has already
 * applied the RFC 6793 §4.2.3 AS4_PATH / AS4_AGGREGATOR merge (and dropped those two), and the
 * encoder produces AS_TRANS + AS4_PATH / AS4_AGGREGATOR itself. as4Path / as4Aggregator appear
 * only when decoding with fourOctetAs=true (e.g. MRT dumps) and are never sent to 4-octet peers.
 */
export interface PathAttributes {
  origin?: number;
  asPath?: AsPath;
  /** IPv4 NEXT_HOP as uint32 */
  nextHop?: number;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  /** RFC 1997: one uint32 per community */
  communities?: Uint32Array;
  /** RFC 4456, uint32 */
  originatorId?: number;
  /** RFC 4456, uint32 cluster ids */
  clusterList?: Uint32Array;
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /** RFC 4360: two uint32 words (high, low) per 8-byte community */
  extendedCommunities?: Uint32Array;
  as4Path?: AsPath;
  as4Aggregator?: Aggregator;
  /** RFC 8092: three uint32 words (global admin, local 1, local 2) per community */
  largeCommunities?: Uint32Array;
  /** RFC 9234 Only To Customer: an ASN */
  otc?: number;
  /** unrecognized optional transitive attributes, in received order (Partial set on re-send) */
  unknown?: RawAttribute[];
}

// ---------------------------------------------------------------------------------------------
// Messages

export const MessageType = { Open: 1, Update: 2, Notification: 3, Keepalive: 4, RouteRefresh: 5 } as const;

export interface OpenMessage {
  readonly type: 'open';
  readonly version: number;
  /** the 2-octet My Autonomous System field (AS_TRANS when the real ASN is in the four-octet-as capability) */
  readonly myAs: number;
  readonly holdTime: number;
  /** BGP Identifier as uint32 */
  readonly bgpId: number;
  /** capabilities of all Capabilities optional parameters, in order (RFC 5492) */
  readonly capabilities: readonly Capability[];
  /**
   * Encode: force the RFC 9072 extended optional-parameters format even when the parameters fit
   * in 255 bytes (the encoder uses it automatically when they do not). Decode: whether the peer used it.
   */
  readonly extendedOptionalParameters?: boolean;
}

export interface UpdateMessage {
  readonly type: 'update';
  /** IPv4 Withdrawn Routes field */
  readonly withdrawn: PrefixList;
  readonly attributes: PathAttributes;
  /** IPv4 NLRI field */
  readonly nlri: PrefixList;
  /**
   * RFC 7606 §2: when true every prefix of this UPDATE (nlri and attributes.mpReach.nlri) must be
   * handled as withdrawn. The reasons are in errors.
   */
  readonly treatAsWithdraw: boolean;
  /** RFC 7606 outcomes of non-fatal attribute errors (empty when the UPDATE was clean) */
  readonly errors: readonly AttributeError[];
}

export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

export interface KeepaliveMessage {
  readonly type: 'keepalive';
}

/** RFC 7313 §3.2 Message Subtype */
export const RouteRefreshSubtype = { Normal: 0, BeginningOfRouteRefresh: 1, EndOfRouteRefresh: 2 } as const;

export interface RouteRefreshMessage {
  readonly type: 'route-refresh';
  readonly afi: number;
  readonly safi: number;
  /** RFC 7313: 0 normal request, 1 BoRR, 2 EoRR (others are reserved and kept) */
  readonly subtype: number;
}

export type BgpMessage =
  | OpenMessage
  | UpdateMessage
  | NotificationMessage
  | KeepaliveMessage
  | RouteRefreshMessage;
export type BgpMessageType = BgpMessage['type'];

// ---------------------------------------------------------------------------------------------
// Encoder input for the UPDATE packer

/**
 * Prefixes of one family sharing one attribute set. For IPv4 unicast without mpNextHop the
 * prefixes go in the NLRI field and attributes.nextHop is the NEXT_HOP; otherwise they go in
 * MP_REACH_NLRI with mpNextHop as its next hop (IPv6: 16 or 32 bytes; RFC 8950 IPv4-over-IPv6).
 * attributes.mpReach / mpUnreach are ignored by the packer.
 */
export interface UpdateGroup {
  readonly family: FamilyKey;
  readonly attributes: PathAttributes;
  readonly prefixes: PrefixList;
  readonly mpNextHop?: Uint8Array;
}

/** Prefixes of one family to withdraw (IPv4 unicast: Withdrawn Routes field; others: MP_UNREACH_NLRI). */
export interface WithdrawGroup {
  readonly family: FamilyKey;
  readonly prefixes: PrefixList;
}

/** A path-attribute block decoded on its own (UPDATE body part, or an MRT RIB entry). */
export interface DecodedAttributes {
  readonly attributes: PathAttributes;
  /** RFC 7606 §2: every prefix announced with these attributes must be handled as withdrawn */
  readonly treatAsWithdraw: boolean;
  readonly errors: readonly AttributeError[];
}

/** Output of packUpdates: whole BGP messages (header included), ready for the socket. */
export interface PackedUpdates {
  /** one Buffer per message (views of chunks; materialised on first access) */
  readonly messages: Buffer[];
  /**
   * The same messages as a few large contiguous Buffers, each holding whole messages in order:
   * write these to the socket (one write per chunk instead of one per message).
   */
  readonly chunks: Buffer[];
  readonly messageCount: number;
  /** prefixes written (announced + withdrawn) */
  readonly prefixCount: number;
  /** groups whose attribute set alone does not fit one message (RFC 4271 §9.2), skipped */
  readonly failed: readonly { readonly group: UpdateGroup; readonly reason: string }[];
}

/** A generic abstract-encoding codec (dns-packet style); every message/attribute/capability codec has one. */
export interface Codec<T> {
  encodingLength(value: T, opts: CodecOptions): number;
  /** writes value at offset; returns the number of bytes written (=== encodingLength) */
  encode(value: T, opts: CodecOptions, buf: Uint8Array, offset: number): number;
  /** decodes exactly buf[start, end) */
  decode(buf: Uint8Array, start: number, end: number, opts: CodecOptions): DecodeResult<T>;
}
