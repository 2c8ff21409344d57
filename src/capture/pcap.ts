// Streaming readers for the two capture file formats: classic libpcap and pcapng
// (draft-ietf-opsawg-pcapng). Bytes are pushed in chunks of any size; complete frames come out.
// Memory stays bounded by one block (a frame) plus the chunk being fed.

/** Link-layer header types (www.tcpdump.org/linktypes.html) that the packet decoder knows. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export interface CaptureFrame {
  /** 1-based position in the file, as Wireshark numbers frames. */
  number: number;
  linkType: number;
  /** Seconds since the epoch, with the resolution the file records. */
  timestamp: number;
  /** Bytes captured (may be shorter than the original packet when a snap length applied). */
  data: Uint8Array;
  originalLength: number;
}

export type CaptureFormat = 'pcap' | 'pcapng';

export class CaptureFormatError extends Error {}

const PCAP_MAGIC_USEC = 0xa1b2c3d4;
const PCAP_MAGIC_NSEC = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** No frame in either format may claim more than this; a larger length means a corrupt file. */
const MAX_BLOCK = 16 * 1024 * 1024;

/** Recognises a capture file by its first four bytes; undefined when it is neither format. */
export function detectCaptureFormat(head: Uint8Array): CaptureFormat | undefined {
  if (head.length < 4) return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, 4);
  const be = dv.getUint32(0, false);
  const le = dv.getUint32(0, true);
  if (be === PCAPNG_SHB) return 'pcapng';
  for (const m of [be, le]) if (m === PCAP_MAGIC_USEC || m === PCAP_MAGIC_NSEC) return 'pcap';
  return undefined;
}

interface PcapngInterface {
  linkType: number;
  /** Units per second of this interface's timestamps (if_tsresol; default 10^6). */
  unitsPerSecond: number;
}

/**
 * Push parser: feed() chunks, get frames back. Throws CaptureFormatError on a corrupt file, naming
 * the offset and what is wrong.
 */
export class CaptureParser {
  private buf: Uint8Array = new Uint8Array(0);
  private offset = 0; // file offset of buf[0]
  private format: CaptureFormat | undefined;
  private littleEndian = true;
  private headerDone = false;
  private pcapLinkType = 0;
  private pcapNanos = false;
  private interfaces: PcapngInterface[] = [];
  private frameNumber = 0;

  get detectedFormat(): CaptureFormat | undefined {
    return this.format;
  }

  feed(chunk: Uint8Array): CaptureFrame[] {
    // A plain view: Buffer#slice would share memory where Uint8Array#slice copies.
    const view = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buf = this.buf.length === 0 ? view : concat(this.buf, view);
    const frames: CaptureFrame[] = [];
    let pos = 0;
    for (;;) {
      const used = this.next(pos, frames);
      if (used === 0) break;
      pos += used;
    }
    this.offset += pos;
    this.buf = pos === this.buf.length ? new Uint8Array(0) : copy(this.buf, pos, this.buf.length);
    return frames;
  }

  /** Call at end of input: throws if a partial block remains. */
  end(): void {
    if (this.buf.length > 0) {
      throw new CaptureFormatError(
        `capture truncated: ${this.buf.length} trailing bytes at offset ${this.offset}`,
      );
    }
    if (!this.format) throw new CaptureFormatError('empty capture file');
  }

