// Graceful restart in the session layer (RFC 4724, RFC 8538): the R bit, Hard Reset vs plain
// Cease, and whether a lost session is GR-eligible. Speaker-to-speaker and raw peers over loopback
// (127.32.0.0/16 aliases need no root on Linux).
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  BgpFrameReader,
  type BgpMessage,
  type Capability,
  type CodecOptions,
  decodeMessage,
  encodeKeepalive,
  encodeMessage,
  Family,
} from '../codec/index.ts';
import type { AdjRibInBatch } from './adj-rib-in.ts';
import type { FsmAction, FsmEvent } from './fsm.ts';
import type { Negotiated } from './open.ts';
import { sessionLoss } from './peer.ts';
import type { Speaker } from './speaker.ts';
import { established, peerOf, speakerHarness, type TestSpeaker, until } from './testing/speaker-harness.ts';
import type { PeerConfig, SpeakerEvent } from './types.ts';

const { speaker: makeSpeaker, stopAll } = speakerHarness(30000 + ((process.pid + 7919) % 20000));
const sockets: Socket[] = [];

after(async () => {
  for (const s of sockets) s.destroy();
  await stopAll();
});

type GrCap = Extract<Capability, { kind: 'graceful-restart' }>;
type StateEvent = Extract<SpeakerEvent, { type: 'state' }>;

function speaker(localAs: number, address: string, routerId: string, restarting = false): TestSpeaker {
  return makeSpeaker(localAs, address, routerId, { restarting });
}

/** Records the first 'state' event out of Established and the sessionDown batch of a speaker. */
function watchLoss(s: Speaker): { downs: StateEvent[]; flushes: AdjRibInBatch[] } {
  const downs: StateEvent[] = [];
  const flushes: AdjRibInBatch[] = [];
  s.events.subscribe((e) => {
    if (e.type === 'state' && e.from === 'Established' && e.to !== 'Established') downs.push(e);
  });
  s.adjRibInChanges.subscribe((b) => {
    if (b.sessionDown) flushes.push(b);
  });
  return { downs, flushes };
}

function pair(
  net: number,
  grA: PeerConfig['gracefulRestart'],
  grB: PeerConfig['gracefulRestart'],
): { a: TestSpeaker; b: TestSpeaker; ipA: string; ipB: string } {
  const ipA = `127.32.${net}.1`;
  const ipB = `127.32.${net}.2`;
  const a = speaker(65001, ipA, `10.32.${net}.1`);
  const b = speaker(65002, ipB, `10.32.${net}.2`);
  a.addPeer({
    key: ipB,
    address: ipB,
    port: b.port,
    localAddress: ipA,
    remoteAs: 65002,
    connectRetryTime: 1,
    gracefulRestart: grA,
  });
  b.addPeer({
    key: ipA,
    address: ipA,
    localAddress: ipB,
    remoteAs: 65001,
    passive: true,
    gracefulRestart: grB,
    // The tests read B's received routes through Speaker.routes(): keep them.
    retainAdjRibIn: 'always',
  });
  a.setOriginated([{ prefix: '192.0.2.0/24' }]);
  return { a, b, ipA, ipB };
}

