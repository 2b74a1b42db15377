// One string per architecture, and an id derived from it. The search journal, caches and reports
// key on the id, so the format below is a contract: changing it changes every id.
//
// Canonical string (ASCII, no spaces, safe unquoted in a shell and in a URL path segment):
//
//   <backbone>:<base>:<blocks>/<neck>/<rpn>/<head>/<W>x<H>
//
//   backbone  a BACKBONE_KINDS name, e.g. resnet50
//   base      backbone base channels, decimal
//   blocks    the block string, stages separated by '-'
//   neck      its family's token (modules/necks): c4 | fpn:<start_level>-<end_level>:<channels>[:<extra_source>]
//             (the source of P6 and P7 only when it is not c5, so older ids stay as they were)
//   rpn       none | rpn | guided_anchoring
//   head      retinanet:<channels> | faster_rcnn:<channels> | cascade_rcnn.<stages>:<channels>
//   W x H     input width and height in pixels
//
// Numbers are plain decimal without leading zeros, so each architecture has exactly one string.
// Example: resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x800
//
// Id: "a" + the first 16 hex digits (lower case) of SHA-256 over the UTF-8 bytes of the canonical
// string. In Python:
//   "a" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
// The leading letter keeps ids valid as identifiers, NATS subject tokens and k8s label values.

import { createHash } from 'node:crypto';
import { HEAD_KINDS, type Architecture, type Head, type Neck } from './architecture.js';
import { canonicalDecimal } from './fields.js';
import type { HeadFamily, NeckFamily } from './modules/family.js';
import { HEADS, NECKS, neckFamily } from './modules/registry.js';
import { ArchValidationError } from './errors.js';
import { architectureFromJson } from './json.js';
import { type ValidateOptions, validateArchitecture } from './validate.js';

/** The canonical string of an (already validated) architecture. Does not validate. */
export function toCanonical(a: Architecture): string {
  const b = a.backbone;
  return `${b.kind}:${b.baseChannels}:${b.blocks}/${neckToken(a.neck)}/${a.rpn}/${headToken(a.head)}/${a.input.widthPx}x${a.input.heightPx}`;
}

function neckToken(n: Neck): string {
  return neckFamily(n).token(n);
}

/** Whether a head kind's string carries its stage count (`cascade_rcnn.3`): it has more than one choice. */
function carriesStages(kind: string): boolean {
  return ((HEADS as Record<string, HeadFamily | undefined>)[kind]?.stages.length ?? 0) > 1;
}

function headToken(h: Head): string {
  return carriesStages(h.kind) ? `${h.kind}.${h.stages}:${h.channels}` : `${h.kind}:${h.channels}`;
}

/** The stable id of an (already validated) architecture; see the file comment for the rule. */
export function architectureId(a: Architecture): string {
  return idOfCanonical(toCanonical(a));
}

export function idOfCanonical(canonical: string): string {
  return 'a' + createHash('sha256').update(canonical, 'utf8').digest('hex').slice(0, 16);
}

/** The id, the canonical string and the architecture (nas.common.v1.DescribedArchitecture). */
export interface DescribedArchitecture {
  id: string;
  canonical: string;
  architecture: Architecture;
}

export function describeArchitecture(a: Architecture): DescribedArchitecture {
  const canonical = toCanonical(a);
  return { id: idOfCanonical(canonical), canonical, architecture: a };
}

const FORMAT = '<backbone>:<base>:<blocks>/<neck>/<rpn>/<head>/<W>x<H>';

/**
 * Parse a canonical string and validate the result (options.space, default 'any'). Errors name
 * the field and the character position where its token starts.
 */
