import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Family } from '../codec/types.ts';
import { AttrTable } from './attr-table.ts';
import { asSequence, parseIpv4 } from './attrs.ts';
import { DecisionProcess } from './best-path.ts';
import {
  flushPeer,
  markPeerStale,
  onSessionLoss,
  onSessionReestablished,
  sweepStale,
} from './graceful-restart.ts';
import { LocRib } from './loc-rib.ts';
import { PeerTable } from './peers.ts';
import { prefixListOf } from './prefix.ts';

const V4 = Family.IPv4Unicast;
const V6 = Family.IPv6Unicast;
const gr = (families: [number, boolean][], restartTime = 120, notification = false) => ({
  restartTime,
  notification,
  families: families.map(([family, forwardingState]) => ({ family, forwardingState })),
});

describe('graceful restart decisions (RFC 4724 §4.2, RFC 8538)', () => {
  test('no GR capability: flush everything', () => {
    assert.deepEqual(onSessionLoss([V4, V6], null, 'tcp-failure'), {
      keepStale: [],
      flush: [V4, V6],
      restartTimerSeconds: 0,
    });
  });
  test('GR for one family only: keep that one stale, flush the other', () => {
    assert.deepEqual(onSessionLoss([V4, V6], gr([[V4, true]], 90), 'hold-timer'), {
      keepStale: [V4],
      flush: [V6],
      restartTimerSeconds: 90,
    });
  });
  test('NOTIFICATION keeps GR only with the N bit; Hard Reset and admin never', () => {
    assert.deepEqual(onSessionLoss([V4], gr([[V4, true]]), 'notification').flush, [V4]);
    assert.deepEqual(onSessionLoss([V4], gr([[V4, true]], 120, true), 'notification').keepStale, [V4]);
    assert.deepEqual(onSessionLoss([V4], gr([[V4, true]], 120, true), 'hard-reset').flush, [V4]);
    assert.deepEqual(onSessionLoss([V4], gr([[V4, true]]), 'admin').flush, [V4]);
    assert.deepEqual(
      onSessionLoss([V4], gr([[V4, true]]), 'tcp-failure', false).flush,
      [V4],
      'helper disabled',
    );
    assert.deepEqual(onSessionLoss([V4], gr([[V4, true]], 0), 'tcp-failure').flush, [V4], 'restart time 0');
  });
  test('re-established: flush families without the F bit or missing from the new capability', () => {
    assert.deepEqual(
      onSessionReestablished(
        [V4, V6],
        gr([
          [V4, true],
          [V6, false],
        ]),
      ),
      [V6],
    );
    assert.deepEqual(onSessionReestablished([V4, V6], gr([[V4, true]])), [V6]);
    assert.deepEqual(onSessionReestablished([V4, V6], null), [V4, V6]);
  });
});

describe('stale marking over the Loc-RIB', () => {
  test('routes stay (and keep forwarding) while stale; End-of-RIB sweeps those not re-announced', () => {
    const attrs = new AttrTable();
    const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
    const rib = new LocRib({ afi: 1, attrs, decision: new DecisionProcess(attrs, peers) });
    const p = peers.add({
      kind: 'ibgp',
      name: 'p',
      address: Uint8Array.of(10, 0, 0, 2),
      routerId: 2,
      remoteAs: 65000,
      rrClient: false,
    });
    const id = attrs.intern({ origin: 0, asPath: asSequence(), nextHop: 5 });
    rib.announce(p, id, prefixListOf(1, ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']));
    rib.commit();
    assert.equal(markPeerStale(rib, p), 3);
    assert.equal(rib.commit().count, 0, 'marking stale changes no best path');
    // After the restart the peer re-announces two routes, then End-of-RIB.
    rib.announce(p, id, prefixListOf(1, ['10.0.0.0/24', '10.0.2.0/24']));
    assert.equal(sweepStale(rib, p), 1);
    const ch = rib.commit();
    assert.equal(ch.count, 1);
    assert.equal(rib.formatPrefix(ch.prefix[0]!), '10.0.1.0/24');
    assert.equal(sweepStale(rib, p), 0);
    assert.equal(flushPeer(rib, p), 2);
    assert.equal(rib.commit().count, 2);
  });
});
