// The userland half of a single-endpoint policy update (issue #6 §5), without the kernel: render
// through the cache plus the dataplane's diff and bookkeeping, with a command runner that answers
// at once, so only our own work is timed. No root needed:
//   node --import tsx conformance/bench/policy-render.bench.ts
// Environment: POLICY_RENDER_N=10000 (comma list)  POLICY_RENDER_SHARED_PROFILES=0  POLICY_RENDER_REPEAT=20
//              POLICY_RENDER_SRC=src/dataplane/policy (another copy of the module directory, e.g. an
//              older revision, to compare before/after in one session; it must resolve node_modules)
// For each N: a full render and apply (not timed), then POLICY_RENDER_REPEAT rounds of add one
// endpoint / change its labels (new policies, moves between selector sets) / remove it, each
// timed as render, and apply (diff, restore text, cache update, conntrack bookkeeping). Medians
// and maxima are printed; the model is the one policy.bench.ts installs.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import bunyan from 'bunyan';
import type * as DataplaneModule from '../../src/dataplane/policy/dataplane.ts';
import type { CommandRunner } from '../../src/dataplane/policy/executor.ts';
import type { Endpoint, PolicyModel } from '../../src/dataplane/policy/model.ts';
import type * as RenderModule from '../../src/dataplane/policy/render.ts';
import { benchModel, endpointAt } from './policy-model.ts';

const sizes = (process.env.POLICY_RENDER_N ?? '10000').split(',').map(Number);
const shared = Number(process.env.POLICY_RENDER_SHARED_PROFILES ?? 0);
const repeat = Number(process.env.POLICY_RENDER_REPEAT ?? 20);
const srcDir = resolve(process.env.POLICY_RENDER_SRC ?? `${import.meta.dirname}/../../src/dataplane/policy`);
const { PolicyDataplane } = (await import(
  pathToFileURL(`${srcDir}/dataplane.ts`).href
)) as typeof DataplaneModule;
const { RenderCache, renderPolicy } = (await import(
  pathToFileURL(`${srcDir}/render.ts`).href
)) as typeof RenderModule;
const log = bunyan.createLogger({ name: 'render-bench', level: 'fatal' });

/** Every command succeeds at once: `iptables-save` and `ipset save` print empty tables. */
let restoreBytes = 0;
const instant: CommandRunner = async (cmd, _args, stdin) => {
  if (cmd.includes('restore')) restoreBytes += stdin?.length ?? 0;
  return { code: cmd === 'conntrack' ? 1 : 0, stdout: '', stderr: '' };
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number): string => x.toFixed(2);

console.log(`module: ${srcDir}`);
for (const n of sizes) {
  const model = benchModel(n, 0, shared);
  const cache = new RenderCache();
  const dp = new PolicyDataplane({ backend: 'nft', prefix: 'tsb', ipv6: false, log, run: instant });
  const opts = { ipv6: false };
  let t = performance.now();
  await dp.apply(renderPolicy(model, opts, cache), true);
  console.log(
    `N=${n}${shared ? ` (${shared} shared profiles)` : ''}: full render + apply ${f(performance.now() - t)} ms`,
  );
  const steps = ['add', 'change', 'remove'] as const;
  const times: Record<(typeof steps)[number], { render: number[]; apply: number[]; bytes: number[] }> = {
    add: { render: [], apply: [], bytes: [] },
    change: { render: [], apply: [], bytes: [] },
    remove: { render: [], apply: [], bytes: [] },
  };
  for (let round = 0; round < repeat; round++) {
    // A fresh endpoint object each round, as a store hands over a new one for an edited endpoint.
    const extra: Endpoint = {
      ...endpointAt(n + 1 + (round % 7), shared),
      profiles: [model.profiles[0]!.name],
    };
    const withExtra: PolicyModel = { ...model, endpoints: [...model.endpoints, extra] };
    const changedEp: Endpoint = { ...extra, labels: { app: 'app7', tier: 'front' } };
    const changed: PolicyModel = { ...model, endpoints: [...model.endpoints, changedEp] };
    const models: Record<(typeof steps)[number], PolicyModel> = {
      add: withExtra,
      change: changed,
      remove: model,
    };
    for (const step of steps) {
      restoreBytes = 0;
      t = performance.now();
      const d = renderPolicy(models[step], opts, cache);
      const r = performance.now() - t;
      t = performance.now();
      const rep = await dp.apply(d);
      times[step].render.push(r);
      times[step].apply.push(performance.now() - t);
      times[step].bytes.push(restoreBytes);
      if (!rep.changed) throw new Error(`${step}: nothing changed`);
    }
  }
  for (const step of steps) {
    const { render, apply, bytes } = times[step];
    const total = render.map((x, i) => x + apply[i]!);
    console.log(
      `  ${step.padEnd(6)} render ${f(median(render))} ms (max ${f(Math.max(...render))}), apply ${f(median(apply))} ms (max ${f(Math.max(...apply))}), total ${f(median(total))} ms; restore input ${median(bytes)} bytes`,
    );
  }
}
