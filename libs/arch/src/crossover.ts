// Uniform crossover for the evolutionary search: each gene from one parent or the other with
// equal odds, then a repair so that the child is valid.

import type { Architecture, SearchStage } from './architecture.js';
import { repairBlockStages } from './blocks.js';
import { Rng, checkSeed } from './random.js';
import { checkStage } from './sample.js';
import { validateArchitecture } from './validate.js';

/**
 * A child of `a` and `b`; both must be valid in the modular space (which contains the structural
 * one), and so is the child.
 *
 * Structural genes, each from a or b: the backbone (kind with its base channels and block string,
 * which only mean something together), the neck, the (rpn, head) pair (a head needs the proposals
 * it was paired with), the input size. Every combination is valid, so no repair is needed.
 *
 * Modular: the structure is a's (the modular stage refines one structural model; b only lends
 * modules). Base channels, FPN channels (when both necks are FPNs) and head channels come from
 * a or b; when both parents have the same backbone kind each stage's substring of the block string
 * comes from a or b, and `repairBlockStages` then brings the total and the doublings back within
 * bounds (a long stage from each parent can exceed 40 blocks, or 2 + 3 doublings exceed 4).
 */
export function crossoverArchitectures(a: Architecture, b: Architecture, stage: SearchStage, seed: number): Architecture {
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
    const kind = pa.backbone.kind;
    let blocks = pa.backbone.blocks;
    if (pb.backbone.kind === kind) {
      const sa = pa.backbone.blocks.split('-');
      const sb = pb.backbone.blocks.split('-');
      blocks = repairBlockStages(
        sa.map((s, i) => (rng.chance(0.5) ? s : (sb[i] ?? s))),
        kind,
      );
    }
    const baseChannels = from().backbone.baseChannels;
    const neck =
      pa.neck.kind === 'fpn' && pb.neck.kind === 'fpn' ? { ...pa.neck, channels: from() === pa ? pa.neck.channels : pb.neck.channels } : pa.neck;
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
