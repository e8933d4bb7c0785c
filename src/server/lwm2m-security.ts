import { X509Certificate } from 'node:crypto';
import { Code } from '../coap/code.js';
import type { CoapRequest, OutgoingResponse } from '../coap/request.js';
import type { DatagramPeer, PeerIdentity } from '../transport/datagram.js';

export interface RegistrationPolicyOptions {
  /** Devices may register over plain CoAP without credentials (see Tandem.anonymousAllowed). */
  anonymousAllowed: boolean;
  /** The device that owns a PSK identity. */
  deviceOfPsk(identity: string): string | undefined;
  /**
   * Device lookups by raw public key and by certificate subject (the device store). Without
   * them, RPK devices are refused and X.509 devices are matched by common name only.
   */
  devices?: {
    findByRawPublicKey(publicKey: Buffer): Promise<{ deviceId: string } | undefined>;
    findByX509Subject(subject: string): Promise<{ deviceId: string } | undefined>;
  };
}

const forbidden = (reason: string): OutgoingResponse => ({
  code: Code.Forbidden,
  payload: Buffer.from(reason),
});

/**
 * Who may use the Registration interface (`/rd`) and the Bootstrap-Request (`/bs`), checked
 * before the LwM2M server or Bootstrap-Server sees the request:
 * - LwM2M-TS-Transport 1.1 §5.2.8 / TS-Core 1.1 §6.2.1: a client on a secured connection may
 *   register only the endpoint name its credentials belong to, else 4.03 Forbidden: the device
 *   of its PSK identity, the device that holds its raw public key, or for an X.509 certificate
 *   (whose chain the DTLS handshake verified against the trust store) the endpoint name in its
 *   common name or the device whose stored certificate has the same subject.
 * - Secure by default: over plain CoAP (NoSec) only while anonymous access is allowed.
 * (That Update and De-register of a secured registration come with the same identity, the
 * LwM2M server checks itself.) Returns the refusal, or undefined to let the request through.
 */
export async function checkRegistrationAccess(
  request: CoapRequest,
  peer: DatagramPeer,
  policy: RegistrationPolicyOptions,
): Promise<OutgoingResponse | undefined> {
  const iface = request.path[0];
  if (iface !== 'rd' && iface !== 'bs') return undefined;
  if (!peer.identity && !policy.anonymousAllowed) {
    return forbidden('authentication required: register over DTLS with the device credentials');
  }
  if (request.path.length === 1) {
    // Register (POST /rd?ep=) and Bootstrap-Request (POST /bs?ep=) name the endpoint.
    const ep = request.query.find((q) => q.startsWith('ep='))?.slice(3);
    // A missing endpoint name is the LwM2M server's 4.00 to give.
    if (ep === undefined || !peer.identity) return undefined;
    return (await mayRegister(peer.identity, ep, policy))
      ? undefined
      : forbidden(`endpoint name ${ep} does not belong to these credentials`);
  }
  return undefined;
}

/** Whether a DTLS identity may register (or bootstrap) this endpoint name. */
async function mayRegister(
  identity: PeerIdentity,
  ep: string,
  policy: RegistrationPolicyOptions,
): Promise<boolean> {
  switch (identity.kind) {
    case 'psk':
      return policy.deviceOfPsk(identity.identity) === ep;
    case 'rpk': {
      // LwM2M-TS-Transport 1.1 §5.2.8.2 (RPK mode): the key identifies the client; only the
      // device that holds exactly this SubjectPublicKeyInfo may use its endpoint name.
      const owner = await policy.devices?.findByRawPublicKey(identity.publicKey);
      return owner?.deviceId === ep;
    }
    case 'x509': {
      // LwM2M-TS-Transport 1.1 §5.2.8.3 (certificate mode): the endpoint name is the subject's
      // common name, or the certificate subject is registered to the device of that name.
      if (commonName(identity.certificate) === ep) return true;
      const owner = await policy.devices?.findByX509Subject(identity.subject);
      return owner?.deviceId === ep;
    }
  }
}

function commonName(der: Buffer): string | undefined {
  try {
    const subject = new X509Certificate(der).subject;
    return /^CN=(.*)$/m.exec(subject)?.[1];
  } catch {
    return undefined;
  }
}
