import type { MqttBrokerStats } from './options.js';

/**
 * `$SYS/broker/...` statistics as topic → value, after Mosquitto's names so existing dashboards
 * read them. Published retained, every `sysInterval` seconds, by `MqttBroker`.
 */
export function sysTopics(stats: MqttBrokerStats, version: string): Array<[string, string]> {
  return [
    ['$SYS/broker/version', version],
    ['$SYS/broker/uptime', `${stats.uptimeSeconds} seconds`],
    ['$SYS/broker/clients/connected', String(stats.sessions.online)],
    ['$SYS/broker/clients/total', String(stats.sessions.total)],
    ['$SYS/broker/clients/disconnected', String(stats.sessions.total - stats.sessions.online)],
    ['$SYS/broker/connections/total', String(stats.connections.total)],
    ['$SYS/broker/messages/received', String(stats.messages.received)],
    ['$SYS/broker/messages/sent', String(stats.messages.sent)],
    ['$SYS/broker/messages/inflight', String(stats.messages.inflight)],
    ['$SYS/broker/messages/queued', String(stats.messages.queued)],
    ['$SYS/broker/messages/dropped/queue-full', String(stats.dropped.queueFull)],
    ['$SYS/broker/messages/dropped/packet-too-large', String(stats.dropped.packetTooLarge)],
    ['$SYS/broker/messages/dropped/expired', String(stats.dropped.expired)],
    ['$SYS/broker/messages/dropped/offline-qos0', String(stats.dropped.offlineQos0)],
    ['$SYS/broker/messages/dropped/session-ended', String(stats.dropped.sessionEnded)],
    ['$SYS/broker/bytes/received', String(stats.bytes.received)],
    ['$SYS/broker/bytes/sent', String(stats.bytes.sent)],
    ['$SYS/broker/retained messages/count', String(stats.messages.retained)],
    ['$SYS/broker/subscriptions/count', String(stats.subscriptions)],
  ];
}
