// Both real executors against the kernel: the same routes (every form the dataplane uses, both
// families, ECMP, MTU, another table) programmed through NetlinkRoutes and through IpBatchRoutes
// must leave the same kernel state, read back equal to what was asked through both dump paths,
// report the same per-op errnos, and remove cleanly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KernelRoute } from '../../src/dataplane/routes/model.ts';
import { routeKey, routesEqual } from '../../src/dataplane/routes/model.ts';
import { canUseNamespaces, Lab } from '../lib/lab.ts';

interface CheckResult {
  wanted: KernelRoute[];
  installFailures: unknown[];
  viaNetlink: KernelRoute[];
  viaIp: KernelRoute[];
  bad: Array<{ index: number; errno: number }>;
  removeFailures: unknown[];
  left: KernelRoute[];
}

const skip = canUseNamespaces() ? false : 'needs root for network namespaces';

function sameSet(actual: KernelRoute[], wanted: KernelRoute[], what: string): void {
  assert.equal(actual.length, wanted.length, `${what}: ${JSON.stringify(actual)}`);
  for (const w of wanted) {
    const a = actual.find((x) => routeKey(x) === routeKey(w));
    assert.ok(a, `${what}: ${w.dst} missing`);
    assert.ok(routesEqual(a, w), `${what}: ${JSON.stringify(a)} != ${JSON.stringify(w)}`);
  }
}

describe('route executors (real kernel)', { skip }, () => {
  const lab = new Lab('ex');
  const script = fileURLToPath(new URL('./executor-check.ts', import.meta.url));

  before(async () => {
    await lab.addNode('h');
    await lab.addNode('p');
    await lab.link(
      { node: 'h', ifname: 'eth0', addrs: ['192.168.60.1/24', '2001:db8:60::1/64'] },
      { node: 'p', ifname: 'eth0', addrs: ['192.168.60.2/24', '2001:db8:60::2/64'] },
    );
  });

  after(() => lab.dispose());

  for (const which of ['netlink', 'ip-batch']) {
    test(`${which}: programs, reads back, reports refusals and removes`, async () => {
      const out = await lab.exec('h', process.execPath, ['--import', 'tsx', script, which]);
      const r = JSON.parse(out.trim().split('\n').pop()!) as CheckResult;
      assert.deepEqual(r.installFailures, []);
      // Wanted routes name no dev where the kernel picks one; fill it in as the kernel reports it.
      const wanted = r.wanted.map((w) => ({
        ...w,
        nextHops: w.nextHops.map((nh) => ({ ...nh, dev: nh.dev ?? 'eth0' })),
      }));
      sameSet(r.viaNetlink, wanted, 'netlink dump');
      sameSet(r.viaIp, wanted, 'ip -json dump');
      assert.deepEqual(r.bad, [
        { index: 0, errno: 101 }, // ENETUNREACH: no route to the gateway
        { index: 2, errno: 3 }, // ESRCH: deleting a route that is not there
      ]);
      assert.deepEqual(r.removeFailures, []);
      assert.deepEqual(r.left, []);
    });
  }
});
