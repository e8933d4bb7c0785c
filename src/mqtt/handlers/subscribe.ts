import type { ISubscribePacket, Packet } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { MqttProtocolError, malformed, protocolError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import type { Subscription } from '../topic/subscription.js';
import { isValidTopicFilter, parseSharedFilter } from '../topic/validate.js';

interface Request {
  sub: Subscription;
  /** Reason code decided before authorization, if the filter is refused already. */
  refused?: number;
}

/** SUBSCRIBE (MQTT 5.0 §3.8): one SUBACK reason code per filter, in order [MQTT-3.9.3-1]. */
export function handleSubscribe(conn: Connection, packet: Packet): Promise<void> | undefined {
  const p = packet as ISubscribePacket;
  const core = conn.core;
  const limits = core.limits;
  const v5 = conn.protocolVersion === 5;
  const session = conn.session!;
  const rawId = p.properties?.subscriptionIdentifier;
  const subscriptionIdentifier = Array.isArray(rawId) ? rawId[0] : rawId;
  if (subscriptionIdentifier !== undefined && !limits.subscriptionIdentifiersAvailable) {
    // MQTT 5.0 §3.8.2.1.2: identifiers we said we do not support → DISCONNECT 0xA1.
    throw new MqttProtocolError(
      ReasonCode.SubscriptionIdentifiersNotSupported,
      'subscription identifiers not supported',
    );
  }
  const requests: Request[] = [];
  for (const s of p.subscriptions) {
    const shared = parseSharedFilter(s.topic);
    const sub: Subscription = {
      clientId: session.clientId,
      filter: s.topic,
      topicFilter: s.topic,
      qos: Math.min(s.qos, limits.maximumQoS) as 0 | 1 | 2,
      noLocal: v5 && s.nl === true,
      retainAsPublished: v5 && s.rap === true,
      retainHandling: (v5 ? (s.rh ?? 0) : 0) as 0 | 1 | 2,
    };
    if (subscriptionIdentifier !== undefined) sub.subscriptionIdentifier = subscriptionIdentifier;
    const request: Request = { sub };
    requests.push(request);
    if (shared === 'invalid' || (shared === null && !isValidTopicFilter(s.topic))) {
      // [MQTT-4.7.1-2]/[MQTT-4.7.1-3]/[MQTT-4.8.2-1]: 0x8F in MQTT 5; a 3.x server closes.
      if (!v5) throw malformed(`invalid topic filter ${s.topic}`);
      request.refused = ReasonCode.TopicFilterInvalid;
      continue;
    }
    if (shared) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
      if (sub.noLocal) throw protocolError('No Local on a shared subscription');
      sub.group = shared.group;
      sub.topicFilter = shared.filter;
      if (!limits.sharedSubscriptionAvailable) {
        request.refused = ReasonCode.SharedSubscriptionsNotSupported;
        continue;
      }
    }
    const wildcard = sub.topicFilter.includes('+') || sub.topicFilter.includes('#');
    if (wildcard && !limits.wildcardSubscriptionAvailable) {
      request.refused = ReasonCode.WildcardSubscriptionsNotSupported;
    }
  }

  const hook = core.hooks.authorizeSubscribe;
  const verdicts: Array<boolean | number | Promise<boolean | number>> = requests.map((r) =>
    r.refused === undefined && hook
      ? hook(core.clientInfo(conn), { filter: r.sub.filter, qos: r.sub.qos })
      : true,
  );
  if (verdicts.some((v) => v instanceof Promise)) {
    return Promise.all(verdicts).then((vs) => finish(conn, p.messageId!, requests, vs));
  }
  return finish(conn, p.messageId!, requests, verdicts as Array<boolean | number>);
}

function finish(
  conn: Connection,
  messageId: number,
  requests: Request[],
  verdicts: Array<boolean | number>,
): Promise<void> | undefined {
  const core = conn.core;
  const session = conn.session!;
  if (conn.state === 'closed') return undefined;
  const codes: number[] = [];
  const added: Array<{ sub: Subscription; existed: boolean }> = [];
  const writes: unknown[] = [];
  requests.forEach((r, i) => {
    if (r.refused !== undefined) {
      codes.push(r.refused);
      return;
    }
    const v = verdicts[i]!;
    if (v === false || (typeof v === 'number' && v >= 0x80)) {
      codes.push(v === false ? ReasonCode.NotAuthorized : (v as number));
      return;
    }
    if (typeof v === 'number') r.sub.qos = Math.min(r.sub.qos, v) as 0 | 1 | 2;
    // [MQTT-3.8.4-3] a subscription to the same filter replaces the existing one.
    const { existed, write } = core.addSubscription(session, r.sub);
    if (write instanceof Promise) writes.push(write);
    added.push({ sub: r.sub, existed });
    codes.push(r.sub.qos); // [MQTT-3.8.4-6] the granted QoS
  });
  const done = () => {
    if (conn.state === 'closed') return;
    const v5 = conn.protocolVersion === 5;
    // 3.1.1 SUBACK has only 0x00-0x02 and 0x80 Failure [MQTT-3.9.3-2].
    const granted = v5 ? codes : codes.map((c) => Math.min(c, 0x80));
    conn.send({ cmd: 'suback', messageId, granted } as Packet);
    for (const { sub, existed } of added) {
      // Retain Handling (MQTT 5.0 §3.8.3.1): 0 send, 1 send if new [MQTT-3.3.1-10], 2 never
      // [MQTT-3.3.1-11]; shared subscriptions get no retained messages (MQTT 5.0 §4.8.2).
      if (sub.group !== undefined || sub.retainHandling === 2) continue;
      if (sub.retainHandling === 1 && existed) continue;
      core.sendRetained(session, sub);
    }
  };
  if (writes.length > 0) return Promise.all(writes).then(done);
  done();
  return undefined;
}
