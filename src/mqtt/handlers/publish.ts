import { isUtf8 } from 'node:buffer';
import type { IPublishPacket, IPubrelPacket, Packet } from 'mqtt-packet';
import type { StrictInfo } from '../codec/strict.js';
import type { Connection } from '../connection.js';
import { MqttProtocolError, malformed, protocolError } from '../errors.js';
import type { MqttMessage } from '../message.js';
import { ReasonCode } from '../reason-codes.js';
import { background } from '../session.js';
import { isValidTopicName } from '../topic/validate.js';

/** Runs `then` after `write` settles: synchronously when it is not a Promise. */
function after(write: unknown, then: () => void): Promise<void> | undefined {
  if (write instanceof Promise) return write.then(then);
  then();
  return undefined;
}

/** Inbound PUBLISH (MQTT 5.0 §3.3, §4.3): QoS 0, 1 and 2 flows as the receiver. */
export function handlePublish(
  conn: Connection,
  packet: Packet,
  info: StrictInfo,
): Promise<void> | undefined {
  const p = packet as IPublishPacket;
  const core = conn.core;
  const limits = core.limits;
  const session = conn.session!;
  const v5 = conn.protocolVersion === 5;
  const props = p.properties ?? {};
  const qos = p.qos;
  const id = p.messageId ?? 0;
  // [MQTT-2.2.1-3] a QoS 1 or 2 PUBLISH carries a non-zero Packet Identifier.
  if (qos > 0 && id === 0) throw protocolError('PUBLISH without Packet Identifier');
  // [MQTT-3.3.4-6] a client PUBLISH must not contain a Subscription Identifier.
  if (props.subscriptionIdentifier !== undefined) {
    throw protocolError('Subscription Identifier in PUBLISH from client');
  }
  let topic = p.topic;
  if (v5 && props.topicAlias !== undefined) {
    const alias = props.topicAlias;
    // [MQTT-3.3.2-8]/[MQTT-3.3.2-9]-style rule: alias 0 or above our maximum is 0x94.
    if (alias === 0 || alias > limits.topicAliasMaximum) {
      throw new MqttProtocolError(ReasonCode.TopicAliasInvalid, `topic alias ${alias} invalid`);
    }
    if (topic.length > 0) {
      conn.inboundAliases ??= new Map();
      conn.inboundAliases.set(alias, topic);
    } else {
      const known = conn.inboundAliases?.get(alias);
      // MQTT 5.0 §3.3.2.3.4: an unknown alias with an empty topic is a Protocol Error.
      if (known === undefined) throw protocolError(`unknown topic alias ${alias}`);
      topic = known;
    }
  } else if (v5 && topic.length === 0) {
    throw protocolError('empty Topic Name without Topic Alias'); // MQTT 5.0 §3.3.2.1
  }
  if (!isValidTopicName(topic)) {
    // [MQTT-3.3.2-2] wildcards in a Topic Name; 3.1.1 has no reason code, only the close.
    if (v5) throw new MqttProtocolError(ReasonCode.TopicNameInvalid, `invalid topic ${topic}`);
    throw malformed(`invalid topic name ${topic}`);
  }
  // [MQTT-3.2.2-11] a QoS above the Maximum QoS we announced is 0x9B.
  if (qos > limits.maximumQoS) {
    throw new MqttProtocolError(ReasonCode.QosNotSupported, `QoS ${qos} not supported`);
  }
  // [MQTT-3.2.2-14] retain when Retain Available is 0 is 0x9A.
  if (p.retain && !limits.retainAvailable) {
    throw new MqttProtocolError(ReasonCode.RetainNotSupported, 'retain not supported');
  }

  if (qos === 2 && session.incomingQos2.has(id)) {
    // [MQTT-4.3.3-9] until PUBREL, a PUBLISH with the same identifier is acknowledged again
    // with PUBREC and not delivered a second time.
    conn.sendAck('pubrec', id, 0);
    return undefined;
  }
  if (qos === 1 && session.incomingQos2.has(id)) {
    // The identifier belongs to an unfinished QoS 2 flow [MQTT-2.2.1-3]: 0x91.
    conn.sendAck('puback', id, ReasonCode.PacketIdentifierInUse);
    return undefined;
  }
  if (qos > 0 && v5 && conn.incomingUnacked + session.incomingQos2.size >= limits.receiveMaximum) {
    // MQTT 5.0 §3.3.4: more unacknowledged QoS 1/2 PUBLISH than our Receive Maximum is 0x93.
    throw new MqttProtocolError(ReasonCode.ReceiveMaximumExceeded, 'Receive Maximum exceeded');
  }

  const payload = p.payload as Buffer;
  if (props.payloadFormatIndicator && !isUtf8(payload)) {
    // MQTT 5.0 §3.3.2.3.2: a payload declared UTF-8 that is not is 0x99 Payload format invalid.
    if (qos === 0) {
      throw new MqttProtocolError(ReasonCode.PayloadFormatInvalid, 'payload is not UTF-8');
    }
    conn.sendAck(qos === 1 ? 'puback' : 'pubrec', id, ReasonCode.PayloadFormatInvalid);
    return undefined;
  }

  const message: MqttMessage = {
    topic,
    payload,
    qos,
    retain: p.retain,
    properties: {},
    origin: conn.clientId,
  };
  const mp = message.properties;
  if (props.payloadFormatIndicator !== undefined) {
    mp.payloadFormatIndicator = props.payloadFormatIndicator;
  }
  if (props.messageExpiryInterval !== undefined) {
    mp.messageExpiryInterval = props.messageExpiryInterval;
    message.expiresAt = core.clock.now() + props.messageExpiryInterval * 1000;
  }
  if (props.contentType !== undefined) mp.contentType = props.contentType;
  if (props.responseTopic !== undefined) {
    // MQTT 5.0 §3.3.2.3.5: the Response Topic is a Topic Name (no wildcards).
    if (!isValidTopicName(props.responseTopic)) throw protocolError('invalid Response Topic');
    mp.responseTopic = props.responseTopic;
  }
  if (props.correlationData !== undefined) mp.correlationData = props.correlationData;
  if (info.userProperties) mp.userProperties = info.userProperties; // wire order, duplicates kept

  if (qos > 0) conn.incomingUnacked++;
  const hook = core.hooks.authorizePublish;
  const isSys = topic.startsWith('$SYS/') || topic === '$SYS';
  if (!hook && !isSys) return deliver(conn, message, id);
  const verdict = isSys ? false : hook!(core.clientInfo(conn), message);
  if (verdict instanceof Promise) {
    return verdict.then((v) => authorized(conn, message, id, v));
  }
  return authorized(conn, message, id, verdict);
}

