// Client for ipip-driver.ts: starts it in a lab namespace and asks for its status.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TunnelStatus } from '../../src/ipip/ipip-dataplane.ts';
import type { MtuReport } from '../../src/ipip/mtu.ts';
import { spawnScriptInNamespace } from '../lib/ns-script.ts';

export interface IpipStatus {
  report: MtuReport;
  tunnel: TunnelStatus;
  underlay: { ifname: string; subnets: string[] };
  forms: Record<string, string>;
  syncer: { failing: number; installed: number };
  logs: string[];
}

export class IpipDriver {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  stderr = '';

  constructor(ns: string, cfg: object) {
    this.child = spawnScriptInNamespace(ns, new URL('./ipip-driver.ts', import.meta.url), cfg);
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    createInterface({ input: this.child.stdout }).on('line', (l) => {
      this.lines.push(l);
      this.wake?.();
    });
  }

  private async next(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`ipip driver gave no answer (exit ${this.child.exitCode}): ${this.stderr}`);
      }
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
    return this.lines.shift()!;
  }

  async ready(): Promise<void> {
    const l = await this.next(120_000);
    if (!l.includes('"ready"')) throw new Error(`unexpected first line from the ipip driver: ${l}`);
  }

  async status(): Promise<IpipStatus> {
    this.child.stdin.write('status\n');
    return JSON.parse(await this.next()) as IpipStatus;
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.end();
    setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
    return done;
  }
}
