// Route refresh (RFC 2918), enhanced route refresh (RFC 7313) and per-family maximum prefixes
// (RFC 4486 §4) between two Speakers over loopback.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Family, type FamilyKey } from '../codec/index.ts';
import { maxPrefixExceeded } from './peer.ts';
import { established, peerOf, speakerHarness, type TestSpeaker, until } from './testing/speaker-harness.ts';
import type { PeerConfig, SpeakerEvent } from './types.ts';

const { speaker, stopAll } = speakerHarness(52000 + (process.pid % 8000));

after(() => stopAll());

function cfg(
  address: string,
  port: number,
  localAddress: string,
  remoteAs: number,
  extra: Partial<PeerConfig> = {},
): PeerConfig {
  return {
    key: address,
    address,
    port,
    localAddress,
    remoteAs,
    families: ['ipv4-unicast', 'ipv6-unicast'],
    ...extra,
  };
}

/** Everything B's consumers see from A, in order: announced prefix counts and refresh markers. */
type Seen =
  | { kind: 'announce'; family: FamilyKey; count: number }
  | { kind: 'begin' | 'end'; family: FamilyKey };

const announcedSince = (seen: Seen[], from: number): number =>
  seen.slice(from).reduce((n, s) => n + (s.kind === 'announce' ? s.count : 0), 0);

async function pair(
  net: string,
  extraA: Partial<PeerConfig>,
  extraB: Partial<PeerConfig>,
): Promise<{ a: TestSpeaker; b: TestSpeaker; seen: Seen[]; aAddr: string; bAddr: string }> {
  const aAddr = `127.${net}.1`;
  const bAddr = `127.${net}.2`;
  const a = speaker(65001, aAddr, '10.0.0.1');
  const b = speaker(65002, bAddr, '10.0.0.2');
  a.addPeer(cfg(bAddr, b.port, aAddr, 65002, extraA));
  // 'auto' (what the daemon passes by default): nothing kept once route refresh is negotiated.
  b.addPeer(cfg(aAddr, a.port, bAddr, 65001, { passive: true, retainAdjRibIn: 'auto', ...extraB }));
  const seen: Seen[] = [];
  b.adjRibInChanges.subscribe((batch) => {
    for (const e of batch.entries)
      if (e.kind === 'announce') seen.push({ kind: 'announce', family: e.family, count: e.prefixes.count });
  });
  b.events.subscribe((e: SpeakerEvent) => {
    if (e.type === 'route-refresh') seen.push({ kind: e.phase, family: e.family });
  });
  a.setOriginated([
    { prefix: '192.0.2.0/24' },
    { prefix: '198.51.100.0/24', med: 5 },
    { prefix: '203.0.113.0/24' },
    { prefix: '2001:db8:1::/48' },
    { prefix: '2001:db8:2::/48' },
  ]);
  await Promise.all([a.start(), b.start()]);
  await established(a, bAddr);
  await established(b, aAddr);
  // Without retention B's Adj-RIB-In holds nothing: count what it publishes.
  await until('all routes published at B', () => announcedSince(seen, 0) === 5);
  return { a, b, seen, aAddr, bAddr };
}

describe('route refresh between speakers', () => {
  test('enhanced: refresh-in sends ROUTE-REFRESH per family; the answer comes between BoRR and EoRR and every route is re-published', async () => {
    const { a, b, seen, aAddr, bAddr } = await pair(
      '32.0',
      { enhancedRouteRefresh: true },
      { enhancedRouteRefresh: true },
    );
    assert.ok(peerOf(b, aAddr)?.capabilities?.negotiated.includes('enhanced-route-refresh'));
    // Route refresh negotiated and 'auto' (the default): the Adj-RIB-In is not kept pre-policy.
    assert.equal(b.adjRibIn(aAddr)?.retained, false);
    const from = seen.length;
    const asked = b.refreshIn(aAddr).get(aAddr);
    assert.deepEqual(asked, [Family.IPv4Unicast, Family.IPv6Unicast]);
    await until('both EoRRs', () => seen.slice(from).filter((s) => s.kind === 'end').length === 2);
    const order = seen.slice(from).map((s) => `${s.kind}:${s.family}`);
    // Per family: BoRR, the routes, EoRR (RFC 7313 §4).
    const v4 = order.filter((o) => o.endsWith(`:${Family.IPv4Unicast}`));
    assert.equal(v4[0], `begin:${Family.IPv4Unicast}`);
    assert.equal(v4.at(-1), `end:${Family.IPv4Unicast}`);
    assert.ok(v4.length >= 3);
    // BoRR forgets the family, so all 5 routes are published again as announcements.
    assert.equal(announcedSince(seen, from), 5);
    assert.equal(b.routes().length, 0, 'nothing kept pre-policy');
    assert.equal(peerOf(a, bAddr)?.counters.received.routeRefresh, 2, 'A got one ROUTE-REFRESH per family');
    assert.equal(peerOf(b, aAddr)?.counters.received.routeRefresh, 4, 'B got BoRR + EoRR per family');
    assert.equal(peerOf(b, aAddr)?.counters.sent.routeRefresh, 2);
    assert.equal(peerOf(b, aAddr)?.state, 'Established');
  });

  test('plain RFC 2918: without enhanced route refresh there are no markers, and every route is re-published', async () => {
    const { a, b, seen, aAddr, bAddr } = await pair('32.1', { enhancedRouteRefresh: false }, {});
    assert.equal(peerOf(b, aAddr)?.capabilities?.negotiated.includes('enhanced-route-refresh'), false);
    const from = seen.length;
    assert.equal(b.refreshIn(aAddr, [Family.IPv4Unicast]).get(aAddr)?.length, 1);
    await until('the IPv4 routes re-published', () => announcedSince(seen, from) === 3);
    assert.equal(
      seen.slice(from).some((s) => s.kind !== 'announce'),
      false,
    );
    assert.equal(peerOf(a, bAddr)?.counters.received.routeRefresh, 1);
  });

  test('retainAdjRibIn always: kept; refresh-out re-sends the Adj-RIB-Out between BoRR and EoRR', async () => {
    const { a, b, seen, aAddr, bAddr } = await pair(
      '32.2',
      { enhancedRouteRefresh: true },
      { enhancedRouteRefresh: true, retainAdjRibIn: 'always' },
    );
    assert.equal(b.adjRibIn(aAddr)?.retained, true);
    const updatesBefore = peerOf(b, aAddr)!.counters.received.update;
    const from = seen.length;
    assert.deepEqual(a.refreshOut(bAddr).get(bAddr), [Family.IPv4Unicast, Family.IPv6Unicast]);
    await until('both EoRRs at B', () => seen.slice(from).filter((s) => s.kind === 'end').length === 2);
    assert.ok(peerOf(b, aAddr)!.counters.received.update > updatesBefore, 'the table came again');
    assert.equal(peerOf(a, bAddr)?.counters.sent.routeRefresh, 4);
    assert.equal(b.routes().length, 5);
  });

  test('a session that did not negotiate route refresh is not asked', async () => {
    const a = speaker(65001, '127.32.3.1', '10.0.0.1');
    assert.throws(() => a.refreshIn('127.32.3.9'), /no peer 127.32.3.9/);
    a.addPeer(cfg('127.32.3.2', 1, '127.32.3.1', 65002, { passive: true }));
    assert.deepEqual(a.refreshIn('127.32.3.2').get('127.32.3.2'), [], 'not Established');
  });
});

