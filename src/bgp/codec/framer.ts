// Incremental framing of the BGP byte stream (RFC 4271 §4.1): socket chunks in, whole messages out.
// Like pg-protocol's Parser it tolerates a split at every byte, but instead of dispatching it hands
// out raw frames so the session can deal with KEEPALIVE / NOTIFICATION before decoding a backlog
// of UPDATEs. Frames are views of memory the reader never writes again, so they stay valid after
// later push() calls (a frame may be queued and decoded later).

import { decodeHeader } from './messages.ts';
import { BGP_HEADER_LENGTH, BGP_MAX_MESSAGE_LENGTH, type CodecError } from './types.ts';

export class BgpFrameReader {
  /** 4096, or 65535 after RFC 8654 extended messages are negotiated (set it after the OPENs). */
  maxMessageLength: number;
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;
  private end = 0;
  private failure: CodecError | null = null;

  constructor(maxMessageLength = BGP_MAX_MESSAGE_LENGTH) {
    this.maxMessageLength = maxMessageLength;
  }

  /** The header error that stopped framing (send its NOTIFICATION and close), or null. */
  get error(): CodecError | null {
    return this.failure;
  }

  /** Octets received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.end - this.offset;
  }

  /** Appends a socket chunk. The chunk is used in place when nothing is pending (no copy). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.failure !== null) return;
    const pending = this.end - this.offset;
    const incoming = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (pending === 0) {
      this.buffer = incoming;
      this.offset = 0;
      this.end = incoming.length;
      return;
    }
    // Append after the pending bytes. Never compact in place: earlier frames may still view the
    // old memory, so a fresh buffer takes the pending tail plus the chunk. The tail is at most
    // one partial message, so this copies little.
    if (this.end + incoming.length <= this.buffer.length && this.ownsBuffer) {
      incoming.copy(this.buffer, this.end);
      this.end += incoming.length;
      return;
    }
    const need = pending + incoming.length;
    const next = Buffer.allocUnsafe(Math.max(need, Math.min(2 * need, need + this.maxMessageLength)));
    this.buffer.copy(next, 0, this.offset, this.end);
    incoming.copy(next, pending);
    this.buffer = next;
    this.ownsBuffer = true;
    this.offset = 0;
    this.end = need;
  }

  // Whether buffer was allocated here (so the free space after end is ours to write); a buffer
  // adopted from push() belongs to the caller.
  private ownsBuffer = false;

  /**
   * The next whole message (header included) as a view, or null when more bytes are needed or
   * framing has failed (see error). Only the header is validated here (RFC 4271 §6.1); decode the
   * frame with decodeMessage.
   */
  next(): Buffer | null {
    const length = this.nextRange();
    return length === 0 ? null : this.frameBuffer.subarray(this.frameStart, this.frameStart + length);
  }

  /** Where the frame of the last nextRange() lies: frameBuffer[frameStart, frameStart + length). */
  frameBuffer: Buffer = EMPTY_BUFFER;
  frameStart = 0;

  /**
   * As next(), without allocating a view: returns the next frame's length and leaves it in
   * frameBuffer at frameStart (valid until the buffer is dropped by the caller), or 0 when more
   * bytes are needed or framing has failed (see error). A full table is hundreds of thousands of
   * small UPDATEs, and a view object each was most of the framing cost and much of the garbage.
   */
  nextRange(): number {
    if (this.failure !== null) return 0;
    const avail = this.end - this.offset;
    if (avail < BGP_HEADER_LENGTH) return 0;
    const buf = this.buffer;
    const at = this.offset;
    let length = (buf[at + 16]! << 8) | buf[at + 17]!;
    // The common case checked inline; anything else (and every error) goes through decodeHeader.
    let plain = buf[at + 18] === 2 && length >= 23 && length <= this.maxMessageLength;
    for (let i = 0; plain && i < 16; i++) if (buf[at + i] !== 0xff) plain = false;
    if (!plain) {
      const h = decodeHeader(buf, at, this.maxMessageLength);
      if (!h.ok) {
        this.failure = h.error;
        return 0;
      }
      length = h.value.length;
    }
    // decodeHeader guarantees 19 <= length <= the maximum, so framing always advances
    if (avail < length) return 0;
    this.frameBuffer = buf;
    this.frameStart = at;
    this.offset += length;
    if (this.offset === this.end) {
      // everything consumed: drop the reference so the memory can be freed with its frames
      this.buffer = EMPTY_BUFFER;
      this.offset = 0;
      this.end = 0;
      this.ownsBuffer = false;
    }
    return length;
  }

  /** Type octet of a frame returned by next() (1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH). */
  static frameType(frame: Uint8Array): number {
    return frame[18] ?? 0;
  }
}

const EMPTY_BUFFER = Buffer.alloc(0);
