import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveCollision } from './collision.ts';
import {
  backoffSeconds,
  connectRetrySeconds,
  defaultFsmConfig,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmEventType,
  FsmEventTypes,
  type FsmSnapshot,
  type FsmState,
  FsmStates,
  idleHoldSeconds,
  initialSnapshot,
  jitter,
  transition,
} from './fsm.ts';
import { Peer } from './peer.ts';

const someNotif = { code: 3, subcode: 1 };

function ev(t: FsmEventType): FsmEvent {
  switch (t) {
    case 'BGPOpen':
      return { type: t, holdTime: 90 };
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
    case 'NotifMsgVerErr':
    case 'NotifMsg':
    case 'UpdateMsgErr':
      return { type: t, notification: someNotif };
    case 'ManualStop':
    case 'AutomaticStop':
      return { type: t };
    default:
      return { type: t } as FsmEvent;
  }
}

function snap(state: FsmState, extra: Partial<FsmSnapshot> = {}): FsmSnapshot {
  return { ...initialSnapshot, state, holdTime: 90, keepaliveTime: 30, connectRetryCounter: 2, ...extra };
}

function notifOf(actions: readonly FsmAction[]): string {
  const n = actions.find((a) => a.type === 'SendNotification');
  return n?.type === 'SendNotification' ? `!${n.notification.code}/${n.notification.subcode}` : '';
}

function has(actions: readonly FsmAction[], type: FsmAction['type']): boolean {
  return actions.some((a) => a.type === type);
}

// The full RFC 4271 §8.2.2 transition table for an active (non-passive) peer without DelayOpen:
// next state, and "!code/subcode" when a NOTIFICATION is sent. Order follows FsmEventTypes.
const expected: Record<FsmState, string> = {
  Idle: 'Connect Active Connect Active Idle Idle Idle Idle Idle Idle Connect Idle Idle Idle Idle Idle Idle Idle Idle Idle Idle Idle Idle',
  Connect:
    'Connect Connect Connect Connect Idle Idle Connect Idle Idle Connect Connect OpenSent OpenSent Active Idle Idle!3/1 Idle!3/1 Idle Idle Idle Idle Idle Idle',
  Active:
    'Active Active Active Active Idle Idle Connect Idle Idle Active Active OpenSent OpenSent Idle Idle Idle!3/1 Idle!3/1 Idle Idle Idle Idle Idle Idle',
  OpenSent:
    'OpenSent OpenSent OpenSent OpenSent Idle!6/2 Idle!6/0 Idle!5/1 Idle!4/0 Idle!5/1 Idle!5/1 OpenSent OpenSent OpenSent Active OpenConfirm Idle!3/1 Idle!3/1 Idle!6/7 Idle Idle Idle!5/1 Idle!5/1 Idle!5/1',
  OpenConfirm:
    'OpenConfirm OpenConfirm OpenConfirm OpenConfirm Idle!6/2 Idle!6/0 Idle!5/2 Idle!4/0 OpenConfirm Idle!5/2 OpenConfirm OpenConfirm OpenConfirm Idle OpenConfirm!5/2 Idle!3/1 Idle!3/1 Idle!6/7 Idle Idle Established Idle!5/2 Idle!5/2',
  Established:
    'Established Established Established Established Idle!6/2 Idle!6/0 Idle!5/3 Idle!4/0 Established Idle!5/3 Established Established Established Idle Idle!5/3 Idle!3/1 Idle!5/3 Idle!6/7 Idle Idle Established Established Idle!3/1',
};
// A second OPEN on a connection already in OpenConfirm is an FSM error that ends in Idle.
expected.OpenConfirm = expected.OpenConfirm.replace('OpenConfirm!5/2', 'Idle!5/2');

