import assert from 'node:assert/strict';
import { test } from 'node:test';
import bunyan from 'bunyan';
import { PolicyDataplane } from './dataplane.ts';
import { type CommandRunner, detectBackend } from './executor.ts';
import type { PolicyModel } from './model.ts';
import { PolicySidecar } from './sidecar.ts';
import { MemoryPolicyStore } from './store.ts';

const log = bunyan.createLogger({ name: 't', level: 'fatal' });
const model = (n: number): PolicyModel => ({
  endpoints: Array.from({ length: n }, (_, i) => ({
    name: `e${i}`,
    interface: `cali${i}`,
    ipv4: [`10.0.0.${i + 1}`],
    ipv6: [],
    labels: {},
    profiles: [],
  })),
  policies: [],
  profiles: [],
  addressSets: [],
});

test('backend detection: the backend holding rules wins; on a tie, the system iptables', async () => {
  const saves = (legacy: number, nft: number, version: string): CommandRunner => {
    const img = (n: number) => `*filter\n${'-A INPUT -j ACCEPT\n'.repeat(n)}COMMIT\n`;
    return async (cmd) => {
      if (cmd === 'iptables-legacy-save') return { code: 0, stdout: img(legacy), stderr: '' };
      if (cmd === 'iptables-nft-save') return { code: 0, stdout: img(nft), stderr: '' };
      return { code: 0, stdout: version, stderr: '' };
    };
  };
  assert.equal((await detectBackend(saves(0, 5, 'iptables v1.8.9 (legacy)'))).backend, 'nft');
  assert.equal((await detectBackend(saves(7, 2, 'iptables v1.8.9 (nf_tables)'))).backend, 'legacy');
  assert.equal((await detectBackend(saves(0, 0, 'iptables v1.8.9 (nf_tables)'))).backend, 'nft');
  assert.equal((await detectBackend(saves(0, 0, 'iptables v1.8.9 (legacy)'))).backend, 'legacy');
});

test('the sidecar coalesces a burst of models into the latest, and never overlaps applies', async () => {
  let running = 0;
  let maxRunning = 0;
  let restores = 0;
  let lastRestore = '';
  const run: CommandRunner = async (cmd, _args, stdin) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    if (cmd.endsWith('-save') || cmd === 'ipset') return { code: 0, stdout: '', stderr: '' };
    if (cmd.endsWith('-restore')) {
      restores++;
      lastRestore = stdin ?? '';
    }
    return { code: 0, stdout: '', stderr: '' };
  };
  const store = new MemoryPolicyStore(model(1));
  const dataplane = new PolicyDataplane({ backend: 'nft', prefix: 'tsb', ipv6: false, run, log });
  const sidecar = new PolicySidecar({
    store,
    dataplane,
    render: { ipv6: false },
    log,
    resyncIntervalSeconds: 0,
  });
  await sidecar.start();
  store.set(model(2));
  store.set(model(3));
  store.set(model(4));
  await sidecar.idle();
  sidecar.stop();
  assert.ok(sidecar.applies <= 2, `${sidecar.applies} applies for 4 models`);
  assert.ok(lastRestore.includes('tsb-fw-cali3'), 'the last model is the one applied');
  assert.ok(restores >= 1);
  // Reads, ipset restore and iptables-restore of one apply run in sequence (IPv4 only here).
  assert.ok(maxRunning <= 2, `at most the two read-backs run together, saw ${maxRunning}`);
});
