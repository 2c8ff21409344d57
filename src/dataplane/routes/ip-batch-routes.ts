// Route executor over a persistent `ip -force -batch -` process: the fallback and the yardstick
// for the benchmark. Ops are written as `route replace|del` lines; `-force` keeps ip going past a
// failed line and reports it on stderr as "Command failed -:N", N counting lines since start. Each
// batch ends with a line that always fails (a `link show` of a name that cannot exist), so its
// report marks the batch done and everything reported before it belongs to the batch.
// Dumps use `ip -N -d -json route show table all`; events come from a netlink monitor, since
// `ip monitor` prints text only (node-libraries.md §1).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { canonicalPrefix } from './addr.ts';
import type { KernelRoutes, RouteOpFailure, RouteWatchHandlers } from './kernel-routes.ts';
import { formatRouteArgs, type KernelRoute, type NextHop, type RouteOp, type RouteType } from './model.ts';
import { NetlinkRoutes } from './netlink-routes.ts';

const BARRIER = 'link show dev tsbgp-barrier!';

/** iproute2 error texts to errno numbers, for the common refusals of route programming. */
const ERROR_TEXTS: Array<[RegExp, number]> = [
  [/No such process/, 3],
  [/File exists/, 17],
  [/Network is unreachable|Nexthop has invalid gateway/, 101],
  [/Cannot find device|No such device/, 19],
  [/Operation not permitted/, 1],
  [/No route to host/, 113],
];

export class IpBatchRoutes implements KernelRoutes {
  readonly name = 'ip-batch';
  private readonly child: ChildProcessWithoutNullStreams;
  private linesWritten = 0;
  private stderrBuf = '';
  private lastErrorText = '';
  private current:
    | {
        firstLine: number;
        barrierLine: number;
        ops: readonly RouteOp[];
        failures: RouteOpFailure[];
        resolve: (f: RouteOpFailure[]) => void;
        reject: (e: Error) => void;
      }
    | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private monitor: NetlinkRoutes | undefined;
  private exited = false;

  constructor(private readonly ipPath = 'ip') {
    this.child = spawn(ipPath, ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.resume();
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => this.onStderr(d));
    this.child.stdin.on('error', () => {});
    this.child.on('exit', (code) => {
      this.exited = true;
      this.current?.reject(new Error(`ip -batch exited with code ${code}`));
      this.current = undefined;
    });
  }

  private onStderr(data: string): void {
    this.stderrBuf += data;
    let nl = this.stderrBuf.indexOf('\n');
    while (nl >= 0) {
      const line = this.stderrBuf.slice(0, nl);
      this.stderrBuf = this.stderrBuf.slice(nl + 1);
      this.onStderrLine(line);
      nl = this.stderrBuf.indexOf('\n');
    }
  }

  private onStderrLine(line: string): void {
    const m = /^Command failed -:(\d+)/.exec(line);
    if (!m) {
      this.lastErrorText = this.lastErrorText ? `${this.lastErrorText}; ${line}` : line;
      return;
    }
    const lineNo = Number(m[1]);
    const text = this.lastErrorText;
    this.lastErrorText = '';
    const cur = this.current;
    if (!cur) return;
    if (lineNo === cur.barrierLine) {
      this.current = undefined;
      cur.resolve(cur.failures);
      return;
    }
    const index = lineNo - cur.firstLine;
    if (index < 0 || index >= cur.ops.length) return;
    let errno = 22;
    for (const [re, n] of ERROR_TEXTS) {
      if (re.test(text)) {
        errno = n;
        break;
      }
    }
    const op = cur.ops[index]!;
    cur.failures.push({
      index,
      errno,
      message: `${op.op} ${formatRouteArgs(op.route, op.op !== 'delete')}: ${text}`,
    });
  }

  apply(ops: readonly RouteOp[]): Promise<RouteOpFailure[]> {
    const run = this.queue.then(() => this.applyNow(ops));
    this.queue = run.catch(() => {});
    return run;
  }

