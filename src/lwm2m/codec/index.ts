/**
 * LwM2M content formats: `encode`/`decode` one node, `encodeComposite`/`decodeComposite` lists
 * of path-values, chosen by content format. Everything here throws only CodecError.
 */
export { ByteReader, decodeUtf8 } from './byte-reader.js';
export { CborFloat, CborTag, type CborValue, readCbor, writeCbor } from './cbor.js';
export { CODEC_ERRORS, CodecError, type CodecErrorCode } from './codec-error.js';
export {
  ContentFormat,
  type ContentFormatId,
  contentFormatName,
  isCompositeFormat,
} from './content-format.js';
export {
  type ExecuteArguments,
  formatExecuteArguments,
  parseExecuteArguments,
} from './execute-arguments.js';
export { decodeLwm2mCbor, encodeLwm2mCbor } from './lwm2m-cbor.js';
export {
  type CreateInstance,
  canDecode,
  canEncode,
  decode,
  decodeComposite,
  decodeCreate,
  decodeTimestamped,
  encode,
  encodeComposite,
  encodeTimestamped,
  isCompositeSupported,
  type TimestampedNode,
} from './lwm2m-codec.js';
export { decodeLwm2mJson, encodeLwm2mJson } from './lwm2m-json.js';
export { decodeOpaque, encodeOpaque } from './opaque.js';
export { decodePlainCbor, encodePlainCbor } from './plain-cbor.js';
export type { SenmlRecord } from './senml.js';
export { decodeSenmlCbor, encodeSenmlCbor, SenmlLabel } from './senml-cbor.js';
export { decodeSenmlJson, encodeSenmlJson } from './senml-json.js';
export { decodeText, encodeText, formatTextValue, parseTextValue } from './text.js';
export {
  decodeTlv,
  decodeTlvValue,
  encodeTlv,
  encodeTlvValue,
  readTlvs,
  type Tlv,
  TlvType,
} from './tlv.js';
export { convertValue } from './value-converter.js';
