// A peer that reads more slowly than routes change (issue #4 §5, "every queue needs
// back-pressure"): two Speakers over loopback TCP with a relay between them that stops reading
// from the sender, as a congested link or an overloaded peer would. The sender's table churns
// meanwhile. Its output queue must stay bounded (the changes merge per route in the output
// backlog), and once the relay reads again the receiver must end with exactly the final table.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { OUT_BACKLOG_AT } from './peer.ts';
import { established, peerOf, speakerHarness, until } from './testing/speaker-harness.ts';
import type { OriginatedRoute } from './types.ts';

const { speaker, stopAll } = speakerHarness(40000 + ((process.pid * 7) % 10000));
const servers: Server[] = [];

after(async () => {
  for (const s of servers) s.close();
  await stopAll();
});

/** A TCP relay whose sender-to-receiver direction can be stalled (the relay stops reading). */
async function relay(listen: string, target: string, targetPort: number, from: string) {
  let up: Socket | null = null;
  let down: Socket | null = null;
  const server = createServer((s) => {
    up = s;
    down = connect({ host: target, port: targetPort, localAddress: from });
    s.pipe(down);
    down.pipe(s);
    const close = () => {
      s.destroy();
      down?.destroy();
    };
    s.on('error', close);
    down.on('error', close);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, listen, r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stall(): void {
      up?.unpipe(down!);
      up?.pause();
    },
    resume(): void {
      up?.pipe(down!);
      up?.resume();
    },
  };
}

const N = 20_000;
/** Every route its own attribute set (a per-route MED), so each change is its own UPDATE. */
const table = (round: number): OriginatedRoute[] =>
  Array.from({ length: N }, (_, i) => ({
    prefix: `10.${(i >> 8) & 0xff}.${i & 0xff}.0/24`,
    med: round * N + i,
  }));

describe('a slow peer', () => {
  test('churn while the peer does not read: the output queue stays bounded, and the peer ends with the final table', async () => {
    const aAddr = '127.34.0.1';
    const bAddr = '127.34.0.2';
    const relayAddr = '127.34.0.3';
    const a = speaker(65001, aAddr, '10.0.0.1');
    const b = speaker(65002, bAddr, '10.0.0.2');
    const r = await relay(relayAddr, bAddr, b.port, relayAddr);
    a.addPeer({
      key: relayAddr,
      address: relayAddr,
      port: r.port,
      localAddress: aAddr,
      remoteAs: 65002,
      families: ['ipv4-unicast'],
    });
    // B sees the relay's address; it keeps what it received (retainAdjRibIn) so we can read it.
    b.addPeer({
      key: relayAddr,
      address: relayAddr,
      port: 1,
      localAddress: bAddr,
      remoteAs: 65001,
      passive: true,
      retainAdjRibIn: 'always',
      families: ['ipv4-unicast'],
    });
    a.setOriginated(table(0));
    await Promise.all([a.start(), b.start()]);
    await established(a, relayAddr);
    await until('the first table at B', () => b.adjRibIn(relayAddr)?.size() === N, 30_000);

    r.stall();
    const rounds = 40;
    for (let round = 1; round <= rounds; round++) {
      a.setOriginated(table(round));
      await new Promise((res) => setImmediate(res));
    }
    const stalled = peerOf(a, relayAddr)!;
    // ~1.1 MB of UPDATEs per round: 40 rounds would queue ~45 MB without the backlog.
    assert.ok(
      stalled.outputQueuePeakBytes < OUT_BACKLOG_AT + 2 * 1024 * 1024,
      `output queue peaked at ${stalled.outputQueuePeakBytes} B`,
    );
    assert.ok(stalled.outputBacklogRoutes > 0, 'the later rounds wait in the backlog');
    assert.ok(
      stalled.outputBacklogPeakRoutes <= N,
      `one entry per route: ${stalled.outputBacklogPeakRoutes}`,
    );
    const sentBefore = stalled.counters.sent.update;

    r.resume();
    const last = rounds * N;
    await until(
      'the final table at B',
      () => {
        const routes = b.routes({ peer: relayAddr });
        return routes.length === N && routes.every((x) => (x.med ?? -1) >= last);
      },
      60_000,
    );
    const routes = b.routes({ peer: relayAddr });
    const meds = new Map(routes.map((x) => [x.prefix, x.med]));
    for (const [i, want] of table(rounds).entries())
      assert.equal(meds.get(want.prefix), want.med, `route ${i}`);
    const done = peerOf(a, relayAddr)!;
    assert.equal(done.outputBacklogRoutes, 0);
    assert.equal(done.state, 'Established');
    assert.equal(peerOf(b, relayAddr)?.state, 'Established');
    // Merged: far fewer UPDATEs than one per route per round.
    assert.ok(
      done.counters.sent.update < (rounds + 1) * N,
      `sent ${done.counters.sent.update} UPDATEs (${sentBefore} before resuming)`,
    );
  });
});
