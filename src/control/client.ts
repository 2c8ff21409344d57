// Client side of the control socket, used by the CLI: one connection, one request, one answer.
import { createConnection } from 'node:net';
import { ControlError, type ErrorCode, type Response } from './protocol.ts';

export async function controlRequest<T = unknown>(
  path: string,
  method: string,
  params: Record<string, unknown> = {},
  timeoutMs = 30_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const sock = createConnection(path);
    let buffer = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new ControlError('unavailable', `no answer from ${path} within ${timeoutMs} ms`)),
        ),
      timeoutMs,
    );
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify({ id: 1, method, params })}\n`));
    sock.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      let res: Response;
      try {
        res = JSON.parse(buffer.slice(0, nl)) as Response;
      } catch {
        finish(() => reject(new ControlError('internal', 'malformed answer from the daemon')));
        return;
      }
      if (res.ok) finish(() => resolve(res.result as T));
      else
        finish(() =>
          reject(new ControlError(res.error.code as ErrorCode, res.error.message, res.error.details)),
        );
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? 'no daemon is listening (is `tsbgp run` running, with this --control-socket?)'
          : e.code === 'EACCES'
            ? "permission denied (run as root or as a member of the socket's group)"
            : e.message;
      finish(() => reject(new ControlError('unavailable', `cannot reach ${path}: ${why}`)));
    });
    sock.on('close', () =>
      finish(() =>
        reject(new ControlError('unavailable', `${path} closed the connection without answering`)),
      ),
    );
  });
}
