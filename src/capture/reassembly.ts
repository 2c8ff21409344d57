// TCP stream reassembly (per direction, by sequence number, RFC 9293 §3.4 arithmetic mod 2^32)
// and BGP message framing (RFC 4271 §4.1) over the reassembled bytes. Retransmitted and
// overlapping segments are trimmed to the bytes not yet delivered; out-of-order segments wait
// (up to a bound) until the gap before them is filled. Every BGP message carries the numbers of
// the frames that held its first and last byte.
import { decodePacket, type TcpSegment } from './packet.ts';
import { type CaptureFrame, copy, view } from './pcap.ts';

export interface Endpoint {
  address: string;
  port: number;
}

export interface StreamInfo {
  /** 0-based index of the TCP connection in order of first appearance. */
  stream: number;
  src: Endpoint;
  dst: Endpoint;
  /** Whether src opened the connection (sent the SYN); 'unknown' when the SYN was not captured. */
  direction: 'client-to-server' | 'server-to-client' | 'unknown';
}

export interface CapturedMessage {
  kind: 'message';
  stream: StreamInfo;
  /** The whole BGP message, header included. */
  bytes: Uint8Array;
  /** The frame that carried the message's first byte. */
  firstFrame: number;
  /** The frame that completed the message (its last byte, or the gap before it when out of order). */
  lastFrame: number;
  /** Capture time of lastFrame. */
  timestamp: number;
}

export interface CaptureStreamError {
  kind: 'error';
  stream: StreamInfo;
  frame: number;
  /** What is wrong, e.g. a bad marker or a gap that was never filled. */
  message: string;
}

export type CaptureItem = CapturedMessage | CaptureStreamError;

const MARKER_LEN = 16;
const HEADER_LEN = 19;
/** Out-of-order bytes held per direction before the gap is declared lost. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** a - b in sequence space, as a signed 32-bit difference. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

interface Span {
  /** Offset in the direction's byte stream where this frame's new bytes start. */
  at: number;
  frame: number;
  timestamp: number;
}

class Direction {
  nextSeq: number | undefined;
  /** Reassembled bytes not yet framed into messages. */
  private data: Uint8Array = new Uint8Array(0);
  private dataStart = 0; // stream offset of data[0]
  private delivered = 0; // stream offset just past the last byte received in order
  private spans: Span[] = [];
  private pending = new Map<number, { payload: Uint8Array; frame: CaptureFrame }>();
  private pendingBytes = 0;
  /** Set once the stream is found not to be BGP (or hopelessly broken): it is ignored after. */
  dead = false;
  private sawBgp = false;
  private resyncing = false;
  /** The frame being processed: the one whose arrival completes any message framed now. */
  private current: CaptureFrame | undefined;

  constructor(readonly info: StreamInfo) {}

  /** Takes a segment; returns the messages (and errors) it completes. */
  push(seg: TcpSegment, frame: CaptureFrame, out: CaptureItem[]): void {
    this.current = frame;
    if (seg.syn) {
      // The SYN occupies one sequence number (RFC 9293 §3.4).
      this.nextSeq = (seg.seq + 1) >>> 0;
      if (seg.payload.length === 0) return;
    }
    if (seg.payload.length === 0) return;
    if (this.nextSeq === undefined) this.nextSeq = seg.seq;
    const payloadSeq = seg.syn ? (seg.seq + 1) >>> 0 : seg.seq;
    this.accept(payloadSeq, seg.payload, frame, out);
    // Segments that were waiting for this gap may now fit.
    let progressed = true;
    while (progressed && this.pending.size > 0) {
      progressed = false;
      for (const [seq, p] of this.pending) {
        if (seqDiff(seq, this.nextSeq ?? seq) <= 0) {
          this.pending.delete(seq);
          this.pendingBytes -= p.payload.length;
          this.accept(seq, p.payload, p.frame, out);
          progressed = true;
        }
      }
    }
  }

  private accept(seq: number, payload: Uint8Array, frame: CaptureFrame, out: CaptureItem[]): void {
    const next = this.nextSeq ?? seq;
    const d = seqDiff(seq, next);
    if (d > 0) {
      // A gap: keep the segment until the missing bytes arrive.
      if (!this.pending.has(seq)) {
        this.pending.set(seq, { payload: copy(payload, 0, payload.length), frame });
        this.pendingBytes += payload.length;
      }
      if (this.pendingBytes > MAX_PENDING_BYTES) {
        out.push({
          kind: 'error',
          stream: this.info,
          frame: frame.number,
          message: 'TCP gap never filled (bytes lost from the capture)',
        });
        this.dead = true;
      }
      return;
    }
    // Retransmission or overlap: skip what was already delivered.
    const skip = -d;
    if (skip >= payload.length) return;
    const fresh = view(payload, skip, payload.length);
    this.nextSeq = (next + fresh.length) >>> 0;
    this.spans.push({ at: this.delivered, frame: frame.number, timestamp: frame.timestamp });
    this.delivered += fresh.length;
    this.data = this.data.length === 0 ? copy(fresh, 0, fresh.length) : concat(this.data, fresh);
    this.frame(out);
  }

  private frameAt(offset: number): Span {
    // The last span starting at or before offset.
    let lo = 0;
    let hi = this.spans.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.spans[mid]?.at ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.spans[lo] ?? { at: 0, frame: 0, timestamp: 0 };
  }

  private consume(n: number): void {
    this.data = view(this.data, n, this.data.length);
    this.dataStart += n;
    // Spans wholly before the new start are no longer needed (keep the one covering it).
    let drop = 0;
    while (drop + 1 < this.spans.length && (this.spans[drop + 1]?.at ?? Infinity) <= this.dataStart) drop++;
    if (drop > 0) this.spans.splice(0, drop);
  }

