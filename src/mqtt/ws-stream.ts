import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';

/**
 * MQTT over WebSocket (MQTT 5.0 §6): each binary message carries bytes of the MQTT stream. Wraps
 * a `ws` WebSocket into a Duplex for `MqttBroker.handleConnection`. Text frames are a protocol
 * violation [MQTT-6.0.0-1] and close the socket.
 */
export function webSocketDuplex(socket: WebSocket): Duplex {
  socket.on('message', (_data, isBinary) => {
    if (!isBinary) socket.close(1003, 'MQTT needs binary frames'); // [MQTT-6.0.0-1]
  });
  const stream = createWebSocketStream(socket);
  stream.on('error', () => socket.terminate());
  return stream;
}

/** WebSocket subprotocols MQTT clients offer [MQTT-6.0.0-3]: "mqtt", and "mqttv3.1" of 3.1. */
export const MQTT_WS_PROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

/** Picks the subprotocol to answer from those the client offered, for `handleProtocols`. */
export function selectMqttProtocol(offered: Set<string>): string | false {
  for (const p of MQTT_WS_PROTOCOLS) if (offered.has(p)) return p;
  return false;
}
