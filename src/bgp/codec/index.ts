// Public API of the BGP-4 wire codec. Nothing here depends on sessions, RIBs or I/O.
export * from './address.ts';
export * from './aspath.ts';
export {
  ATTRIBUTE_TABLE,
  type AttributeDecodeOptions,
  type AttributeSpec,
  applyAs4Merge,
  attributeName,
  decodedAttributes,
  decodePathAttributes,
  encodePathAttributes,
  encodePathAttributesWithin,
  FIELD_KINDS,
  pathAttributesLength,
  settleFields,
  uniformAttributes,
} from './attributes.ts';
export {
  capabilityCode,
  capabilityCodec,
  capabilityValueLength,
  decodeCapabilityValue,
} from './capabilities.ts';
export * from './errors.ts';
export { BgpFrameReader } from './framer.ts';
export {
  decodeHeader,
  decodeMessage,
  decodeMessageAt,
  encodeEndOfRib,
  encodeKeepalive,
  encodeMessage,
  encodeNotification,
  encodeRouteRefresh,
  endOfRibFamily,
  endOfRibMessage,
  type MessageHeader,
  messageCodec,
  messageLength,
  writeMessage,
} from './messages.ts';
export { PrefixRangeGroup, packUpdates } from './packer.ts';
export * from './prefix.ts';
export * from './types.ts';