describe('FSM transition table (RFC 4271 §8.2.2)', () => {
  for (const state of FsmStates) {
    test(`every event in ${state}`, () => {
      const want = expected[state].split(' ');
      assert.equal(want.length, FsmEventTypes.length);
      FsmEventTypes.forEach((t, i) => {
        const r = transition(snap(state), ev(t), defaultFsmConfig);
        assert.equal(`${r.snapshot.state}${notifOf(r.actions)}`, want[i], `${state} + ${t}`);
      });
    });
  }

  test('every transition to Idle stops all timers, releases resources and drops TCP', () => {
    for (const state of FsmStates) {
      if (state === 'Idle') continue;
      for (const t of FsmEventTypes) {
        const r = transition(snap(state), ev(t), defaultFsmConfig);
        if (r.snapshot.state !== 'Idle') continue;
        for (const a of [
          'StopConnectRetryTimer',
          'StopHoldTimer',
          'StopKeepaliveTimer',
          'ReleaseResources',
          'DropTcp',
        ] as const) {
          assert.ok(has(r.actions, a), `${state} + ${t} lacks ${a}`);
        }
        assert.ok(r.reason, `${state} + ${t} has no reason`);
        // A NOTIFICATION, when sent, goes out before the connection is dropped.
        const ni = r.actions.findIndex((a) => a.type === 'SendNotification');
        const di = r.actions.findIndex((a) => a.type === 'DropTcp');
        if (ni >= 0) assert.ok(ni < di);
      }
    }
  });

  test('stops do not schedule a restart, failures do with back-off', () => {
    const stop = transition(snap('Established'), { type: 'ManualStop' }, defaultFsmConfig);
    assert.equal(has(stop.actions, 'StartIdleHoldTimer'), false);
    assert.equal(stop.snapshot.connectRetryCounter, 0);
    assert.equal(stop.reason, 'ManualStop');
    const auto = transition(snap('Established'), { type: 'AutomaticStop' }, defaultFsmConfig);
    assert.equal(has(auto.actions, 'StartIdleHoldTimer'), false);
    const fail = transition(
      snap('Established', { connectRetryCounter: 3 }),
      ev('HoldTimer_Expires'),
      defaultFsmConfig,
    );
    assert.equal(fail.snapshot.connectRetryCounter, 4);
    assert.deepEqual(
      fail.actions.find((a) => a.type === 'StartIdleHoldTimer'),
      { type: 'StartIdleHoldTimer', seconds: idleHoldSeconds(defaultFsmConfig, 4) },
    );
    assert.equal(fail.reason, 'HoldTimerExpired');
  });

  test('NotifMsgVerErr in OpenSent does not count as a failure (§8.2.2)', () => {
    const r = transition(snap('OpenSent'), ev('NotifMsgVerErr'), defaultFsmConfig);
    assert.equal(r.snapshot.connectRetryCounter, 2);
    assert.equal(r.reason, 'UnsupportedVersionNotificationReceived');
  });

  test('ManualStop carries the RFC 9003 Cease it was given', () => {
    const data = new Uint8Array([3, 0x62, 0x79, 0x65]);
    const r = transition(
      snap('Established'),
      { type: 'ManualStop', notification: { code: 6, subcode: 4, data } },
      defaultFsmConfig,
    );
    const n = r.actions.find((a) => a.type === 'SendNotification');
    assert.deepEqual(n, {
      type: 'SendNotification',
      notification: { code: 6, subcode: 4, data },
      reason: 'ManualStop',
    });
  });

  test('ManualStop in Idle cancels a pending automatic restart and clears the counter', () => {
    const r = transition(snap('Idle', { connectRetryCounter: 5 }), { type: 'ManualStop' }, defaultFsmConfig);
    assert.deepEqual(r.actions, [{ type: 'StopIdleHoldTimer' }]);
    assert.equal(r.snapshot.connectRetryCounter, 0);
  });
});

