import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { IConnectPacket, Packet } from 'mqtt-packet';
import type { StrictInfo } from '../codec/strict.js';
import type { Connection } from '../connection.js';
import { MqttProtocolError } from '../errors.js';
import type { MqttMessage } from '../message.js';
import type { AuthenticateResult, EnhancedAuthResult } from '../options.js';
import type { StoredWill } from '../persistence/types.js';
import { ReasonCode } from '../reason-codes.js';
import { isValidTopicName } from '../topic/validate.js';

const NEVER = 0xffffffff;

/** CONNECT parameters kept while authentication runs. */
interface PendingConnect {
  packet: IConnectPacket;
  info: StrictInfo;
  clientIdAssigned: boolean;
  expiryInterval: number;
  serverKeepAlive: number | undefined;
}

/** Handles CONNECT (MQTT 5.0 §3.1, MQTT 3.1.1 §3.1). */
export function handleConnect(
  conn: Connection,
  packet: Packet,
  info: StrictInfo,
): Promise<void> | undefined {
  const connect = packet as IConnectPacket;
  const version = (connect.protocolVersion ?? 4) as 3 | 4 | 5;
  conn.protocolVersion = version;
  const core = conn.core;
  const limits = core.limits;
  const props = connect.properties ?? {};
  if (version === 5) {
    if (props.receiveMaximum !== undefined) conn.clientReceiveMaximum = props.receiveMaximum;
    if (props.maximumPacketSize !== undefined) {
      conn.clientMaximumPacketSize = props.maximumPacketSize;
    }
    conn.clientTopicAliasMaximum = props.topicAliasMaximum ?? 0;
    conn.requestProblemInformation = props.requestProblemInformation !== false;
  }

  let clientId = connect.clientId;
  let clientIdAssigned = false;
  if (clientId.length === 0) {
    // [MQTT-3.1.3-6] a zero-length identifier gets one assigned by the server; 3.1.1 only with
    // Clean Session [MQTT-3.1.3-7/8], MQTT 3.1 not at all (identifiers are 1 to 23 characters).
    if (version === 5 || (version === 4 && connect.clean)) {
      clientId = `tandem-${randomBytes(9).toString('base64url')}`;
      clientIdAssigned = true;
    } else {
      conn.refuse(ReasonCode.ClientIdentifierNotValid);
      return undefined;
    }
  }
  conn.clientId = clientId;
  if (connect.username !== undefined) conn.username = connect.username;

  let expiryInterval: number;
  if (version === 5) {
    expiryInterval = Math.min(props.sessionExpiryInterval ?? 0, limits.maxSessionExpiryInterval);
  } else {
    // 3.1.1: Clean Session 0 never expires (unless we cap session lifetimes).
    expiryInterval = connect.clean ? 0 : Math.min(NEVER, limits.maxSessionExpiryInterval);
  }
  conn.connectExpiryInterval = props.sessionExpiryInterval ?? 0;

  let keepAlive = connect.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (
    version === 5 &&
    limits.maxKeepAlive > 0 &&
    (keepAlive === 0 || keepAlive > limits.maxKeepAlive)
  ) {
    // [MQTT-3.2.2-21] the client must use the Server Keep Alive we send instead of its own.
    keepAlive = limits.maxKeepAlive;
    serverKeepAlive = keepAlive;
  }
  conn.keepAlive = keepAlive;

  if (connect.will) {
    const will = buildWill(conn, connect, info);
    if (typeof will === 'number') {
      conn.refuse(will);
      return undefined;
    }
    conn.will = will;
  }

  const pending: PendingConnect = {
    packet: connect,
    info,
    clientIdAssigned,
    expiryInterval,
    serverKeepAlive,
  };

  if (version === 5 && props.authenticationMethod !== undefined) {
    return startEnhancedAuth(conn, pending, props.authenticationMethod, props.authenticationData);
  }
  const hook = core.hooks.authenticate;
  if (!hook) return accept(conn, pending, undefined);
  const request: Parameters<typeof hook>[0] = {
    ...conn.info,
    clientId,
    clientIdAssigned,
    protocolVersion: version,
  };
  if (connect.username !== undefined) request.username = connect.username;
  if (connect.password !== undefined) request.password = connect.password;
  if (info.userProperties) request.userProperties = info.userProperties;
  return Promise.resolve(hook(request)).then((result: AuthenticateResult) => {
    if (conn.state === 'closed') return;
    if (!result.accept) {
      const props: { reasonString?: string; serverReference?: string } = {};
      if (result.reasonString) props.reasonString = result.reasonString;
      if (result.serverReference) props.serverReference = result.serverReference;
      conn.refuse(result.reasonCode, props);
      return;
    }
    return accept(conn, pending, result.context);
  });
}

