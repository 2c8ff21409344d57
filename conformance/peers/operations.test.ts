// Every driver's control operations against a reference peer, checked on the wire: shutdown sends
// a Cease (with the RFC 9003 message where the implementation supports one) and the session goes
// down on both sides; enable brings it back; routeRefresh sends a ROUTE-REFRESH; restart re-forms
// the session and the routes come back. The wire is read with our own capture decoder.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodeShutdownCommunication } from '../../src/bgp/codec/index.ts';
import { bgpMessagesFromFrames, type CapturedMessage, CaptureParser } from '../../src/capture/index.ts';
import { canUseNamespaces, Lab, waitFor } from '../lib/lab.ts';
import { type Implementation, type PeerDriver, startPeer } from '../lib/peers/index.ts';
import { startTcpdump } from '../lib/peers/tcpdump.ts';

/**
 * Implementations whose Cease carries the RFC 9003 text we give them. GoBGP 3.10 accepts
 * `--reason` but sends an empty communication; ExaBGP always sends its own fixed text.
 */
const SENDS_SHUTDOWN_MESSAGE: Implementation[] = ['bird2', 'bird1', 'frr', 'openbgpd'];
/** GoBGP's CLI soft reset (softresetin) re-applies policy to its Adj-RIB-In and sends no ROUTE-REFRESH. */
const SENDS_ROUTE_REFRESH: Implementation[] = ['bird2', 'bird1', 'frr', 'exabgp', 'openbgpd'];

/** Messages X sent so far; the capture may still be running, so a partial last record is ignored. */
function sentBy(file: string, address: string): CapturedMessage[] {
  const parser = new CaptureParser();
  return bgpMessagesFromFrames(parser.feed(readFileSync(file))).filter(
    (m): m is CapturedMessage => m.kind === 'message' && m.stream.src.address === address,
  );
}

async function exercise(tag: string, impl: Implementation, reference: Implementation): Promise<void> {
  const lab = new Lab(tag);
  try {
    await lab.addNode('a');
    await lab.addNode('b');
    await lab.link(
      { node: 'a', ifname: 'eth0', addrs: ['10.0.0.1/24'] },
      { node: 'b', ifname: 'eth0', addrs: ['10.0.0.2/24'] },
    );
    const pcap = join(lab.dir, 'wire.pcap');
    const wire = await startTcpdump(lab, 'a', 'eth0', pcap);
    const x: PeerDriver = await startPeer[impl](lab, 'a', {
      localAs: 65001,
      routerId: '192.0.2.1',
      neighbors: [{ address: '10.0.0.2', localAddress: '10.0.0.1', remoteAs: 65002, holdTime: 30 }],
      originate: [{ prefix: '10.1.0.0/24', communities: ['65001:1'], med: 1 }],
    });
    const r: PeerDriver = await startPeer[reference](lab, 'b', {
      localAs: 65002,
      routerId: '192.0.2.2',
      neighbors: [{ address: '10.0.0.1', localAddress: '10.0.0.2', remoteAs: 65001, holdTime: 30 }],
      originate: [{ prefix: '10.2.0.0/24', communities: ['65002:2'] }],
    });
    const up = async (what: string) => {
      await waitFor(
        `${impl}: ${what}: established`,
        async () => (await x.sessionState('10.0.0.2')) === 'established',
        60_000,
      );
      await waitFor(
        `${reference}: ${what}: established`,
        async () => (await r.sessionState('10.0.0.1')) === 'established',
        60_000,
      );
    };
    const routesBack = async (what: string) => {
      await waitFor(`${what}: ${impl} holds 10.2.0.0/24`, async () =>
        (await x.routesFrom('10.0.0.2')).some(
          (p) => p.prefix === '10.2.0.0/24' && p.communities.includes('65002:2'),
        ),
      );
      await waitFor(`${what}: ${reference} holds 10.1.0.0/24`, async () =>
        (await r.routesFrom('10.0.0.1')).some((p) => p.prefix === '10.1.0.0/24' && p.med === 1),
      );
    };
    await up('start');
    await routesBack('start');

    // Shutdown: a Cease / Administrative Shutdown (6/2) from X, the session down on both sides.
    await x.shutdownNeighbor('10.0.0.2', `${impl} maintenance`);
    // ExaBGP reconnects at once, faster than a state poll can see: the Cease on the wire and the
    // session re-forming (a new OPEN) show the shutdown took effect.
    await waitFor(`${impl} sends a Cease`, () => sentBy(pcap, '10.0.0.1').some((m) => m.bytes[18] === 3));
    await x.enableNeighbor('10.0.0.2');
    await up('enable');
    await routesBack('enable');

    await x.routeRefresh('10.0.0.2');
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal(await r.sessionState('10.0.0.1'), 'established', 'the refresh leaves the session up');

    await x.restart();
    await up('restart');
    await routesBack('restart');
    await wire.stop();

    const fromX = sentBy(pcap, '10.0.0.1');
    const cease = fromX.filter((m) => m.bytes[18] === 3 && m.bytes[19] === 6 && m.bytes[20] === 2);
    assert.ok(cease.length >= 1, `${impl} sent a Cease / Administrative Shutdown`);
    if (SENDS_SHUTDOWN_MESSAGE.includes(impl)) {
      const first = cease[0];
      assert.ok(first);
      const sc = decodeShutdownCommunication(first.bytes.subarray(21));
      assert.ok(sc.ok && sc.message === `${impl} maintenance`, `RFC 9003 message: ${JSON.stringify(sc)}`);
    }
    if (SENDS_ROUTE_REFRESH.includes(impl))
      assert.ok(
        fromX.some((m) => m.bytes[18] === 5),
        `${impl} sent a ROUTE-REFRESH`,
      );
    assert.ok(fromX.filter((m) => m.bytes[18] === 1).length >= 3, `${impl} opened the session three times`);
  } finally {
    await lab.dispose();
  }
}

describe('driver operations (shutdown, enable, route refresh, restart)', {
  skip: !canUseNamespaces() && 'needs root',
}, () => {
  const cases: [string, Implementation, Implementation][] = [
    ['obd', 'bird2', 'frr'],
    ['ob1', 'bird1', 'bird2'],
    ['ofr', 'frr', 'bird2'],
    ['ogo', 'gobgp', 'bird2'],
    ['oex', 'exabgp', 'bird2'],
    ['oob', 'openbgpd', 'bird2'],
  ];
  for (const [tag, impl, reference] of cases) {
    test(`${impl} (against ${reference})`, { timeout: 150_000 }, () => exercise(tag, impl, reference));
  }
});
