import { ReasonCode } from './reason-codes.js';

/**
 * A protocol violation or refusal that carries the reason code the peer must be told. Thrown by
 * decoders and handlers; `connection.ts` turns it into a wire answer (CONNACK or DISCONNECT with
 * that code, or a bare close for MQTT 3.x) in one place.
 */
export class MqttProtocolError extends Error {
  /** MQTT 5 reason code sent to the client (CONNACK before connection, DISCONNECT after). */
  readonly reasonCode: number;
  /** Stable machine-readable code, e.g. `MQTT_MALFORMED_PACKET`. */
  readonly code: string;
  /** Protocol level of the CONNECT that failed to decode, so its CONNACK can be shaped. */
  connectVersion?: number;

  constructor(reasonCode: number, message: string) {
    super(message);
    this.name = 'MqttProtocolError';
    this.reasonCode = reasonCode;
    this.code = codeFor(reasonCode);
  }
}

export function malformed(message: string): MqttProtocolError {
  return new MqttProtocolError(ReasonCode.MalformedPacket, message);
}

export function protocolError(message: string): MqttProtocolError {
  return new MqttProtocolError(ReasonCode.ProtocolError, message);
}

function codeFor(reasonCode: number): string {
  for (const [name, value] of Object.entries(ReasonCode)) {
    if (value === reasonCode && value >= 0x80) {
      return `MQTT_${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
    }
  }
  return `MQTT_REASON_0x${reasonCode.toString(16)}`;
}
