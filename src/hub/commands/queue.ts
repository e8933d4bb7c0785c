/**
 * Queued commands (issue 6: "commands to a sleeping device are queued ... with a time-to-live,
 * visible and cancellable through the API").
 *
 * A command is stored before it is accepted, so that it survives a restart, and goes to the
 * device through `DeviceCommands` as soon as the device can take it:
 * - registered and awake: at once;
 * - registered in queue mode and asleep: its protocol adapter holds the request until the
 *   device shows up (LwM2M-TS-Core 1.1 §6.5), with the rest of the command's time-to-live;
 * - not registered (offline, or a managed MQTT device that is disconnected): held here until
 *   the device registers.
 *
 * States: `queued` → `sent` → `succeeded` | `failed`; a queued command becomes `expired` when its
 * time-to-live passes first, or `cancelled` (by the API, or because its device was deleted). A
 * sent command cannot be cancelled: the device may already act on it. After a restart, queued
 * commands go on with what is left of their time-to-live; a command that was sent when the
 * process stopped is failed, since nobody knows whether the device got it.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type LongTimer, setLongTimeout } from '../../lwm2m/server/long-timeout.js';
import type { CommandRecord, CommandStatus, CommandStore } from '../../store/ports.js';
import type { Clock } from '../../util/clock.js';
import type { DeviceRegistry } from '../device-registry.js';
import { TypedEmitter } from '../events.js';
import { type Command, commandFromJson, toRequest } from './command-json.js';
import { DeviceOperationError, fromLwm2mError } from './errors.js';
import { checkRequest, type DeviceCommands, type Lwm2mManagement } from './operations.js';

/** A command as the API and the event stream show it: times in ISO 8601, its outcome spread. */
export function commandJson(r: CommandRecord) {
  return {
    id: r.id,
    deviceId: r.deviceId,
    command: r.command,
    status: r.status,
    ...(r.by !== undefined ? { by: r.by } : {}),
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    ...r.outcome,
  };
}

export const DEFAULT_COMMAND_TTL_MS = 3_600_000;
export const MAX_COMMAND_TTL_MS = 30 * 86_400_000;

export interface CommandQueueOptions {
  commands: DeviceCommands;
  /** The protocol adapters, whose registrations wake the commands of offline devices. */
  servers: readonly Lwm2mManagement[];
  store: CommandStore;
  clock: Clock;
  logger: Logger;
  /** Tells an unknown device from an offline one; its deletions cancel the device's commands. */
  devices?: DeviceRegistry;
  /** How long finished commands stay listed. Default 7 days. */
  keepFinishedMs?: number;
  /** Most unfinished commands per device. Default 64. */
  maxPerDevice?: number;
}

export interface CommandQueueEvents {
  /** A command was accepted or changed state. */
  changed: CommandRecord;
}

/** A command not finished yet, in this process. */
interface Live {
  record: CommandRecord;
  readonly abort: AbortController;
  timer: LongTimer | undefined;
  /** Handed to DeviceCommands; false while it waits here for the device to register. */
  dispatched: boolean;
}

const FINISHED: readonly CommandStatus[] = ['succeeded', 'failed', 'expired', 'cancelled'];
const PRUNE_EVERY_MS = 3_600_000;

export class CommandQueue {
  readonly events: TypedEmitter<CommandQueueEvents>;
  readonly #o: CommandQueueOptions;
  readonly #keepFinishedMs: number;
  readonly #maxPerDevice: number;
  /** Unfinished commands by id, and their ids by device in submission order. */
  readonly #live = new Map<string, Live>();
  readonly #byDevice = new Map<string, Set<string>>();
  readonly #unsubscribe: (() => void)[] = [];
  #pruneTimer: LongTimer | undefined;
  #closed = false;

  constructor(options: CommandQueueOptions) {
    this.#o = options;
    this.#keepFinishedMs = options.keepFinishedMs ?? 7 * 86_400_000;
    this.#maxPerDevice = options.maxPerDevice ?? 64;
    this.events = new TypedEmitter((err, event) =>
      options.logger.error({ err, event }, 'a command queue listener failed'),
    );
  }

