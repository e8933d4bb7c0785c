/**
 * Send (LwM2M-TS-Core 1.1 §6.4.4; LwM2M-TS-Transport 1.1 §6.5: POST /dp from the device, the
 * values in a composite format). The server answers 2.04 Changed and hands the values on.
 */
import { Code } from '../../coap/code.js';
import type { CoapRequest, OutgoingResponse } from '../../coap/request.js';
import type { DatagramPeer } from '../../transport/datagram.js';
import { CodecError } from '../codec/codec-error.js';
import { decodeComposite, isCompositeSupported } from '../codec/lwm2m-codec.js';
import type { Lwm2mModel } from '../model/object-model.js';
import type { SendEvent } from './events.js';
import { atLeast, type Registration } from './registration.js';
import { sameIdentity } from './registration-handler.js';

export interface SendContext {
  registrationOf(peer: DatagramPeer): Promise<Registration | undefined>;
  modelOf(registration: Registration): Lwm2mModel;
  emit(event: SendEvent): void;
}

const codeOf = (text: string): number => {
  const [c, d] = text.split('.');
  return (Number(c) << 5) | Number(d);
};

export async function handleSend(
  request: CoapRequest,
  peer: DatagramPeer,
  ctx: SendContext,
): Promise<OutgoingResponse> {
  // LwM2M-TS-Transport 1.1 §6.5: Send is a POST on /dp.
  if (request.method !== Code.Post) return { code: Code.MethodNotAllowed };
  const registration = await ctx.registrationOf(peer);
  // A device that is not registered from this address has no session to send in.
  if (!registration) return { code: Code.NotFound, payload: 'not registered' };
  if (!sameIdentity(registration.peer, peer)) return { code: Code.Forbidden };
  // LwM2M-TS-Core 1.1 §6.4.4: Send is new in 1.1; a 1.0 device has no such operation.
  if (!atLeast(registration, '1.1')) {
    return { code: Code.MethodNotAllowed, payload: 'Send needs LwM2M 1.1' };
  }
  const format = request.contentFormat;
  // LwM2M-TS-Core 1.1 §6.4.4: the payload is SenML JSON, SenML CBOR (or 1.2 LwM2M CBOR).
  if (format === undefined || !isCompositeSupported(format)) {
    return { code: Code.UnsupportedContentFormat };
  }
  try {
    const values = decodeComposite(request.payload, format, ctx.modelOf(registration));
    if (values.some((v) => v.value === undefined)) {
      return { code: Code.BadRequest, payload: 'a Send record without value' };
    }
    ctx.emit({ registration, values, contentFormat: format });
    return { code: Code.Changed };
  } catch (e) {
    if (e instanceof CodecError) return { code: codeOf(e.coapCode), payload: e.message };
    throw e;
  }
}
