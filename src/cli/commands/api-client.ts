import type { Command } from 'commander';
import { EXIT } from '../exit-codes.js';

/** Where the operator commands find the server when neither --url nor TANDEM_URL says. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

export const API_HELP = `
The server is --url, else TANDEM_URL, else ${DEFAULT_URL}; the token is --token, else
TANDEM_TOKEN (a loopback-only server lets requests without a token read).

Exit codes: 0 done, 1 the server could not be reached, 2 invalid command line,
3 the server answered an error (its TANDEM_ERR_* code is printed).`;

/** Adds --url, --token and --json to an operator command. */
export function withApiOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the server API (env TANDEM_URL)')
    .option('--token <token>', 'API bearer token (env TANDEM_TOKEN)')
    .option('--json', 'print JSON instead of a table')
    .addHelpText('after', API_HELP);
}

/** A failure that ends the command with an exit code and a message on stderr. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Error codes of live operations that say the device is offline or did not answer in time. */
const UNREACHABLE = new Set([
  'TANDEM_ERR_DEVICE_NOT_REGISTERED',
  'TANDEM_ERR_DEVICE_TIMEOUT',
  'TANDEM_ERR_DEVICE_UNAVAILABLE',
]);
/** Error codes that say the device answered, with an error or something unusable. */
const DEVICE_ANSWERED = new Set([
  'TANDEM_ERR_DEVICE_BAD_RESPONSE',
  'TANDEM_ERR_DEVICE_NOT_SUPPORTED',
]);

/** An error answer of the server, as the API's error body describes it. */
export class ApiCallError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The CoAP code the device answered with (`4.04`), for live operations. */
    readonly coapCode?: string,
  ) {
    super(
      UNREACHABLE.has(code)
        ? EXIT.unreachable
        : coapCode !== undefined ||
            code.startsWith('TANDEM_ERR_LWM2M_') ||
            DEVICE_ANSWERED.has(code)
          ? EXIT.device
          : EXIT.api,
      `${message} (${coapCode !== undefined ? `CoAP ${coapCode}, ` : ''}HTTP ${status}, ${code})`,
    );
  }
}

export interface ApiOptions {
  url?: string;
  token?: string;
}

export class ApiClient {
  readonly #base: URL;
  readonly #token: string | undefined;

  constructor(options: ApiOptions, env: NodeJS.ProcessEnv = process.env) {
    const raw = options.url ?? env.TANDEM_URL ?? DEFAULT_URL;
    let base: URL;
    try {
      base = new URL(raw);
    } catch {
      throw new CliError(EXIT.config, `invalid server URL ${raw}`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new CliError(EXIT.config, `the server URL must be http:// or https://, not ${raw}`);
    }
    this.#base = base;
    this.#token = options.token ?? env.TANDEM_TOKEN;
  }

  /** One API call; resolves with the parsed JSON answer (undefined for 204). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(method, path, body);
    const parsed = await this.#json(res);
    if (!res.ok) throw errorOf(res, parsed);
    return parsed as T;
  }

  /**
   * A request whose answer is read as it comes (Server-Sent Events): resolves with the response
   * once its status is 2xx; an error answer throws as `call` does. `signal` ends it.
   */
  async open(path: string, signal: AbortSignal): Promise<Response> {
    const res = await this.#fetch('GET', path, undefined, signal, 'text/event-stream');
    if (!res.ok) throw errorOf(res, await this.#json(res));
    return res;
  }

  async #fetch(
    method: string,
    path: string,
    body: unknown,
    signal?: AbortSignal,
    accept = 'application/json',
  ): Promise<Response> {
    const url = new URL(path.replace(/^\//, ''), this.#base.href.replace(/\/?$/, '/'));
    try {
      return await fetch(url, {
        method,
        headers: {
          accept,
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        EXIT.failure,
        `cannot reach ${this.#base.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
  }

  async #json(res: Response): Promise<unknown> {
    const text = await res.text();
    try {
      return text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(
        EXIT.failure,
        `${this.#base.origin} answered HTTP ${res.status}, not JSON`,
      );
    }
  }
}

function errorOf(res: Response, parsed: unknown): ApiCallError {
  const e = (parsed ?? {}) as { code?: string; message?: string; coapCode?: string };
  return new ApiCallError(
    res.status,
    e.code ?? 'unknown',
    e.message ?? res.statusText,
    typeof e.coapCode === 'string' ? e.coapCode : undefined,
  );
}

/** Runs an operator command: prints a CliError and sets the exit code. */
export async function runCli(action: () => Promise<void>): Promise<void> {
  try {
    await action();
    process.exitCode = EXIT.ok;
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`tandem: ${err.message}\n`);
    process.exitCode = err.exitCode;
  }
}

/** A plain text table: a header row, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
