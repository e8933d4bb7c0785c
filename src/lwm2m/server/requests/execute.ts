/**
 * Execute (LwM2M-TS-Core 1.1 §6.3.5; LwM2M 1.0 §8.2.4 Table 25: POST on a resource), with
 * arguments in the grammar of LwM2M-TS-Core 1.1 §5.4.5 (`0='value',1`).
 */
import { Code } from '../../../coap/code.js';
import { CodecError } from '../../codec/codec-error.js';
import { formatExecuteArguments, parseExecuteArguments } from '../../codec/execute-arguments.js';
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

/** The arguments as text, checked against the grammar of LwM2M-TS-Core 1.1 §5.4.5. */
function argumentsText(args: ExecuteRequest['arguments']): string {
  try {
    if (args === undefined) return '';
    if (typeof args === 'string') {
      parseExecuteArguments(args);
      return args;
    }
    const map = new Map(Object.entries(args).map(([k, v]) => [Number(k), v]));
    return formatExecuteArguments(map).toString('utf8');
  } catch (e) {
    if (e instanceof CodecError) {
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', `Execute: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

export const executeOperation: Operation<ExecuteRequest, ExecuteResponse> = {
  name: 'Execute',
  minVersion: '1.0',
  build(request, device) {
    const path = toPath(request.path);
    // LwM2M-TS-Core 1.1 §6.3.5: Execute targets a resource.
    requireLevel('Execute', path, [3], 'LwM2M-TS-Core 1.1 §6.3.5');
    const text = argumentsText(request.arguments);
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