  /** Parses one unit at pos; returns the bytes consumed, 0 when more input is needed. */
  private next(pos: number, frames: CaptureFrame[]): number {
    const avail = this.buf.length - pos;
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset + pos, avail);
    if (!this.format) {
      if (avail < 4) return 0;
      const f = detectCaptureFormat(view(this.buf, pos, pos + 4));
      if (!f) throw new CaptureFormatError('not a pcap or pcapng file (unknown magic number)');
      this.format = f;
    }
    if (this.format === 'pcap') return this.nextPcap(dv, avail, pos, frames);
    return this.nextPcapng(dv, avail, pos, frames);
  }

  private nextPcap(dv: DataView, avail: number, pos: number, frames: CaptureFrame[]): number {
    if (!this.headerDone) {
      if (avail < 24) return 0;
      const le = dv.getUint32(0, true);
      this.littleEndian = le === PCAP_MAGIC_USEC || le === PCAP_MAGIC_NSEC;
      const magic = dv.getUint32(0, this.littleEndian);
      this.pcapNanos = magic === PCAP_MAGIC_NSEC;
      // The link type is the low 28 bits (the top bits carry the FCS-length flag).
      this.pcapLinkType = dv.getUint32(20, this.littleEndian) & 0x0fffffff;
      this.headerDone = true;
      return 24;
    }
    if (avail < 16) return 0;
    const le = this.littleEndian;
    const incl = dv.getUint32(8, le);
    if (incl > MAX_BLOCK) {
      throw new CaptureFormatError(`pcap record at offset ${this.offset + pos} claims ${incl} bytes`);
    }
    if (avail < 16 + incl) return 0;
    const sec = dv.getUint32(0, le);
    const frac = dv.getUint32(4, le);
    frames.push({
      number: ++this.frameNumber,
      linkType: this.pcapLinkType,
      timestamp: sec + frac / (this.pcapNanos ? 1e9 : 1e6),
      data: copy(this.buf, pos + 16, pos + 16 + incl),
      originalLength: dv.getUint32(12, le),
    });
    return 16 + incl;
  }

  private nextPcapng(dv: DataView, avail: number, pos: number, frames: CaptureFrame[]): number {
    if (avail < 12) return 0;
    const type = dv.getUint32(0, this.littleEndian);
    if (type === PCAPNG_SHB || !this.headerDone) {
      // A Section Header Block sets the byte order of everything up to the next one.
      if (dv.getUint32(0, false) !== PCAPNG_SHB) {
        throw new CaptureFormatError(
          `pcapng: expected a Section Header Block at offset ${this.offset + pos}`,
        );
      }
      const bom = dv.getUint32(8, true);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.littleEndian = true;
      else if (dv.getUint32(8, false) === PCAPNG_BYTE_ORDER_MAGIC) this.littleEndian = false;
      else throw new CaptureFormatError(`pcapng: bad byte-order magic at offset ${this.offset + pos + 8}`);
      this.interfaces = [];
      this.headerDone = true;
    }
    const le = this.littleEndian;
    const len = dv.getUint32(4, le);
    if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
      throw new CaptureFormatError(`pcapng: block at offset ${this.offset + pos} has invalid length ${len}`);
    }
    if (avail < len) return 0;
    if (dv.getUint32(len - 4, le) !== len) {
      throw new CaptureFormatError(
        `pcapng: block at offset ${this.offset + pos} has mismatched trailing length`,
      );
    }
    const body = new DataView(dv.buffer, dv.byteOffset + 8, len - 12);
    const bodyAt = pos + 8;
    switch (type) {
      case 1: {
        // Interface Description Block: link type, snap length, options (if_tsresol is code 9).
        if (body.byteLength < 8) throw new CaptureFormatError('pcapng: short Interface Description Block');
        let unitsPerSecond = 1e6;
        forEachOption(body, 8, le, (code, at, olen) => {
          if (code === 9 && olen >= 1) {
            const r = body.getUint8(at);
            unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
          }
        });
        this.interfaces.push({ linkType: body.getUint16(0, le), unitsPerSecond });
        break;
      }
      case 6:
      case 2: {
        // Enhanced Packet Block (6) and the obsolete Packet Block (2) share this layout, except
        // that block 2 has a 16-bit interface id followed by a drop count.
        if (body.byteLength < 20) throw new CaptureFormatError('pcapng: short packet block');
        const ifid = type === 6 ? body.getUint32(0, le) : body.getUint16(0, le);
        const iface = this.interfaces[ifid];
        if (!iface) throw new CaptureFormatError(`pcapng: packet for undeclared interface ${ifid}`);
        const ts = body.getUint32(4, le) * 2 ** 32 + body.getUint32(8, le);
        const captured = body.getUint32(12, le);
        if (20 + captured > body.byteLength) {
          throw new CaptureFormatError(`pcapng: packet at offset ${this.offset + pos} overruns its block`);
        }
        frames.push({
          number: ++this.frameNumber,
          linkType: iface.linkType,
          timestamp: ts / iface.unitsPerSecond,
          data: copy(this.buf, bodyAt + 20, bodyAt + 20 + captured),
          originalLength: body.getUint32(16, le),
        });
        break;
      }
      case 3: {
        // Simple Packet Block: always interface 0, no timestamp.
        const iface = this.interfaces[0];
        if (!iface || body.byteLength < 4) throw new CaptureFormatError('pcapng: bad Simple Packet Block');
        const original = body.getUint32(0, le);
        const captured = Math.min(original, body.byteLength - 4);
        frames.push({
          number: ++this.frameNumber,
          linkType: iface.linkType,
          timestamp: 0,
          data: copy(this.buf, bodyAt + 4, bodyAt + 4 + captured),
          originalLength: original,
        });
        break;
      }
      default:
        // Name resolution, statistics, custom and other blocks carry no packets.
        break;
    }
    return len;
  }
}

function forEachOption(
  body: DataView,
  start: number,
  le: boolean,
  fn: (code: number, at: number, len: number) => void,
): void {
  let at = start;
  while (at + 4 <= body.byteLength) {
    const code = body.getUint16(at, le);
    const olen = body.getUint16(at + 2, le);
    if (code === 0) return;
    if (at + 4 + olen > body.byteLength) return;
    fn(code, at + 4, olen);
    at += 4 + ((olen + 3) & ~3);
  }
}

/**
 * A view of buf[start, end). The constructor is used instead of subarray(), whose species lookup
 * makes it several times slower in V8; this runs once or more per record.
 */
export function view(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** A copy of buf[start, end) that does not keep the input chunk alive. */
export function copy(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(view(buf, start, end));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Reads every frame of a capture held in memory. */
export function readCaptureFrames(bytes: Uint8Array): CaptureFrame[] {
  const p = new CaptureParser();
  const frames = p.feed(bytes);
  p.end();
  return frames;
}

/** Reads a capture from an async byte source (e.g. fs.createReadStream) frame by frame. */
export async function* streamCaptureFrames(source: AsyncIterable<Uint8Array>): AsyncGenerator<CaptureFrame> {
  const p = new CaptureParser();
  for await (const chunk of source) yield* p.feed(chunk);
  p.end();
}
