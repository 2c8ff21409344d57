import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { firstValueFrom } from 'rxjs';
import { filter, take, timeout } from 'rxjs/operators';
import { testTempDir } from '../../testing/temp-dir.ts';
import { loadPolicyModel, type PolicyModel } from './model.ts';
import { RenderCache, renderPolicy } from './render.ts';
import { FilePolicyStore, PolicyValidationError, shareUnchanged } from './store.ts';

const ep = (n: number, port = 80) => `endpoints:
  - {name: e${n}, interface: cali${n}, ipv4: [10.0.0.${n}], profiles: [p]}
  - {name: other, interface: cali99, ipv4: [10.0.0.99], profiles: [p]}
profiles:
  - name: p
    ingress: [{action: allow, protocol: tcp, destination: {ports: [${port}]}}]
`;

test('the file store reloads on change, keeps unchanged objects, and keeps the last valid model on errors', async () => {
  const dir = testTempDir('tsbpol-store-');
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, ep(1));
  const store = new FilePolicyStore(dir, 20);
  await store.start();
  try {
    const first = store.snapshot();
    assert.equal(first.endpoints[0]!.name, 'e1');
    const seen: PolicyModel[] = [];
    const errors: Error[] = [];
    store.models.subscribe((m) => seen.push(m));
    store.errors.subscribe((e) => errors.push(e));

    // Replace by rename, as editors do.
    const next = firstValueFrom(
      store.models.pipe(
        filter((m) => m !== first),
        take(1),
        timeout(5000),
      ),
    );
    writeFileSync(join(dir, '.tmp'), ep(2));
    renameSync(join(dir, '.tmp'), file);
    const second = await next;
    assert.equal(second.endpoints[0]!.name, 'e2');
    assert.equal(second.endpoints[1], first.endpoints[1], 'an unchanged endpoint keeps its object');
    assert.equal(second.profiles[0], first.profiles[0], 'an unchanged profile keeps its object');
    // So an edit of endpoints alone is rendered as a delta of the last render.
    const cache = new RenderCache();
    renderPolicy(first, {}, cache);
    assert.ok(renderPolicy(second, {}, cache).delta, 'an endpoint-only file edit renders incrementally');

    // A changed profile gets a new object, but its unchanged rule list keeps its array.
    const third = firstValueFrom(
      store.models.pipe(
        filter((m) => m !== second),
        take(1),
        timeout(5000),
      ),
    );
    writeFileSync(file, `${ep(2)}    egress: [{action: allow}]\n`);
    const changed = await third;
    assert.notEqual(changed.profiles[0], second.profiles[0]);
    assert.equal(
      changed.profiles[0]!.ingress,
      second.profiles[0]!.ingress,
      'unchanged rules keep their array',
    );
    assert.equal(changed.endpoints[1], first.endpoints[1]);

    // An invalid edit is reported and changes nothing.
    const err = firstValueFrom(store.errors.pipe(take(1), timeout(5000)));
    writeFileSync(file, 'endpoints:\n  - {name: x, interface: cali1, ipv4: [999.0.0.1]}\n');
    const e = await err;
    assert.ok(e instanceof PolicyValidationError);
    assert.match(e.message, /policy\.yaml:2: endpoints\[0\]\.ipv4\[0\]/);
    assert.equal(store.snapshot(), changed);
    assert.equal(seen.at(-1), changed);
  } finally {
    store.stop();
  }
});

test('a reload keeps the tiers, and keeps unchanged policies when only tiers change', () => {
  const load = (tiers: string): PolicyModel =>
    loadPolicyModel([
      {
        file: 't.yaml',
        text: `tiers: [${tiers}]\npolicies:\n  - {name: a, tier: security, ingress: [{action: pass}]}\n`,
      },
    ]);
  const first = load('{name: security, order: 1}');
  const second = shareUnchanged(first, load('{name: security, order: 2}'));
  assert.deepEqual(second.tiers, [{ name: 'security', order: 2 }]);
  assert.equal(second.policies[0], first.policies[0]);
  // The renderer sees the new order: not an endpoint-only change.
  const cache = new RenderCache();
  renderPolicy(first, {}, cache);
  assert.equal(renderPolicy(second, {}, cache).delta, undefined);
});