describe('maximum prefixes per family', () => {
  test('maxPrefixExceeded names the first family over its own limit', () => {
    const counts = new Map<FamilyKey, number>([
      [Family.IPv4Unicast, 10],
      [Family.IPv6Unicast, 3],
    ]);
    const count = (f: FamilyKey) => counts.get(f) ?? 0;
    assert.equal(
      maxPrefixExceeded({ 'ipv4-unicast': { limit: 10 }, 'ipv6-unicast': { limit: 3 } }, count),
      null,
    );
    assert.deepEqual(
      maxPrefixExceeded(
        { 'ipv4-unicast': { limit: 100 }, 'ipv6-unicast': { limit: 2, restartAfter: 9 } },
        count,
      ),
      {
        family: Family.IPv6Unicast,
        limit: 2,
        restartAfter: 9,
      },
    );
    // The sum of the limits (13) would allow 13 prefixes; one family over its own limit is enough.
    assert.equal(
      maxPrefixExceeded({ 'ipv4-unicast': { limit: 9 }, 'ipv6-unicast': { limit: 4 } }, count)?.family,
      Family.IPv4Unicast,
    );
    assert.equal(maxPrefixExceeded({ 'ipv6-unicast': { limit: 3 } }, count), null, 'no limit: no check');
  });

  test('one family over its limit stops the session with Cease 1 carrying that family and limit; it restarts after restartAfter', async () => {
    // 3 IPv4 + 2 IPv6 prefixes: within the IPv4 limit and within the sum of limits, over the IPv6 one.
    const notes: string[] = [];
    const aAddr = '127.32.4.1';
    const bAddr = '127.32.4.2';
    const a = speaker(65001, aAddr, '10.0.0.1');
    const b = speaker(65002, bAddr, '10.0.0.2');
    a.addPeer(cfg(bAddr, b.port, aAddr, 65002, { connectRetryTime: 1 }));
    b.addPeer(
      cfg(aAddr, a.port, bAddr, 65001, {
        passive: true,
        // Kept, so the session layer counts received prefixes itself (without, the RIB's count).
        retainAdjRibIn: 'always',
        maxPrefixes: { 'ipv4-unicast': { limit: 10 }, 'ipv6-unicast': { limit: 1, restartAfter: 1 } },
      }),
    );
    a.events.subscribe((e) => {
      if (e.type === 'notification' && e.notification.direction === 'received')
        notes.push(e.notification.text);
    });
    a.setOriginated([
      { prefix: '192.0.2.0/24' },
      { prefix: '198.51.100.0/24' },
      { prefix: '203.0.113.0/24' },
      { prefix: '2001:db8:1::/48' },
      { prefix: '2001:db8:2::/48' },
    ]);
    await Promise.all([a.start(), b.start()]);
    await until('the Cease at A', () => notes.length > 0);
    assert.equal(notes[0], 'Cease / Maximum Number of Prefixes Reached (ipv6-unicast, limit 1)');
    assert.match(peerOf(b, aAddr)?.lastErrorSent?.text ?? '', /ipv6-unicast, limit 1/);
    // restartAfter: B starts again (passive: it accepts A's next connection) and stops again.
    await until('a second teardown after the restart timer', () => notes.length >= 2, 15_000);
  });
});