function authorized(
  conn: Connection,
  message: MqttMessage,
  id: number,
  verdict: boolean | number,
): Promise<void> | undefined {
  if (verdict === true) return deliver(conn, message, id);
  const reason = verdict === false ? ReasonCode.NotAuthorized : verdict;
  if (message.qos > 0) conn.incomingUnacked--;
  // [MQTT-3.3.5-2] (3.1.1) an unauthorized PUBLISH is acknowledged normally or the connection
  // closed; MQTT 5 says why in the acknowledgement.
  if (message.qos === 1) conn.sendAck('puback', id, reason);
  else if (message.qos === 2) conn.sendAck('pubrec', id, reason);
  return undefined;
}

function deliver(conn: Connection, message: MqttMessage, id: number): Promise<void> | undefined {
  const core = conn.core;
  const session = conn.session!;
  const { delivered, write } = core.route(message);
  if (core.hooks.onMessage) core.notify('onMessage', core.clientInfo(conn), message);
  const reason = delivered === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
  if (message.qos === 0) {
    // Under the backpressure policy even QoS 0 holds the publisher until there is room.
    if (write instanceof Promise && core.limits.queueFullPolicy === 'backpressure') {
      return write.then(() => undefined);
    }
    background(core, write);
    return undefined;
  }
  if (message.qos === 1) {
    // [MQTT-4.3.2-2] PUBACK only once the message is owned (durably routed).
    return after(write, () => {
      conn.incomingUnacked--;
      conn.sendAck('puback', id, reason);
    });
  }
  session.addIncomingQos2(id);
  const stored = session.persisted
    ? core.persistence.addIncomingQos2(session.clientId, id)
    : undefined;
  const both =
    write instanceof Promise || stored instanceof Promise
      ? Promise.all([write, stored])
      : undefined;
  // [MQTT-4.3.3-2] PUBREC once the message and its identifier are stored.
  return after(both, () => {
    conn.incomingUnacked--;
    conn.sendAck('pubrec', id, reason);
  });
}

/** PUBREL from the client ends an inbound QoS 2 flow with PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel(conn: Connection, packet: Packet): Promise<void> | undefined {
  const id = (packet as IPubrelPacket).messageId!;
  const session = conn.session!;
  if (!session.releaseIncomingQos2(id)) {
    // MQTT 5.0 §3.7.2.1: PUBCOMP 0x92 Packet Identifier not found.
    conn.sendAck('pubcomp', id, ReasonCode.PacketIdentifierNotFound);
    return undefined;
  }
  const write = session.persisted
    ? conn.core.persistence.deleteIncomingQos2(session.clientId, id)
    : undefined;
  return after(write, () => conn.sendAck('pubcomp', id, 0));
}
