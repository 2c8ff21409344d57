import assert from 'node:assert/strict';
import { test } from 'node:test';
import bunyan from 'bunyan';
import { PolicyDataplane } from './dataplane.ts';
import type { CommandRunner } from './executor.ts';
import type { Endpoint, PolicyModel } from './model.ts';
import { RenderCache, renderPolicy } from './render.ts';

const log = bunyan.createLogger({ name: 't', level: 'fatal' });

/**
 * A stand-in for the kernel's filter table and ipsets that executes what the dataplane sends
 * (`iptables-restore --noflush`, `ipset restore`) and prints what `-save` would, so an apply
 * driven by render deltas can be checked against a full read-back.
 */
function fakeKernel(): { run: CommandRunner; restores: string[] } {
  const table = (): Map<string, string[]> =>
    new Map([
      ['INPUT', []],
      ['FORWARD', []],
      ['OUTPUT', []],
    ]);
  const tables = { 4: table(), 6: table() };
  const sets = new Map<string, { create: string; members: Set<string> }>();
  const restores: string[] = [];
  const restore = (chains: Map<string, string[]>, text: string): void => {
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) chains.set(line.slice(1).split(' ')[0]!, []);
      else if (line.startsWith('-A ')) {
        const sp = line.indexOf(' ', 3);
        const list = chains.get(line.slice(3, sp));
        assert.ok(list, `append to a missing chain: ${line}`);
        list.push(line.slice(sp + 1));
      } else if (line.startsWith('-I ')) {
        const [, chain, , ...rest] = line.split(' ');
        chains.get(chain!)!.unshift(rest.join(' '));
      } else if (line.startsWith('-D ')) {
        const [, chain, index] = line.split(' ');
        chains.get(chain!)!.splice(Number(index) - 1, 1);
      } else if (line.startsWith('-X ')) chains.delete(line.slice(3));
    }
  };
  const ipset = (text: string): void => {
    for (const line of text.split('\n')) {
      const [op, name, ...rest] = line.split(' ');
      if (op === 'create') sets.set(name!, { create: line, members: new Set() });
      else if (op === 'add') sets.get(name!)!.members.add(rest[0]!);
      else if (op === 'del') assert.ok(sets.get(name!)!.members.delete(rest[0]!), line);
      else if (op === 'destroy') assert.ok(sets.delete(name!), line);
      else if (op === 'swap') {
        const a = sets.get(name!)!;
        const b = sets.get(rest[0]!)!;
        sets.set(name!, { create: a.create, members: b.members });
        sets.set(rest[0]!, { create: b.create, members: a.members });
      }
    }
  };
  const run: CommandRunner = async (cmd, _args, stdin) => {
    let stdout = '';
    if (cmd.endsWith('-restore')) {
      restores.push(stdin ?? '');
      restore(tables[cmd.startsWith('ip6') ? 6 : 4], stdin ?? '');
    } else if (cmd.endsWith('-save')) {
      const chains = tables[cmd.startsWith('ip6') ? 6 : 4];
      const out = ['*filter'];
      for (const name of chains.keys()) out.push(`:${name} - [0:0]`);
      for (const [name, rules] of chains) for (const r of rules) out.push(`-A ${name} ${r}`);
      stdout = [...out, 'COMMIT', ''].join('\n');
    } else if (cmd === 'ipset' && _args[0] === 'restore') ipset(stdin ?? '');
    else if (cmd === 'ipset') {
      const out: string[] = [];
      for (const [name, s] of sets) out.push(s.create, ...[...s.members].map((m) => `add ${name} ${m}`));
      stdout = `${out.join('\n')}\n`;
    }
    return { code: cmd === 'conntrack' ? 1 : 0, stdout, stderr: '' };
  };
  return { run, restores };
}

const endpoint = (i: number, app: string): Endpoint => ({
  name: `e${i}`,
  interface: `cali${i.toString(16).padStart(3, '0')}`,
  ipv4: [`10.0.${i >> 8}.${i & 255}`],
  ipv6: [`fd00::${i.toString(16)}`],
  labels: { app },
  profiles: [`p${i % 3}`],
});
const rule = (selector: string) => ({
  action: 'allow' as const,
  protocol: 'tcp',
  source: {
    nets: [],
    notNets: [],
    selector,
    addressSets: [],
    notAddressSets: [],
    ports: [],
    notPorts: [],
  },
  destination: { nets: [], notNets: [], addressSets: [], notAddressSets: [], ports: [], notPorts: [] },
});

test('applies driven by render deltas leave the kernel exactly as a full read-back wants it', async () => {
  const kernel = fakeKernel();
  const dp = new PolicyDataplane({ backend: 'nft', prefix: 'tsb', ipv6: true, run: kernel.run, log });
  // A second dataplane on the same kernel checks it, so the first keeps applying deltas.
  const checker = new PolicyDataplane({ backend: 'nft', prefix: 'tsb', ipv6: true, run: kernel.run, log });
  const base: Omit<PolicyModel, 'endpoints'> = {
    policies: [
      {
        name: 'web',
        order: 1,
        selector: "app == 'web'",
        types: ['ingress'],
        ingress: [rule("app == 'db'")],
        egress: [],
      },
      // A tier before the default one: db endpoints' ingress passes through it when it comes
      // from web, and ends in its end-of-tier drop otherwise.
      {
        name: 'guard',
        tier: 'guard',
        order: 1,
        selector: "app == 'db'",
        types: ['ingress', 'egress'],
        ingress: [{ ...rule("app == 'web'"), action: 'pass' }],
        egress: [{ ...rule("app == 'a1'"), action: 'pass' }],
      },
    ],
    tiers: [{ name: 'guard', order: 1 }],
    profiles: [0, 1, 2, 3].map((k) => ({ name: `p${k}`, ingress: [rule(`app == 'a${k}'`)], egress: [] })),
    addressSets: [],
  };
  const cache = new RenderCache();
  const opts = { dispatchFanout: 4 };
  let eps: Endpoint[] = Array.from({ length: 40 }, (_, i) => endpoint(i, ['web', 'db', 'a1'][i % 3]!));
  await dp.apply(renderPolicy({ ...base, endpoints: eps }, opts, cache));
  let deltas = 0;
  let setsCreated = 0;
  for (let step = 0; step < 30; step++) {
    eps = [...eps];
    if (step % 3 === 0) eps.push(endpoint(100 + step, ['web', 'db', 'a2'][step % 3]!));
    else if (step % 3 === 1) eps.splice((step * 7) % eps.length, 1);
    else {
      const i = (step * 5) % eps.length;
      eps[i] = { ...eps[i]!, labels: { app: ['db', 'web', 'a0'][step % 3]! }, profiles: ['p3'] };
    }
    const model: PolicyModel = { ...base, endpoints: eps };
    const desired = renderPolicy(model, opts, cache);
    if (desired.delta) deltas++;
    const before = kernel.restores.length;
    const report = await dp.apply(desired);
    assert.ok(report.changed, `step ${step} changed something`);
    if (report.setsCreated.length) setsCreated++;
    // The transaction named only chains of the changed endpoint and the dispatch path.
    for (const tx of kernel.restores.slice(before))
      assert.ok(tx.split('\n').filter((l) => l.startsWith(':')).length <= 12, `step ${step}: ${tx}`);
    // A fresh, uncached render compared against a full read-back finds nothing left to do.
    const check = await checker.apply(renderPolicy(model, opts), true);
    assert.equal(check.changed, false, `step ${step}: ${JSON.stringify(check)}`);
  }
  assert.equal(deltas, 30);
  assert.ok(setsCreated > 0, 'some step made a profile and its set come into use');
});
