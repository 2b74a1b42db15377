// Handlers of nas.searchspace.v1.SearchSpaceService. Stateless: everything is in libs/arch; this
// file maps the wire to the domain and back, and names request fields in errors
// (`architecture.backbone.blocks`, `first.neck.start_level`, `count`).
import {
  architectureFromWire,
  backboneKindToWire,
  neckToWire,
  describedToWire,
  headKindToWire,
  requireStage,
  rpnKindToWire,
  stageFromWire,
  withFieldPrefix,
} from '@sm-nas/arch/wire';
import {
  crossoverArchitectures,
  describeSpaces,
  modularSpaceSize,
  mutateArchitecture,
  sampleArchitectures,
  structuralSpaceSize,
  validateArchitecture,
  parseCanonical,
  ArchValidationError,
  BACKBONE_KINDS,
  type Architecture,
  type SearchStage,
} from '@sm-nas/arch';
import type { common, searchspace } from '@sm-nas/proto';
import { InvalidArgumentError } from '@sm-nas/service-kit';
import type { ServiceImplementation } from 'nice-grpc';

/** Upper bound of Sample's `count`: a search never needs more per call, and it bounds the work. */
export const MAX_SAMPLE_COUNT = 10_000;
/** Far above any architecture's string (about 80 characters): a bound on the parser's work. */
const MAX_CANONICAL_CHARS = 1024;

function archOf(wire: common.Architecture | undefined, field: string, stage?: SearchStage): Architecture {
  return withFieldPrefix(field, () =>
    validateArchitecture(architectureFromWire(wire), { space: stage ?? 'any' }),
  );
}

/** A canonical string's architecture; errors name `canonical.<field>` and the character position. */
function canonicalOf(text: string, space: SearchStage | 'any'): Architecture {
  if (text.length > MAX_CANONICAL_CHARS) throw new InvalidArgumentError('canonical', `at most ${MAX_CANONICAL_CHARS} characters, got ${text.length}`);
  try {
    return parseCanonical(text, { space });
  } catch (err) {
    if (err instanceof ArchValidationError) {
      const field = err.field === 'architecture' ? 'canonical' : `canonical.${err.field}`;
      throw new ArchValidationError(field, err.reason, err.position);
    }
    throw err;
  }
}

function sizeOf(stage: SearchStage, base: Architecture | undefined): bigint {
  if (stage === 'structural') return BigInt(structuralSpaceSize());
  if (base) return modularSpaceSize(base.backbone.kind, base.neck.kind);
  return BACKBONE_KINDS.reduce((sum, kind) => sum + modularSpaceSize(kind), 0n);
}

export function searchSpaceService(): ServiceImplementation<typeof searchspace.SearchSpaceServiceDefinition> {
  return {
    async getSpace() {
      const { structural, modular } = describeSpaces();
      return {
        structural: {
          ...structural,
          backbones: structural.backbones.map(backboneKindToWire),
          rpnHeads: structural.rpnHeads.map((c) => ({
            rpn: rpnKindToWire(c.rpn),
            head: headKindToWire(c.head),
            stages: c.stages,
          })),
          validCombinations: BigInt(structural.validCombinations),
          necks: structural.necks.map(neckToWire),
        },
        modular: {
          ...modular,
          backboneBlockBounds: modular.backboneBlockBounds.map(({ backbone, bounds }) => ({ backbone: backboneKindToWire(backbone), bounds })),
        },
      };
    },

    async sample(request) {
      const stage = requireStage(request.stage);
      if (request.count < 1 || request.count > MAX_SAMPLE_COUNT) {
        throw new InvalidArgumentError('count', `must be 1..${MAX_SAMPLE_COUNT}, got ${request.count}`);
      }
      const base = request.base ? archOf(request.base, 'base') : undefined;
      const sampled = sampleArchitectures(stage, request.count, request.seed, base ? { base } : {});
      return { architectures: sampled.map(describedToWire) };
    },

    async mutate(request) {
      const stage = requireStage(request.stage);
      const parent = archOf(request.architecture, 'architecture', stage);
      return { architecture: describedToWire(mutateArchitecture(parent, stage, request.seed)) };
    },

    async crossover(request) {
      const stage = requireStage(request.stage);
      const first = archOf(request.first, 'first', stage);
      const second = archOf(request.second, 'second', stage);
      return { child: describedToWire(crossoverArchitectures(first, second, stage, request.seed)) };
    },

    async validate(request) {
      const stage = stageFromWire(request.stage);
      if (request.canonical && request.architecture) throw new InvalidArgumentError('canonical', 'set canonical or architecture, not both');
      const arch = request.canonical ? canonicalOf(request.canonical, stage ?? 'any') : archOf(request.architecture, 'architecture', stage);
      return { architecture: describedToWire(arch) };
    },

    async size(request) {
      const stage = requireStage(request.stage);
      const base = request.base ? archOf(request.base, 'base') : undefined;
      const count = sizeOf(stage, base);
      return { countDecimal: count.toString(), log10Count: log10(count) };
    },
  };
}

/** log10 of an arbitrarily large count, exact enough for display. */
function log10(n: bigint): number {
  const digits = n.toString();
  const head = Number(digits.slice(0, 15));
  return Math.log10(head) + (digits.length - Math.min(15, digits.length));
}
