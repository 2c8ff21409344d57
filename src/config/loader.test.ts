import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testTempDir } from '../testing/temp-dir.ts';
import { ConfigError, formatIssue, loadConfigFile, parseConfig } from './loader.ts';
import { type HostAddress, pickRouterId } from './resolve.ts';

const host = (): HostAddress[] => [
  { interface: 'lo', address: '127.0.0.1', family: 4, internal: true },
  { interface: 'eth0', address: '192.0.2.10', family: 4, internal: false },
  { interface: 'eth1', address: '198.51.100.7', family: 4, internal: false },
  { interface: 'eth1', address: '2001:db8::7', family: 6, internal: false },
];
const parse = (text: string) => parseConfig(text, 'test.yaml', { hostAddresses: host });

function errorsOf(text: string): ConfigError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

describe('config loader', () => {
  test('a minimal file gets every default', () => {
    const c = parse('asn: 65001\nneighbors:\n  - address: 192.0.2.1\n    asn: 65000\n');
    assert.equal(c.asn, 65001);
    assert.equal(c.routerId, '198.51.100.7');
    assert.deepEqual(c.routerIdSource, { kind: 'host', interface: 'eth1' });
    assert.deepEqual(c.listen, { addresses: ['0.0.0.0', '::'], port: 179 });
    const n = c.neighbors[0]!;
    assert.equal(n.key, '192.0.2.1');
    assert.equal(n.name, '192.0.2.1');
    assert.equal(n.kind, 'static');
    assert.equal(n.holdTime, 90);
    assert.equal(n.keepaliveTime, 30);
    assert.equal(n.port, 179);
    assert.equal(n.passive, false);
    assert.deepEqual(n.families, ['ipv4-unicast']);
    assert.deepEqual(n.addPath, { receive: false, send: false });
    assert.deepEqual([n.idleHold, n.idleHoldMax, n.errorForget], [1, 60, 300]);
  });

  test('idle hold back-off and error forget time: set, and a ceiling below the base refused', () => {
    const n = parse(
      'asn: 65001\nneighbors:\n  - { address: 192.0.2.1, asn: 65000, idleHold: 60, idleHoldMax: 300, errorForget: 600 }\n',
    ).neighbors[0]!;
    assert.deepEqual([n.idleHold, n.idleHoldMax, n.errorForget], [60, 300, 600]);
    const err = errorsOf(
      'asn: 65001\nneighbors:\n  - { address: 192.0.2.1, asn: 65000, idleHold: 10, idleHoldMax: 5 }\n',
    );
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.path, 'neighbors[0].idleHoldMax');
    assert.match(err.issues[0]!.message, /at least idleHold \(10 s\)/);
  });

  test('asdot ASNs, bare and quoted, and 4-octet asplain', () => {
    assert.equal(parse('asn: 1.10\n').asn, 65546);
    assert.equal(parse('asn: "1.10"\n').asn, 65546);
    assert.equal(parse('asn: 4200000000\n').asn, 4200000000);
    const c = parse('asn: 65001\nneighbors:\n  - address: 192.0.2.1\n    asn: 3.1\n');
    assert.equal(c.neighbors[0]!.asn, 3 * 65536 + 1);
  });

  test('an IPv6 neighbour is keyed by its canonical address and defaults to ipv6-unicast', () => {
    const c = parse('asn: 65001\nneighbors:\n  - address: 2001:DB8:0::1\n    asn: external\n');
    assert.equal(c.neighbors[0]!.key, '2001:db8::1');
    assert.equal(c.neighbors[0]!.transport, 6);
    assert.deepEqual(c.neighbors[0]!.families, ['ipv6-unicast']);
  });

  test('dynamic neighbours are passive', () => {
    const c = parse('asn: 65001\nneighbors:\n  - range: 10.0.0.0/24\n    asn: internal\n');
    assert.equal(c.neighbors[0]!.kind, 'dynamic');
    assert.equal(c.neighbors[0]!.passive, true);
    assert.equal(c.neighbors[0]!.key, '10.0.0.0/24');
  });

  test('originate entries: bare prefixes and full entries with attributes', () => {
    const c = parse(
      [
        'asn: 65001',
        'originate:',
        '  - 10.1.0.0/24',
        '  - prefix: 2001:db8:1::/48',
        '    communities: ["65001:100", no-export]',
        '    largeCommunities: ["65001:1:2"]',
        '    med: 50',
      ].join('\n'),
    );
    assert.deepEqual(c.originate[0], {
      prefix: '10.1.0.0/24',
      family: 'ipv4-unicast',
      communities: [],
      largeCommunities: [],
      med: undefined,
      localPref: undefined,
      nextHop: undefined,
    });
    assert.equal(c.originate[1]!.family, 'ipv6-unicast');
    assert.deepEqual(c.originate[1]!.communities, [65001 * 65536 + 100, 0xffffff01]);
    assert.deepEqual(c.originate[1]!.largeCommunities, [[65001, 1, 2]]);
    assert.equal(c.originate[1]!.med, 50);
  });

  test('every field error at once, each with its path and line', () => {
    const text = [
      'asn: 65001', // 1
      'routerId: 10.0.0.300', // 2
      'neighbors:', // 3
      '  - address: 192.0.2.1', // 4
      '    asn: 65000', // 5
      '    holdTime: 2', // 6
      '  - address: 192.0.2.2', // 7
      '    asn: bogus', // 8
      '    holdtime: 90', // 9
      '  - range: 10.0.1.5/24', // 10
      '    asn: internal', // 11
      'originate:', // 12
      '  - 10.1.0.1/24', // 13
    ].join('\n');
    const err = errorsOf(text);
    const byPath = new Map(err.issues.map((i) => [i.path, i]));
    assert.equal(err.issues.length, 6, err.message);
    assert.equal(byPath.get('routerId')?.line, 2);
    assert.match(byPath.get('routerId')!.message, /not an IPv4 address/);
    assert.equal(byPath.get('neighbors[0].holdTime')?.line, 6);
    assert.match(byPath.get('neighbors[0].holdTime')!.message, /0 .* or 3\.\.65535/);
    assert.equal(byPath.get('neighbors[1].asn')?.line, 8);
    assert.equal(byPath.get('neighbors[1].holdtime')?.line, 9);
    assert.match(byPath.get('neighbors[1].holdtime')!.message, /unknown field/);
    assert.equal(byPath.get('neighbors[2].range')?.line, 10);
    assert.match(byPath.get('neighbors[2].range')!.message, /did you mean 10\.0\.1\.0\/24/);
    assert.equal(byPath.get('originate[0]')?.line, 13);
    for (const i of err.issues) assert.equal(i.file, 'test.yaml');
    assert.match(
      formatIssue(byPath.get('neighbors[0].holdTime')!),
      /^test\.yaml:6:15: neighbors\[0\]\.holdTime: /,
    );
  });

  test('relations between fields are checked, all at once', () => {
    const text = [
      'asn: 65001', // 1
      'routerId: 192.0.2.100', // 2
      'neighbors:', // 3
      '  - address: 192.0.2.1', // 4
      '    asn: 65000', // 5
      '    import: [missing]', // 6
      '    routeReflectorClient: true', // 7
      '  - address: 192.0.2.1', // 8
      '    asn: 65002', // 9
      '  - address: 192.0.2.3', // 10
      '    asn: 65002', // 11
      '    localAddress: 2001:db8::1', // 12
      '  - range: 10.0.0.0/16', // 13
      '    asn: external', // 14
      '  - range: 10.0.5.0/24', // 15
      '    asn: external', // 16
    ].join('\n');
    const err = errorsOf(text);
    const paths = err.issues.map((i) => `${i.path}@${i.line}`).sort();
    assert.deepEqual(paths, [
      'neighbors[0].import[0]@6',
      'neighbors[0].routeReflectorClient@7',
      'neighbors[1].address@8',
      'neighbors[2].localAddress@12',
      'neighbors[4].range@15',
    ]);
  });

  test('GTSM is refused, not silently ignored, until it is supported', () => {
    const err = errorsOf('asn: 1\nneighbors:\n  - address: 192.0.2.1\n    asn: 2\n    ttlSecurity: true\n');
    assert.equal(err.issues[0]!.path, 'neighbors[0].ttlSecurity');
    assert.match(err.issues[0]!.message, /not supported/);
    const c = parse('asn: 1\nneighbors:\n  - address: 192.0.2.1\n    asn: 2\n    ttlSecurity: false\n');
    assert.equal(c.neighbors[0]!.ttlSecurity, false);
  });

  test('a neighbour needs exactly one of address and range', () => {
    const err = errorsOf('asn: 1\nneighbors:\n  - asn: 2\n');
    assert.equal(err.issues[0]!.path, 'neighbors[0]');
    assert.match(err.issues[0]!.message, /needs an address/);
  });

  test('YAML syntax errors carry a line', () => {
    const err = errorsOf('asn: 65001\nneighbors:\n  - address: [192.0.2.1\n');
    assert.ok(err.issues[0]!.line! >= 3, JSON.stringify(err.issues));
    assert.match(err.issues[0]!.message, /^YAML: /);
  });

  test('an empty file, and a file that is not a mapping', () => {
    assert.match(errorsOf('').issues[0]!.message, /empty/);
    assert.match(errorsOf('- a\n- b\n').issues[0]!.message, /mapping/);
  });

  test('AS 0 and AS_TRANS are refused as the local AS', () => {
    assert.match(errorsOf('asn: 0\n').issues[0]!.message, /reserved/);
    assert.match(errorsOf('asn: 23456\n').issues[0]!.message, /AS_TRANS/);
  });

  test('no router-id and no host address is an error naming the field', () => {
    try {
      parseConfig('asn: 65001\n', 'x.yaml', { hostAddresses: () => [] });
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.issues[0]!.path, 'routerId');
    }
  });

  test('an unreadable file is a ConfigError naming the file', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/tsbgp.yaml'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /\/nonexistent\/tsbgp\.yaml.*no such file/);
      return true;
    });
  });

  test('loads from disk', async () => {
    const dir = testTempDir('tsbgp-cfg-');
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'asn: 65001\nrouterId: 192.0.2.1\n');
    const c = await loadConfigFile(file);
    assert.equal(c.source, file);
    assert.deepEqual(c.routerIdSource, { kind: 'config' });
  });
});

describe('router-id default', () => {
  test('the highest non-loopback IPv4 address, whatever the order', () => {
    const addrs = host();
    assert.deepEqual(pickRouterId(addrs), { address: '198.51.100.7', interface: 'eth1' });
    assert.deepEqual(pickRouterId([...addrs].reverse()), { address: '198.51.100.7', interface: 'eth1' });
    // Numeric, not textual, comparison: 9.x < 10.x.
    assert.equal(
      pickRouterId([
        { interface: 'a', address: '9.9.9.9', family: 4, internal: false },
        { interface: 'b', address: '10.0.0.1', family: 4, internal: false },
      ])?.address,
      '10.0.0.1',
    );
  });
  test('loopback and IPv6 addresses are never chosen', () => {
    assert.equal(
      pickRouterId([
        { interface: 'lo', address: '127.0.0.1', family: 4, internal: true },
        { interface: 'x', address: '127.0.1.1', family: 4, internal: false },
        { interface: 'e', address: '2001:db8::1', family: 6, internal: false },
      ]),
      undefined,
    );
  });
});
