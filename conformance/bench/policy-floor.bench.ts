// The kernel's floor under a policy update (issue #6 §5, docs/policy.md "Measured performance").
// Run as root:  node --import tsx conformance/bench/policy-floor.bench.ts
// Environment: POLICY_FLOOR_BACKENDS=legacy,nft  POLICY_FLOOR_N=10000  POLICY_FLOOR_SHARED_PROFILES=50
//              (0: one profile per endpoint)  POLICY_FLOOR_REPEAT=3
// Installs the benchmark model of N endpoints in a namespace of its own Lab, then times the bare
// tools on that table, outside tsbgp: an empty `iptables-restore --noflush` transaction, one new
// one-rule chain, a profile chain rewritten, an endpoint chain (with jumps) rewritten, and a full
// `iptables-save`. Whatever an update costs beyond the slowest of these is ours.
import bunyan from 'bunyan';
import { PolicyDataplane } from '../../src/dataplane/policy/dataplane.ts';
import { type Backend, spawnRunner } from '../../src/dataplane/policy/executor.ts';
import { renderPolicy } from '../../src/dataplane/policy/render.ts';
import { Lab } from '../lib/lab.ts';
import { benchModel } from './policy-model.ts';

const backends = (process.env.POLICY_FLOOR_BACKENDS ?? 'legacy,nft').split(',').filter(Boolean) as Backend[];
const n = Number(process.env.POLICY_FLOOR_N ?? 10000);
const shared = Number(process.env.POLICY_FLOOR_SHARED_PROFILES ?? 50);
const repeat = Number(process.env.POLICY_FLOOR_REPEAT ?? 3);
const log = bunyan.createLogger({ name: 'floor', level: 'fatal' });

async function timed(lab: Lab, node: string, cmd: string, args: string[], input?: string): Promise<number> {
  const t0 = performance.now();
  await lab.exec(node, cmd, args, input);
  return performance.now() - t0;
}

async function floor(backend: Backend): Promise<void> {
  const lab = new Lab(backend === 'legacy' ? 'fl' : 'fn');
  try {
    const ns = await lab.addNode('h');
    const dp = new PolicyDataplane({
      backend,
      prefix: 'tsb',
      ipv6: false,
      log,
      run: (cmd, args, stdin) => spawnRunner('ip', ['netns', 'exec', ns, cmd, ...args], stdin),
      flushConntrack: false,
    });
    const desired = renderPolicy(benchModel(n, 0, shared), { ipv6: false });
    let rules = 0;
    for (const c of desired.tables[4].chains.values()) rules += c.rules.length;
    const t0 = performance.now();
    await dp.apply(desired);
    console.log(
      `iptables-${backend}, N=${n} (${shared > 0 ? `${shared} shared profiles` : 'a profile per endpoint'}): ${desired.tables[4].chains.size} chains, ${rules} rules installed in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    const chains = [...desired.tables[4].chains.values()];
    const profile = chains.find((c) => c.name.includes('-pri-'))!;
    const endpoint = chains.find((c) => c.name.includes('-fw-'))!;
    const chainText = (c: { name: string; rules: string[] }): string =>
      `*filter\n:${c.name} - [0:0]\n${c.rules.map((r) => `-A ${c.name} ${r}`).join('\n')}\nCOMMIT\n`;
    const variants: [string, string][] = [
      ['empty transaction', '*filter\nCOMMIT\n'],
      ['one new chain of one rule', '*filter\n:tsb-floor - [0:0]\n-A tsb-floor -j RETURN\nCOMMIT\n'],
      [`profile chain rewritten (${profile.rules.length} rules, no jumps)`, chainText(profile)],
      [`endpoint chain rewritten (${endpoint.rules.length} rules, jumps)`, chainText(endpoint)],
    ];
    const restore = `iptables-${backend}-restore`;
    for (const [what, text] of variants) {
      const times: number[] = [];
      for (let i = 0; i < repeat; i++)
        times.push(await timed(lab, 'h', restore, ['--noflush', '-w', '10'], text));
      // One more run under bash's `time`: user vs system time says whether the tool or the kernel is slow.
      const split = await lab.exec(
        'h',
        'bash',
        ['-c', `TIMEFORMAT='user %U s, sys %S s'; { time ${restore} --noflush -w 10 >/dev/null ; } 2>&1`],
        text,
      );
      console.log(
        `  ${restore} --noflush, ${what}: ${times.map((t) => t.toFixed(0)).join(' / ')} ms (${split.trim()})`,
      );
    }
    const save = await timed(lab, 'h', `iptables-${backend}-save`, ['-t', 'filter']);
    console.log(`  iptables-${backend}-save -t filter: ${save.toFixed(0)} ms`);
  } finally {
    await lab.dispose();
  }
}

if (process.getuid?.() !== 0) {
  console.error('policy-floor.bench: needs root (network namespaces)');
  process.exit(1);
}
for (const b of backends) await floor(b);