describe('FSM starts and connections', () => {
  test('ManualStart: Connect, ConnectRetryTimer, InitiateTcp, counter cleared', () => {
    const r = transition(snap('Idle', { connectRetryCounter: 4 }), { type: 'ManualStart' }, defaultFsmConfig);
    assert.equal(r.snapshot.state, 'Connect');
    assert.equal(r.snapshot.connectRetryCounter, 0);
    assert.ok(has(r.actions, 'InitiateTcp'));
    assert.deepEqual(
      r.actions.find((a) => a.type === 'StartConnectRetryTimer'),
      { type: 'StartConnectRetryTimer', seconds: defaultFsmConfig.connectRetryTime },
    );
    assert.equal(r.reason, 'ManualStart');
  });

  test('IdleHoldTimer_Expires restarts automatically and keeps the counter (back-off grows)', () => {
    const r = transition(
      snap('Idle', { connectRetryCounter: 4 }),
      ev('IdleHoldTimer_Expires'),
      defaultFsmConfig,
    );
    assert.equal(r.snapshot.state, 'Connect');
    assert.equal(r.snapshot.connectRetryCounter, 4);
    assert.deepEqual(
      r.actions.find((a) => a.type === 'StartConnectRetryTimer'),
      { type: 'StartConnectRetryTimer', seconds: connectRetrySeconds(defaultFsmConfig, 4) },
    );
  });

  test('a passive peer goes to Active and never initiates TCP', () => {
    const cfg: FsmConfig = { ...defaultFsmConfig, passive: true };
    const r = transition(snap('Idle'), { type: 'ManualStart' }, cfg);
    assert.equal(r.snapshot.state, 'Active');
    assert.equal(has(r.actions, 'InitiateTcp'), false);
    assert.equal(has(r.actions, 'StartConnectRetryTimer'), false);
    const again = transition(r.snapshot, ev('ConnectRetryTimer_Expires'), cfg);
    assert.equal(again.snapshot.state, 'Active');
    assert.equal(again.actions.length, 0);
    const conn = transition(r.snapshot, ev('TcpConnectionConfirmed'), cfg);
    assert.equal(conn.snapshot.state, 'OpenSent');
    // A dropped connection in OpenSent falls back to Active without starting to connect.
    const lost = transition(conn.snapshot, ev('TcpConnectionFails'), cfg);
    assert.equal(lost.snapshot.state, 'Active');
    assert.equal(has(lost.actions, 'StartConnectRetryTimer'), false);
  });

  test('the PassiveTcpEstablishment start events listen first but connect later', () => {
    const r = transition(
      snap('Idle'),
      { type: 'AutomaticStart_with_PassiveTcpEstablishment' },
      defaultFsmConfig,
    );
    assert.equal(r.snapshot.state, 'Active');
    assert.ok(has(r.actions, 'StartConnectRetryTimer'));
    const c = transition(r.snapshot, ev('ConnectRetryTimer_Expires'), defaultFsmConfig);
    assert.equal(c.snapshot.state, 'Connect');
    assert.ok(has(c.actions, 'InitiateTcp'));
  });

  test('connection up without DelayOpen: OPEN sent, hold timer set to the large value', () => {
    const r = transition(snap('Connect'), ev('Tcp_CR_Acked'), defaultFsmConfig);
    assert.equal(r.snapshot.state, 'OpenSent');
    assert.ok(has(r.actions, 'SendOpen'));
    assert.ok(has(r.actions, 'StopConnectRetryTimer'));
    assert.deepEqual(
      r.actions.find((a) => a.type === 'StartHoldTimer'),
      { type: 'StartHoldTimer', seconds: 240 },
    );
  });

  test('ConnectRetryTimer_Expires in Connect drops and retries', () => {
    const r = transition(snap('Connect'), ev('ConnectRetryTimer_Expires'), defaultFsmConfig);
    assert.deepEqual(
      r.actions.map((a) => a.type),
      ['DropTcp', 'StopDelayOpenTimer', 'StartConnectRetryTimer', 'InitiateTcp'],
    );
  });
});

