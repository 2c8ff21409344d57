// Graceful restart of tsbgp's session layer against a real FRR (RFC 4724 restarting speaker,
// RFC 8538 notification GR). FRR is the helper: it must keep our routes (marked stale) while our
// speaker is away, refresh them when we are back, sweep the ones we no longer announce at our
// End-of-RIB, and flush at once on a Hard Reset.
//
//   dut (speaker-harness.ts, AS 65000) 10.81.1.1 ──── 10.81.1.2 FRR (AS 65081)
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PeerConfig } from '../../src/bgp/session/index.ts';
import { canUseNamespaces, Lab, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import { startFrr } from '../lib/peers/frr.ts';
import type { PeerDriver } from '../lib/peers/types.ts';
import { harnessCommand } from './harness-client.ts';
import type { HarnessConfig } from './speaker-harness.ts';

const skip = canUseNamespaces() ? false : 'needs root for network namespaces';
const here = import.meta.dirname;
const DUT = '10.81.1.1';
const FRR = '10.81.1.2';
const P1 = '198.51.100.0/24';
const P2 = '198.51.101.0/24';

let lab: Lab;
let frr: PeerDriver;
let harness: SpawnedProcess | null = null;
let ctlPath = '';
let runs = 0;

async function vtysh(...commands: string[]): Promise<string> {
  const args = ['--vty_socket', join(lab.dir, 'frr-frr'), '-d', 'bgpd'];
  for (const c of commands) args.push('-c', c);
  return lab.exec('frr', 'vtysh', args);
}

interface FrrNeighbor {
  bgpState?: string;
  gracefulRestartInfo?: Record<string, unknown>;
  neighborCapabilities?: { gracefulRestart?: string; gracefulRestartCapability?: string };
  lastNotificationReason?: string;
  lastResetDueTo?: string;
  [k: string]: unknown;
}

async function neighbor(): Promise<FrrNeighbor> {
  const j = JSON.parse(await vtysh(`show bgp neighbors ${DUT} json`)) as Record<string, FrrNeighbor>;
  return j[DUT] ?? {};
}

interface FrrPathJson {
  stale?: boolean;
  valid?: boolean;
  peerId?: string;
  nexthops?: { ip?: string }[];
}

/** Our prefixes at FRR: prefix → whether the path is stale. */
async function ourRoutes(): Promise<Map<string, boolean>> {
  const j = JSON.parse(await vtysh('show bgp ipv4 unicast json')) as {
    routes?: Record<string, FrrPathJson[]>;
  };
  const out = new Map<string, boolean>();
  for (const [prefix, paths] of Object.entries(j.routes ?? {})) {
    const ours = paths.find((p) => p.peerId === DUT || p.nexthops?.some((n) => n.ip === DUT));
    if (ours) out.set(prefix, ours.stale === true);
  }
  return out;
}

function peerConfig(restarting: boolean, notification = true): PeerConfig {
  return {
    key: FRR,
    address: FRR,
    remoteAs: 65081,
    localAddress: DUT,
    families: ['ipv4-unicast'],
    connectRetryTime: 1,
    gracefulRestart: { restartTime: 120, forwardingPreserved: true, restarting, notification },
  };
}

function startHarness(prefixes: string[], restarting: boolean, notification = true): void {
  runs++;
  ctlPath = join(lab.dir, `harness-${runs}.sock`);
  const cfg: HarnessConfig = {
    localAs: 65000,
    routerId: '10.81.0.1',
    listen: { addresses: ['0.0.0.0'], port: 179 },
    peers: [peerConfig(restarting, notification)],
    originate: prefixes.map((prefix) => ({ prefix })),
    statusIntervalMs: 1000,
    controlSocket: ctlPath,
    logLevel: 'info',
  };
  const cfgPath = join(lab.dir, `harness-${runs}.json`);
  writeFileSync(cfgPath, JSON.stringify(cfg));
  harness = lab.spawn('dut', `harness-${runs}`, 'node', [
    '--import',
    'tsx',
    join(here, 'speaker-harness.ts'),
    cfgPath,
  ]);
}

async function stopHarness(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const h = harness;
  harness = null;
  if (!h || h.child.exitCode !== null) return;
  h.child.kill(signal);
  await h.exited;
}

async function frrEstablished(): Promise<FrrNeighbor> {
  return waitFor(
    'FRR Established with us',
    async () => {
      const n = await neighbor();
      return n.bgpState === 'Established' ? n : undefined;
    },
    30_000,
  );
}

before(async () => {
  if (skip) return;
  lab = new Lab('sgr');
  await lab.addNode('dut');
  await lab.addNode('frr');
  await lab.link(
    { node: 'dut', ifname: 'to-frr', addrs: [`${DUT}/24`] },
    { node: 'frr', ifname: 'to-dut', addrs: [`${FRR}/24`] },
  );
  frr = await startFrr(lab, 'frr', {
    localAs: 65081,
    routerId: FRR,
    neighbors: [
      { address: DUT, remoteAs: 65000, localAddress: FRR, families: ['ipv4'], gracefulRestart: true },
    ],
  });
  // RFC 8538 on FRR's side (FRR 8.3+); graceful restart itself is the driver's per-neighbour knob.
  await vtysh('configure terminal', 'router bgp 65081', 'bgp graceful-restart notification');
});

after(async () => {
  await stopHarness('SIGKILL');
  await frr?.stop();
  if (lab) await lab.dispose();
});

async function routesAre(what: string, want: Record<string, boolean>, timeoutMs = 20_000): Promise<void> {
  const expected = JSON.stringify(Object.entries(want).sort());
  let last = '';
  try {
    await waitFor(
      what,
      async () => {
        last = JSON.stringify([...(await ourRoutes())].sort());
        return last === expected ? true : undefined;
      },
      timeoutMs,
      200,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; FRR holds ${last} (prefix, stale), want ${expected}`);
  }
}

async function harnessEstablished(): Promise<void> {
  await waitFor(
    'our session Established',
    async () => {
      const r = await harnessCommand(ctlPath, { op: 'status' }).catch(() => undefined);
      return r?.status?.find((p) => p.id === FRR)?.state === 'Established' ? true : undefined;
    },
    30_000,
  );
}

describe('graceful restart with FRR as the helper', { skip, timeout: 170_000 }, () => {
  test('(a) GR + F advertised; killed hard, FRR keeps our routes stale; back with R, End-of-RIB sweeps', async () => {
    startHarness([P1, P2], false);
    await harnessEstablished();
    const n = await frrEstablished();
    const caps = n.neighborCapabilities as Record<string, unknown> | undefined;
    assert.equal(caps?.gracefulRestart, 'advertisedAndReceived');
    assert.deepEqual(caps?.addressFamiliesByPeer, { ipv4Unicast: { preserved: true } });
    const gr = n.gracefulRestartInfo as Record<string, unknown>;
    assert.equal(gr.nBit, true, 'FRR saw our N bit');
    assert.equal(gr.rBit, false, 'a fresh start is not a restart');
    assert.equal((gr.ipv4Unicast as { fBit?: boolean }).fBit, true, 'F bit for IPv4 unicast');
    assert.equal((gr.timers as { receivedRestartTimer?: number }).receivedRestartTimer, 120);
    await routesAre('our two routes at FRR', { [P1]: false, [P2]: false });

    await stopHarness('SIGKILL');
    await waitFor('FRR notices the session loss', async () =>
      (await neighbor()).bgpState !== 'Established' ? true : undefined,
    );
    await routesAre('our routes kept as stale', { [P1]: true, [P2]: true }, 10_000);
    // Still there a few seconds on: the restart timer (120 s), not a race, keeps them.
    await new Promise((r) => setTimeout(r, 3000));
    await routesAre('still stale', { [P1]: true, [P2]: true }, 1000);
    assert.equal((await neighbor()).bgpStateIs, 'passiveNSF');

    // Back, restarting (R bit), announcing only P1: P1 refreshed, P2 swept at our End-of-RIB.
    startHarness([P1], true);
    await harnessEstablished();
    const back = await frrEstablished();
    assert.equal((back.gracefulRestartInfo as Record<string, unknown>).rBit, true, 'FRR saw the R bit');
    await routesAre('P1 refreshed, P2 swept after End-of-RIB', { [P1]: false });
  });

  test('(b) Speaker.stop (SIGTERM) sends a plain Cease; with N, FRR keeps our routes', async () => {
    await routesAre('P1 at FRR', { [P1]: false });
    await stopHarness('SIGTERM');
    await waitFor('FRR notices the Cease', async () =>
      (await neighbor()).bgpState !== 'Established' ? true : undefined,
    );
    const n = await neighbor();
    // FRR's record of what it received: a plain Cease with our RFC 9003 message, not a Hard Reset.
    assert.equal(n.lastErrorCodeSubcode, '0602');
    assert.equal(n.lastNotificationHardReset, false);
    assert.equal(n.lastShutdownDescription, 'harness stopping');
    await routesAre('P1 kept as stale through our restart', { [P1]: true }, 10_000);
    assert.ok(
      (n.gracefulRestartInfo as Record<string, unknown>).gracefulRestartTimerMsecs !== undefined ||
        (await neighbor()).bgpStateIs === 'passiveNSF',
      'FRR runs its restart timer for us',
    );
    startHarness([P1, P2], false);
    await harnessEstablished();
    await frrEstablished();
    await routesAre('both fresh again', { [P1]: false, [P2]: false });
  });

  test('(c) shutdownPeer sends Hard Reset; FRR flushes our routes at once', async () => {
    const r = await harnessCommand(ctlPath, { op: 'shutdown', peer: FRR, message: 'decommissioning' });
    assert.ok(r.ok, r.error);
    await waitFor('FRR notices the Hard Reset', async () =>
      (await neighbor()).bgpState !== 'Established' ? true : undefined,
    );
    const n = await neighbor();
    assert.equal(n.lastNotificationHardReset, true, 'FRR saw a Hard Reset');
    assert.equal(n.lastErrorCodeSubcode, '0602', 'FRR reports the Cease the Hard Reset carried');
    assert.equal(n.lastShutdownDescription, 'decommissioning');
    assert.equal((n.gracefulRestartInfo as Record<string, unknown>).gracefulRestartTimerMsecs, undefined);
    await routesAre('our routes flushed', {}, 5000);
    const st = (await harnessCommand(ctlPath, { op: 'status' })).status?.find((p) => p.id === FRR);
    assert.equal(
      st?.lastErrorSent?.text,
      'Cease / Hard Reset (Cease / Administrative Shutdown: decommissioning)',
    );
  });

  test('(d) control: without our N bit the same SIGTERM Cease makes FRR flush', async () => {
    await stopHarness('SIGKILL');
    startHarness([P1], false, false);
    await harnessEstablished();
    const n = await frrEstablished();
    assert.equal((n.gracefulRestartInfo as Record<string, unknown>).nBit, false);
    await routesAre('P1 at FRR', { [P1]: false });
    await stopHarness('SIGTERM');
    await waitFor('FRR notices the Cease', async () =>
      (await neighbor()).bgpState !== 'Established' ? true : undefined,
    );
    await routesAre('P1 flushed: RFC 4724 alone does not cover a NOTIFICATION', {}, 5000);
  });
});
