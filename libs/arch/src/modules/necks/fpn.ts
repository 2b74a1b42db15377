// mmdetection's FPN, no norms: laterals 1x1, top-down nearest upsampling and adds, outputs 3x3;
// P6 a stride-2 3x3 on what the neck's extra source names (C5 or P5), P7 a stride-2 3x3 on
// relu(P6), as torchvision's LastLevelP6P7.

import { common } from '@sm-nas/proto';
import type { FpnExtraSource, FpnNeck } from '../../architecture.js';
import { ArchValidationError } from '../../errors.js';
import { canonicalDecimal, channelsFor, domainToEnum, enumToDomain, fail, integer, jsonEnumValue, member, pick, type ValidationSpace } from '../../fields.js';
import { LAYER_FLAGS } from '../../graph/sink.js';
import type { FpnExtraSourceFamily, NeckFamily } from '../family.js';

/** FPN levels: 1 <= startLevel <= 5, startLevel < endLevel <= 7 (levels 6 and 7 are extra convolutions). */
export const FPN_MIN_LEVEL = 1;
export const FPN_MAX_LEVEL = 7;
/** The backbone's last level: the pyramid proper ends here, the extra levels start above it. */
export const FPN_TOP_BACKBONE_LEVEL = 5;
/** mmdetection's FPN width, the structural space's. */
export const STANDARD_FPN_CHANNELS = 256;
/** The modular space's FPN widths (SM-NAS section 3.2). */
export const MODULAR_FPN_CHANNELS: readonly number[] = [128, 256, 512];

const SOURCE_ENUM_PREFIX = 'FPN_EXTRA_SOURCE_';
const TOKEN_FORM = 'fpn:<start>-<end>:<channels>[:<extra source>]';

