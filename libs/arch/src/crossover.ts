// Uniform crossover for the evolutionary search: each gene from one parent or the other with
// equal odds, then a repair so that the child is valid.

import type { Architecture, SearchStage } from './architecture.js';
import { repairBlockStages } from './blocks.js';
import { ArchValidationError } from './errors.js';
import { Rng, checkSeed, type Seed } from './random.js';
import { checkStage } from './sample.js';
import { neckFamily } from './modules/registry.js';
import { structureKey, withWidth } from './structure.js';
import { validateArchitecture } from './validate.js';

/**
 * A child of `a` and `b`; both must be valid in the modular space (which contains the structural
 * one), and so is the child.
 *
 * Structural genes, each from a or b: the backbone (kind with its base channels and block string,
 * which only mean something together), the neck, the (rpn, head) pair (a head needs the proposals
 * it was paired with), the input size. Every combination is valid, so no repair is needed.
 *
 * Modular: both parents must have one structure (`structureKey`): the modular stage refines one
 * structural model, and a child of two would be either's structure with modules that were never
 * searched for it (refused, naming `second`). Base channels, FPN channels and head channels come
 * from a or b, each stage's substring of the block string from a or b, and `repairBlockStages`
 * then brings the total and the doublings back within bounds (a long stage from each parent can
 * exceed 40 blocks, or 2 + 3 doublings exceed 4).
 */
export function crossoverArchitectures(a: Architecture, b: Architecture, stage: SearchStage, seed: Seed): Architecture {
  checkStage(stage);
  const rng = new Rng(checkSeed(seed));
  const pa = validateArchitecture(a, { space: 'modular' });
  const pb = validateArchitecture(b, { space: 'modular' });
  const from = (): Architecture => (rng.chance(0.5) ? pa : pb);
  let child: Architecture;
  if (stage === 'structural') {
    const pair = from();
    child = { backbone: from().backbone, neck: from().neck, rpn: pair.rpn, head: pair.head, input: from().input };
  } else {
    if (structureKey(pa) !== structureKey(pb)) {
      throw new ArchValidationError('second', `the modular stage crosses two architectures of one structure: first is ${structureKey(pa)}, second is ${structureKey(pb)}`);
    }
    const kind = pa.backbone.kind;
    const sa = pa.backbone.blocks.split('-');
    const sb = pb.backbone.blocks.split('-');
    const blocks = repairBlockStages(
      sa.map((s, i) => (rng.chance(0.5) ? s : (sb[i] ?? s))),
      kind,
    );
    const baseChannels = from().backbone.baseChannels;
    // Both parents have the same structure, so the same neck family: its width comes from either.
    const other = from().neck;
    const width = neckFamily(other).width?.get(other);
    const neck = width === undefined ? pa.neck : withWidth(pa.neck, () => width);
    child = {
      backbone: { kind, baseChannels, blocks },
      neck,
      rpn: pa.rpn,
      head: { ...pa.head, channels: from().head.channels },
      input: pa.input,
    };
  }
  // Validation copies, so the child shares no objects with its parents.
  return validateArchitecture(child, { space: 'modular' });
}
