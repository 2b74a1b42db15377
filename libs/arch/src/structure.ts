// The structural genes of an architecture: two architectures with the same key differ in modules
// alone (base channels, block strings, neck and head widths), which is what the modular stage
// changes while it refines one structural model.
import { FPN_EXTRA_SOURCE_KINDS, type Architecture, type Neck } from './architecture.js';

export function structureKey(a: Architecture): string {
  return `${a.backbone.kind}/${neckStructureKey(a.neck)}/${a.rpn}/${a.head.kind}.${a.head.stages}/${a.input.widthPx}x${a.input.heightPx}`;
}

/** The neck without its width: its kind, levels and the source of its extra levels (when not the default). */
export function neckStructureKey(n: Neck): string {
  if (n.kind === 'c4') return 'c4';
  const source = n.extraSource === FPN_EXTRA_SOURCE_KINDS[0] ? '' : `:${n.extraSource}`;
  return `fpn:${n.startLevel}-${n.endLevel}${source}`;
}
