import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../config/loader.ts';
import { wantsIpip } from './ipip-extension.ts';
import { toPeerConfig } from './speaker-adapter.ts';

const cfg = (text: string) => parseConfig(text, 'x.yaml', { hostAddresses: () => [] });

describe('config to the session layer', () => {
  test('a neighbour maps field by field, with defaults resolved', () => {
    const c = cfg(`
asn: 65001
routerId: 192.0.2.1
gracefulRestart: { restartTime: 90 }
neighbors:
  - name: tor
    address: 192.0.2.9
    asn: 65000
    localAddress: 192.0.2.1
    holdTime: 30
    connectRetry: 3
    connectRetryMax: 40
    idleHold: 2
    idleHoldMax: 30
    errorForget: 600
    families: [ipv4-unicast, ipv6-unicast]
    addPath: { receive: true, send: 4 }
    gracefulRestart: helper
    maxPrefix:
      ipv4-unicast: { limit: 1000, restartAfter: 60 }
      ipv6-unicast: { limit: 500, restartAfter: 30 }
    shutdown: true
`);
    assert.deepEqual(toPeerConfig(c.neighbors[0]!, c), {
      key: '192.0.2.9',
      name: 'tor',
      description: undefined,
      address: '192.0.2.9',
      range: undefined,
      remoteAs: 65000,
      localAddress: '192.0.2.1',
      port: 179,
      passive: false,
      holdTime: 30,
      keepaliveTime: 10,
      connectRetryTime: 3,
      connectRetryTimeMax: 40,
      idleHoldTime: 2,
      idleHoldTimeMax: 30,
      errorForgetTime: 600,
      families: ['ipv4-unicast', 'ipv6-unicast'],
      addPath: { 'ipv4-unicast': 'both', 'ipv6-unicast': 'both' },
      // 'helper': the capability with no family, so peers flush ours; the N bit by default.
      gracefulRestart: { restartTime: 90, notification: true, helperOnly: true, forwardingPreserved: false },
      // Per family: the session stops when one family exceeds its own limit.
      maxPrefixes: {
        'ipv4-unicast': { limit: 1000, restartAfter: 60 },
        'ipv6-unicast': { limit: 500, restartAfter: 30 },
      },
      retainAdjRibIn: 'auto',
      enhancedRouteRefresh: true,
      shutdown: true,
    });
  });

  test('softReconfigurationInbound keeps pre-policy routes always; enhanced route refresh can be turned off', () => {
    const c = cfg(`
asn: 65001
routerId: 192.0.2.1
neighbors:
  - { address: 192.0.2.9, asn: 65000, softReconfigurationInbound: true, enhancedRouteRefresh: false }
  - { address: 192.0.2.10, asn: 65000, maxPrefix: { ipv6-unicast: { limit: 5 } } }
`);
    const a = toPeerConfig(c.neighbors[0]!, c);
    assert.equal(a.retainAdjRibIn, 'always');
    assert.equal(a.enhancedRouteRefresh, false);
    assert.equal(a.maxPrefixes, undefined);
    const b = toPeerConfig(c.neighbors[1]!, c);
    assert.equal(b.retainAdjRibIn, 'auto');
    assert.deepEqual(b.maxPrefixes, { 'ipv6-unicast': { limit: 5, restartAfter: undefined } });
  });

  test('a dynamic range is passive with no add-path or graceful restart by default', () => {
    const c = cfg('asn: 65001\nrouterId: 192.0.2.1\nneighbors:\n  - range: 10.0.0.0/24\n    asn: internal\n');
    const p = toPeerConfig(c.neighbors[0]!, c);
    assert.equal(p.range, '10.0.0.0/24');
    assert.equal(p.remoteAs, 'internal');
    assert.equal(p.passive, true);
    assert.equal(p.addPath, undefined);
    assert.equal(p.gracefulRestart, undefined);
  });

  test('the IP-in-IP module runs only when the config asks for it', () => {
    const base = 'asn: 65001\nrouterId: 192.0.2.1\n';
    assert.equal(wantsIpip(cfg(base)), false);
    assert.equal(wantsIpip(cfg(`${base}pools: [{ cidr: 10.244.0.0/16 }]\n`)), false);
    assert.equal(wantsIpip(cfg(`${base}pools: [{ cidr: 10.244.0.0/16, ipipMode: CrossSubnet }]\n`)), true);
    assert.equal(wantsIpip(cfg(`${base}mtu: { override: 1440 }\n`)), true);
  });
});
