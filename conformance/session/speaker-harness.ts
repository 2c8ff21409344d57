// Runs one tsbgp Speaker inside a test namespace (started with `ip netns exec NS node --import tsx
// speaker-harness.ts CONFIG.json`) and reports on stdout, one JSON object per line:
//   {"type":"status", "t": epoch ms, "rss": bytes, "peers": [...]}   every statusIntervalMs
//   {"type":"event", ...SpeakerEvent}                                 every state change / NOTIFICATION
//   {"type":"target", "peer": id, "count": n, "t": epoch ms}          when a peer's Adj-RIB-In first holds targetPrefixes
// SIGTERM stops the speaker with a Cease and exits 0.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import bunyan from 'bunyan';
import { type PeerConfig, Speaker } from '../../src/bgp/session/index.ts';
import type { OriginatedRoute } from '../../src/bgp/session/types.ts';

export interface HarnessConfig {
  localAs: number;
  routerId: string;
  listen: { addresses: string[]; port: number };
  peers: PeerConfig[];
  originate?: OriginatedRoute[];
  statusIntervalMs?: number;
  /** Emit a "target" line when a peer's Adj-RIB-In reaches this many prefixes. */
  targetPrefixes?: number;
  logLevel?: bunyan.LogLevel;
  /** Include speaker.routes() in every status line (small tables only). */
  dumpRoutes?: boolean;
  /**
   * Unix socket for commands, one JSON object per line: {"op":"shutdown"|"enable"|"reset",
   * "peer":ID, "message":TEXT}, {"op":"status"}, {"op":"routes"}; each gets a JSON reply line.
   */
  controlSocket?: string;
}

const path = process.argv[2];
if (!path) throw new Error('usage: speaker-harness.ts CONFIG.json');
const cfg = JSON.parse(readFileSync(path, 'utf8')) as HarnessConfig;
const out = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
const logger = bunyan.createLogger({ name: 'tsbgp', level: cfg.logLevel ?? 'warn', stream: process.stderr });
const speaker = new Speaker({ localAs: cfg.localAs, routerId: cfg.routerId, listen: cfg.listen, logger });
speaker.events.subscribe((e) => out({ type: 'event', event: e }));
for (const p of cfg.peers) speaker.addPeer(p);
if (cfg.originate) speaker.setOriginated(cfg.originate);

const reached = new Set<string>();
const target = cfg.targetPrefixes;
if (target !== undefined) {
  // Checked on every Adj-RIB-In batch, so the time is when the last prefix landed.
  speaker.adjRibInChanges.subscribe((b) => {
    if (reached.has(b.peer)) return;
    const rib = speaker.adjRibIn(b.peer);
    if (rib && rib.size() >= target) {
      reached.add(b.peer);
      out({ type: 'target', peer: b.peer, count: rib.size(), t: Date.now() });
    }
  });
}

// Event-loop delay shows whether a flood starves timers: it is the lateness of every timer.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
await speaker.start();
out({ type: 'ready', t: Date.now(), pid: process.pid });
const timer = setInterval(() => {
  out({
    type: 'status',
    t: Date.now(),
    rss: process.memoryUsage.rss(),
    // Per interval: the histogram is reset after each line.
    loopDelayMaxMs: loopDelay.max / 1e6,
    peers: speaker.status().map((s) => ({
      id: s.id,
      state: s.state,
      prefixes: s.prefixesReceived,
      queue: s.inputQueueBytes,
      queuePeak: s.inputQueuePeakBytes,
      paused: s.inputPaused,
      pauses: s.inputPauses,
      received: s.counters.received,
      sent: s.counters.sent,
      lastError: s.lastError?.text,
    })),
    ...(cfg.dumpRoutes ? { routes: speaker.routes() } : {}),
  });
  loopDelay.reset();
}, cfg.statusIntervalMs ?? 250);

if (cfg.controlSocket) {
  const server = createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line) as { op: string; peer?: string; message?: string };
        const reply = (o: unknown): void => {
          conn.write(`${JSON.stringify(o)}\n`);
        };
        const peer = cmd.peer ?? '';
        const done = (p: Promise<void> | void): void => {
          Promise.resolve(p).then(
            () => reply({ ok: true }),
            (err: unknown) => reply({ ok: false, error: String(err) }),
          );
        };
        if (cmd.op === 'shutdown') done(speaker.shutdownPeer(peer, cmd.message ?? ''));
        else if (cmd.op === 'enable') done(speaker.enablePeer(peer));
        else if (cmd.op === 'reset') done(speaker.resetPeer(peer, cmd.message ?? ''));
        else if (cmd.op === 'status') reply({ ok: true, status: speaker.status() });
        else if (cmd.op === 'routes') reply({ ok: true, routes: speaker.routes(peer ? { peer } : {}) });
        else reply({ ok: false, error: `unknown op ${cmd.op}` });
      }
    });
  });
  server.listen(cfg.controlSocket);
}

process.on('SIGTERM', () => {
  clearInterval(timer);
  speaker
    .stop('harness stopping')
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    });
});
