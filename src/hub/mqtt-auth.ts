import { X509Certificate } from 'node:crypto';
import type { ApiRole, DeviceStore, TokenStore } from '../store/ports.js';
import { resolveToken, TOKEN68 } from './api-tokens.js';
import { verifyPassword } from './password.js';

/**
 * The MQTT user name of applications: they log in with `token` and an API token as the password,
 * and get what the token's role allows (see appMayPublish). No device may use this user name.
 */
export const APP_USERNAME = 'token';

/** MQTT 5 reason codes of a refused CONNECT (MQTT 5.0 §3.2.2.2). */
const BAD_USERNAME_OR_PASSWORD = 0x86;
const NOT_AUTHORIZED = 0x87;

export interface MqttCredentialsCheck {
  username?: string;
  password?: Buffer;
  /**
   * The client certificate of a TLS connection, present only when the listener verified it
   * against its configured CA.
   */
  peerCertificate?: { raw?: Buffer };
}

export type MqttAuthOutcome =
  | { accept: true; deviceId?: string; credential?: 'mqtt' | 'x509'; app?: AppLogin }
  | { accept: false; reasonCode: number; reasonString: string };

/**
 * Checks MQTT CONNECT credentials against the device registry. With a username, the password
 * must match the device's stored hash. Without one, a verified client certificate whose subject
 * belongs to a device identifies it; otherwise the client is let in only while anonymous access
 * is allowed (loopback-only server or `allowAnonymous`).
 */
export async function authenticateMqtt(
  devices: DeviceStore,
  anonymousAllowed: boolean,
  request: MqttCredentialsCheck,
): Promise<MqttAuthOutcome> {
  if (request.username === undefined) {
    const subject = certificateSubject(request.peerCertificate?.raw);
    const byCertificate =
      subject === undefined ? undefined : await devices.findByX509Subject(subject);
    // The listener's CA vouched for the subject, so a renewed certificate keeps working without
    // a registry change; a subject that is no device's is treated as no credential at all.
    if (byCertificate)
      return { accept: true, deviceId: byCertificate.deviceId, credential: 'x509' };
    if (anonymousAllowed) return { accept: true };
    return {
      accept: false,
      reasonCode: NOT_AUTHORIZED,
      reasonString: 'credentials required',
    };
  }
  const entry = await devices.findByMqttUsername(request.username);
  const password = request.password?.toString('utf8') ?? '';
  // Verify against a fixed hash when the user is unknown, so timing does not tell who exists.
  const ok = await verifyPassword(password, entry?.passwordHash ?? UNKNOWN_USER_HASH);
  if (!entry || !ok) {
    return {
      accept: false,
      reasonCode: BAD_USERNAME_OR_PASSWORD,
      reasonString: 'bad user name or password',
    };
  }
  return { accept: true, deviceId: entry.deviceId, credential: 'mqtt' };
}

/** The subject as the registry stores it (node:crypto's text form), from the DER certificate. */
function certificateSubject(raw: Buffer | undefined): string | undefined {
  if (!raw || raw.length === 0) return undefined;
  try {
    return new X509Certificate(raw).subject;
  } catch {
    return undefined;
  }
}

/** An application logged in with an API token. */
export interface AppLogin {
  tokenId: string;
  role: ApiRole;
}

/** Checks an application login (user name `token`, an API token as the password). */
export async function authenticateApp(
  tokens: TokenStore,
  password: Buffer | undefined,
): Promise<MqttAuthOutcome> {
  const secret = password?.toString('utf8') ?? '';
  const token = TOKEN68.test(secret) ? await resolveToken(tokens, secret) : undefined;
  if (!token) {
    return {
      accept: false,
      reasonCode: BAD_USERNAME_OR_PASSWORD,
      reasonString: 'unknown or revoked API token',
    };
  }
  return { accept: true, app: { tokenId: token.id, role: token.role } };
}

/** scrypt of a random password nobody knows, with the current parameters. */
const UNKNOWN_USER_HASH =
  'scrypt$15$8$1$3q2+7w0Rk4kq1tYp5g1b2A==$5m8cA0Hn1mVw9cB8o0o4V6q2yRk2m0m8o1m1m2m3m4k=';