describe('DelayOpen (§8.1.1, §8.2.2)', () => {
  const cfg: FsmConfig = { ...defaultFsmConfig, delayOpen: true, delayOpenTime: 7 };

  test('connection up starts DelayOpenTimer instead of sending OPEN', () => {
    for (const st of ['Connect', 'Active'] as const) {
      const r = transition(snap(st), ev('TcpConnectionConfirmed'), cfg);
      assert.equal(r.snapshot.state, st);
      assert.equal(r.snapshot.delayOpenRunning, true);
      assert.equal(has(r.actions, 'SendOpen'), false);
      assert.deepEqual(
        r.actions.find((a) => a.type === 'StartDelayOpenTimer'),
        { type: 'StartDelayOpenTimer', seconds: 7 },
      );
      const exp = transition(r.snapshot, ev('DelayOpenTimer_Expires'), cfg);
      assert.equal(exp.snapshot.state, 'OpenSent');
      assert.ok(has(exp.actions, 'SendOpen'));
    }
  });

  test('OPEN while DelayOpenTimer runs: OPEN + KEEPALIVE, straight to OpenConfirm', () => {
    const s = snap('Connect', { delayOpenRunning: true });
    const r = transition(s, { type: 'BGPOpen', holdTime: 9 }, cfg);
    assert.equal(r.snapshot.state, 'OpenConfirm');
    assert.deepEqual(
      r.actions.filter((a) => a.type === 'SendOpen' || a.type === 'SendKeepalive').map((a) => a.type),
      ['SendOpen', 'SendKeepalive'],
    );
    assert.equal(r.snapshot.holdTime, 9);
    assert.equal(r.snapshot.keepaliveTime, 3);
  });

  test('TCP failure in Connect with DelayOpen running falls back to Active', () => {
    const r = transition(snap('Connect', { delayOpenRunning: true }), ev('TcpConnectionFails'), cfg);
    assert.equal(r.snapshot.state, 'Active');
    assert.equal(r.snapshot.delayOpenRunning, false);
  });

  test('a collision dump in Connect or Active (DelayOpen running) goes to Idle as CollisionResolution, silently', () => {
    for (const st of ['Connect', 'Active'] as const) {
      const r = transition(snap(st, { delayOpenRunning: true }), ev('OpenCollisionDump'), cfg);
      assert.equal(r.snapshot.state, 'Idle');
      assert.equal(r.reason, 'CollisionResolution');
      assert.equal(
        r.actions.find((a) => a.type === 'SendNotification'),
        undefined,
        'no OPEN went out, so no NOTIFICATION (§8.2.2)',
      );
    }
  });

  test('a failed connect goes to Active, keeps listening, and backs off the retry', () => {
    const c: FsmConfig = { ...defaultFsmConfig, connectRetryTime: 2, connectRetryTimeMax: 16 };
    let s = snap('Connect', { connectRetryCounter: 0 });
    const retries: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = transition(s, ev('TcpConnectionFails'), c);
      assert.equal(r.snapshot.state, 'Active');
      const start = r.actions.find((a) => a.type === 'StartConnectRetryTimer');
      assert.ok(start && start.type === 'StartConnectRetryTimer');
      retries.push(start.seconds);
      // The peer's own connection is accepted while we wait to retry.
      const incoming = transition(r.snapshot, ev('TcpConnectionConfirmed'), c);
      assert.equal(incoming.snapshot.state, 'OpenSent');
      s = transition(r.snapshot, ev('ConnectRetryTimer_Expires'), c).snapshot;
      assert.equal(s.state, 'Connect');
    }
    assert.deepEqual(retries, [2, 4, 8, 16, 16]);
  });

  test('a peer that accepts and closes in OpenSent is retried with back-off', () => {
    const c: FsmConfig = { ...defaultFsmConfig, connectRetryTime: 1, connectRetryTimeMax: 4 };
    let s = snap('OpenSent', { connectRetryCounter: 0 });
    const retries: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = transition(s, ev('TcpConnectionFails'), c);
      assert.equal(r.snapshot.state, 'Active');
      const start = r.actions.find((a) => a.type === 'StartConnectRetryTimer');
      assert.ok(start && start.type === 'StartConnectRetryTimer');
      retries.push(start.seconds);
      s = { ...r.snapshot, state: 'OpenSent' };
    }
    assert.deepEqual(retries, [1, 2, 4, 4]);
  });

  test('ManualStop with DelayOpen running sends a Cease even though no OPEN went out', () => {
    const r = transition(snap('Active', { delayOpenRunning: true }), { type: 'ManualStop' }, cfg);
    assert.equal(notifOf(r.actions), '!6/2');
  });
});

