// `tsbgp run` as a route reflector on one rack LAN with real peers:
//   client-a, client-b  BIRD 2, iBGP route-reflector clients (AS 65000)
//   tor                 FRR, eBGP (AS 65100) with import/export policies, graceful restart
//   nopol               GoBGP, eBGP (AS 65200) without policies (RFC 8212)
// Checks RFC 4456 reflection (ORIGINATOR_ID, CLUSTER_LIST, next hop unchanged), eBGP routes
// reflected to the clients, best-path selection with `show route --detail` naming the step,
// RFC 8212 in both directions, and the graceful-restart helper when FRR's bgpd is killed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { type PeerDriver, startBird2, startFrr, startGobgp } from '../lib/peers/index.ts';
import { buildLan, TsbgpNode } from './harness.ts';

interface RouteJson {
  prefix: string;
  peer: string;
  nextHop?: string;
  asPath: string;
  localPref?: number;
}
interface PathJson {
  from: string;
  best: boolean;
  stale: boolean;
  lostAt: string | null;
  reason: string;
}
interface DetailJson {
  prefix: string;
  paths: PathJson[];
}

const RR = '10.2.0.1';
const A = '10.2.0.2';
const B = '10.2.0.3';
const TOR = '10.2.0.4';
const NOPOL = '10.2.0.5';

const CONFIG = `asn: 65000
routerId: ${RR}
listen:
  addresses: [${RR}]
neighbors:
  - { name: client-a, address: ${A}, asn: 65000, localAddress: ${RR}, holdTime: 9, routeReflectorClient: true }
  - { name: client-b, address: ${B}, asn: 65000, localAddress: ${RR}, holdTime: 9, routeReflectorClient: true }
  - name: tor
    address: ${TOR}
    asn: 65100
    localAddress: ${RR}
    holdTime: 9
    gracefulRestart: helper
    import: [all]
    export: [all]
  - { name: nopol, address: ${NOPOL}, asn: 65200, localAddress: ${RR}, holdTime: 9, softReconfigurationInbound: true }
originate:
  - prefix: 10.99.0.0/24
policies:
  all:
    default: accept
`;

