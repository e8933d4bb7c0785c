/**
 * Which content format the server uses with a device: what it encodes Writes in and asks for
 * (Accept) in Reads and Observes. The device's LwM2M version decides the default, the formats
 * it announced narrow it, and an operator's per-device choice overrides both.
 */

import { ContentFormat } from '../codec/content-format.js';
import { canDecode, canEncode, isCompositeSupported } from '../codec/lwm2m-codec.js';
import { atLeast, type Registration } from './registration.js';

function usable(format: number): boolean {
  return canEncode(format) && canDecode(format);
}

/**
 * The default format for single-node operations (Read, Write, Observe, Create):
 * LwM2M-TS-Core 1.0 §6.4: TLV is the format every 1.0 client supports.
 * LwM2M-TS-Core 1.1 §7.3: a client supports TLV or SenML CBOR and may announce its formats with
 * `ct=` on the root link; SenML CBOR is taken when announced.
 * LwM2M-TS-Core 1.2 §7.3: LwM2M CBOR (11544) when announced and our codecs have it.
 */
export function preferredFormat(reg: Registration): number {
  if (reg.preferredContentFormat !== undefined) return reg.preferredContentFormat;
  const announced = reg.supportedContentFormats;
  if (atLeast(reg, '1.2') && announced.includes(ContentFormat.LWM2M_CBOR)) {
    if (usable(ContentFormat.LWM2M_CBOR)) return ContentFormat.LWM2M_CBOR;
  }
  if (atLeast(reg, '1.1') && announced.includes(ContentFormat.SENML_CBOR)) {
    return ContentFormat.SENML_CBOR;
  }
  if (atLeast(reg, '1.1') && announced.includes(ContentFormat.SENML_JSON)) {
    if (!announced.includes(ContentFormat.TLV)) return ContentFormat.SENML_JSON;
  }
  // An old 1.0 client that announced only the pre-registration TLV number gets that one.
  if (announced.includes(ContentFormat.OLD_TLV) && !announced.includes(ContentFormat.TLV)) {
    return ContentFormat.OLD_TLV;
  }
  return ContentFormat.TLV;
}

/**
 * The format of composite operations (Read-Composite, Write-Composite, Observe-Composite):
 * LwM2M-TS-Core 1.1 §6.3.8: SenML JSON or SenML CBOR (1.2 §7.4.6 adds LwM2M CBOR). An override
 * that is a composite format wins; else an announced one; else SenML CBOR.
 */
export function compositeFormat(reg: Registration): number {
  const override = reg.preferredContentFormat;
  if (override !== undefined && isCompositeSupported(override)) return override;
  for (const f of [ContentFormat.LWM2M_CBOR, ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON]) {
    if (reg.supportedContentFormats.includes(f) && isCompositeSupported(f)) {
      if (f === ContentFormat.LWM2M_CBOR && !atLeast(reg, '1.2')) continue;
      return f;
    }
  }
  return ContentFormat.SENML_CBOR;
}
