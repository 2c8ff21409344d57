// Speaker-to-speaker tests over loopback (127.0.0.0/8 aliases need no root on Linux).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  BgpFrameReader,
  type BgpMessage,
  type CodecOptions,
  decodeMessage,
  encodeKeepalive,
  encodeMessage,
} from '../codec/index.ts';
import { established, peerOf, speakerHarness, type TestSpeaker, until } from './testing/speaker-harness.ts';
import type { PeerConfig, SpeakerEvent } from './types.ts';

const { speaker, stopAll } = speakerHarness(30000 + (process.pid % 20000));

after(() => stopAll());

function cfg(
  address: string,
  port: number,
  localAddress: string,
  remoteAs: PeerConfig['remoteAs'],
  extra: Partial<PeerConfig> = {},
): PeerConfig {
  return {
    key: address,
    address,
    port,
    localAddress,
    remoteAs,
    families: ['ipv4-unicast', 'ipv6-unicast'],
    // These tests look at the received routes through Speaker.routes(): keep them.
    retainAdjRibIn: 'always',
    ...extra,
  };
}

/** Encodes a message a test built by hand, or throws. */
function encodeOrThrow(m: Parameters<typeof encodeMessage>[0], opts: CodecOptions): Buffer {
  const e = encodeMessage(m, opts);
  if (!e.ok) throw new Error(e.reason);
  return e.bytes;
}

/** A raw peer's OPEN (AS `asn`, 4-octet AS capability, hold time 30 s) and first KEEPALIVE. */
function sendOpen(sock: import('node:net').Socket, asn: number, bgpId: number, opts: CodecOptions): void {
  sock.write(
    encodeOrThrow(
      {
        type: 'open',
        version: 4,
        myAs: asn,
        holdTime: 30,
        bgpId,
        capabilities: [{ kind: 'four-octet-as', asn }],
      },
      opts,
    ),
  );
  sock.write(encodeKeepalive());
}

