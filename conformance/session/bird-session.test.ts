// Session-level behaviour against a real BIRD 2: eBGP over IPv4 and over IPv6, hold-time
// negotiation, routes with attributes both ways, RFC 9003 shutdown messages both ways, back-off
// and reconnection after a NOTIFICATION, and the session re-forming after BIRD is killed.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PeerStatus } from '../../src/bgp/session/index.ts';
import { canUseNamespaces, Lab, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { BirdCtl } from './bird-ctl.ts';
import { harnessCommand } from './harness-client.ts';
import type { HarnessConfig } from './speaker-harness.ts';

const skip = canUseNamespaces() ? false : 'needs root for network namespaces';
const here = import.meta.dirname;
let lab: Lab;
let ctlPath: string;
let birdSock: string;
let birdConf: string;
let bird: SpawnedProcess;
let birdctl: BirdCtl;

const V4 = '10.79.1.2';
const V6 = 'fd00:79::2';

function startBird(): SpawnedProcess {
  return lab.spawn('bird', `bird-${Date.now()}`, 'bird', ['-f', '-c', birdConf, '-s', birdSock]);
}

async function status(id: string): Promise<PeerStatus | undefined> {
  const r = await harnessCommand(ctlPath, { op: 'status' });
  return r.status?.find((p) => p.id === id);
}

function established(id: string, timeoutMs = 30_000): Promise<PeerStatus> {
  return waitFor(
    `${id} Established`,
    async () => {
      const s = await status(id);
      return s?.state === 'Established' ? s : undefined;
    },
    timeoutMs,
  );
}

async function birdProto(name: string): Promise<string> {
  return (await birdctl.command(`show protocols all ${name}`)).join('\n');
}

before(async () => {
  if (skip) return;
  lab = new Lab('bsess');
  await lab.addNode('dut');
  await lab.addNode('bird');
  await lab.link(
    { node: 'dut', ifname: 'to-bird', addrs: ['10.79.1.1/24', 'fd00:79::1/64'] },
    { node: 'bird', ifname: 'to-dut', addrs: [`${V4}/24`, `${V6}/64`] },
  );
  ctlPath = join(lab.dir, 'harness.sock');
  const cfg: HarnessConfig = {
    localAs: 65000,
    routerId: '10.79.0.1',
    listen: { addresses: ['0.0.0.0', '::'], port: 179 },
    peers: [
      {
        key: V4,
        address: V4,
        remoteAs: 65079,
        holdTime: 9,
        localAddress: '10.79.1.1',
        families: ['ipv4-unicast'],
        addPath: { 'ipv4-unicast': 'receive' },
      },
      { key: V6, address: V6, remoteAs: 65079, families: ['ipv6-unicast'] },
    ],
    originate: [
      { prefix: '198.51.100.0/24', communities: [(65000 << 16) | 100], med: 20 },
      { prefix: '2001:db8:1::/48', largeCommunities: [[65000, 1, 2]] },
    ],
    statusIntervalMs: 1000,
    controlSocket: ctlPath,
    logLevel: 'info',
  };
  const cfgPath = join(lab.dir, 'harness.json');
  writeFileSync(cfgPath, JSON.stringify(cfg));
  lab.spawn('dut', 'harness', 'node', ['--import', 'tsx', join(here, 'speaker-harness.ts'), cfgPath]);

  const exportFilter =
    'filter { if net = 203.0.113.0/24 then { bgp_community.add((65079,42)); bgp_med = 7; } ' +
    'if proto = "s4b" then bgp_med = 9; accept; }';
  birdConf = join(lab.dir, 'bird.conf');
  writeFileSync(
    birdConf,
    [
      `log "${join(lab.dir, 'bird.log')}" all;`,
      `router id ${V4};`,
      'protocol device { }',
      'protocol static s4 { ipv4; route 203.0.113.0/24 unreachable; route 192.0.2.0/24 unreachable; }',
      // A second path for 192.0.2.0/24, sent only because ADD-PATH is negotiated (RFC 7911).
      'protocol static s4b { ipv4 { preference 50; }; route 192.0.2.0/24 unreachable; }',
      'protocol static s6 { ipv6; route 2001:db8:79::/48 unreachable; }',
      `protocol bgp v4 { local ${V4} as 65079; neighbor 10.79.1.1 as 65000; hold time 6; connect retry time 2;`,
      `  error wait time 1, 4; ipv4 { import all; export ${exportFilter}; add paths tx; }; }`,
      `protocol bgp v6 { local ${V6} as 65079; neighbor fd00:79::1 as 65000; connect retry time 2;`,
      `  error wait time 1, 4; ipv6 { import all; export ${exportFilter}; }; }`,
      '',
    ].join('\n'),
  );
  birdSock = join(lab.dir, 'bird.ctl');
  bird = startBird();
  birdctl = await waitFor('BIRD control socket', () => BirdCtl.open(birdSock), 15_000);
  await waitFor('harness control socket', () => harnessCommand(ctlPath, { op: 'status' }), 30_000);
});

after(async () => {
  birdctl?.close();
  if (lab) await lab.dispose();
});

describe('sessions with BIRD 2', { skip }, () => {
  test('eBGP over IPv4 and IPv6 establish; the hold time is the lower of both', async () => {
    const v4 = await established(V4);
    const v6 = await established(V6);
    assert.equal(v4.timers.negotiatedHoldTime, 6);
    assert.equal(v4.timers.negotiatedKeepalive, 2);
    // BIRD proposes 240 by default, we 90.
    assert.equal(v6.timers.negotiatedHoldTime, 90);
    assert.equal(v4.remoteRouterId, V4);
    assert.ok(v4.capabilities?.negotiated.includes('add-path-receive:ipv4-unicast'));
    assert.match(await birdProto('v4'), /BGP state:\s+Established/);
    assert.match(await birdProto('v4'), /Hold timer:\s+[\d.]+\/6/);
    assert.match(await birdProto('v6'), /BGP state:\s+Established/);
  });

  test("BIRD's routes land in our Adj-RIB-In with their attributes", async () => {
    const routes = await waitFor('both routes from BIRD', async () => {
      const r = (await harnessCommand(ctlPath, { op: 'routes' })).routes ?? [];
      return r.length >= 4 ? r : undefined;
    });
    const v4 = routes.find((r) => r.prefix === '203.0.113.0/24');
    assert.equal(v4?.peer, V4);
    assert.equal(v4?.nextHop, V4);
    assert.equal(v4?.asPath, '65079');
    assert.equal(v4?.med, 7);
    assert.deepEqual(v4?.communities, ['65079:42']);
    // ADD-PATH: both paths of 192.0.2.0/24, told apart by path id, each with its own MED.
    const two = routes.filter((r) => r.prefix === '192.0.2.0/24');
    assert.equal(two.length, 2);
    assert.notEqual(two[0]?.pathId, two[1]?.pathId);
    assert.deepEqual(two.map((r) => r.med ?? 0).sort(), [0, 9]);
    const v6 = routes.find((r) => r.prefix === '2001:db8:79::/48');
    assert.equal(v6?.peer, V6);
    assert.equal(v6?.nextHop?.split(' ')[0], V6);
  });

  test('our routes reach BIRD with next hop self and their attributes', async () => {
    const text = await waitFor('198.51.100.0/24 at BIRD', async () => {
      const t = (await birdctl.command('show route 198.51.100.0/24 all')).join('\n');
      return t.includes('198.51.100.0/24') ? t : undefined;
    });
    assert.match(text, /BGP\.next_hop: 10\.79\.1\.1/);
    assert.match(text, /BGP\.as_path: 65000/);
    assert.match(text, /BGP\.med: 20/);
    assert.match(text, /BGP\.community: \(65000,100\)/);
    const t6 = await waitFor('2001:db8:1::/48 at BIRD', async () => {
      const t = (await birdctl.command('show route 2001:db8:1::/48 all')).join('\n');
      return t.includes('2001:db8:1::/48') ? t : undefined;
    });
    assert.match(t6, /BGP\.next_hop: fd00:79::1/);
    assert.match(t6, /BGP\.large_community: \(65000, 1, 2\)/);
  });

  test('a ROUTE-REFRESH from BIRD makes us re-send our routes (RFC 2918)', async () => {
    const before = (await status(V4))?.counters;
    await birdctl.command('reload in v4');
    const after = await waitFor(
      'the refresh and our re-sent UPDATE',
      async () => {
        const s = await status(V4);
        return s &&
          s.counters.received.routeRefresh > (before?.received.routeRefresh ?? 0) &&
          s.counters.sent.update > (before?.sent.update ?? 0)
          ? s
          : undefined;
      },
      10_000,
    );
    assert.equal(after.state, 'Established');
  });

  test('a NOTIFICATION from BIRD (RFC 9003 message): routes withdrawn, then we reconnect', async () => {
    await birdctl.command('disable v4 "going down for maintenance"');
    const down = await waitFor('the Cease at our side', async () => {
      const s = await status(V4);
      return s && s.state !== 'Established' && s.lastErrorReceived ? s : undefined;
    });
    assert.equal(down.lastErrorReceived?.text, 'Cease / Administrative Shutdown: going down for maintenance');
    const routes = (await harnessCommand(ctlPath, { op: 'routes', peer: V4 })).routes ?? [];
    assert.equal(routes.length, 0, 'routes of the closed session are withdrawn');
    assert.equal((await status(V6))?.state, 'Established', 'the other session is unaffected');
    await birdctl.command('enable v4');
    await established(V4);
  });

  test('our administrative shutdown carries its message to BIRD; enable re-forms the session', async () => {
    const r = await harnessCommand(ctlPath, { op: 'shutdown', peer: V6, message: 'tsbgp maintenance' });
    assert.ok(r.ok);
    await waitFor(
      'BIRD to see the shutdown',
      async () => /tsbgp maintenance/.test(await birdProto('v6')),
      15_000,
    );
    const s = await status(V6);
    assert.equal(s?.adminDown, true);
    assert.equal(s?.lastErrorSent?.text, 'Cease / Administrative Shutdown: tsbgp maintenance');
    await harnessCommand(ctlPath, { op: 'enable', peer: V6 });
    await established(V6);
  });

  test('BIRD killed and restarted: both sessions re-form', async () => {
    bird.child.kill('SIGKILL');
    await bird.exited;
    birdctl.close();
    await waitFor('our side to notice', async () => (await status(V4))?.state !== 'Established', 15_000);
    bird = startBird();
    birdctl = await waitFor('BIRD control socket', () => BirdCtl.open(birdSock), 15_000);
    await established(V4, 45_000);
    await established(V6, 45_000);
  });
});
