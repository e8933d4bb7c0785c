#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../util/package-root.js';
import { devicesCommand } from './commands/devices.js';
import { operationCommands } from './commands/operations.js';
import { simCommand } from './commands/sim.js';
import { startCommand } from './commands/start.js';
import { tokensCommand } from './commands/tokens.js';
import { EXIT } from './exit-codes.js';

const program = new Command('tandem')
  .description('One IoT server for MQTT and OMA LwM2M devices.')
  .version(packageVersion(), '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program.addCommand(startCommand());
program.addCommand(devicesCommand());
for (const command of operationCommands()) program.addCommand(command);
program.addCommand(tokensCommand());
program.addCommand(simCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; every usage error is a configuration error.
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.config);
  }
  throw err;
}
