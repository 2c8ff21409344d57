// `tsbgp run` as an operator runs it, against real peers: FRR from the start, BIRD 2 added and
// removed by reload. Checks that sessions establish, routes and their attributes are exchanged,
// reload changes only what changed, a bad config is refused with the running state untouched, and
// SIGTERM sends Cease (Administrative Shutdown, which FRR records) and exits 0.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, type RunResult, run, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { type PeerDriver, startBird2, startFrr } from '../lib/peers/index.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSBGP = join(ROOT, 'bin', 'tsbgp.js');

interface NeighborJson {
  name: string;
  address?: string;
  state: string;
  since: number;
  prefixesReceived: number;
  lastError?: { text: string };
}
interface RouteJson {
  prefix: string;
  peer: string;
  asPath: string;
  med?: number;
  communities: string[];
  largeCommunities: string[];
}

const FRR_NEIGHBOR = `
  - name: frr
    address: 10.1.1.1
    asn: 65010
    localAddress: 10.1.1.2
    holdTime: 9
    import: [all]
    export: [all]
`;
const BIRD_NEIGHBOR = `
  - name: bird
    address: 10.1.2.1
    asn: 65020
    localAddress: 10.1.2.2
    holdTime: 9
    import: [all]
    export: [all]
`;
function config(neighbors: string): string {
  return `asn: 65001
routerId: 10.1.1.2
listen:
  addresses: [10.1.1.2, 10.1.2.2]
neighbors:${neighbors}
originate:
  - prefix: 10.99.0.0/24
    communities: ["65001:7"]
    largeCommunities: ["65001:0:7"]
    med: 42
policies:
  all:
    default: accept
`;
}