describe('Speaker over loopback', () => {
  test('two active speakers establish one session (collision resolved), exchange routes with attributes', async () => {
    const a = speaker(65001, '127.31.0.1', '10.0.0.1');
    const b = speaker(65002, '127.31.0.2', '10.0.0.2');
    a.addPeer(cfg('127.31.0.2', b.port, '127.31.0.1', 65002, { holdTime: 3 }));
    b.addPeer(cfg('127.31.0.1', a.port, '127.31.0.2', 65002 - 1, { holdTime: 9 }));
    a.setOriginated([
      {
        prefix: '192.0.2.0/24',
        communities: [(65001 << 16) | 7],
        largeCommunities: [[65001, 1, 2]],
        med: 50,
      },
      { prefix: '2001:db8:1::/48' },
    ]);
    const eor: number[] = [];
    b.adjRibInChanges.subscribe((batch) => {
      for (const e of batch.entries) if (e.kind === 'end-of-rib') eor.push(e.family);
    });
    await Promise.all([a.start(), b.start()]);
    const pa = await established(a, '127.31.0.2');
    const pb = await established(b, '127.31.0.1');
    // Hold time: the lower of 3 and 9; keepalive a third of it.
    assert.equal(pa.timers.negotiatedHoldTime, 3);
    assert.equal(pb.timers.negotiatedHoldTime, 3);
    assert.equal(pb.timers.negotiatedKeepalive, 1);
    assert.equal(pb.remoteRouterId, '10.0.0.1');
    await until('both prefixes at B', () => b.routes().length === 2);
    const routes = b.routes();
    const v4 = routes.find((r) => r.prefix === '192.0.2.0/24');
    assert.equal(v4?.nextHop, '127.31.0.1', 'next hop self for eBGP');
    assert.equal(v4?.asPath, '65001');
    assert.equal(v4?.med, 50);
    assert.deepEqual(v4?.communities, ['65001:7']);
    assert.deepEqual(v4?.largeCommunities, ['65001:1:2']);
    const v6 = routes.find((r) => r.prefix === '2001:db8:1::/48');
    // IPv4-mapped next hop over an IPv4 session (::ffff:127.31.0.1).
    assert.equal(v6?.nextHop, '::ffff:7f1f:1');
    await until('End-of-RIB for both families', () => eor.length === 2);
    assert.ok(pb.capabilities?.negotiated.includes('four-octet-as'));
    // Sessions stay up across several hold times (keepalives flow both ways).
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(peerOf(a, '127.31.0.2')?.state, 'Established');
    assert.equal(peerOf(b, '127.31.0.1')?.state, 'Established');
    assert.ok((peerOf(b, '127.31.0.1')?.counters.received.keepalive ?? 0) >= 4);
    // Incremental export: one added, one withdrawn.
    a.setOriginated([
      {
        prefix: '192.0.2.0/24',
        communities: [(65001 << 16) | 7],
        largeCommunities: [[65001, 1, 2]],
        med: 50,
      },
      { prefix: '198.51.100.0/24' },
    ]);
    await until('the originated set changes at B', () => {
      const p = b
        .routes()
        .map((r) => r.prefix)
        .sort();
      return p.join() === '192.0.2.0/24,198.51.100.0/24';
    });
  });

  test('speakers dialling each other at once keep one of the two connections (no connect-retry wait)', async () => {
    // Both dial at the same moment, so each accepts the other's connection while its own is in
    // progress. §6.8 must pick the same survivor on both sides; if each side instead dropped its
    // own attempt for the incoming one, both connections die and the session waits for the
    // ConnectRetryTimer (5 s and more).
    const pairs = Array.from({ length: 8 }, (_, i) => {
      const a = speaker(65001, `127.31.${20 + i}.1`, '10.0.0.1');
      const b = speaker(65002, `127.31.${20 + i}.2`, '10.0.0.2');
      a.addPeer(cfg(`127.31.${20 + i}.2`, b.port, `127.31.${20 + i}.1`, 65002));
      b.addPeer(cfg(`127.31.${20 + i}.1`, a.port, `127.31.${20 + i}.2`, 65001));
      const events: SpeakerEvent[] = [];
      a.events.subscribe((e) => events.push(e));
      b.events.subscribe((e) => events.push(e));
      return { a, b, i, events };
    });
    await Promise.all(pairs.flatMap(({ a, b }) => [a.start(), b.start()]));
    for (const { a, b, i, events } of pairs) {
      await established(a, `127.31.${20 + i}.2`);
      await established(b, `127.31.${20 + i}.1`);
      const lost = events.filter(
        (e) =>
          e.type === 'state' &&
          (e.reason === 'TcpConnectionFailed' || e.reason === 'ConnectRetryTimerExpired'),
      );
      assert.deepEqual(lost, [], `pair ${i}: a connection was lost on the way up`);
      assert.equal(peerOf(a, `127.31.${20 + i}.2`)?.connectRetryCounter, 0);
      assert.equal(peerOf(b, `127.31.${20 + i}.1`)?.connectRetryCounter, 0);
    }
  });

  test('shutdown sends an RFC 9003 Cease, stays down, enable brings it back; reset re-forms', async () => {
    const a = speaker(65001, '127.31.1.1', '10.0.1.1');
    const b = speaker(65002, '127.31.1.2', '10.0.1.2');
    a.addPeer(cfg('127.31.1.2', b.port, '127.31.1.1', 65002));
    b.addPeer(cfg('127.31.1.1', a.port, '127.31.1.2', 65001, { passive: true }));
    a.setOriginated([{ prefix: '192.0.2.0/24' }]);
    const events: SpeakerEvent[] = [];
    b.events.subscribe((e) => events.push(e));
    await Promise.all([a.start(), b.start()]);
    await established(b, '127.31.1.1');
    await until('route at B', () => b.routes().length === 1);
    await a.shutdownPeer('127.31.1.2', 'maintenance: moving racks');
    const down = await until('B sees the Cease', () => {
      const p = peerOf(b, '127.31.1.1');
      return p?.state !== 'Established' && p?.lastErrorReceived ? p : undefined;
    });
    assert.equal(down.lastErrorReceived?.text, 'Cease / Administrative Shutdown: maintenance: moving racks');
    assert.equal(b.routes().length, 0, 'routes withdrawn when the session went down');
    assert.ok(
      events.some(
        (e) => e.type === 'state' && e.from === 'Established' && e.reason === 'NotificationReceived',
      ),
    );
    const sa = peerOf(a, '127.31.1.2');
    assert.equal(sa?.adminDown, true);
    assert.equal(sa?.lastErrorSent?.subcode, 2);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(peerOf(a, '127.31.1.2')?.state, 'Idle', 'an administratively down peer does not restart');
    a.enablePeer('127.31.1.2');
    await established(b, '127.31.1.1');
    await a.resetPeer('127.31.1.2', 'clearing');
    await until('B sees the reset', () => peerOf(b, '127.31.1.1')?.lastErrorReceived?.subcode === 4);
    assert.equal(peerOf(b, '127.31.1.1')?.lastErrorReceived?.text, 'Cease / Administrative Reset: clearing');
    await established(a, '127.31.1.2');
  });

  test('a bad peer AS is refused with OPEN error Bad Peer AS, and retries back off', async () => {
    const a = speaker(65001, '127.31.2.1', '10.0.2.1');
    const b = speaker(65002, '127.31.2.2', '10.0.2.2');
    a.addPeer(cfg('127.31.2.2', b.port, '127.31.2.1', 65002));
    b.addPeer(cfg('127.31.2.1', a.port, '127.31.2.2', 64999, { passive: true }));
    await Promise.all([a.start(), b.start()]);
    const p = await until('A receives the OPEN error', () => peerOf(a, '127.31.2.2')?.lastErrorReceived);
    assert.equal(p.text, 'OPEN Message Error / Bad Peer AS');
    assert.equal(peerOf(b, '127.31.2.1')?.lastErrorSent?.text, 'OPEN Message Error / Bad Peer AS');
    await until(
      'the failure counter grows',
      () => (peerOf(a, '127.31.2.2')?.connectRetryCounter ?? 0) >= 2,
      8000,
    );
  });

  test('dynamic neighbours from a range, with a session limit', async () => {
    const hub = speaker(65000, '127.31.3.1', '10.0.3.1');
    hub.addPeer({ key: '127.31.3.0/24', range: '127.31.3.0/24', remoteAs: 'external', rangeLimit: 1 });
    const s1 = speaker(65011, '127.31.3.11', '10.0.3.11');
    const s2 = speaker(65012, '127.31.3.12', '10.0.3.12');
    s1.addPeer(cfg('127.31.3.1', hub.port, '127.31.3.11', 65000, { families: ['ipv4-unicast'] }));
    await hub.start();
    await s1.start();
    const dyn = await established(hub, '127.31.3.0/24#127.31.3.11');
    assert.equal(dyn.dynamic, true);
    assert.equal(dyn.remoteAs, 65011);
    s2.addPeer(cfg('127.31.3.1', hub.port, '127.31.3.12', 65000, { families: ['ipv4-unicast'] }));
    await s2.start();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(peerOf(hub, '127.31.3.0/24#127.31.3.12'), undefined, 'the second peer is over the limit');
    assert.notEqual(peerOf(s2, '127.31.3.1')?.state, 'Established');
    // An iBGP peer in an "external" range is refused at OPEN.
    await s1.shutdownPeer('127.31.3.1', 'make room');
    await until('the dynamic session is gone', () => !peerOf(hub, '127.31.3.0/24#127.31.3.11'));
    await established(hub, '127.31.3.0/24#127.31.3.12');
  });

  test('a dynamic session whose connection drops before OPEN is forgotten', async () => {
    const hub = speaker(65000, '127.31.9.1', '10.0.9.1');
    hub.addPeer({ key: 'r', range: '127.31.9.0/24', remoteAs: 'external', rangeLimit: 1 });
    await hub.start();
    const sock = connect({ host: '127.31.9.1', port: hub.port, localAddress: '127.31.9.5' });
    await until('the dynamic session in OpenSent', () => peerOf(hub, 'r#127.31.9.5')?.state === 'OpenSent');
    sock.destroy();
    await until('the session gone and the range slot free again', () => {
      const all = hub.status();
      return all.length === 1 && all[0]?.id === 'r' ? all : undefined;
    });
  });

  test('a passive peer made active starts connecting without a reset', async () => {
    const a = speaker(65001, '127.31.10.1', '10.0.10.1');
    const b = speaker(65002, '127.31.10.2', '10.0.10.2');
    const ca = cfg('127.31.10.2', b.port, '127.31.10.1', 65002, { passive: true });
    a.addPeer(ca);
    b.addPeer(cfg('127.31.10.1', a.port, '127.31.10.2', 65001, { passive: true }));
    await Promise.all([a.start(), b.start()]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(peerOf(a, '127.31.10.2')?.state, 'Active', 'two passive ends wait');
    assert.deepEqual(await a.updatePeer({ ...ca, passive: false }), { reset: false, fields: [] });
    await established(b, '127.31.10.1');
  });

  test('updatePeer resets only when the change needs it', async () => {
    const a = speaker(65001, '127.31.4.1', '10.0.4.1');
    const b = speaker(65002, '127.31.4.2', '10.0.4.2');
    const base = cfg('127.31.4.2', b.port, '127.31.4.1', 65002);
    a.addPeer(base);
    b.addPeer(cfg('127.31.4.1', a.port, '127.31.4.2', 65001, { passive: true }));
    await Promise.all([a.start(), b.start()]);
    const before = await established(b, '127.31.4.1');
    const r1 = await a.updatePeer({ ...base, description: 'rack 7', keepaliveTime: 10 });
    assert.deepEqual(r1, { reset: false, fields: [] });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(peerOf(b, '127.31.4.1')?.since, before.since, 'session untouched');
    const r2 = await a.updatePeer({ ...base, holdTime: 30 });
    assert.deepEqual(r2, { reset: true, fields: ['holdTime'] });
    await until(
      'B sees Other Configuration Change',
      () => peerOf(b, '127.31.4.1')?.lastErrorReceived?.subcode === 6,
    );
    const again = await established(b, '127.31.4.1');
    assert.equal(again.timers.negotiatedHoldTime, 30);
  });
});

describe('IPv6 transport', () => {
  test('a session over ::1 carries IPv6 routes with an IPv6 next hop self', async () => {
    const a = speaker(65001, '::1', '10.0.6.1');
    const b = speaker(65002, '::1', '10.0.6.2');
    a.addPeer({ key: '::1', address: '::1', port: b.port, remoteAs: 65002, families: ['ipv6-unicast'] });
    b.addPeer({
      key: '::1',
      address: '::1',
      port: a.port,
      remoteAs: 65001,
      families: ['ipv6-unicast'],
      passive: true,
      retainAdjRibIn: 'always',
    });
    a.setOriginated([{ prefix: '2001:db8:6::/48' }, { prefix: '192.0.2.0/24' }]);
    await Promise.all([a.start(), b.start()]);
    await established(b, '::1');
    const r = await until('the IPv6 route', () => b.routes()[0]);
    assert.deepEqual([r.prefix, r.nextHop, r.family], ['2001:db8:6::/48', '::1', 'ipv6-unicast']);
    assert.equal(b.routes().length, 1, 'IPv4 unicast was not negotiated, so it is not sent');
  });
});

describe('hold timer against a raw peer', () => {
  test('a peer that goes silent after OPEN is dropped with Hold Timer Expired after the 3 s hold time', async () => {
    const us = speaker(65000, '127.31.5.1', '10.0.5.1');
    us.addPeer({ key: '127.31.5.2', address: '127.31.5.2', remoteAs: 65005, passive: true, holdTime: 3 });
    await us.start();
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    const got: BgpMessage[] = [];
    const sock = connect({ host: '127.31.5.1', port: us.port, localAddress: '127.31.5.2' });
    const reader = new BgpFrameReader();
    sock.on('data', (c: Buffer) => {
      reader.push(c);
      for (let f = reader.next(); f; f = reader.next()) {
        const d = decodeMessage(f, opts);
        if (d.ok) got.push(d.value);
      }
    });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const open = encodeMessage(
      {
        type: 'open',
        version: 4,
        myAs: 65005,
        holdTime: 3,
        bgpId: 0x0a000502,
        capabilities: [{ kind: 'four-octet-as', asn: 65005 }],
      },
      opts,
    );
    assert.ok(open.ok);
    if (!open.ok) return;
    sock.write(open.bytes);
    sock.write(encodeKeepalive());
    const est = await established(us, '127.31.5.2');
    const t0 = Date.now();
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now())));
    const t1 = await closed;
    const n = got.find((m) => m.type === 'notification');
    assert.deepEqual(n && n.type === 'notification' ? [n.code, n.subcode] : null, [4, 0]);
    assert.ok(t1 - t0 >= 2500 && t1 - t0 <= 4500, `dropped after ${t1 - t0} ms`);
    assert.ok(got.filter((m) => m.type === 'keepalive').length >= 2, 'we kept sending keepalives');
    assert.equal(est.timers.negotiatedKeepalive, 1);
    assert.equal(peerOf(us, '127.31.5.2')?.lastErrorSent?.text, 'Hold Timer Expired / Unspecific');
  });
});

