import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decideMtu, formatMtuReport, type MtuLink, tunnelMtuFor, writeMtuFile } from './mtu.ts';

const link = (name: string, mtu: number, operUp = true): MtuLink => ({ name, mtu, operUp });

describe('tunnel MTU rule', () => {
  test('the four documented cases', () => {
    assert.equal(tunnelMtuFor(1460), 1440); // GCE
    assert.equal(tunnelMtuFor(9001), 8980); // AWS jumbo
    assert.equal(tunnelMtuFor(1500), 1480);
    assert.equal(tunnelMtuFor(9000), 8980);
  });

  test('odd values round down to a multiple of 4', () => {
    assert.equal(tunnelMtuFor(1499), 1476);
    assert.equal(tunnelMtuFor(1450), 1428); // OpenStack VXLAN underlay
    assert.equal(tunnelMtuFor(1403), 1380);
    assert.equal(tunnelMtuFor(65535), 65512);
    assert.equal(tunnelMtuFor(88), 68);
    assert.throws(() => tunnelMtuFor(87), /below the IPv4 minimum 68/);
    assert.throws(() => tunnelMtuFor(0), /not a positive integer/);
    assert.throws(() => tunnelMtuFor(1500.5), /not a positive integer/);
  });

  test('property: multiple of 4, at most host-20, more than host-24', () => {
    fc.assert(
      fc.property(fc.integer({ min: 88, max: 65535 }), (h) => {
        const t = tunnelMtuFor(h);
        assert.equal(t % 4, 0);
        assert.ok(t <= h - 20 && t > h - 24);
      }),
    );
  });
});

describe('MTU detection', () => {
  const links = [
    link('lo', 65536),
    link('eth0', 9001),
    link('eth1', 1500),
    link('cali1', 1440),
    link('ens5', 1460, false),
  ];

  test('the peering interface wins', () => {
    const r = decideMtu({
      links,
      peeringInterface: 'eth0',
      peeringReason: 'holds 10.0.0.5',
      encapsulation: true,
    });
    assert.deepEqual(
      { h: r.hostMtu, t: r.tunnelMtu, w: r.workloadMtu, i: r.interface, s: r.source },
      { h: 9001, t: 8980, w: 8980, i: 'eth0', s: 'peering-interface' },
    );
    assert.match(r.reason, /eth0.*holds 10.0.0.5/);
    assert.match(formatMtuReport(r), /tunnel MTU\s+8980/);
  });

  test('else the minimum over up interfaces matching the pattern (down ones and cali* ignored)', () => {
    const r = decideMtu({ links, encapsulation: true });
    assert.equal(r.hostMtu, 1500);
    assert.equal(r.interface, 'eth1');
    assert.equal(r.source, 'interface-pattern');
    const r2 = decideMtu({ links, peeringInterface: 'gone0', encapsulation: true });
    assert.equal(r2.hostMtu, 1500);
    assert.match(r2.reason, /gone0 not found/);
    const r3 = decideMtu({ links, ifacePattern: '^cali', encapsulation: true });
    assert.equal(r3.hostMtu, 1440);
    assert.throws(
      () => decideMtu({ links, ifacePattern: '(', encapsulation: true }),
      /not a valid regular expression/,
    );
  });

  test('else the 1460 fallback, said so', () => {
    const r = decideMtu({ links: [link('lo', 65536)], encapsulation: true });
    assert.deepEqual([r.hostMtu, r.tunnelMtu, r.source], [1460, 1440, 'fallback']);
    assert.match(r.reason, /assuming 1460/);
  });

  test('config override sets the tunnel MTU outright; no encapsulation means host MTU for workloads', () => {
    const r = decideMtu({ links, peeringInterface: 'eth0', tunnelMtuOverride: 1440, encapsulation: true });
    assert.deepEqual([r.hostMtu, r.tunnelMtu, r.workloadMtu, r.source], [9001, 1440, 1440, 'override']);
    assert.throws(
      () => decideMtu({ links, tunnelMtuOverride: 40, encapsulation: true }),
      /configured tunnel MTU 40 must be/,
    );
    const plain = decideMtu({ links, peeringInterface: 'eth1', encapsulation: false });
    assert.equal(plain.workloadMtu, 1500);
  });

  test('MTU file holds the number alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbgp-mtu-'));
    try {
      const path = join(dir, 'sub', 'mtu');
      writeMtuFile(path, 8980);
      assert.equal(readFileSync(path, 'utf8'), '8980\n');
      writeMtuFile(path, 1440);
      assert.equal(readFileSync(path, 'utf8'), '1440\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
