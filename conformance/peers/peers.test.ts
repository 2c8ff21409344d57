// The real-implementation drivers (conformance/lib/peers) checked against each other: two
// implementations peer over IPv4 and IPv6, and each must hold the other's routes with the
// attributes they were originated with. Every driver takes part in at least one pair.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canUseNamespaces, Lab, waitFor } from '../lib/lab.ts';
import {
  type Implementation,
  type NormalisedRoute,
  type OriginatedRoute,
  type PeerDriver,
  startPeer,
} from '../lib/peers/index.ts';

interface Side {
  impl: Implementation;
  as: number;
  fourOctetAs?: boolean;
}

const ROUTES_A: OriginatedRoute[] = [
  {
    prefix: '10.1.0.0/24',
    communities: ['65000:1', '65000:100'],
    largeCommunities: ['4200000001:1:2'],
    med: 10,
  },
  { prefix: 'fd01::/48', communities: ['65000:2'], largeCommunities: ['1:2:3'], med: 11 },
];
const ROUTES_B: OriginatedRoute[] = [
  { prefix: '10.2.0.0/24', communities: ['65000:3'], largeCommunities: ['4:5:6'], med: 20 },
  { prefix: 'fd02::/48', communities: ['65000:4'], med: 21 },
];

function expectRoute(
  got: NormalisedRoute[],
  want: OriginatedRoute,
  asPath: number[],
  nextHops: string[],
): void {
  const r = got.find((x) => x.prefix === want.prefix);
  assert.ok(r, `${want.prefix} missing from ${JSON.stringify(got)}`);
  assert.deepEqual(r.asPath, asPath, `${want.prefix} AS path`);
  assert.deepEqual(r.communities, [...(want.communities ?? [])].sort(), `${want.prefix} communities`);
  assert.deepEqual(r.largeCommunities, want.largeCommunities ?? [], `${want.prefix} large communities`);
  if (want.med !== undefined) assert.equal(r.med, want.med, `${want.prefix} MED`);
  assert.ok(
    nextHops.includes(r.nextHop),
    `${want.prefix} next hop ${r.nextHop} not in ${nextHops.join(',')}`,
  );
}

async function pair(tag: string, a: Side, b: Side): Promise<void> {
  const lab = new Lab(tag);
  try {
    await lab.addNode('a');
    await lab.addNode('b');
    await lab.link(
      { node: 'a', ifname: 'eth0', addrs: ['10.0.0.1/24', 'fd00::1/64'] },
      { node: 'b', ifname: 'eth0', addrs: ['10.0.0.2/24', 'fd00::2/64'] },
    );
    // A 2-octet-only speaker sees a 4-octet neighbour as AS_TRANS (RFC 6793 §4.2.2).
    const remoteAsFor = (self: Side, other: Side) =>
      self.fourOctetAs === false && other.as > 65535 ? 23456 : other.as;
    const pa: PeerDriver = await startPeer[a.impl](lab, 'a', {
      localAs: a.as,
      routerId: '192.0.2.1',
      fourOctetAs: a.fourOctetAs,
      neighbors: [
        { address: '10.0.0.2', localAddress: '10.0.0.1', remoteAs: remoteAsFor(a, b), holdTime: 30 },
        { address: 'fd00::2', localAddress: 'fd00::1', remoteAs: remoteAsFor(a, b), holdTime: 30 },
      ],
      originate: ROUTES_A,
    });
    const pb: PeerDriver = await startPeer[b.impl](lab, 'b', {
      localAs: b.as,
      routerId: '192.0.2.2',
      fourOctetAs: b.fourOctetAs,
      neighbors: [
        { address: '10.0.0.1', localAddress: '10.0.0.2', remoteAs: remoteAsFor(b, a), holdTime: 30 },
        { address: 'fd00::1', localAddress: 'fd00::2', remoteAs: remoteAsFor(b, a), holdTime: 30 },
      ],
      originate: ROUTES_B,
    });
    for (const [p, n] of [
      [pa, '10.0.0.2'],
      [pa, 'fd00::2'],
      [pb, '10.0.0.1'],
      [pb, 'fd00::1'],
    ] as const) {
      await waitFor(`${p.implementation} session to ${n} established`, async () => {
        return (await p.sessionState(n)) === 'established';
      });
    }
    // The AS path as the receiver reports it: a 2-octet receiver's view is rebuilt from AS4_PATH
    // by every implementation here, so the true ASN is expected either way.
    for (const [recv, origin, routes, from4, from6] of [
      [pb, a, ROUTES_A, '10.0.0.1', 'fd00::1'],
      [pa, b, ROUTES_B, '10.0.0.2', 'fd00::2'],
    ] as const) {
      const got = await waitFor(
        `${recv.implementation} to hold ${origin.impl}'s routes`,
        async () => {
          const rs = await recv.routes();
          return routes.every((w) => rs.some((r) => r.prefix === w.prefix && r.from !== undefined)) && rs;
        },
        45_000,
      );
      const received = got.filter((r) => r.from !== undefined);
      if (process.env.DEBUG_PEERS) console.log(recv.implementation, JSON.stringify(received));
      for (const w of routes) {
        // The IPv6 next hop may be reported as the global or the link-local address.
        const nh: string[] = [w.prefix.includes(':') ? from6 : from4];
        const r = received.find((x) => x.prefix === w.prefix);
        if (r?.nextHop.startsWith('fe80:')) nh.push(r.nextHop);
        // iBGP does not prepend (RFC 4271 §5.1.2): the path is empty.
        expectRoute(received, w, a.as === b.as ? [] : [origin.as], nh);
      }
    }
  } finally {
    await lab.dispose();
  }
}

describe('real implementation drivers peer with each other', {
  skip: !canUseNamespaces() && 'needs root',
}, () => {
  test('bird2 <-> frr (eBGP, 4-octet AS)', { timeout: 120_000 }, () =>
    pair('pbf', { impl: 'bird2', as: 4200000001 }, { impl: 'frr', as: 65002 }),
  );
  test('gobgp <-> openbgpd', { timeout: 120_000 }, () =>
    pair('pgo', { impl: 'gobgp', as: 65001 }, { impl: 'openbgpd', as: 65002 }),
  );
  test('bird2 (4-octet) <-> exabgp (2-octet only: AS_TRANS / AS4_PATH)', { timeout: 120_000 }, () =>
    pair('pbe', { impl: 'bird2', as: 4200000001 }, { impl: 'exabgp', as: 65002, fourOctetAs: false }),
  );
  test('frr <-> gobgp (iBGP)', { timeout: 120_000 }, () =>
    pair('pfg', { impl: 'frr', as: 65010 }, { impl: 'gobgp', as: 65010 }),
  );
  test('bird 1.6 <-> openbgpd', { timeout: 120_000 }, () =>
    pair('pbo', { impl: 'bird1', as: 65001 }, { impl: 'openbgpd', as: 4200000002 }),
  );
});
