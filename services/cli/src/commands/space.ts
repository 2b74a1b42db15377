import { architectureToWire } from '@sm-nas/arch/wire';
import { common, searchspace } from '@sm-nas/proto';
import { readArchitectureArg } from '../arch-arg.js';
import { UsageError } from '../usage-error.js';
import { withClient } from '../client.js';
import { grouped, table } from '../format.js';
import { searchSpaceTarget } from '../targets.js';

/** The options of any `space` action (command-table.ts declares which each takes). */
export interface SpaceOptions {
  stage?: 'structural' | 'modular' | undefined;
  count?: number;
  seed?: bigint;
  base?: string | undefined;
  addr?: string | undefined;
  json: boolean;
}

const STAGES = {
  structural: common.SearchStage.SEARCH_STAGE_STRUCTURAL,
  modular: common.SearchStage.SEARCH_STAGE_MODULAR,
} as const;

function stageOf(stage: SpaceOptions['stage']): common.SearchStage {
  return stage === undefined ? common.SearchStage.SEARCH_STAGE_UNSPECIFIED : STAGES[stage];
}

function listArchitectures(archs: readonly common.DescribedArchitecture[]): string {
  return table(
    ['id', 'canonical'],
    archs.map((a) => [a.id, a.canonical]),
  );
}

export async function spaceCommand(sub: string, args: string[], options: SpaceOptions): Promise<string> {
  const base = options.base ? architectureToWire(readArchitectureArg(options.base, '--base')) : undefined;
  const seed = options.seed ?? 0n;
  return withClient(searchSpaceTarget, options.addr, async (client) => {
    switch (sub) {
      case 'get': {
        const space = await client.getSpace({});
        return JSON.stringify(searchspace.GetSpaceResponse.toJSON(space), null, 2);
      }
      case 'size': {
        const size = await client.size({ stage: stageOf(options.stage), base });
        if (options.json) return JSON.stringify(searchspace.SizeResponse.toJSON(size));
        return `${grouped(size.countDecimal)} architectures (10^${size.log10Count.toFixed(2)})`;
      }
      case 'sample': {
        const count = options.count ?? 10;
        const sampled = await client.sample({ stage: stageOf(options.stage), count, seed, base });
        if (options.json) return JSON.stringify(searchspace.SampleResponse.toJSON(sampled), null, 2);
        return listArchitectures(sampled.architectures);
      }
      case 'validate': {
        const architecture = architectureToWire(readArchitectureArg(args[0]));
        const valid = await client.validate({ architecture, stage: stageOf(options.stage) });
        if (options.json) return JSON.stringify(searchspace.ValidateResponse.toJSON(valid), null, 2);
        return `valid: ${valid.architecture?.id} ${valid.architecture?.canonical}`;
      }
      case 'mutate': {
        const architecture = architectureToWire(readArchitectureArg(args[0]));
        const child = await client.mutate({ architecture, stage: stageOf(options.stage), seed });
        if (options.json) return JSON.stringify(searchspace.MutateResponse.toJSON(child), null, 2);
        return listArchitectures(child.architecture ? [child.architecture] : []);
      }
      case 'crossover': {
        const first = architectureToWire(readArchitectureArg(args[0], 'first architecture'));
        const second = architectureToWire(readArchitectureArg(args[1], 'second architecture'));
        const child = await client.crossover({ first, second, stage: stageOf(options.stage), seed });
        if (options.json) return JSON.stringify(searchspace.CrossoverResponse.toJSON(child), null, 2);
        return listArchitectures(child.child ? [child.child] : []);
      }
      default:
        throw new UsageError(`unknown action "space ${sub}"`);
    }
  });
}
