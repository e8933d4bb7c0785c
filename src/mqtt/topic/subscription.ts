/** One subscription of one session, as granted (MQTT 5.0 §3.8.3.1 Subscription Options). */
export interface Subscription {
  clientId: string;
  /** The filter as the client sent it, `$share/...` included; the session's key. */
  filter: string;
  /** The filter matched against topics (without `$share/{group}/`). */
  topicFilter: string;
  qos: 0 | 1 | 2;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier?: number;
  /** Share name for `$share/{group}/{filter}`. */
  group?: string;
}
