import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttrTable } from './attr-table.ts';
import { asSequence, parseIpv4 } from './attrs.ts';
import { DecisionProcess } from './best-path.ts';
import { LocRib, PathFlag } from './loc-rib.ts';
import { PeerTable } from './peers.ts';
import { prefixListOf } from './prefix.ts';
import { describeRoute, formatRouteDetail } from './show.ts';

test('show route --detail: every path, its attributes and the deciding step', () => {
  const attrs = new AttrTable();
  const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
  const rib = new LocRib({ afi: 1, attrs, decision: new DecisionProcess(attrs, peers) });
  const mk = (i: number, kind: 'ebgp' | 'ibgp') =>
    peers.add({
      kind,
      name: `peer${i}`,
      address: Uint8Array.of(10, 1, 0, i),
      routerId: parseIpv4(`10.1.0.${i}`),
      remoteAs: kind === 'ebgp' ? 65001 : 65000,
      rrClient: false,
    });
  const e = mk(1, 'ebgp');
  const i = mk(2, 'ibgp');
  const l = prefixListOf(1, ['203.0.113.0/24']);
  rib.announce(
    e,
    attrs.intern({ origin: 0, asPath: asSequence(65001, 7), nextHop: parseIpv4('10.1.0.1'), med: 5 }),
    l,
  );
  rib.announce(
    i,
    attrs.intern({
      origin: 0,
      asPath: asSequence(65002, 7),
      nextHop: parseIpv4('10.9.0.1'),
      localPref: 100,
      communities: Uint32Array.of(0xffffff01),
      originatorId: parseIpv4('10.9.0.1'),
      clusterList: Uint32Array.of(parseIpv4('10.0.0.9')),
    }),
    l,
  );
  rib.commit();
  rib.setPeerPathFlags(i, PathFlag.Stale, true);
  const d = describeRoute(rib, peers, rib.lookup('203.0.113.0/24'));
  assert.equal(d.prefix, '203.0.113.0/24');
  const best = d.paths.find((p) => p.best)!;
  const other = d.paths.find((p) => !p.best)!;
  assert.equal(best.from, 'peer1');
  assert.equal(other.lostAt, 'ebgp-over-ibgp');
  assert.equal(other.stale, true);
  assert.deepEqual(other.communities, ['no-export']);
  assert.deepEqual(other.clusterList, ['10.0.0.9']);
  const text = formatRouteDetail(d);
  assert.match(text, /^203\.0\.113\.0\/24: 2 paths/);
  assert.match(text, /from peer1 \(ebgp\) \[best\]/);
  assert.match(text, /from peer2 \(ibgp\) \[stale\]/);
  assert.match(text, /lost at ebgp-over-ibgp: ebgp preferred over ibgp of path/);
  assert.match(text, /AS path: 65001 7, origin IGP, next hop 10\.1\.0\.1/);
});
