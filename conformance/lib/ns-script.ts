// Test helper processes (the *-driver.ts scripts beside some conformance tests) run inside a lab
// namespace through tsx, configured by one JSON argument and spoken to over stdin/stdout.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Starts `node --import tsx <script> <JSON of cfg>` in network namespace `ns`. */
export function spawnScriptInNamespace(ns: string, script: URL, cfg: object): ChildProcessWithoutNullStreams {
  return spawn('ip', [
    'netns',
    'exec',
    ns,
    process.execPath,
    '--import',
    'tsx',
    fileURLToPath(script),
    JSON.stringify(cfg),
  ]);
}
