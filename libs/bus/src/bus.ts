// The bus: one NATS connection with its JetStream client and manager, typed publish/subscribe and
// request/reply on core NATS, streams, durable pull consumers and KV on JetStream. Every publish
// carries the active trace context in its headers; every handler runs in a CONSUMER span under it.
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  ErrorCode,
  headers as createHeaders,
  NatsError,
  type ConnectionOptions,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type KV,
  type KvOptions,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type PubAck,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import { context } from '@opentelemetry/api';
import type { Codec } from './codec.js';
import { natsConnectOptions, type BusSecurity } from './security.js';
import type { AnySubject, Destination } from './subject.js';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DELIVERY_COUNT,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  extractTraceContext,
  injectTraceContext,
  inSpan,
  messagingAttributes,
  SpanKind,
} from './tracing.js';

export const MSG_ID_HEADER = 'Nats-Msg-Id';
/** Error replies of `serve`, after the NATS micro protocol's headers. */
export const SERVICE_ERROR_HEADER = 'Nats-Service-Error';
export const SERVICE_ERROR_CODE_HEADER = 'Nats-Service-Error-Code';

export interface BusLogger {
  info(message: string): void;
  error(message: string): void;
}

export interface ConnectBusOptions {
  /** One URL, a comma-separated list (as in NATS_URL) or an array. */
  servers: string | string[];
  /** The connection name the server shows (`flops-7c9f`). */
  name: string;
  logger?: BusLogger;
  /** Credentials and TLS (security.ts); applied before `connectOptions`. */
  security?: BusSecurity;
  /** Anything else nats.js's connect() takes (reconnect policy, auth, ...). */
  connectOptions?: Omit<Partial<ConnectionOptions>, 'servers' | 'name'>;
}

/** A message as a handler sees it. */
export interface Delivery {
  subject: string;
  /** The token values of the subject, per the subject pattern subscribed to. */
  params: Record<string, string>;
  headers: MsgHdrs | undefined;
}

export interface JetStreamDelivery extends Delivery {
  msg: JsMsg;
  /** 1 on first delivery, 2+ on redelivery. */
  deliveryCount: number;
  redelivered: boolean;
  /** The `Nats-Msg-Id` the message was published with, if any. */
  msgId: string | undefined;
  ack(): void;
  /** Ask for redelivery, optionally after a delay. */
  nak(delayMs?: number): void;
  /** Never redeliver (a poison message). */
  term(): void;
  /** Extends the ack deadline of a long-running handler. */
  working(): void;
}

export type Handler<T, D extends Delivery = Delivery> = (value: T, delivery: D) => unknown;

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
}

export interface Subscription {
  readonly subject: string;
  /** Stops after the messages already received are handled. */
  drain(): Promise<void>;
  unsubscribe(): void;
  /** Resolves when the subscription has ended and its last handler has returned. */
  readonly closed: Promise<void>;
}

export interface RequestOptions<Res> {
  reply: Codec<Res>;
  /** Default 5 s. */
  timeoutMs?: number;
}

/** The failure of a request: `code` is a gRPC status name, so service-kit maps it when rethrown. */
export class BusRequestError extends Error {
  override name = 'BusRequestError';
  /** Nobody subscribes to the subject at all (as opposed to a responder that failed or was slow). */
  readonly noResponders: boolean;
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions & { noResponders?: boolean },
  ) {
    super(message, options);
    this.noResponders = options?.noResponders ?? false;
  }
}

export interface StreamSpec extends Partial<StreamConfig> {
  name: string;
  subjects: string[];
}

export interface DurableConsumerSpec extends Partial<ConsumerConfig> {
  durable_name: string;
}

export interface ConsumeOptions {
  /**
   * `auto` (default): ack when the handler returns, nak when it throws (redelivered after
   * `nakDelayMs`), term when the payload cannot be decoded. `manual`: the handler settles the
   * message itself; one it leaves unsettled is redelivered after the consumer's ack_wait.
   */
  ack?: 'auto' | 'manual';
  /** Messages pulled per request; default 1 so that several workers share a work queue evenly. */
  maxMessages?: number;
  nakDelayMs?: number;
}