export function parseCanonical(text: string, options: ValidateOptions = {}): Architecture {
  if (typeof text !== 'string') throw new ArchValidationError('architecture', `expected a canonical string ${FORMAT}`);
  const parts = text.split('/');
  if (parts.length !== 5) {
    throw new ArchValidationError(
      'architecture',
      `expected 5 parts separated by '/' (${FORMAT}), got ${parts.length} in ${JSON.stringify(text)}`,
    );
  }
  const starts: number[] = [];
  for (let i = 0, pos = 0; i < parts.length; pos += parts[i]!.length + 1, i++) starts.push(pos);
  const [bb, nk, rpn, hd, inp] = parts as [string, string, string, string, string];
  // Where each field's token starts, to report a validation error at the right place.
  const at: Record<string, number> = {};

  const bbParts = bb.split(':');
  if (bbParts.length !== 3) {
    throw new ArchValidationError('backbone', `expected <backbone>:<base>:<blocks>, got ${JSON.stringify(bb)}`, starts[0]);
  }
  const [kind, base, blocks] = bbParts as [string, string, string];
  at['backbone.kind'] = starts[0]!;
  at['backbone.base_channels'] = starts[0]! + kind.length + 1;
  at['backbone.blocks'] = at['backbone.base_channels'] + base.length + 1;
  const baseChannels = canonicalDecimal(base, 'backbone.base_channels', at['backbone.base_channels']);

  // The neck's family reads the rest of its token.
  at['neck.kind'] = starts[1]!;
  const neckKind = nk.includes(':') ? nk.slice(0, nk.indexOf(':')) : nk;
  const neckFamilyOf = (NECKS as Record<string, NeckFamily | undefined>)[neckKind];
  if (!neckFamilyOf) {
    const forms = Object.values(NECKS).map((f: NeckFamily) => f.tokenForm).join(' or ');
    throw new ArchValidationError('neck.kind', `expected ${forms}, got ${JSON.stringify(nk)}`, starts[1]);
  }
  const neck = { kind: neckKind, ...neckFamilyOf.parseTail(nk.slice(neckKind.length), starts[1]! + neckKind.length, at) };

  at['rpn'] = starts[2]!;

  at['head.kind'] = starts[3]!;
  const hm = /^([a-z_]+)(?:\.([^:]*))?:(.*)$/.exec(hd);
  if (hm === null) {
    throw new ArchValidationError(
      'head.kind',
      `expected retinanet:<channels>, faster_rcnn:<channels> or cascade_rcnn.<stages>:<channels>, got ${JSON.stringify(hd)}`,
      starts[3],
    );
  }
  const [, headKind, stagesText, headChannels] = hm as unknown as [string, string, string | undefined, string];
  at['head.stages'] = starts[3]! + headKind.length + 1;
  at['head.channels'] = starts[3]! + hd.length - headChannels.length;
  let stages: number;
  if (carriesStages(headKind)) {
    if (stagesText === undefined) {
      throw new ArchValidationError('head.stages', `${headKind} needs its stage count, as ${headKind}.<stages>`, at['head.stages']);
    }
    stages = canonicalDecimal(stagesText, 'head.stages', at['head.stages']);
  } else {
    if (stagesText !== undefined) {
      const withCounts = HEAD_KINDS.filter(carriesStages).join(', ');
      throw new ArchValidationError('head.stages', `only ${withCounts} carries a stage count, got ${JSON.stringify(hd)}`, at['head.stages']);
    }
    // An unknown kind gets 0 here and is named by validation.
    stages = (HEADS as Record<string, HeadFamily | undefined>)[headKind]?.defaultStages ?? 0;
  }
  const head = { kind: headKind, stages, channels: canonicalDecimal(headChannels, 'head.channels', at['head.channels']) };

  const im = /^([^x]*)x([^x]*)$/.exec(inp);
  at['input.width_px'] = starts[4]!;
  if (im === null) throw new ArchValidationError('input.width_px', `expected <W>x<H>, got ${JSON.stringify(inp)}`, starts[4]);
  const [, w, h] = im as unknown as [string, string, string];
  at['input.height_px'] = starts[4]! + w.length + 1;
  const input = {
    widthPx: canonicalDecimal(w, 'input.width_px', at['input.width_px']),
    heightPx: canonicalDecimal(h, 'input.height_px', at['input.height_px']),
  };

  try {
    return validateArchitecture({ backbone: { kind, baseChannels, blocks }, neck, rpn, head, input }, options);
  } catch (e) {
    if (e instanceof ArchValidationError && e.position === undefined) {
      throw new ArchValidationError(e.field, e.reason, at[e.field]);
    }
    throw e;
  }
}


/**
 * Parse what a user typed or a file holds: JSON (the domain object, camelCase, or the protobuf
 * JSON form with snake_case names) when it starts with '{', the canonical string otherwise.
 */
export function parseArchitecture(text: string, options: ValidateOptions = {}): Architecture {
  const t = text.trim();
  if (!t.startsWith('{')) return parseCanonical(t, options);
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch (e) {
    throw new ArchValidationError('architecture', `not valid JSON: ${(e as Error).message}`);
  }
  return architectureFromJson(parsed, options);
}
