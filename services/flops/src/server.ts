// Handlers of nas.flops.v1.FlopsService: wire <-> domain around libs/flops, which does the counting.
import { architectureId, validateArchitecture, validateInputSize } from '@sm-nas/arch';
import { architectureFromWire, withFieldPrefix } from '@sm-nas/arch/wire';
import { countFlops } from '@sm-nas/flops';
import { flops } from '@sm-nas/proto';
import { InvalidArgumentError } from '@sm-nas/service-kit';
import type { ServiceImplementation } from 'nice-grpc';

/** More proposals than any detector keeps per image (mmdetection trains with 2000). */
export const MAX_PROPOSALS = 10_000;
export const MAX_CLASSES = 100_000;

/**
 * The wire's form as libs/flops names it. A binary request carries an enum as its bare number, so a
 * value this build does not know arrives as that number (42), not as UNRECOGNIZED: only the known
 * values pass, and UNSPECIFIED is detection as the proto says.
 */
function formFromWire(form: flops.ModelForm): 'detection' | 'classification' {
  switch (form) {
    case flops.ModelForm.MODEL_FORM_UNSPECIFIED:
    case flops.ModelForm.MODEL_FORM_DETECTION:
      return 'detection';
    case flops.ModelForm.MODEL_FORM_CLASSIFICATION:
      return 'classification';
    default:
      throw new InvalidArgumentError('form', `unknown value ${form as number} (expected MODEL_FORM_DETECTION or MODEL_FORM_CLASSIFICATION; MODEL_FORM_UNSPECIFIED means detection)`);
  }
}

export function flopsService(): ServiceImplementation<typeof flops.FlopsServiceDefinition> {
  return {
    async count(request) {
      const arch = withFieldPrefix('architecture', () => validateArchitecture(architectureFromWire(request.architecture)));
      const input = request.input ? validateInputSize(request.input, 'input') : arch.input;
      if (request.numClasses > MAX_CLASSES) {
        throw new InvalidArgumentError('num_classes', `must be at most ${MAX_CLASSES}, got ${request.numClasses}`);
      }
      if (request.proposals > MAX_PROPOSALS) {
        throw new InvalidArgumentError('proposals', `must be at most ${MAX_PROPOSALS}, got ${request.proposals}`);
      }
      const form = formFromWire(request.form);
      const result = countFlops(arch, {
        form,
        input,
        ...(request.numClasses ? { numClasses: request.numClasses } : {}),
        ...(request.proposals ? { proposals: request.proposals } : {}),
      });
      return {
        architectureId: architectureId(arch),
        input,
        flopsMultiplyAdds: result.multiplyAdds,
        params: result.params,
        proposals: result.proposals,
        perProposalFlopsMultiplyAdds: result.perProposalMultiplyAdds,
        modules: result.modules.map((m) => ({
          name: m.name,
          flopsMultiplyAdds: m.multiplyAdds,
          params: m.params,
          perProposalFlopsMultiplyAdds: m.perProposalMultiplyAdds,
        })),
      };
    },
  };
}
