// The routing engine against an in-memory speaker: Adj-RIB-In batches in, Loc-RIB decisions,
// Adj-RIB-Out updates (through the ExportSource sinks) and FibFeed batches out.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Subject } from 'rxjs';
import { type FamilyKey, familyKey, type PathAttributes } from '../bgp/codec/index.ts';
import { asSequence, formatIpv4, parseIpv4 } from '../bgp/rib/attrs.ts';
import { type NextHopResolver, UNREACHABLE } from '../bgp/rib/best-path.ts';
import { RIB_GROWTH } from '../bgp/rib/loc-rib.ts';
import { copyPrefixList, prefixListOf } from '../bgp/rib/prefix.ts';
import { formatRouteDetail } from '../bgp/rib/show.ts';
import type { AdjRibInBatch, AdjRibInView } from '../bgp/session/adj-rib-in.ts';
import { AttributeStore } from '../bgp/session/attr-store.ts';
import type { Negotiated } from '../bgp/session/open.ts';
import type {
  ExportPeer,
  ExportSource,
  ExportUpdate,
  PeerStatus,
  SpeakerEvent,
} from '../bgp/session/types.ts';
import { parseConfig } from '../config/loader.ts';
import type { Config } from '../config/types.ts';
import { FakeRoutes } from '../dataplane/routes/fake-routes.ts';
import { createLogger } from '../log/logger.ts';
import type { FibBatch } from './fib-feed.ts';
import { RIB_INITIAL_PREFIXES, RoutingEngine, type RoutingSpeaker } from './routing.ts';
import { RoutingHub } from './routing-hub.ts';
import { KernelNextHopResolver } from './routing-resolver.ts';

const V4: FamilyKey = familyKey(1, 1);

function config(extra = ''): Config {
  return parseConfig(
    `
asn: 65000
routerId: 10.0.0.1
neighbors:
  - { name: client-a, address: 10.0.1.1, asn: 65000, routeReflectorClient: true, gracefulRestart: helper }
  - { name: client-b, address: 10.0.2.1, asn: 65000, routeReflectorClient: true }
  - { name: tor, address: 192.0.2.1, asn: 65100, import: [all], export: [all] }
  - { name: bare, address: 192.0.2.9, asn: 65200 }
policies:
  all: { terms: [{ action: accept }] }
${extra}
`,
    'test.yaml',
    { hostAddresses: () => [] },
  );
}

/** The session layer as far as the engine sees it. */
class FakeSpeaker implements RoutingSpeaker {
  readonly adjRibInChanges = new Subject<AdjRibInBatch>();
  readonly events = new Subject<SpeakerEvent>();
  readonly attributes = new AttributeStore();
  source: ExportSource | null = null;
  readonly states = new Map<string, string>();
  readonly sinks: ((c: (p: ExportPeer) => ExportUpdate | null) => void)[] = [];
  /** Pre-policy routes per session (for soft reconfiguration inbound). */
  readonly held = new Map<string, { attrId: number; prefixes: string[] }[]>();
  /** Whether adjRibIn() views hold the pre-policy routes (else import changes ask for a refresh). */
  retained = true;
  /** Route refresh requests (refreshIn), by session id. */
  readonly refreshes: string[] = [];
  private n = 0;

  setExportSource(source: ExportSource): void {
    this.source = source;
  }
  status(): PeerStatus[] {
    return [...this.states].map(([id, state]) => ({ id, state }) as unknown as PeerStatus);
  }
  adjRibIn(id: string): AdjRibInView | undefined {
    const held = this.held.get(id) ?? [];
    return {
      peer: id,
      retained: this.retained,
      byteLength: 0,
      families: () => [V4],
      size: () => held.reduce((n, h) => n + h.prefixes.length, 0),
      lookup: () => -1,
      forEach: (_f, fn) => {
        for (const h of held) {
          const l = prefixListOf(1, h.prefixes);
          for (let i = 0; i < l.count; i++) fn(l.words, i, l.lengths[i]!, 0, h.attrId);
        }
      },
    };
  }

  /** Brings a session up: the Speaker calls initial() and attaches a sink, as peer.ts does. */
  up(e: ExportPeer, sent: ExportUpdate[]): void {
    this.states.set(e.id, 'Established');
    sent.push(this.source!.initial(e));
    this.source!.attach((compute) => {
      // A real session packs the update before returning (the lists are reused afterwards):
      // keeping it for later assertions needs a copy.
      const u = compute(e);
      if (u) sent.push(copyUpdate(u));
    });
  }

  down(id: string, reason = 'TcpConnectionFailed'): void {
    this.states.set(id, 'Idle');
    const held = this.held.get(id) ?? [];
    this.held.delete(id);
    const all = held.flatMap((h) => h.prefixes);
    if (all.length > 0)
      this.adjRibInChanges.next({
        peer: id,
        entries: [{ kind: 'withdraw', family: V4, prefixes: prefixListOf(1, all) }],
      });
    this.events.next({
      type: 'state',
      peer: id,
      name: id,
      from: 'Established',
      to: 'Idle',
      reason,
      at: Date.now(),
    });
  }

