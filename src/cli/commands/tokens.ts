import { Command, Option } from 'commander';
import { API_ROLES, type IssuedToken, issueToken } from '../../hub/api-tokens.js';
import type { ApiTokenRecord } from '../../store/ports.js';
import { SqliteStore } from '../../store/sqlite/index.js';
import { EXIT } from '../exit-codes.js';
import { ApiClient, CliError, runCli, table, withApiOptions } from './api-client.js';

type TokenJson = Omit<ApiTokenRecord, 'createdAt'> & { createdAt: string };

const CREATE_HELP = `
With --data-dir the token is written straight into the store of that data directory (the
way to make the first admin token; the server may be running). Otherwise it is created through
the API of a running server, which needs an admin token.
The secret is printed once, alone on stdout; it cannot be shown again.`;

/** `tandem tokens create|list|revoke`. */
export function tokensCommand(): Command {
  const tokens = new Command('tokens').description('manage API tokens').exitOverride();

  withApiOptions(
    tokens
      .command('create')
      .description('create an API token')
      .addOption(
        new Option('--role <role>', 'what the token may do')
          .choices(API_ROLES as string[])
          .makeOptionMandatory(),
      )
      .option('--description <text>', 'what the token is for', '')
      .option('--data-dir <dir>', 'write into the store of this data directory instead of the API'),
  )
    .addHelpText('after', CREATE_HELP)
    .action((opts) =>
      runCli(async () => {
        if (opts.dataDir !== undefined && opts.url !== undefined) {
          throw new CliError(EXIT.config, 'give --data-dir or --url, not both');
        }
        const issued: TokenJson & { token: string } =
          opts.dataDir !== undefined
            ? await createInStore(opts.dataDir, opts.role, opts.description)
            : await new ApiClient(opts).call<TokenJson & { token: string }>('POST', '/api/tokens', {
                role: opts.role,
                description: opts.description,
              });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(issued, null, 2)}\n`);
          return;
        }
        process.stdout.write(`${issued.token}\n`);
        process.stderr.write(
          `token ${issued.id} (${issued.role}) created: keep the secret above, it is not shown again\n`,
        );
      }),
    );

  withApiOptions(
    tokens.command('list').description('list API tokens (never their secrets)'),
  ).action((opts) =>
    runCli(async () => {
      const { tokens: list } = await new ApiClient(opts).call<{ tokens: TokenJson[] }>(
        'GET',
        '/api/tokens',
      );
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(list, null, 2)}\n`
          : table(
              ['ID', 'ROLE', 'CREATED', 'DESCRIPTION'],
              list.map((t) => [t.id, t.role, t.createdAt, t.description]),
            ),
      );
    }),
  );

  withApiOptions(
    tokens.command('revoke').description('revoke an API token at once').argument('<id>'),
  ).action((id: string, opts) =>
    runCli(async () => {
      await new ApiClient(opts).call('DELETE', `/api/tokens/${encodeURIComponent(id)}`);
      process.stdout.write(opts.json ? `${JSON.stringify({ revoked: id })}\n` : `revoked ${id}\n`);
    }),
  );

  return tokens;
}

/** Writes a token straight into a data directory's store (the server need not run). */
async function createInStore(
  dataDir: string,
  role: IssuedToken['role'],
  description: string,
): Promise<TokenJson & { token: string }> {
  let store: SqliteStore;
  try {
    store = new SqliteStore({ dataDir });
  } catch (err) {
    throw new CliError(
      EXIT.failure,
      `cannot open the store in ${dataDir}: ${(err as Error).message}`,
    );
  }
  try {
    const issued = await issueToken(store.tokens, role, description);
    return { ...issued, createdAt: new Date(issued.createdAt).toISOString() };
  } finally {
    await store.close();
  }
}
