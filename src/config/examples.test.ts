// Every example config, and every YAML block of docs/configuration.md, must validate: the docs
// cannot drift from the schema.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfigFile, parseConfig } from './loader.ts';

const root = join(import.meta.dirname, '..', '..');
const host = () => [{ interface: 'eth0', address: '192.0.2.10', family: 4 as const, internal: false }];

describe('examples', () => {
  const files = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'));
  test('there are examples for each role', () => {
    for (const role of ['host.yaml', 'route-reflector.yaml', 'tor-peering.yaml'])
      assert.ok(files.includes(role), role);
  });
  for (const f of files) {
    test(`examples/${f} is valid`, async () => {
      const c = await loadConfigFile(join(root, 'examples', f), { hostAddresses: host });
      assert.ok(c.asn > 0);
      assert.ok(c.neighbors.length > 0);
    });
  }

  test('every full YAML block of docs/configuration.md is valid', () => {
    const md = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
    const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.ok(blocks.length >= 4);
    let full = 0;
    for (const b of blocks) {
      // Fragments (a policies section alone) are checked inside a minimal config.
      const text = /^asn:/m.test(b) ? b : `asn: 65001\n${b}`;
      if (/^asn:/m.test(b)) full++;
      parseConfig(text, 'docs/configuration.md', { hostAddresses: host });
    }
    assert.ok(full >= 3);
  });
});
