// IP-in-IP end to end with the daemon (issue #5 §4): boots a User-Mode Linux kernel that has ipip
// (this machine's kernel does not) and runs ipip-uml-scenarios.ts inside it: four `tsbgp run`
// hosts peering over iBGP; tunl0 at 8980 on a 9001 underlay and 1440 on a 1460 underlay; workload
// traffic through the tunnel with full-size TCP segments; CrossSubnet choosing the direct route or
// the tunnel. A UML boot takes ~6 s; the scenarios about two minutes on its single CPU.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runOk } from '../lib/lab.ts';
import { runScenariosInUml, umlAvailable } from '../lib/uml.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('IP-in-IP end to end with tsbgp run, under UML', async () => {
  const skip = await umlAvailable();
  test('ipip-uml-scenarios.ts passes inside a kernel with ipip', { skip, timeout: 540_000 }, async () => {
    // The daemons inside run the JavaScript `npm run build` emits (see ipip-uml-scenarios.ts).
    await runOk(`${ROOT}node_modules/.bin/tsc`, ['-p', `${ROOT}tsconfig.build.json`]);
    const scenarios = fileURLToPath(new URL('./ipip-uml-scenarios.ts', import.meta.url));
    const { code, out } = await runScenariosInUml(scenarios, 480);
    assert.equal(code, 0, out.slice(-4000));
    assert.match(out, /ℹ pass [1-9]/, 'the scenarios ran');
    assert.match(out, /ℹ fail 0/);
  });
});
