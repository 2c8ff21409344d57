// Start-up warm-up: before the configured sessions start, the daemon runs a synthetic full table
// through a scratch copy of its own routing stack over loopback TCP, then throws the copy away.
//
// Why: V8 compiles JavaScript lazily and optimises a function only after it has run enough to
// collect type feedback. A freshly started daemon therefore takes its first full table with cold
// code: in the convergence benchmark (docs/PERFORMANCE.md) a 100k-prefix table took 0.35 s and
// 0.56 CPU s on the first load after start, and 0.19 s and 0.15-0.19 CPU s on a second load
// by the same process. A route reflector is restarted exactly when its clients are waiting for
// it, so that first table is the one that counts. The JVM world calls this a warm-up; BIRD and FRR
// need none, being compiled ahead of time.
//
// What runs is the production path, not a model of it: the codec's framer and decoder, the
// session FSM and Adj-RIB-In, attribute interning, import policy, the Loc-RIB and best path,
// route reflection, update groups, the packer and the socket writer, through a Speaker and a
// RoutingEngine built by createSessionSpeaker(), as `tsbgp run` builds them. The two peers are
// raw BGP speakers written here with the codec: `feed` announces the table and then goes away (so
// the withdrawal path runs too), `sink` receives it as a route-reflector client. Nothing listens
// beyond 127.0.0.1/127.0.0.2 on ephemeral ports, nothing touches the kernel's routes (the scratch
// speaker resolves next hops against an in-memory table; the one netlink request, see
// primeNetlink, only lists the links), and it all ends before the real speaker starts.
//
// The table is shaped like a real one, because optimised code is specialised on what it saw, and
// V8 throws it away ("deoptimises") when it meets anything else (`--trace-deopt`). Each of these
// once sent the first real table back to unoptimised code: UPDATEs of a few prefixes each (not one
// per attribute set), NLRI of every encoded length, End-of-RIB from both peers, a kernel next-hop
// resolver, and more attribute sets than the id-indexed tables start with (src/bgp/id-table.ts).
//
// Costs (measured, docs/PERFORMANCE.md): start-up is later by the warm-up's duration, and the
// heap keeps part of what the warm-up grew. `warmUp.routes: 0` in the config turns it off.

import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  BgpFrameReader,
  type CodecOptions,
  encodeEndOfRib,
  encodeKeepalive,
  encodeMessage,
  Family,
  type PathAttributes,
  packUpdates,
  type UpdateGroup,
} from '../bgp/codec/index.ts';
import { PrefixListBuilder } from '../bgp/rib/prefix.ts';
import { parseConfig } from '../config/loader.ts';
import { FakeRoutes } from '../dataplane/routes/fake-routes.ts';
import { type KernelRoute, RT_TABLE_MAIN } from '../dataplane/routes/model.ts';
import type { Logger } from '../log/logger.ts';
import { collectGarbage } from './heap.ts';
import { createSessionSpeaker } from './speaker-adapter.ts';

/** UPDATEs between two KEEPALIVEs in the synthetic table (see sendTable in warmUp). */
const KEEPALIVE_EVERY = 1000;
/** Routes the tail peer announces after the feed's table (see warmUp): ~1,000 UPDATEs, as many new sets. */
const TAIL_ROUTES = 4000;
/** Routes the probe session announces before it goes down (see warmUp). */
const PROBE_ROUTES = 200;
/** A warm-up that has not finished by then is abandoned (the daemon starts anyway). */
const WARM_UP_TIMEOUT_MS = 20_000;
const WARM_AS = 64_512;
/**
 * Distinct attribute sets in the synthetic table (a community each), as many as the benchmark's
 * real table has: the code that handles a new set (decoding, interning, policy, reflection, the
 * packer's encoding) runs once per set, and with 500 the first real table still compiled most of
 * it. More sets used to help little, because that code was thrown away at the first real set; the
 * stored sets' settled hidden class (settleStoredShape in src/bgp/rib/attrs.ts) keeps it. The
 * cost: ~50 ms more warm-up and ~6 MiB more RSS until V8's next full collection
 * (docs/PERFORMANCE.md, nineteenth session).
 */
export const WARM_SETS = 3000;

