import type { IAuthPacket, Packet } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { MqttProtocolError, protocolError } from '../errors.js';
import type { EnhancedAuthResult } from '../options.js';
import { ReasonCode } from '../reason-codes.js';

/**
 * AUTH (MQTT 5.0 §3.15, §4.12): continues an enhanced authentication started by CONNECT, or
 * starts (0x19) and continues a re-authentication of a connected client.
 */
export function handleAuth(conn: Connection, packet: Packet): Promise<void> | undefined {
  const auth = packet as IAuthPacket;
  const reason = auth.reasonCode ?? 0;
  const method = auth.properties?.authenticationMethod;
  if (conn.state === 'authenticating') {
    // MQTT 5.0 §4.12: during CONNECT authentication the client only continues (0x18).
    if (reason !== ReasonCode.ContinueAuthentication || !conn.auth?.resume) {
      throw protocolError('unexpected AUTH reason during authentication');
    }
    return Promise.resolve(conn.auth.resume(packet));
  }
  // [MQTT-4.12.1-1] re-authentication uses the method of the CONNECT; none → protocol error.
  if (!conn.authMethod || method !== conn.authMethod) {
    throw protocolError('AUTH without the authentication method of CONNECT');
  }
  if (reason === ReasonCode.ReAuthenticate) {
    conn.auth = { method, step: 0 };
  } else if (reason !== ReasonCode.ContinueAuthentication || !conn.auth) {
    throw protocolError('unexpected AUTH reason code');
  }
  const hook = conn.core.hooks.enhancedAuth;
  if (!hook) throw new MqttProtocolError(ReasonCode.BadAuthenticationMethod, 'no auth hook');
  const state = conn.auth;
  const request: Parameters<typeof hook>[0] = {
    ...conn.info,
    clientId: conn.clientId,
    method,
    step: state.step,
    reauthenticate: true,
  };
  if (conn.username !== undefined) request.username = conn.username;
  const data = auth.properties?.authenticationData;
  if (data !== undefined) request.data = data;
  return Promise.resolve(hook(request)).then((result: EnhancedAuthResult) => {
    if (conn.state === 'closed') return;
    state.step++;
    if (result.result === 'fail') {
      // [MQTT-4.12.1-2] a failed re-authentication closes with DISCONNECT and its reason.
      const props: { reasonString?: string; serverReference?: string } = {};
      if (result.reasonString) props.reasonString = result.reasonString;
      if (result.serverReference) props.serverReference = result.serverReference;
      conn.disconnect(result.reasonCode, props);
      return;
    }
    const props: Record<string, unknown> = { authenticationMethod: method };
    if (result.data) props.authenticationData = result.data;
    if (result.result === 'success') {
      conn.auth = undefined;
      if (result.context !== undefined) conn.context = result.context;
      conn.send({ cmd: 'auth', reasonCode: ReasonCode.Success, properties: props });
    } else {
      conn.send({ cmd: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties: props });
    }
  });
}
