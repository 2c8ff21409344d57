// The control socket protocol: newline-delimited JSON over a Unix stream socket. Each request is
// one line `{"id":1,"method":"show.neighbors","params":{}}`; each response one line
// `{"id":1,"ok":true,"result":...}` or `{"id":1,"ok":false,"error":{"code":"not-found","message":"..."}}`.
// Requests on one connection are answered in order.

export const METHODS = [
  'show.status',
  'show.neighbors',
  'show.neighbor',
  'show.routes',
  'show.mtu',
  'neighbor.shutdown',
  'neighbor.enable',
  'neighbor.reset',
  'reload',
] as const;
export type Method = (typeof METHODS)[number];

export type ErrorCode = 'bad-request' | 'not-found' | 'config' | 'unavailable' | 'internal';

export interface Request {
  id: number | string;
  method: string;
  params?: Record<string, unknown>;
}

export type Response =
  | { id: number | string | null; ok: true; result: unknown }
  | { id: number | string | null; ok: false; error: { code: ErrorCode; message: string; details?: unknown } };

/** A request failure that carries a protocol error code (and optional structured details). */
export class ControlError extends Error {
  override name = 'ControlError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The longest request line accepted; the server drops a connection that sends more. */
export const MAX_LINE_BYTES = 64 * 1024;