function buildWill(
  conn: Connection,
  connect: IConnectPacket,
  info: StrictInfo,
): StoredWill | number {
  const w = connect.will!;
  const limits = conn.core.limits;
  const qos = (w.qos ?? 0) as 0 | 1 | 2;
  if (!isValidTopicName(w.topic)) return ReasonCode.TopicNameInvalid; // [MQTT-3.1.3-11]
  // [MQTT-3.2.2-12] a Will QoS above our Maximum QoS is refused with 0x9B.
  if (qos > limits.maximumQoS) return ReasonCode.QosNotSupported;
  // [MQTT-3.2.2-13] a Will Retain when retain is not available is refused with 0x9A.
  if (w.retain && !limits.retainAvailable) return ReasonCode.RetainNotSupported;
  const payload = Buffer.isBuffer(w.payload) ? w.payload : Buffer.from(w.payload);
  const wp = w.properties ?? {};
  // [MQTT-3.1.3-? / §3.1.3.2.3] a will declared UTF-8 must be UTF-8: 0x99 Payload format invalid.
  if (wp.payloadFormatIndicator && !isUtf8(payload)) return ReasonCode.PayloadFormatInvalid;
  const message: MqttMessage = {
    topic: w.topic,
    payload,
    qos,
    retain: w.retain ?? false,
    properties: {},
    origin: conn.clientId,
  };
  if (wp.payloadFormatIndicator !== undefined) {
    message.properties.payloadFormatIndicator = wp.payloadFormatIndicator;
  }
  if (wp.messageExpiryInterval !== undefined) {
    message.properties.messageExpiryInterval = wp.messageExpiryInterval;
  }
  if (wp.contentType !== undefined) message.properties.contentType = wp.contentType;
  if (wp.responseTopic !== undefined) message.properties.responseTopic = wp.responseTopic;
  if (wp.correlationData !== undefined) message.properties.correlationData = wp.correlationData;
  if (info.willUserProperties) message.properties.userProperties = info.willUserProperties;
  return { message, delayInterval: wp.willDelayInterval ?? 0 };
}

function startEnhancedAuth(
  conn: Connection,
  pending: PendingConnect,
  method: string,
  data: Buffer | undefined,
): Promise<void> | undefined {
  const hook = conn.core.hooks.enhancedAuth;
  if (!hook) {
    // MQTT 5.0 §4.12: an authentication method the server does not support.
    conn.refuse(ReasonCode.BadAuthenticationMethod);
    return undefined;
  }
  conn.state = 'authenticating';
  conn.auth = { method, step: 0 };
  const run = (stepData: Buffer | undefined): Promise<void> => {
    const auth = conn.auth!;
    const request: Parameters<typeof hook>[0] = {
      ...conn.info,
      clientId: conn.clientId,
      method,
      step: auth.step,
      reauthenticate: false,
    };
    if (conn.username !== undefined) request.username = conn.username;
    if (stepData !== undefined) request.data = stepData;
    return Promise.resolve(hook(request)).then((result: EnhancedAuthResult) => {
      if (conn.state === 'closed') return;
      auth.step++;
      if (result.result === 'continue') {
        const props: Record<string, unknown> = { authenticationMethod: method };
        if (result.data) props.authenticationData = result.data;
        conn.send({
          cmd: 'auth',
          reasonCode: ReasonCode.ContinueAuthentication,
          properties: props,
        });
        return;
      }
      if (result.result === 'fail') {
        const props: { reasonString?: string; serverReference?: string } = {};
        if (result.reasonString) props.reasonString = result.reasonString;
        if (result.serverReference) props.serverReference = result.serverReference;
        conn.refuse(result.reasonCode, props);
        return;
      }
      conn.auth = undefined;
      return accept(conn, pending, result.context, { method, data: result.data });
    });
  };
  conn.auth.resume = (p) => {
    const props = (
      p as { properties?: { authenticationMethod?: string; authenticationData?: Buffer } }
    ).properties;
    // [MQTT-4.12.0-5]-style rule: the method must stay the same for the whole exchange.
    if (props?.authenticationMethod !== method) {
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'authentication method changed');
    }
    return run(props.authenticationData);
  };
  return run(data);
}

