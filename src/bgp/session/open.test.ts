import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AS_TRANS,
  type Capability,
  DEFAULT_CODEC_OPTIONS,
  decodeMessage,
  encodeMessage,
  Family,
  type OpenMessage,
} from '../codec/index.ts';
import { buildOpen, type LocalOpenConfig, validateOpen } from './open.ts';

const local: LocalOpenConfig = {
  localAs: 65000,
  routerId: 0x0a000001,
  holdTime: 90,
  families: [Family.IPv4Unicast, Family.IPv6Unicast],
};

function open(over: Partial<OpenMessage> = {}, caps?: Capability[]): OpenMessage {
  return {
    type: 'open',
    version: 4,
    myAs: 65001,
    holdTime: 180,
    bgpId: 0x0a000002,
    capabilities: caps ?? [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'multiprotocol', afi: 2, safi: 1 },
      { kind: 'route-refresh' },
      { kind: 'four-octet-as', asn: 65001 },
    ],
    ...over,
  };
}

function refused(r: ReturnType<typeof validateOpen>): {
  code: number;
  subcode: number;
  data: number[];
  reason: string;
} {
  assert.equal(r.ok, false);
  if (r.ok) throw new Error('unreachable');
  return {
    code: r.notification.code,
    subcode: r.notification.subcode,
    data: [...r.notification.data],
    reason: r.reason,
  };
}