describe('hold and keepalive timers (§4.2, §10)', () => {
  test('BGPOpen in OpenSent: KEEPALIVE, keepalive = hold/3, hold timer at the negotiated value', () => {
    const r = transition(snap('OpenSent'), { type: 'BGPOpen', holdTime: 3 }, defaultFsmConfig);
    assert.equal(r.snapshot.state, 'OpenConfirm');
    assert.ok(has(r.actions, 'SendKeepalive'));
    assert.deepEqual(
      r.actions.find((a) => a.type === 'StartKeepaliveTimer'),
      { type: 'StartKeepaliveTimer', seconds: 1 },
    );
    assert.deepEqual(
      r.actions.find((a) => a.type === 'StartHoldTimer'),
      { type: 'StartHoldTimer', seconds: 3 },
    );
  });

  test('a configured keepalive shorter than hold/3 is honoured, a longer one is not', () => {
    const shorter = transition(
      snap('OpenSent'),
      { type: 'BGPOpen', holdTime: 90, keepaliveTime: 10 },
      defaultFsmConfig,
    );
    assert.equal(shorter.snapshot.keepaliveTime, 10);
    const longer = transition(
      snap('OpenSent'),
      { type: 'BGPOpen', holdTime: 90, keepaliveTime: 60 },
      defaultFsmConfig,
    );
    assert.equal(longer.snapshot.keepaliveTime, 30);
  });

  test('hold time 0: no hold timer, no keepalive timer, ever', () => {
    const oc = transition(snap('OpenSent'), { type: 'BGPOpen', holdTime: 0 }, defaultFsmConfig);
    assert.equal(has(oc.actions, 'StartHoldTimer'), false);
    assert.equal(has(oc.actions, 'StartKeepaliveTimer'), false);
    const est = transition(oc.snapshot, ev('KeepAliveMsg'), defaultFsmConfig);
    assert.equal(est.snapshot.state, 'Established');
    assert.equal(has(est.actions, 'StartHoldTimer'), false);
    assert.deepEqual(transition(est.snapshot, ev('UpdateMsg'), defaultFsmConfig).actions, []);
    assert.deepEqual(transition(est.snapshot, ev('KeepaliveTimer_Expires'), defaultFsmConfig).actions, []);
  });

  test('in Established every KEEPALIVE and UPDATE restarts the hold timer', () => {
    for (const t of ['KeepAliveMsg', 'UpdateMsg'] as const) {
      const r = transition(snap('Established'), ev(t), defaultFsmConfig);
      assert.deepEqual(r.actions, [{ type: 'StartHoldTimer', seconds: 90 }]);
    }
  });

  test('KeepaliveTimer_Expires sends a KEEPALIVE and restarts the timer', () => {
    for (const st of ['OpenConfirm', 'Established'] as const) {
      const r = transition(snap(st), ev('KeepaliveTimer_Expires'), defaultFsmConfig);
      assert.deepEqual(r.actions, [{ type: 'SendKeepalive' }, { type: 'StartKeepaliveTimer', seconds: 30 }]);
    }
  });

  test('KEEPALIVE in OpenConfirm establishes the session', () => {
    const r = transition(snap('OpenConfirm'), ev('KeepAliveMsg'), defaultFsmConfig);
    assert.deepEqual(r.actions, [{ type: 'StartHoldTimer', seconds: 90 }, { type: 'SessionEstablished' }]);
  });

  test('jitter stays within [0.75, 1.0] of the value', () => {
    assert.equal(jitter(40, 0), 30);
    assert.ok(jitter(40, 0.999999) <= 40);
    for (let i = 0; i < 100; i++) {
      const j = jitter(30, Math.random());
      assert.ok(j >= 22.5 && j <= 30);
    }
  });

  test('back-off doubles per failure and is capped', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 40].map((n) => backoffSeconds(5, 120, n)),
      [5, 5, 10, 20, 40, 80, 120, 120, 120],
    );
    assert.equal(idleHoldSeconds({ ...defaultFsmConfig, idleHoldTime: 1, idleHoldTimeMax: 60 }, 10), 60);
  });
});

