// NOTIFICATION names, error constructors and RFC 9003 shutdown communication.

import type { AttributeError, CodecError, DecodeResult, NotificationContent } from './types.ts';

const EMPTY = new Uint8Array(0);

const CODE_NAMES: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

const SUBCODE_NAMES: Record<number, Record<number, string>> = {
  1: { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  2: {
    1: 'Unsupported Version Number',
    2: 'Bad Peer AS',
    3: 'Bad BGP Identifier',
    4: 'Unsupported Optional Parameter',
    5: 'Authentication Failure (deprecated)',
    6: 'Unacceptable Hold Time',
    7: 'Unsupported Capability',
    11: 'Role Mismatch',
  },
  3: {
    1: 'Malformed Attribute List',
    2: 'Unrecognized Well-known Attribute',
    3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error',
    5: 'Attribute Length Error',
    6: 'Invalid ORIGIN Attribute',
    7: 'AS Routing Loop (deprecated)',
    8: 'Invalid NEXT_HOP Attribute',
    9: 'Optional Attribute Error',
    10: 'Invalid Network Field',
    11: 'Malformed AS_PATH',
  },
  5: {
    0: 'Unspecified Error',
    1: 'Receive Unexpected Message in OpenSent State',
    2: 'Receive Unexpected Message in OpenConfirm State',
    3: 'Receive Unexpected Message in Established State',
  },
  6: {
    1: 'Maximum Number of Prefixes Reached',
    2: 'Administrative Shutdown',
    3: 'Peer De-configured',
    4: 'Administrative Reset',
    5: 'Connection Rejected',
    6: 'Other Configuration Change',
    7: 'Connection Collision Resolution',
    8: 'Out of Resources',
    9: 'Hard Reset',
    10: 'BFD Down',
  },
  7: { 1: 'Invalid Message Length' },
};

/** 'Cease' / 'Unknown error code 9'. */
export function notificationCodeName(code: number): string {
  return CODE_NAMES[code] ?? `Unknown error code ${code}`;
}

/** 'Administrative Shutdown', 'Unspecific' for subcode 0 (RFC 4271 §4.5), or 'Unknown subcode N'. */
export function notificationSubcodeName(code: number, subcode: number): string {
  const name = SUBCODE_NAMES[code]?.[subcode];
  if (name !== undefined) return name;
  if (subcode === 0) return 'Unspecific';
  return `Unknown subcode ${subcode}`;
}

/** 'Cease / Administrative Shutdown' */
export function notificationName(code: number, subcode: number): string {
  return `${notificationCodeName(code)} / ${notificationSubcodeName(code, subcode)}`;
}

export function codecError(
  code: number,
  subcode: number,
  data: Uint8Array,
  reason: string,
  attributeCode?: number,
): CodecError {
  const notification: NotificationContent = { code, subcode, data };
  return attributeCode === undefined
    ? { action: 'session-reset', notification, reason }
    : { action: 'session-reset', notification, reason, attributeCode };
}

export function fail<T>(
  code: number,
  subcode: number,
  data: Uint8Array,
  reason: string,
  attributeCode?: number,
): DecodeResult<T> {
  return { ok: false, error: codecError(code, subcode, data ?? EMPTY, reason, attributeCode) };
}

export function attributeError(
  action: AttributeError['action'],
  attributeCode: number,
  reason: string,
): AttributeError {
  return { action, attributeCode, reason };
}

/** 2-octet big-endian value, as NOTIFICATION data (e.g. Bad Message Length, RFC 4271 §6.1). */
export function u16Data(value: number): Uint8Array {
  return new Uint8Array([(value >>> 8) & 0xff, value & 0xff]);
}

// RFC 9003 §2: Cease subcodes 2 (Administrative Shutdown) and 4 (Administrative Reset) may carry a
// shutdown communication: one length octet then that many octets of UTF-8, at most 255.

export const SHUTDOWN_COMMUNICATION_MAX_BYTES = 255;

export type ShutdownCommunication =
  | { readonly ok: true; readonly message: string; readonly trailing: Uint8Array }
  | { readonly ok: false; readonly reason: string };

/** Whether (code, subcode) may carry an RFC 9003 shutdown communication. */
export function carriesShutdownCommunication(code: number, subcode: number): boolean {
  return code === 6 && (subcode === 2 || subcode === 4);
}

/**
 * Decodes the RFC 9003 shutdown communication from NOTIFICATION data. Empty data is an empty
 * message. Invalid UTF-8 or a length beyond the data is reported (RFC 9003 §3: log, do not act).
 */
export function decodeShutdownCommunication(data: Uint8Array): ShutdownCommunication {
  if (data.length === 0) return { ok: true, message: '', trailing: EMPTY };
  const len = data[0]!;
  if (1 + len > data.length)
    return {
      ok: false,
      reason: `shutdown communication length ${len} exceeds data (${data.length - 1} bytes)`,
    };
  const body = data.subarray(1, 1 + len);
  let message: string;
  try {
    message = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return { ok: false, reason: 'shutdown communication is not valid UTF-8' };
  }
  return { ok: true, message, trailing: data.slice(1 + len) };
}

/**
 * Encodes a shutdown communication as NOTIFICATION data, truncating to 255 bytes on a UTF-8
 * character boundary (RFC 9003 §2 limits it to 255 octets).
 */
export function encodeShutdownCommunication(message: string): Uint8Array {
  let bytes = new TextEncoder().encode(message);
  if (bytes.length > SHUTDOWN_COMMUNICATION_MAX_BYTES) {
    let cut = SHUTDOWN_COMMUNICATION_MAX_BYTES;
    // back off continuation bytes (10xxxxxx) so the cut lands on a character start
    while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
    bytes = bytes.subarray(0, cut);
  }
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}