describe('connection collision (RFC 4271 §6.8) against a raw peer', () => {
  const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

  /** A raw BGP connection that records every decoded message. */
  function raw(sock: import('node:net').Socket): { got: BgpMessage[]; closed: Promise<void> } {
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
    return { got, closed: new Promise((r) => sock.once('close', () => r())) };
  }

  function openFrom(bgpId: number): Buffer {
    const o = encodeMessage(
      {
        type: 'open',
        version: 4,
        myAs: 65007,
        holdTime: 90,
        bgpId,
        capabilities: [{ kind: 'four-octet-as', asn: 65007 }],
      },
      opts,
    );
    if (!o.ok) throw new Error(o.reason);
    return o.bytes;
  }

  /** The raw peer at `peerIp` connects to the speaker at `usIp`; its socket and what it got. */
  function dial(us: TestSpeaker, usIp: string, peerIp: string) {
    const sock = connect({ host: usIp, port: us.port, localAddress: peerIp });
    return { sock, ...raw(sock) };
  }

  /** A started speaker at `usIp` with a passive neighbour at `peerIp` (AS 65007). */
  async function passiveSpeaker(usIp: string, peerIp: string): Promise<TestSpeaker> {
    const us = speaker(65000, usIp, '10.0.7.1');
    us.addPeer({ key: peerIp, address: peerIp, remoteAs: 65007, passive: true, families: ['ipv4-unicast'] });
    await us.start();
    return us;
  }

  for (const [label, remoteId, dumped] of [
    ['higher peer identifier: the connection we initiated is closed', 0x0a000709, 'outgoing'],
    ['lower peer identifier: the connection the peer initiated is closed', 0x0a000700, 'incoming'],
  ] as const) {
    test(label, async () => {
      const net = await import('node:net');
      const last = Number(label.startsWith('higher') ? 2 : 3);
      const us = speaker(65000, `127.31.7.${last * 10}`, '10.0.7.1');
      const peerAddr = `127.31.7.${last}`;
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, peerAddr, () => r()));
      const serverPort = (server.address() as import('node:net').AddressInfo).port;
      const accepted = new Promise<import('node:net').Socket>((r) => server.once('connection', r));
      us.addPeer({
        key: peerAddr,
        address: peerAddr,
        port: serverPort,
        remoteAs: 65007,
        families: ['ipv4-unicast'],
      });
      await us.start();
      // Our outgoing connection arrives at the raw peer; it stays silent on it for now.
      const outgoing = await accepted;
      const o = raw(outgoing);
      await until('our OPEN on the outgoing connection', () => o.got.some((m) => m.type === 'open'));
      // The peer connects to us too: a second connection while the first is in OpenSent.
      const incoming = net.connect({ host: `127.31.7.${last * 10}`, port: us.port, localAddress: peerAddr });
      const i = raw(incoming);
      await until('our OPEN on the incoming connection', () => i.got.some((m) => m.type === 'open'));
      // The peer's OPEN on the incoming connection triggers collision detection.
      incoming.write(openFrom(remoteId));
      const loser = dumped === 'outgoing' ? o : i;
      const winner = dumped === 'outgoing' ? i : o;
      const winnerSock = dumped === 'outgoing' ? incoming : outgoing;
      await loser.closed;
      const cease = loser.got.find((m) => m.type === 'notification');
      assert.deepEqual(cease?.type === 'notification' ? [cease.code, cease.subcode] : null, [6, 7]);
      // The surviving connection completes the session.
      if (dumped === 'incoming') winnerSock.write(openFrom(remoteId));
      winnerSock.write(encodeKeepalive());
      await until('our KEEPALIVE on the surviving connection', () =>
        winner.got.some((m) => m.type === 'keepalive'),
      );
      const st = await established(us, peerAddr);
      assert.equal(st.remotePort, dumped === 'outgoing' ? incoming.localPort : serverPort);
      incoming.destroy();
      outgoing.destroy();
      server.close();
    });
  }

  for (const [label, remoteId, last] of [
    ['lower', 0x0a000700, 6],
    ['higher', 0x0a000709, 7],
  ] as const) {
    test(`a passive peer calling twice (${label} identifier): the newer connection is kept`, async () => {
      const usIp = `127.31.7.${last * 10}`;
      const peerIp = `127.31.7.${last}`;
      const us = await passiveSpeaker(usIp, peerIp);
      // The first connection reaches OpenConfirm and then falls silent (the peer lost it).
      const f = dial(us, usIp, peerIp);
      const first = f.sock;
      first.write(openFrom(remoteId));
      await until('our KEEPALIVE on the first connection', () => f.got.some((m) => m.type === 'keepalive'));
      assert.equal(peerOf(us, peerIp)?.state, 'OpenConfirm');
      // The peer calls again: only a peer that gave up its first connection does.
      const g = dial(us, usIp, peerIp);
      const second = g.sock;
      await until('our OPEN on the second connection', () => g.got.some((m) => m.type === 'open'));
      second.write(openFrom(remoteId));
      await f.closed;
      const cease = f.got.find((m) => m.type === 'notification');
      assert.deepEqual(cease?.type === 'notification' ? [cease.code, cease.subcode] : null, [6, 7]);
      second.write(encodeKeepalive());
      const st = await established(us, peerIp);
      assert.equal(st.remotePort, second.localPort);
      assert.equal(
        g.got.find((m) => m.type === 'notification'),
        undefined,
        'no NOTIFICATION on the kept connection',
      );
      first.destroy();
      second.destroy();
    });
  }

  test('a passive peer calling twice, its OPEN on the older connection: the newer is still the one kept', {
    timeout: 20_000,
  }, async () => {
    const usIp = '127.31.7.80';
    const peerIp = '127.31.7.8';
    const us = await passiveSpeaker(usIp, peerIp);
    const f = dial(us, usIp, peerIp);
    const first = f.sock;
    await until('our OPEN on the first connection', () => f.got.some((m) => m.type === 'open'));
    const g = dial(us, usIp, peerIp);
    const second = g.sock;
    await until('our OPEN on the second connection', () => g.got.some((m) => m.type === 'open'));
    // An OPEN the peer had sent on its first connection before giving it up.
    first.write(openFrom(0x0a000700));
    await f.closed;
    const cease = f.got.find((m) => m.type === 'notification');
    assert.deepEqual(cease?.type === 'notification' ? [cease.code, cease.subcode] : null, [6, 7]);
    second.write(openFrom(0x0a000700));
    second.write(encodeKeepalive());
    const st = await established(us, peerIp);
    assert.equal(st.remotePort, second.localPort);
    first.destroy();
    second.destroy();
  });

  test('a dynamic neighbour calling twice: the newer connection replaces the older, the neighbour stays', {
    timeout: 20_000,
  }, async () => {
    const usIp = '127.31.10.1';
    const peerIp = '127.31.10.5';
    const us = speaker(65000, usIp, '10.0.7.1');
    us.addPeer({ key: 'r', range: '127.31.10.0/24', remoteAs: 'external', rangeLimit: 1 });
    await us.start();
    const f = dial(us, usIp, peerIp);
    const first = f.sock;
    first.write(openFrom(0x0a000700));
    await until('our KEEPALIVE on the first connection', () => f.got.some((m) => m.type === 'keepalive'));
    const g = dial(us, usIp, peerIp);
    const second = g.sock;
    await until('our OPEN on the second connection', () => g.got.some((m) => m.type === 'open'));
    second.write(openFrom(0x0a000700));
    await f.closed;
    second.write(encodeKeepalive());
    const st = await established(us, `r#${peerIp}`);
    assert.equal(st.remotePort, second.localPort);
    assert.equal(st.dynamic, true);
    first.destroy();
    second.destroy();
  });

  test('a collision connection that fails before its OPEN is gone: the next one is accepted', async () => {
    const net = await import('node:net');
    const us = speaker(65000, '127.31.7.50', '10.0.7.1');
    const server = net.createServer();
    const sockets: import('node:net').Socket[] = [];
    server.on('connection', (c) => sockets.push(c));
    try {
      await new Promise<void>((r) => server.listen(0, '127.31.7.5', () => r()));
      const serverPort = (server.address() as import('node:net').AddressInfo).port;
      const accepted = new Promise<import('node:net').Socket>((r) => server.once('connection', r));
      us.addPeer({ key: '127.31.7.5', address: '127.31.7.5', port: serverPort, remoteAs: 65007 });
      await us.start();
      // Our outgoing connection is up and in OpenSent; the peer stays silent on it.
      const o = raw(await accepted);
      await until('our OPEN on the outgoing connection', () => o.got.some((m) => m.type === 'open'));
      // A second connection from the peer, closed before it sends anything.
      const first = net.connect({ host: '127.31.7.50', port: us.port, localAddress: '127.31.7.5' });
      sockets.push(first);
      const f = raw(first);
      await until('our OPEN on the first incoming connection', () => f.got.some((m) => m.type === 'open'));
      first.destroy();
      await f.closed;
      // Our side sees the close within a few ms; the next connection must not be refused for it.
      await new Promise((r) => setTimeout(r, 100));
      const second = net.connect({ host: '127.31.7.50', port: us.port, localAddress: '127.31.7.5' });
      sockets.push(second);
      const g = raw(second);
      const opened = () => g.got.some((m) => m.type === 'open');
      const end = Date.now() + 5000;
      let closed = false;
      void g.closed.then(() => {
        closed = true;
      });
      while (!opened() && !closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.ok(opened(), closed ? 'the next connection was refused' : 'no OPEN on the next connection');
    } finally {
      for (const c of sockets) c.destroy();
      server.close();
    }
  });

  test('an incoming connection while ours is still in Connect runs beside it, and its OPEN makes it the session', async () => {
    const net = await import('node:net');
    const { createSocketFactory } = await import('./transport.ts');
    const real = createSocketFactory();
    // Our outgoing attempt never completes: the peer stays in Connect with a socket.
    const pending: import('node:net').Socket[] = [];
    const us = speaker(65000, '127.31.7.40', '10.0.7.1', {
      socketFactory: {
        connect: () => {
          // A socket that says it is connecting, as a real attempt does until its SYN is
          // answered: dropping it destroys it at once (Peer.dropSocket).
          const s = new net.Socket();
          Object.defineProperty(s, 'connecting', { value: true });
          pending.push(s);
          return s;
        },
        listen: (o, onConnection) => real.listen(o, onConnection),
      },
    });
    us.addPeer({ key: '127.31.7.4', address: '127.31.7.4', remoteAs: 65007, families: ['ipv4-unicast'] });
    await us.start();
    await until('our outgoing attempt', () => pending.length === 1);
    assert.equal(peerOf(us, '127.31.7.4')?.state, 'Connect');
    const incoming = net.connect({ host: '127.31.7.40', port: us.port, localAddress: '127.31.7.4' });
    const i = raw(incoming);
    await until('our OPEN on the incoming connection', () => i.got.some((m) => m.type === 'open'));
    // Until the peer's OPEN arrives, our own attempt is kept.
    assert.equal(pending[0]?.destroyed, false);
    assert.equal(peerOf(us, '127.31.7.4')?.state, 'Connect');
    incoming.write(openFrom(0x0a000704));
    incoming.write(encodeKeepalive());
    const st = await established(us, '127.31.7.4');
    assert.equal(st.remotePort, incoming.localPort);
    assert.equal(pending[0]?.destroyed, true, 'our own attempt dropped');
    assert.equal(pending.length, 1, 'no second attempt');
    assert.equal(
      i.got.find((m) => m.type === 'notification'),
      undefined,
      'no NOTIFICATION on the kept connection',
    );
    incoming.destroy();
  });
});

