// Domain errors -> gRPC status codes, in one place. Domain code (libs/arch, libs/flops, handlers)
// throws errors carrying a string `code` named after a gRPC status and a message that names the
// field; the server's error middleware turns them into ServerErrors. Libraries need not depend on
// service-kit to follow the convention: any error with such a `code` property is mapped.
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc-common';

/** The status names a domain error may carry in its `code` property. */
export const DOMAIN_STATUS_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'ALREADY_EXISTS',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'ABORTED',
  // Also what @sm-nas/bus's BusRequestError carries when a NATS request gets no reply in time.
  'DEADLINE_EXCEEDED',
] as const;
export type DomainStatusCode = (typeof DOMAIN_STATUS_CODES)[number];

const domainCodes: ReadonlySet<string> = new Set(DOMAIN_STATUS_CODES);

/** An AbortError (the call was cancelled), recognised by name as abort-controller-x does. */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/** A domain error: `code` is a gRPC status name, `message` names the offending field. */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: DomainStatusCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** `new InvalidArgumentError('backbone.kind', 'unknown')` -> INVALID_ARGUMENT "backbone.kind: unknown". */
export class InvalidArgumentError extends DomainError {
  override name = 'InvalidArgumentError';
  constructor(
    readonly field: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super('INVALID_ARGUMENT', `${field}: ${reason}`, options);
  }
}

export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  constructor(message: string, options?: ErrorOptions) {
    super('NOT_FOUND', message, options);
  }
}

export class FailedPreconditionError extends DomainError {
  override name = 'FailedPreconditionError';
  constructor(message: string, options?: ErrorOptions) {
    super('FAILED_PRECONDITION', message, options);
  }
}

/** The gRPC status for a thrown value: its domain code, or undefined when it has none. */
export function domainStatusOf(err: unknown): Status | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !domainCodes.has(code)) return undefined;
  return Status[code as DomainStatusCode];
}

export interface ErrorLogger {
  error(message: string): void;
}

/**
 * The longest status message sent, in UTF-16 code units. A message quoting what the client sent (a
 * 3 MiB search id in `search_id: no search "..."`) would otherwise go out as a grpc-message trailer
 * larger than HTTP/2 clients take (Node's default header list limit is 64 KiB; grpc-core's metadata
 * limit is 8 KiB): the client drops the trailers and never sees the status, so its call hangs until
 * its deadline. Cut here, once, for every service.
 */
export const MAX_STATUS_MESSAGE_CHARS = 1024;

/** `message`, cut to MAX_STATUS_MESSAGE_CHARS with a note of its length when longer. */
export function boundedStatusMessage(message: string): string {
  if (message.length <= MAX_STATUS_MESSAGE_CHARS) return message;
  return `${message.slice(0, MAX_STATUS_MESSAGE_CHARS)}... (cut: ${message.length} characters)`;
}

/** Maps any thrown error to a ServerError (see the module comment); unknown errors become INTERNAL. */
export function toServerError(err: unknown, path: string, logger: ErrorLogger = console): ServerError | unknown {
  if (isAbortError(err)) return err;
  if (err instanceof ServerError) return err.details.length > MAX_STATUS_MESSAGE_CHARS ? new ServerError(err.code, boundedStatusMessage(err.details)) : err;
  const status = domainStatusOf(err);
  if (status !== undefined) return new ServerError(status, boundedStatusMessage((err as Error).message ?? String(err)));
  logger.error(`${path}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return new ServerError(Status.INTERNAL, 'internal error');
}

/** Server middleware applying `toServerError` to whatever the handler throws. */
export function errorMappingMiddleware(logger: ErrorLogger = console): ServerMiddleware {
  return async function* errorMapping(call, context) {
    try {
      return yield* call.next(call.request, context);
    } catch (err) {
      throw toServerError(err, call.method.path, logger);
    }
  };
}
