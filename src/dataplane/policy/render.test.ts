import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderImage } from './golden.ts';
import type { Endpoint, EntityMatch, PolicyModel, Rule } from './model.ts';
import { loadPolicyModel } from './model.ts';
import { chainRuleHashes, MAX_CHAIN_NAME, MAX_IPSET_NAME, Names } from './names.ts';
import {
  type DesiredState,
  endpointsOutsidePrefixes,
  RenderCache,
  renderPolicy,
  splitRule,
} from './render.ts';

const dir = join(import.meta.dirname, 'testdata');

/**
 * Everything a rendered state says, in a canonical order: a render through a cache updates the
 * last state in place, so its chain and set maps iterate in another order than a fresh render's.
 */
function canonical(s: DesiredState): string {
  const out: string[] = [];
  for (const f of [4, 6] as const) {
    const t = s.tables[f];
    out.push(`# table ${f}`, ...t.hooks.map((h) => `hook ${h.builtin} ${h.rule}`));
    for (const name of [...t.chains.keys()].sort()) {
      const c = t.chains.get(name)!;
      assert.equal(c.name, name);
      out.push(`:${name}`, ...c.rules);
    }
  }
  for (const name of [...s.ipsets.keys()].sort()) {
    const set = s.ipsets.get(name)!;
    out.push(`set ${name} ${set.type} ${set.family} ${set.purpose}`, ...set.members);
  }
  out.push(JSON.stringify(s.endpoints));
  out.push(JSON.stringify([...s.endpointAddresses].sort(([a], [b]) => (a < b ? -1 : 1))));
  return out.join('\n');
}
const load = (f: string): PolicyModel =>
  loadPolicyModel([{ file: f, text: readFileSync(join(dir, f), 'utf8') }]);

