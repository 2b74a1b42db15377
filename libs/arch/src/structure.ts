// The structural genes of an architecture: two architectures with the same key differ in modules
// alone (base channels, block strings, neck and head widths), which is what the modular stage
// changes while it refines one structural model.
import type { Architecture, Neck } from './architecture.js';
import { neckFamily } from './modules/registry.js';

export function structureKey(a: Architecture): string {
  return `${a.backbone.kind}/${neckStructureKey(a.neck)}/${a.rpn}/${a.head.kind}.${a.head.stages}/${a.input.widthPx}x${a.input.heightPx}`;
}

/** The neck without its width (its family's key: an FPN's levels and the source of its extra levels). */
export function neckStructureKey(n: Neck): string {
  return neckFamily(n).structureKey(n);
}

/** A copy of the neck with its width chosen by `choose` among its family's widths (unchanged when it has none). */
export function withWidth(n: Neck, choose: (choices: readonly number[], current: number) => number): Neck {
  const family = neckFamily(n);
  return family.width ? family.width.set(n, choose(family.width.choices, family.width.get(n))) : { ...n };
}