describe('RFC 8538 Hard Reset vs plain Cease between two speakers', () => {
  test('with N both ways: shutdownPeer and resetPeer send Hard Reset, Speaker.stop a plain Cease', async () => {
    const gr = { restartTime: 60, forwardingPreserved: true };
    const { a, b, ipA, ipB } = pair(1, gr, gr);
    const seen = watchLoss(b);
    await Promise.all([a.start(), b.start()]);
    const st = await established(b, ipA);
    assert.ok(st.capabilities?.negotiated.includes('graceful-restart-notification'));
    await until('routes at B', () => b.routes().length === 1);

    // Operator shutdown: Hard Reset wrapping Administrative Shutdown and its RFC 9003 message.
    await a.shutdownPeer(ipB, 'maintenance');
    const hr = await until('B receives the Hard Reset', () => peerOf(b, ipA)?.lastErrorReceived);
    assert.deepEqual([hr.code, hr.subcode], [6, 9]);
    assert.equal(hr.text, 'Cease / Hard Reset (Cease / Administrative Shutdown: maintenance)');
    await until('B sees the session go', () => seen.downs.length === 1);
    assert.equal(seen.downs[0]?.lossCause, 'hard-reset');
    assert.equal(seen.downs[0]?.gracefulRestartEligible, false);
    assert.equal(seen.downs[0]?.peerGracefulRestart?.notification, true);
    assert.deepEqual(
      seen.flushes.map((f) => f.sessionDown?.gracefulRestartEligible),
      [false],
      'the flush batch is marked and not eligible',
    );
    assert.equal(b.routes().length, 0, 'the session layer cleared its Adj-RIB-In');
    // A's side of it: it sent the Hard Reset, so it flushes too.
    assert.equal(peerOf(a, ipB)?.lastErrorSent?.subcode, 9);

    a.enablePeer(ipB);
    await established(b, ipA);
    await a.resetPeer(ipB, 'clear');
    await until('B receives the second Hard Reset', () => seen.downs.length === 2);
    assert.equal(
      peerOf(b, ipA)?.lastErrorReceived?.text,
      'Cease / Hard Reset (Cease / Administrative Reset: clear)',
    );
    assert.equal(seen.downs[1]?.gracefulRestartEligible, false);

    // Daemon shutdown (SIGTERM): plain Administrative Shutdown; with N, B keeps the routes.
    await established(b, ipA);
    await until('routes at B again', () => b.routes().length === 1);
    await a.stop('restarting');
    await until('B sees the third loss', () => seen.downs.length === 3);
    const cease = peerOf(b, ipA)?.lastErrorReceived;
    assert.deepEqual([cease?.code, cease?.subcode], [6, 2]);
    assert.equal(cease?.text, 'Cease / Administrative Shutdown: restarting');
    assert.equal(seen.downs[2]?.lossCause, 'notification');
    assert.equal(seen.downs[2]?.gracefulRestartEligible, true);
    assert.equal(seen.flushes.at(-1)?.sessionDown?.gracefulRestartEligible, true);
  });

  test('Speaker.stop with hardReset (stopping for good) sends Hard Reset', async () => {
    const gr = { restartTime: 60 };
    const { a, b, ipA } = pair(6, gr, gr);
    const seen = watchLoss(b);
    await Promise.all([a.start(), b.start()]);
    await established(b, ipA);
    await a.stop('decommissioned', { hardReset: true });
    const n = await until('B receives the Hard Reset', () => peerOf(b, ipA)?.lastErrorReceived);
    assert.equal(n.text, 'Cease / Hard Reset (Cease / Administrative Shutdown: decommissioned)');
    await until('B sees the loss', () => seen.downs.length === 1);
    assert.equal(seen.downs[0]?.gracefulRestartEligible, false);
  });

  test('without N on one side: a plain Cease everywhere, and a NOTIFICATION loss is not eligible', async () => {
    const { a, b, ipA, ipB } = pair(2, { restartTime: 60, notification: false }, { restartTime: 60 });
    const seen = watchLoss(b);
    await Promise.all([a.start(), b.start()]);
    const st = await established(b, ipA);
    assert.ok(st.capabilities?.negotiated.includes('graceful-restart'));
    assert.ok(!st.capabilities?.negotiated.includes('graceful-restart-notification'));
    await a.shutdownPeer(ipB, 'maintenance');
    const n = await until('B receives the Cease', () => peerOf(b, ipA)?.lastErrorReceived);
    assert.deepEqual([n.code, n.subcode], [6, 2]);
    await until('B sees the loss', () => seen.downs.length === 1);
    assert.equal(seen.downs[0]?.lossCause, 'notification');
    assert.equal(seen.downs[0]?.gracefulRestartEligible, false);
  });
});

// ---- raw peers ------------------------------------------------------------------------------

const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

interface RawPeer {
  sock: Socket;
  got: BgpMessage[];
  send(m: BgpMessage): void;
  closed: Promise<void>;
}

async function rawPeer(host: string, port: number, localAddress: string): Promise<RawPeer> {
  const sock = connect({ host, port, localAddress });
  const r = wrapRaw(sock);
  await new Promise<void>((res) => sock.once('connect', () => res()));
  return r;
}

/** A listening raw peer at `host`: its port, and the first connection made to it. */
async function rawListener(host: string): Promise<{ port: number; accepted: Promise<RawPeer> }> {
  let accepted: (r: RawPeer) => void = () => undefined;
  const first = new Promise<RawPeer>((res) => {
    accepted = res;
  });
  const server = createServer((sock) => {
    server.close();
    accepted(wrapRaw(sock));
  });
  await new Promise<void>((res) => server.listen({ host, port: 0 }, () => res()));
  const a = server.address();
  return { port: typeof a === 'object' && a !== null ? a.port : 0, accepted: first };
}

