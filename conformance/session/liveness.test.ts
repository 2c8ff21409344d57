// Liveness under a flood (issue #3 §1): one session receives a 1M-prefix table at line rate from a
// raw sender that never waits for us, while a BIRD 2 session runs a 3-second hold time with 1 s
// keepalives. Neither session may drop: BIRD would close its session if our KEEPALIVEs were late,
// and we would close ours if BIRD's were not read and handled in time. The flooding session has
// a 3-second hold time too, and the sender records the gaps between our KEEPALIVEs. Reading from
// the flooding socket must pause (back-pressure) so the input queue stays bounded.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QUEUE_HIGH } from '../../src/bgp/session/index.ts';
import { canUseNamespaces, Lab, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import type { HarnessConfig } from './speaker-harness.ts';

const PREFIXES = 1_000_000;
const here = import.meta.dirname;
const skip = canUseNamespaces() ? false : 'needs root for network namespaces';

interface Line {
  type: string;
  [k: string]: unknown;
}

function lines(path: string): Line[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: Line[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as Line);
    } catch {
      // a line still being written
    }
  }
  return out;
}

interface PeerLine {
  id: string;
  state: string;
  prefixes: number;
  queue: number;
  queuePeak: number;
  paused: boolean;
  pauses: number;
}

let lab: Lab;
let harness: SpawnedProcess;
let blaster: SpawnedProcess;

before(async () => {
  if (skip) return;
  lab = new Lab('live');
  await lab.addNode('dut');
  await lab.addNode('blast');
  await lab.addNode('bird');
  await lab.link(
    { node: 'dut', ifname: 'to-blast', addrs: ['10.77.1.1/24'] },
    { node: 'blast', ifname: 'to-dut', addrs: ['10.77.1.2/24'] },
  );
  await lab.link(
    { node: 'dut', ifname: 'to-bird', addrs: ['10.77.2.1/24'] },
    { node: 'bird', ifname: 'to-dut', addrs: ['10.77.2.2/24'] },
  );
});

after(async () => {
  if (lab) await lab.dispose();
});