describe('tsbgp as a route reflector with BIRD 2 clients, an FRR ToR and an eBGP peer without policy', {
  skip: !canUseNamespaces() && 'needs root',
}, () => {
  const lab = new Lab('rtg');
  const tsbgp = new TsbgpNode(lab);
  const cli = tsbgp.cli.bind(tsbgp);
  let daemon: SpawnedProcess;
  let clientA: PeerDriver;
  let clientB: PeerDriver;
  let tor: PeerDriver;
  let nopol: PeerDriver;

  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli(...args, '--json');
    assert.equal(r.code, 0, `tsbgp ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const detail = (prefix: string): Promise<DetailJson | undefined> => tsbgp.detail<DetailJson>(prefix);
  /** `birdc show route all PREFIX` in a BIRD node (the driver's socket naming). */
  const birdShow = (node: string, prefix: string): Promise<string> =>
    lab.exec(node, 'birdc', ['-s', join(lab.dir, `${node}-bird2.ctl`), `show route all ${prefix}`]);

  before(async () => {
    // One rack LAN: a bridge in its own namespace, every speaker on it (next hops are direct).
    await buildLan(lab, [
      ['tsb', RR],
      ['ca', A],
      ['cb', B],
      ['tor', TOR],
      ['nopol', NOPOL],
    ]);
    const rr = { address: RR, holdTime: 9 };
    clientA = await startBird2(lab, 'ca', {
      localAs: 65000,
      routerId: A,
      neighbors: [{ ...rr, remoteAs: 65000, localAddress: A }],
      originate: [{ prefix: '10.30.1.0/24' }, { prefix: '10.40.0.0/24', localPref: 200 }],
    });
    clientB = await startBird2(lab, 'cb', {
      localAs: 65000,
      routerId: B,
      neighbors: [{ ...rr, remoteAs: 65000, localAddress: B }],
      originate: [{ prefix: '10.40.0.0/24', localPref: 100 }, { prefix: '10.50.0.0/24' }],
    });
    tor = await startFrr(lab, 'tor', {
      localAs: 65100,
      routerId: TOR,
      neighbors: [{ ...rr, remoteAs: 65000, localAddress: TOR, gracefulRestart: true }],
      originate: [{ prefix: '10.60.0.0/24' }, { prefix: '10.50.0.0/24' }],
    });
    nopol = await startGobgp(lab, 'nopol', {
      localAs: 65200,
      routerId: NOPOL,
      neighbors: [{ ...rr, remoteAs: 65000, localAddress: NOPOL }],
      originate: [{ prefix: '10.70.0.0/24' }],
    });
    daemon = tsbgp.start(CONFIG);
    await tsbgp.waitEstablished('every session Established', 4);
  });

  after(async () => {
    await lab.dispose();
  });

  test('a client route reaches the other client with ORIGINATOR_ID and CLUSTER_LIST, next hop unchanged', async () => {
    const atB = await waitFor('client B has client A’s route', async () =>
      (await clientB.routesFrom(RR)).find((r) => r.prefix === '10.30.1.0/24'),
    );
    assert.equal(atB.nextHop, A, 'next hop unchanged');
    assert.deepEqual(atB.asPath, []);
    const text = await birdShow('cb', '10.30.1.0/24');
    assert.match(text, new RegExp(`BGP\\.originator_id:\\s+${A.replaceAll('.', '\\.')}`));
    assert.match(text, new RegExp(`BGP\\.cluster_list:\\s+${RR.replaceAll('.', '\\.')}\\s*$`, 'm'));
    // Not reflected back to its source (client A holds only its own copy).
    assert.equal(
      (await clientA.routesFrom(RR)).some((r) => r.prefix === '10.30.1.0/24'),
      false,
    );
  });

  test('the ToR’s eBGP route is reflected to both clients, next hop and AS path kept', async () => {
    for (const client of [clientA, clientB]) {
      const r = await waitFor(`${client.node} has the ToR route`, async () =>
        (await client.routesFrom(RR)).find((x) => x.prefix === '10.60.0.0/24'),
      );
      assert.equal(r.nextHop, TOR);
      assert.deepEqual(r.asPath, [65100]);
      assert.equal(r.localPref, 100);
    }
    // And the clients' routes go to the ToR with our AS and next hop self.
    const atTor = await waitFor('the ToR has client A’s route', async () =>
      (await tor.routesFrom(RR)).find((r) => r.prefix === '10.30.1.0/24'),
    );
    assert.deepEqual(atTor.asPath, [65000]);
    assert.equal(atTor.nextHop, RR);
  });

  test('best path: local preference, then AS path length; show route --detail names the step', async () => {
    const lp = await waitFor('two paths for 10.40.0.0/24', async () => {
      const d = await detail('10.40.0.0/24');
      return d !== undefined && d.paths.length === 2 ? d : undefined;
    });
    const bestLp = lp.paths.find((p) => p.best)!;
    const loserLp = lp.paths.find((p) => !p.best)!;
    assert.match(bestLp.from, /client-a/);
    assert.equal(loserLp.lostAt, 'local-pref');
    const best = await json<RouteJson[]>('show', 'route', '10.40.0.0/24');
    assert.deepEqual(
      best.map((r) => [r.nextHop, r.localPref]),
      [[A, 200]],
    );
    // Client B gets client A's path (the best), not its own back.
    const atB = await waitFor('client B has the best 10.40.0.0/24 path', async () =>
      (await clientB.routesFrom(RR)).find((r) => r.prefix === '10.40.0.0/24'),
    );
    assert.equal(atB.nextHop, A);

    const asp = await waitFor('two paths for 10.50.0.0/24', async () => {
      const d = await detail('10.50.0.0/24');
      return d !== undefined && d.paths.length === 2 ? d : undefined;
    });
    assert.match(asp.paths.find((p) => p.best)!.from, /client-b/);
    assert.equal(asp.paths.find((p) => !p.best)!.lostAt, 'as-path-length');
    const text = await cli('show', 'route', '10.50.0.0/24', '--detail');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^10\.50\.0\.0\/24: 2 paths$/m);
    assert.match(text.stdout, /lost at as-path-length/);
  });

  test('RFC 8212: the eBGP neighbour without policy gets nothing and what it sends is not used', async () => {
    // By now the clients have the ToR's routes: everything has had time to propagate.
    await waitFor('GoBGP’s session is up', async () => (await nopol.sessionState(RR)) === 'established');
    const atTsb = await json<{ prefixesReceived: number; name: string }[]>('show', 'neighbors');
    const row = atTsb.find((n) => n.name === 'nopol')!;
    // Its pre-policy routes are kept (softReconfigurationInbound), so they show though import refused them.
    await waitFor('tsbgp received GoBGP’s route (Adj-RIB-In)', async () =>
      (await json<RouteJson[]>('show', 'routes', '--peer', 'nopol')).some((r) => r.prefix === '10.70.0.0/24'),
    );
    void row;
    const locRib = await json<RouteJson[]>('show', 'routes');
    assert.ok(
      locRib.some((r) => r.prefix === '10.60.0.0/24'),
      'the Loc-RIB has the ToR route',
    );
    assert.equal(
      locRib.some((r) => r.prefix === '10.70.0.0/24'),
      false,
      'not in the Loc-RIB',
    );
    assert.equal(
      (await clientA.routesFrom(RR)).some((r) => r.prefix === '10.70.0.0/24'),
      false,
    );
    assert.deepEqual(await nopol.routesFrom(RR), [], 'nothing advertised to it');
    assert.match(readFileSync(daemon.logPath, 'utf8'), /RFC 8212/);
  });

  test('graceful restart helper: FRR’s bgpd killed, its routes kept as stale, refreshed after restart', async () => {
    await waitFor('the ToR route is in the Loc-RIB', async () => {
      const d = await detail('10.60.0.0/24');
      return d?.paths.some((p) => p.best && !p.stale) === true;
    });
    const pid = Number(readFileSync(join(lab.dir, 'tor-frr', 'bgpd.pid'), 'utf8').trim());
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'tsbgp marks the ToR routes stale',
      async () => (await detail('10.60.0.0/24'))?.paths.some((p) => p.stale) === true,
      30_000,
    );
    // Still forwarded and still advertised to the clients while the ToR restarts.
    assert.ok((await clientA.routesFrom(RR)).some((r) => r.prefix === '10.60.0.0/24'));
    await tor.restart();
    await waitFor(
      'the ToR route is fresh again (End-of-RIB or re-announcement)',
      async () => {
        const d = await detail('10.60.0.0/24');
        return d !== undefined && d.paths.length === 1 && !d.paths[0]!.stale;
      },
      60_000,
    );
    assert.match(readFileSync(daemon.logPath, 'utf8'), /graceful restart: keeping routes as stale/);
    assert.ok((await clientB.routesFrom(RR)).some((r) => r.prefix === '10.60.0.0/24'));
  });
});