describe('renderPolicy golden output', () => {
  test('basic.yaml renders to the golden restore input (UPDATE_GOLDEN=1 rewrites it)', () => {
    const image = renderImage(renderPolicy(load('basic.yaml')), 'tsb');
    const goldenPath = join(dir, 'basic.golden');
    if (process.env.UPDATE_GOLDEN) writeFileSync(goldenPath, image);
    assert.equal(image, readFileSync(goldenPath, 'utf8'));
  });

  test('tiers.yaml renders to the golden restore input (UPDATE_GOLDEN=1 rewrites it)', () => {
    const image = renderImage(renderPolicy(load('tiers.yaml')), 'tsb');
    const goldenPath = join(dir, 'tiers.golden');
    if (process.env.UPDATE_GOLDEN) writeFileSync(goldenPath, image);
    assert.equal(image, readFileSync(goldenPath, 'utf8'));
  });

  test('policies in the default tier alone render as without tiers, however the tier is named or ordered', () => {
    const m = load('basic.yaml');
    const plain = renderImage(renderPolicy(m), 'tsb');
    const named: PolicyModel = { ...m, policies: m.policies.map((p) => ({ ...p, tier: 'default' })) };
    assert.equal(renderImage(renderPolicy(named), 'tsb'), plain);
    // A declared but unused tier, and the default tier declared with another order, change nothing.
    const declared: PolicyModel = {
      ...named,
      tiers: [
        { name: 'default', order: 5 },
        { name: 'unused', order: 1 },
      ],
    };
    assert.equal(renderImage(renderPolicy(declared), 'tsb'), plain);
  });

  test('tiers run by order, then name; a tier without an order runs after those with one', () => {
    const m = load('tiers.yaml');
    const names = new Names('tsb');
    // The order of policy jumps in web-1's ingress chain, by policy name.
    const jumps = (model: PolicyModel): string[] => {
      const s = renderPolicy(model);
      const byChain = new Map(model.policies.map((p) => [names.policy('ingress', p.name), p.name]));
      return s.tables[4].chains
        .get('tsb-tw-cali-web1')!
        .rules.map((r) => / -j (tsb-pi-\S+)$/.exec(r)?.[1])
        .filter((c): c is string => c !== undefined)
        .map((c) => byChain.get(c)!);
    };
    assert.deepEqual(jumps(m), ['ssh-from-ops', 'block-bad-nets', 'web-http']);
    // The default tier declared first: its policy runs before the security tier's.
    assert.deepEqual(jumps({ ...m, tiers: [...m.tiers!, { name: 'default', order: 1 }] }), [
      'web-http',
      'ssh-from-ops',
      'block-bad-nets',
    ]);
    // Equal orders: by name ('default' < 'security'); no order: last.
    assert.deepEqual(
      jumps({
        ...m,
        tiers: [
          { name: 'security', order: 7 },
          { name: 'default', order: 7 },
        ],
      }),
      ['web-http', 'ssh-from-ops', 'block-bad-nets'],
    );
    assert.deepEqual(jumps({ ...m, tiers: [{ name: 'security' }, { name: 'platform', order: 1 }] }), [
      'web-http',
      'ssh-from-ops',
      'block-bad-nets',
    ]);
  });

  test('a tier whose defaultAction is pass has no end-of-tier drop; the others keep theirs', () => {
    const m = load('tiers.yaml');
    const rules = (model: PolicyModel, chain: string): string[] =>
      renderPolicy(model, { ipv6: false }).tables[4].chains.get(chain)!.rules;
    const passing: PolicyModel = {
      ...m,
      tiers: m.tiers!.map((t) => (t.name === 'security' ? { ...t, defaultAction: 'pass' as const } : t)),
    };
    const strip = (r: string): string => splitRule(r).text;
    const before = rules(m, 'tsb-tw-cali-db1').map(strip);
    const after = rules(passing, 'tsb-tw-cali-db1').map(strip);
    const securityEnd =
      '-m comment --comment "End of tier security: drop" -m mark --mark 0x0/0x20000 -j DROP';
    assert.ok(before.includes(securityEnd));
    // The same rules less the security tier's end; the pass bit is still cleared for platform.
    assert.deepEqual(
      after,
      before.filter((r) => r !== securityEnd),
    );
    assert.ok(after.includes('-j MARK --set-xmark 0x0/0x20000'));
    // The default tier alone, passing: no drop of any kind before the profiles.
    const basic = load('basic.yaml');
    const open = rules({ ...basic, tiers: [{ name: 'default', defaultAction: 'pass' }] }, 'tsb-tw-cali-db1');
    assert.ok(!open.some((r) => / -m mark --mark 0x0\/0x20000 -j DROP$/.test(r)));
    assert.ok(rules(basic, 'tsb-tw-cali-db1').some((r) => / Drop if no policy allowed" /.test(r)));
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
    // The first render through a cache is a full one, in the same order as the golden image.
    assert.equal(renderImage(renderPolicy(m, {}, cache), 'tsb'), renderImage(renderPolicy(m), 'tsb'));
    const changed: PolicyModel = {
      ...m,
      endpoints: m.endpoints.map((e) => (e.name === 'web-2' ? { ...e, labels: {} } : e)),
    };
    const d = renderPolicy(changed, {}, cache);
    assert.ok(d.delta, 'an endpoint-only change is rendered incrementally');
    assert.equal(canonical(d), canonical(renderPolicy(changed)));
    assert.equal(canonical(renderPolicy(m, {}, cache)), canonical(renderPolicy(m)));
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
          interface: `cali${i.toString(16).padStart(3, '0')}`,
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
    const tiered: PolicyModel = {
      ...base,
      tiers: [
        { name: 'first', order: 0 },
        { name: 'second', order: 1 },
      ],
      policies: m.policies.map((p, i) => ({ ...p, tier: i === 0 ? 'first' : 'second' })),
    };
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
          { ...eps[0]!, name: 'gen-x', interface: 'califff0', ipv4: ['10.99.9.9'] },
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
      // Policies moved into tiers, then the tiers' order swapped (the same policy objects).
      tiered,
      { ...tiered, tiers: [...tiered.tiers!].reverse().map((t, i) => ({ ...t, order: i })) },
      { ...tiered, tiers: tiered.tiers!.map((t) => ({ ...t, defaultAction: 'pass' as const })) },
      base,
    ];
    const cache = new RenderCache();
    for (const [i, step] of steps.entries()) {
      const got = renderPolicy(step, opts, cache);
      if (i > 0 && step.tiers !== steps[i - 1]!.tiers) assert.equal(got.delta, undefined, `step ${i}`);
      assert.equal(canonical(got), canonical(renderPolicy(step, opts)), `step ${i}`);
    }
  });
});

/**
 * basic.yaml with its policies spread over tiers, and a tier of its own that passes some
 * endpoints on and leaves others to its end-of-tier drop: endpoints then differ in which tiers
 * apply to them, and in which direction.
 */
function tieredBasic(m: PolicyModel): PolicyModel {
  const side = (): EntityMatch => ({
    nets: [],
    notNets: [],
    addressSets: [],
    notAddressSets: [],
    ports: [],
    notPorts: [],
  });
  const pass = (protocol?: string): Rule => ({
    action: 'pass',
    ...(protocol ? { protocol } : {}),
    source: side(),
    destination: side(),
  });
  return {
    ...m,
    tiers: [
      { name: 'security', order: 10 },
      { name: 'apps', order: 20, defaultAction: 'pass' },
    ],
    policies: [
      ...m.policies.map((p, i) => (i === 0 ? { ...p, tier: 'apps' } : p)),
      {
        name: 'quarantine',
        tier: 'security',
        order: 1,
        selector: "app in {'web', 'other'}",
        types: ['ingress', 'egress'],
        ingress: [pass('tcp')],
        egress: [pass()],
      },
    ],
  };
}

describe('incremental render (endpoint-only changes)', () => {
  for (const [ipv6, tiered] of [
    [true, false],
    [false, false],
    [true, true],
  ] as const)
    test(`random add/remove/change sequences equal a fresh render at every step (ipv6 ${ipv6}, tiers ${tiered})`, () => {
      const m = tiered ? tieredBasic(load('basic.yaml')) : load('basic.yaml');
      let seed = ipv6 ? (tiered ? 5 : 7) : 11;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const apps = ['web', 'db', 'other'];
      const make = (i: number): Endpoint => ({
        name: `r${i}`,
        // A small alphabet and fan-out for a deep dispatch tree whose stems move.
        interface: `cali${['a', 'b', 'ab', 'ba', 'aa', ''][rnd(6)]}${i.toString(3)}`,
        // Some addresses shared between endpoints: a set keeps one while an endpoint has it.
        ipv4: rnd(4) === 0 ? [`10.70.0.${rnd(8)}`, `10.71.${i >> 8}.${i & 255}`] : [`10.70.1.${rnd(40)}`],
        ipv6: rnd(2) === 0 ? [`fd70::${rnd(30).toString(16)}`] : [],
        labels: rnd(5) === 0 ? { app: apps[rnd(3)]!, blocked: 'y' } : { app: apps[rnd(3)]! },
        profiles: [['base'], ['monitoring'], ['base', 'monitoring'], []][rnd(4)]!,
      });
      let next = 0;
      let eps: Endpoint[] = [];
      const taken = new Set<string>();
      const fresh = (): Endpoint => {
        for (;;) {
          const e = make(next++);
          if (!taken.has(e.interface)) return e;
        }
      };
      const opts = { dispatchFanout: 3, ipv6 };
      const cache = new RenderCache();
      let incremental = 0;
      for (let step = 0; step < 160; step++) {
        // A new array each step: the cache keeps the last snapshot, which must not be mutated.
        eps = [...eps];
        const op = eps.length < 4 ? 0 : rnd(4);
        if (op === 0 || op === 3) {
          for (let k = 0; k <= rnd(3); k++) {
            const e = fresh();
            taken.add(e.interface);
            eps.splice(rnd(eps.length + 1), 0, e);
          }
        } else if (op === 1) {
          const [gone] = eps.splice(rnd(eps.length), 1);
          taken.delete(gone!.interface);
        } else {
          const i = rnd(eps.length);
          const e = make(next++);
          eps[i] = { ...eps[i]!, labels: e.labels, profiles: e.profiles, ipv4: e.ipv4, ipv6: e.ipv6 };
        }
        const model: PolicyModel = { ...m, endpoints: eps };
        const got = renderPolicy(model, opts, cache);
        if (got.delta) incremental++;
        assert.equal(canonical(got), canonical(renderPolicy(model, opts)), `step ${step}`);
      }
      assert.ok(incremental >= 159, `${incremental} of 160 renders were incremental`);
    });

  test('a one-endpoint change names only the chains and sets it touched', () => {
    const m = load('basic.yaml');
    const cache = new RenderCache();
    renderPolicy(m, {}, cache);
    const web3: Endpoint = {
      ...m.endpoints[0]!,
      name: 'web-3',
      interface: 'cali-web3',
      ipv4: ['10.65.0.9'],
      ipv6: [],
    };
    const d = renderPolicy({ ...m, endpoints: [...m.endpoints, web3] }, {}, cache);
    assert.deepEqual([...d.delta!.chains[4]].sort(), [
      'tsb-from-wl-dispatch',
      'tsb-fw-cali-web3',
      'tsb-to-wl-dispatch',
      'tsb-tw-cali-web3',
    ]);
    assert.deepEqual([...d.delta!.sets], []);
    const added = [...d.delta!.members.values()].flatMap((x) => [...x.add]);
    assert.ok(added.includes('10.65.0.9'));
    assert.deepEqual(d.delta!.changedEndpoints, []);
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

  test('every rule comment fits the kernel limit (255 characters), even for a 253-character endpoint name', () => {
    const m = load('basic.yaml');
    const long = `e${'x'.repeat(252)}`;
    const first = m.endpoints[0]!;
    const s = renderPolicy({ ...m, endpoints: [{ ...first, name: long }, ...m.endpoints.slice(1)] }, {});
    let seen = 0;
    for (const f of [4, 6] as const)
      for (const c of s.tables[f].chains.values())
        for (const r of c.rules)
          for (const [, text] of r.matchAll(/--comment "([^"]*)"/g)) {
            assert.ok(text!.length <= 255, `${text!.length}-character comment in ${c.name}`);
            if (/^tsb:\S{16} Default drop: endpoint ex/.test(text!)) seen++;
          }
    assert.ok(seen >= 2, 'the long name is in (the start of) its endpoint chains’ default-drop comments');
  });

  test('an endpoint joining a selector changes only set members, never a rule hash', () => {
    const m = load('basic.yaml');
    const before = renderPolicy(m);
    const extra: Endpoint = {
      name: 'web-3',
      interface: 'cali-web3',
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
        assert.ok(r.startsWith(`-m comment --comment "tsb:${c.hashes[i]}`), r);
        assert.equal(splitRule(r).hash, c.hashes[i], r);
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
    assert.deepEqual(a.chains.get('tsb-fw-cali-db1')!.hashes, b.chains.get('tsb-fw-cali-db1')!.hashes);
  });

  test('a full re-render through the cache (a policy changed) equals a fresh render and reuses unchanged chains', () => {
    const m = load('basic.yaml');
    const cache = new RenderCache();
    const first = renderPolicy(m, {}, cache);
    const before = new Map(first.tables[4].chains);
    const p = m.policies.find((x) => x.name === 'egress-limits')!;
    const changed = {
      ...m,
      policies: m.policies.map((x) => (x === p ? { ...p, egress: p.egress.slice(1) } : x)),
    };
    const again = renderPolicy(changed, {}, cache);
    assert.equal(again.delta, undefined, 'a policy change renders in full');
    assert.equal(canonical(again), canonical(renderPolicy(changed)));
    // The hook chains come out of the hash memo (same name, same texts), the changed policy's
    // chain does not (same name, other texts).
    assert.equal(again.tables[4].chains.get('tsb-FORWARD'), before.get('tsb-FORWARD'));
    const changedChain = new Names('tsb').policy('egress', 'egress-limits');
    assert.ok(before.has(changedChain));
    assert.notEqual(again.tables[4].chains.get(changedChain), before.get(changedChain));
    // Each chain's restore lines, rules and hashes agree, and the hashes are chainRuleHashes'.
    for (const s of [first, again])
      for (const f of [4, 6] as const)
        for (const c of s.tables[f].chains.values()) {
          assert.equal(c.restoreLines, c.rules.map((r) => `-A ${c.name} ${r}\n`).join(''), c.name);
          const texts = c.rules.map((r) => splitRule(r).text);
          assert.deepEqual(c.hashes, chainRuleHashes(c.name, texts), c.name);
        }
  });

  test('the dispatch tree bounds each chain to the fan-out and reaches every endpoint once', () => {
    const endpoints: Endpoint[] = [];
    for (let i = 0; i < 10000; i++)
      endpoints.push({
        name: `e${i}`,
        interface: `cali${i.toString(16).padStart(5, '0')}`,
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

  test("workload interfaces default to Calico's cali prefix, configurable, and unknown ones are dropped", () => {
    const m = load('basic.yaml');
    const hooks = (s: DesiredState): string[] =>
      ['tsb-FORWARD', 'tsb-INPUT', 'tsb-OUTPUT'].flatMap((c) => s.tables[4].chains.get(c)!.rules);
    const dflt = renderPolicy(m);
    assert.ok(hooks(dflt).some((r) => r.endsWith('-i cali+ -j tsb-from-wl-dispatch')));
    assert.ok(hooks(dflt).some((r) => r.endsWith('-o cali+ -j tsb-to-wl-dispatch')));
    assert.ok(
      hooks(dflt).every((r) => !/ -[io] (?!cali\+)\S+\+/.test(r)),
      'no other prefix is hooked',
    );
    assert.deepEqual(endpointsOutsidePrefixes(m.endpoints, ['cali']), []);
    const renamed = {
      ...m,
      endpoints: m.endpoints.map((e) => ({ ...e, interface: e.interface.replace('cali', 'tap') })),
    };
    const tap = renderPolicy(renamed, { workloadInterfacePrefixes: ['tap', 'veth'] });
    for (const p of ['tap', 'veth'])
      assert.ok(hooks(tap).some((r) => r.endsWith(`-i ${p}+ -j tsb-from-wl-dispatch`)));
    assert.match(
      tap.tables[4].chains.get('tsb-from-wl-dispatch')!.rules.join('\n'),
      /-i tap-web1 -g tsb-fw-tap-web1/,
    );
    assert.equal(endpointsOutsidePrefixes(renamed.endpoints, ['cali']).length, 3);
    // Dispatch ends in a commented drop for workload interfaces with no endpoint.
    for (const c of ['tsb-from-wl-dispatch', 'tsb-to-wl-dispatch'])
      assert.match(dflt.tables[4].chains.get(c)!.rules.at(-1)!, / Unknown interface" -j DROP$/);
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
