import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from '../../config/load.js';
import { SETTINGS } from '../../config/settings.js';
import { createLogger } from '../../log.js';
import { EXIT } from '../exit-codes.js';

const HELP_FOOTER = `
Precedence: defaults < config file < TANDEM_* environment < flags.
The config file is --config PATH, else TANDEM_CONFIG, else tandem.config.json / .yaml / .yml
in the current directory. Each flag's environment variable:
${SETTINGS.map((s) => `  ${s.flag.padEnd(24)} ${s.env}`).join('\n')}

Exit codes: 0 stopped cleanly, 1 could not start or failed, 2 invalid configuration.
SIGINT or SIGTERM stops gracefully: listeners close, connections drain, storage is flushed.`;

export function startCommand(): Command {
  const command = new Command('start')
    .description('run the server')
    .exitOverride()
    .option('-c, --config <path>', 'configuration file (JSON or YAML)');
  for (const s of SETTINGS) {
    // A boolean flag alone is true; `--flag false` turns off one that defaults to true.
    const value =
      s.kind === 'boolean' ? ' [true|false]' : s.kind === 'port' ? ' <port>' : ' <value>';
    command.addOption(new Option(`${s.flag}${value}`, s.description));
  }
  return command.addHelpText('after', HELP_FOOTER).action(async (opts: Record<string, unknown>) => {
    process.exitCode = await run(command, opts);
  });
}

async function run(command: Command, opts: Record<string, unknown>): Promise<number> {
  const flags: Record<string, string | boolean> = {};
  for (const s of SETTINGS) {
    const option = command.options.find((o) => o.long === s.flag)!;
    const value = opts[option.attributeName()];
    if (typeof value === 'string' || typeof value === 'boolean') flags[s.key] = value;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({
      ...(typeof opts.config === 'string' ? { configPath: opts.config } : {}),
      flags,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tandem: ${err.message}\n`);
      return EXIT.config;
    }
    throw err;
  }
  const { config } = loaded;
  const logger = createLogger(config.logLevel);
  if (loaded.file) logger.info({ file: loaded.file }, 'configuration file loaded');
  for (const w of loaded.warnings) logger.warn(w);

  const adminToken = process.env.TANDEM_ADMIN_TOKEN;
  // The server is loaded only to run it: the other commands start without its import graph.
  const { Tandem } = await import('../../server/tandem.js');
  const tandem = new Tandem({ config, logger, ...(adminToken ? { adminToken } : {}) });
  try {
    await tandem.start();
  } catch (err) {
    logger.fatal({ err }, (err as Error).message);
    return EXIT.failure;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(EXIT.failure);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      // The engines bound every wait by shutdownTimeoutMs; this is the last resort.
      setTimeout(() => {
        logger.error('shutdown did not finish in time');
        process.exit(EXIT.failure);
      }, config.shutdownTimeoutMs + 2000).unref();
      tandem.stop().then(
        () => resolve(EXIT.ok),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          resolve(EXIT.failure);
        },
      );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