export interface WarmUpReport {
  readonly ok: boolean;
  /** Routes the sink received and then saw withdrawn. */
  readonly routes: number;
  readonly ms: number;
  /** Of ms, the full garbage collection at its end (0 where the runtime offers none). */
  readonly gcMs?: number;
  /** Why it stopped early, when !ok. */
  readonly reason?: string;
}

/** 127.0.0.0/8 on lo, proto kernel (2), as the scratch stack's kernel table: its next hops resolve. */
const LOOPBACK_ROUTE: KernelRoute = {
  dst: '127.0.0.0/8',
  table: RT_TABLE_MAIN,
  protocol: 2,
  metric: 0,
  type: 'unicast',
  nextHops: [{ dev: 'lo' }],
};

const CODEC: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

/**
 * OPEN of a raw peer: 4-octet AS, IPv4 unicast, route refresh, enhanced route refresh and graceful
 * restart with no family listed (helper only, as BIRD 2 advertises by default: RFC 4724 §3), so the
 * scratch stack runs the code paths of a GR-capable peer's routes too, while the feed's session
 * loss still removes its routes at once (no family kept, §4.2); hold time 90 s.
 */
function openBytes(bgpId: number): Buffer {
  const e = encodeMessage(
    {
      type: 'open',
      version: 4,
      myAs: WARM_AS,
      holdTime: 90,
      bgpId,
      capabilities: [
        { kind: 'multiprotocol', afi: 1, safi: 1 },
        { kind: 'route-refresh' },
        { kind: 'enhanced-route-refresh' },
        {
          kind: 'graceful-restart',
          restartState: false,
          notification: false,
          restartTime: 120,
          families: [],
        },
        { kind: 'four-octet-as', asn: WARM_AS },
      ],
    },
    CODEC,
  );
  if (!e.ok) throw new Error(`warm-up: cannot encode OPEN: ${e.reason}`);
  return e.bytes;
}

/**
 * Prefixes per UPDATE in the synthetic table. A real full table arrives in small UPDATEs: the
 * convergence benchmark's BIRD 2 injector sends 100k prefixes in 3,000 sets as 25k-31k UPDATEs
 * (3-4 prefixes each), because a speaker sends what its buckets hold when the socket can take
 * more. The code that runs once per UPDATE (framing, decoding, the Adj-RIB-In, import, the RIB's
 * batch handling) only gets optimised when the warm-up sends that many UPDATEs too.
 */
const WARM_PREFIXES_PER_UPDATE = 4;

/**
 * The synthetic table: `n` IPv4 prefixes from 100.64.0.0 up (lengths from /16 to /32, mostly
 * /24) in WARM_SETS attribute sets, as UPDATEs of WARM_PREFIXES_PER_UPDATE prefixes that take the
 * sets in turn, so each set is seen new once and known after that, as in a real table.
 */
export function warmUpTable(n: number, nextHop: number): Buffer[] {
  const attributes: PathAttributes[] = [];
  for (let s = 0; s < WARM_SETS; s++)
    attributes.push({
      origin: 0,
      asPath: Uint32Array.of((2 << 24) | 2, WARM_AS + 1 + (s % 7), 65_000 + s),
      nextHop,
      localPref: 100,
      med: s % 3,
      communities: Uint32Array.of((WARM_AS << 16) | s),
    });
  // Mostly /24, then /22-/23, some /16-/21 and a few longer, as in a real table: prefixes of two,
  // three and four address octets all come up (the decoder and encoder branch on that count).
  const lengths = [
    24, 24, 23, 24, 22, 24, 24, 20, 24, 24, 23, 24, 22, 24, 24, 16, 24, 24, 22, 24, 21, 24, 24, 32, 24, 24,
    22, 24, 19, 24, 24, 28,
  ];
  const word = new Uint32Array(1);
  let cursor = 0x64400000; // 100.64.0.0
  // Run r (prefixes r * WARM_PREFIXES_PER_UPDATE onwards) is one group in set r % WARM_SETS;
  // packUpdates gives each group UPDATEs of its own.
  const groups: UpdateGroup[] = [];
  for (let from = 0, run = 0; from < n; from += WARM_PREFIXES_PER_UPDATE, run++) {
    const prefixes = new PrefixListBuilder(1, WARM_PREFIXES_PER_UPDATE);
    for (let i = from; i < Math.min(n, from + WARM_PREFIXES_PER_UPDATE); i++) {
      const len = lengths[i % lengths.length]!;
      const size = 2 ** (32 - len);
      cursor = Math.ceil(cursor / size) * size;
      word[0] = cursor >>> 0;
      prefixes.push(word, 0, len);
      cursor += size;
    }
    groups.push({
      family: Family.IPv4Unicast,
      attributes: attributes[run % WARM_SETS]!,
      prefixes: prefixes.view(),
    });
  }
  return packUpdates(groups, [], CODEC).messages;
}