test('a 1M-prefix flood on one session starves neither it nor a 3 s hold-time session', {
  skip,
  timeout: 170_000,
}, async () => {
  const cfg: HarnessConfig = {
    localAs: 65000,
    routerId: '10.77.0.1',
    listen: { addresses: ['0.0.0.0'], port: 179 },
    peers: [
      { key: '10.77.1.2', address: '10.77.1.2', remoteAs: 65001, passive: true, holdTime: 3 },
      { key: '10.77.2.2', address: '10.77.2.2', remoteAs: 65002, holdTime: 3, localAddress: '10.77.2.1' },
    ],
    statusIntervalMs: 100,
    targetPrefixes: PREFIXES,
  };
  const cfgPath = join(lab.dir, 'harness.json');
  writeFileSync(cfgPath, JSON.stringify(cfg));
  harness = lab.spawn('dut', 'harness', 'node', [
    // e.g. HARNESS_NODE_ARGS=--trace-gc to see what the event-loop delay is made of
    ...(process.env.HARNESS_NODE_ARGS?.split(' ') ?? []),
    '--import',
    'tsx',
    join(here, 'speaker-harness.ts'),
    cfgPath,
  ]);

  const birdConf = join(lab.dir, 'bird.conf');
  writeFileSync(
    birdConf,
    [
      `log "${join(lab.dir, 'bird.log')}" all;`,
      'router id 10.77.2.2;',
      'protocol device { }',
      'protocol bgp dut { local 10.77.2.2 as 65002; neighbor 10.77.2.1 as 65000; hold time 3; keepalive time 1;',
      '  connect retry time 1; error wait time 1, 2; ipv4 { import all; export none; }; }',
      '',
    ].join('\n'),
  );
  const birdSock = join(lab.dir, 'bird.ctl');
  lab.spawn('bird', 'bird', 'bird', ['-f', '-c', birdConf, '-s', birdSock]);

  const status = (): PeerLine[] => {
    const all = lines(harness.logPath).filter((l) => l.type === 'status');
    return (all.at(-1)?.peers as PeerLine[] | undefined) ?? [];
  };
  await waitFor(
    'BIRD session Established on our side',
    () => status().find((p) => p.id === '10.77.2.2')?.state === 'Established',
    30_000,
  );
  const birdState = async (): Promise<string> =>
    (await lab.tryExec('bird', 'birdc', ['-s', birdSock, 'show', 'protocols', 'dut'])).stdout;
  await waitFor('BIRD reports Established', async () => /Established/.test(await birdState()), 15_000);

  const blastCfg = join(lab.dir, 'blaster.json');
  writeFileSync(
    blastCfg,
    JSON.stringify({
      address: '10.77.1.1',
      port: 179,
      localAddress: '10.77.1.2',
      localAs: 65001,
      routerId: 0x0a4d0102,
      holdTime: 3,
      prefixes: PREFIXES,
      prefixesPerUpdate: 8,
      attributeSets: 50_000,
    }),
  );
  blaster = lab.spawn('blast', 'blaster', 'node', ['--import', 'tsx', join(here, 'blaster.ts'), blastCfg]);
  const blastLines = (): Line[] => lines(blaster.logPath);
  await waitFor(
    'the flood session to establish',
    () => blastLines().some((l) => l.type === 'established'),
    60_000,
  );
  const started = Date.now();
  const target = await waitFor(
    `${PREFIXES} prefixes in the Adj-RIB-In`,
    () => lines(harness.logPath).find((l) => l.type === 'target' && l.peer === '10.77.1.2'),
    120_000,
    100,
  );
  const ingestMs = Number(target.t) - Number(blastLines().find((l) => l.type === 'established')?.t);
  // Keep both sessions running a little after the flood, then collect the evidence.
  await new Promise((r) => setTimeout(r, 4000));
  blaster.child.kill('SIGTERM');
  await blaster.exited;

  const harnessLines = lines(harness.logPath);
  const drops = harnessLines.filter(
    (l) =>
      l.type === 'event' &&
      (l.event as { type: string; from?: string }).type === 'state' &&
      (l.event as { from?: string }).from === 'Established',
  );
  const statuses = harnessLines.filter((l) => l.type === 'status' && Number(l.t) >= started);
  const blastPeer = (l: Line): PeerLine | undefined =>
    (l.peers as PeerLine[]).find((p) => p.id === '10.77.1.2');
  const last = statuses.at(-1);
  assert.ok(last, 'harness reported status');
  const final = blastPeer(last);
  const summary = blastLines().find((l) => l.type === 'summary');
  const maxLoopDelay = Math.max(...statuses.map((l) => Number(l.loopDelayMaxMs)));
  const peakRss = Math.max(...statuses.map((l) => Number(l.rss)));
  const report = {
    ingestMs,
    prefixesPerSecond: Math.round(PREFIXES / (ingestMs / 1000)),
    ourKeepalivesSeen: summary?.keepalives,
    maxGapBetweenOurKeepalivesMs: summary?.maxKeepaliveGapMs,
    inputQueuePeakBytes: final?.queuePeak,
    readPauses: final?.pauses,
    maxEventLoopDelayMs: maxLoopDelay,
    peakRssMB: Math.round(peakRss / 2 ** 20),
  };
  console.log(`liveness: ${JSON.stringify(report)}`);

  assert.deepEqual(drops, [], 'no session left Established');
  assert.equal(final?.state, 'Established');
  assert.equal(final?.prefixes, PREFIXES);
  assert.equal(
    blastPeer(last) && (last.peers as PeerLine[]).find((p) => p.id === '10.77.2.2')?.state,
    'Established',
  );
  assert.match(await birdState(), /Established/, 'BIRD kept its 3 s hold-time session');
  assert.doesNotMatch(
    readFileSync(join(lab.dir, 'bird.log'), 'utf8'),
    /Hold timer expired|Received: |Error: /,
    'BIRD logged no session error',
  );
  assert.ok(summary, 'blaster summary');
  assert.ok(Number(summary.keepalives) >= 3, 'our KEEPALIVEs reached the flooding peer');
  // Our keepalive interval is 1 s (hold 3 s / 3, jittered to 0.75-1 s, RFC 4271 §10): a gap much
  // longer than that means the flood held the event loop.
  assert.ok(
    Number(summary.maxKeepaliveGapMs) < 1500,
    `our KEEPALIVEs were up to ${summary.maxKeepaliveGapMs} ms apart`,
  );
  // Timers later than one keepalive interval would mean the flood starved them.
  assert.ok(maxLoopDelay < 1000, `timers ran up to ${maxLoopDelay} ms late during the flood`);
  // Back-pressure: reading paused, and the queue never grew far past its bound (one socket read).
  assert.ok(Number(final?.pauses) > 0, 'reading from the flooding socket paused at least once');
  assert.ok(
    Number(final?.queuePeak) <= QUEUE_HIGH + 1024 * 1024,
    `input queue peaked at ${final?.queuePeak} bytes`,
  );
});