describe('read moderation against a raw peer (read-moderation.ts)', () => {
  test('a long stream of one-prefix UPDATEs is moderated, then read in full; the session stays up', async () => {
    const { MODERATE_AFTER, MODERATE_WINDOW, TRIAL_WINDOWS } = await import('./read-moderation.ts');
    const { asPathFromSequence, prefixListFromStrings, emptyPrefixList } = await import('../codec/index.ts');
    const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
    const us = speaker(65000, '127.31.9.1', '10.0.9.1');
    us.addPeer({ key: '127.31.9.2', address: '127.31.9.2', remoteAs: 65009, passive: true, holdTime: 30 });
    await us.start();
    const sock = connect({ host: '127.31.9.1', port: us.port, localAddress: '127.31.9.2' });
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const enc = (m: Parameters<typeof encodeMessage>[0]): Buffer => encodeOrThrow(m, opts);
    sendOpen(sock, 65009, 0x0a000902, opts);
    await established(us, '127.31.9.2');
    // One /24 per UPDATE, one attribute set: the sender cannot pack more, as a fixed stream.
    const template = enc({
      type: 'update',
      withdrawn: emptyPrefixList(1),
      attributes: { origin: 0, asPath: asPathFromSequence([65009]), nextHop: 0x7f1f0902 },
      nlri: prefixListFromStrings(1, ['10.0.0.0/24']),
      treatAsWithdraw: false,
      errors: [],
    });
    const n = Math.ceil((MODERATE_AFTER + (TRIAL_WINDOWS + 2) * MODERATE_WINDOW) / template.length);
    const stream = Buffer.alloc(n * template.length);
    for (let i = 0; i < n; i++) {
      const at = i * template.length;
      template.copy(stream, at);
      // The NLRI is the last 4 octets: length 24, then 10 + i's three octets.
      stream[at + template.length - 3] = 10 + (i >> 16);
      stream[at + template.length - 2] = (i >> 8) & 255;
      stream[at + template.length - 1] = i & 255;
    }
    sock.write(stream);
    const done = await until(
      `all ${n} prefixes`,
      () => {
        const p = peerOf(us, '127.31.9.2');
        return p && p.prefixesReceived === n ? p : undefined;
      },
      30_000,
    );
    assert.equal(done.state, 'Established');
    assert.ok(done.inputModerations > 0, 'reads were moderated during the trial');
    assert.equal(done.inputPaused, false, 'reading resumed');
    sock.destroy();
  });
});