  private applyNow(ops: readonly RouteOp[]): Promise<RouteOpFailure[]> {
    if (this.exited) return Promise.reject(new Error('ip -batch has exited'));
    const lines: string[] = [];
    for (const op of ops) {
      lines.push(
        op.op === 'delete'
          ? `route del ${formatRouteArgs(op.route, false)}`
          : `route replace ${formatRouteArgs(op.route)}`,
      );
    }
    lines.push(BARRIER);
    const firstLine = this.linesWritten + 1;
    this.linesWritten += lines.length;
    return new Promise((resolve, reject) => {
      this.current = { firstLine, barrierLine: this.linesWritten, ops, failures: [], resolve, reject };
      this.child.stdin.write(`${lines.join('\n')}\n`);
    });
  }

  async dump(): Promise<KernelRoute[]> {
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(this.ipPath, ['-N', '-d', '-json', 'route', 'show', 'table', 'all']);
      let s = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => {
        s += d;
      });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`ip route show exited ${code}`))));
    });
    return parseIpJsonRoutes(out);
  }

  watch(handlers: RouteWatchHandlers): () => void {
    // Events need the netlink monitor either way; it is opened lazily and shared.
    let unwatch: (() => void) | undefined;
    let cancelled = false;
    const ready = this.monitor
      ? Promise.resolve(this.monitor)
      : NetlinkRoutes.open().then((m) => {
          this.monitor = m;
          return m;
        });
    void ready.then((m) => {
      if (!cancelled) unwatch = m.watch(handlers);
    });
    return () => {
      cancelled = true;
      unwatch?.();
    };
  }

  async whenWatching(): Promise<void> {
    if (!this.monitor) this.monitor = await NetlinkRoutes.open();
    await this.monitor.whenWatching();
  }

  async close(): Promise<void> {
    await this.monitor?.close();
    if (this.exited) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    await done;
  }
}

interface IpJsonNextHop {
  gateway?: string;
  dev?: string;
  weight?: number;
  flags?: string[];
}

interface IpJsonRoute extends IpJsonNextHop {
  type?: string;
  dst: string;
  table?: string;
  protocol?: string;
  metric?: number;
  metrics?: Array<{ mtu?: number }>;
  nexthops?: IpJsonNextHop[];
}

const TYPES: Record<string, RouteType> = {
  '1': 'unicast',
  '6': 'blackhole',
  '7': 'unreachable',
  '8': 'prohibit',
};

/** Parses `ip -N -d -json route show table all` output into the route model. */
export function parseIpJsonRoutes(text: string): KernelRoute[] {
  const rows = JSON.parse(text || '[]') as IpJsonRoute[];
  const out: KernelRoute[] = [];
  for (const row of rows) {
    const type = TYPES[row.type ?? '1'];
    if (!type) continue;
    const v6 = row.dst.includes(':') || (row.gateway ?? '').includes(':');
    const dst =
      row.dst === 'default' ? (v6 ? '::/0' : '0.0.0.0/0') : canonicalPrefix(row.dst.replace(/^default$/, ''));
    const nh = (x: IpJsonNextHop): NextHop => {
      const n: NextHop = { weight: x.weight ?? 1 };
      if (x.gateway) n.gateway = x.gateway;
      if (x.dev) n.dev = x.dev;
      if (x.flags?.includes('onlink')) n.onlink = true;
      return n;
    };
    const r: KernelRoute = {
      dst,
      table: Number(row.table ?? 254),
      protocol: Number(row.protocol ?? 0),
      metric: row.metric ?? 0,
      type,
      nextHops: type !== 'unicast' ? [] : row.nexthops ? row.nexthops.map(nh) : [nh(row)],
    };
    if (r.nextHops.length === 1) r.nextHops[0]!.weight = 1;
    const mtu = row.metrics?.find((m) => m.mtu)?.mtu;
    if (mtu) r.mtu = mtu;
    out.push(r);
  }
  return out;
}
