import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { firstValueFrom } from 'rxjs';
import { filter, take, timeout } from 'rxjs/operators';
import type { PolicyModel } from './model.ts';
import { FilePolicyStore, PolicyValidationError } from './store.ts';

const ep = (n: number, port = 80) => `endpoints:
  - {name: e${n}, interface: tsbw${n}, ipv4: [10.0.0.${n}], profiles: [p]}
  - {name: other, interface: tsbw99, ipv4: [10.0.0.99], profiles: [p]}
profiles:
  - name: p
    ingress: [{action: allow, protocol: tcp, destination: {ports: [${port}]}}]
`;

test('the file store reloads on change, keeps unchanged objects, and keeps the last valid model on errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpol-store-'));
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
    assert.equal(second.profiles[0]!.ingress, first.profiles[0]!.ingress, 'unchanged rules keep their array');

    // An invalid edit is reported and changes nothing.
    const err = firstValueFrom(store.errors.pipe(take(1), timeout(5000)));
    writeFileSync(file, 'endpoints:\n  - {name: x, interface: tsbw1, ipv4: [999.0.0.1]}\n');
    const e = await err;
    assert.ok(e instanceof PolicyValidationError);
    assert.match(e.message, /policy\.yaml:2: endpoints\[0\]\.ipv4\[0\]/);
    assert.equal(store.snapshot(), second);
    assert.equal(seen.at(-1), second);
  } finally {
    store.stop();
  }
});