/** A raw BGP peer on a loopback server: OPEN, KEEPALIVEs, and what the caller does with UPDATEs. */
class RawPeer {
  private readonly server: Server;
  socket: Socket | null = null;
  private readonly reader = new BgpFrameReader();
  private established = false;

  constructor(
    private readonly bgpId: number,
    private readonly onEstablished: (s: Socket) => void,
    private readonly onUpdate: (frame: Buffer) => void,
  ) {
    this.server = createServer((s) => this.accept(s));
  }

  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port: 0 }, () => {
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
  }

  private accept(s: Socket): void {
    if (this.socket !== null) {
      s.destroy();
      return;
    }
    this.socket = s;
    s.setNoDelay(true);
    s.on('error', () => undefined);
    s.write(openBytes(this.bgpId));
    s.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      for (let f = this.reader.next(); f !== null; f = this.reader.next()) {
        const type = BgpFrameReader.frameType(f);
        if (type === 1) s.write(encodeKeepalive());
        else if (type === 4 && !this.established) {
          this.established = true;
          this.onEstablished(s);
        } else if (type === 2) this.onUpdate(f);
      }
    });
  }

  close(): void {
    this.socket?.destroy();
    this.server.close();
  }
}

/**
 * Whether a TCP connection to `host` completes within a second. In a network namespace whose
 * loopback is down the addresses still bind but nothing connects, and the scratch speaker would
 * retry until the warm-up's timeout: 20 s added to the start.
 */
