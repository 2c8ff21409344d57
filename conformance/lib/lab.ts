// Test topologies in network namespaces. Every conformance test builds its own Lab, whose
// namespaces carry a unique prefix (test tag + pid), and disposes of it in an `after` hook, so
// tests never share state and a crashed run leaves nothing that a later run trips over.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and collects its output; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A command that exits without reading its input would otherwise raise EPIPE here.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** Runs a command and throws, with its stderr, when it fails. */
export async function runOk(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes; the error names `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface SpawnedProcess {
  child: ChildProcess;
  logPath: string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

export class Lab {
  readonly prefix: string;
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly processes: SpawnedProcess[] = [];

  /** `tag` names the test (a few letters); the pid keeps parallel runs apart. */
  constructor(tag: string) {
    this.prefix = `tsb${tag}${process.pid % 100000}`;
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
  }

  /** The full namespace name for a short node name. */
  nsName(node: string): string {
    return `${this.prefix}-${node}`;
  }

  /** Creates a namespace with loopback up, and returns its full name. */
  async addNode(node: string): Promise<string> {
    const ns = this.nsName(node);
    await run('ip', ['netns', 'del', ns]);
    await runOk('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.exec(node, 'ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * Joins two nodes with a veth pair. Addresses are CIDR strings (IPv4 or IPv6); IPv6 DAD is
   * turned off so the addresses are usable at once.
   */
  async link(
    a: { node: string; ifname: string; addrs: string[]; mtu?: number },
    b: { node: string; ifname: string; addrs: string[]; mtu?: number },
  ): Promise<void> {
    const tmpA = `v${process.pid % 10000}a${this.namespaces.length}${Math.floor(Math.random() * 1000)}`.slice(
      0,
      15,
    );
    const tmpB = `v${process.pid % 10000}b${this.namespaces.length}${Math.floor(Math.random() * 1000)}`.slice(
      0,
      15,
    );
    await runOk('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
    for (const [tmp, end] of [
      [tmpA, a],
      [tmpB, b],
    ] as const) {
      await runOk('ip', ['link', 'set', tmp, 'netns', this.nsName(end.node)]);
      await this.exec(end.node, 'ip', ['link', 'set', tmp, 'name', end.ifname]);
      // A kernel without IPv6 (the UML one) has no such sysctl; that is not an error here.
      await this.tryExec(end.node, 'sysctl', ['-qw', `net.ipv6.conf.${end.ifname}.accept_dad=0`]);
      if (end.mtu) await this.exec(end.node, 'ip', ['link', 'set', end.ifname, 'mtu', String(end.mtu)]);
      for (const addr of end.addrs) {
        await this.exec(end.node, 'ip', [
          'addr',
          'add',
          addr,
          'dev',
          end.ifname,
          ...(addr.includes(':') ? ['nodad'] : []),
        ]);
      }
      await this.exec(end.node, 'ip', ['link', 'set', end.ifname, 'up']);
    }
  }

  /** Runs a command inside a node's namespace and throws if it fails. */
  exec(node: string, cmd: string, args: readonly string[], input?: string): Promise<string> {
    return runOk('ip', ['netns', 'exec', this.nsName(node), cmd, ...args], input);
  }

  /** Like exec, but returns the result whatever the exit code. */
  tryExec(node: string, cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.nsName(node), cmd, ...args], input);
  }

  /** Starts a long-running process in a node's namespace; its output goes to a log file in the lab dir. */
  spawn(
    node: string,
    name: string,
    cmd: string,
    args: readonly string[],
    env?: NodeJS.ProcessEnv,
  ): SpawnedProcess {
    const logPath = join(this.dir, `${node}-${name}.log`);
    const log = createWriteStream(logPath);
    const child = spawn('ip', ['netns', 'exec', this.nsName(node), cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    // Both streams write to one log, which is closed only when the process has gone: a tool that
    // writes to stderr after closing stdout (tcpdump does) must not hit a closed stream.
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.on('close', () => log.end());
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const p = { child, logPath, exited };
    this.processes.push(p);
    return p;
  }

  /** Kills every process and deletes every namespace this lab made. Safe to call twice. */
  async dispose(): Promise<void> {
    for (const p of this.processes.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 3000);
        await p.exited;
        clearTimeout(timer);
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      // Daemons that daemonised themselves (bird, bgpd) are not our children: kill what remains.
      const pids = await run('ip', ['netns', 'pids', ns]);
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await run('ip', ['netns', 'del', ns]);
    }
    if (!process.env.TSBGP_KEEP_LAB) rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** True when running as root with namespaces available; conformance tests skip with a reason otherwise. */
export function canUseNamespaces(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