describe('UPDATE errors from a raw peer (RFC 7606)', () => {
  const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

  test('treat-as-withdraw keeps the session; a session-reset error sends the NOTIFICATION', async () => {
    const us = speaker(65000, '127.31.8.1', '10.0.8.1');
    us.addPeer({ key: '127.31.8.2', address: '127.31.8.2', remoteAs: 65008, passive: true, holdTime: 30 });
    await us.start();
    const got: BgpMessage[] = [];
    const sock = connect({ host: '127.31.8.1', port: us.port, localAddress: '127.31.8.2' });
    const reader = new BgpFrameReader();
    sock.on('data', (c: Buffer) => {
      reader.push(c);
      for (let f = reader.next(); f; f = reader.next()) {
        const d = decodeMessage(f, opts);
        if (d.ok) got.push(d.value);
      }
    });
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const enc = (m: Parameters<typeof encodeMessage>[0]): Buffer => encodeOrThrow(m, opts);
    sendOpen(sock, 65008, 0x0a000802, opts);
    await established(us, '127.31.8.2');
    const { asPathFromSequence, prefixListFromStrings, emptyPrefixList } = await import('../codec/index.ts');
    const update = enc({
      type: 'update',
      withdrawn: emptyPrefixList(1),
      attributes: { origin: 0, asPath: asPathFromSequence([65008]), nextHop: 0x7f1f0802 },
      nlri: prefixListFromStrings(1, ['203.0.113.0/24', '198.51.100.0/24']),
      treatAsWithdraw: false,
      errors: [],
    });
    sock.write(update);
    await until('two routes', () => us.routes().length === 2);
    // The same UPDATE with ORIGIN 7: RFC 7606 §7.1 treat-as-withdraw.
    const bad = Buffer.from(update);
    const at = bad.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
    bad[at + 3] = 7;
    sock.write(bad);
    await until('the routes withdrawn', () => us.routes().length === 0);
    assert.equal(
      peerOf(us, '127.31.8.2')?.state,
      'Established',
      'treat-as-withdraw does not reset the session',
    );
    // NLRI with a prefix length of 33: RFC 7606 §5.3 session reset, UPDATE Message Error.
    const reset = Buffer.from(update);
    reset[reset.length - 4] = 33;
    sock.write(reset);
    await closed;
    const n = got.find((m) => m.type === 'notification');
    assert.equal(n?.type === 'notification' ? n.code : null, 3);
    assert.match(peerOf(us, '127.31.8.2')?.lastErrorSent?.text ?? '', /^UPDATE Message Error/);
  });

  test('bad peer configurations are refused with a clear error', () => {
    const s = speaker(65000, '127.31.8.9', '10.0.8.9');
    assert.throws(
      () => s.addPeer({ key: 'x', address: '192.0.2.1', remoteAs: 65001, holdTime: 2 }),
      /hold time 2 must be 0 or 3\.\.65535/,
    );
    assert.throws(() => s.addPeer({ key: 'y', range: 'nonsense', remoteAs: 65001 }), /not ADDRESS\/LENGTH/);
    assert.throws(() => s.addPeer({ key: 'z', address: '192.0.2.1', remoteAs: 0 }), /remote AS 0/);
  });
});