export interface Consumption {
  /** Stops pulling and waits for the current handler. */
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

export interface TypedKv<T> {
  readonly bucket: string;
  readonly kv: KV;
  get(key: string): Promise<T | undefined>;
  put(key: string, value: T): Promise<number>;
  delete(key: string): Promise<void>;
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

function isNatsError(err: unknown): err is NatsError {
  return err instanceof NatsError;
}

/**
 * Whether a nats.js error code means NATS is away for now (CONNECTION_CLOSED, CONNECTION_DRAINING,
 * DISCONNECT, TIMEOUT, 503: no JetStream yet, REQUEST_ERROR): a call worth retrying.
 */
export function isNatsOutageCode(code: string): boolean {
  return /^(CONNECTION_|DISCONNECT|TIMEOUT|503|REQUEST_ERROR)/.test(code);
}

const GRPC_STATUS_NAMES = new Set([
  'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
]);

/**
 * The status an error reply carries: the handler's own gRPC status name, or UNAVAILABLE when the
 * handler failed because NATS was away (its KV or stream calls while nats-server restarts: the
 * requester should retry), else INTERNAL. A NATS code such as TIMEOUT is no status a requester knows.
 */
function replyErrorCode(err: unknown): string {
  if (isNatsError(err) && isNatsOutageCode(err.code)) return 'UNAVAILABLE';
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && GRPC_STATUS_NAMES.has(code) ? code : 'INTERNAL';
}

function isApiNotFound(err: unknown): boolean {
  return isNatsError(err) && err.api_error?.code === 404;
}

function normalizeServers(servers: string | string[]): string[] {
  return (Array.isArray(servers) ? servers : servers.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export async function connectBus(options: ConnectBusOptions): Promise<Bus> {
  const nc = await connect({
    // A service outlives any outage of nats-server (nats.js gives up after 10 attempts by default,
    // ~20 s, and the process would live on deaf); the first connect still fails fast.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...natsConnectOptions(options.security),
    ...options.connectOptions,
    servers: normalizeServers(options.servers),
    name: options.name,
  });
  const jsm = await nc.jetstreamManager({ checkAPI: false });
  return new Bus(nc, nc.jetstream(), jsm, options.logger ?? console);
}

export class Bus {
  constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly logger: BusLogger = console,
  ) {}

  /**
   * The largest message nats-server takes (its `max_payload`, 1 MiB by default): whatever a client
   * sends that ends up in a message has to fit, so services bound their inputs by it.
   */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  // ---- core NATS ----------------------------------------------------------------------------

  /** Publishes on core NATS (at most once) inside a PRODUCER span. */
  publish<T>(destination: Destination<T>, value: T, options: { headers?: MsgHdrs } = {}): Promise<void> {
    const data = destination.codec.encode(value);
    return inSpan(
      `send ${destination.pattern}`,
      SpanKind.PRODUCER,
      messagingAttributes('send', destination.subject, destination.pattern, {
        [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: data.byteLength,
      }),
      context.active(),
      () => {
        const headers = injectTraceContext(options.headers ?? createHeaders());
        this.nc.publish(destination.subject, data, { headers });
      },
    );
  }

  /** Subscribes to a subject (its tokens as wildcards unless given) and handles messages one at a time. */
  subscribe<T>(
    subject: AnySubject<T> | Destination<T>,
    handler: Handler<T>,
    options: SubscribeOptions & { params?: Record<string, string> } = {},
  ): Subscription {
    const filter = 'filter' in subject ? subject.filter(options.params) : subject.subject;
    const sub = this.nc.subscribe(filter, options.queue ? { queue: options.queue } : {});
    const closed = (async () => {
      for await (const msg of sub) {
        await this.handle(subject, msg, options.queue, handler).catch((err: unknown) =>
          this.logger.error(`bus: handler for ${msg.subject} failed: ${errorText(err)}`),
        );
      }
    })();
    return {
      subject: filter,
      drain: async () => {
        await sub.drain();
        await closed;
      },
      unsubscribe: () => sub.unsubscribe(),
      closed,
    };
  }

  /** Sends a request and decodes the reply; a `serve` error reply throws a BusRequestError. */
  async request<Req, Res>(destination: Destination<Req>, value: Req, options: RequestOptions<Res>): Promise<Res> {
    const data = destination.codec.encode(value);
    return inSpan(
      `send ${destination.pattern}`,
      SpanKind.PRODUCER,
      messagingAttributes('send', destination.subject, destination.pattern, {
        [ATTR_MESSAGING_OPERATION_NAME]: 'request',
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: data.byteLength,
      }),
      context.active(),
      async () => {
        let reply: Msg;
        try {
          reply = await this.nc.request(destination.subject, data, {
            timeout: options.timeoutMs ?? 5000,
            headers: injectTraceContext(createHeaders()),
          });
        } catch (err) {
          if (isNatsError(err) && err.code === ErrorCode.NoResponders) {
            throw new BusRequestError('UNAVAILABLE', `${destination.subject}: no responders`, { cause: err, noResponders: true });
          }
          if (isNatsError(err) && err.code === ErrorCode.Timeout) {
            throw new BusRequestError('DEADLINE_EXCEEDED', `${destination.subject}: no reply in time`, { cause: err });
          }
          throw err;
        }
        const code = reply.headers?.get(SERVICE_ERROR_CODE_HEADER);
        if (code) throw new BusRequestError(code, reply.headers?.get(SERVICE_ERROR_HEADER) ?? code);
        return options.reply.decode(reply.data);
      },
    );
  }

  /**
   * Answers requests on a subject. The handler's result is the reply; a thrown error becomes an
   * error reply carrying its string `code` (a gRPC status name, default INTERNAL) and message.
   */
  serve<Req, Res>(
    subject: AnySubject<Req> | Destination<Req>,
    reply: Codec<Res>,
    handler: Handler<Req>,
    options: SubscribeOptions & { params?: Record<string, string> } = {},
  ): Subscription {
    return this.subscribe(
      subject,
      async (value, delivery) => {
        const msg = (delivery as Delivery & { msg: Msg }).msg;
        try {
          const result = (await handler(value, delivery)) as Res;
          msg.respond(reply.encode(result));
        } catch (err) {
          const headers = createHeaders();
          headers.set(SERVICE_ERROR_CODE_HEADER, replyErrorCode(err));
          headers.set(SERVICE_ERROR_HEADER, err instanceof Error ? err.message : String(err));
          msg.respond(new Uint8Array(0), { headers });
          throw err;
        }
      },
      options,
    );
  }

  private handle<T>(subject: AnySubject<T> | Destination<T>, msg: Msg, queue: string | undefined, handler: Handler<T>) {
    const pattern = subject.pattern;
    return inSpan(
      `process ${pattern}`,
      SpanKind.CONSUMER,
      messagingAttributes('process', msg.subject, pattern, {
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: msg.data.byteLength,
        ...(queue ? { [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: queue } : {}),
      }),
      extractTraceContext(msg.headers),
      () => {
        const params = 'match' in subject ? (subject.match(msg.subject) ?? {}) : {};
        const delivery = { subject: msg.subject, params, headers: msg.headers, msg };
        return handler(subject.codec.decode(msg.data), delivery);
      },
    );
  }

  // ---- JetStream ----------------------------------------------------------------------------

  /** Creates the stream, or updates it to this config if it exists (idempotent). */
  async ensureStream(spec: StreamSpec): Promise<StreamInfo> {
    let existing: StreamInfo;
    try {
      existing = await this.jsm.streams.info(spec.name);
    } catch (err) {
      if (isApiNotFound(err)) return this.jsm.streams.add(spec);
      throw err;
    }
    return this.jsm.streams.update(spec.name, { ...existing.config, ...spec });
  }

  /** Publishes to a stream inside a PRODUCER span; `msgId` makes retries idempotent (`Nats-Msg-Id`). */
  async publishDurable<T>(destination: Destination<T>, value: T, options: { msgId?: string; headers?: MsgHdrs; timeoutMs?: number } = {}): Promise<PubAck> {
    const data = destination.codec.encode(value);
    return inSpan(
      `send ${destination.pattern}`,
      SpanKind.PRODUCER,
      messagingAttributes('send', destination.subject, destination.pattern, {
        [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: data.byteLength,
        ...(options.msgId ? { [ATTR_MESSAGING_MESSAGE_ID]: options.msgId } : {}),
      }),
      context.active(),
      async (span) => {
        const ack = await this.js.publish(destination.subject, data, {
          headers: injectTraceContext(options.headers ?? createHeaders()),
          ...(options.msgId ? { msgID: options.msgId } : {}),
          ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
        });
        span.setAttribute('messaging.nats.stream', ack.stream);
        span.setAttribute('messaging.nats.sequence', ack.seq);
        if (ack.duplicate) span.setAttribute('messaging.nats.duplicate', true);
        return ack;
      },
    );
  }

  /** Creates or updates a durable pull consumer with explicit acks. */
  async ensureConsumer(stream: string, spec: DurableConsumerSpec): Promise<ConsumerInfo> {
    const config: Partial<ConsumerConfig> = {
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ...spec,
    };
    try {
      await this.jsm.consumers.info(stream, spec.durable_name);
    } catch (err) {
      if (isApiNotFound(err)) return this.jsm.consumers.add(stream, config);
      throw err;
    }
    const { durable_name: _name, deliver_policy: _dp, ack_policy: _ap, ...updatable } = config;
    return this.jsm.consumers.update(stream, spec.durable_name, updatable);
  }

  /**
   * Consumes a durable pull consumer, one message at a time, each handler in a CONSUMER span under
   * the producer's trace. Several `consume` calls on the same durable share its messages.
   */
  async consume<T>(
    stream: string,
    durable: string,
    subject: AnySubject<T> | Destination<T>,
    handler: Handler<T, JetStreamDelivery>,
    options: ConsumeOptions = {},
  ): Promise<Consumption> {
    const consumer = await this.js.consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: options.maxMessages ?? 1 });
    const manual = options.ack === 'manual';
    const done = (async () => {
      for await (const msg of messages) {
        await this.handleJs(subject, durable, msg, manual, options.nakDelayMs, handler);
      }
    })();
    return {
      done,
      stop: async () => {
        await messages.close();
        await done;
      },
    };
  }

  private async handleJs<T>(
    subject: AnySubject<T> | Destination<T>,
    durable: string,
    msg: JsMsg,
    manual: boolean,
    nakDelayMs: number | undefined,
    handler: Handler<T, JetStreamDelivery>,
  ): Promise<void> {
    let settled = false;
    const settle = (fn: () => void) => () => {
      settled = true;
      fn();
    };
    const msgId = msg.headers?.has(MSG_ID_HEADER) ? msg.headers.get(MSG_ID_HEADER) : undefined;
    const delivery: JetStreamDelivery = {
      subject: msg.subject,
      params: 'match' in subject ? (subject.match(msg.subject) ?? {}) : {},
      headers: msg.headers,
      msg,
      deliveryCount: msg.info.deliveryCount,
      redelivered: msg.redelivered,
      msgId,
      ack: settle(() => msg.ack()),
      nak: (delayMs) => settle(() => msg.nak(delayMs))(),
      term: settle(() => msg.term()),
      working: () => msg.working(),
    };
    await inSpan(
      `process ${subject.pattern}`,
      SpanKind.CONSUMER,
      messagingAttributes('process', msg.subject, subject.pattern, {
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: msg.data.byteLength,
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: durable,
        [ATTR_MESSAGING_DELIVERY_COUNT]: delivery.deliveryCount,
        ...(msgId ? { [ATTR_MESSAGING_MESSAGE_ID]: msgId } : {}),
      }),
      extractTraceContext(msg.headers),
      async () => {
        let value: T;
        try {
          value = subject.codec.decode(msg.data);
        } catch (err) {
          // A message that cannot be decoded never will be: do not redeliver it.
          delivery.term();
          throw new Error(`${msg.subject} #${msg.seq}: undecodable payload, terminated`, { cause: err });
        }
        try {
          await handler(value, delivery);
          if (!manual && !settled) delivery.ack();
        } catch (err) {
          if (!manual && !settled) delivery.nak(nakDelayMs);
          throw err;
        }
      },
    ).catch((err: unknown) => this.logger.error(`bus: ${durable} handler for ${msg.subject} failed: ${errorText(err)}`));
  }

  /** A KV bucket (created if missing) holding values of one codec. */
  async kv<T>(bucket: string, codec: Codec<T>, options: Partial<KvOptions> = {}): Promise<TypedKv<T>> {
    const kv = await this.js.views.kv(bucket, options);
    return {
      bucket,
      kv,
      async get(key) {
        const entry = await kv.get(key);
        if (!entry || entry.operation !== 'PUT') return undefined;
        return codec.decode(entry.value);
      },
      put: (key, value) => kv.put(key, codec.encode(value)),
      delete: (key) => kv.delete(key),
    };
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** Round-trips to the server: everything published before has been received by it. */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  /** Lets subscriptions finish what they received, flushes publishes, then closes. */
  async drain(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.close();
  }
}
