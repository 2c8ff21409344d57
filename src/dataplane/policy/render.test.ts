import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderImage } from './golden.ts';
import type { Endpoint, PolicyModel } from './model.ts';
import { loadPolicyModel } from './model.ts';
import { MAX_CHAIN_NAME, MAX_IPSET_NAME } from './names.ts';
import { RenderCache, renderPolicy } from './render.ts';

const dir = join(import.meta.dirname, 'testdata');
const load = (f: string): PolicyModel =>
  loadPolicyModel([{ file: f, text: readFileSync(join(dir, f), 'utf8') }]);

describe('renderPolicy golden output', () => {
  test('basic.yaml renders to the golden restore input (UPDATE_GOLDEN=1 rewrites it)', () => {
    const image = renderImage(renderPolicy(load('basic.yaml')), 'tsb');
    const goldenPath = join(dir, 'basic.golden');
    if (process.env.UPDATE_GOLDEN) writeFileSync(goldenPath, image);
    assert.equal(image, readFileSync(goldenPath, 'utf8'));
  });

  test('rendering is deterministic and independent of input order', () => {
    const m = load('basic.yaml');
    const shuffled: PolicyModel = {
      ...m,
      endpoints: [...m.endpoints].reverse(),
      policies: [...m.policies].reverse(),
      profiles: [...m.profiles].reverse(),
    };
    assert.equal(renderImage(renderPolicy(shuffled), 'tsb'), renderImage(renderPolicy(m), 'tsb'));
  });

  test('a cached render equals an uncached one, across changes', () => {
    const m = load('basic.yaml');
    const cache = new RenderCache();
    assert.equal(renderImage(renderPolicy(m, {}, cache), 'tsb'), renderImage(renderPolicy(m), 'tsb'));
    const changed: PolicyModel = {
      ...m,
      endpoints: m.endpoints.map((e) => (e.name === 'web-2' ? { ...e, labels: {} } : e)),
    };
    assert.equal(
      renderImage(renderPolicy(changed, {}, cache), 'tsb'),
      renderImage(renderPolicy(changed), 'tsb'),
    );
    assert.equal(renderImage(renderPolicy(m, {}, cache), 'tsb'), renderImage(renderPolicy(m), 'tsb'));
  });

  test('the incremental caches (dispatch subtrees, profile chains, set members) track every kind of change', () => {
    const m = load('basic.yaml');
    const template = m.endpoints[0]!;
    // Enough endpoints, and a small fan-out, for a dispatch tree several levels deep.
    const many = (count: number, skip = -1): Endpoint[] => {
      const out: Endpoint[] = [];
      for (let i = 0; i < count; i++) {
        if (i === skip) continue;
        out.push({
          ...template,
          name: `gen-${i}`,
          interface: `tsbw${i.toString(16).padStart(3, '0')}`,
          ipv4: [`10.99.${i >> 8}.${i & 255}`],
          ipv6: [],
          labels: { ...template.labels, n: String(i % 3) },
        });
      }
      return out;
    };
    const opts = { dispatchFanout: 4 };
    const eps = many(70);
    const base: PolicyModel = { ...m, endpoints: [...m.endpoints, ...eps] };
    const profile = m.profiles[0]!;
    const steps: PolicyModel[] = [
      base,
      // One endpoint gone from the middle of a dispatch subtree.
      { ...base, endpoints: [...m.endpoints, ...eps.filter((e) => e.name !== 'gen-37')] },
      // A new endpoint in a new subtree.
      {
        ...base,
        endpoints: [
          ...m.endpoints,
          ...eps,
          { ...eps[0]!, name: 'gen-x', interface: 'tsbwfff0', ipv4: ['10.99.9.9'] },
        ],
      },
      // A profile's rules replaced (a new array), then the profile list reordered.
      {
        ...base,
        profiles: [{ ...profile, ingress: profile.egress, egress: profile.ingress }, ...m.profiles.slice(1)],
      },
      { ...base, profiles: [...m.profiles].reverse() },
      // An address set's members changed.
      { ...base, addressSets: m.addressSets.map((a) => ({ ...a, nets: [...a.nets, '198.51.100.7/32'] })) },
      base,
    ];
    const cache = new RenderCache();
    for (const [i, step] of steps.entries())
      assert.equal(
        renderImage(renderPolicy(step, opts, cache), 'tsb'),
        renderImage(renderPolicy(step, opts), 'tsb'),
        `step ${i}`,
      );
  });
});