  /** Resumes the stored commands and starts listening; call once. */
  async start(): Promise<void> {
    for (const server of this.#o.servers) {
      const wake = (e: { registration: { endpoint: string } }) =>
        this.#wake(e.registration.endpoint);
      const moved = (e: { current: { endpoint: string } }) => this.#wake(e.current.endpoint);
      server.on('registered', wake);
      server.on('updated', moved);
      this.#unsubscribe.push(() => {
        server.off('registered', wake);
        server.off('updated', moved);
      });
    }
    const devices = this.#o.devices;
    if (devices) {
      const deleted = ({ id }: { id: string }) => void this.#cancelAll(id);
      devices.events.on('deleted', deleted);
      this.#unsubscribe.push(() => devices.events.off('deleted', deleted));
    }
    for (const record of await this.#o.store.unfinished()) {
      if (record.status === 'sent') {
        await this.#store(record, 'failed', {
          error: {
            code: 'TANDEM_ERR_DEVICE_UNAVAILABLE',
            message: 'the server stopped while the command was with the device; it may have run',
          },
        });
      } else {
        this.#track(record);
      }
    }
    this.#schedulePrune();
  }

  /**
   * Accepts a command for `deviceId` (a command document, docs/application-topics.md) that
   * waits for the device up to `ttlMs`; throws DeviceOperationError.
   */
  async submit(
    deviceId: string,
    document: unknown,
    options: { ttlMs?: number; by?: string } = {},
  ): Promise<CommandRecord> {
    if (this.#closed) {
      throw new DeviceOperationError('TANDEM_ERR_DEVICE_UNAVAILABLE', 'the server is stopping');
    }
    const command = commandFromJson(document);
    checkRequest(toRequest(command));
    const ttlMs = options.ttlMs ?? DEFAULT_COMMAND_TTL_MS;
    if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_COMMAND_TTL_MS) {
      throw new DeviceOperationError(
        'TANDEM_ERR_VALIDATION',
        `ttl: from 1 ms to ${MAX_COMMAND_TTL_MS} ms`,
        { field: 'ttl' },
      );
    }
    await this.#requireDevice(deviceId);
    if ((this.#byDevice.get(deviceId)?.size ?? 0) >= this.#maxPerDevice) {
      throw new DeviceOperationError(
        'TANDEM_ERR_COMMAND_QUEUE_FULL',
        `${deviceId} has ${this.#maxPerDevice} unfinished commands`,
      );
    }
    const now = this.#o.clock.now();
    const record: CommandRecord = {
      id: randomUUID(),
      deviceId,
      command: command as Record<string, unknown>,
      status: 'queued',
      ...(options.by !== undefined ? { by: options.by } : {}),
      createdAt: now,
      updatedAt: now,
      expiresAt: now + ttlMs,
    };
    await this.#o.store.create(record);
    this.events.emit('changed', record);
    this.#track(record);
    return record;
  }

  /** The device's commands, newest first. */
  async list(deviceId: string, limit = 100): Promise<CommandRecord[]> {
    return this.#o.store.list(deviceId, limit);
  }

  async get(deviceId: string, id: string): Promise<CommandRecord> {
    const record = this.#live.get(id)?.record ?? (await this.#o.store.get(id));
    if (!record || record.deviceId !== deviceId) {
      throw new DeviceOperationError(
        'TANDEM_ERR_COMMAND_NOT_FOUND',
        `no command ${id} for ${deviceId}`,
      );
    }
    return record;
  }

  /** Cancels a queued command; one that was sent or has finished is refused (409). */
  async cancel(deviceId: string, id: string, by?: string): Promise<CommandRecord> {
    const record = await this.get(deviceId, id);
    const live = this.#live.get(id);
    if (!live || record.status !== 'queued') {
      throw new DeviceOperationError(
        'TANDEM_ERR_COMMAND_NOT_CANCELLABLE',
        `command ${id} is ${record.status}: only a queued command can be cancelled`,
      );
    }
    return this.#finish(live, 'cancelled', {
      error: { code: 'TANDEM_ERR_CANCELLED', message: `cancelled${by ? ` by ${by}` : ''}` },
    });
  }

  /** Stops dispatching; unfinished commands stay stored and resume at the next start. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#pruneTimer?.cancel();
    for (const live of this.#live.values()) {
      live.timer?.cancel();
      live.abort.abort();
    }
    this.#live.clear();
    this.#byDevice.clear();
  }

  // ------------------------------------------------------------------ internals

  async #requireDevice(deviceId: string): Promise<void> {
    if (!this.#o.devices || (await this.#o.devices.get(deviceId))) return;
    // The loopback development mode lets unknown endpoints register: those are devices too.
    if (await this.#o.commands.registered(deviceId)) return;
    throw new DeviceOperationError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${deviceId}`);
  }

  #track(record: CommandRecord): void {
    const live: Live = {
      record,
      abort: new AbortController(),
      timer: undefined,
      dispatched: false,
    };
    this.#live.set(record.id, live);
    let ids = this.#byDevice.get(record.deviceId);
    if (!ids) {
      ids = new Set();
      this.#byDevice.set(record.deviceId, ids);
    }
    ids.add(record.id);
    live.timer = setLongTimeout(
      this.#o.clock,
      () => {
        if (live.record.status === 'queued') {
          void this.#finish(live, 'expired', {
            error: {
              code: 'TANDEM_ERR_COMMAND_EXPIRED',
              message: `${record.deviceId} did not take the command within its time-to-live`,
            },
          });
        }
      },
      Math.max(0, record.expiresAt - this.#o.clock.now()),
    );
    void this.#dispatch(live);
  }

  /** The device registered (or updated): its waiting commands go. */
  #wake(deviceId: string): void {
    for (const id of this.#byDevice.get(deviceId) ?? []) {
      const live = this.#live.get(id);
      if (live && !live.dispatched) void this.#dispatch(live);
    }
  }

  async #dispatch(live: Live): Promise<void> {
    const { record } = live;
    if (this.#closed || live.dispatched || this.#live.get(record.id) !== live) return;
    live.dispatched = true;
    if (!(await this.#o.commands.registered(record.deviceId))) {
      live.dispatched = false;
      return;
    }
    const remaining = record.expiresAt - this.#o.clock.now();
    if (remaining <= 0) return; // the expiry timer finishes it
    let command: Command;
    try {
      command = commandFromJson(record.command);
    } catch (e) {
      await this.#finish(live, 'failed', { error: errorOf(e, record.deviceId) });
      return;
    }
    try {
      const result = await this.#o.commands.run(record.deviceId, {
        ...toRequest(command),
        queueTtlMs: remaining,
        signal: live.abort.signal,
        onSent: () => void this.#sent(live),
      });
      await this.#finish(live, 'succeeded', {
        result: {
          status: result.status,
          ...(result.body !== undefined ? { body: result.body } : {}),
          ...(result.location !== undefined ? { location: result.location } : {}),
        },
      });
    } catch (e) {
      if (this.#live.get(record.id) !== live) return; // expired, cancelled or closed meanwhile
      const error = errorOf(e, record.deviceId);
      const gone =
        error.code === 'TANDEM_ERR_DEVICE_NOT_REGISTERED' ||
        error.code === 'TANDEM_ERR_DEVICE_UNAVAILABLE';
      if (live.record.status === 'queued' && gone) {
        // The registration ended before the command left: it waits for the next one.
        live.dispatched = false;
        if (await this.#o.commands.registered(record.deviceId)) void this.#dispatch(live);
        return;
      }
      // Still queued: the adapter's hold on it for a sleeping device ran out with its TTL.
      const expired = live.record.status === 'queued' && error.code === 'TANDEM_ERR_DEVICE_TIMEOUT';
      await this.#finish(live, expired ? 'expired' : 'failed', { error });
    }
  }

  async #sent(live: Live): Promise<void> {
    if (this.#live.get(live.record.id) !== live || live.record.status !== 'queued') return;
    live.timer?.cancel();
    live.record = await this.#store(live.record, 'sent');
  }

  async #finish(
    live: Live,
    status: CommandStatus,
    outcome: Record<string, unknown>,
  ): Promise<CommandRecord> {
    const { id, deviceId } = live.record;
    if (this.#live.get(id) === live) {
      this.#live.delete(id);
      const ids = this.#byDevice.get(deviceId);
      ids?.delete(id);
      if (ids?.size === 0) this.#byDevice.delete(deviceId);
    }
    live.timer?.cancel();
    // Withdraws the request if the adapter still holds it for a sleeping device.
    live.abort.abort();
    live.record = await this.#store(live.record, status, outcome);
    return live.record;
  }

  async #store(
    record: CommandRecord,
    status: CommandStatus,
    outcome?: Record<string, unknown>,
  ): Promise<CommandRecord> {
    const updatedAt = this.#o.clock.now();
    const next: CommandRecord = {
      ...record,
      status,
      updatedAt,
      ...(outcome !== undefined ? { outcome } : {}),
    };
    try {
      await this.#o.store.update(record.id, {
        status,
        updatedAt,
        ...(outcome !== undefined ? { outcome } : {}),
      });
    } catch (err) {
      this.#o.logger.error({ err, command: record.id }, 'could not store a command state');
    }
    if (FINISHED.includes(status) || status === 'sent') {
      this.#o.logger.info(
        { deviceId: record.deviceId, command: record.id, op: record.command.op, status },
        'queued command',
      );
    }
    this.events.emit('changed', next);
    return next;
  }

  async #cancelAll(deviceId: string): Promise<void> {
    for (const id of [...(this.#byDevice.get(deviceId) ?? [])]) {
      const live = this.#live.get(id);
      if (live?.record.status !== 'queued') continue;
      await this.#finish(live, 'cancelled', {
        error: { code: 'TANDEM_ERR_DEVICE_NOT_FOUND', message: `${deviceId} was deleted` },
      });
    }
  }

  #schedulePrune(): void {
    if (this.#closed) return;
    this.#pruneTimer = setLongTimeout(
      this.#o.clock,
      () => {
        this.#o.store
          .prune(this.#o.clock.now() - this.#keepFinishedMs)
          .catch((err: unknown) =>
            this.#o.logger.error({ err }, 'could not prune finished commands'),
          )
          .finally(() => this.#schedulePrune());
      },
      PRUNE_EVERY_MS,
    );
  }
}

function errorOf(e: unknown, deviceId: string): ReturnType<DeviceOperationError['body']> {
  return (e instanceof DeviceOperationError ? e : fromLwm2mError(e, deviceId)).body();
}
