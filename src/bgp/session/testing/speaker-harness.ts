// Loopback speaker harness shared by the session-layer tests (speaker.test.ts,
// graceful-restart.test.ts). Test-only: the build excludes src/**/testing/**.
import bunyan from 'bunyan';
import { Speaker } from '../speaker.ts';
import type { SocketFactory } from '../transport.ts';
import type { PeerStatus } from '../types.ts';

export type TestSpeaker = Speaker & { port: number };

export interface SpeakerHarness {
  /**
   * A quiet Speaker listening on `address` at the next free test port (or `port`), stopped by
   * `stopAll`. `restarting` sets the RFC 4724 Restart State bit in its OPENs; `socketFactory`
   * replaces the real one (to hold an outgoing connection in Connect, say).
   */
  speaker(
    localAs: number,
    address: string,
    routerId: string,
    options?: { port?: number; restarting?: boolean; socketFactory?: SocketFactory },
  ): TestSpeaker;
  /** Stops every speaker this harness made, ignoring errors (for `after`). */
  stopAll(): Promise<void>;
}

export const quiet = bunyan.createLogger({ name: 'test', level: 'fatal' });

/** Each test file passes its own first port so files running in parallel do not collide. */
export function speakerHarness(firstPort: number): SpeakerHarness {
  let nextPort = firstPort;
  const speakers: Speaker[] = [];
  return {
    speaker(localAs, address, routerId, options = {}) {
      const port = options.port ?? nextPort++;
      const s = new Speaker({
        localAs,
        routerId,
        listen: { addresses: [address], port },
        logger: quiet,
        gracefulRestartRestarting: options.restarting ?? false,
        socketFactory: options.socketFactory,
      }) as TestSpeaker;
      s.port = port;
      speakers.push(s);
      return s;
    },
    async stopAll() {
      await Promise.all(speakers.map((s) => s.stop('test done').catch(() => {})));
    },
  };
}

/** Polls `probe` every 20 ms until it returns a truthy value; fails after `ms`. */
export async function until<T>(what: string, probe: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function peerOf(s: Speaker, id: string): PeerStatus | undefined {
  return s.status().find((p) => p.id === id);
}

export function established(s: Speaker, id: string): Promise<PeerStatus> {
  return until(`${id} Established`, () => {
    const p = peerOf(s, id);
    return p?.state === 'Established' ? p : undefined;
  });
}