function wrapRaw(sock: Socket): RawPeer {
  sockets.push(sock);
  const got: BgpMessage[] = [];
  const reader = new BgpFrameReader();
  sock.on('data', (c: Buffer) => {
    reader.push(c);
    for (let f = reader.next(); f; f = reader.next()) {
      const d = decodeMessage(f, opts);
      if (d.ok) got.push(d.value);
    }
  });
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  return {
    sock,
    got,
    closed,
    send: (m) => {
      const e = encodeMessage(m, opts);
      if (!e.ok) throw new Error(e.reason);
      sock.write(e.bytes);
    },
  };
}

function grCap(over: Partial<GrCap> = {}): GrCap {
  return {
    kind: 'graceful-restart',
    restartState: false,
    notification: true,
    restartTime: 90,
    families: [{ afi: 1, safi: 1, forwardingState: true }],
    ...over,
  };
}

/** The raw peer's OPEN (AS 65009, IPv4 unicast), with this GR capability or none. */
function rawOpen(cap: GrCap | null): BgpMessage {
  return {
    type: 'open',
    version: 4,
    myAs: 65009,
    holdTime: 90,
    bgpId: 0x0a200909,
    capabilities: [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'four-octet-as', asn: 65009 },
      ...(cap ? [cap] : []),
    ],
  };
}

/**
 * A speaker at 127.32.NET.1 with a passive neighbour at 127.32.NET.2 (AS 65009), a GR helper
 * unless `helper` is false.
 */
function grHelper(net: number, helper = true): { us: TestSpeaker; usIp: string; peerIp: string } {
  const usIp = `127.32.${net}.1`;
  const peerIp = `127.32.${net}.2`;
  const us = speaker(65000, usIp, `10.32.${net}.1`);
  us.addPeer({
    key: peerIp,
    address: peerIp,
    remoteAs: 65009,
    passive: true,
    ...(helper ? { gracefulRestart: { restartTime: 120 } } : {}),
  });
  return { us, usIp, peerIp };
}

/** A raw peer with this GR capability brings the session up; returns it Established. */
async function rawSession(
  us: TestSpeaker,
  usIp: string,
  peerIp: string,
  cap: GrCap | null,
): Promise<RawPeer> {
  const r = await rawPeer(usIp, us.port, peerIp);
  r.send(rawOpen(cap));
  r.sock.write(encodeKeepalive());
  await established(us, peerIp);
  return r;
}

function ourOpen(r: RawPeer): GrCap | undefined {
  const o = r.got.find((m) => m.type === 'open');
  if (o?.type !== 'open') return undefined;
  return o.capabilities.find((c): c is GrCap => c.kind === 'graceful-restart');
}

describe('GR eligibility of a lost session (raw peers)', () => {
  const { us, usIp, peerIp } = grHelper(3);
  const seen = watchLoss(us);

  test('TCP failure with a GR peer listing our family: eligible', async () => {
    await us.start();
    const r = await rawSession(us, usIp, peerIp, grCap());
    r.sock.destroy();
    await until('the loss', () => seen.downs.length === 1);
    assert.equal(seen.downs[0]?.lossCause, 'tcp-failure');
    assert.equal(seen.downs[0]?.gracefulRestartEligible, true);
    assert.deepEqual(seen.downs[0]?.peerGracefulRestart, grCap());
  });

  test('TCP failure with a GR peer listing no family (helper only): not eligible', async () => {
    const r = await rawSession(us, usIp, peerIp, grCap({ families: [] }));
    r.sock.destroy();
    await until('the loss', () => seen.downs.length === 2);
    assert.equal(seen.downs[1]?.lossCause, 'tcp-failure');
    assert.equal(seen.downs[1]?.gracefulRestartEligible, false);
  });

  test('a received NOTIFICATION: eligible with N both ways, not as Hard Reset, not without N', async () => {
    const cease = (subcode: number, data: number[] = []): BgpMessage => ({
      type: 'notification',
      code: 6,
      subcode,
      data: new Uint8Array(data),
    });
    let r = await rawSession(us, usIp, peerIp, grCap());
    r.send(cease(2));
    await until('loss 3', () => seen.downs.length === 3);
    assert.equal(seen.downs[2]?.lossCause, 'notification');
    assert.equal(seen.downs[2]?.gracefulRestartEligible, true);

    r = await rawSession(us, usIp, peerIp, grCap());
    r.send(cease(9, [6, 4]));
    await until('loss 4', () => seen.downs.length === 4);
    assert.equal(seen.downs[3]?.lossCause, 'hard-reset');
    assert.equal(seen.downs[3]?.gracefulRestartEligible, false);
    assert.equal(
      peerOf(us, peerIp)?.lastErrorReceived?.text,
      'Cease / Hard Reset (Cease / Administrative Reset)',
    );

    r = await rawSession(us, usIp, peerIp, grCap({ notification: false }));
    r.send(cease(2));
    await until('loss 5', () => seen.downs.length === 5);
    assert.equal(seen.downs[4]?.lossCause, 'notification');
    assert.equal(seen.downs[4]?.gracefulRestartEligible, false);

    r = await rawSession(us, usIp, peerIp, null);
    r.sock.destroy();
    await until('loss 6', () => seen.downs.length === 6);
    assert.equal(seen.downs[5]?.gracefulRestartEligible, false, 'no GR capability from the peer');
    assert.equal(seen.downs[5]?.peerGracefulRestart, undefined);
  });
});