describe('collision detection (§6.8, RFC 6286 §2.3, RFC 4724 §4.2)', () => {
  type Input = Parameters<typeof resolveCollision>[0];
  const crossed = (over: Partial<Input>): Input => ({
    localAs: 65000,
    remoteAs: 65001,
    localId: 1,
    remoteId: 2,
    otherState: 'OpenConfirm',
    thisDirection: 'incoming',
    otherDirection: 'outgoing',
    thisIsNewer: true,
    otherNegotiatedGracefulRestart: false,
    thisPredatesOtherEstablished: false,
    ...over,
  });
  const opposite = (d: 'incoming' | 'outgoing') => (d === 'incoming' ? 'outgoing' : 'incoming');
  /** The direction of the connection closed, for the crossed-attempt cases. */
  const dumped = (c: Input) => {
    const loser = resolveCollision(c);
    return loser === undefined ? undefined : loser === 'this' ? c.thisDirection : c.otherDirection;
  };
  test('no collision unless the other connection is in OpenSent, OpenConfirm or Established', () => {
    for (const otherState of ['Idle', 'Connect', 'Active'] as const) {
      assert.equal(resolveCollision(crossed({ otherState })), undefined);
      assert.equal(resolveCollision(crossed({ otherState, otherDirection: 'incoming' })), undefined);
    }
  });
  test('lower local identifier: the connection we initiated is closed, whichever got the OPEN', () => {
    for (const thisDirection of ['incoming', 'outgoing'] as const) {
      assert.equal(dumped(crossed({ thisDirection, otherDirection: opposite(thisDirection) })), 'outgoing');
    }
  });
  test('higher local identifier: the connection the peer initiated is closed (unsigned compare)', () => {
    for (const thisDirection of ['incoming', 'outgoing'] as const) {
      const c = crossed({
        localId: 0xc0000001,
        remoteId: 0x0a000001,
        otherState: 'OpenSent',
        thisDirection,
        otherDirection: opposite(thisDirection),
      });
      assert.equal(dumped(c), 'incoming');
    }
  });
  test('an Established connection survives a peer without graceful restart', () => {
    assert.equal(resolveCollision(crossed({ localId: 9, otherState: 'Established' })), 'this');
    assert.equal(
      resolveCollision(crossed({ otherState: 'Established', otherDirection: 'incoming' })),
      'this',
    );
  });
  test('graceful restart exchanged, the peer calling again while Established: the old session is closed (RFC 4724 §4.2)', () => {
    for (const otherDirection of ['incoming', 'outgoing'] as const) {
      assert.equal(
        resolveCollision(
          crossed({
            localId: 9,
            otherState: 'Established',
            otherDirection,
            otherNegotiatedGracefulRestart: true,
          }),
        ),
        'other',
      );
    }
  });
  test('graceful restart exchanged, but the new connection was there before the session came up: §6.8, the session stays', () => {
    // Both speakers dialled at once and the peer's OPEN on its own connection came late.
    for (const localId of [1, 9])
      assert.equal(
        resolveCollision(
          crossed({
            localId,
            otherState: 'Established',
            otherNegotiatedGracefulRestart: true,
            thisPredatesOtherEstablished: true,
          }),
        ),
        'this',
      );
  });
  test('two connections the peer initiated: the newer one is kept, whatever the identifiers', () => {
    for (const [localId, remoteId] of [
      [1, 2],
      [2, 1],
      [5, 5],
    ] as const) {
      for (const otherState of ['OpenSent', 'OpenConfirm'] as const) {
        const both = { localId, remoteId, otherState, otherDirection: 'incoming' } as const;
        assert.equal(resolveCollision(crossed({ ...both, thisIsNewer: true })), 'other');
        // The OPEN came on the older one while the newer waits for its own.
        assert.equal(resolveCollision(crossed({ ...both, thisIsNewer: false })), 'this');
      }
    }
  });
  test('equal identifiers: the connection initiated by the larger AS survives', () => {
    assert.equal(dumped(crossed({ localAs: 65002, remoteAs: 65001, localId: 5, remoteId: 5 })), 'incoming');
    assert.equal(dumped(crossed({ localAs: 65000, remoteAs: 65001, localId: 5, remoteId: 5 })), 'outgoing');
  });
});

describe('Peer.fsmConfigFor', () => {
  test('the configured connect retry ceiling caps the back-off (never below the base time)', () => {
    const base = { key: '192.0.2.1', address: '192.0.2.1', remoteAs: 65000 };
    assert.equal(
      Peer.fsmConfigFor({ ...base, connectRetryTime: 3, connectRetryTimeMax: 40 }, false).connectRetryTimeMax,
      40,
    );
    assert.equal(
      Peer.fsmConfigFor({ ...base, connectRetryTime: 30, connectRetryTimeMax: 10 }, false)
        .connectRetryTimeMax,
      30,
    );
    assert.equal(Peer.fsmConfigFor(base, false).connectRetryTimeMax, defaultFsmConfig.connectRetryTimeMax);
  });

  test('the configured idle hold times set the back-off after errors (BIRD: error wait time)', () => {
    const base = { key: '192.0.2.1', address: '192.0.2.1', remoteAs: 65000 };
    const c = Peer.fsmConfigFor({ ...base, idleHoldTime: 5, idleHoldTimeMax: 300 }, false);
    assert.equal(idleHoldSeconds(c, 1), 5);
    assert.equal(idleHoldSeconds(c, 3), 20);
    assert.equal(idleHoldSeconds(c, 20), 300);
    // A ceiling below the base is raised to it, as for the connect retry.
    assert.equal(
      Peer.fsmConfigFor({ ...base, idleHoldTime: 30, idleHoldTimeMax: 10 }, false).idleHoldTimeMax,
      30,
    );
    const d = Peer.fsmConfigFor(base, false);
    assert.equal(d.idleHoldTime, defaultFsmConfig.idleHoldTime);
    assert.equal(d.idleHoldTimeMax, defaultFsmConfig.idleHoldTimeMax);
  });
});
