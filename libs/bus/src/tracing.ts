// W3C trace context across NATS: publishers inject `traceparent`/`tracestate` into the message
// headers with the globally registered propagator inside a PRODUCER span; consumers extract it and
// run the handler in a CONSUMER span whose parent is the producer's span.
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { MsgHdrs } from 'nats';

// Messaging semantic conventions (incubating in @opentelemetry/semantic-conventions, so spelled out).
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_DESTINATION_TEMPLATE = 'messaging.destination.template';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_DELIVERY_COUNT = 'messaging.nats.delivery_count';
export const MESSAGING_SYSTEM_NATS = 'nats';

export const headerSetter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

export const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  get: (carrier, key) => (carrier?.has(key) ? carrier.get(key) : undefined),
  keys: (carrier) => carrier?.keys() ?? [],
};

export const tracer = () => trace.getTracer('@sm-nas/bus');

/** Adds the active context's `traceparent`/`tracestate` to `headers`. */
export function injectTraceContext(headers: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, headers, headerSetter);
  return headers;
}

/** The context carried by a message's headers (the root context when there is none). */
export function extractTraceContext(headers: MsgHdrs | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

export function messagingAttributes(operation: 'send' | 'receive' | 'process', subject: string, pattern: string, extra: Attributes = {}): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
    [ATTR_MESSAGING_DESTINATION_NAME]: subject,
    ...(pattern !== subject ? { [ATTR_MESSAGING_DESTINATION_TEMPLATE]: pattern } : {}),
    [ATTR_MESSAGING_OPERATION_TYPE]: operation,
    ...extra,
  };
}

/** Runs `fn` in a span, recording an exception and ERROR status if it throws. */
export async function inSpan<R>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent: Context,
  fn: (span: Span) => Promise<R> | R,
): Promise<R> {
  return tracer().startActiveSpan(name, { kind, attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
