/**
 * Execute (LwM2M-TS-Core 1.1 §6.3.5; LwM2M 1.0 §8.2.4 Table 25: POST on a resource), with
 * arguments in the grammar of LwM2M-TS-Core 1.1 §5.4.5 (`0='value',1`).
 */
import { Code } from '../../../coap/code.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import { Lwm2mError } from '../errors.js';
import {
  checkCode,
  errorMessageOf,
  Lwm2mResponse,
  type Operation,
  requireLevel,
  toPath,
  uriPath,
} from './operation.js';

export interface ExecuteRequest {
  readonly path: string | Lwm2mPath;
  /** Arguments as text (`0='v',1`) or as digit → value pairs. */
  readonly arguments?: string | Readonly<Record<number, string | undefined>>;
}

export class ExecuteResponse extends Lwm2mResponse {}

// LwM2M 1.0 §8.2.4 Table 25: Execute answers 2.04, 4.00, 4.01, 4.04, 4.05.
export const EXECUTE_CODES = [
  Code.Changed,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
];

/**
 * LwM2M-TS-Core 1.1 §5.4.5: arglist = argument *( "," argument ); argument = DIGIT [ "=" "'"
 * *CHAR "'" ]; a value has no single quote in it.
 */
export const EXECUTE_ARGUMENTS =
  /^(\d(='[\x21\x23-\x26\x28-\x5b\x5d-\x7e]*')?(,\d(='[\x21\x23-\x26\x28-\x5b\x5d-\x7e]*')?)*)?$/;

/** Parses execute arguments (digit → value or undefined); undefined when malformed. */
export function parseExecuteArguments(text: string): Map<number, string | undefined> | undefined {
  if (!EXECUTE_ARGUMENTS.test(text)) return undefined;
  const out = new Map<number, string | undefined>();
  if (text === '') return out;
  for (const part of text.split(/,(?=\d)/)) {
    const digit = Number(part[0]);
    // LwM2M-TS-Core 1.1 §5.4.5: each argument digit appears once.
    if (out.has(digit)) return undefined;
    out.set(digit, part.length > 1 ? part.slice(3, -1) : undefined);
  }
  return out;
}

function argumentsText(args: ExecuteRequest['arguments']): string {
  if (args === undefined) return '';
  if (typeof args === 'string') return args;
  return Object.entries(args)
    .map(([k, v]) => (v === undefined ? k : `${k}='${v}'`))
    .join(',');
}

export const executeOperation: Operation<ExecuteRequest, ExecuteResponse> = {
  name: 'Execute',
  minVersion: '1.0',
  build(request, device) {
    const path = toPath(request.path);
    // LwM2M-TS-Core 1.1 §6.3.5: Execute targets a resource.
    requireLevel('Execute', path, [3], 'LwM2M-TS-Core 1.1 §6.3.5');
    const text = argumentsText(request.arguments);
    if (!parseExecuteArguments(text)) {
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', `Execute: malformed arguments '${text}'`);
    }
    return {
      code: Code.Post,
      path: uriPath(device, path),
      ...(text !== '' ? { payload: text } : {}),
    };
  },
  parse(response) {
    checkCode('Execute', response.code, EXECUTE_CODES);
    return new ExecuteResponse(response.code, errorMessageOf(response));
  },
};
