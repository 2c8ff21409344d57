// Runs a snippet of module code in a child Node process started with V8 flags (such as
// --allow-natives-syntax or --expose-gc, which a test process does not have) and the tsx loader,
// and returns the JSON printed on its last line of output. For tests that need V8's own view:
// hidden classes, optimisation status, heap space sizes.
import { spawn } from 'node:child_process';

/** The child's last stdout line, parsed; rejects when the child exits other than with 0. */
export function runV8Child<T>(
  code: string,
  flags: readonly string[],
  args: readonly string[] = [],
): Promise<T> {
  const child = spawn(
    process.execPath,
    [...flags, '--import', 'tsx', '--input-type=module', '-e', code, ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (status) => {
      if (status !== 0) reject(new Error(`child exited with ${status}: ${out}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as T);
    });
  });
}
