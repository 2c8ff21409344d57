import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Family } from '../codec/types.ts';
import { PolicyCompiler } from '../policy/compile.ts';
import { ExportFilter, type ExportSettings } from '../policy/filters.ts';
import { defaultReflectorConfig } from '../reflector/reflector.ts';
import type { ExportPeer, ExportUpdate } from '../session/types.ts';
import { AttrTable } from './attr-table.ts';
import { asSequence, parseIpv4 } from './attrs.ts';
import { DecisionProcess } from './best-path.ts';
import { RibExportSource } from './export-source.ts';
import { LocRib } from './loc-rib.ts';
import { PeerTable } from './peers.ts';
import { prefixListOf } from './prefix.ts';
import { UpdateGroups } from './update-group.ts';

test('RibExportSource: initial table, incremental changes to attached peers, split horizon', () => {
  const attrs = new AttrTable();
  const peers = new PeerTable(parseIpv4('10.0.0.1'), 65000);
  const rib = new LocRib({ afi: 1, attrs, decision: new DecisionProcess(attrs, peers) });
  const compiler = new PolicyCompiler({ policies: { all: { terms: [{ action: 'accept' }] } } });
  const groups = new UpdateGroups(
    rib,
    Family.IPv4Unicast,
    (s) => new ExportFilter(attrs, peers, compiler, s),
  );
  const index = new Map<string, number>();
  for (const [addr, asn] of [
    ['192.0.2.1', 65001],
    ['192.0.2.2', 65002],
  ] as const) {
    index.set(
      addr,
      peers.add({
        kind: 'ebgp',
        name: addr,
        address: Uint8Array.from(addr.split('.').map(Number)),
        routerId: parseIpv4(addr),
        remoteAs: asn,
        rrClient: false,
      }),
    );
  }
  const settings: ExportSettings = {
    afi: 1,
    kind: 'ebgp',
    rrClient: false,
    policies: ['all'],
    nextHop: 'default',
    localIpv4: parseIpv4('192.0.2.254'),
    localAs: 65000,
    reflector: defaultReflectorConfig(parseIpv4('10.0.0.1')),
  };
  const source = new RibExportSource(new Map([[Family.IPv4Unicast, groups]]), {
    resolve: (peer) => ({
      peerIndex: index.get(peer.address)!,
      settings,
      wire: { fourOctetAs: true, addPathSend: false },
    }),
  });
  const session = (address: string) =>
    ({ id: address, address, families: [Family.IPv4Unicast] }) as unknown as ExportPeer;
  const a = session('192.0.2.1');
  const b = session('192.0.2.2');

  rib.announce(
    index.get('192.0.2.1')!,
    attrs.intern({ origin: 0, asPath: asSequence(65001), nextHop: 1 }),
    prefixListOf(1, ['10.1.0.0/16']),
  );
  rib.commit();
  // b comes up: gets 10.1.0.0/16 from a; a comes up: gets nothing (its own route).
  assert.equal(source.initial(b).announce[0]!.prefixes.count, 1);
  const forA = source.initial(a);
  assert.equal(forA.announce.length, 0);
  assert.equal(source.count(b), 1);

  const got = new Map<string, ExportUpdate | null>();
  for (const p of [a, b]) source.attach((compute) => got.set(p.address, compute(p)));
  rib.announce(
    index.get('192.0.2.2')!,
    attrs.intern({ origin: 0, asPath: asSequence(65002), nextHop: 2 }),
    prefixListOf(1, ['10.2.0.0/16']),
  );
  assert.equal(source.publish(Family.IPv4Unicast, rib.commit()), 1);
  assert.equal(got.get('192.0.2.1')?.announce[0]?.prefixes.count, 1, "a learns b's route");
  // b never had the prefix from us: nothing at all goes to it (no route back, no withdrawal).
  assert.ok(got.has('192.0.2.2'), 'b was asked');
  assert.equal(got.get('192.0.2.2'), null, 'b does not get its own route back, nor a withdrawal');
  // prefixesSent: the group holds both routes, each peer was sent the other's.
  assert.equal(source.count(a), 1);
  assert.equal(source.count(b), 1);
  rib.withdraw(index.get('192.0.2.1')!, prefixListOf(1, ['10.1.0.0/16']));
  source.publish(Family.IPv4Unicast, rib.commit());
  assert.equal(source.count(a), 1, "a still has b's route");
  assert.equal(source.count(b), 0, "b had only a's route, now withdrawn");
});