describe('Restart State (R) bit, RFC 4724 §4.1', () => {
  test('a restarting speaker sets R until it has sent End-of-RIB to every peer, then clears it', async () => {
    const usIp = '127.32.4.1';
    const us = speaker(65000, usIp, '10.32.4.1', true);
    const gr = { restartTime: 120, forwardingPreserved: true };
    us.addPeer({
      key: '127.32.4.2',
      address: '127.32.4.2',
      remoteAs: 65009,
      passive: true,
      gracefulRestart: gr,
    });
    us.addPeer({
      key: '127.32.4.3',
      address: '127.32.4.3',
      remoteAs: 65009,
      passive: true,
      gracefulRestart: gr,
    });
    us.setOriginated([{ prefix: '192.0.2.0/24' }]);
    await us.start();
    assert.equal(us.gracefulRestartRestarting, true);
    const r1 = await rawSession(us, usIp, '127.32.4.2', grCap());
    const cap1 = ourOpen(r1);
    assert.equal(cap1?.restartState, true, 'R set in the OPEN of a restarting speaker');
    assert.deepEqual(cap1?.families, [{ afi: 1, safi: 1, forwardingState: true }]);
    // Our table, then End-of-RIB (an empty UPDATE) to the first peer.
    await until('End-of-RIB to peer 1', () =>
      r1.got.some(
        (m) =>
          m.type === 'update' &&
          m.nlri.count === 0 &&
          m.withdrawn.count === 0 &&
          m.attributes.mpReach === undefined,
      ),
    );
    assert.equal(us.gracefulRestartRestarting, true, 'still restarting: peer 2 has not had its End-of-RIB');
    const r2 = await rawSession(us, usIp, '127.32.4.3', grCap());
    assert.equal(ourOpen(r2)?.restartState, true);
    await until('restart over', () => !us.gracefulRestartRestarting);
    // A new session after that: R clear.
    r1.sock.destroy();
    await until('peer 1 down', () => peerOf(us, '127.32.4.2')?.state !== 'Established');
    const r3 = await rawSession(us, usIp, '127.32.4.2', grCap());
    assert.equal(ourOpen(r3)?.restartState, false);
  });

  test('PeerConfig restarting sets R for that peer until its first End-of-RIBs', async () => {
    const usIp = '127.32.5.1';
    const peerIp = '127.32.5.2';
    const us = speaker(65000, usIp, '10.32.5.1');
    us.addPeer({
      key: peerIp,
      address: peerIp,
      remoteAs: 65009,
      passive: true,
      gracefulRestart: { restartTime: 120, restarting: true },
    });
    await us.start();
    const r1 = await rawSession(us, usIp, peerIp, grCap());
    assert.equal(ourOpen(r1)?.restartState, true);
    await until('End-of-RIB', () => r1.got.some((m) => m.type === 'update'));
    r1.sock.destroy();
    await until('down', () => peerOf(us, peerIp)?.state !== 'Established');
    const r2 = await rawSession(us, usIp, peerIp, grCap());
    assert.equal(ourOpen(r2)?.restartState, false);
  });
});

