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
//
// POLICY_RENDER_FULL=1: instead, the from-scratch (first) render and the dataplane's first apply
// (full diff and restore text: the first apply on a host, a resync, or a retry):
//   POLICY_RENDER_FULL=1 POLICY_RENDER_N=1000,10000 POLICY_RENDER_SHARED_PROFILES=0,50 \
//     POLICY_RENDER_SRC=/tmp/policy-old node --expose-gc --import tsx conformance/bench/policy-render.bench.ts
// Here POLICY_RENDER_SHARED_PROFILES is a comma list too, and POLICY_RENDER_SRC is compared with
// this checkout's module (without it, only this checkout's runs). For each N and profile count,
// POLICY_RENDER_REPEAT rounds (default 7) of: a new RenderCache, render, and apply to a new
// dataplane (legacy) whose commands answer at once (`iptables-save`/`ipset save` empty). The two
// modules run in the same rounds, alternating which goes first, and their restore inputs are
// checked to be byte-identical. Printed: medians and minima of render, apply, their sum, and the
// process's CPU time over both (all threads). With --expose-gc a collection runs before each round.
// A copy of the module outside the checkout needs node_modules on its path (e.g. for /tmp/policy-old:
// ln -s "$PWD/node_modules" /tmp/node_modules).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import bunyan from 'bunyan';
import type * as DataplaneModule from '../../src/dataplane/policy/dataplane.ts';
import type { CommandRunner } from '../../src/dataplane/policy/executor.ts';
import type { Endpoint, PolicyModel } from '../../src/dataplane/policy/model.ts';
import type * as RenderModule from '../../src/dataplane/policy/render.ts';
import { benchModel, endpointAt } from './policy-model.ts';

const sizes = (process.env.POLICY_RENDER_N ?? '10000').split(',').map(Number);
const full = process.env.POLICY_RENDER_FULL === '1';
const sharedList = (process.env.POLICY_RENDER_SHARED_PROFILES ?? '0').split(',').map(Number);
const shared = sharedList[0] ?? 0;
const repeat = Number(process.env.POLICY_RENDER_REPEAT ?? (full ? 7 : 20));
const ownDir = resolve(`${import.meta.dirname}/../../src/dataplane/policy`);
const srcDir = resolve(process.env.POLICY_RENDER_SRC ?? ownDir);

interface PolicyModule {
  dir: string;
  PolicyDataplane: typeof DataplaneModule.PolicyDataplane;
  RenderCache: typeof RenderModule.RenderCache;
  renderPolicy: typeof RenderModule.renderPolicy;
}
async function loadModule(dir: string): Promise<PolicyModule> {
  const { PolicyDataplane } = (await import(
    pathToFileURL(`${dir}/dataplane.ts`).href
  )) as typeof DataplaneModule;
  const { RenderCache, renderPolicy } = (await import(
    pathToFileURL(`${dir}/render.ts`).href
  )) as typeof RenderModule;
  return { dir, PolicyDataplane, RenderCache, renderPolicy };
}
const { PolicyDataplane, RenderCache, renderPolicy } = await loadModule(full ? ownDir : srcDir);
const log = bunyan.createLogger({ name: 'render-bench', level: 'fatal' });

/** Every command succeeds at once: `iptables-save` and `ipset save` print empty tables. */
let restoreBytes = 0;
const instant: CommandRunner = async (cmd, _args, stdin) => {
  if (cmd.includes('restore')) restoreBytes += stdin?.length ?? 0;
  return { code: cmd === 'conntrack' ? 1 : 0, stdout: '', stderr: '' };
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number): string => x.toFixed(2);

/**
 * From-scratch render and first apply of `model` by one module: wall times, the process's CPU time
 * (all threads, GC helpers included: less disturbed by other work on a shared machine than wall
 * time), and the restore input (every `restore` command's stdin, in order) for the identity check.
 */
async function fullRound(
  mod: PolicyModule,
  model: PolicyModel,
): Promise<{ render: number; apply: number; cpu: number; text: string }> {
  const texts: string[] = [];
  const run: CommandRunner = async (cmd, _args, stdin) => {
    if (cmd.includes('restore')) texts.push(`${cmd}\n${stdin ?? ''}`);
    return { code: 0, stdout: '', stderr: '' };
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const dp = new mod.PolicyDataplane({ backend: 'legacy', prefix: 'tsb', ipv6: false, log, run });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const desired = mod.renderPolicy(model, { ipv6: false }, new mod.RenderCache());
  const t1 = performance.now();
  await dp.apply(desired, true);
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  return { render: t1 - t0, apply: t2 - t1, cpu: (c.user + c.system) / 1000, text: texts.join('\n') };
}

async function fullBench(): Promise<void> {
  const mods = [await loadModule(ownDir)];
  if (srcDir !== ownDir) mods.unshift(await loadModule(srcDir));
  const label = (m: PolicyModule): string => (m.dir === ownDir ? 'this' : m.dir);
  console.log(
    `full render + first apply; modules: ${mods.map(label).join(', ')}; ${repeat} rounds; gc between rounds: ${!!(globalThis as { gc?: unknown }).gc}`,
  );
  for (const n of sizes) {
    for (const k of sharedList) {
      const model = benchModel(n, 0, k);
      const times = mods.map(() => ({
        render: [] as number[],
        apply: [] as number[],
        total: [] as number[],
        cpu: [] as number[],
      }));
      let bytes = 0;
      for (let round = 0; round < repeat; round++) {
        let reference: string | undefined;
        // Alternate which module goes first, so neither always runs on the other's heap.
        const order = round % 2 === 0 ? [...mods.keys()] : [...mods.keys()].reverse();
        for (const i of order) {
          const mod = mods[i]!;
          const r = await fullRound(mod, model);
          times[i]!.render.push(r.render);
          times[i]!.apply.push(r.apply);
          times[i]!.total.push(r.render + r.apply);
          times[i]!.cpu.push(r.cpu);
          if (reference === undefined) reference = r.text;
          else if (r.text !== reference)
            throw new Error(`N=${n} shared=${k}: ${label(mod)} restore input differs`);
          bytes = r.text.length;
        }
      }
      for (const [i, mod] of mods.entries()) {
        const t = times[i]!;
        const stat = (xs: number[]): string => `${f(median(xs))} ms (min ${f(Math.min(...xs))})`;
        console.log(
          `N=${n} profiles=${k || 'per endpoint'} ${label(mod)}: render ${stat(t.render)}, apply ${stat(t.apply)}, total ${stat(t.total)}, CPU ${stat(t.cpu)}; restore input ${bytes} chars${mods.length > 1 ? ' (identical)' : ''}`,
        );
      }
    }
  }
}

if (full) await fullBench();
else console.log(`module: ${srcDir}`);
for (const n of full ? [] : sizes) {
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
