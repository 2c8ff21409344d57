// The policy sidecar's control loop: every new model from the store is rendered and applied;
// applies never overlap, and a burst of changes collapses into one apply of the latest model. A
// periodic resync reads the kernel back and repairs drift (Felix refreshes iptables every 180 s
// and ipsets every 90 s; we default to 60 s for both, configurable).
import type Logger from 'bunyan';
import type { Subscription } from 'rxjs';
import type { ApplyReport, PolicyDataplane } from './dataplane.ts';
import type { PolicyModel } from './model.ts';
import {
  type DesiredState,
  defaultRenderOptions,
  endpointsOutsidePrefixes,
  RenderCache,
  type RenderOptions,
  renderPolicy,
} from './render.ts';
import type { PolicyStore } from './store.ts';

export interface SidecarOptions {
  store: PolicyStore;
  dataplane: PolicyDataplane;
  render: Partial<RenderOptions>;
  log: Logger;
  /** Seconds between resyncs against the kernel; 0 turns resync off. */
  resyncIntervalSeconds: number;
}

export class PolicySidecar {
  private readonly cache = new RenderCache();
  private subs: Subscription[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private pending: { model: PolicyModel; resync: boolean } | undefined;
  private running: Promise<void> | undefined;
  private model: PolicyModel | undefined;
  /** Resolves after each apply attempt; tests and `--once` wait on it. */
  lastReport: ApplyReport | undefined;
  lastError: unknown;
  applies = 0;
  drifts = 0;

  constructor(private readonly opts: SidecarOptions) {}

  async start(): Promise<void> {
    const { store, log } = this.opts;
    await store.start();
    this.subs.push(
      store.models.subscribe((m) => this.schedule(m, false)),
      store.errors.subscribe((err) =>
        log.error({ err: err.message }, 'policy input rejected; keeping the previous model'),
      ),
    );
    if (this.opts.resyncIntervalSeconds > 0) {
      this.resyncTimer = setInterval(() => {
        if (this.model) this.schedule(this.model, true);
      }, this.opts.resyncIntervalSeconds * 1000);
      this.resyncTimer.unref();
    }
  }

  render(model: PolicyModel): DesiredState {
    return renderPolicy(model, this.opts.render, this.cache);
  }

  /** Queues an apply of `model`; a resync request upgrades a queued plain apply. */
  schedule(model: PolicyModel, resync: boolean): void {
    this.model = model;
    this.pending = { model, resync: resync || (this.pending?.resync ?? false) };
    if (!this.running) this.running = this.drain();
  }

  /** Resolves when every queued apply has run. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const { model, resync } = this.pending;
        this.pending = undefined;
        await this.applyNow(model, resync);
      }
    } finally {
      this.running = undefined;
    }
  }

  private async applyNow(model: PolicyModel, resync: boolean): Promise<void> {
    const { dataplane, log } = this.opts;
    const t0 = performance.now();
    try {
      const desired = this.render(model);
      const renderMs = performance.now() - t0;
      // A full render (not an endpoint-only delta) re-checks every endpoint against the prefixes.
      if (!desired.delta) this.warnOutsidePrefixes(model);
      const report = await dataplane.apply(desired, resync);
      this.applies++;
      this.lastReport = report;
      this.lastError = undefined;
      const summary = {
        resync,
        renderMs: Math.round(renderMs),
        applyMs: Math.round(report.ms),
        endpoints: model.endpoints.length,
        chainsWritten: report.chainsWritten[4].length + report.chainsWritten[6].length,
        chainsRemoved: report.chainsRemoved[4].length + report.chainsRemoved[6].length,
        hooksRestored: [...report.hooksRestored[4], ...report.hooksRestored[6]],
        setsCreated: report.setsCreated.length,
        setsDestroyed: report.setsDestroyed.length,
        membersAdded: report.membersAdded,
        membersRemoved: report.membersRemoved,
        conntrackFlushed: report.conntrackFlushed,
      };
      if (resync && report.changed) {
        this.drifts++;
        log.warn(
          { ...summary, chains: [...report.chainsWritten[4], ...report.chainsWritten[6]] },
          'resync found drift in the installed policy and repaired it',
        );
      } else if (report.changed) log.info(summary, 'policy applied');
      else log.debug(summary, resync ? 'resync: in sync' : 'policy unchanged');
      if (report.ms > 1000)
        log.warn({ applyMs: Math.round(report.ms) }, 'updating iptables took more than 1 s');
    } catch (err) {
      this.lastError = err;
      log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'policy apply failed after retries; retrying from a kernel readback in 5 s',
      );
      const retry = setTimeout(() => {
        if (!this.pending && this.model) this.schedule(this.model, true);
      }, 5000);
      retry.unref();
    }
  }

  private warnOutsidePrefixes(model: PolicyModel): void {
    const prefixes =
      this.opts.render.workloadInterfacePrefixes ?? defaultRenderOptions.workloadInterfacePrefixes;
    const outside = endpointsOutsidePrefixes(model.endpoints, prefixes);
    if (outside.length)
      this.opts.log.warn(
        {
          prefixes,
          endpoints: outside.slice(0, 20).map((e) => `${e.name} (${e.interface})`),
          count: outside.length,
        },
        'endpoints whose interface matches no workload interface prefix: their policy is never applied',
      );
  }

  stop(): void {
    clearInterval(this.resyncTimer);
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.opts.store.stop();
  }
}
