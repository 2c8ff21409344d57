// RFC 4724 §4.2 against a real BIRD 2: a graceful-restart peer restarts without tsbgp seeing its
// old connection close (a crash or power cut where no FIN or RST gets through). When the peer
// calls again, tsbgp must take the new connection as the end of the old session, keep the peer's
// routes as stale, and carry on with the new one, rather than refuse it by RFC 4271 §6.8 and wait
// out a 90 s hold timer with the routes of a dead session.
//
//   tsb 10.61.0.1 (tsbgp run, GR helper) ──── 10.61.0.2 bird (BIRD 2, graceful restart on)
//
// The old connection is made silent with an iptables DROP in BIRD's namespace, on its exact
// four-tuple, before BIRD is killed with SIGKILL.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, run, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { type PeerDriver, startBird2 } from '../lib/peers/index.ts';
import { buildLan, TsbgpNode } from './harness.ts';

const TSB = '10.61.0.1';
const BIRD = '10.61.0.2';
const PREFIX = '10.62.0.0/24';

const CONFIG = `asn: 65000
routerId: ${TSB}
listen:
  addresses: [${TSB}]
neighbors:
  - { name: bird, address: ${BIRD}, asn: 65000, localAddress: ${TSB}, gracefulRestart: helper }
`;

interface PathJson {
  from: string;
  stale: boolean;
}
interface DetailJson {
  prefix: string;
  paths: PathJson[];
}
interface NeighborJson {
  name: string;
  state: string;
  remotePort?: number;
  localPort?: number;
}

describe('a graceful-restart peer restarting unnoticed (RFC 4724 §4.2, BIRD 2)', {
  skip: !canUseNamespaces() && 'needs root',
  timeout: 120_000,
}, () => {
  const lab = new Lab('grun');
  const tsbgp = new TsbgpNode(lab);
  let daemon: SpawnedProcess;
  let bird: PeerDriver;

  const neighbor = async (): Promise<NeighborJson | undefined> => {
    const r = await tsbgp.cli('show', 'neighbors', '--json');
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.stdout) as NeighborJson[]).find((n) => n.name === 'bird');
  };

  before(async () => {
    await buildLan(lab, [
      ['tsb', TSB],
      ['bird', BIRD],
    ]);
    bird = await startBird2(lab, 'bird', {
      localAs: 65000,
      routerId: BIRD,
      neighbors: [{ address: TSB, remoteAs: 65000, localAddress: BIRD, gracefulRestart: true }],
      originate: [{ prefix: PREFIX }],
    });
    daemon = tsbgp.start(CONFIG);
    await tsbgp.waitEstablished('the BIRD session Established', 1);
  });

  after(async () => {
    await lab.dispose();
  });

  test('BIRD killed behind a DROP and restarted: its new connection replaces the old session, the route stays', async () => {
    await waitFor('BIRD’s route in the Loc-RIB, fresh', async () => {
      const d = await tsbgp.detail<DetailJson>(PREFIX);
      return d?.paths.some((p) => !p.stale) === true;
    });
    const before = await neighbor();
    assert.equal(before?.state, 'Established');

    // The old connection's four-tuple, from BIRD's side.
    const ss = await lab.exec('bird', 'ss', ['-Htn', 'state', 'established']);
    const tuple = ss
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .map((f) => [f[2], f[3]] as const)
      .find(([local, peer]) => local?.startsWith(`${BIRD}:`) && peer?.startsWith(`${TSB}:`));
    assert.ok(tuple, `BIRD's connection to tsbgp in ss: ${ss}`);
    const [birdPort, tsbPort] = [tuple[0]!.split(':')[1]!, tuple[1]!.split(':')[1]!];
    await lab.exec('bird', 'iptables', [
      '-A',
      'OUTPUT',
      '-p',
      'tcp',
      '-s',
      BIRD,
      '--sport',
      birdPort,
      '-d',
      TSB,
      '--dport',
      tsbPort,
      '-j',
      'DROP',
    ]);

    // Watch the route for the whole restart: it must never leave the Loc-RIB.
    // (Stale shows for a few ms only, between the new OPEN and BIRD's End-of-RIB: the log says it.)
    let absent = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const d = await tsbgp.detail<DetailJson>(PREFIX);
        if (!d || d.paths.length === 0) absent++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const pids = (await run('ip', ['netns', 'pids', lab.nsName('bird')])).stdout.split(/\s+/).filter(Boolean);
    const birdPid = pids.find((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'bird';
      } catch {
        return false;
      }
    });
    assert.ok(birdPid, 'a bird process in its namespace');
    const killedAt = Date.now();
    process.kill(Number(birdPid), 'SIGKILL');
    // tsbgp cannot tell: its session stays Established while BIRD is away.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await neighbor())?.state, 'Established', 'the kill went unnoticed');
    await bird.restart();

    const after = await waitFor(
      'a new session on a new connection',
      async () => {
        const n = await neighbor();
        return n?.state === 'Established' && n.remotePort !== before?.remotePort ? n : undefined;
      },
      60_000,
    );
    const tookMs = Date.now() - killedAt;
    await waitFor(
      'BIRD’s route fresh again',
      async () => {
        const d = await tsbgp.detail<DetailJson>(PREFIX);
        return d !== undefined && d.paths.length === 1 && !d.paths[0]!.stale;
      },
      30_000,
    );
    watching = false;
    await watcher;
    const log = readFileSync(daemon.logPath, 'utf8');
    assert.match(log, /RFC 4724 §4\.2/);
    assert.match(log, /graceful restart: keeping routes as stale/);
    assert.doesNotMatch(log, /HoldTimerExpired/, 'the old session was not left to its hold timer');
    assert.equal(absent, 0, 'the route never left the Loc-RIB');
    assert.ok(after.remotePort !== undefined);
    // BIRD's restart takes its connect delay (5 s) and a few seconds more; a 90 s hold timer
    // would take far longer.
    assert.ok(tookMs < 30_000, `re-established ${tookMs} ms after the kill`);
    process.stderr.write(`# re-established ${tookMs} ms after the kill\n`);
  });
});
