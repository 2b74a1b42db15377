// The wire form (nas.common.v1.Architecture) to and from the domain type. Proto3 has no presence
// for scalars, so zero values mean "the default" where the contract says so (base_channels 0 is the
// standard 64, an empty block string the backbone's standard one, channels 0 is 256); enums left
// UNSPECIFIED and missing messages are errors that name the field.
import { common } from '@sm-nas/proto';
import {
  BACKBONE_KINDS,
  HEAD_KINDS,
  RPN_KINDS,
  type Architecture,
  type BackboneKind,
  type HeadKind,
  type Neck,
  type RpnKind,
  type SearchStage,
} from './architecture.js';
import { STANDARD_BASE_CHANNELS, STANDARD_BLOCKS, STANDARD_HEAD_CHANNELS } from './defaults.js';
import { ArchValidationError } from './errors.js';
import { domainToEnum, enumToDomain } from './fields.js';
import { HEADS, NECKS, neckFamily } from './modules/registry.js';
import { architectureId, toCanonical } from './canonical.js';

const NECK_KINDS = Object.keys(NECKS) as Neck['kind'][];

/** Wire → domain, with defaults applied. The result still needs `validateArchitecture`. */
export function architectureFromWire(wire: common.Architecture | undefined, field = ''): Architecture {
  const at = (name: string) => (field ? `${field}.${name}` : name);
  if (!wire) throw new ArchValidationError(field, 'required');
  const { backbone, neck, head, input } = wire;
  if (!backbone) throw new ArchValidationError(at('backbone'), 'required');
  if (!neck) throw new ArchValidationError(at('neck'), 'required');
  if (!head) throw new ArchValidationError(at('head'), 'required');
  if (!input) throw new ArchValidationError(at('input'), 'required');

  const backboneKind = enumToDomain<BackboneKind>(
    backbone.kind, common.BackboneKind, 'BACKBONE_KIND_', BACKBONE_KINDS, at('backbone.kind'));
  const neckKind = enumToDomain<Neck['kind']>(neck.kind, common.NeckKind, 'NECK_KIND_', NECK_KINDS, at('neck.kind'));
  // Fields still to validate (validateArchitecture), with the wire's zero values as the defaults.
  const domainNeck = { kind: neckKind, ...NECKS[neckKind].fromWire(neck, at('neck')) } as unknown as Neck;
  const rpn = enumToDomain<RpnKind>(wire.rpn, common.RpnKind, 'RPN_KIND_', RPN_KINDS, at('rpn'));
  const headKind = enumToDomain<HeadKind>(head.kind, common.HeadKind, 'HEAD_KIND_', HEAD_KINDS, at('head.kind'));
  // The head family's default when a request names the head but not its stages.
  const defaultStages = HEADS[headKind].defaultStages;
  return {
    backbone: {
      kind: backboneKind,
      baseChannels: backbone.baseChannels || STANDARD_BASE_CHANNELS,
      blocks: backbone.blocks || STANDARD_BLOCKS[backboneKind],
    },
    neck: domainNeck,
    rpn,
    head: { kind: headKind, stages: head.stages || defaultStages, channels: head.channels || STANDARD_HEAD_CHANNELS },
    input: { widthPx: input.widthPx, heightPx: input.heightPx },
  };
}

export const backboneKindToWire = (kind: BackboneKind): common.BackboneKind =>
  domainToEnum(kind, common.BackboneKind, 'BACKBONE_KIND_');
export const rpnKindToWire = (kind: RpnKind): common.RpnKind => domainToEnum(kind, common.RpnKind, 'RPN_KIND_');
export const headKindToWire = (kind: HeadKind): common.HeadKind => domainToEnum(kind, common.HeadKind, 'HEAD_KIND_');

export function neckToWire(neck: Neck): common.Neck {
  return { kind: domainToEnum(neck.kind, common.NeckKind, 'NECK_KIND_'), ...neckFamily(neck).toWire(neck) };
}

export function architectureToWire(arch: Architecture): common.Architecture {
  return {
    backbone: {
      kind: backboneKindToWire(arch.backbone.kind),
      baseChannels: arch.backbone.baseChannels,
      blocks: arch.backbone.blocks,
    },
    neck: neckToWire(arch.neck),
    rpn: rpnKindToWire(arch.rpn),
    head: {
      kind: headKindToWire(arch.head.kind),
      stages: arch.head.stages,
      channels: arch.head.channels,
    },
    input: { widthPx: arch.input.widthPx, heightPx: arch.input.heightPx },
  };
}

/** The identity every service returns with an architecture: id, canonical string, wire form. */
export function describedToWire(arch: Architecture): common.DescribedArchitecture {
  return { id: architectureId(arch), canonical: toCanonical(arch), architecture: architectureToWire(arch) };
}

/**
 * Runs `fn` and prefixes the field of an ArchValidationError it throws with where the architecture
 * sits in the request (`first` + `backbone.kind` -> `first.backbone.kind`).
 */
export function withFieldPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ArchValidationError && prefix) {
      throw new ArchValidationError(err.field ? `${prefix}.${err.field}` : prefix, err.reason, err.position);
    }
    throw err;
  }
}

/** UNSPECIFIED maps to undefined: "no stage constraint" in Validate, an error where a stage is needed. */
export function stageFromWire(stage: common.SearchStage): SearchStage | undefined {
  switch (stage) {
    case common.SearchStage.SEARCH_STAGE_STRUCTURAL:
      return 'structural';
    case common.SearchStage.SEARCH_STAGE_MODULAR:
      return 'modular';
    default:
      return undefined;
  }
}

/** A stage's name for logs and span attributes; UNSPECIFIED reads as the first stage, structural. */
export function stageName(stage: common.SearchStage): SearchStage {
  return stageFromWire(stage) ?? 'structural';
}

export function requireStage(stage: common.SearchStage, field = 'stage'): SearchStage {
  const domain = stageFromWire(stage);
  if (!domain) {
    throw new ArchValidationError(field, 'must be SEARCH_STAGE_STRUCTURAL or SEARCH_STAGE_MODULAR');
  }
  return domain;
}

export function stageToWire(stage: SearchStage): common.SearchStage {
  return stage === 'structural'
    ? common.SearchStage.SEARCH_STAGE_STRUCTURAL
    : common.SearchStage.SEARCH_STAGE_MODULAR;
}
