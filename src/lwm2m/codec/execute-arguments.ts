/**
 * The payload of an Execute request (text/plain): LwM2M-TS 1.0 §5.4.5, kept in TS-Core 1.1:
 *   arglist  = argument *( "," argument )
 *   argument = digit [ "=" "'" *argval "'" ]
 *   digit    = %x30-39
 *   argval   = %x21 / %x23-26 / %x28-7E
 */
import { decodeUtf8 } from './byte-reader.js';
import { CodecError } from './codec-error.js';

/** Argument number (0..9) → its value, or undefined for an argument without value. */
export type ExecuteArguments = ReadonlyMap<number, string | undefined>;

const ARGVAL = /^[\x21\x23-\x26\x28-\x7e]*$/;

/** Parses Execute arguments; an empty payload is no argument. Throws CodecError (4.00). */
export function parseExecuteArguments(payload: Uint8Array | string): ExecuteArguments {
  const text = typeof payload === 'string' ? payload : decodeUtf8(payload, 'Execute arguments');
  const out = new Map<number, string | undefined>();
  if (text === '') return out;
  let i = 0;
  for (;;) {
    const c = text.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) {
      throw new CodecError('MALFORMED', `Execute arguments: a digit expected at ${i}`);
    }
    const digit = c - 0x30;
    if (out.has(digit)) throw new CodecError('DUPLICATE_PATH', `Execute argument ${digit} twice`);
    i++;
    let value: string | undefined;
    if (text[i] === '=') {
      if (text[i + 1] !== "'") {
        throw new CodecError('MALFORMED', `Execute arguments: a quote expected at ${i + 1}`);
      }
      const end = text.indexOf("'", i + 2);
      if (end < 0) throw new CodecError('MALFORMED', 'Execute arguments: unterminated value');
      value = text.slice(i + 2, end);
      if (!ARGVAL.test(value)) {
        throw new CodecError('MALFORMED', `Execute argument ${digit}: a character outside argval`);
      }
      i = end + 1;
    }
    out.set(digit, value);
    if (i === text.length) return out;
    if (text[i] !== ',')
      throw new CodecError('MALFORMED', `Execute arguments: "," expected at ${i}`);
    i++;
  }
}

/** Writes Execute arguments in ascending argument order. Throws CodecError on a bad one. */
export function formatExecuteArguments(args: ExecuteArguments): Buffer {
  const parts: string[] = [];
  for (const [digit, value] of [...args].sort((a, b) => a[0] - b[0])) {
    if (!Number.isInteger(digit) || digit < 0 || digit > 9) {
      throw new CodecError('VALUE_OUT_OF_RANGE', `Execute argument ${digit} is not 0..9`);
    }
    if (value === undefined) parts.push(String(digit));
    else if (!ARGVAL.test(value)) {
      throw new CodecError(
        'TYPE_MISMATCH',
        `Execute argument ${digit}: a character outside argval`,
      );
    } else parts.push(`${digit}='${value}'`);
  }
  return Buffer.from(parts.join(','), 'ascii');
}