/** Binds the session and sends CONNACK (MQTT 5.0 §3.2). */
async function accept(
  conn: Connection,
  pending: PendingConnect,
  context: unknown,
  auth?: { method: string; data: Buffer | undefined },
): Promise<void> {
  const core = conn.core;
  const limits = core.limits;
  conn.context = context;
  const connect = pending.packet;
  const authorize = core.hooks.authorizePublish;
  if (conn.will && authorize) {
    // The will is published later on the client's behalf: it is authorized now, with the
    // client's identity, so that a refused will refuses the connection (MQTT 5.0 §3.2.2.2 0x87).
    const verdict = await authorize(core.clientInfo(conn), conn.will.message);
    if (conn.state === 'closed') return;
    if (verdict !== true) {
      conn.refuse(verdict === false ? ReasonCode.NotAuthorized : verdict);
      return;
    }
  }
  const request: Parameters<typeof core.attach>[1] = {
    clientId: conn.clientId,
    cleanStart: connect.clean !== false,
    expiryInterval: pending.expiryInterval,
    protocolVersion: conn.protocolVersion,
  };
  const { session, present } = await core.attach(conn, request);
  if (conn.state === 'closed') return;
  const connack: Packet = { cmd: 'connack', sessionPresent: present, reasonCode: 0 };
  if (conn.protocolVersion === 5) {
    const props: Record<string, unknown> = {};
    const requested = connect.properties?.sessionExpiryInterval ?? 0;
    // MQTT 5.0 §3.2.2.3.2: tell the client when we use a different Session Expiry Interval.
    if (pending.expiryInterval !== requested) props.sessionExpiryInterval = pending.expiryInterval;
    if (limits.receiveMaximum < 65535) props.receiveMaximum = limits.receiveMaximum;
    if (limits.maximumQoS < 2) props.maximumQoS = limits.maximumQoS;
    if (!limits.retainAvailable) props.retainAvailable = false;
    props.maximumPacketSize = limits.maxPacketSize;
    // [MQTT-3.1.3-7]-equivalent in v5: the assigned identifier is returned in CONNACK.
    if (pending.clientIdAssigned) props.assignedClientIdentifier = conn.clientId;
    props.topicAliasMaximum = limits.topicAliasMaximum;
    if (!limits.wildcardSubscriptionAvailable) props.wildcardSubscriptionAvailable = false;
    if (!limits.subscriptionIdentifiersAvailable) props.subscriptionIdentifiersAvailable = false;
    if (!limits.sharedSubscriptionAvailable) props.sharedSubscriptionAvailable = false;
    if (pending.serverKeepAlive !== undefined) props.serverKeepAlive = pending.serverKeepAlive;
    if (connect.properties?.requestResponseInformation && core.options.responseInformation) {
      // MQTT 5.0 §3.1.2.11.7 Request Response Information → §3.2.2.3.15 Response Information.
      const info = core.options.responseInformation(core.clientInfo(conn));
      if (info !== undefined) props.responseInformation = info;
    }
    if (auth) {
      props.authenticationMethod = auth.method;
      if (auth.data) props.authenticationData = auth.data;
    }
    connack.properties = props;
  } else {
    delete (connack as { reasonCode?: number }).reasonCode;
    (connack as { returnCode?: number }).returnCode = 0;
  }
  if (auth) conn.authMethod = auth.method;
  conn.send(connack);
  core.logger?.debug(
    {
      clientId: conn.clientId,
      version: conn.protocolVersion,
      present,
      transport: conn.info.transport,
    },
    'mqtt client connected',
  );
  conn.established();
  if (core.hooks.onConnect)
    core.notify('onConnect', core.clientInfo(conn), { sessionPresent: present });
  session.resend(); // [MQTT-4.4.0-1] in-flight messages are re-sent after a resumed session
}
