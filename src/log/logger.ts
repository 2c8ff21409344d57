// Logging: bunyan JSON records (one line each, for journald / log shippers), or a readable
// one-line-per-record form for terminals. Conventions every module follows so that logs can be
// searched: `peer` carries the neighbour's name or address, `reason` says why, `err` an Error.
import type { Writable } from 'node:stream';
import bunyan from 'bunyan';

export type Logger = bunyan;

import type { LogFormat, LogLevelName } from './levels.ts';

export { LOG_LEVELS, type LogFormat, type LogLevelName } from './levels.ts';

export interface LoggerOptions {
  level?: LogLevelName;
  format?: LogFormat;
  /** Where records go; process.stdout by default. */
  stream?: Writable;
  /** Colour the pretty form; default: when the stream is a TTY and NO_COLOR is unset. */
  color?: boolean;
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const level = options.level ?? 'info';
  const name = options.name ?? 'tsbgp';
  if (options.format === 'pretty') {
    const color =
      options.color ??
      (Boolean((stream as Partial<NodeJS.WriteStream>).isTTY) && process.env.NO_COLOR === undefined);
    return bunyan.createLogger({
      name,
      level,
      serializers: bunyan.stdSerializers,
      streams: [{ type: 'raw', level, stream: new PrettyRawStream(stream, color) }],
    });
  }
  return bunyan.createLogger({
    name,
    level,
    serializers: bunyan.stdSerializers,
    streams: [{ level, stream }],
  });
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return bunyan.createLogger({ name: 'tsbgp', level: bunyan.FATAL + 1, streams: [] });
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields bunyan adds to every record; not repeated in the readable form. */
const CORE_FIELDS = new Set([
  'name',
  'hostname',
  'pid',
  'level',
  'time',
  'msg',
  'v',
  'src',
  'peer',
  'peerName',
  'err',
  'component',
]);

export interface LogRecord {
  level: number;
  time: Date | string;
  msg: string;
  peer?: unknown;
  component?: unknown;
  err?: { message?: string; stack?: string; code?: string };
  [key: string]: unknown;
}

/**
 * Formats one record as `HH:MM:SS.mmm LEVEL [component] peer=X message key=value ...`; the date is
 * left out since terminals show recent output, and an error's stack follows on indented lines.
 */
export function formatPretty(rec: LogRecord, color: boolean): string {
  const time = rec.time instanceof Date ? rec.time : new Date(rec.time);
  const hms = time.toISOString().slice(11, 23);
  const levelName = (LEVEL_NAMES[rec.level] ?? String(rec.level)).padEnd(5);
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  let line = `${paint('90', hms)} ${paint(LEVEL_COLORS[rec.level] ?? '0', levelName)}`;
  if (rec.component !== undefined) line += ` [${String(rec.component)}]`;
  if (rec.peer !== undefined) {
    // The session layer adds the configured name beside the address: show both, name first.
    const name =
      rec.peerName !== undefined && rec.peerName !== rec.peer
        ? `${String(rec.peerName)}(${String(rec.peer)})`
        : String(rec.peer);
    line += ` ${paint('1', `peer=${name}`)}`;
  }
  line += ` ${rec.msg}`;
  for (const [k, v] of Object.entries(rec)) {
    if (CORE_FIELDS.has(k) || v === undefined) continue;
    line += ` ${paint('90', `${k}=`)}${formatValue(v)}`;
  }
  if (rec.err) {
    line += ` ${paint('31', `err=${JSON.stringify(rec.err.message ?? '')}`)}`;
    if (rec.level >= 50 && rec.err.stack) {
      const stack = rec.err.stack
        .split('\n')
        .slice(1, 6)
        .map((l) => `    ${l.trim()}`);
      line += `\n${stack.join('\n')}`;
    }
  }
  return line;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

class PrettyRawStream {
  constructor(
    private readonly out: Writable,
    private readonly color: boolean,
  ) {}
  // bunyan passes raw streams the record object; its typings call that `Object`.
  write = (rec: object): void => {
    this.out.write(`${formatPretty(rec as LogRecord, this.color)}\n`);
  };
}
