// Tracking the processes of a daemon that forks (OpenBGPD's session engine and RDE, ExaBGP's API
// helper): stopping it means waiting until every one of them is gone, or a restart would race
// with children that still hold the control socket or answer queries.
import { existsSync } from 'node:fs';
import { type Lab, run, type SpawnedProcess } from '../lab.ts';

/** The pids currently in a node's namespace. */
export async function namespacePids(lab: Lab, node: string): Promise<Set<number>> {
  const r = await run('ip', ['netns', 'pids', lab.nsName(node)]);
  return new Set(r.stdout.split(/\s+/).filter(Boolean).map(Number));
}

/** Pids in the namespace now that were not in `before`: the processes a daemon start created. */
export async function newPids(lab: Lab, node: string, before: Set<number>): Promise<number[]> {
  return [...(await namespacePids(lab, node))].filter((p) => !before.has(p));
}

/** Sends SIGTERM to each pid and waits until all are gone, with SIGKILL after `timeoutMs`. */
export async function terminateAll(pids: readonly number[], timeoutMs = 5000): Promise<void> {
  const alive = () => pids.filter((p) => existsSync(`/proc/${p}`));
  for (const p of alive()) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (alive().length > 0) {
    if (Date.now() > deadline) {
      for (const p of alive()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops each spawned process still running, in order: SIGTERM, then waits for it to exit. */
export async function stopSpawned(...procs: (SpawnedProcess | undefined)[]): Promise<void> {
  for (const p of procs) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
}
