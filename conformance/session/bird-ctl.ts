// A persistent client for BIRD's control socket (the birdc protocol: numbered reply lines, the
// last one starting "0000" or an error code). Unix sockets live in the file system, so the test
// process reaches a BIRD running in any namespace without spawning birdc per query, which lets
// benchmarks poll every few milliseconds.
import { connect, type Socket } from 'node:net';

export class BirdCtl {
  private socket: Socket;
  private buffer = '';
  private waiters: ((lines: string[]) => void)[] = [];
  private current: string[] = [];
  private readonly ready: Promise<void>;

  constructor(path: string) {
    this.socket = connect(path);
    this.socket.setEncoding('utf8');
    let greeted: () => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      greeted = resolve;
      this.socket.once('error', reject);
    });
    let greeting = true;
    this.socket.on('data', (d: string) => {
      this.buffer += d;
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (greeting) {
          // "0001 BIRD x.y ready."
          greeting = false;
          greeted();
          continue;
        }
        this.current.push(line);
        // A reply ends with a line whose 4-digit code is followed by a space (not '-').
        if (/^\d{4} /.test(line)) {
          const done = this.current;
          this.current = [];
          this.waiters.shift()?.(done);
        }
      }
    });
  }

  static async open(path: string): Promise<BirdCtl> {
    const c = new BirdCtl(path);
    await c.ready;
    return c;
  }

  /** Sends one command and returns its reply lines. */
  command(cmd: string): Promise<string[]> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.socket.write(`${cmd}\n`);
    });
  }

  /**
   * Routes one protocol has imported, from its channel counters (`show protocols all NAME`).
   * Unlike `show route count`, which walks the table (~170 ms of BIRD's CPU at 1M routes, during
   * which it reads nothing), this costs BIRD nothing: a probe polled every few ms must not slow
   * down the process it measures.
   */
  async importedRoutes(protocol: string): Promise<number> {
    const reply = await this.command(`show protocols all ${protocol}`);
    let n = 0;
    for (const l of reply) {
      const m = /Routes:\s+(\d+) imported/.exec(l);
      if (m) n += Number(m[1]);
    }
    return n;
  }

  /** Routes in all tables, from `show route count` (walks the table: not for polling). */
  async routeCount(): Promise<number> {
    const reply = await this.command('show route count');
    let n = 0;
    for (const l of reply) {
      const m = /(\d+) of (\d+) routes for \d+ networks in table/.exec(l);
      if (m) n += Number(m[1]);
    }
    return n;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** VmHWM (peak RSS) and VmRSS of a process, in bytes. */
export function memoryOf(pid: number, readFile: (p: string) => string): { peak: number; rss: number } {
  const status = readFile(`/proc/${pid}/status`);
  const kb = (k: string): number =>
    Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), rss: kb('VmRSS') };
}

/**
 * Resets a process's VmHWM to its present RSS (`echo 5 > /proc/PID/clear_refs`, Linux ≥ 4.0), so
 * that a later VmHWM is the peak of what came after, not of the process's start-up.
 */
export function resetPeakOf(pid: number, writeFile: (p: string, text: string) => void): void {
  writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (USER_HZ = 100). */
export function cpuSecondsOf(pid: number, readFile: (p: string) => string): number {
  const stat = readFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** Minor page faults of a process so far (/proc/PID/stat field 10): fresh memory first touched. */
export function minorFaultsOf(pid: number, readFile: (p: string) => string): number {
  const stat = readFile(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}
