import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffConfig, summarizeDiff } from './diff.ts';
import { parseConfig } from './loader.ts';

const cfg = (text: string) => parseConfig(text, 'x.yaml', { hostAddresses: () => [] });
const base = `
asn: 65001
routerId: 192.0.2.1
neighbors:
  - address: 192.0.2.10
    asn: 65000
    description: tor-a
  - address: 192.0.2.11
    asn: 65000
  - address: 192.0.2.12
    asn: 65000
originate:
  - 10.1.0.0/24
  - prefix: 10.2.0.0/24
    med: 10
`;

describe('diffConfig', () => {
  test('the same config is unchanged', () => {
    const d = diffConfig(cfg(base), cfg(base));
    assert.equal(d.unchanged, true);
    assert.equal(summarizeDiff(d), 'no changes');
    assert.deepEqual(d.unchangedNeighbors, ['192.0.2.10', '192.0.2.11', '192.0.2.12']);
  });

  test('added, removed, reset and in-place neighbours are told apart', () => {
    const next = base
      .replace('    description: tor-a', '    description: tor-a (rack 7)') // in place
      .replace(
        '  - address: 192.0.2.11\n    asn: 65000',
        '  - address: 192.0.2.11\n    asn: 65000\n    holdTime: 30',
      ) // reset
      .replace('  - address: 192.0.2.12\n    asn: 65000\n', '  - address: 192.0.2.13\n    asn: 65009\n'); // remove + add
    const d = diffConfig(cfg(base), cfg(next));
    assert.equal(d.unchanged, false);
    assert.deepEqual(
      d.addedNeighbors.map((n) => n.key),
      ['192.0.2.13'],
    );
    assert.deepEqual(
      d.removedNeighbors.map((n) => n.key),
      ['192.0.2.12'],
    );
    assert.deepEqual(
      d.resetNeighbors.map((c) => [c.key, c.fields]),
      [['192.0.2.11', ['holdTime', 'keepaliveTime']]],
    );
    assert.deepEqual(
      d.inPlaceNeighbors.map((c) => [c.key, c.fields]),
      [['192.0.2.10', ['description']]],
    );
    assert.deepEqual(d.unchangedNeighbors, []);
    assert.deepEqual(d.globalReset, []);
  });

  test('shutdown and policy changes apply in place; families and local address reset', () => {
    const next = base
      .replace('    description: tor-a', '    description: tor-a\n    shutdown: true')
      .replace(
        '  - address: 192.0.2.11\n    asn: 65000',
        '  - address: 192.0.2.11\n    asn: 65000\n    families: [ipv4-unicast, ipv6-unicast]',
      )
      .replace(
        '  - address: 192.0.2.12\n    asn: 65000',
        '  - address: 192.0.2.12\n    asn: 65000\n    localAddress: 192.0.2.1',
      );
    const d = diffConfig(cfg(base), cfg(next));
    assert.deepEqual(
      d.inPlaceNeighbors.map((c) => [c.key, c.fields]),
      [['192.0.2.10', ['shutdown']]],
    );
    assert.deepEqual(
      d.resetNeighbors.map((c) => [c.key, c.fields]),
      [
        ['192.0.2.11', ['families']],
        ['192.0.2.12', ['localAddress']],
      ],
    );
  });

  test('a local AS or router-id change resets every neighbour', () => {
    const d = diffConfig(cfg(base), cfg(base.replace('routerId: 192.0.2.1', 'routerId: 192.0.2.2')));
    assert.deepEqual(d.globalReset, ['routerId']);
    assert.equal(d.resetNeighbors.length, 3);
    assert.match(summarizeDiff(d), /routerId changed/);
  });

  test('originate changes: added, removed, changed attributes', () => {
    const next = base.replace('  - 10.1.0.0/24\n', '  - 10.3.0.0/24\n').replace('med: 10', 'med: 20');
    const d = diffConfig(cfg(base), cfg(next));
    assert.deepEqual(
      d.originateAdded.map((o) => o.prefix),
      ['10.3.0.0/24'],
    );
    assert.deepEqual(
      d.originateRemoved.map((o) => o.prefix),
      ['10.1.0.0/24'],
    );
    assert.deepEqual(
      d.originateChanged.map((o) => [o.prefix, o.med]),
      [['10.2.0.0/24', 20]],
    );
    assert.equal(d.addedNeighbors.length + d.removedNeighbors.length + d.resetNeighbors.length, 0);
  });

  test('sections owned by later layers are reported by name', () => {
    const d = diffConfig(cfg(base), cfg(`${base}kernel:\n  table: 100\n`));
    assert.deepEqual(d.otherSections, ['kernel']);
    assert.equal(d.resetNeighbors.length, 0);
  });
});