describe('DelayOpen (RFC 4271 §8.1.1) against a raw peer', () => {
  const opts: CodecOptions = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };

  async function rawSession(us: TestSpeaker, local: string, sendOpenAt: number | null) {
    const got: { m: BgpMessage; t: number }[] = [];
    const sock = connect({ host: '127.31.11.1', port: us.port, localAddress: local });
    const reader = new BgpFrameReader();
    sock.on('data', (c: Buffer) => {
      reader.push(c);
      for (let f = reader.next(); f; f = reader.next()) {
        const d = decodeMessage(f, opts);
        if (d.ok) got.push({ m: d.value, t: Date.now() });
      }
    });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const t0 = Date.now();
    if (sendOpenAt !== null) {
      const o = encodeMessage(
        {
          type: 'open',
          version: 4,
          myAs: 65011,
          holdTime: 30,
          bgpId: 0x0a000b09,
          capabilities: [{ kind: 'four-octet-as', asn: 65011 }],
        },
        opts,
      );
      if (!o.ok) throw new Error(o.reason);
      setTimeout(() => sock.write(o.bytes), sendOpenAt);
    }
    return { got, t0, sock };
  }

  test('without an OPEN from the peer ours waits DelayOpenTime; with one we answer OPEN + KEEPALIVE at once', async () => {
    const us = speaker(65000, '127.31.11.1', '10.0.11.1');
    for (const a of ['127.31.11.2', '127.31.11.3']) {
      us.addPeer({ key: a, address: a, remoteAs: 65011, passive: true, delayOpenTime: 2 });
    }
    await us.start();
    const silent = await rawSession(us, '127.31.11.2', null);
    const open1 = await until('our delayed OPEN', () => silent.got.find((g) => g.m.type === 'open'), 6000);
    assert.ok(open1.t - silent.t0 >= 1900, `OPEN after ${open1.t - silent.t0} ms`);
    const eager = await rawSession(us, '127.31.11.3', 100);
    const open2 = await until('our OPEN in answer', () => eager.got.find((g) => g.m.type === 'open'), 3000);
    assert.ok(open2.t - eager.t0 < 1500, `OPEN after ${open2.t - eager.t0} ms`);
    await until('KEEPALIVE right after it (Event 20: straight to OpenConfirm)', () =>
      eager.got.some((g) => g.m.type === 'keepalive'),
    );
    assert.equal(peerOf(us, '127.31.11.3')?.state, 'OpenConfirm');
    silent.sock.destroy();
    eager.sock.destroy();
  });
});
