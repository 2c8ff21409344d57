import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalAddress, parsePrefix, prefixContains, prefixesOverlap } from './net.ts';
import { formatAsdot, globToRegExp, parseAsn, parseCommunity, parseLargeCommunity } from './values.ts';

describe('ASN parsing (RFC 5396)', () => {
  test('asplain and asdot', () => {
    assert.equal(parseAsn(65000), 65000);
    assert.equal(parseAsn('65000'), 65000);
    assert.equal(parseAsn('1.10'), 65546);
    assert.equal(parseAsn('65535.65535'), 0xffffffff);
    assert.equal(parseAsn(4294967295), 4294967295);
  });
  test('out of range and malformed values are errors', () => {
    for (const bad of [4294967296, -1, 1.5, '65536.0', 'AS65000', '', '1.2.3']) {
      assert.equal(typeof parseAsn(bad), 'string', String(bad));
    }
  });
  test('asdot round-trips for every 32-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (asn) => {
        assert.equal(parseAsn(formatAsdot(asn)), asn);
      }),
    );
  });
});

describe('communities', () => {
  test('standard, well-known and large', () => {
    assert.equal(parseCommunity('65000:100'), 65000 * 65536 + 100);
    assert.equal(parseCommunity('no-export'), 0xffffff01);
    assert.equal(parseCommunity('NO-ADVERTISE'), 0xffffff02);
    assert.equal(typeof parseCommunity('65536:1'), 'string');
    assert.equal(typeof parseCommunity('1'), 'string');
    assert.deepEqual(parseLargeCommunity('4200000000:1:2'), [4200000000, 1, 2]);
    assert.equal(typeof parseLargeCommunity('4294967296:1:2'), 'string');
  });
});

describe('prefixes', () => {
  test('canonical form and host bits', () => {
    assert.equal((parsePrefix('10.0.0.0/8') as { text: string }).text, '10.0.0.0/8');
    assert.equal((parsePrefix('2001:DB8:0::/32') as { text: string }).text, '2001:db8::/32');
    assert.match(parsePrefix('10.0.0.1/8') as string, /did you mean 10\.0\.0\.0\/8/);
    assert.match(parsePrefix('10.0.0.0') as string, /not a prefix/);
    assert.match(parsePrefix('10.0.0.0/33') as string, /0\.\.32/);
    assert.match(parsePrefix('::/129') as string, /0\.\.128/);
  });
  test('containment and overlap', () => {
    const p = parsePrefix('10.1.0.0/16');
    const q = parsePrefix('10.1.5.0/24');
    const r = parsePrefix('10.2.0.0/16');
    assert.ok(typeof p !== 'string' && typeof q !== 'string' && typeof r !== 'string');
    assert.ok(prefixContains(p, '10.1.200.3'));
    assert.ok(!prefixContains(p, '10.2.0.1'));
    assert.ok(!prefixContains(p, '2001:db8::1'));
    assert.ok(prefixesOverlap(p, q));
    assert.ok(!prefixesOverlap(p, r));
  });
  test('every masked IPv4 prefix parses to itself', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (addr, len) => {
        const first = parsePrefix(`${addr}/${len}`);
        const canonical = typeof first === 'string' ? /did you mean (\S+)\?/.exec(first)?.[1] : first.text;
        assert.ok(canonical, String(first));
        const again = parsePrefix(canonical);
        assert.ok(typeof again !== 'string');
        assert.equal(again.text, canonical);
      }),
    );
  });
  test('every IPv6 address has one canonical spelling', () => {
    fc.assert(
      fc.property(fc.ipV6(), (addr) => {
        const c = canonicalAddress(addr);
        assert.equal(canonicalAddress(c), c);
        assert.equal(canonicalAddress(c.toUpperCase()), c);
      }),
    );
  });
});

describe('interface globs', () => {
  test('cali* and tap? as Calico writes them', () => {
    assert.ok(globToRegExp('cali*').test('cali12ab34'));
    assert.ok(!globToRegExp('cali*').test('xcali1'));
    assert.ok(globToRegExp('tap?').test('tap1'));
    assert.ok(!globToRegExp('tap?').test('tap12'));
    assert.ok(!globToRegExp('eth.0').test('eth10'));
  });
});
