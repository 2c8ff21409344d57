import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testTempDir } from '../../testing/temp-dir.ts';
import { canonicalNet, loadPolicyModel, PolicyValidationError, sortPolicies } from './model.ts';
import { loadPolicyPath } from './store.ts';

function issues(text: string, file = 'p.yaml') {
  try {
    loadPolicyModel([{ file, text }]);
  } catch (e) {
    if (e instanceof PolicyValidationError) return e.issues;
    throw e;
  }
  assert.fail('expected a validation error');
}

describe('policy model validation', () => {
  test('a valid file loads with defaults filled in', () => {
    const m = loadPolicyModel([
      {
        file: 'ok.yaml',
        text: `endpoints:
  - {name: a, interface: cali1, ipv4: [10.0.0.1], ipv6: ['fd00:0::1'], mac: 02:AA:00:00:00:01, profiles: [p]}
profiles:
  - name: p
    ingress: [{action: allow, protocol: tcp, destination: {ports: [80, '1000-2000']}}]
policies:
  - {name: q, egress: [{action: deny}]}
`,
      },
    ]);
    assert.equal(m.endpoints[0]!.mac, '02:aa:00:00:00:01');
    assert.deepEqual(m.endpoints[0]!.ipv6, ['fd00::1'], 'IPv6 addresses are stored in canonical form');
    assert.deepEqual(m.profiles[0]!.ingress[0]!.destination.ports, [
      { from: 80, to: 80 },
      { from: 1000, to: 2000 },
    ]);
    assert.equal(m.policies[0]!.selector, 'all()');
    assert.deepEqual(m.policies[0]!.types, ['ingress', 'egress']);
  });

  test('schema errors name the file, the field path and the line', () => {
    const got = issues(`endpoints:
  - name: a
    interface: thisnameistoolongforlinux
    ipv4: 10.0.0.1
policies:
  - name: p
    ingress:
      - action: permit
`);
    const byPath = new Map(got.map((i) => [i.path, i]));
    assert.equal(byPath.get('endpoints[0].interface')?.line, 3);
    assert.match(byPath.get('endpoints[0].interface')!.message, /15 characters/);
    assert.equal(byPath.get('endpoints[0].ipv4')?.line, 4);
    assert.equal(byPath.get('policies[0].ingress[0].action')?.line, 8);
    assert.ok(got.every((i) => i.file === 'p.yaml'));
  });

  test('semantic errors: addresses, references, selectors, ports without protocol, mixed families', () => {
    const got = issues(`endpoints:
  - {name: a, interface: cali1, ipv4: [10.0.0.1/24], profiles: [nope]}
  - {name: b, interface: cali1, ipv4: [10.0.0.2]}
policies:
  - name: p
    selector: "app =="
    ingress:
      - {action: allow, destination: {ports: [80]}}
      - {action: allow, protocol: icmp, source: {nets: ['fd00::/8']}}
      - {action: allow, source: {addressSets: [missing]}}
      - {action: allow, protocol: tcp, icmp: {type: 8}}
`);
    const text = got.map((i) => `${i.line} ${i.path}: ${i.message}`).join('\n');
    assert.match(text, /2 endpoints\[0\]\.ipv4\[0\]: "10\.0\.0\.1\/24" is not an IPv4 address/);
    assert.match(text, /2 endpoints\[0\]\.profiles\[0\]: unknown profile "nope"/);
    assert.match(text, /3 endpoints\[1\]\.interface: interface cali1 is already used by endpoint a/);
    assert.match(text, /6 policies\[0\]\.selector: selector "app ==": expected a quoted value/);
    assert.match(text, /8 policies\[0\]\.ingress\[0\]\.destination\.ports: ports need protocol/);
    assert.match(text, /9 policies\[0\]\.ingress\[1\]: the rule mixes IPv4 and IPv6/);
    assert.match(
      text,
      /10 policies\[0\]\.ingress\[2\]\.source\.addressSets\[0\]: unknown address set "missing"/,
    );
    assert.match(text, /11 policies\[0\]\.ingress\[3\]\.icmp: icmp needs protocol icmp or icmpv6/);
  });

  test('YAML syntax errors carry the line', () => {
    const got = issues('endpoints:\n  - name: a\n   bad: [\n');
    assert.ok(got.length > 0);
    assert.ok(got[0]!.line !== undefined && got[0]!.line >= 2, JSON.stringify(got));
    assert.match(got[0]!.message, /^YAML: /);
  });

  test('a directory merges its files, and duplicates name both places', () => {
    const dir = testTempDir('tsbpol-');
    writeFileSync(
      join(dir, '10-endpoints.yaml'),
      'endpoints:\n  - {name: a, interface: cali1, ipv4: [10.0.0.1], profiles: [p]}\n',
    );
    writeFileSync(join(dir, '20-profiles.yml'), 'profiles:\n  - {name: p, egress: [{action: allow}]}\n');
    writeFileSync(join(dir, 'README.txt'), 'not policy');
    const m = loadPolicyPath(dir);
    assert.equal(m.endpoints.length, 1);
    assert.equal(m.profiles.length, 1);
    writeFileSync(join(dir, '30-dup.yaml'), 'profiles:\n\n  - {name: p}\n');
    assert.throws(
      () => loadPolicyPath(dir),
      (e: unknown) =>
        e instanceof PolicyValidationError &&
        /30-dup\.yaml:3: profiles\[0\]\.name: duplicate profile name "p" \(first defined in .*20-profiles\.yml:2\)/.test(
          e.message,
        ),
    );
  });

  test('tiers: loaded with their orders; policies name them or fall in the implicit default tier', () => {
    const m = loadPolicyModel([
      {
        file: 't.yaml',
        text: `tiers:
  - {name: security, order: 100}
  - {name: late, defaultAction: pass}
policies:
  - {name: a, tier: security, ingress: [{action: pass}]}
  - {name: b, tier: default}
  - {name: c}
`,
      },
    ]);
    assert.deepEqual(m.tiers, [
      { name: 'security', order: 100 },
      { name: 'late', defaultAction: 'pass' },
    ]);
    assert.deepEqual(
      m.policies.map((p) => p.tier),
      ['security', 'default', undefined],
    );
    assert.deepEqual(
      sortPolicies(
        [
          ...m.policies,
          { ...m.policies[2]!, name: 'd', tier: 'late' },
          { ...m.policies[2]!, name: 'e', order: 1 },
        ],
        m.tiers,
      ).map((p) => p.name),
      ['a', 'e', 'b', 'c', 'd'],
      'security (100), default (1,000,000: e by order, then b and c by name), late (no order)',
    );
  });

  test('tier errors: an unknown tier names the field and line; a tier defined twice names both places', () => {
    const got = issues(`tiers:
  - {name: security, order: 1}
policies:
  - name: p
    tier: secrity
  - {name: q, tier: security}
`);
    assert.deepEqual(
      got.map((i) => `${i.file}:${i.line}: ${i.path}: ${i.message}`),
      ['p.yaml:5: policies[0].tier: unknown tier "secrity" (declare it under tiers, or use default)'],
    );
    const dir = testTempDir('tsbpol-');
    writeFileSync(join(dir, '10-tiers.yaml'), 'tiers:\n  - {name: security, order: 1}\n');
    writeFileSync(
      join(dir, '20-more.yaml'),
      'tiers:\n  - name: platform\n  - name: security\n    order: 2\n',
    );
    assert.throws(
      () => loadPolicyPath(dir),
      (e: unknown) =>
        e instanceof PolicyValidationError &&
        e.issues.length === 1 &&
        /20-more\.yaml:3: tiers\[1\]\.name: duplicate tier name "security" \(first defined in .*10-tiers\.yaml:2\)/.test(
          e.message,
        ),
    );
    assert.match(issues('tiers: [{order: 1}]')[0]!.path, /^tiers\[0\]\.name$/);
  });

  test('networks are canonicalised as the kernel prints them', () => {
    assert.equal(canonicalNet('10.1.2.3/24'), '10.1.2.0/24');
    assert.equal(canonicalNet('10.1.2.3/32'), '10.1.2.3');
    assert.equal(canonicalNet('fd00:0:0::1/64'), 'fd00::/64');
    assert.equal(canonicalNet('fd00:1:2:3:4:5:6:7/100'), 'fd00:1:2:3:4:5::/100');
    assert.equal(canonicalNet('300.1.1.1'), undefined);
    assert.equal(canonicalNet('10.0.0.0/33'), undefined);
  });
});
