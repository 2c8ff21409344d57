// `tsbgp policy`: the policy sidecar (workload security policy → iptables chains and ipsets).
//   tsbgp policy --config FILE|DIR          run: apply, watch the input, resync periodically
//   tsbgp policy --config ... --once        apply once and exit
//   tsbgp policy check --config ...         validate the input only
//   tsbgp policy show [--config ...]        endpoints, their chains, per-rule packet/byte counters
//   tsbgp policy --cleanup                  remove every chain, hook rule and ipset of ours
// Every action takes --json for machine-readable output on stdout; logs go to stderr (bunyan).
import bunyan from 'bunyan';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { PolicyDataplane } from '../../dataplane/policy/dataplane.ts';
import { type Backend, detectBackend, spawnRunner } from '../../dataplane/policy/executor.ts';
import { renderImage } from '../../dataplane/policy/golden.ts';
import type { InstalledRule } from '../../dataplane/policy/iptables.ts';
import { formatIssue, PolicyValidationError } from '../../dataplane/policy/model.ts';
import {
  defaultRenderOptions,
  type EndpointToHostAction,
  endpointsOutsidePrefixes,
  type RenderOptions,
  renderPolicy,
} from '../../dataplane/policy/render.ts';
import { PolicySidecar } from '../../dataplane/policy/sidecar.ts';
import { FilePolicyStore, loadPolicyPath } from '../../dataplane/policy/store.ts';

interface PolicyArgs {
  action: 'run' | 'show' | 'check';
  config?: string;
  backend: 'auto' | Backend;
  prefix: string;
  'interface-prefix': string[];
  'endpoint-to-host': EndpointToHostAction;
  ipv6: boolean;
  'resync-interval': number;
  once: boolean;
  cleanup: boolean;
  dump: boolean;
  json: boolean;
  'log-level': bunyan.LogLevelString;
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(
    json ? `${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n` : `${text}\n`,
  );
}

/** A failure already explained to the user; the handler sets the exit code and stops. */
class CliFailure extends Error {}

function fail(json: boolean, message: string, detail?: unknown): never {
  if (json)
    process.stdout.write(
      `${JSON.stringify({ ok: false, error: message, ...(detail ? { issues: detail } : {}) })}\n`,
    );
  else process.stderr.write(`tsbgp policy: ${message}\n`);
  throw new CliFailure(message);
}

function renderOptions(a: PolicyArgs): Partial<RenderOptions> {
  return {
    prefix: a.prefix,
    workloadInterfacePrefixes: a['interface-prefix'],
    endpointToHostAction: a['endpoint-to-host'],
    ipv6: a.ipv6,
  };
}

async function makeDataplane(a: PolicyArgs, log: bunyan): Promise<PolicyDataplane> {
  let backend: Backend;
  if (a.backend === 'auto') {
    const d = await detectBackend(spawnRunner);
    backend = d.backend;
    log.info({ backend, reason: d.reason }, 'iptables backend detected');
  } else backend = a.backend;
  return new PolicyDataplane({ backend, prefix: a.prefix, ipv6: a.ipv6, log });
}

function loadOrFail(a: PolicyArgs) {
  if (!a.config) fail(a.json, '--config FILE|DIR is required');
  try {
    return loadPolicyPath(a.config);
  } catch (err) {
    if (err instanceof PolicyValidationError)
      fail(a.json, `invalid policy input:\n${err.issues.map(formatIssue).join('\n')}`, err.issues);
    fail(a.json, err instanceof Error ? err.message : String(err));
  }
}

const ruleRow = (r: InstalledRule) => ({
  hash: r.hash,
  packets: r.packets ?? 0n,
  bytes: r.bytes ?? 0n,
  rule: r.text,
});

async function show(a: PolicyArgs, log: bunyan): Promise<void> {
  const dp = await makeDataplane(a, log);
  const installed = await dp.readInstalled(true);
  const model = a.config ? loadOrFail(a) : undefined;
  const families = a.ipv6 ? ([4, 6] as const) : ([4] as const);
  // Endpoints from the model when given; otherwise from the per-endpoint chain names.
  const endpoints: { name: string; interface: string }[] = model
    ? model.endpoints.map((e) => ({ name: e.name, interface: e.interface }))
    : [...installed.tables[4].chains.keys()]
        .filter((c) => c.startsWith(`${a.prefix}-fw-`))
        .map((c) => c.slice(`${a.prefix}-fw-`.length))
        .map((i) => ({ name: i, interface: i }));
  const out = {
    backend: dp.tools.restore[4],
    endpoints: endpoints.map((e) => ({
      ...e,
      chains: families.flatMap((f) =>
        [dp.names.fromWl(e.interface), dp.names.toWl(e.interface)].map((c) => ({
          family: f,
          chain: c,
          installed: installed.tables[f].chains.has(c),
          rules: (installed.tables[f].rules.get(c) ?? []).map(ruleRow),
        })),
      ),
    })),
    chains: families.flatMap((f) =>
      [...installed.tables[f].rules]
        .filter(([c]) => !/-(fw|tw)-/.test(c))
        .map(([chain, rules]) => ({ family: f, chain, rules: rules.map(ruleRow) })),
    ),
    ipsets: [...installed.ipsets.values()].map((s) => ({
      name: s.name,
      type: s.type,
      family: s.family,
      members: s.members.size,
    })),
  };
  const lines: string[] = [`backend: ${out.backend}`];
  const fmtRules = (rules: ReturnType<typeof ruleRow>[]) =>
    rules.map(
      (r) => `      ${String(r.packets).padStart(10)} pkts ${String(r.bytes).padStart(12)} bytes  ${r.rule}`,
    );
  for (const e of out.endpoints) {
    lines.push(`endpoint ${e.name} (interface ${e.interface})`);
    for (const c of e.chains) {
      lines.push(`  IPv${c.family} ${c.chain}${c.installed ? '' : ' (not installed)'}`);
      lines.push(...fmtRules(c.rules));
    }
  }
  lines.push('chains:');
  for (const c of out.chains) lines.push(`  IPv${c.family} ${c.chain}`, ...fmtRules(c.rules));
  lines.push('ipsets:');
  for (const s of out.ipsets) lines.push(`  ${s.name} ${s.type} ${s.family} ${s.members} members`);
  print(a.json, out, lines.join('\n'));
}

