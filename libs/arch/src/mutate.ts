// Mutation for the evolutionary search: one gene changes, the child is valid, and it always
// differs from its parent (a no-op mutation would spend a training run on a known result).

import { BACKBONE_KINDS, type Architecture, type SearchStage } from './architecture.js';
import { blockStringProblem } from './blocks.js';
import { standardBackbone } from './defaults.js';
import { neckFamily } from './modules/registry.js';
import { Rng, checkSeed, type Seed } from './random.js';
import { checkStage } from './sample.js';
import {
  type BlockBounds,
  INPUT_SIZES,
  MODULAR_BASE_CHANNELS,
  MODULAR_HEAD_CHANNELS,
  NECK_CHOICES,
  RPN_HEAD_CHOICES,
  blockBoundsOf,
} from './space.js';
import { neckStructureKey, withWidth } from './structure.js';
import { validateArchitecture } from './validate.js';

/**
 * A child of `parent` differing in exactly one gene of `stage`, chosen uniformly, with a new value
 * chosen uniformly among the others.
 *
 * Structural genes: backbone kind, neck (C4 or an FPN level range), the (rpn, head, stages) pair,
 * input size. A new backbone kind brings that backbone's standard base channels and block string
 * (another kind's block string has no meaning for it); the other modular genes are kept.
 *
 * Modular genes: base channels; the block string (one edit: flip a block 1<->2, insert a '1',
 * remove a '1', or move a '2' to where a '1' was, in the same or another stage); FPN channels
 * (FPN necks only); head channels.
 *
 * The parent must be valid in the modular space (which contains the structural one); the child is
 * too, and a structural child of a structural parent is structural.
 */
export function mutateArchitecture(parent: Architecture, stage: SearchStage, seed: Seed): Architecture {
  checkStage(stage);
  const rng = new Rng(checkSeed(seed));
  const p = validateArchitecture(parent, { space: 'modular' });
  const child = stage === 'structural' ? mutateStructure(p, rng) : mutateModules(p, rng);
  return validateArchitecture(child, { space: 'modular' });
}

function mutateStructure(p: Architecture, rng: Rng): Architecture {
  const c = structuredClone(p);
  switch (rng.int(4)) {
    case 0: {
      const kind = rng.pick(BACKBONE_KINDS.filter((k) => k !== p.backbone.kind));
      c.backbone = standardBackbone(kind);
      break;
    }
    case 1: {
      const neck = rng.pick(NECK_CHOICES.filter((n) => neckStructureKey(n) !== neckStructureKey(p.neck)));
      // Keep a searched width when the neck's structure changes (the choices are at the standard one).
      const width = neckFamily(p.neck).width?.get(p.neck);
      c.neck = width === undefined ? { ...neck } : withWidth(neck, () => width);
      break;
    }
    case 2: {
      const pair = rng.pick(
        RPN_HEAD_CHOICES.filter((x) => !(x.rpn === p.rpn && x.head === p.head.kind && x.stages === p.head.stages)),
      );
      c.rpn = pair.rpn;
      c.head = { kind: pair.head, stages: pair.stages, channels: p.head.channels };
      break;
    }
    default: {
      const input = rng.pick(INPUT_SIZES.filter((i) => i.widthPx !== p.input.widthPx || i.heightPx !== p.input.heightPx));
      c.input = { ...input };
    }
  }
  return c;
}

type ModularGene = 'base' | 'blocks' | 'neck' | 'head';

function mutateModules(p: Architecture, rng: Rng): Architecture {
  const c = structuredClone(p);
  const genes: ModularGene[] = neckFamily(p.neck).width ? ['base', 'blocks', 'neck', 'head'] : ['base', 'blocks', 'head'];
  const gene = rng.pick(genes);
  if (gene === 'blocks') {
    const blocks = editBlockString(p.backbone.blocks, blockBoundsOf(p.backbone.kind), rng);
    if (blocks !== undefined) {
      c.backbone.blocks = blocks;
      return c;
    }
    // No edit fits (not seen with the current bounds); change the base width instead.
  }
  if (gene === 'neck') {
    c.neck = withWidth(c.neck, (choices, current) => other(choices, current, rng));
  } else if (gene === 'head') {
    c.head.channels = other(MODULAR_HEAD_CHANNELS, c.head.channels, rng);
  } else {
    c.backbone.baseChannels = other(MODULAR_BASE_CHANNELS, c.backbone.baseChannels, rng);
  }
  return c;
}

function other(choices: readonly number[], current: number, rng: Rng): number {
  return rng.pick(choices.filter((x) => x !== current));
}

type BlockEdit = 'flip' | 'insert' | 'remove' | 'move';
const BLOCK_EDITS: readonly BlockEdit[] = ['flip', 'insert', 'remove', 'move'];

/**
 * One random edit of `blocks` that stays within `bounds`, or undefined if 32 tries found none.
 * Each edit changes the string, so a valid result always differs from the input.
 */
export function editBlockString(blocks: string, bounds: Readonly<BlockBounds>, rng: Rng): string | undefined {
  for (let attempt = 0; attempt < 32; attempt++) {
    const edited = applyEdit(blocks, rng.pick(BLOCK_EDITS), rng);
    if (edited !== undefined && edited !== blocks && blockStringProblem(edited, bounds) === undefined) return edited;
  }
  return undefined;
}

function applyEdit(blocks: string, edit: BlockEdit, rng: Rng): string | undefined {
  const at = (c: string): number[] => {
    const out: number[] = [];
    for (let i = 0; i < blocks.length; i++) if (blocks[i] === c) out.push(i);
    return out;
  };
  const set = (i: number, c: string): string => blocks.slice(0, i) + c + blocks.slice(i + 1);
  switch (edit) {
    case 'flip': {
      const i = rng.pick([...at('1'), ...at('2')]);
      return set(i, blocks[i] === '1' ? '2' : '1');
    }
    case 'insert': {
      // Any gap of any stage, including before its first and after its last block.
      const i = rng.int(blocks.length + 1);
      return blocks.slice(0, i) + '1' + blocks.slice(i);
    }
    case 'remove': {
      const ones = at('1');
      if (ones.length === 0) return undefined;
      const i = rng.pick(ones);
      return blocks.slice(0, i) + blocks.slice(i + 1);
    }
    case 'move': {
      const twos = at('2');
      const ones = at('1');
      if (twos.length === 0 || ones.length === 0) return undefined;
      const from = rng.pick(twos);
      const to = rng.pick(ones);
      const moved = set(to, '2');
      return moved.slice(0, from) + '1' + moved.slice(from + 1);
    }
  }
}
