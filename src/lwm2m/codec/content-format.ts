/**
 * CoAP Content-Format numbers LwM2M uses (IANA CoAP Content-Formats registry;
 * LwM2M-TS-Core 1.1 §7.3 Table 7.3-1 and 1.2 §7.3).
 */
export const ContentFormat = {
  /** text/plain; charset=utf-8 (RFC 7252 §12.3). */
  TEXT: 0,
  /** application/link-format (RFC 6690); encoded in src/coap/link-format.ts. */
  LINK: 40,
  /** application/octet-stream (RFC 7252 §12.3). */
  OPAQUE: 42,
  /** application/cbor (RFC 8949); LwM2M 1.1 allows it for single resources (§7.4.6 of 1.1). */
  CBOR: 60,
  /** application/senml+json (RFC 8428 §6). */
  SENML_JSON: 110,
  /** application/senml+cbor (RFC 8428 §6). */
  SENML_CBOR: 112,
  /** application/vnd.oma.lwm2m+tlv before IANA registration (LwM2M 1.0 clients). */
  OLD_TLV: 1542,
  /** application/vnd.oma.lwm2m+json before IANA registration (LwM2M 1.0 clients). */
  OLD_JSON: 1543,
  /** application/vnd.oma.lwm2m+tlv. */
  TLV: 11542,
  /** application/vnd.oma.lwm2m+json. */
  JSON: 11543,
  /** application/vnd.oma.lwm2m+cbor (LwM2M-TS-Core 1.2 §7.4.6). */
  LWM2M_CBOR: 11544,
} as const;

export type ContentFormatId = (typeof ContentFormat)[keyof typeof ContentFormat];

const NAMES: Record<number, string> = {
  0: 'text/plain',
  40: 'application/link-format',
  42: 'application/octet-stream',
  60: 'application/cbor',
  110: 'application/senml+json',
  112: 'application/senml+cbor',
  1542: 'application/vnd.oma.lwm2m+tlv (old)',
  1543: 'application/vnd.oma.lwm2m+json (old)',
  11542: 'application/vnd.oma.lwm2m+tlv',
  11543: 'application/vnd.oma.lwm2m+json',
  11544: 'application/vnd.oma.lwm2m+cbor',
};

export function contentFormatName(format: number): string {
  return NAMES[format] ?? `content-format ${format}`;
}

/** Formats that carry several resources and a path per value (usable for composite ops). */
export function isCompositeFormat(format: number): boolean {
  return (
    format === ContentFormat.SENML_JSON ||
    format === ContentFormat.SENML_CBOR ||
    format === ContentFormat.LWM2M_CBOR
  );
}
