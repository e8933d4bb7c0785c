/**
 * CoAP Content-Format numbers (IANA "CoAP Content-Formats" registry) that Tandem speaks,
 * including the LwM2M ones (LwM2M-TS-Core 1.2 §7, and the pre-registration 1542/1543 of 1.0).
 */
export const ContentFormat = {
  TextPlain: 0,
  LinkFormat: 40,
  OctetStream: 42,
  Cbor: 60,
  Json: 50,
  SenmlJson: 110,
  SenmlCbor: 112,
  LwM2mTlv: 11542,
  LwM2mJson: 11543,
  LwM2mCbor: 11544,
  /** LwM2M 1.0 before IANA registration: TLV. */
  LegacyLwM2mTlv: 1542,
  /** LwM2M 1.0 before IANA registration: JSON. */
  LegacyLwM2mJson: 1543,
} as const;

export type ContentFormatNumber = (typeof ContentFormat)[keyof typeof ContentFormat];

const names = new Map<number, string>([
  [ContentFormat.TextPlain, 'text/plain;charset=utf-8'],
  [ContentFormat.LinkFormat, 'application/link-format'],
  [ContentFormat.OctetStream, 'application/octet-stream'],
  [ContentFormat.Json, 'application/json'],
  [ContentFormat.Cbor, 'application/cbor'],
  [ContentFormat.SenmlJson, 'application/senml+json'],
  [ContentFormat.SenmlCbor, 'application/senml+cbor'],
  [ContentFormat.LwM2mTlv, 'application/vnd.oma.lwm2m+tlv'],
  [ContentFormat.LwM2mJson, 'application/vnd.oma.lwm2m+json'],
  [ContentFormat.LwM2mCbor, 'application/vnd.oma.lwm2m+cbor'],
  [ContentFormat.LegacyLwM2mTlv, 'application/vnd.oma.lwm2m+tlv (1542)'],
  [ContentFormat.LegacyLwM2mJson, 'application/vnd.oma.lwm2m+json (1543)'],
]);

/** Media type of a content-format number, or `undefined` when Tandem does not know it. */
export function contentFormatName(format: number): string | undefined {
  return names.get(format);
}