describe('OPEN validation (RFC 4271 §6.2, RFC 6793, RFC 6286, RFC 5492)', () => {
  test('a good OPEN negotiates the lower hold time, both families, 4-octet AS, route refresh', () => {
    const r = validateOpen(open(), local, { remoteAs: 65001 });
    assert.ok(r.ok);
    const n = r.negotiated;
    assert.equal(n.peerAs, 65001);
    assert.equal(n.holdTime, 90);
    assert.equal(n.keepaliveTime, 30);
    assert.equal(n.internal, false);
    assert.deepEqual(n.families, [Family.IPv4Unicast, Family.IPv6Unicast]);
    assert.equal(n.fourOctetAs, true);
    assert.equal(n.routeRefresh, true);
    assert.equal(n.extendedMessage, false);
    assert.deepEqual(n.receiveOptions, { fourOctetAs: true, extendedMessage: false, addPath: new Set() });
  });

  test('version other than 4: Unsupported Version Number, data = 4', () => {
    assert.deepEqual(refused(validateOpen(open({ version: 3 }), local, { remoteAs: 65001 })).data, [0, 4]);
    assert.equal(refused(validateOpen(open({ version: 5 }), local, { remoteAs: 65001 })).subcode, 1);
  });

  test('wrong peer AS: Bad Peer AS (2/2)', () => {
    const e = refused(validateOpen(open(), local, { remoteAs: 65002 }));
    assert.deepEqual([e.code, e.subcode], [2, 2]);
    assert.match(e.reason, /65001.*65002/);
  });

  test('4-octet ASN: the capability carries it and My AS is AS_TRANS', () => {
    const caps: Capability[] = [{ kind: 'four-octet-as', asn: 4200000001 }];
    const r = validateOpen(open({ myAs: AS_TRANS }, caps), local, { remoteAs: 4200000001 });
    assert.ok(r.ok);
    assert.equal(r.negotiated.peerAs, 4200000001);
  });

  test('a 2-octet-only peer: AS from My AS, no 4-octet encoding', () => {
    const r = validateOpen(open({}, [{ kind: 'multiprotocol', afi: 1, safi: 1 }]), local, {
      remoteAs: 65001,
    });
    assert.ok(r.ok);
    assert.equal(r.negotiated.fourOctetAs, false);
    assert.equal(r.negotiated.sendOptions.fourOctetAs, false);
  });

  test('AS_TRANS without the capability is a Bad Peer AS', () => {
    const e = refused(validateOpen(open({ myAs: AS_TRANS }, []), local, { remoteAs: AS_TRANS }));
    assert.deepEqual([e.code, e.subcode], [2, 2]);
  });

  test('peer AS predicate (dynamic neighbours, "external")', () => {
    assert.ok(validateOpen(open(), local, { remoteAs: (a) => a !== 65000 }).ok);
    assert.equal(refused(validateOpen(open(), local, { remoteAs: (a) => a === 1 })).subcode, 2);
  });

  test('hold time 1 and 2 are refused (2/6); 0 and 3 are accepted', () => {
    for (const h of [1, 2])
      assert.equal(refused(validateOpen(open({ holdTime: h }), local, { remoteAs: 65001 })).subcode, 6);
    const zero = validateOpen(open({ holdTime: 0 }), local, { remoteAs: 65001 });
    assert.ok(zero.ok);
    assert.equal(zero.negotiated.holdTime, 0);
    assert.equal(zero.negotiated.keepaliveTime, 0);
    const three = validateOpen(open({ holdTime: 3 }), local, { remoteAs: 65001 });
    assert.ok(three.ok);
    assert.equal(three.negotiated.holdTime, 3);
    assert.equal(three.negotiated.keepaliveTime, 1);
  });

  test('BGP Identifier 0 is refused; our own identifier only from an iBGP peer (RFC 6286)', () => {
    assert.equal(refused(validateOpen(open({ bgpId: 0 }), local, { remoteAs: 65001 })).subcode, 3);
    const ibgp = open({ myAs: 65000, bgpId: local.routerId }, [{ kind: 'four-octet-as', asn: 65000 }]);
    assert.equal(refused(validateOpen(ibgp, local, { remoteAs: 65000 })).subcode, 3);
    const ebgp = open({ bgpId: local.routerId });
    assert.ok(validateOpen(ebgp, local, { remoteAs: 65001 }).ok);
  });

  test('unknown capabilities are ignored (RFC 5492 §3)', () => {
    const caps: Capability[] = [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'unknown', code: 200, data: new Uint8Array([1, 2, 3]) },
    ];
    assert.ok(validateOpen(open({}, caps), local, { remoteAs: 65001 }).ok);
  });

  test('a required capability missing: Unsupported Capability (2/7) naming it', () => {
    const cfg: LocalOpenConfig = { ...local, requiredCapabilities: ['extended-message', 'route-refresh'] };
    const e = refused(validateOpen(open(), cfg, { remoteAs: 65001 }));
    assert.deepEqual([e.code, e.subcode], [2, 7]);
    assert.deepEqual(e.data, [6, 0]);
    assert.match(e.reason, /extended-message/);
  });

  test('no family in common: Unsupported Capability listing our families', () => {
    const cfg: LocalOpenConfig = { ...local, families: [Family.IPv6Unicast] };
    const e = refused(
      validateOpen(open({}, [{ kind: 'multiprotocol', afi: 1, safi: 1 }]), cfg, { remoteAs: 65001 }),
    );
    assert.deepEqual([e.code, e.subcode], [2, 7]);
    assert.deepEqual(e.data, [1, 4, 0, 2, 0, 1]);
  });

  test('no multiprotocol capability implies IPv4 unicast only (RFC 4760 §8)', () => {
    const r = validateOpen(open({}, []), local, { remoteAs: 65001 });
    assert.ok(r.ok);
    assert.deepEqual(r.negotiated.families, [Family.IPv4Unicast]);
  });

  test('ADD-PATH per family and direction (RFC 7911 §4)', () => {
    const cfg: LocalOpenConfig = {
      ...local,
      addPath: new Map([
        [Family.IPv4Unicast, 'both'],
        [Family.IPv6Unicast, 'receive'],
      ]),
    };
    const caps: Capability[] = [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'multiprotocol', afi: 2, safi: 1 },
      {
        kind: 'add-path',
        families: [
          { afi: 1, safi: 1, mode: 2 }, // peer sends only
          { afi: 2, safi: 1, mode: 1 }, // peer receives only
        ],
      },
    ];
    const r = validateOpen(open({}, caps), cfg, { remoteAs: 65001 });
    assert.ok(r.ok);
    assert.deepEqual([...r.negotiated.addPathReceive], [Family.IPv4Unicast]);
    assert.deepEqual([...r.negotiated.addPathSend], []);
    assert.deepEqual([...r.negotiated.receiveOptions.addPath], [Family.IPv4Unicast]);
  });

  test('extended message and enhanced route refresh need both sides', () => {
    const caps: Capability[] = [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'extended-message' },
      { kind: 'enhanced-route-refresh' },
    ];
    const off = validateOpen(open({}, caps), local, { remoteAs: 65001 });
    assert.ok(off.ok);
    assert.equal(off.negotiated.extendedMessage, false);
    assert.equal(off.negotiated.enhancedRouteRefresh, false);
    const on = validateOpen(
      open({}, caps),
      { ...local, extendedMessage: true, enhancedRouteRefresh: true },
      { remoteAs: 65001 },
    );
    assert.ok(on.ok);
    assert.equal(on.negotiated.extendedMessage, true);
    assert.equal(on.negotiated.enhancedRouteRefresh, true);
  });

  test('graceful restart capability of the peer is recorded', () => {
    const gr: Capability = {
      kind: 'graceful-restart',
      restartState: true,
      notification: false,
      restartTime: 120,
      families: [],
    };
    const r = validateOpen(open({}, [{ kind: 'multiprotocol', afi: 1, safi: 1 }, gr]), local, {
      remoteAs: 65001,
    });
    assert.ok(r.ok);
    assert.deepEqual(r.negotiated.peerGracefulRestart, gr);
  });
});