/** The FPN over the registered extra-level sources (the registry passes its table: no import cycle). */
export function fpnNeck(sources: Readonly<Record<FpnExtraSource, FpnExtraSourceFamily>>): NeckFamily<FpnNeck> {
  const kinds = Object.keys(sources) as FpnExtraSource[];
  const known: ReadonlySet<string> = new Set(kinds);
  // The first source is the default: left out of the canonical string and the structure key.
  const [defaultSource] = kinds as [FpnExtraSource];
  const sourceTail = (s: FpnExtraSource): string => (s === defaultSource ? '' : `:${s}`);
  return {
    tokenForm: TOKEN_FORM,
    token: (n) => `fpn:${n.startLevel}-${n.endLevel}:${n.channels}${sourceTail(n.extraSource)}`,
    parseTail(tail, start, at) {
      const m = /^:([^-:]*)-([^:]*):([^:]*)(?::(.*))?$/.exec(tail);
      if (m === null) throw new ArchValidationError('neck.kind', `expected ${TOKEN_FORM}, got ${JSON.stringify(`fpn${tail}`)}`, start - 3);
      const [, lo, hi, c, source] = m as unknown as [string, string, string, string, string | undefined];
      at['neck.start_level'] = start + 1;
      at['neck.end_level'] = at['neck.start_level'] + lo.length + 1;
      at['neck.channels'] = at['neck.end_level'] + hi.length + 1;
      at['neck.extra_source'] = at['neck.channels'] + c.length + 1;
      // The default is never written, so naming it would give a second string for one architecture.
      if (source === defaultSource) {
        throw new ArchValidationError('neck.extra_source', `${source} is the default and is left out of the canonical string`, at['neck.extra_source']);
      }
      return {
        startLevel: canonicalDecimal(lo, 'neck.start_level', at['neck.start_level']),
        endLevel: canonicalDecimal(hi, 'neck.end_level', at['neck.end_level']),
        channels: canonicalDecimal(c, 'neck.channels', at['neck.channels']),
        extraSource: source,
      };
    },
    validate(o, space: ValidationSpace) {
      const startLevel = integer(o['startLevel'], 'neck.start_level');
      const endLevel = integer(o['endLevel'], 'neck.end_level');
      if (startLevel < FPN_MIN_LEVEL || startLevel > FPN_TOP_BACKBONE_LEVEL) {
        fail('neck.start_level', `must be from ${FPN_MIN_LEVEL} to ${FPN_TOP_BACKBONE_LEVEL} (the pyramid starts on a backbone level), got ${startLevel}`);
      }
      if (endLevel <= FPN_MIN_LEVEL || endLevel > FPN_MAX_LEVEL) {
        fail('neck.end_level', `must be from ${FPN_MIN_LEVEL + 1} to ${FPN_MAX_LEVEL}, got ${endLevel}`);
      }
      if (startLevel >= endLevel) {
        fail('neck.end_level', `must be above neck.start_level (${startLevel}), got ${endLevel}: the pyramid runs from P${startLevel} up`);
      }
      const channels = channelsFor(o['channels'], 'neck.channels', space, MODULAR_FPN_CHANNELS, STANDARD_FPN_CHANNELS);
      // Absent: the default source, what a neck without extra levels says.
      const extraSource = o['extraSource'] === undefined ? defaultSource : (member(o['extraSource'], known, 'neck.extra_source', 'fpn extra source') as FpnExtraSource);
      if (endLevel <= FPN_TOP_BACKBONE_LEVEL && extraSource !== defaultSource) {
        fail('neck.extra_source', `${extraSource} is where P6 and P7 come from: it needs neck.end_level 6 or 7, got ${endLevel}`);
      }
      return { kind: 'fpn', startLevel, endLevel, channels, extraSource };
    },
    fromJson(o) {
      const source = pick(o, 'extraSource', 'extra_source');
      return {
        startLevel: pick(o, 'startLevel', 'start_level'),
        endLevel: pick(o, 'endLevel', 'end_level'),
        channels: o['channels'],
        // Protobuf JSON's UNSPECIFIED is the default source, as absence is.
        extraSource: source === `${SOURCE_ENUM_PREFIX}UNSPECIFIED` ? undefined : jsonEnumValue(source, SOURCE_ENUM_PREFIX),
      };
    },
    toWire: (n) => ({
      startLevel: n.startLevel,
      endLevel: n.endLevel,
      channels: n.channels,
      extraSource: domainToEnum(n.extraSource, common.FpnExtraSource, SOURCE_ENUM_PREFIX),
    }),
    fromWire(wire, field) {
      // UNSPECIFIED is the default source.
      const extraSource = wire.extraSource === common.FpnExtraSource.FPN_EXTRA_SOURCE_UNSPECIFIED
        ? defaultSource
        : enumToDomain(wire.extraSource, common.FpnExtraSource, SOURCE_ENUM_PREFIX, kinds, `${field}.extra_source`);
      // 0 means the standard width.
      return { startLevel: wire.startLevel, endLevel: wire.endLevel, channels: wire.channels || STANDARD_FPN_CHANNELS, extraSource };
    },
    structureKey: (n) => `fpn:${n.startLevel}-${n.endLevel}${sourceTail(n.extraSource)}`,
    structuralChoices() {
      const out: FpnNeck[] = [];
      for (let lo = FPN_MIN_LEVEL; lo <= FPN_TOP_BACKBONE_LEVEL; lo++) {
        for (let hi = lo + 1; hi <= FPN_MAX_LEVEL; hi++) {
          // Where the extra levels come from is a choice only when there are extra levels.
          for (const extraSource of hi > FPN_TOP_BACKBONE_LEVEL ? kinds : [defaultSource]) {
            out.push({ kind: 'fpn', startLevel: lo, endLevel: hi, channels: STANDARD_FPN_CHANNELS, extraSource });
          }
        }
      }
      return out;
    },
    width: {
      choices: MODULAR_FPN_CHANNELS,
      get: (n) => n.channels,
      set: (n, channels) => ({ ...n, channels }),
    },
    check(neck, reject) {
      const { startLevel: lo, endLevel: hi } = neck;
      if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= FPN_MIN_LEVEL && lo <= FPN_TOP_BACKBONE_LEVEL && lo < hi && hi <= FPN_MAX_LEVEL)) {
        reject(`fpn levels ${lo}..${hi} not within ${FPN_MIN_LEVEL}..${FPN_MAX_LEVEL} with start <= ${FPN_TOP_BACKBONE_LEVEL} and start < end`);
      }
      const source = sources[neck.extraSource] as FpnExtraSourceFamily | undefined;
      if (!source) reject(`fpn extra source ${String(neck.extraSource)} is not registered`);
      const why = source?.unusableWith?.(neck);
      if (why) reject(why);
    },
    // Backbone stages above the highest level the FPN reads are not executed (P6 and P7 need C5).
    backboneStages: (neck) => Math.min(neck.endLevel, FPN_TOP_BACKBONE_LEVEL) - 1,
    lower(ctx, neck) {
      const { startLevel: lo, endLevel: hi, channels } = neck;
      const s = ctx.sink;
      const top = Math.min(hi, FPN_TOP_BACKBONE_LEVEL);
      ctx.begin('neck', 0, LAYER_FLAGS.neck);
      for (let l = lo; l <= top; l++) {
        s.enterScope('p', l);
        ctx.setFeature(l, ctx.conv('lateral', ctx.level(l), channels, 1, 1, 0, 1, true));
        s.exitScope();
      }
      for (let l = top; l > lo; l--) {
        const below = ctx.feature(l - 1);
        s.enterScope('p', l - 1);
        const up = ctx.resize('upsample', ctx.feature(l), ctx.height(below), ctx.width(below));
        ctx.setFeature(l - 1, ctx.add('add', below, up));
        s.exitScope();
      }
      for (let l = lo; l <= top; l++) {
        s.enterScope('p', l);
        ctx.setFeature(l, ctx.conv('output', ctx.feature(l), channels, 3, 1, 1, 1, true));
        s.output('features', l, ctx.feature(l));
        s.exitScope();
      }
      for (let l = top + 1; l <= hi; l++) {
        s.enterScope('p', l);
        const x = l === top + 1 ? sources[neck.extraSource].p6(ctx, neck) : ctx.conv('output', ctx.act('relu', ctx.feature(l - 1), 'relu'), channels, 3, 2, 1, 1, true);
        ctx.setFeature(l, x);
        s.output('features', l, x);
        s.exitScope();
      }
      return { lo, hi };
    },
  };
}
