// Boots a User-Mode Linux kernel that has ipip (this machine's kernel does not) and runs
// uml-scenarios.ts inside it: tunl0 at 8980 on a 9001 underlay and 1440 on a 1460 underlay,
// reconcile of tunl0, encapsulated workload traffic with full-size TCP segments, CrossSubnet.
// A UML boot takes ~6 s; the scenarios ~2 min on its single CPU. Bounded by uml-run --timeout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { canUseNamespaces, run } from '../lib/lab.ts';

const UML_RUN = fileURLToPath(new URL('../../../shared/tools/uml-run', import.meta.url));

async function umlAvailable(): Promise<string | false> {
  if (!canUseNamespaces()) return 'needs root';
  if (!existsSync(UML_RUN)) return `${UML_RUN} not found`;
  const r = await run('sh', ['-c', 'command -v linux.uml']);
  return r.code === 0 ? false : 'user-mode-linux (linux.uml) not installed';
}

describe('IP-in-IP under UML', async () => {
  const skip = await umlAvailable();
  test('uml-scenarios.ts passes inside a kernel with ipip', { skip, timeout: 330_000 }, async () => {
    const scenarios = fileURLToPath(new URL('./uml-scenarios.ts', import.meta.url));
    const t0 = Date.now();
    // uml-run carries our environment into the UML kernel; without this variable removed, the
    // inner `node --test` would think it is a subprocess of this runner and report nothing.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const c = spawn(
        UML_RUN,
        [
          '--timeout',
          '300',
          '--',
          process.execPath,
          '--import',
          'tsx',
          '--test',
          '--test-reporter=spec',
          scenarios,
        ],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      c.stderr.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, out }));
    });
    const out = r.out;
    console.log(
      out
        .split('\n')
        .filter((l) => /✔|✖|ok |not ok|# (pass|fail)/.test(l))
        .join('\n'),
    );
    console.log(`  UML run took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    assert.equal(r.code, 0, out.slice(-4000));
    assert.match(out, /ℹ pass [1-9]/, 'the scenarios ran');
    assert.match(out, /ℹ fail 0/);
  });
});
