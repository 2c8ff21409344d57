// The receive queue of one session: UPDATE frames waiting to be decoded, each a range of a socket
// chunk (no view object per frame). A ring of parallel arrays that grows by doubling and is
// reused from one burst to the next.
//
// Why a ring: the queue was three JS arrays with a moving head, replaced by new empty arrays each
// time it drained. A full table drains it thousands of times, and each refill regrew all three
// element by element: the receive path's largest allocation site in a 1M heap profile (8 MB of
// the 86 MB a load allocated), and work for the young-generation collector.

export class FrameQueue {
  private bufs: (Uint8Array | undefined)[];
  private starts: Int32Array;
  private lengths: Int32Array;
  private head = 0;
  private count = 0;
  /** Octets of the frames queued. */
  bytes = 0;

  constructor(capacity = 256) {
    const n = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.bufs = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.starts = new Int32Array(n);
    this.lengths = new Int32Array(n);
  }

  get size(): number {
    return this.count;
  }

  /** Appends the frame buf[start, start + length). */
  push(buf: Uint8Array, start: number, length: number): void {
    if (this.count === this.bufs.length) this.grow();
    const i = (this.head + this.count) & (this.bufs.length - 1);
    this.bufs[i] = buf;
    this.starts[i] = start;
    this.lengths[i] = length;
    this.count++;
    this.bytes += length;
  }

  /** The oldest frame's buffer; frontStart/frontLength give its range. Only when size > 0. */
  get frontBuffer(): Uint8Array {
    return this.bufs[this.head]!;
  }

  get frontStart(): number {
    return this.starts[this.head]!;
  }

  get frontLength(): number {
    return this.lengths[this.head]!;
  }

  /** Drops the oldest frame (its buffer reference too, so the chunk can be collected). */
  shift(): void {
    if (this.count === 0) throw new Error('FrameQueue.shift() on an empty queue');
    this.bytes -= this.lengths[this.head]!;
    this.bufs[this.head] = undefined;
    this.head = (this.head + 1) & (this.bufs.length - 1);
    this.count--;
  }

  clear(): void {
    this.bufs.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
  }

  private grow(): void {
    const n = this.bufs.length * 2;
    const bufs = new Array<Uint8Array | undefined>(n).fill(undefined);
    const starts = new Int32Array(n);
    const lengths = new Int32Array(n);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & (this.bufs.length - 1);
      bufs[k] = this.bufs[i];
      starts[k] = this.starts[i]!;
      lengths[k] = this.lengths[i]!;
    }
    this.bufs = bufs;
    this.starts = starts;
    this.lengths = lengths;
    this.head = 0;
  }
}
