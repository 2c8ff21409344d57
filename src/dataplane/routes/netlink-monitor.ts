// Kernel event subscription (rtnetlink multicast groups) through a child process.
//
// Why a child: when a netlink socket overruns (ENOBUFS), epoll reports POLLERR, libuv turns that
// into UV_EBADF, and the `netlink` addon's error path then throws a C++ exception from a libuv
// callback, which aborts the whole process (binding.cc PollHandler -> ErrnoException with a NULL
// syscall). A storm of route changes by anyone would take the BGP daemon down with it. In a child,
// an overrun ends only the child: we treat its exit as "events lost", resync from a dump, and
// start a new one. The child also drops the echoes of our own requests (forwarding only their
// sequence numbers), so bulk programming costs the pipe nothing.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NlMessageView } from './rtnl.ts';

// The child runs the same sources: through tsx when we run from TypeScript (the loader may have
// been registered programmatically, as bin/tsbgp.js does, so it is not always in execArgv), or as
// plain JavaScript from a build.
const FROM_TS = import.meta.url.endsWith('.ts');
const CHILD_SCRIPT = fileURLToPath(
  new URL(FROM_TS ? './monitor-child.ts' : './monitor-child.js', import.meta.url),
);

/** Node options that take a module (`--import X` or `--import=X`). */
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/**
 * Only the parent's module-loading flags: the child's stdout is its protocol, so diagnostic
 * flags that print there (--trace-gc, --cpu-prof's messages) or debug ports must not reach it.
 */
function childLoaderArgs(): string[] {
  const inherited: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    if (eq > 0 && LOADER_FLAGS.has(a.slice(0, eq))) inherited.push(a);
    else if (LOADER_FLAGS.has(a) && i + 1 < argv.length) inherited.push(a, argv[++i]!);
  }
  if (!FROM_TS || inherited.some((a) => a.includes('tsx'))) return inherited;
  return [...inherited, '--import', import.meta.resolve('tsx')];
}

export interface NetlinkMonitorOptions {
  groups: readonly number[];
  recvBufferSize?: number;
  /** Our request socket's port: its echoes become progress reports instead of messages. */
  ignorePort?: number;
  onMessage(m: NlMessageView): void;
  /** Highest sequence number of our own requests the kernel has notified about. */
  onProgress?(seq: number): void;
  /** Events may have been lost (the child overran and died); called once a new child listens. */
  onLost(reason: string): void;
  /** Delay before restarting a dead child (default 100 ms). */
  restartDelayMs?: number;
}

export class NetlinkMonitor {
  private child: ChildProcessWithoutNullStreams | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private stopped = false;
  private readyResolve: (() => void) | undefined;
  private readyPromise: Promise<void>;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: NetlinkMonitorOptions) {
    this.readyPromise = this.spawnChild();
  }

  /** Resolves once the kernel memberships are joined (events from then on are seen). */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  private spawnChild(): Promise<void> {
    const ready = new Promise<void>((resolve) => {
      this.readyResolve = resolve;
    });
    const child = spawn(
      process.execPath,
      [
        ...childLoaderArgs(),
        CHILD_SCRIPT,
        this.opts.groups.join(','),
        String(this.opts.recvBufferSize ?? 8 << 20),
        String(this.opts.ignorePort ?? 0),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.buf = Buffer.alloc(0);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-2000);
    });
    child.stdin.on('error', () => {});
    child.stdout.on('data', (d: Buffer) => this.onData(d));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopped) return;
      const why = `netlink monitor exited (${signal ?? code})${/ENOBUFS|Napi/.test(stderr) ? ': receive buffer overrun' : ''}`;
      // Report the loss only once the new child listens: a resync done earlier could miss the
      // changes made between its dump and the new subscription.
      this.restartTimer = setTimeout(() => {
        this.readyPromise = this.spawnChild();
        void this.readyPromise.then(() => {
          if (!this.stopped) this.opts.onLost(why);
        });
      }, this.opts.restartDelayMs ?? 100);
      this.restartTimer.unref();
    });
    return ready;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let off = 0;
    while (off + 4 <= this.buf.length) {
      const len = this.buf.readUInt32LE(off);
      if (off + 4 + len > this.buf.length) break;
      const kind = this.buf.readUInt8(off + 4);
      const start = off + 5;
      const end = off + 4 + len;
      if (kind === 0 && end - start >= 16) {
        const b = this.buf;
        this.opts.onMessage({
          type: b.readUInt16LE(start + 4),
          flags: b.readUInt16LE(start + 6),
          seq: b.readUInt32LE(start + 8),
          buf: b,
          off: start + 16,
          end,
        });
      } else if (kind === 1) {
        this.opts.onProgress?.(this.buf.readUInt32LE(start));
      } else if (kind === 2) {
        this.readyResolve?.();
      }
      off = end;
    }
    this.buf = this.buf.subarray(off);
  }

  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const c = this.child;
    this.child = undefined;
    if (c) {
      c.stdin.end();
      setTimeout(() => c.kill('SIGKILL'), 1000).unref();
    }
  }
}