const policyModule: CommandModule<object, PolicyArgs> = {
  command: 'policy [action]',
  describe: 'workload policy sidecar: render policy to iptables chains and ipsets and keep them applied',
  builder: (y: Argv) =>
    y
      .positional('action', {
        choices: ['run', 'show', 'check'] as const,
        default: 'run' as const,
        describe: 'run the sidecar, show installed state with counters, or check the input',
      })
      .option('config', {
        type: 'string',
        alias: 'c',
        describe: 'policy YAML file or directory of *.yaml files',
      })
      .option('backend', { choices: ['auto', 'legacy', 'nft'] as const, default: 'auto' as const })
      .option('prefix', {
        type: 'string',
        default: defaultRenderOptions.prefix,
        describe: 'prefix of our chain and set names',
      })
      .option('interface-prefix', {
        type: 'string',
        array: true,
        default: defaultRenderOptions.workloadInterfacePrefixes,
        describe: 'workload interface name prefixes (Calico: cali); repeatable',
      })
      .option('endpoint-to-host', {
        choices: ['drop', 'accept', 'return'] as const,
        default: defaultRenderOptions.endpointToHostAction,
      })
      .option('ipv6', {
        type: 'boolean',
        default: true,
        describe: 'also program ip6tables (--no-ipv6 to skip)',
      })
      .option('resync-interval', {
        type: 'number',
        default: 60,
        describe: 'seconds between kernel resyncs (0: off)',
      })
      .option('once', { type: 'boolean', default: false, describe: 'apply once and exit' })
      .option('cleanup', {
        type: 'boolean',
        default: false,
        describe: 'remove every chain, hook and ipset of ours, and exit',
      })
      .option('dump', {
        type: 'boolean',
        default: false,
        describe: 'with check: print the ipset and iptables-restore input that would program an empty host',
      })
      .option('json', { type: 'boolean', default: false })
      .option('log-level', {
        choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const,
        default: 'info' as const,
      }) as unknown as Argv<PolicyArgs>,
  handler: async (a: ArgumentsCamelCase<PolicyArgs>) => {
    try {
      await handle(a);
    } catch (err) {
      if (!(err instanceof CliFailure)) {
        if (a.json)
          process.stdout.write(
            `${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`,
          );
        else process.stderr.write(`tsbgp policy: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      process.exitCode = 1;
    }
  },
};

async function handle(a: ArgumentsCamelCase<PolicyArgs>): Promise<void> {
  const log = bunyan.createLogger({ name: 'tsbgp-policy', level: a['log-level'], stream: process.stderr });
  if (a.action === 'check') {
    const model = loadOrFail(a);
    const desired = renderPolicy(model, renderOptions(a));
    const outside = endpointsOutsidePrefixes(model.endpoints, a['interface-prefix']).map(
      (e) =>
        `endpoint ${e.name}: interface ${e.interface} matches no --interface-prefix (${a['interface-prefix'].join(', ')}); its policy would never be applied`,
    );
    if (!a.json) for (const w of outside) process.stderr.write(`tsbgp policy: warning: ${w}\n`);
    if (a.dump && !a.json) {
      process.stdout.write(renderImage(desired, a.prefix));
      return;
    }
    const chains = desired.tables[4].chains.size + desired.tables[6].chains.size;
    print(
      a.json,
      {
        ok: true,
        endpoints: model.endpoints.length,
        policies: model.policies.length,
        profiles: model.profiles.length,
        chains,
        ipsets: desired.ipsets.size,
        warnings: outside,
      },
      `ok: ${model.endpoints.length} endpoints, ${model.policies.length} policies, ${model.profiles.length} profiles → ${chains} chains, ${desired.ipsets.size} ipsets`,
    );
    return;
  }
  if (a.action === 'show') {
    await show(a, log);
    return;
  }
  if (a.cleanup) {
    const dp = await makeDataplane(a, log);
    const r = await dp.cleanup();
    print(a.json, { ok: true, ...r }, `removed ${r.chains} chains and ${r.sets} ipsets`);
    return;
  }
  if (!a.config) fail(a.json, '--config FILE|DIR is required');
  if (a.once) {
    const model = loadOrFail(a);
    const dp = await makeDataplane(a, log);
    const report = await dp.apply(renderPolicy(model, renderOptions(a)), true);
    print(
      a.json,
      { ok: true, ...report },
      `applied in ${Math.round(report.ms)} ms${report.changed ? '' : ' (no change)'}`,
    );
    return;
  }
  loadOrFail(a);
  const dp = await makeDataplane(a, log);
  const sidecar = new PolicySidecar({
    store: new FilePolicyStore(a.config),
    dataplane: dp,
    render: renderOptions(a),
    log,
    resyncIntervalSeconds: a['resync-interval'],
  });
  await sidecar.start();
  log.info({ config: a.config, resyncInterval: a['resync-interval'] }, 'policy sidecar running');
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      log.info('stopping; installed policy is left in place (use --cleanup to remove it)');
      sidecar.stop();
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

// yargs' CommandModule is invariant in its argument types; the registry holds the widened form.
export const policyCommand = policyModule as unknown as CommandModule;
