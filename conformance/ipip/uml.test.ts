// Boots a User-Mode Linux kernel that has ipip (this machine's kernel does not) and runs
// uml-scenarios.ts inside it: tunl0 at 8980 on a 9001 underlay and 1440 on a 1460 underlay,
// reconcile of tunl0, encapsulated workload traffic with full-size TCP segments, CrossSubnet.
// A UML boot takes ~6 s; the scenarios ~2 min on its single CPU. Bounded by uml-run --timeout.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScenariosInUml, umlAvailable } from '../lib/uml.ts';

describe('IP-in-IP under UML', async () => {
  const skip = await umlAvailable();
  test('uml-scenarios.ts passes inside a kernel with ipip', { skip, timeout: 330_000 }, async () => {
    const scenarios = fileURLToPath(new URL('./uml-scenarios.ts', import.meta.url));
    const { code, out } = await runScenariosInUml(scenarios, 300);
    assert.equal(code, 0, out.slice(-4000));
    assert.match(out, /ℹ pass [1-9]/, 'the scenarios ran');
    assert.match(out, /ℹ fail 0/);
  });
});
