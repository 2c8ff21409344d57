// A fixed-stream injector for the convergence benchmark (`--injector replay:K`): the same N
// prefixes and attribute sets as the BIRD injector, but packed into a fixed number of UPDATEs.
//
//   node --import tsx conformance/bench/replay-injector.ts LOCAL PEER N K SETS
//
// Why: the BIRD 2 injector packs the same N prefixes into anything from ~120k to ~950k UPDATEs
// from run to run (it sends whatever its per-attribute buckets hold whenever the socket is
// writable), and a reflector's converge time follows that count. Here every reflector gets the
// identical byte stream: prefix i carries attribute set i mod SETS, and the UPDATEs go round the
// sets, each taking the set's next K prefixes, as BIRD's buckets are flushed in turn. So
// ceil(N / K) UPDATEs (K = 1 is the worst case BIRD approaches, K = 8 roughly its median run).
//
// The bytes are written here by hand, not with tsbgp's codec, so the reflector under test does not
// read its own encoder's output. Protocol: prints `ready` once the stream is built; on SIGUSR1
// connects from LOCAL to PEER:179, exchanges OPEN/KEEPALIVE, prints `established`, writes the
// stream (respecting socket back-pressure) and an End-of-RIB; answers nothing else, but sends a
// KEEPALIVE every 20 s. On SIGUSR2 it sends a Cease NOTIFICATION (administrative shutdown) and
// closes, as `disable` does in BIRD.
import { connect, type Socket } from 'node:net';
import { prefixes } from './table-mix.ts';

const [local, peer, nArg, kArg, setsArg] = process.argv.slice(2);
if (!local || !peer || !nArg || !kArg || !setsArg) {
  console.error('usage: replay-injector LOCAL PEER N K SETS');
  process.exit(2);
}
const n = Number(nArg);
const perUpdate = Number(kArg);
const sets = Number(setsArg);
const AS = 65000;

function ipv4(s: string): number[] {
  return s.split('.').map(Number);
}

function header(length: number, type: number): number[] {
  return [...new Array<number>(16).fill(0xff), length >> 8, length & 0xff, type];
}

/** Path attributes of set s (1-based community value), as BIRD sends them on iBGP. */
function attributes(s: number): number[] {
  return [
    ...[0x40, 1, 1, 0], // ORIGIN IGP
    ...[0x40, 2, 0], // AS_PATH empty (iBGP, originated)
    ...[0x40, 3, 4, ...ipv4(local!)], // NEXT_HOP
    ...[0x40, 5, 4, 0, 0, 0, 100], // LOCAL_PREF 100
    ...[0xc0, 8, 4, AS >> 8, AS & 0xff, s >> 8, s & 0xff], // COMMUNITIES (65000, s)
  ];
}

function buildStream(): Buffer[] {
  const all = prefixes(n);
  const bySet: number[][] = Array.from({ length: sets }, () => []);
  for (let i = 0; i < all.length; i++) bySet[i % sets]!.push(i);
  const encoded = all.map((p) => {
    const [addr, lenText] = p.split('/');
    const len = Number(lenText);
    return [len, ...ipv4(addr!).slice(0, Math.ceil(len / 8))];
  });
  const attrs = Array.from({ length: sets }, (_, s) => attributes(s + 1));
  const chunks: Buffer[] = [];
  let batch: number[] = [];
  const cursor = new Array<number>(sets).fill(0);
  for (let left = n; left > 0; ) {
    for (let s = 0; s < sets; s++) {
      const members = bySet[s]!;
      if (cursor[s]! >= members.length) continue;
      const nlri: number[] = [];
      for (let k = 0; k < perUpdate && cursor[s]! < members.length; k++, left--)
        nlri.push(...encoded[members[cursor[s]!++]!]!);
      const a = attrs[s]!;
      const length = 19 + 2 + 2 + a.length + nlri.length;
      batch.push(...header(length, 2), 0, 0, a.length >> 8, a.length & 0xff, ...a, ...nlri);
      if (batch.length > 1 << 16) {
        chunks.push(Buffer.from(batch));
        batch = [];
      }
    }
  }
  // End-of-RIB for IPv4 unicast (RFC 4724 §2): an UPDATE with nothing in it.
  batch.push(...header(23, 2), 0, 0, 0, 0);
  chunks.push(Buffer.from(batch));
  return chunks;
}

const stream = buildStream();
const updates = Math.ceil(n / perUpdate);
console.log(`ready: ${updates} UPDATEs, ${stream.reduce((s, c) => s + c.length, 0)} bytes`);

const open = (() => {
  const caps = [
    ...[2, 6, 1, 4, 0, 1, 0, 1], // multiprotocol IPv4 unicast
    ...[2, 2, 2, 0], // route refresh
    ...[2, 6, 65, 4, 0, 0, AS >> 8, AS & 0xff], // 4-octet AS
  ];
  const body = [4, AS >> 8, AS & 0xff, 0, 90, ...ipv4(local), caps.length, ...caps];
  return Buffer.from([...header(19 + body.length, 1), ...body]);
})();
const keepalive = Buffer.from(header(19, 4));

let socket: Socket | null = null;

function start(): void {
  const s = connect({ host: peer!, port: 179, localAddress: local! });
  socket = s;
  let pending = Buffer.alloc(0);
  let established = false;
  s.on('connect', () => s.write(open));
  s.on('error', (e) => {
    console.log(`error: ${e.message}`);
  });
  s.on('close', () => console.log('closed'));
  s.on('data', (d: Buffer) => {
    if (established) return;
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 19) {
      const length = pending.readUInt16BE(16);
      if (pending.length < length) break;
      const type = pending[18];
      pending = pending.subarray(length);
      if (type === 1) s.write(keepalive);
      else if (type === 3) {
        console.log('notification');
        s.destroy();
        return;
      } else if (type === 4 && !established) {
        established = true;
        console.log('established');
        setInterval(() => s.write(keepalive), 20_000).unref();
        let i = 0;
        const pump = (): void => {
          while (i < stream.length) if (!s.write(stream[i++]!)) return void s.once('drain', pump);
          console.log('sent');
        };
        pump();
      }
    }
  });
}

process.on('SIGUSR1', start);
process.on('SIGUSR2', () => {
  // Cease, subcode 2: Administrative Shutdown (RFC 4486 §4).
  socket?.end(Buffer.from([...header(21, 3), 6, 2]));
});
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30);
