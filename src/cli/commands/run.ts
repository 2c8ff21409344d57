// `tsbgp run --config FILE`: the daemon. Validates the config (refusing to start on any problem),
// claims the control socket (refusing while another daemon holds it), starts the speaker, and
// then reacts to SIGHUP (reload), SIGTERM / SIGINT (Cease to every peer, exit 0).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { DEFAULTS } from '../../config/defaults.ts';
import type { Config } from '../../config/types.ts';
import { LOG_LEVELS, type LogFormat, type LogLevelName } from '../../log/levels.ts';
import type { Logger } from '../../log/logger.ts';

// The daemon's modules (speaker, codec, dataplane, bunyan) load only when `run` runs, so the
// client commands (`show`, `neighbor`, `reload`) start fast.

interface RunArgs {
  config: string;
  'control-socket'?: string | undefined;
  'log-format'?: LogFormat | undefined;
  'log-level': LogLevelName;
  json: boolean;
  'check-config': boolean;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** How long a stop may take (Cease to every peer) before the process exits anyway. */
const STOP_TIMEOUT_MS = 10_000;

export const runCommand: CommandModule = {
  command: 'run',
  describe: 'run the BGP daemon',
  builder: (y) =>
    y
      .option('config', {
        alias: 'c',
        type: 'string',
        demandOption: true,
        describe: 'YAML configuration file',
      })
      .option('control-socket', {
        type: 'string',
        describe: `control socket path (default: control.socket from the config, else ${DEFAULTS.controlSocket})`,
      })
      .option('log-format', {
        choices: ['json', 'pretty'] as const,
        describe: 'log as bunyan JSON lines, or readable lines (default: pretty on a terminal, else json)',
      })
      .option('log-level', { choices: LOG_LEVELS, default: 'info' as LogLevelName })
      .option('json', { type: 'boolean', default: false, describe: 'same as --log-format json' })
      .option('check-config', {
        type: 'boolean',
        default: false,
        describe: 'validate the config, print the result and exit (0 when valid)',
      }),
  handler: async (args) => {
    const argv = args as unknown as RunArgs;
    const [
      { ConfigError },
      { FileConfigSource },
      { ControlServer },
      { daemonHandlers },
      { Daemon },
      { DataplaneExtension },
      { createSessionSpeaker },
      { createLogger },
    ] = await Promise.all([
      import('../../config/loader.ts'),
      import('../../config/source.ts'),
      import('../../control/server.ts'),
      import('../../daemon/control-api.ts'),
      import('../../daemon/daemon.ts'),
      import('../../daemon/dataplane-extension.ts'),
      import('../../daemon/speaker-adapter.ts'),
      import('../../log/logger.ts'),
    ]);
    const reportConfigError = (e: unknown, log: Logger): void => {
      if (e instanceof ConfigError) {
        log.fatal({ issues: e.issues }, 'invalid configuration: not starting');
        process.stderr.write(`tsbgp: invalid configuration, not starting:\n${e.message}\n`);
      } else {
        log.fatal({ err: e }, `start failed: ${(e as Error).message}`);
        process.stderr.write(`tsbgp: ${(e as Error).message}\n`);
      }
    };
    const format: LogFormat = argv.json
      ? 'json'
      : (argv['log-format'] ?? (process.stdout.isTTY ? 'pretty' : 'json'));
    const log = createLogger({ level: argv['log-level'], format });
    const version = packageVersion();
    const source = new FileConfigSource(resolve(argv.config));

    let config: Config;
    try {
      config = await source.load();
    } catch (e) {
      reportConfigError(e, log);
      process.exitCode = 1;
      return;
    }
    if (argv['check-config']) {
      process.stdout.write(
        `${source.path}: valid; AS ${config.asn}, router-id ${config.routerId}, ${config.neighbors.length} neighbours, ${config.originate.length} prefixes\n`,
      );
      return;
    }

    const daemon = new Daemon({
      source,
      log,
      version,
      createSpeaker: (c) => createSessionSpeaker(c, log),
      extensions: [new DataplaneExtension(log.child({ component: 'dataplane' }))],
    });
    const socketPath = argv['control-socket'] ?? config.control?.socket ?? DEFAULTS.controlSocket;
    const control = new ControlServer({
      path: socketPath,
      handlers: daemonHandlers(daemon),
      log,
      group: config.control?.group,
    });
    try {
      await control.listen();
    } catch (e) {
      log.fatal({ err: e, path: socketPath }, `cannot open the control socket: ${(e as Error).message}`);
      process.stderr.write(`tsbgp: ${(e as Error).message}\n`);
      process.exitCode = 1;
      return;
    }

    let stopping = false;
    let keeper: { stop(): void } | undefined;
    const stop = async (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal during stop: exiting now');
        process.exit(1);
      }
      stopping = true;
      keeper?.stop();
      const timer = setTimeout(() => {
        log.error({ signal }, `stop did not finish within ${STOP_TIMEOUT_MS} ms: exiting`);
        process.exit(1);
      }, STOP_TIMEOUT_MS);
      timer.unref();
      try {
        await daemon.stop(`daemon shutting down (${signal})`);
      } finally {
        await control.close();
        log.info({ signal }, 'stopped');
      }
      // Let the log stream drain before exiting.
      setImmediate(() => process.exit(0));
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => {
      if (!stopping) source.notify('SIGHUP');
    });
    process.on('unhandledRejection', (reason) => {
      log.error({ err: reason }, 'unhandled promise rejection (continuing)');
    });
    process.on('uncaughtException', (err) => {
      log.fatal({ err }, 'uncaught exception: stopping');
      void stop('uncaughtException').finally(() => process.exit(70));
    });

    // Before the sessions start, so that no peer waits behind it (src/daemon/warm-up.ts).
    if (config.warmUpRoutes > 0) {
      const { warmUp } = await import('../../daemon/warm-up.ts');
      const r = await warmUp(config.warmUpRoutes, log);
      const ms = Math.round(r.ms);
      // The warm-up ends with a full garbage collection of its own (src/daemon/warm-up.ts says
      // why it runs there and not here).
      const gcMs = Math.round(r.gcMs ?? 0);
      if (r.ok) log.info({ routes: r.routes, ms, gcMs }, `warm-up: ${r.routes} routes in ${ms} ms`);
      else
        log.warn(
          { routes: r.routes, ms, reason: r.reason },
          `warm-up abandoned (${r.reason}): starting cold`,
        );
    }
    try {
      await daemon.start(config);
    } catch (e) {
      reportConfigError(e, log);
      await daemon.stop('start failed').catch(() => undefined);
      await control.close();
      process.exitCode = 1;
      return;
    }
    log.info({ version, pid: process.pid, controlSocket: socketPath }, 'tsbgp running');
    if (config.warmUpKeepWarm) {
      // After the sessions start, so that the warm-up has grown the young generation first.
      const { keepYoungGenerationWarm, KEEP_WARM_BYTES_PER_SECOND } = await import(
        '../../daemon/young-generation.ts'
      );
      keeper = keepYoungGenerationWarm();
      log.info(
        { bytesPerSecond: KEEP_WARM_BYTES_PER_SECOND },
        'keeping the young generation warm (warmUp.keepWarm)',
      );
    }
  },
};

export default runCommand;
