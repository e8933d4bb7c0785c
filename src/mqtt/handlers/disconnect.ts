import type { IDisconnectPacket, Packet } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { protocolError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';

/**
 * DISCONNECT from the client (MQTT 5.0 §3.14). 0x00 discards the will [MQTT-3.1.2-10]; any other
 * reason, 0x04 Disconnect with Will Message included, leaves the will to be published.
 */
export function handleDisconnect(conn: Connection, packet: Packet): undefined {
  const p = packet as IDisconnectPacket;
  const reason = p.reasonCode ?? 0;
  const expiry = p.properties?.sessionExpiryInterval;
  if (expiry !== undefined && conn.session) {
    // [MQTT-3.14.2-2] a non-zero expiry is a Protocol Error when CONNECT set it to 0.
    if (conn.connectExpiryInterval === 0 && expiry !== 0) {
      throw protocolError('Session Expiry Interval set in DISCONNECT after 0 in CONNECT');
    }
    conn.session.expiryInterval = Math.min(expiry, conn.core.limits.maxSessionExpiryInterval);
  }
  conn.closeGracefully(reason === ReasonCode.Success);
  return undefined;
}
