import type { IUnsubscribePacket, Packet } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { ReasonCode } from '../reason-codes.js';

/** UNSUBSCRIBE (MQTT 5.0 §3.10): UNSUBACK with one reason code per filter [MQTT-3.11.3-1]. */
export function handleUnsubscribe(conn: Connection, packet: Packet): Promise<void> | undefined {
  const p = packet as IUnsubscribePacket;
  const core = conn.core;
  const session = conn.session!;
  const codes: number[] = [];
  const writes: Promise<unknown>[] = [];
  for (const filter of p.unsubscriptions) {
    // [MQTT-3.10.4-1] filters are compared character by character, not matched.
    const { existed, write } = core.removeSubscription(session, filter);
    if (write instanceof Promise) writes.push(write);
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  const done = () => {
    if (conn.state === 'closed') return;
    const unsuback = { cmd: 'unsuback', messageId: p.messageId! } as Packet;
    // [MQTT-3.11.2-1] (3.1.1) UNSUBACK carries only the Packet Identifier.
    if (conn.protocolVersion === 5) (unsuback as { granted?: number[] }).granted = codes;
    conn.send(unsuback);
  };
  if (writes.length > 0) return Promise.all(writes).then(done);
  done();
  return undefined;
}
