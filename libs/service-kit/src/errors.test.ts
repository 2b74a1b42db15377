// Status messages are bounded: a message quoting what a client sent (a 3 MiB id) is cut, so the
// grpc-message trailer stays within what HTTP/2 clients accept and the client sees the status
// (found by tests/fuzz.test.ts: over Node's 64 KiB header list the call hung to its deadline).
import { ServerError, Status } from 'nice-grpc-common';
import { describe, expect, it } from 'vitest';
import { DomainError, InvalidArgumentError, MAX_STATUS_MESSAGE_CHARS, toServerError } from './errors.js';

const quiet = { error: () => {} };

describe('toServerError', () => {
  it('keeps a domain error of ordinary length as it is', () => {
    const e = toServerError(new InvalidArgumentError('search_id', 'required'), '/x/Y', quiet) as ServerError;
    expect(e.code).toBe(Status.INVALID_ARGUMENT);
    expect(e.details).toBe('search_id: required');
  });

  it('cuts a message quoting an oversize value, keeping its start and saying how long it was', () => {
    const id = 'x'.repeat(3 * 2 ** 20);
    const message = `search_id: no search ${JSON.stringify(id)}`;
    const e = toServerError(new DomainError('NOT_FOUND', message), '/x/Y', quiet) as ServerError;
    expect(e.code).toBe(Status.NOT_FOUND);
    expect(e.details.length).toBeLessThan(MAX_STATUS_MESSAGE_CHARS + 64);
    expect(e.details).toMatch(/^search_id: no search "xxx/);
    expect(e.details.endsWith(`(cut: ${message.length} characters)`)).toBe(true);
  });

  it('cuts a ServerError thrown by a handler too', () => {
    const e = toServerError(new ServerError(Status.FAILED_PRECONDITION, 'y'.repeat(100_000)), '/x/Y', quiet) as ServerError;
    expect(e.code).toBe(Status.FAILED_PRECONDITION);
    expect(e.details.length).toBeLessThan(MAX_STATUS_MESSAGE_CHARS + 64);
  });
});