describe('our OPEN', () => {
  test('a 4-octet local AS goes in the capability with AS_TRANS in My AS, and round-trips', () => {
    const o = buildOpen({
      ...local,
      localAs: 4200000000,
      holdTime: 3,
      extendedMessage: true,
      gracefulRestart: { restartTime: 120 },
    });
    assert.equal(o.myAs, AS_TRANS);
    const e = encodeMessage(o, DEFAULT_CODEC_OPTIONS);
    assert.ok(e.ok);
    if (!e.ok) return;
    const d = decodeMessage(e.bytes, DEFAULT_CODEC_OPTIONS);
    assert.ok(d.ok && d.value.type === 'open');
    if (!d.ok || d.value.type !== 'open') return;
    const kinds = d.value.capabilities.map((c) => c.kind);
    assert.deepEqual(kinds, [
      'multiprotocol',
      'multiprotocol',
      'route-refresh',
      'extended-message',
      'four-octet-as',
      'graceful-restart',
    ]);
    // And it validates against a peer configured with our AS.
    const back = validateOpen(d.value, { ...local, localAs: 65001, routerId: 9 }, { remoteAs: 4200000000 });
    assert.ok(back.ok);
  });
});

describe('graceful restart capability (RFC 4724 §3, RFC 8538 §2)', () => {
  function decodedGr(cfg: LocalOpenConfig): Extract<Capability, { kind: 'graceful-restart' }> {
    const e = encodeMessage(buildOpen(cfg), DEFAULT_CODEC_OPTIONS);
    assert.ok(e.ok);
    if (!e.ok) throw new Error('encode failed');
    const d = decodeMessage(e.bytes, DEFAULT_CODEC_OPTIONS);
    if (!d.ok || d.value.type !== 'open') throw new Error('decode failed');
    const gr = d.value.capabilities.find(
      (c): c is Extract<Capability, { kind: 'graceful-restart' }> => c.kind === 'graceful-restart',
    );
    if (!gr) throw new Error('no graceful-restart capability');
    return gr;
  }

  test('every family is listed with F = forwardingPreserved, N on by default, R off', () => {
    const gr = decodedGr({ ...local, gracefulRestart: { restartTime: 120, forwardingPreserved: true } });
    assert.deepEqual(gr, {
      kind: 'graceful-restart',
      restartState: false,
      notification: true,
      restartTime: 120,
      families: [
        { afi: 1, safi: 1, forwardingState: true },
        { afi: 2, safi: 1, forwardingState: true },
      ],
    });
  });

  test('the exact bytes: flags/time word then AFI, SAFI, flags per family', () => {
    const o = buildOpen({
      ...local,
      families: [Family.IPv4Unicast],
      gracefulRestart: { restartTime: 300, restarting: true, notification: true, forwardingPreserved: true },
    });
    const e = encodeMessage(o, DEFAULT_CODEC_OPTIONS);
    assert.ok(e.ok);
    if (!e.ok) return;
    const hex = Buffer.from(e.bytes).toString('hex');
    // code 64, length 6; 0xC000 | 300 = 0xC12C; AFI 1, SAFI 1, F bit 0x80.
    assert.ok(hex.includes('4006c12c00010180'), hex);
    const off = decodedGr({
      ...local,
      families: [Family.IPv4Unicast],
      gracefulRestart: { restartTime: 300, notification: false },
    });
    assert.equal(off.notification, false);
    assert.deepEqual(off.families, [{ afi: 1, safi: 1, forwardingState: false }]);
    // Restart Time is 12 bits.
    assert.equal(decodedGr({ ...local, gracefulRestart: { restartTime: 100000 } }).restartTime, 4095);
  });

  test('N is negotiated only when both sides sent it, and only with our capability', () => {
    const peerGr = (notification: boolean): Capability => ({
      kind: 'graceful-restart',
      restartState: false,
      notification,
      restartTime: 90,
      families: [{ afi: 1, safi: 1, forwardingState: true }],
    });
    const caps = (n: boolean): Capability[] => [{ kind: 'multiprotocol', afi: 1, safi: 1 }, peerGr(n)];
    const withGr: LocalOpenConfig = { ...local, gracefulRestart: { restartTime: 120 } };
    const both = validateOpen(open({}, caps(true)), withGr, { remoteAs: 65001 });
    assert.ok(both.ok);
    assert.equal(both.negotiated.gracefulRestart, true);
    assert.equal(both.negotiated.gracefulRestartNotification, true);
    const peerNoN = validateOpen(open({}, caps(false)), withGr, { remoteAs: 65001 });
    assert.ok(peerNoN.ok);
    assert.equal(peerNoN.negotiated.gracefulRestartNotification, false);
    const weNoN = validateOpen(
      open({}, caps(true)),
      { ...local, gracefulRestart: { restartTime: 120, notification: false } },
      { remoteAs: 65001 },
    );
    assert.ok(weNoN.ok);
    assert.equal(weNoN.negotiated.gracefulRestartNotification, false);
    const noLocal = validateOpen(open({}, caps(true)), local, { remoteAs: 65001 });
    assert.ok(noLocal.ok);
    assert.equal(noLocal.negotiated.gracefulRestart, false);
    assert.equal(noLocal.negotiated.gracefulRestartNotification, false);
    assert.ok(noLocal.negotiated.peerGracefulRestart, 'the peer capability is still recorded');
  });
});

describe('graceful restart, helper only', () => {
  test('helperOnly lists no family (RFC 4724 §3), whatever forwardingPreserved says', () => {
    const o = buildOpen({
      ...local,
      gracefulRestart: { restartTime: 90, helperOnly: true, forwardingPreserved: true },
    });
    const e = encodeMessage(o, DEFAULT_CODEC_OPTIONS);
    assert.ok(e.ok);
    if (!e.ok) return;
    const d = decodeMessage(e.bytes, DEFAULT_CODEC_OPTIONS);
    assert.ok(d.ok && d.value.type === 'open');
    if (!d.ok || d.value.type !== 'open') return;
    const gr = d.value.capabilities.find((c) => c.kind === 'graceful-restart');
    assert.deepEqual(gr, {
      kind: 'graceful-restart',
      restartState: false,
      notification: true,
      restartTime: 90,
      families: [],
    });
  });
});
