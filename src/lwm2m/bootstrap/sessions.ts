import { codeString } from '../../coap/code.js';
import type { Clock } from '../../util/clock.js';
import { type JsonNode, nodeToJson } from '../node/node-json.js';
import type {
  BootstrapAccountResult,
  BootstrapRead,
  BootstrapStep,
  Lwm2mBootstrapServer,
} from './bootstrap-server.js';

/** The sessions kept, the oldest forgotten first. */
const MAX_SESSIONS = 10_000;

/**
 * The last bootstrap of an endpoint in plain JSON, for the API. It holds no secret: the
 * Bootstrap-Server reads only the Server and Access Control objects.
 */
export interface BootstrapSession {
  endpoint: string;
  /** The listener the client asked on (`bootstrap`, `bootstrapDtls`). */
  listener: string;
  state: 'running' | 'finished' | 'failed';
  startedAt: number;
  endedAt?: number;
  lwm2mVersion?: string;
  steps?: readonly BootstrapStep[];
  /** Each Bootstrap-Read, its code as `2.05` and its content in the node JSON form. */
  reads: { path: string; phase: BootstrapRead['phase']; code: string; content?: JsonNode }[];
  accounts?: readonly BootstrapAccountResult[];
  failure?: { step?: BootstrapStep; code?: string; reason: string };
}

/** The last session of each endpoint, from the events of one or more Bootstrap-Servers. */
export class BootstrapSessions {
  readonly #clock: Clock;
  readonly #sessions = new Map<string, BootstrapSession>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get(endpoint: string): BootstrapSession | undefined {
    return this.#sessions.get(endpoint);
  }

  /** Records the sessions of `server`, which serves `listener`. */
  follow(server: Lwm2mBootstrapServer, listener: string): void {
    const sessions = this.#sessions;
    const clock = this.#clock;
    server.on('started', ({ endpoint }) => {
      sessions.delete(endpoint);
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      sessions.set(endpoint, {
        endpoint,
        listener,
        state: 'running',
        startedAt: clock.now(),
        reads: [],
      });
    });
    server.on('read', ({ endpoint, read }) => {
      sessions.get(endpoint)?.reads.push({
        path: read.path,
        phase: read.phase,
        code: codeString(read.code),
        ...(read.content ? { content: nodeToJson(read.content) } : {}),
      });
    });
    server.on('finished', (outcome) => {
      const session = sessions.get(outcome.endpoint);
      if (!session) return;
      Object.assign(session, {
        state: 'finished',
        endedAt: clock.now(),
        lwm2mVersion: outcome.lwm2mVersion,
        steps: outcome.steps,
        accounts: outcome.accounts,
      });
    });
    server.on('failed', (failure) => {
      const session = sessions.get(failure.endpoint);
      if (!session) return;
      Object.assign(session, {
        state: 'failed',
        endedAt: clock.now(),
        failure: {
          ...(failure.step ? { step: failure.step } : {}),
          ...(failure.code ? { code: codeString(failure.code) } : {}),
          reason: failure.reason,
        },
      });
    });
  }
}
