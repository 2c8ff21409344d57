// The session layer's use of the wire codec, in one place: framing, decode, encode, packing, and
// the text of NOTIFICATIONs for logs and `show neighbor`.

import {
  BgpFrameReader,
  type BgpMessage,
  type CodecError,
  type CodecOptions,
  carriesShutdownCommunication,
  decodeMessage as codecDecodeMessage,
  encodeMessage as codecEncodeMessage,
  packUpdates as codecPackUpdates,
  DEFAULT_CODEC_OPTIONS,
  type DecodeResult,
  decodeShutdownCommunication,
  encodeEndOfRib,
  encodeKeepalive,
  type FamilyKey,
  familyKey,
  familyName,
  maxMessageLength,
  notificationName,
  type PackedUpdates,
  type UpdateGroup,
  type WithdrawGroup,
} from '../codec/index.ts';

export type Frame =
  | { readonly ok: true; readonly frame: Buffer }
  | { readonly ok: false; readonly error: CodecError };

/** Cuts whole messages from the TCP byte stream (RFC 4271 §4.1); a header error stops it. */
export class FrameReader {
  private readonly reader: BgpFrameReader;
  private failed = false;

  constructor(opts: CodecOptions) {
    this.reader = new BgpFrameReader(maxMessageLength(opts));
  }

  /** After the OPENs: RFC 8654 raises the maximum message size. */
  setOptions(opts: CodecOptions): void {
    this.reader.maxMessageLength = maxMessageLength(opts);
  }

  push(chunk: Uint8Array): void {
    this.reader.push(chunk);
  }

  private headerError: CodecError | null = null;

  /**
   * The next frame's length, its bytes at frameBuffer[frameStart...] (see BgpFrameReader.nextRange),
   * or 0: more bytes are needed, or a header error that takeError() returns once.
   */
  nextRange(): number {
    if (this.failed) return 0;
    const n = this.reader.nextRange();
    if (n > 0) return n;
    const error = this.reader.error;
    if (error !== null) {
      this.failed = true;
      this.headerError = error;
    }
    return 0;
  }

  get frameBuffer(): Buffer {
    return this.reader.frameBuffer;
  }

  get frameStart(): number {
    return this.reader.frameStart;
  }

  /** The header error that stopped nextRange(), once. */
  takeError(): CodecError | null {
    const e = this.headerError;
    this.headerError = null;
    return e;
  }

  /** The next frame, a header error (once), or null when more bytes are needed. */
  next(): Frame | null {
    if (this.failed) return null;
    const frame = this.reader.next();
    if (frame !== null) return { ok: true, frame };
    const error = this.reader.error;
    if (error !== null) {
      this.failed = true;
      return { ok: false, error };
    }
    return null;
  }

  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }
}

export function decodeMessage(frame: Uint8Array, opts: CodecOptions): DecodeResult<BgpMessage> {
  return codecDecodeMessage(frame, opts);
}

/** Encodes a message we build ourselves; failing to is a bug in our own input, so it throws. */
export function encodeMessage(msg: BgpMessage, opts: CodecOptions): Buffer {
  const r = codecEncodeMessage(msg, opts);
  if (!r.ok) throw new Error(`cannot encode ${msg.type}: ${r.reason}`);
  return r.bytes;
}

export const KEEPALIVE: Buffer = encodeKeepalive();

export function endOfRib(family: FamilyKey): Buffer {
  return encodeEndOfRib(family, DEFAULT_CODEC_OPTIONS);
}

export function packUpdates(
  groups: readonly UpdateGroup[],
  withdrawals: readonly WithdrawGroup[],
  opts: CodecOptions,
): PackedUpdates {
  return codecPackUpdates(groups, withdrawals, opts);
}

/** "Cease / Administrative Shutdown: maintenance" — the RFC 9003 message when there is one. */
export function notificationText(code: number, subcode: number, data: Uint8Array): string {
  const name = notificationName(code, subcode);
  // RFC 8538 §3.1: a Hard Reset carries the original code, subcode and data.
  if (code === 6 && subcode === 9 && data.length >= 2 && !(data[0] === 6 && data[1] === 9)) {
    return `${name} (${notificationText(data[0]!, data[1]!, data.subarray(2))})`;
  }
  // RFC 4486 §4: Maximum Number of Prefixes Reached may carry AFI (2), SAFI (1) and the limit (4).
  if (code === 6 && subcode === 1 && data.length === 7) {
    const afi = (data[0]! << 8) | data[1]!;
    const limit = ((data[3]! << 24) | (data[4]! << 16) | (data[5]! << 8) | data[6]!) >>> 0;
    return `${name} (${familyName(familyKey(afi, data[2]!))}, limit ${limit})`;
  }
  if (carriesShutdownCommunication(code, subcode) && data.length > 0) {
    const c = decodeShutdownCommunication(data);
    if (c.ok) return c.message ? `${name}: ${c.message}` : name;
    return `${name} (${c.reason})`;
  }
  return name;
}