describe('sessionLoss (pure)', () => {
  const n = (over: Partial<Negotiated> = {}): Negotiated =>
    ({
      families: [Family.IPv4Unicast],
      gracefulRestart: true,
      gracefulRestartNotification: true,
      peerGracefulRestart: grCap(),
      ...over,
    }) as unknown as Negotiated;
  const v4 = n();
  const sendCease = (subcode: number): FsmAction[] => [
    { type: 'SendNotification', notification: { code: 6, subcode }, reason: 'ManualStop' } as FsmAction,
  ];
  const ev = (e: FsmEvent): FsmEvent => e;

  test('hold timer expiry is eligible with or without N; our plain Cease only with N', () => {
    const hold = sessionLoss(v4, ev({ type: 'HoldTimer_Expires' }), [
      {
        type: 'SendNotification',
        notification: { code: 4, subcode: 0 },
        reason: 'HoldTimerExpired',
      } as FsmAction,
    ]);
    assert.deepEqual([hold.cause, hold.eligible], ['hold-timer', true]);
    const holdNoN = sessionLoss(
      { ...v4, gracefulRestartNotification: false },
      ev({ type: 'HoldTimer_Expires' }),
      [],
    );
    assert.equal(holdNoN.eligible, true);
    const stop = sessionLoss(v4, ev({ type: 'ManualStop' }), sendCease(2));
    assert.deepEqual([stop.cause, stop.eligible], ['notification', true]);
    const stopNoN = sessionLoss(
      { ...v4, gracefulRestartNotification: false },
      ev({ type: 'ManualStop' }),
      sendCease(2),
    );
    assert.deepEqual([stopNoN.cause, stopNoN.eligible], ['admin', false]);
    const hard = sessionLoss(v4, ev({ type: 'ManualStop' }), sendCease(9));
    assert.deepEqual([hard.cause, hard.eligible], ['hard-reset', false]);
  });

  test('a restart time of 0, or families the session does not carry, are not eligible', () => {
    const zero = sessionLoss(
      { ...v4, peerGracefulRestart: grCap({ restartTime: 0 }) },
      ev({ type: 'TcpConnectionFails' }),
      [],
    );
    assert.equal(zero.eligible, false);
    const other = sessionLoss(
      { ...v4, peerGracefulRestart: grCap({ families: [{ afi: 2, safi: 1, forwardingState: true }] }) },
      ev({ type: 'TcpConnectionFails' }),
      [],
    );
    assert.equal(other.eligible, false);
    const notLocal = sessionLoss({ ...v4, gracefulRestart: false }, ev({ type: 'TcpConnectionFails' }), []);
    assert.equal(notLocal.eligible, false);
  });
});

describe('a new connection while Established (RFC 4724 §4.2 against RFC 4271 §6.8, raw peers)', () => {
  const { us, usIp, peerIp } = grHelper(6);
  const seen = watchLoss(us);
  const notifications = (r: RawPeer) => r.got.filter((m) => m.type === 'notification');

  test('from a graceful-restart peer: the old session is closed as lost (stale, no NOTIFICATION), the new one kept', async () => {
    await us.start();
    const old = await rawSession(us, usIp, peerIp, grCap());
    // The peer restarted without its old connection closing (a crash, a power cut): it calls
    // again with the Restart State bit set.
    const fresh = await rawPeer(usIp, us.port, peerIp);
    fresh.send(rawOpen(grCap({ restartState: true })));
    await old.closed;
    assert.deepEqual(notifications(old), [], 'nothing is sent on the old connection');
    await until('the loss', () => seen.downs.length === 1);
    assert.equal(seen.downs[0]?.lossCause, 'tcp-failure');
    assert.equal(seen.downs[0]?.gracefulRestartEligible, true, 'the routes are kept as stale');
    fresh.sock.write(encodeKeepalive());
    const st = await established(us, peerIp);
    assert.equal(st.remotePort, fresh.sock.localPort);
    assert.deepEqual(notifications(fresh), []);
    fresh.sock.destroy();
    await until('the second loss', () => seen.downs.length === 2);
  });

  test('from a peer without graceful restart: §6.8 keeps the Established session, the new one gets a Cease', async () => {
    const old = await rawSession(us, usIp, peerIp, null);
    const fresh = await rawPeer(usIp, us.port, peerIp);
    fresh.send(rawOpen(null));
    await fresh.closed;
    const cease = notifications(fresh)[0];
    assert.deepEqual(cease?.type === 'notification' ? [cease.code, cease.subcode] : null, [6, 7]);
    const st = peerOf(us, peerIp);
    assert.equal(st?.state, 'Established');
    assert.equal(st?.remotePort, old.sock.localPort);
    assert.equal(seen.downs.length, 2, 'the Established session was not disturbed');
    old.sock.destroy();
  });

  test('the peer restarting again before its new connection had sent an OPEN: the next call replaces that one', {
    timeout: 20_000,
  }, async () => {
    await until('the previous session gone', () => seen.downs.length === 3);
    const old = await rawSession(us, usIp, peerIp, grCap());
    // The first new connection gets our OPEN and then nothing: the peer died again.
    const first = await rawPeer(usIp, us.port, peerIp);
    await until('our OPEN on the first new connection', () => first.got.some((m) => m.type === 'open'));
    const second = await rawPeer(usIp, us.port, peerIp);
    await first.closed;
    const cease = notifications(first)[0];
    assert.deepEqual(cease?.type === 'notification' ? [cease.code, cease.subcode] : null, [6, 7]);
    await until('our OPEN on the second new connection', () => second.got.some((m) => m.type === 'open'));
    assert.equal(peerOf(us, peerIp)?.state, 'Established', 'the old session is untouched until an OPEN');
    second.send(rawOpen(grCap({ restartState: true })));
    second.sock.write(encodeKeepalive());
    await old.closed;
    const st = await until('Established on the second new connection', () => {
      const p = peerOf(us, peerIp);
      return p?.state === 'Established' && p.remotePort === second.sock.localPort ? p : undefined;
    });
    assert.equal(st.remotePort, second.sock.localPort);
    assert.equal(seen.downs[3]?.gracefulRestartEligible, true);
    second.sock.destroy();
  });
});

