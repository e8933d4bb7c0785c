import type { Duplex } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { type Decoded, PacketDecoder } from './codec/decoder.js';
import { encodeAck, PINGRESP } from './codec/encode-ack.js';
import { encodePublish } from './codec/encode-publish.js';
import type { BrokerCore } from './core.js';
import type { Expiring } from './deadlines.js';
import { MqttProtocolError, protocolError } from './errors.js';
import { handleAuth } from './handlers/auth.js';
import { handleConnect } from './handlers/connect.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handlePublish, handlePubrel } from './handlers/publish.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import { remainingExpiry } from './message.js';
import type { ConnectionInfo } from './options.js';
import type { StoredWill } from './persistence/types.js';
import { connackReturnCodeV4, ReasonCode } from './reason-codes.js';
import type { Delivery, Session, SessionOutlet } from './session.js';

/** Seconds a client has to send CONNECT after the network connection opens. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a closing stream may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;

type Item = Decoded | MqttProtocolError;

/** The stream's own reference to its connection, for the listeners all connections share. */
const CONNECTION = Symbol('mqtt.connection');
type Carrier = Duplex & { [CONNECTION]?: Connection };

// Stream listeners: functions shared by every connection (an idle connection costs no closures),
// finding theirs through the stream they are called on.
function onStreamData(this: Carrier, chunk: Buffer): void {
  this[CONNECTION]!.received(chunk);
}

function onStreamEnd(this: Carrier): void {
  this[CONNECTION]!.streamEnded();
}

function onStreamError(this: Carrier, err: Error): void {
  this[CONNECTION]!.core.logger?.debug({ err }, 'mqtt stream error');
}

function onStreamClose(this: Carrier): void {
  this[CONNECTION]!.streamClosed();
}

// mqtt-packet keeps 65,536 two-byte Buffers (over 6 MB of heap) for packet identifiers once it
// generates its first packet. Only control packets outside the hot path go through it here
// (PUBLISH and the acknowledgements have their own encoders), so it builds them uncached.
mqttPacket.writeToStream.cacheNumbers = false;

/**
 * One network connection speaking MQTT: decodes its bytes, runs one packet at a time through the
 * handlers (a handler that awaits a hook or a durable write pauses the stream), writes answers
 * with backpressure, and maps every error to its wire answer in `fail()`.
 */
export class Connection implements SessionOutlet, Expiring {
  readonly stream: Duplex;
  readonly info: ConnectionInfo;
  readonly core: BrokerCore;
  state: 'connecting' | 'authenticating' | 'connected' | 'closed' = 'connecting';
  protocolVersion: 3 | 4 | 5 = 4;
  clientId = '';
  username: string | undefined;
  context: unknown;
  session: Session | undefined;
  /** Keep Alive in force (s), after Server Keep Alive. */
  keepAlive = 0;
  clientReceiveMaximum = 65535;
  clientMaximumPacketSize = 268_435_460;
  clientTopicAliasMaximum = 0;
  requestProblemInformation = true;
  /** Session Expiry Interval from CONNECT, for the DISCONNECT rule [MQTT-3.14.2-2]. */
  connectExpiryInterval = 0;
  will: StoredWill | undefined;
  /** Topic aliases the client set (MQTT 5.0 §3.3.2.3.4); created on first use. */
  inboundAliases: Map<number, string> | undefined;
  /** QoS 1/2 PUBLISH received and not yet acknowledged (PUBACK or PUBCOMP pending). */
  incomingUnacked = 0;
  /** State of an enhanced authentication in progress (MQTT 5.0 §4.12). */
  auth:
    | { method: string; step: number; resume?: (data: Packet) => Promise<void> | void }
    | undefined;
  /** Authentication Method agreed at CONNECT, for re-authentication [MQTT-4.12.1-1]. */
  authMethod: string | undefined;
  #outboundAliases: Map<string, number> | undefined;
  #decoder: PacketDecoder;
  /** Decoded packets waiting while a handler runs; created on first use. */
  #items: Item[] | undefined;
  #busy = false;
  /** Clock time of the last packet (connected) or of `start()` (waiting for CONNECT); -1 before. */
  #lastActivity = -1;
  #detached = false;
  #graceful = false;
  #waitingDrain = false;
  #corked = false;

  constructor(stream: Duplex, info: ConnectionInfo, core: BrokerCore) {
    this.stream = stream;
    this.info = info;
    this.core = core;
    this.#decoder = new PacketDecoder(core.limits.maxPacketSize);
    // An 'error' is handled from the start: a reset while persistence is still being restored
    // must not take the process down.
    (stream as Carrier)[CONNECTION] = this;
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
    core.connections.add(this);
    core.stats.connections.current++;
    core.stats.connections.total++;
  }