  announce(id: string, attrs: PathAttributes, prefixes: string[]): void {
    const attrId = this.attributes.intern(`k${this.n++}`, () => ({ attributes: attrs, mpNextHop: null }));
    this.attributes.ref(attrId, prefixes.length);
    const h = this.held.get(id) ?? [];
    h.push({ attrId, prefixes });
    this.held.set(id, h);
    this.adjRibInChanges.next({
      peer: id,
      entries: [{ kind: 'announce', family: V4, attrId, prefixes: prefixListOf(1, prefixes) }],
    });
  }

  refreshIn(id: string): Map<string, FamilyKey[]> {
    this.refreshes.push(id);
    return new Map([[id, [V4]]]);
  }

  /** RFC 7313 BoRR ('begin') or EoRR ('end') from a peer, as the session layer reports it. */
  demarcation(id: string, phase: 'begin' | 'end'): void {
    if (phase === 'begin') this.held.delete(id);
    this.events.next({ type: 'route-refresh', peer: id, family: V4, phase, at: Date.now() });
  }

  endOfRib(id: string): void {
    this.adjRibInChanges.next({ peer: id, entries: [{ kind: 'end-of-rib', family: V4 }] });
  }
}

function exportPeer(
  address: string,
  peerAs: number,
  opts: { gr?: boolean; routerId?: string } = {},
): ExportPeer {
  const negotiated = {
    peerAs,
    peerId: parseIpv4(opts.routerId ?? address),
    internal: peerAs === 65000,
    fourOctetAs: true,
    families: [V4],
    addPathReceive: new Set(),
    addPathSend: new Set(),
    ...(opts.gr
      ? {
          peerGracefulRestart: {
            kind: 'graceful-restart',
            restartState: false,
            notification: false,
            restartTime: 120,
            families: [{ afi: 1, safi: 1, forwardingState: true }],
          },
        }
      : {}),
  } as unknown as Negotiated;
  return {
    id: address,
    address,
    localAs: 65000,
    peerAs,
    internal: peerAs === 65000,
    localAddress: '10.0.0.1',
    families: [V4],
    negotiated,
  };
}

function announced(updates: ExportUpdate[]): Map<string, PathAttributes> {
  const out = new Map<string, PathAttributes>();
  for (const u of updates) {
    for (const w of u.withdraw) {
      for (let i = 0; i < w.prefixes.count; i++)
        out.delete(`${formatIpv4(w.prefixes.words[i]!)}/${w.prefixes.lengths[i]}`);
    }
    for (const g of u.announce) {
      for (let i = 0; i < g.prefixes.count; i++)
        out.set(`${formatIpv4(g.prefixes.words[i]!)}/${g.prefixes.lengths[i]}`, g.attributes);
    }
  }
  return out;
}

const tick = () => new Promise((r) => setImmediate(r));

function copyUpdate(u: ExportUpdate): ExportUpdate {
  return {
    announce: u.announce.map((g) => ({ ...g, prefixes: copyPrefixList(g.prefixes) })),
    withdraw: u.withdraw.map((g) => ({ ...g, prefixes: copyPrefixList(g.prefixes) })),
  };
}
const log = createLogger({ level: 'fatal', format: 'json' });

function setup(extra = '', commitIntervalMs?: number) {
  const speaker = new FakeSpeaker();
  const engine = new RoutingEngine({
    speaker,
    config: config(extra),
    log,
    ...(commitIntervalMs === undefined ? {} : { commitIntervalMs }),
  });
  const fib: FibBatch[] = [];
  engine.fibChanges.subscribe((b) => fib.push(b));
  engine.start();
  const sent = {
    a: [] as ExportUpdate[],
    b: [] as ExportUpdate[],
    tor: [] as ExportUpdate[],
    bare: [] as ExportUpdate[],
  };
  speaker.up(exportPeer('10.0.1.1', 65000, { gr: true }), sent.a);
  speaker.up(exportPeer('10.0.2.1', 65000), sent.b);
  speaker.up(exportPeer('192.0.2.1', 65100), sent.tor);
  speaker.up(exportPeer('192.0.2.9', 65200), sent.bare);
  return { speaker, engine, fib, sent };
}