function loopbackWorks(host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer((s) => s.destroy());
    const done = (why: string | null) => {
      clearTimeout(timer);
      server.close();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no TCP connection to ${host} within 1 s`), 1000);
    server.once('error', (e) => done(`${host}: ${e.message}`));
    server.listen({ host, port: 0 }, () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      const c = connect({ host, port });
      c.once('connect', () => {
        c.destroy();
        done(null);
      });
      c.once('error', (e) => done(`${host}: ${e.message}`));
    });
  });
}

/**
 * One rtnetlink round trip (a link dump) before the scratch stack runs, where the kernel offers
 * one. Why: the first Buffer the native netlink socket hands to JavaScript makes V8 discard
 * optimised code that reads typed arrays (`--trace-deopt`: "code dependencies" for `select`,
 * `attributeKeyInto`, the prefix-list `push`, the update group's `process`). The daemon's next-hop
 * resolver and route programming receive their first netlink message when the real sessions
 * start, so the warm-up's code was thrown away just before the first real table. After this,
 * the warm-up compiles that code in the state the daemon will run it in. Failure (no netlink, no
 * permission) only means nothing is primed.
 */
async function primeNetlink(): Promise<void> {
  try {
    const { RtnlSocket, dumpLinks } = await import('../dataplane/routes/rtnl.ts');
    const socket = new RtnlSocket({});
    try {
      await dumpLinks(socket);
    } finally {
      socket.close();
    }
  } catch {
    // nothing to prime
  }
}

/**
 * Node's timer objects as the daemon will have them, before any code is optimised. A Timeout
 * keeps its delay in a field that starts as a small integer; the first delay with a fraction
 * (the commit pacing waits `interval - elapsed` ms, from performance.now()) turns that field into
 * a double, which gives every Timeout a new hidden class ("[migrating] _idleTimeout:s->d" in
 * --trace-migration) and throws away all optimised code that makes timers ("code dependencies"
 * for onData, processSlice and onBatch in --trace-deopt). That happened near the warm-up's end,
 * so the first real table compiled those three again (~40 ms of compiler time). One timer with
 * a fractional delay, made and cleared at load, changes the field before anything is optimised on
 * it.
 */
function primeTimers(): void {
  clearTimeout(setTimeout(() => undefined, 1.5));
}
// At load, not in warmUp(): a timer made before the change (the warm-up's own timeout) moves to
// the new hidden class when it is next written, and that too threw code away.
primeTimers();

/** Counts an UPDATE's IPv4 NLRI and withdrawn prefixes without decoding its attributes. */
function countPrefixes(frame: Buffer): { announced: number; withdrawn: number } {
  const count = (from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; n++) i += 1 + ((frame[i]! + 7) >> 3);
    return n;
  };
  const wlen = frame.readUInt16BE(19);
  const alenAt = 21 + wlen;
  const alen = frame.readUInt16BE(alenAt);
  return { withdrawn: count(21, alenAt), announced: count(alenAt + 2 + alen, frame.length) };
}

/**
 * Runs `routes` synthetic routes through a scratch routing stack and tears it down. Never throws:
 * a warm-up that cannot run (no loopback, a port refused) reports why and the daemon goes on.
 */
export async function warmUp(routes: number, log: Logger): Promise<WarmUpReport> {
  const t0 = performance.now();
  const quiet = log.child({ component: 'warm-up' });
  quiet.level('fatal');
  let held = 0;
  let gcMs = 0;
  let done: (r: { ok: boolean; reason?: string }) => void = () => undefined;
  const finished = new Promise<{ ok: boolean; reason?: string }>((r) => {
    done = r;
  });
  // Every raw peer sends End-of-RIB (RFC 4724 §2), as BGP speakers with graceful restart do: the
  // sink at once (it has no routes), the probe, the feed and the tail after their routes.
  // A KEEPALIVE among the UPDATEs now and then, as a peer's keepalive timer puts them: the
  // receive path then has seen a control message by the time it is optimised. Without them the
  // first real session's KEEPALIVE (at its start, before its table) threw away onData's code
  // ("insufficient type feedback" at onControlFrame in --trace-deopt-verbose).
  const sendTable = (s: Socket, n: number, nextHop: number): void => {
    const messages = warmUpTable(n, nextHop);
    for (let i = 0; i < messages.length; i++) {
      s.write(messages[i]!);
      if (i % KEEPALIVE_EVERY === KEEPALIVE_EVERY - 1) s.write(encodeKeepalive());
    }
    s.write(encodeEndOfRib(Family.IPv4Unicast, CODEC));
  };
  // The probe's session comes up, announces a few routes and goes down before the feed sends its
  // table. Why: a session going down writes fields that were objects until then (its socket, its
  // timers) with null, and V8 then throws away the code optimised on what those fields held
  // ("code dependencies" for onData, processSlice and onBatch in --trace-deopt). When the feed's
  // loss at the end was the first, that code was thrown away just before the first real table,
  // which compiled it again. After the probe's loss it is optimised on what it will meet.
  // Its neighbour is then removed from the scratch speaker, which disposes of the Peer: the first
  // disposal changed more such fields (onData and processSlice read `disposed`).
  // After the feed's table is withdrawn, a tail peer announces a few thousand routes in sets the
  // stack has forgotten by then, and the warm-up ends once the sink holds them. Why: V8 marks a
  // function for optimisation when it has run enough, and compiles it at its next call. Code
  // that runs once per slice of UPDATEs or once per new attribute set was often marked in the
  // table's last moments, so its first compilation came with the first real table
  // (processSlice, internSession, decodeUpdate, storedFromUpdate in --trace-opt). The tail calls
  // it again.
  let phase: 'probe' | 'table' | 'tail' = 'probe';
  let tailSocket: Socket | null = null;
  let feedMaySend = false;
  let feedSocket: Socket | null = null;
  let removeProbe: () => Promise<void> = async () => undefined;
  const probe = new RawPeer(
    0x7f000004,
    (s) => sendTable(s, PROBE_ROUTES, 0x7f000004),
    () => undefined,
  );
  const feed = new RawPeer(
    0x7f000001,
    (s) => {
      feedSocket = s;
      if (feedMaySend) sendTable(s, routes, 0x7f000001);
    },
    () => undefined,
  );
  const tail = new RawPeer(
    0x7f000005,
    (s) => {
      tailSocket = s;
    },
    () => undefined,
  );
  const sink = new RawPeer(
    0x7f000002,
    (s) => s.write(encodeEndOfRib(Family.IPv4Unicast, CODEC)),
    (frame) => {
      const c = countPrefixes(frame);
      held += c.announced - c.withdrawn;
      if (phase === 'probe') {
        if (held >= PROBE_ROUTES) probe.close();
        else if (held === 0 && c.withdrawn > 0) {
          phase = 'table';
          void removeProbe().then(() => {
            feedMaySend = true;
            if (feedSocket !== null) sendTable(feedSocket, routes, 0x7f000001);
          });
        }
      } else if (phase === 'table') {
        if (held >= routes)
          feed.close(); // the feed's session goes down: every route is withdrawn
        else if (held === 0 && c.withdrawn > 0) {
          phase = 'tail';
          if (tailSocket === null) done({ ok: true });
          else sendTable(tailSocket, TAIL_ROUTES, 0x7f000005);
        }
      } else if (held >= TAIL_ROUTES) done({ ok: true });
    },
  );
  let speaker: ReturnType<typeof createSessionSpeaker> | null = null;
  const timer = setTimeout(
    () => done({ ok: false, reason: `not done in ${WARM_UP_TIMEOUT_MS} ms` }),
    WARM_UP_TIMEOUT_MS,
  );
  try {
    await primeNetlink();
    for (const host of ['127.0.0.1', '127.0.0.2', '127.0.0.4', '127.0.0.5']) {
      const why = await loopbackWorks(host);
      if (why !== null) return { ok: false, routes: 0, ms: performance.now() - t0, reason: why };
    }
    const feedPort = await feed.listen('127.0.0.1');
    const sinkPort = await sink.listen('127.0.0.2');
    const probePort = await probe.listen('127.0.0.4');
    const tailPort = await tail.listen('127.0.0.5');
    const config = parseConfig(
      `asn: ${WARM_AS}
routerId: 127.0.0.3
listen: { addresses: [] }
neighbors:
  - { name: warm-up-feed, address: 127.0.0.1, port: ${feedPort}, asn: ${WARM_AS}, routeReflectorClient: true, connectRetry: 1 }
  - { name: warm-up-sink, address: 127.0.0.2, port: ${sinkPort}, asn: ${WARM_AS}, routeReflectorClient: true, connectRetry: 1 }
  - { name: warm-up-probe, address: 127.0.0.4, port: ${probePort}, asn: ${WARM_AS}, routeReflectorClient: true, connectRetry: 1 }
  - { name: warm-up-tail, address: 127.0.0.5, port: ${tailPort}, asn: ${WARM_AS}, routeReflectorClient: true, connectRetry: 1 }
`,
      '(warm-up)',
    );
    // The next hops resolve against an in-memory kernel table (the loopback network, connected),
    // so that the scratch stack's decision process calls the kernel resolver the real one calls.
    speaker = createSessionSpeaker(config, quiet, {
      openKernelRoutes: async () => new FakeRoutes([LOOPBACK_ROUTE]),
    });
    for (const n of config.neighbors) speaker.addPeer(n);
    const scratch = speaker;
    const probeKey = config.neighbors.find((n) => n.name === 'warm-up-probe')?.key;
    removeProbe = async () => {
      if (probeKey !== undefined)
        await scratch.removePeer(probeKey, 'warm-up probe done').catch(() => undefined);
    };
    await speaker.start();
    const r = await finished;
    // The full collection runs here, while the scratch stack still stands, not after its
    // teardown. V8 keeps optimised code only while the hidden classes it was specialised on are
    // alive, and until the real stack makes its own objects the scratch stack's are their only
    // instances. Collected after the teardown, those classes died with them: `--trace-deopt`
    // showed 44 functions thrown away for "weak objects" and 136 optimised again during the
    // first real table; collected here (with primeNetlink), none and 103 (docs/PERFORMANCE.md,
    // tenth session). What this leaves (the stopped stack's tables, ~5 MB) goes with the next
    // full collection, by which time the real stack's objects hold the classes.
    await new Promise((res) => setImmediate(res));
    const gcStart = performance.now();
    if (collectGarbage()) gcMs = performance.now() - gcStart;
    return {
      ok: r.ok,
      routes: r.ok ? routes : held,
      ms: performance.now() - t0,
      gcMs,
      ...(r.reason ? { reason: r.reason } : {}),
    };
  } catch (e) {
    return { ok: false, routes: held, ms: performance.now() - t0, reason: (e as Error).message };
  } finally {
    clearTimeout(timer);
    feed.close();
    sink.close();
    probe.close();
    tail.close();
    await speaker?.stop('warm-up done').catch(() => undefined);
  }
}
