// A full garbage collection on demand, for the one moment the daemon knows it has just dropped a
// large amount of memory: the end of the start-up warm-up (src/daemon/warm-up.ts), once the
// synthetic table has been withdrawn and before its scratch stack is torn down.
//
// Why: left to itself V8 collects the warm-up's garbage only when allocation next pressures the
// old generation, ~15 s later on an idle daemon; until then the process holds ~20 MB it no
// longer uses, and the first real table is loaded on top of that garbage. Node exposes gc()
// only under --expose-gc; setting that flag at run time and reading `gc` from a new context is
// the documented way to get it without a launch flag (node:v8 setFlagsFromString).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/** Runs a full, synchronous GC. Returns false where the runtime offers none (nothing is done). */
export function collectGarbage(): boolean {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('gc');
      collect = typeof gc === 'function' ? (gc as () => void) : null;
    } catch {
      collect = null;
    }
  }
  if (collect === null) return false;
  collect();
  return true;
}