describe('tsbgp run against FRR and BIRD 2', { skip: !canUseNamespaces() && 'needs root' }, () => {
  const lab = new Lab('dmn');
  const cfgFile = join(lab.dir, 'tsbgp.yaml');
  const socket = join(lab.dir, 'tsbgp.sock');
  let daemon: SpawnedProcess;
  let frr: PeerDriver;
  let bird: PeerDriver;

  const cli = (...args: string[]): Promise<RunResult> =>
    run(process.execPath, [TSBGP, ...args, '--control-socket', socket]);
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli(...args, '--json');
    assert.equal(r.code, 0, `tsbgp ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const neighbors = () => json<NeighborJson[]>('show', 'neighbors');
  /**
   * FRR's record of its neighbour (last NOTIFICATION and shutdown text). The FRR driver keeps its
   * vty sockets in the directory of its log.
   */
  const frrNeighbor = async (): Promise<Record<string, unknown>> => {
    const out = await lab.exec('frr', 'vtysh', [
      '--vty_socket',
      dirname(frr.logPath),
      '-c',
      'show bgp neighbors 10.1.1.2 json',
    ]);
    return Object.values(JSON.parse(out) as Record<string, Record<string, unknown>>)[0] ?? {};
  };
  const neighbor = async (name: string) => (await neighbors()).find((n) => n.name === name);
  const established = (name: string) =>
    waitFor(`${name} Established`, async () => (await neighbor(name))?.state === 'Established', 40_000);

  before(async () => {
    await lab.addNode('tsb');
    await lab.addNode('frr');
    await lab.addNode('bird');
    await lab.link(
      { node: 'tsb', ifname: 'to-frr', addrs: ['10.1.1.2/24'] },
      { node: 'frr', ifname: 'to-tsb', addrs: ['10.1.1.1/24'] },
    );
    await lab.link(
      { node: 'tsb', ifname: 'to-bird', addrs: ['10.1.2.2/24'] },
      { node: 'bird', ifname: 'to-tsb', addrs: ['10.1.2.1/24'] },
    );
    frr = await startFrr(lab, 'frr', {
      localAs: 65010,
      routerId: '10.1.1.1',
      neighbors: [{ address: '10.1.1.2', remoteAs: 65001, localAddress: '10.1.1.1', holdTime: 9 }],
      originate: [{ prefix: '10.10.0.0/24', communities: ['65010:1'], med: 5 }],
    });
    bird = await startBird2(lab, 'bird', {
      localAs: 65020,
      routerId: '10.1.2.1',
      neighbors: [{ address: '10.1.2.2', remoteAs: 65001, localAddress: '10.1.2.1', holdTime: 9 }],
      originate: [{ prefix: '10.20.0.0/24' }],
    });
    writeFileSync(cfgFile, config(FRR_NEIGHBOR));
    daemon = lab.spawn('tsb', 'tsbgp', process.execPath, [
      TSBGP,
      'run',
      '--config',
      cfgFile,
      '--control-socket',
      socket,
    ]);
  });

  after(async () => {
    await lab.dispose();
  });

  test('the session with FRR establishes', async () => {
    await established('frr');
    await waitFor('FRR sees the session', async () => (await frr.sessionState('10.1.1.2')) === 'established');
  });

  test('a second daemon on the same control socket is refused before it touches BGP', async () => {
    const r = await run('ip', [
      'netns',
      'exec',
      lab.nsName('tsb'),
      process.execPath,
      TSBGP,
      'run',
      '--config',
      cfgFile,
      '--control-socket',
      socket,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /another tsbgp daemon is running on the control socket/);
    assert.equal((await neighbor('frr'))?.state, 'Established');
  });

  test('routes are exchanged with their attributes', async () => {
    const atFrr = await waitFor('FRR has our prefix', async () =>
      (await frr.routesFrom('10.1.1.2')).find((r) => r.prefix === '10.99.0.0/24'),
    );
    assert.deepEqual(atFrr.asPath, [65001]);
    assert.deepEqual(atFrr.communities, ['65001:7']);
    assert.deepEqual(atFrr.largeCommunities, ['65001:0:7']);
    assert.equal(atFrr.med, 42);
    assert.equal(atFrr.nextHop, '10.1.1.2');

    const ours = await waitFor('our Adj-RIB-In has the FRR prefix', async () =>
      (await json<RouteJson[]>('show', 'routes', '--peer', 'frr')).find((r) => r.prefix === '10.10.0.0/24'),
    );
    assert.equal(ours.asPath, '65010');
    assert.deepEqual(ours.communities, ['65010:1']);
    assert.equal(ours.med, 5);
    // The prefix filter: an address finds the route that contains it.
    const byAddr = await json<RouteJson[]>('show', 'routes', '10.10.0.77');
    assert.deepEqual(
      byAddr.map((r) => r.prefix),
      ['10.10.0.0/24'],
    );
    const table = await cli('show', 'neighbors');
    assert.match(table.stdout, /^Name\s+Address\s+AS\s+State\s+Since\s+Rcvd\s+Sent\s+Info$/m);
    // Rcvd counts the Adj-RIB-In (pre-policy): FRR also sends our own prefix back (AS-path loop).
    assert.match(table.stdout, /^frr\s+10\.1\.1\.1\s+65010\s+Established\s+\d\d:\d\d:\d\d\s+\d+\s+1\b/m);
  });

  test('reload adds a neighbour without disturbing the other', async () => {
    const frrBefore = await neighbor('frr');
    writeFileSync(cfgFile, config(FRR_NEIGHBOR + BIRD_NEIGHBOR));
    const r = await cli('reload');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added bird/);
    await established('bird');
    await waitFor(
      'BIRD sees the session',
      async () => (await bird.sessionState('10.1.2.2')) === 'established',
    );
    await waitFor('BIRD has our prefix', async () =>
      (await bird.routesFrom('10.1.2.2')).some((r) => r.prefix === '10.99.0.0/24'),
    );
    await waitFor('our Adj-RIB-In has the BIRD prefix', async () =>
      (await json<RouteJson[]>('show', 'routes', '--peer', 'bird')).some((r) => r.prefix === '10.20.0.0/24'),
    );
    const frrAfter = await neighbor('frr');
    assert.equal(frrAfter?.state, 'Established');
    assert.equal(frrAfter?.since, frrBefore?.since, 'the FRR session was not reset');
  });

  test('a bad config is refused with its line, and nothing changes', async () => {
    const before = await neighbors();
    const good = readFileSync(cfgFile, 'utf8');
    writeFileSync(
      cfgFile,
      good.replace(
        '    holdTime: 9\n    import: [all]\n    export: [all]\n\n  - name: bird',
        '    holdTime: 2\n    import: [all]\n    export: [all]\n\n  - name: bird',
      ),
    );
    assert.notEqual(readFileSync(cfgFile, 'utf8'), good, 'the test made the file bad');
    const r = await cli('reload');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tsbgp\.yaml:\d+:\d+: neighbors\[0\]\.holdTime: the hold time must be 0/);
    const after = await neighbors();
    assert.deepEqual(
      after.map((n) => [n.name, n.state, n.since]),
      before.map((n) => [n.name, n.state, n.since]),
    );
    const status = await json<{ lastReload?: { ok: boolean } }>('show', 'status');
    assert.equal(status.lastReload?.ok, false);
    writeFileSync(cfgFile, good);
  });

  test('SIGHUP reload removes a neighbour with a Cease; the other stays up', async () => {
    const frrBefore = await neighbor('frr');
    writeFileSync(cfgFile, config(FRR_NEIGHBOR));
    daemon.child.kill('SIGHUP');
    await waitFor('the SIGHUP reload', () =>
      /configuration reloaded: removed bird/.test(readFileSync(daemon.logPath, 'utf8')),
    );
    await waitFor(
      'BIRD loses the session',
      async () => (await bird.sessionState('10.1.2.2')) !== 'established',
    );
    await waitFor(
      'BIRD withdraws our prefix',
      async () => !(await bird.routesFrom('10.1.2.2')).some((r) => r.prefix === '10.99.0.0/24'),
    );
    assert.equal(
      (await neighbors()).some((n) => n.name === 'bird'),
      false,
    );
    const log = readFileSync(daemon.logPath, 'utf8');
    assert.match(log, /sent NOTIFICATION: Cease \/ Peer De-configured/);
    const frrAfter = await neighbor('frr');
    assert.equal(frrAfter?.since, frrBefore?.since, 'the FRR session was not reset');
  });

  test('neighbor shutdown / enable / reset send the Cease with the message, and the session re-forms', async () => {
    const r = await cli('neighbor', 'frr', 'shutdown', '--message', 'maintenance window');
    assert.equal(r.code, 0, r.stderr);
    const rec = await waitFor('FRR records the Cease and its message', async () => {
      const n = await frrNeighbor();
      return n.lastShutdownDescription === 'maintenance window' ? n : undefined;
    });
    assert.equal(rec.lastNotificationReason, 'Cease/Administrative Shutdown');
    assert.equal((await neighbor('frr'))?.state === 'Established', false);
    assert.equal((await cli('neighbor', 'frr', 'enable')).code, 0);
    await established('frr');

    const before = await neighbor('frr');
    const frrBefore = Number((await frrNeighbor()).connectionsEstablished);
    assert.equal((await cli('neighbor', '10.1.1.1', 'reset', '-m', 'clearing')).code, 0);
    // The session re-forms within milliseconds, which makes FRR's last-NOTIFICATION fields a race
    // to poll: count FRR's connections instead, and check the text we sent.
    await waitFor('the session re-forms', async () => {
      const n = await neighbor('frr');
      return n?.state === 'Established' && n.since !== before?.since;
    });
    await waitFor('FRR counts a new connection', async () => {
      return Number((await frrNeighbor()).connectionsEstablished) > frrBefore;
    });
    assert.match(
      readFileSync(daemon.logPath, 'utf8'),
      /sent NOTIFICATION: Cease \/ Administrative Reset: clearing/,
    );
  });

  test('SIGTERM sends Cease (Administrative Shutdown) to FRR and exits 0', async () => {
    daemon.child.kill('SIGTERM');
    const code = await daemon.exited;
    assert.equal(code, 0);
    const rec = await waitFor('FRR records the Cease', async () => {
      const n = await frrNeighbor();
      return n.lastShutdownDescription === 'daemon shutting down (SIGTERM)' ? n : undefined;
    });
    assert.equal(rec.lastNotificationReason, 'Cease/Administrative Shutdown');
    assert.equal(rec.lastErrorCodeSubcode, '0602');
    await waitFor('FRR session down', async () => (await frr.sessionState('10.1.1.2')) !== 'established');
  });

  test('a file with problems does not start', async () => {
    const bad = join(lab.dir, 'bad.yaml');
    writeFileSync(
      bad,
      'asn: 65001\nrouterId: 10.1.1.2\nneighbors:\n  - address: 10.1.1.1\n    asn: 99999999999\n',
    );
    const r = await run('ip', [
      'netns',
      'exec',
      lab.nsName('tsb'),
      process.execPath,
      TSBGP,
      'run',
      '--config',
      bad,
      '--control-socket',
      join(lab.dir, 'x.sock'),
      '--log-format',
      'json',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml:5:10: neighbors\[0\]\.asn:/);
  });
});