describe('renderPolicy properties', () => {
  test('every chain and set name fits the kernel limits and carries the prefix', () => {
    const s = renderPolicy(load('basic.yaml'), { prefix: 'abcde' });
    for (const f of [4, 6] as const) {
      for (const name of s.tables[f].chains.keys()) {
        assert.ok(name.length <= MAX_CHAIN_NAME, name);
        assert.ok(name.startsWith('abcde-'), name);
      }
    }
    for (const name of s.ipsets.keys()) {
      assert.ok(name.length <= MAX_IPSET_NAME, name);
      assert.ok(name.startsWith('abcde'), name);
    }
  });

  test('an endpoint joining a selector changes only set members, never a rule hash', () => {
    const m = load('basic.yaml');
    const before = renderPolicy(m);
    const extra: Endpoint = {
      name: 'web-3',
      interface: 'tsbw-web3',
      ipv4: ['10.65.0.9'],
      ipv6: [],
      labels: { app: 'web' },
      profiles: [],
    };
    const after = renderPolicy({ ...m, endpoints: [...m.endpoints, extra] });
    // The policy and profile chains are untouched.
    for (const [name, chain] of before.tables[4].chains) {
      if (/-(p[io]|pr[io])-/.test(name))
        assert.deepEqual(after.tables[4].chains.get(name)?.hashes, chain.hashes, name);
    }
    const sel = [...after.ipsets.values()].find((s) => s.purpose.startsWith('selector') && s.family === 4)!;
    assert.ok(sel.members.includes('10.65.0.9'));
    assert.ok(!before.ipsets.get(sel.name)!.members.includes('10.65.0.9'));
  });

  test('each rule carries a unique hash comment, and the hashes chain: changing one rule changes it and its successors', () => {
    const m = load('basic.yaml');
    const a = renderPolicy(m).tables[4];
    for (const c of a.chains.values()) {
      c.rules.forEach((r, i) => {
        assert.ok(r.startsWith(`-m comment --comment "tsb:${c.hashes[i]}"`), r);
      });
    }
    const p = m.policies.find((x) => x.name === 'egress-limits')!;
    const changed = {
      ...m,
      policies: m.policies.map((x) => (x === p ? { ...p, egress: p.egress.slice(1) } : x)),
    };
    const b = renderPolicy(changed).tables[4];
    const name = [...a.chains.keys()].find((n) => n.startsWith('tsb-po-'))!;
    assert.notDeepEqual(a.chains.get(name)!.hashes, b.chains.get(name)!.hashes);
    assert.deepEqual(a.chains.get('tsb-fw-tsbw-db1')!.hashes, b.chains.get('tsb-fw-tsbw-db1')!.hashes);
  });

  test('the dispatch tree bounds each chain to the fan-out and reaches every endpoint once', () => {
    const endpoints: Endpoint[] = [];
    for (let i = 0; i < 10000; i++)
      endpoints.push({
        name: `e${i}`,
        interface: `tsbw${i.toString(16).padStart(5, '0')}`,
        ipv4: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
        ipv6: [],
        labels: {},
        profiles: [],
      });
    const s = renderPolicy(
      { endpoints, policies: [], profiles: [], addressSets: [] },
      { dispatchFanout: 16, ipv6: false },
    );
    const t = s.tables[4];
    const targets = new Map<string, number>();
    let depth = 0;
    const walk = (chain: string, d: number): void => {
      depth = Math.max(depth, d);
      const rules = t.chains.get(chain)!.rules;
      assert.ok(rules.length <= 17 + 1, `${chain} has ${rules.length} rules`);
      assert.match(rules.at(-1)!, /Unknown interface.* -j DROP$/);
      for (const r of rules) {
        const g = / -g (\S+)$/.exec(r);
        if (!g) continue;
        if (g[1]!.startsWith('tsb-fd-')) walk(g[1]!, d + 1);
        else targets.set(g[1]!, (targets.get(g[1]!) ?? 0) + 1);
      }
    };
    walk('tsb-from-wl-dispatch', 1);
    assert.equal(targets.size, 10000);
    assert.ok([...targets.values()].every((n) => n === 1));
    assert.ok(depth <= 5, `depth ${depth}`);
  });

  test('IPv4-only matches are left out of the IPv6 table and vice versa', () => {
    const s = renderPolicy(load('basic.yaml'));
    const v6 = [...s.tables[6].chains.values()].flatMap((c) => c.rules).join('\n');
    const v4 = [...s.tables[4].chains.values()].flatMap((c) => c.rules).join('\n');
    assert.ok(!v6.includes('10.9.0.0/16'));
    assert.ok(!v6.includes('-p icmp '));
    assert.ok(!v4.includes('icmpv6'));
    assert.ok(v6.includes('-m multiport --dports 16 '), 'the 16th port goes into a second multiport rule');
  });
});