describe('both graceful-restart speakers dial at once (RFC 4271 §6.8, not a restart)', () => {
  test("the peer's OPEN arriving late on its own connection, after ours reached Established: that connection gets a Cease, the session stays up", {
    timeout: 20_000,
  }, async () => {
    const usIp = '127.32.8.1';
    const peerIp = '127.32.8.2';
    const listener = await rawListener(peerIp);
    const us = speaker(65000, usIp, '10.32.8.1');
    const seen = watchLoss(us);
    us.addPeer({
      key: peerIp,
      address: peerIp,
      port: listener.port,
      localAddress: usIp,
      remoteAs: 65009,
      connectRetryTime: 1,
      gracefulRestart: { restartTime: 120 },
    });
    await us.start();
    const ours = await listener.accepted;
    await until('our OPEN on our connection', () => ours.got.some((m) => m.type === 'open'));
    ours.send(rawOpen(grCap()));
    await until('OpenConfirm on our connection', () => peerOf(us, peerIp)?.state === 'OpenConfirm');
    // The peer's own attempt arrives while ours waits for its KEEPALIVE: we accept it and send our
    // OPEN on it. Its OPEN comes only after our connection is Established.
    const theirs = await rawPeer(usIp, us.port, peerIp);
    await until('our OPEN on their connection', () => theirs.got.some((m) => m.type === 'open'));
    ours.sock.write(encodeKeepalive());
    const up = await established(us, peerIp);
    assert.equal(up.remotePort, listener.port, 'our connection is the session');
    theirs.send(rawOpen(grCap()));
    await Promise.race([
      theirs.closed,
      ours.closed.then(() => {
        throw new Error('our Established connection was closed instead (taken for a restart)');
      }),
    ]);
    const cease = theirs.got.find((m) => m.type === 'notification');
    assert.deepEqual(cease?.type === 'notification' ? [cease.code, cease.subcode] : null, [6, 7]);
    assert.deepEqual(
      ours.got.filter((m) => m.type === 'notification'),
      [],
      'nothing is sent on the Established connection',
    );
    assert.equal(peerOf(us, peerIp)?.state, 'Established');
    assert.equal(peerOf(us, peerIp)?.remotePort, listener.port);
    assert.equal(seen.downs.length, 0, 'the session never left Established');
    ours.sock.destroy();
  });
});

describe('a new connection while Established, graceful restart not configured here (RFC 4271 §6.8)', () => {
  const { us, usIp, peerIp } = grHelper(7, false);

  test('the peer advertises GR, we do not: the Established session is kept, the new one gets a Cease', {
    timeout: 20_000,
  }, async () => {
    await us.start();
    const old = await rawSession(us, usIp, peerIp, grCap());
    const fresh = await rawPeer(usIp, us.port, peerIp);
    fresh.send(rawOpen(grCap({ restartState: true })));
    await fresh.closed;
    const cease = fresh.got.find((m) => m.type === 'notification');
    assert.deepEqual(cease?.type === 'notification' ? [cease.code, cease.subcode] : null, [6, 7]);
    assert.equal(peerOf(us, peerIp)?.remotePort, old.sock.localPort);
    assert.equal(peerOf(us, peerIp)?.state, 'Established');
    old.sock.destroy();
  });
});
