// The one error this library throws for bad input. Services map it to gRPC INVALID_ARGUMENT in one
// place; the field path lets a client point at the offending field of its request.

/**
 * An architecture (or a request about one) is not acceptable. `field` is the path in the wire
 * message, with protobuf (snake_case) names, e.g. `backbone.blocks` or `input.width_px`.
 */
export class ArchValidationError extends Error {
  readonly code = 'INVALID_ARGUMENT' as const;
  readonly field: string;
  readonly reason: string;
  /** Where in a parsed text (0-based character offset), when the input was a string. */
  readonly position: number | undefined;

  /** `field` '' is the architecture message itself: a caller's withFieldPrefix names it. */
  constructor(field: string, reason: string, position?: number) {
    const named = field || 'architecture';
    super(position === undefined ? `${named}: ${reason}` : `${named}: ${reason} (at position ${position})`);
    this.name = 'ArchValidationError';
    this.field = field;
    this.reason = reason;
    this.position = position;
  }
}