  /** Starts reading; the client has `CONNECT_TIMEOUT_MS` to complete its CONNECT. */
  start(): void {
    const now = this.core.clock.now();
    this.#lastActivity = now;
    this.stream.on('data', onStreamData);
    this.stream.on('end', onStreamEnd);
    this.core.deadlines.schedule(now + CONNECT_TIMEOUT_MS);
  }

  /** When the connection must be closed: CONNECT timeout, or Keep Alive expired. */
  deadline(now: number): number | undefined {
    if (this.state === 'connecting' || this.state === 'authenticating') {
      return this.#lastActivity < 0 ? undefined : this.#lastActivity + CONNECT_TIMEOUT_MS;
    }
    if (this.state !== 'connected' || this.keepAlive === 0) return undefined;
    // A connection held by backpressure (or a slow hook) is not idle: we stopped reading it.
    if (this.#busy) this.#lastActivity = now;
    return this.#lastActivity + this.keepAlive * 1500; // [MQTT-3.1.2-22] 1.5 × Keep Alive
  }

  expire(): void {
    if (this.state === 'connected') this.disconnect(ReasonCode.KeepAliveTimeout);
    else this.#end();
  }

  /** Writable: connected, and the stream has no backlog [backpressure per client]. */
  get writable(): boolean {
    return this.state === 'connected' && !this.#waitingDrain;
  }

  write(buf: Buffer): void {
    if (this.state === 'closed' || this.stream.destroyed) return;
    this.core.stats.bytes.sent += buf.length;
    if (!this.#corked) {
      // Everything written in this tick leaves in one writev: fan-out and bursts of acks cost
      // one syscall per connection and tick instead of one per packet.
      this.#corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.stream.uncork();
      });
    }
    if (!this.stream.write(buf) && !this.#waitingDrain) {
      this.#waitingDrain = true;
      this.stream.once('drain', () => {
        this.#waitingDrain = false;
        this.session?.pump();
      });
    }
  }

  /** Encodes a control packet with mqtt-packet for this connection's protocol level. */
  send(packet: Packet): void {
    this.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  sendPublish(d: Delivery, dup: boolean): 'sent' | 'too-large' {
    const m = d.message;
    const v5 = this.protocolVersion === 5;
    const aliasMax = Math.min(this.clientTopicAliasMaximum, this.core.limits.outboundTopicAliases);
    if (d.qos === 0 && m.expiresAt === undefined && !(v5 && (d.subscriptionIds || aliasMax > 0))) {
      // Fan-out fast path: a QoS 0 copy with nothing per subscriber is encoded once per
      // protocol level and retain flag, and the same bytes go to every such subscriber.
      const shared = sharedEncoding(d, this.protocolVersion);
      if (shared.length > this.clientMaximumPacketSize) return 'too-large';
      this.core.stats.messages.sent++;
      this.write(shared);
      return 'sent';
    }
    const frame: Parameters<typeof encodePublish>[0] = {
      topic: m.topic,
      payload: m.payload,
      qos: d.qos,
      retain: d.retain,
      dup,
      properties: m.properties,
    };
    if (d.packetId !== undefined) frame.packetId = d.packetId;
    if (v5) {
      // [MQTT-3.3.2-6] the remaining lifetime is sent, not the original interval.
      const remaining = remainingExpiry(m, this.core.clock.now());
      if (remaining !== undefined) frame.messageExpiryInterval = remaining;
      if (d.subscriptionIds) frame.subscriptionIds = d.subscriptionIds; // [MQTT-3.3.4-3]
    }
    let buf = encodePublish(frame, this.protocolVersion);
    // [MQTT-3.1.2-25] never send a packet larger than the client's Maximum Packet Size.
    if (buf.length > this.clientMaximumPacketSize) return 'too-large';
    if (v5 && aliasMax > 0) {
      // Outbound aliases: first use of a topic sends it with a new alias, later uses send the
      // alias and an empty topic (MQTT 5.0 §3.3.2.3.4). When all are taken, topics go in full.
      this.#outboundAliases ??= new Map();
      const known = this.#outboundAliases.get(m.topic);
      if (known !== undefined) {
        frame.topic = '';
        frame.topicAlias = known;
        buf = encodePublish(frame, 5);
      } else if (this.#outboundAliases.size < aliasMax) {
        frame.topicAlias = this.#outboundAliases.size + 1;
        const withAlias = encodePublish(frame, 5);
        if (withAlias.length <= this.clientMaximumPacketSize) {
          this.#outboundAliases.set(m.topic, frame.topicAlias);
          buf = withAlias;
        }
      }
    }
    this.core.stats.messages.sent++;
    this.write(buf);
    return 'sent';
  }

  sendPubrel(packetId: number, reasonCode: number): void {
    this.write(encodeAck('pubrel', packetId, reasonCode, this.protocolVersion));
  }

  /** Sends a PUBACK/PUBREC/PUBCOMP with a reason code (v5) or the plain ack (3.x). */
  sendAck(cmd: 'puback' | 'pubrec' | 'pubcomp', packetId: number, reasonCode: number): void {
    this.write(encodeAck(cmd, packetId, reasonCode, this.protocolVersion));
  }

  /**
   * Server-initiated close. For MQTT 5 a DISCONNECT with the reason code is sent first
   * (MQTT 5.0 §4.13); 3.x clients are told nothing but the close [MQTT-4.8.0-1 (3.1.1)].
   */
  disconnect(reasonCode: number, properties?: { reasonString?: string; serverReference?: string }) {
    if (this.state === 'closed') return;
    if (this.protocolVersion === 5 && this.state === 'connected') {
      const packet: Packet = { cmd: 'disconnect', reasonCode };
      if (properties && (properties.serverReference || this.requestProblemInformation)) {
        const props: Record<string, string> = {};
        if (properties.serverReference) props.serverReference = properties.serverReference;
        if (properties.reasonString && this.requestProblemInformation) {
          props.reasonString = properties.reasonString;
        }
        if (Object.keys(props).length > 0) packet.properties = props;
      }
      this.send(packet);
    }
    this.#end();
  }

  /** The one place where errors become wire answers. */
  fail(err: unknown): void {
    if (this.state === 'closed') return;
    const known = err instanceof MqttProtocolError;
    if (!known) this.core.logger?.error({ err, clientId: this.clientId }, 'mqtt handler failed');
    const reasonCode = known ? err.reasonCode : ReasonCode.UnspecifiedError;
    const message = known ? err.message : 'internal error';
    this.core.logger?.debug({ clientId: this.clientId, reasonCode, message }, 'mqtt close');
    if (this.state === 'connecting' || this.state === 'authenticating') {
      const connectVersion = known ? err.connectVersion : undefined;
      if (connectVersion === 3 || connectVersion === 4 || connectVersion === 5) {
        this.protocolVersion = connectVersion;
      }
      const inConnect = this.#sawConnect || connectVersion !== undefined;
      if (reasonCode === ReasonCode.UnsupportedProtocolVersion) {
        // [MQTT-3.1.2-2] answer in the 3.1.1 form every client understands: return code 0x01.
        this.write(Buffer.from([0x20, 0x02, 0x00, 0x01]));
      } else if (inConnect && this.protocolVersion === 5) {
        // [MQTT-3.1.4-1]/[MQTT-3.2.2-6]: a CONNACK with the reason, then the close. MQTT 3.x has
        // no return code for a malformed CONNECT: the connection is just closed.
        this.sendConnackRefusal(reasonCode, { reasonString: message });
      }
      this.core.stats.connections.rejected++;
      this.#end();
      return;
    }
    this.disconnect(reasonCode, { reasonString: message });
  }

  #sawConnect = false;

  /** CONNACK refusing the connection; the caller closes afterwards [MQTT-3.2.2-6]. */
  sendConnackRefusal(
    reasonCode: number,
    props: { reasonString?: string; serverReference?: string },
  ): void {
    if (this.protocolVersion === 5) {
      const properties: Record<string, string> = {};
      if (props.reasonString && this.requestProblemInformation) {
        properties.reasonString = props.reasonString;
      }
      if (props.serverReference) properties.serverReference = props.serverReference;
      const packet: Packet = { cmd: 'connack', sessionPresent: false, reasonCode };
      if (Object.keys(properties).length > 0) packet.properties = properties;
      this.send(packet);
    } else {
      const returnCode = connackReturnCodeV4(reasonCode);
      this.send({ cmd: 'connack', sessionPresent: false, returnCode });
    }
  }

  /** Closes after a refused CONNECT. */
  refuse(reasonCode: number, props: { reasonString?: string; serverReference?: string } = {}) {
    this.sendConnackRefusal(reasonCode, props);
    this.core.stats.connections.rejected++;
    this.#end();
  }

  /** Closed by a new connection of the same client [MQTT-3.1.4-3]. */
  takeOver(): void {
    this.disconnect(ReasonCode.SessionTakenOver);
  }

  /** True once CONNACK 0x00 was sent on this connection. */
  wasEstablished = false;

  /** Called by handlers once CONNACK is sent. */
  established(): void {
    this.state = 'connected';
    this.wasEstablished = true;
    const now = this.core.clock.now();
    this.#lastActivity = now;
    const deadline = this.deadline(now);
    if (deadline !== undefined) this.core.deadlines.schedule(deadline);
  }

  /** Client sent DISCONNECT 0x00: the will is discarded [MQTT-3.1.2-10]. */
  closeGracefully(graceful: boolean): void {
    this.#graceful = graceful;
    this.#end();
  }

  /** Bytes from the stream ('data'). */
  received(chunk: Buffer): void {
    if (this.state === 'closed') return;
    if (this.state === 'connected') this.#lastActivity = this.core.clock.now();
    this.core.stats.bytes.received += chunk.length;
    const { packets, error } = this.#decoder.push(chunk);
    if (packets.length === 0 && !error) return;
    const arrived: Item[] = packets;
    if (error) arrived.push(error);
    // The decoder's fresh array becomes the queue when none is pending: no copy, no allocation.
    if (this.#items) for (const item of arrived) this.#items.push(item);
    else this.#items = arrived;
    this.#drain();
  }

  #drain(): void {
    if (this.#busy) return;
    const items = this.#items;
    while (items && items.length > 0 && this.state !== 'closed') {
      const item = items.shift()!;
      if (item instanceof MqttProtocolError) {
        this.fail(item);
        return;
      }
      let result: unknown;
      try {
        result = this.#dispatch(item);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (result instanceof Promise) {
        this.#busy = true;
        this.stream.pause();
        result.then(
          () => {
            this.#busy = false;
            if (this.state === 'closed') return;
            this.stream.resume();
            this.#drain();
          },
          (err: unknown) => {
            this.#busy = false;
            this.fail(err);
          },
        );
        return;
      }
    }
    // Drained: an idle connection keeps no array (nor its grown backing store).
    this.#items = undefined;
  }

  #dispatch({ packet, info }: Decoded): unknown {
    if (this.state === 'connecting') {
      if (packet.cmd !== 'connect') {
        // [MQTT-3.1.0-1] the first packet must be CONNECT; anything else closes the connection.
        this.#end();
        return undefined;
      }
      if (this.#sawConnect) return undefined; // CONNECT still being processed
      this.#sawConnect = true;
      return handleConnect(this, packet, info);
    }
    if (this.state === 'authenticating') {
      // MQTT 5.0 §4.12: until CONNACK only AUTH or DISCONNECT may follow.
      if (packet.cmd === 'auth') return handleAuth(this, packet);
      if (packet.cmd === 'disconnect') return handleDisconnect(this, packet);
      throw protocolError(`${packet.cmd} during authentication`);
    }
    if (this.state !== 'connected') return undefined;
    this.core.stats.messages.received += packet.cmd === 'publish' ? 1 : 0;
    switch (packet.cmd) {
      case 'connect':
        throw protocolError('second CONNECT'); // [MQTT-3.1.0-2]
      case 'publish':
        return handlePublish(this, packet, info);
      case 'puback':
        this.session?.onPuback(packet.messageId!);
        return undefined;
      case 'pubrec':
        this.session?.onPubrec(packet.messageId!, packet.reasonCode ?? 0);
        return undefined;
      case 'pubrel':
        return handlePubrel(this, packet);
      case 'pubcomp':
        this.session?.onPubcomp(packet.messageId!);
        return undefined;
      case 'subscribe':
        return handleSubscribe(this, packet);
      case 'unsubscribe':
        return handleUnsubscribe(this, packet);
      case 'pingreq':
        this.write(PINGRESP); // [MQTT-3.12.4-1]
        return undefined;
      case 'disconnect':
        return handleDisconnect(this, packet);
      case 'auth':
        return handleAuth(this, packet);
      default:
        throw protocolError(`unexpected ${packet.cmd}`);
    }
  }

  #end(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#detach();
    const stream = this.stream;
    if (stream.destroyed) return;
    const timer = setTimeout(() => stream.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    stream.end(() => {
      clearTimeout(timer);
      stream.destroy();
    });
  }

  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    if (this.session) this.core.detach(this, this.#graceful);
  }

  /** The peer ended its side ('end'). */
  streamEnded(): void {
    this.#end();
  }

  /** The stream is gone ('close'). */
  streamClosed(): void {
    this.state = 'closed';
    this.#detach();
    this.core.connections.delete(this);
    this.core.stats.connections.current--;
  }
}

/** Encodings of QoS 0 copies shared by subscribers, per message: index level * 2 + retain. */
const encodings = new WeakMap<Delivery['message'], Array<Buffer | undefined>>();

function sharedEncoding(d: Delivery, version: number): Buffer {
  let list = encodings.get(d.message);
  if (!list) {
    list = [];
    encodings.set(d.message, list);
  }
  const key = version * 2 + (d.retain ? 1 : 0);
  let buf = list[key];
  if (!buf) {
    const m = d.message;
    buf = encodePublish(
      {
        topic: m.topic,
        payload: m.payload,
        qos: 0,
        retain: d.retain,
        dup: false,
        properties: m.properties,
      },
      version,
    );
    list[key] = buf;
  }
  return buf;
}
