// The control socket server. A Unix socket whose file mode and directory mode decide who may use
// it (socket 0660, directory 0750, owner root, as BIRD's and FRR's control sockets): the daemon
// refuses to start while another daemon answers on the path, and removes a stale socket file.
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { ControlError, MAX_LINE_BYTES, type Request, type Response } from './protocol.ts';

export type Handler = (params: Record<string, unknown>) => unknown;
export type Handlers = Readonly<Record<string, Handler>>;

export interface ControlServerOptions {
  path: string;
  handlers: Handlers;
  log: Logger;
  socketMode?: number;
  dirMode?: number;
  /** Group (name or gid) given the socket, and its directory when created here. */
  group?: string | number | undefined;
  maxConnections?: number;
}

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: ControlServerOptions) {}

  get path(): string {
    return this.options.path;
  }

  async listen(): Promise<void> {
    const { path } = this.options;
    const gid = this.options.group !== undefined ? await resolveGroup(this.options.group) : undefined;
    const createdDir = await prepareSocketPath(path, this.options.dirMode ?? 0o750);
    if (gid !== undefined && createdDir) await chown(dirname(path), -1, gid);
    const server = createServer((sock) => this.onConnection(sock));
    server.maxConnections = this.options.maxConnections ?? 64;
    // Create the socket file without group/other write from the first instant, then set the mode.
    const oldUmask = process.umask(0o117);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldUmask);
    }
    if (gid !== undefined) await chown(path, -1, gid);
    await chmod(path, this.options.socketMode ?? 0o660);
    server.on('error', (e) => this.options.log.error({ err: e }, 'control socket error'));
    this.server = server;
    this.options.log.info({ path }, 'control socket listening');
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.options.path).catch(() => undefined);
  }

  private onConnection(sock: Socket): void {
    this.sockets.add(sock);
    sock.setEncoding('utf8');
    let buffer = '';
    let chain: Promise<void> = Promise.resolve();
    sock.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE_BYTES && !buffer.includes('\n')) {
        this.write(sock, {
          id: null,
          ok: false,
          error: { code: 'bad-request', message: 'request line too long' },
        });
        sock.end();
        buffer = '';
        return;
      }
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        if (line === '') continue;
        // Answer in order, one request at a time per connection.
        chain = chain.then(async () => this.write(sock, await this.dispatch(line)));
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.sockets.delete(sock));
  }

  private write(sock: Socket, res: Response): void {
    if (!sock.destroyed && sock.writable) sock.write(`${JSON.stringify(res)}\n`);
  }

  private async dispatch(line: string): Promise<Response> {
    let req: Request;
    try {
      const parsed: unknown = JSON.parse(line);
      if (!isRequest(parsed)) throw new Error('expected {"id", "method", "params"}');
      req = parsed;
    } catch (e) {
      return {
        id: null,
        ok: false,
        error: { code: 'bad-request', message: `malformed request: ${(e as Error).message}` },
      };
    }
    const handler = Object.hasOwn(this.options.handlers, req.method)
      ? this.options.handlers[req.method]
      : undefined;
    if (!handler) {
      return {
        id: req.id,
        ok: false,
        error: { code: 'bad-request', message: `unknown method "${req.method}"` },
      };
    }
    try {
      const result = await handler(req.params ?? {});
      return { id: req.id, ok: true, result: result ?? null };
    } catch (e) {
      if (e instanceof ControlError) {
        return { id: req.id, ok: false, error: { code: e.code, message: e.message, details: e.details } };
      }
      const message = e instanceof Error ? e.message : String(e);
      const code = e instanceof Error && e.name === 'NotFoundError' ? 'not-found' : 'internal';
      if (code === 'internal')
        this.options.log.error({ err: e, method: req.method }, 'control request failed');
      return { id: req.id, ok: false, error: { code, message } };
    }
  }
}

function isRequest(v: unknown): v is Request {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    (typeof r.id === 'number' || typeof r.id === 'string') &&
    typeof r.method === 'string' &&
    (r.params === undefined ||
      (typeof r.params === 'object' && r.params !== null && !Array.isArray(r.params)))
  );
}

/**
 * Makes the socket's directory (mode `dirMode`, only when we create it: an existing directory such
 * as /tmp keeps its mode) and clears the way: a live daemon on the path is an error, a stale
 * socket file is removed, anything else at the path is refused. Returns whether the directory
 * was created here.
 */
export async function prepareSocketPath(path: string, dirMode: number): Promise<boolean> {
  const dir = dirname(path);
  const created = (await mkdir(dir, { recursive: true, mode: dirMode })) !== undefined;
  if (created) await chmod(dir, dirMode);
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return created;
    throw e;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket: refusing to replace it`);
  if (await socketAnswers(path)) {
    throw new Error(`another tsbgp daemon is running on the control socket ${path}`);
  }
  await unlink(path);
  return created;
}

/** A group name or number to a gid, from /etc/group (Node has no getgrnam). */
export async function resolveGroup(group: string | number, groupFile = '/etc/group'): Promise<number> {
  if (typeof group === 'number') return group;
  const text = await readFile(groupFile, 'utf8');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`control socket group "${group}" does not exist (${groupFile})`);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const done = (v: boolean) => {
      c.destroy();
      resolve(v);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    c.setTimeout(1000, () => done(false));
  });
}
