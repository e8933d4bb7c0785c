const FIRST_BYTE = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 5.0 §3.4-3.7), written directly: they are the most
 * frequent packets the broker sends. A reason code of 0 with no properties is omitted in MQTT 5
 * (§3.4.2.1: Remaining Length 2 means Success); 3.x acks never carry one.
 */
export function encodeAck(
  cmd: keyof typeof FIRST_BYTE,
  packetId: number,
  reasonCode: number,
  version: number,
): Buffer {
  const withReason = version === 5 && reasonCode !== 0;
  const buf = Buffer.allocUnsafe(withReason ? 5 : 4);
  buf[0] = FIRST_BYTE[cmd]; // PUBREL has the reserved flags 0010 [MQTT-3.6.1-1]
  buf[1] = withReason ? 3 : 2;
  buf.writeUInt16BE(packetId, 2);
  if (withReason) buf[4] = reasonCode;
  return buf;
}

/** PINGRESP [MQTT-3.12.4-1]. */
export const PINGRESP = Buffer.from([0xd0, 0x00]);