  private frame(out: CaptureItem[]): void {
    for (;;) {
      if (this.resyncing) {
        // After a bad marker, look for the next run of sixteen 0xff bytes.
        const idx = findMarker(this.data);
        if (idx < 0) {
          // Keep the last 15 bytes: a marker may straddle the next segment.
          if (this.data.length > MARKER_LEN) this.consume(this.data.length - (MARKER_LEN - 1));
          return;
        }
        this.consume(idx);
        this.resyncing = false;
      }
      if (this.data.length < HEADER_LEN) return;
      if (!isMarker(this.data)) {
        if (!this.sawBgp) {
          // Not a BGP stream at all (another protocol on this connection): ignore it quietly.
          this.dead = true;
          return;
        }
        const span = this.frameAt(this.dataStart);
        out.push({
          kind: 'error',
          stream: this.info,
          frame: span.frame,
          message: 'BGP marker is not all ones (RFC 4271 §4.1); resynchronising',
        });
        this.resyncing = true;
        continue;
      }
      const length = ((this.data[16] ?? 0) << 8) | (this.data[17] ?? 0);
      if (length < HEADER_LEN) {
        const span = this.frameAt(this.dataStart);
        out.push({
          kind: 'error',
          stream: this.info,
          frame: span.frame,
          message: `BGP length ${length} is below 19 (RFC 4271 §6.1); resynchronising`,
        });
        this.consume(MARKER_LEN);
        this.resyncing = true;
        continue;
      }
      if (this.data.length < length) return;
      this.sawBgp = true;
      const first = this.frameAt(this.dataStart);
      // With out-of-order segments the frame holding the last byte may precede the one that
      // completed the message; like Wireshark, report the message at the completing frame.
      const done = this.current;
      out.push({
        kind: 'message',
        stream: this.info,
        bytes: copy(this.data, 0, length),
        firstFrame: first.frame,
        lastFrame: done ? Math.max(first.frame, done.number) : first.frame,
        timestamp: done?.timestamp ?? first.timestamp,
      });
      this.consume(length);
    }
  }

  /** Reports bytes left over at the end of the capture (a message cut off by the capture's end). */
  finish(out: CaptureItem[], lastFrame: number): void {
    if (this.dead || !this.sawBgp) return;
    if (this.data.length > 0 || this.pending.size > 0) {
      out.push({
        kind: 'error',
        stream: this.info,
        frame: lastFrame,
        message: `${this.data.length} bytes of an incomplete BGP message${this.pending.size ? ' and a TCP gap' : ''} at the end of the capture`,
      });
    }
  }
}

function isMarker(b: Uint8Array): boolean {
  for (let i = 0; i < MARKER_LEN; i++) if (b[i] !== 0xff) return false;
  return true;
}

function findMarker(b: Uint8Array): number {
  let run = 0;
  for (let i = 0; i < b.length; i++) {
    run = b[i] === 0xff ? run + 1 : 0;
    if (run === MARKER_LEN) return i - MARKER_LEN + 1;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function key(src: string, sp: number, dst: string, dp: number): string {
  return `${src}|${sp}|${dst}|${dp}`;
}

/**
 * Feeds frames in capture order and collects the BGP messages they complete, on every TCP
 * connection whatever its port. A stream whose first bytes are not a BGP marker is ignored.
 */
export class BgpStreamReassembler {
  private readonly directions = new Map<string, Direction>();
  private streams = 0;
  private lastFrame = 0;
  /** Frames that were not TCP, by reason (for diagnostics). */
  readonly skipped = new Map<string, number>();

  push(frame: CaptureFrame): CaptureItem[] {
    this.lastFrame = frame.number;
    const out: CaptureItem[] = [];
    const r = decodePacket(frame.linkType, frame.data);
    if (r.kind !== 'tcp') {
      this.skipped.set(r.reason, (this.skipped.get(r.reason) ?? 0) + 1);
      return out;
    }
    const s = r.segment;
    const k = key(s.src, s.srcPort, s.dst, s.dstPort);
    let dir = this.directions.get(k);
    // A new SYN (without ACK) on a known 4-tuple starts a new connection.
    if (dir && s.syn && !s.ackFlag) {
      dir.finish(out, frame.number);
      this.directions.delete(k);
      this.directions.delete(key(s.dst, s.dstPort, s.src, s.srcPort));
      dir = undefined;
    }
    if (!dir) {
      const reverse = this.directions.get(key(s.dst, s.dstPort, s.src, s.srcPort));
      const stream = reverse ? reverse.info.stream : this.streams++;
      let direction: StreamInfo['direction'] = 'unknown';
      if (s.syn) direction = s.ackFlag ? 'server-to-client' : 'client-to-server';
      else if (reverse && reverse.info.direction !== 'unknown') {
        direction = reverse.info.direction === 'client-to-server' ? 'server-to-client' : 'client-to-server';
      }
      dir = new Direction({
        stream,
        src: { address: s.src, port: s.srcPort },
        dst: { address: s.dst, port: s.dstPort },
        direction,
      });
      this.directions.set(k, dir);
    }
    if (!dir.dead) dir.push(s, frame, out);
    return out;
  }

  /** Call at the end of the capture: reports messages cut off by its end. */
  finish(): CaptureItem[] {
    const out: CaptureItem[] = [];
    for (const d of this.directions.values()) d.finish(out, this.lastFrame);
    return out;
  }
}

/** All BGP messages of a capture, in the order their last byte was captured. */
export function bgpMessagesFromFrames(frames: Iterable<CaptureFrame>): CaptureItem[] {
  const r = new BgpStreamReassembler();
  const out: CaptureItem[] = [];
  for (const f of frames) out.push(...r.push(f));
  out.push(...r.finish());
  return out;
}
