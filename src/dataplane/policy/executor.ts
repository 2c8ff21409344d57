// Thin executors: spawning iptables-restore / iptables-save / ipset / conntrack, with retries and
// back-off. Everything that decides what to run lives in the pure modules; this file only runs it.
import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with optional stdin. Injected so tests can record what would be run. */
export type CommandRunner = (cmd: string, args: readonly string[], stdin?: string) => Promise<CommandResult>;

export const spawnRunner: CommandRunner = (cmd, args, stdin) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: String(e.message) }));
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
  });

export type Backend = 'legacy' | 'nft';

export interface Tools {
  save: Record<4 | 6, string>;
  restore: Record<4 | 6, string>;
}

export function toolsFor(backend: Backend): Tools {
  return {
    save: { 4: `iptables-${backend}-save`, 6: `ip6tables-${backend}-save` },
    restore: { 4: `iptables-${backend}-restore`, 6: `ip6tables-${backend}-restore` },
  };
}

function countRules(save: string): number {
  let n = 0;
  for (const l of save.split('\n')) if (l.startsWith('-A ')) n++;
  return n;
}

/**
 * Picks the backend others on this host use, as Felix's DetectBackend does: the one that already
 * holds rules (more rules wins); on a tie, the one the system's `iptables` command is.
 */
export async function detectBackend(run: CommandRunner): Promise<{ backend: Backend; reason: string }> {
  const [legacy, nft] = await Promise.all([run('iptables-legacy-save', []), run('iptables-nft-save', [])]);
  const l = legacy.code === 0 ? countRules(legacy.stdout) : -1;
  const n = nft.code === 0 ? countRules(nft.stdout) : -1;
  if (l !== n && (l > 0 || n > 0)) {
    const backend = n > l ? 'nft' : 'legacy';
    return { backend, reason: `${backend} holds more rules (legacy ${l}, nft ${n})` };
  }
  const v = await run('iptables', ['--version']);
  const backend: Backend = /nf_tables/.test(v.stdout) ? 'nft' : 'legacy';
  return { backend, reason: `no rules in either; system iptables is ${backend}` };
}

export interface RetryPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetry: RetryPolicy = { attempts: 6, initialDelayMs: 50, maxDelayMs: 2000 };

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly result: CommandResult,
    readonly input?: string,
  ) {
    super(`${cmd} exited ${result.code}: ${result.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
    this.name = 'CommandError';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `attempt` until it succeeds or the policy's attempts run out, doubling the delay. */
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  onFailure: (err: unknown, n: number, delayMs: number) => void,
): Promise<T> {
  let delay = policy.initialDelayMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.attempts) throw err;
      onFailure(err, n, delay);
      await sleep(delay);
      delay = Math.min(policy.maxDelayMs, delay * 2);
    }
  }
}
