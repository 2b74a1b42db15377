// JSON written by people and by other languages: the domain form (camelCase, as this library
// prints it) or the protobuf JSON form (snake_case field names as in the .proto, enum values
// either as our lower-case names or as proto enum names like BACKBONE_KIND_RESNET50).

import type { Architecture } from './architecture.js';
import { jsonEnumValue, pick } from './fields.js';
import type { NeckFamily } from './modules/family.js';
import { NECKS } from './modules/registry.js';
import { type ValidateOptions, validateArchitecture } from './validate.js';

/** Validate a parsed JSON value in either naming; errors name wire fields like validateArchitecture. */
export function architectureFromJson(x: unknown, options: ValidateOptions = {}): Architecture {
  return validateArchitecture(toDomainShape(x), options);
}

/**
 * Rename fields and enum values to the domain's; anything unexpected is passed through untouched
 * so that validation reports it against the right field.
 */
function toDomainShape(x: unknown): unknown {
  if (!isObject(x)) return x;
  const backbone = x['backbone'];
  const neck = x['neck'];
  const head = x['head'];
  const input = x['input'];
  return {
    backbone: isObject(backbone)
      ? {
          kind: jsonEnumValue(backbone['kind'], 'BACKBONE_KIND_'),
          baseChannels: pick(backbone, 'baseChannels', 'base_channels'),
          blocks: backbone['blocks'],
        }
      : backbone,
    neck: isObject(neck) ? neckShape(neck) : neck,
    rpn: jsonEnumValue(x['rpn'], 'RPN_KIND_'),
    head: isObject(head)
      ? { kind: jsonEnumValue(head['kind'], 'HEAD_KIND_'), stages: head['stages'], channels: head['channels'] }
      : head,
    input: isObject(input)
      ? { widthPx: pick(input, 'widthPx', 'width_px'), heightPx: pick(input, 'heightPx', 'height_px') }
      : input,
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The neck's fields renamed by its family; an unknown kind passes through for validation to name. */
function neckShape(neck: Record<string, unknown>): Record<string, unknown> {
  const kind = jsonEnumValue(neck['kind'], 'NECK_KIND_');
  const family = typeof kind === 'string' ? (NECKS as Record<string, NeckFamily | undefined>)[kind] : undefined;
  return family ? { kind, ...family.fromJson(neck) } : { ...neck, kind };
}