describe('routing engine', () => {
  const engines: RoutingEngine[] = [];
  after(() => {
    for (const e of engines) e.stop();
  });

  test('route reflection: a client route reaches the other client with ORIGINATOR_ID/CLUSTER_LIST, next hop kept', async () => {
    const { speaker, engine, sent, fib } = setup();
    engines.push(engine);
    speaker.announce(
      '10.0.1.1',
      { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.1.1'), localPref: 100 },
      ['10.1.0.0/24'],
    );
    await tick();
    const atB = announced(sent.b).get('10.1.0.0/24');
    assert.ok(atB, 'client B got the route');
    assert.equal(atB.nextHop, parseIpv4('10.0.1.1'));
    assert.equal(atB.originatorId, parseIpv4('10.0.1.1'));
    assert.deepEqual(Array.from(atB.clusterList ?? []), [parseIpv4('10.0.0.1')]);
    assert.equal(announced(sent.a).has('10.1.0.0/24'), false, 'not sent back to its source');
    // eBGP with policy gets it with our AS and next-hop self; eBGP without policy gets nothing.
    const atTor = announced(sent.tor).get('10.1.0.0/24');
    assert.equal(atTor?.nextHop, parseIpv4('10.0.0.1'));
    assert.equal(announced(sent.bare).size, 0, 'RFC 8212: nothing to an eBGP peer without policy');
    const last = fib.at(-1)!;
    assert.deepEqual(last.upserts, [
      { prefix: '10.1.0.0/24', nextHops: [{ address: '10.0.1.1', peer: '10.0.1.1' }] },
    ]);
    assert.deepEqual(engine.fibSnapshot(), last.upserts);
  });

  test('RFC 8212: routes from an eBGP neighbour without import policy are not used', async () => {
    const { speaker, engine } = setup();
    engines.push(engine);
    speaker.announce('192.0.2.9', { origin: 0, asPath: asSequence(65200), nextHop: parseIpv4('192.0.2.9') }, [
      '203.0.113.0/24',
    ]);
    speaker.announce('192.0.2.1', { origin: 0, asPath: asSequence(65100), nextHop: parseIpv4('192.0.2.1') }, [
      '198.51.100.0/24',
    ]);
    await tick();
    assert.deepEqual(
      engine.routes({}).map((r) => r.prefix),
      ['198.51.100.0/24'],
    );
  });

  test('best path: local-pref beats a shorter AS path; --detail names the deciding step', async () => {
    const { speaker, engine } = setup();
    engines.push(engine);
    speaker.announce(
      '10.0.1.1',
      { origin: 0, asPath: asSequence(65100, 65101), nextHop: parseIpv4('10.0.1.1'), localPref: 200 },
      ['10.9.0.0/16'],
    );
    speaker.announce(
      '10.0.2.1',
      { origin: 0, asPath: asSequence(65100), nextHop: parseIpv4('10.0.2.1'), localPref: 100 },
      ['10.9.0.0/16'],
    );
    await tick();
    const best = engine.routes({ prefix: '10.9.0.0/16' });
    assert.equal(best.length, 1);
    assert.equal(best[0]!.nextHop, '10.0.1.1');
    const [d] = engine.routeDetails('10.9.1.1');
    assert.ok(d);
    assert.equal(d.paths.length, 2);
    const loser = d.paths.find((p) => !p.best)!;
    assert.equal(loser.lostAt, 'local-pref');
    assert.match(formatRouteDetail(d), /lost at local-pref/);
    // Equal local-pref: the AS path length decides.
    speaker.announce(
      '10.0.1.1',
      { origin: 0, asPath: asSequence(65100, 65101), nextHop: parseIpv4('10.0.1.1'), localPref: 100 },
      ['10.9.0.0/16'],
    );
    await tick();
    assert.equal(engine.routes({ prefix: '10.9.0.0/16' })[0]!.nextHop, '10.0.2.1');
    assert.equal(engine.routeDetails('10.9.0.0/16')[0]!.paths.find((p) => !p.best)!.lostAt, 'as-path-length');
  });

  test('graceful restart helper: stale through the restart, swept at End-of-RIB', async () => {
    const { speaker, engine, sent } = setup();
    engines.push(engine);
    const attrs = { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.1.1'), localPref: 100 };
    speaker.announce('10.0.1.1', attrs, ['10.1.0.0/24', '10.1.1.0/24']);
    await tick();
    speaker.down('10.0.1.1');
    await tick();
    const detail = engine.routeDetails('10.1.0.0/24')[0]!;
    assert.equal(detail.paths[0]!.stale, true, 'kept as stale');
    assert.ok(announced(sent.b).has('10.1.1.0/24'), 'still advertised while stale');
    // Back, re-announces one prefix only, then End-of-RIB: the other one goes.
    speaker.up(exportPeer('10.0.1.1', 65000, { gr: true }), sent.a);
    speaker.announce('10.0.1.1', attrs, ['10.1.0.0/24']);
    await tick();
    assert.equal(engine.routeDetails('10.1.1.0/24')[0]!.paths[0]!.stale, true);
    speaker.endOfRib('10.0.1.1');
    await tick();
    assert.deepEqual(
      engine.routes({}).map((r) => r.prefix),
      ['10.1.0.0/24'],
    );
    assert.equal(engine.routeDetails('10.1.0.0/24')[0]!.paths[0]!.stale, false);
    assert.equal(announced(sent.b).has('10.1.1.0/24'), false, 'withdrawn from the other client');
  });

  test('without graceful restart a session loss withdraws everything', async () => {
    const { speaker, engine, sent, fib } = setup();
    engines.push(engine);
    speaker.announce('10.0.2.1', { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.2.1') }, [
      '10.2.0.0/24',
    ]);
    await tick();
    assert.ok(announced(sent.a).has('10.2.0.0/24'));
    speaker.down('10.0.2.1');
    await tick();
    assert.equal(engine.routes({}).length, 0);
    assert.equal(announced(sent.a).has('10.2.0.0/24'), false);
    assert.deepEqual(fib.at(-1)!.removals, ['10.2.0.0/24']);
  });

  test('a session loss at 150k routes is decided in slices, with I/O between them, and withdraws every route', async () => {
    const { speaker, engine, sent, fib } = setup();
    engines.push(engine);
    const v4 = engine.families.get(familyKey(1, 1));
    assert.ok(v4);
    const groupBytes = v4.groups.storage().bytes;
    const prefixes = Array.from(
      { length: 150_000 },
      (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`,
    );
    speaker.announce(
      '10.0.2.1',
      { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.2.1') },
      prefixes,
    );
    for (let i = 0; i < 10 && announced(sent.a).size < prefixes.length; i++) await tick();
    assert.equal(announced(sent.a).size, prefixes.length, 'client A holds the table');
    const commits = engine.stats.commits;
    const removalsBefore = engine.stats.fibRemovals;
    speaker.down('10.0.2.1');
    // Something scheduled right after the loss runs before the last slice is decided.
    let ranBetween = false;
    setImmediate(() => {
      const removed = engine.stats.fibRemovals - removalsBefore;
      ranBetween = removed > 0 && removed < prefixes.length;
    });
    for (let i = 0; i < 20 && engine.stats.fibRemovals - removalsBefore < prefixes.length; i++) await tick();
    assert.equal(engine.stats.fibRemovals - removalsBefore, prefixes.length);
    assert.ok(
      engine.stats.commits - commits >= 3,
      `${engine.stats.commits - commits} commits for 150k (slices of 64k)`,
    );
    assert.ok(ranBetween, 'I/O ran between the slices');
    assert.equal(engine.routes({}).length, 0);
    assert.equal(announced(sent.a).size, 0, 'client A got every withdrawal');
    assert.ok(fib.length > 0);
    // 150k outgrew the starting room. The commit that published the last withdrawals gave the
    // table back (LocRib.settle), and the update groups' arrays with it: no later change is
    // needed for that (an idle daemon may see none for hours).
    assert.equal(v4.rib.size, 0, 'freed, not awaiting the next commit');
    assert.equal(v4.rib.prefixCapacity, RIB_INITIAL_PREFIXES);
    assert.equal(v4.rib.pathCapacity, RIB_INITIAL_PREFIXES);
    assert.equal(v4.groups.storage().bytes, groupBytes);
  });

  test("each family's Loc-RIB starts at RIB_INITIAL_PREFIXES, a step of its own growth from 1,024", () => {
    const { engine } = setup();
    engines.push(engine);
    // The capacities LocRib grows through from 1,024 (RIB_GROWTH, rounded up): starting at one of
    // them leaves a larger table on the same sizes (a 1M table at 1,048,576).
    const steps: number[] = [];
    for (let n = 1024; n <= RIB_INITIAL_PREFIXES; n = Math.ceil(n * RIB_GROWTH)) steps.push(n);
    assert.equal(steps.at(-1), RIB_INITIAL_PREFIXES);
    assert.ok(RIB_INITIAL_PREFIXES >= 100_000, 'a 100k table fits without growing');
    assert.equal(engine.families.size, 2);
    for (const { rib } of engine.families.values()) {
      assert.equal(rib.prefixCapacity, RIB_INITIAL_PREFIXES);
      assert.equal(rib.pathCapacity, RIB_INITIAL_PREFIXES);
    }
  });

  test('under load commits are spaced by the interval; a change after a small commit goes at once', async () => {
    // A long interval, so that a slow machine cannot stretch the test past it by accident.
    const { speaker, engine, sent } = setup('', 300);
    engines.push(engine);
    const attrs = { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.2.1') };
    const bulk = Array.from({ length: 2000 }, (_, i) => `10.1.${i >> 8}.${i & 255}/32`);
    speaker.announce('10.0.2.1', attrs, bulk);
    for (let i = 0; i < 10 && announced(sent.a).size < bulk.length; i++) await tick();
    assert.equal(announced(sent.a).size, bulk.length, 'the first commit is not held back');
    // The last commit decided 2000 prefixes: the next ones wait for the interval, together.
    const commits = engine.stats.commits;
    const t0 = performance.now();
    speaker.announce('10.0.2.1', attrs, ['10.2.0.1/32']);
    await tick();
    speaker.announce('10.0.2.1', attrs, ['10.2.0.2/32']);
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(announced(sent.a).has('10.2.0.1/32'), false, 'held while the interval runs');
    while (!announced(sent.a).has('10.2.0.2/32') && performance.now() - t0 < 5000)
      await new Promise((r) => setTimeout(r, 5));
    assert.ok(performance.now() - t0 >= 250, `${(performance.now() - t0).toFixed(0)} ms: held ~300 ms`);
    assert.ok(announced(sent.a).has('10.2.0.1/32'));
    assert.equal(engine.stats.commits - commits, 1, 'both changes in one commit');
    // That commit was small: the next change is committed on the next turn of the loop.
    speaker.announce('10.0.2.1', attrs, ['10.2.0.3/32']);
    for (let i = 0; i < 3 && !announced(sent.a).has('10.2.0.3/32'); i++) await tick();
    assert.ok(announced(sent.a).has('10.2.0.3/32'), 'a lone change is not held back');
  });

  test('originated routes (config and OriginationSink) go through the Loc-RIB to peers, not to the FIB', async () => {
    const { speaker, engine, sent } = setup('originate: [10.50.0.0/24]');
    engines.push(engine);
    const hub = new RoutingHub();
    hub.attach(engine);
    hub.setOriginated('workloads', [{ prefix: '10.60.0.0/26' }]);
    await tick();
    assert.ok(announced(sent.a).has('10.50.0.0/24'));
    assert.equal(
      announced(sent.a).get('10.60.0.0/26')?.nextHop,
      parseIpv4('10.0.0.1'),
      'iBGP: next hop self for our routes',
    );
    assert.equal(announced(sent.tor).get('10.60.0.0/26')?.asPath?.length, 2, 'eBGP: our AS prepended');
    assert.equal(hub.snapshot().length, 0, 'our own routes are not forwarded through BGP');
    hub.setOriginated('workloads', []);
    await tick();
    assert.equal(announced(sent.a).has('10.60.0.0/26'), false);
    assert.ok(announced(sent.a).has('10.50.0.0/24'));
    void speaker;
  });

  test('reload: a new import policy re-imports kept routes, a new export policy updates Adj-RIB-Out, no reset', async () => {
    const { speaker, engine, sent } = setup();
    engines.push(engine);
    speaker.announce('192.0.2.1', { origin: 0, asPath: asSequence(65100), nextHop: parseIpv4('192.0.2.1') }, [
      '198.51.100.0/24',
      '198.51.101.0/24',
    ]);
    await tick();
    assert.equal(engine.routes({}).length, 2);
    assert.ok(announced(sent.a).has('198.51.101.0/24'));
    const next = config(`prefixLists:
  only100: [198.51.100.0/24]
`);
    next.policies = {
      all: { terms: [{ match: { prefixList: 'only100' }, action: 'accept' }], default: 'reject' },
    } as Config['policies'];
    engine.applyConfig(next);
    assert.deepEqual(
      engine.routes({}).map((r) => r.prefix),
      ['198.51.100.0/24'],
    );
    assert.equal(announced(sent.a).has('198.51.101.0/24'), false, 'withdrawn from the clients');
    assert.ok(announced(sent.a).has('198.51.100.0/24'));
    assert.deepEqual(speaker.refreshes, [], 'kept routes: no ROUTE-REFRESH');
  });

  test('reload without kept routes: ROUTE-REFRESH to the peer; its re-sent routes go through the new policy', async () => {
    const { speaker, engine, sent } = setup();
    engines.push(engine);
    const attrs = { origin: 0, asPath: asSequence(65100), nextHop: parseIpv4('192.0.2.1') } as const;
    speaker.announce('192.0.2.1', attrs, ['198.51.100.0/24', '198.51.101.0/24']);
    await tick();
    speaker.retained = false;
    const next = config(`prefixLists:
  only100: [198.51.100.0/24]
`);
    next.policies = {
      all: { terms: [{ match: { prefixList: 'only100' }, action: 'accept' }], default: 'reject' },
    } as Config['policies'];
    engine.applyConfig(next);
    assert.deepEqual(speaker.refreshes, ['192.0.2.1'], 'only the neighbour whose import changed');
    assert.equal(engine.routes({}).length, 2, 'nothing re-imported before the peer re-sends');
    // The peer re-sends its table (plain RFC 2918 refresh): the rejected route is withdrawn.
    speaker.announce('192.0.2.1', attrs, ['198.51.100.0/24', '198.51.101.0/24']);
    await tick();
    assert.deepEqual(
      engine.routes({}).map((r) => r.prefix),
      ['198.51.100.0/24'],
    );
    assert.equal(announced(sent.a).has('198.51.101.0/24'), false);
    assert.equal(engine.refreshIn('192.0.2.1').get('192.0.2.1')?.length, 1, 'refresh-in asks again');
    assert.deepEqual(speaker.refreshes, ['192.0.2.1', '192.0.2.1']);
  });

  test('enhanced route refresh: BoRR marks the peer’s routes stale, EoRR removes those not re-advertised', async () => {
    const { speaker, engine, sent } = setup();
    engines.push(engine);
    const attrs = { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.2.1'), localPref: 100 };
    speaker.announce('10.0.2.1', attrs, ['10.2.0.0/24', '10.2.1.0/24', '10.2.2.0/24']);
    await tick();
    assert.ok(announced(sent.a).has('10.2.2.0/24'));
    speaker.demarcation('10.0.2.1', 'begin');
    await tick();
    assert.equal(engine.routeDetails('10.2.2.0/24')[0]!.paths[0]!.stale, true, 'stale after BoRR');
    assert.ok(announced(sent.a).has('10.2.2.0/24'), 'still advertised while stale');
    speaker.announce('10.0.2.1', attrs, ['10.2.0.0/24', '10.2.1.0/24']);
    await tick();
    assert.equal(engine.routeDetails('10.2.0.0/24')[0]!.paths[0]!.stale, false, 're-advertised: fresh');
    speaker.demarcation('10.0.2.1', 'end');
    await tick();
    assert.deepEqual(
      engine.routes({}).map((r) => r.prefix),
      ['10.2.0.0/24', '10.2.1.0/24'],
    );
    assert.equal(announced(sent.a).has('10.2.2.0/24'), false, 'withdrawn from the other client');
    // An EoRR without BoRR removes nothing.
    speaker.demarcation('10.0.2.1', 'end');
    await tick();
    assert.equal(engine.routes({}).length, 2);
  });
});

describe('kernel next-hop resolver', () => {
  test('connected next hops cost 0, via a gateway the metric + 1, no route: unreachable; changes re-resolve', async () => {
    const kernel = new FakeRoutes([
      {
        dst: '10.0.1.0/24',
        table: 254,
        protocol: 2,
        metric: 0,
        type: 'unicast',
        nextHops: [{ dev: 'eth0' }],
      },
      {
        dst: '10.8.0.0/16',
        table: 254,
        protocol: 4,
        metric: 20,
        type: 'unicast',
        nextHops: [{ gateway: '10.0.1.254' }],
      },
      {
        dst: '10.9.0.0/16',
        table: 254,
        protocol: 186,
        metric: 0,
        type: 'unicast',
        nextHops: [{ gateway: '10.0.1.1' }],
      },
      {
        dst: '0.0.0.0/0',
        table: 254,
        protocol: 4,
        metric: 0,
        type: 'unicast',
        nextHops: [{ gateway: '10.0.1.254' }],
      },
    ]);
    const r = new KernelNextHopResolver(kernel, { settleMs: 5 });
    await r.start();
    const nh = (s: string) => Uint8Array.from(s.split('.').map(Number));
    assert.equal(r.cost(nh('10.0.1.7'), {}), 0);
    assert.equal(r.cost(nh('10.8.3.4'), {}), 21);
    assert.equal(r.cost(nh('10.9.3.4'), {}), UNREACHABLE, 'not through our own BGP routes');
    assert.equal(r.cost(nh('172.16.0.1'), {}), UNREACHABLE, 'not through the default route');
    assert.equal(r.cost(null, {}), 0, 'local routes');
    const misses = r.misses;
    assert.equal(r.cost(nh('10.0.1.7'), {}), 0);
    assert.equal(r.misses, misses, 'cached');
    // Asked last before the change, so the resolver's memo of its last next hop holds it.
    assert.equal(r.cost(nh('172.16.0.1'), {}), UNREACHABLE);
    assert.equal(r.cost(nh('172.16.0.1'), {}), UNREACHABLE);
    let changed = 0;
    r.onChange(() => changed++);
    await kernel.apply([
      {
        op: 'replace',
        route: {
          dst: '172.16.0.0/12',
          table: 254,
          protocol: 4,
          metric: 5,
          type: 'unicast',
          nextHops: [{ gateway: '10.0.1.254' }],
        },
      },
    ]);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(changed, 1);
    assert.equal(r.cost(nh('172.16.0.1'), {}), 6);
    await r.stop();
  });
});

describe('routing hub', () => {
  test('keeps sources and subscribers across engine replacement; a new engine’s table replaces the old one', async () => {
    const hub = new RoutingHub();
    const batches: FibBatch[] = [];
    hub.changes.subscribe((b) => batches.push(b));
    const first = setup();
    first.speaker.announce('10.0.2.1', { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.2.1') }, [
      '10.2.0.0/24',
      '10.3.0.0/24',
    ]);
    hub.attach(first.engine);
    hub.setOriginated('workloads', [{ prefix: '10.60.0.0/26' }]);
    await tick();
    assert.deepEqual(
      hub.snapshot().map((r) => r.prefix),
      ['10.2.0.0/24', '10.3.0.0/24'],
    );
    assert.ok(announced(first.sent.a).has('10.60.0.0/26'));
    assert.throws(() => hub.setOriginated('config', []), /reserved/);
    // The speaker restarts (new AS or router-id): the new engine gets the sources, the consumer a
    // batch that removes what the new table lacks.
    const second = setup();
    second.speaker.announce('10.0.2.1', { origin: 0, asPath: asSequence(), nextHop: parseIpv4('10.0.2.1') }, [
      '10.3.0.0/24',
    ]);
    await tick();
    batches.length = 0;
    hub.attach(second.engine);
    await tick();
    assert.deepEqual(batches[0]!.removals, ['10.2.0.0/24']);
    assert.deepEqual(
      batches[0]!.upserts.map((r) => r.prefix),
      ['10.3.0.0/24'],
    );
    assert.ok(announced(second.sent.a).has('10.60.0.0/26'), 'the workload routes moved to the new engine');
    first.engine.stop();
    second.engine.stop();
    hub.close();
  });
});

describe('routing engine: routes by peer and memory', () => {
  const engines: RoutingEngine[] = [];
  after(() => {
    for (const e of engines) e.stop();
  });

  /** FakeSpeaker whose Adj-RIB-In views take the engine's accepted-path counter (countWith). */
  class CountingSpeaker extends FakeSpeaker {
    readonly counters = new Map<string, (family: FamilyKey) => number>();
    override adjRibIn(id: string): AdjRibInView | undefined {
      const v = super.adjRibIn(id);
      if (v === undefined) return undefined;
      return {
        ...v,
        countWith: (fn) => {
          if (fn === null) this.counters.delete(id);
          else this.counters.set(id, fn);
        },
      };
    }
  }

  /** As setup(), with a next-hop resolver and the counting speaker. */
  function setupWith(resolver?: NextHopResolver) {
    const speaker = new CountingSpeaker();
    const engine = new RoutingEngine({ speaker, config: config(), log, ...(resolver ? { resolver } : {}) });
    engine.start();
    engines.push(engine);
    const sent: ExportUpdate[] = [];
    speaker.up(exportPeer('10.0.1.1', 65000, { gr: true }), sent);
    speaker.up(exportPeer('10.0.2.1', 65000), sent);
    speaker.up(exportPeer('192.0.2.1', 65100), sent);
    speaker.up(exportPeer('192.0.2.9', 65200), sent);
    return { speaker, engine };
  }

  const ibgp = (nh: string, localPref: number): PathAttributes => ({
    origin: 0,
    asPath: asSequence(),
    nextHop: parseIpv4(nh),
    localPref,
  });

  /** a: 10.1.0.0/24 and 10.9.0.0/16 (preferred); b: 10.9.0.0/16 (loses) and 10.2.0.0/24; tor: one; bare: rejected. */
  function announceAll(speaker: FakeSpeaker): void {
    speaker.announce('10.0.1.1', ibgp('10.0.1.1', 200), ['10.1.0.0/24', '10.9.0.0/16']);
    speaker.announce('10.0.2.1', ibgp('10.0.2.1', 100), ['10.9.0.0/16', '10.2.0.0/24']);
    speaker.announce('192.0.2.1', { origin: 0, asPath: asSequence(65100), nextHop: parseIpv4('192.0.2.1') }, [
      '198.51.100.0/24',
    ]);
    speaker.announce('192.0.2.9', { origin: 0, asPath: asSequence(65200), nextHop: parseIpv4('192.0.2.9') }, [
      '203.0.113.0/24',
    ]);
  }

  const listed = (engine: RoutingEngine, peer: string, prefix?: string): string[] =>
    engine
      .routes({ peer, prefix })
      .map((r) => `${r.prefix} ${r.peer} ${r.nextHop}`)
      .sort();

  test('routes({peer}) lists the accepted paths that peer contributed, best or not, and no other', async () => {
    const { speaker, engine } = setupWith();
    announceAll(speaker);
    await tick();
    assert.deepEqual(
      engine
        .routes({})
        .map((r) => `${r.prefix} ${r.peer}`)
        .sort(),
      ['10.1.0.0/24 10.0.1.1', '10.2.0.0/24 10.0.2.1', '10.9.0.0/16 10.0.1.1', '198.51.100.0/24 192.0.2.1'],
      'without a peer: the best paths',
    );
    assert.deepEqual(listed(engine, '10.0.2.1'), [
      '10.2.0.0/24 10.0.2.1 10.0.2.1',
      '10.9.0.0/16 10.0.2.1 10.0.2.1',
    ]);
    assert.deepEqual(
      listed(engine, 'client-a'),
      ['10.1.0.0/24 10.0.1.1 10.0.1.1', '10.9.0.0/16 10.0.1.1 10.0.1.1'],
      'by neighbour name',
    );
    assert.deepEqual(listed(engine, 'tor'), ['198.51.100.0/24 192.0.2.1 192.0.2.1']);
    assert.deepEqual(listed(engine, '192.0.2.9'), [], 'RFC 8212: nothing accepted from bare');
    assert.deepEqual(listed(engine, 'nobody'), []);
    // With a prefix or an address: only that peer's path of the prefix.
    const lost = engine.routes({ peer: 'client-b', prefix: '10.9.0.0/16' });
    assert.equal(lost.length, 1);
    assert.equal(lost[0]!.peer, '10.0.2.1');
    assert.equal(lost[0]!.localPref, 100);
    assert.deepEqual(listed(engine, 'client-b', '10.9.1.1'), ['10.9.0.0/16 10.0.2.1 10.0.2.1']);
    assert.deepEqual(listed(engine, 'client-b', '10.1.0.0/24'), [], 'a prefix the peer did not send');
    assert.equal(engine.routes({ peer: 'client-a', limit: 1 }).length, 1);
    // A withdrawal from b of a prefix only a sent (non-retained sessions pass those on) changes
    // nothing; b withdrawing its own path removes it from b's list and only there.
    speaker.adjRibInChanges.next({
      peer: '10.0.2.1',
      entries: [{ kind: 'withdraw', family: V4, prefixes: prefixListOf(1, ['10.1.0.0/24', '10.2.0.0/24']) }],
    });
    await tick();
    assert.deepEqual(listed(engine, '10.0.2.1'), ['10.9.0.0/16 10.0.2.1 10.0.2.1']);
    assert.deepEqual(listed(engine, '10.0.1.1'), [
      '10.1.0.0/24 10.0.1.1 10.0.1.1',
      '10.9.0.0/16 10.0.1.1 10.0.1.1',
    ]);
  });

  test('the counter registered with a session’s Adj-RIB-In is the number of paths import accepted from it', async () => {
    const { speaker, engine } = setupWith();
    const count = (id: string, f: FamilyKey = V4): number => {
      const c = speaker.counters.get(id);
      assert.ok(c, `counter registered for ${id}`);
      return c(f);
    };
    assert.equal(count('10.0.1.1'), 0);
    announceAll(speaker);
    await tick();
    assert.equal(count('10.0.1.1'), 2);
    assert.equal(count('10.0.2.1'), 2, 'a path that is not best counts');
    assert.equal(count('192.0.2.1'), 1);
    assert.equal(count('192.0.2.9'), 0, 'rejected by import: not counted');
    assert.equal(count('10.0.1.1', familyKey(2, 1)), 0, 'no IPv6 routes');
    assert.equal(count('10.0.1.1', familyKey(1, 2)), 0, 'a family the RIB does not have');
    speaker.down('10.0.2.1');
    await tick();
    assert.equal(count('10.0.2.1'), 0, 'session loss without graceful restart: flushed');
    assert.equal(engine.routes({ peer: '10.0.2.1' }).length, 0);
  });

  test('memory() reports the prefixes and paths announced, and the bytes holding them', async () => {
    const { speaker, engine } = setupWith();
    const v4 = () => {
      const f = engine.memory().families.find((x) => x.family === 'ipv4-unicast');
      assert.ok(f, 'ipv4-unicast reported');
      return f;
    };
    assert.equal(v4().prefixes, 0);
    assert.equal(v4().paths, 0);
    const sets0 = engine.memory().attributeSets;
    announceAll(speaker);
    await tick();
    const m = engine.memory();
    const f = v4();
    assert.equal(f.prefixes, 4, '10.1.0.0/24, 10.9.0.0/16, 10.2.0.0/24, 198.51.100.0/24');
    assert.equal(f.paths, 5, 'two for 10.9.0.0/16');
    assert.ok(f.locRibBytes > 0);
    assert.ok(f.adjRibOutBytes >= 0 && f.updateGroups >= 0);
    assert.ok(m.attributeSets >= sets0 + 3, `three accepted attribute sets (${sets0} -> ${m.attributeSets})`);
    const perPeer = ['10.0.1.1', '10.0.2.1', '192.0.2.1', '192.0.2.9'].map(
      (id) => engine.routes({ peer: id }).length,
    );
    assert.equal(
      perPeer.reduce((a, b) => a + b, 0),
      f.paths,
      'the per-peer lists cover every path',
    );
    // b goes (no graceful restart): its two paths go.
    speaker.down('10.0.2.1');
    await tick();
    assert.equal(v4().paths, 3, 'paths');
    assert.equal(engine.routes({}).length, 3);
    // The next change releases the prefix that lost its last path.
    speaker.announce('10.0.1.1', ibgp('10.0.1.1', 200), ['10.1.1.0/24']);
    await tick();
    assert.equal(v4().prefixes, 4, '10.2.0.0/24 released, 10.1.1.0/24 added');
    assert.equal(v4().paths, 4);
  });

  test('memory(): a prefix whose last path was withdrawn is no longer counted', async () => {
    const { speaker, engine } = setupWith();
    announceAll(speaker);
    await tick();
    speaker.down('10.0.2.1');
    await tick();
    const f = engine.memory().families.find((x) => x.family === 'ipv4-unicast');
    assert.equal(f?.paths, 3);
    assert.equal(f?.prefixes, 3, '10.2.0.0/24 has no path left');
  });

  /** 10.0.2.1 (client b) is not reachable as a next hop. */
  const bUnreachable: NextHopResolver = {
    cost: (nh) =>
      nh !== null &&
      nh.length === 4 &&
      new DataView(nh.buffer, nh.byteOffset).getUint32(0) === parseIpv4('10.0.2.1')
        ? UNREACHABLE
        : 0,
  };

  test('routes({peer}) lists an accepted path whose next hop is unreachable (it is counted)', async () => {
    const { speaker, engine } = setupWith(bUnreachable);
    speaker.announce('10.0.2.1', ibgp('10.0.2.1', 100), ['10.2.0.0/24']);
    await tick();
    assert.equal(engine.routeDetails('10.2.0.0/24')[0]?.paths.length, 1, 'the path is in the Loc-RIB');
    assert.equal(speaker.counters.get('10.0.2.1')?.(V4), 1, 'and counted for its peer');
    assert.deepEqual(listed(engine, '10.0.2.1'), ['10.2.0.0/24 10.0.2.1 10.0.2.1']);
  });

  test('routes({peer, prefix}) lists that path too, by prefix or by address', async () => {
    const { speaker, engine } = setupWith(bUnreachable);
    speaker.announce('10.0.2.1', ibgp('10.0.2.1', 100), ['10.2.0.0/24']);
    await tick();
    assert.deepEqual(listed(engine, '10.0.2.1'), ['10.2.0.0/24 10.0.2.1 10.0.2.1'], 'precondition');
    assert.deepEqual(listed(engine, '10.0.2.1', '10.2.0.0/24'), ['10.2.0.0/24 10.0.2.1 10.0.2.1']);
    assert.deepEqual(listed(engine, '10.0.2.1', '10.2.0.9'), ['10.2.0.0/24 10.0.2.1 10.0.2.1']);
  });
});
