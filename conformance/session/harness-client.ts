// Test-side client of speaker-harness.ts's control socket: one JSON request, one JSON reply line.
import { connect } from 'node:net';
import type { PeerStatus } from '../../src/bgp/session/index.ts';
import type { RouteView } from '../../src/bgp/session/speaker.ts';

export interface HarnessReply {
  ok: boolean;
  error?: string;
  status?: PeerStatus[];
  routes?: RouteView[];
}

export function harnessCommand(socketPath: string, cmd: Record<string, unknown>): Promise<HarnessReply> {
  return new Promise((resolve, reject) => {
    const c = connect(socketPath);
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', reject);
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        c.destroy();
        resolve(JSON.parse(buf.slice(0, nl)) as HarnessReply);
      }
    });
    c.write(`${JSON.stringify(cmd)}\n`);
  });
}
