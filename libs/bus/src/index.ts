export {
  Bus,
  BusRequestError,
  isNatsOutageCode,
  MSG_ID_HEADER,
  SERVICE_ERROR_CODE_HEADER,
  SERVICE_ERROR_HEADER,
  connectBus,
  type BusLogger,
  type ConnectBusOptions,
  type ConsumeOptions,
  type Consumption,
  type Delivery,
  type DurableConsumerSpec,
  type Handler,
  type JetStreamDelivery,
  type RequestOptions,
  type StreamSpec,
  type SubscribeOptions,
  type Subscription,
  type TypedKv,
} from './bus.js';
export { natsConnectOptions, type BusSecurity } from './security.js';
export { emptyCodec, jsonCodec, protoCodec, type Codec, type MessageFns } from './codec.js';
export {
  defineSubject,
  type AnySubject,
  type Destination,
  type Subject,
  type SubjectBase,
  type SubjectDefinition,
  type SubjectTokens,
} from './subject.js';
export {
  journalEntry,
  KV_BUCKETS,
  HARDWARE_CLASS_PATTERN,
  hardwareClassFromToken,
  hardwareClassProblem,
  hardwareClassToken,
  latencyMeasured,
  MAX_HARDWARE_CLASS_LENGTH,
  profileRequest,
  profileRequestFor,
  profileResponseCodec,
  profilerQueueGroup,
  STREAMS,
  trainJob,
  trainJobCancel,
  trainJobProgress,
  trainJobResult,
} from './subjects.js';
export {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DELIVERY_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  extractTraceContext,
  headerGetter,
  headerSetter,
  injectTraceContext,
} from './tracing.js';
// Re-exported so services need no direct `nats` import for stream settings.
export { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType } from 'nats';
export { freePort, natsServerBinary, startNatsServer, type NatsServer, type NatsServerOptions } from './nats-server.js';
export { DUPLICATE_WINDOW_MS, ensurePipelineStreams, ensureTrainersConsumer, TRAINERS_DURABLE } from './pipeline.js';
export { isTransientBusError, retryOverBus, type BusRetryOptions } from './retry.js';
