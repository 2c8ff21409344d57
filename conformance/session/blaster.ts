// A raw BGP sender for liveness tests: opens one session, then writes a pre-encoded full table
// of UPDATEs in one go, at whatever rate TCP takes it, without waiting on the receiver. It keeps
// reading, and records when each KEEPALIVE of the receiver arrives, so the test can show the
// receiver's keepalives kept flowing while it was flooded.
//   node --import tsx blaster.ts CONFIG.json
// stdout, one JSON object per line: {"type":"established"}, {"type":"sent", ...},
// {"type":"keepalive", "t"}, {"type":"closed", ...}, and {"type":"summary", ...} on SIGTERM.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import {
  asPathFromSequence,
  BgpFrameReader,
  type CodecOptions,
  decodeMessage,
  emptyPrefixList,
  encodeKeepalive,
  encodeMessage,
  Family,
  PrefixListBuilder,
  type UpdateMessage,
} from '../../src/bgp/codec/index.ts';

interface BlasterConfig {
  address: string;
  port: number;
  localAddress: string;
  localAs: number;
  routerId: number;
  holdTime: number;
  prefixes: number;
  prefixesPerUpdate: number;
  /** Distinct attribute sets, cycled over the UPDATEs (a full table has many). */
  attributeSets: number;
}

const cfg = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as BlasterConfig;
const out = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

function encodeTable(): Buffer[] {
  const chunks: Buffer[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const nh = ((10 << 24) | 1) >>> 0;
  for (let i = 0, u = 0; i < cfg.prefixes; u++) {
    const b = new PrefixListBuilder(1, false, cfg.prefixesPerUpdate);
    for (let j = 0; j < cfg.prefixesPerUpdate && i < cfg.prefixes; j++, i++)
      b.addIPv4((0x01000000 + i * 256) >>> 0, 24);
    const set = u % cfg.attributeSets;
    const msg: UpdateMessage = {
      type: 'update',
      withdrawn: emptyPrefixList(1),
      attributes: {
        origin: 0,
        asPath: asPathFromSequence([cfg.localAs, 64512 + (set % 1000), 65536 + set]),
        nextHop: nh,
        med: set,
      },
      nlri: b.finish(),
      treatAsWithdraw: false,
      errors: [],
    };
    const r = encodeMessage(msg, opts);
    if (!r.ok) throw new Error(r.reason);
    pending.push(r.bytes);
    pendingBytes += r.bytes.length;
    if (pendingBytes > 1 << 20) {
      chunks.push(Buffer.concat(pending));
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pending.length > 0) chunks.push(Buffer.concat(pending));
  return chunks;
}

const table = encodeTable();
const tableBytes = table.reduce((n, c) => n + c.length, 0);
out({ type: 'encoded', bytes: tableBytes, prefixes: cfg.prefixes });

const keepaliveTimes: number[] = [];
let establishedAt = 0;
let writtenAt = 0;
const socket = connect({ host: cfg.address, port: cfg.port, localAddress: cfg.localAddress, noDelay: true });
const reader = new BgpFrameReader();
let keepaliveTimer: NodeJS.Timeout | null = null;

socket.on('connect', () => {
  const open = encodeMessage(
    {
      type: 'open',
      version: 4,
      myAs: cfg.localAs,
      holdTime: cfg.holdTime,
      bgpId: cfg.routerId,
      capabilities: [
        { kind: 'multiprotocol', afi: 1, safi: 1 },
        { kind: 'four-octet-as', asn: cfg.localAs },
      ],
    },
    opts,
  );
  if (!open.ok) throw new Error(open.reason);
  socket.write(open.bytes);
});

socket.on('data', (chunk: Buffer) => {
  reader.push(chunk);
  for (let f = reader.next(); f !== null; f = reader.next()) {
    const d = decodeMessage(f, opts);
    if (!d.ok) continue;
    const m = d.value;
    if (m.type === 'open') {
      socket.write(encodeKeepalive());
    } else if (m.type === 'keepalive') {
      keepaliveTimes.push(Date.now());
      if (establishedAt === 0) {
        establishedAt = Date.now();
        out({ type: 'established', t: establishedAt });
        keepaliveTimer = setInterval(() => socket.write(encodeKeepalive()), (cfg.holdTime * 1000) / 3);
        // The whole table, handed to the socket at once: TCP sends it as fast as the receiver reads.
        for (const c of table) socket.write(c);
        socket.write(Buffer.alloc(0), () => {
          writtenAt = Date.now();
          out({ type: 'sent', t: writtenAt, ms: writtenAt - establishedAt, bytes: tableBytes });
        });
      }
    } else if (m.type === 'notification') {
      out({ type: 'notification', code: m.code, subcode: m.subcode, t: Date.now() });
    }
  }
});

socket.on('close', () => {
  out({ type: 'closed', t: Date.now() });
  if (keepaliveTimer) clearInterval(keepaliveTimer);
});
socket.on('error', (err) => out({ type: 'error', message: err.message }));

process.on('SIGTERM', () => {
  let maxGap = 0;
  for (let i = 1; i < keepaliveTimes.length; i++)
    maxGap = Math.max(maxGap, keepaliveTimes[i]! - keepaliveTimes[i - 1]!);
  out({
    type: 'summary',
    keepalives: keepaliveTimes.length,
    maxKeepaliveGapMs: maxGap,
    establishedAt,
    writtenAt,
    family: Family.IPv4Unicast,
  });
  process.exit(0);
});
