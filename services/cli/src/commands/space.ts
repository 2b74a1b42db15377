import { architectureToWire } from '@sm-nas/arch/wire';
import { common, searchspace } from '@sm-nas/proto';
import { readArchitectureArg, readSeedArg, UsageError } from '../arch-arg.js';
import { withClient } from '../client.js';
import { grouped, table } from '../format.js';
import { searchSpaceTarget } from '../targets.js';

export const SPACE_USAGE = `sm-nas space get                                   choices and bounds of both stages
sm-nas space size --stage structural|modular [--base ARCH]
sm-nas space sample --stage S [--count N] [--seed N] [--base ARCH]
sm-nas space validate ARCH [--stage S]
sm-nas space mutate ARCH --stage S [--seed N]
sm-nas space crossover ARCH ARCH --stage S [--seed N]
  common flags: --addr HOST:PORT (else SEARCHSPACE_ADDR, else an in-process server), --json
  ARCH: a canonical string, JSON (camelCase or snake_case), or @file`;

export interface SpaceOptions {
  stage?: string;
  count?: string;
  seed?: string;
  base?: string;
  addr?: string;
  json?: boolean;
}

function stageOf(text: string | undefined, required: boolean): common.SearchStage {
  if (text === 'structural') return common.SearchStage.SEARCH_STAGE_STRUCTURAL;
  if (text === 'modular') return common.SearchStage.SEARCH_STAGE_MODULAR;
  if (text === undefined && !required) return common.SearchStage.SEARCH_STAGE_UNSPECIFIED;
  throw new UsageError(`--stage: expected structural or modular${text === undefined ? '' : `, got "${text}"`}`);
}

function wholeNumber(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag}: expected a whole number, got "${text}"`);
  }
  return Number(text);
}

function listArchitectures(archs: readonly common.DescribedArchitecture[]): string {
  return table(
    ['id', 'canonical'],
    archs.map((a) => [a.id, a.canonical]),
  );
}

export async function spaceCommand(sub: string | undefined, args: string[], options: SpaceOptions): Promise<string> {
  const base = options.base ? architectureToWire(readArchitectureArg(options.base, '--base')) : undefined;
  const seed = readSeedArg(options.seed, '--seed', 0n);
  return withClient(searchSpaceTarget, options.addr, async (client) => {
    switch (sub) {
      case 'get': {
        const space = await client.getSpace({});
        return JSON.stringify(searchspace.GetSpaceResponse.toJSON(space), null, 2);
      }
      case 'size': {
        const size = await client.size({ stage: stageOf(options.stage, true), base });
        if (options.json) return JSON.stringify(searchspace.SizeResponse.toJSON(size));
        return `${grouped(size.countDecimal)} architectures (10^${size.log10Count.toFixed(2)})`;
      }
      case 'sample': {
        const count = wholeNumber(options.count, '--count', 10);
        const sampled = await client.sample({ stage: stageOf(options.stage, true), count, seed, base });
        if (options.json) return JSON.stringify(searchspace.SampleResponse.toJSON(sampled), null, 2);
        return listArchitectures(sampled.architectures);
      }
      case 'validate': {
        const architecture = architectureToWire(readArchitectureArg(args[0]));
        const valid = await client.validate({ architecture, stage: stageOf(options.stage, false) });
        if (options.json) return JSON.stringify(searchspace.ValidateResponse.toJSON(valid), null, 2);
        return `valid: ${valid.architecture?.id} ${valid.architecture?.canonical}`;
      }
      case 'mutate': {
        const architecture = architectureToWire(readArchitectureArg(args[0]));
        const child = await client.mutate({ architecture, stage: stageOf(options.stage, true), seed });
        if (options.json) return JSON.stringify(searchspace.MutateResponse.toJSON(child), null, 2);
        return listArchitectures(child.architecture ? [child.architecture] : []);
      }
      case 'crossover': {
        const first = architectureToWire(readArchitectureArg(args[0], 'first architecture'));
        const second = architectureToWire(readArchitectureArg(args[1], 'second architecture'));
        const child = await client.crossover({ first, second, stage: stageOf(options.stage, true), seed });
        if (options.json) return JSON.stringify(searchspace.CrossoverResponse.toJSON(child), null, 2);
        return listArchitectures(child.child ? [child.child] : []);
      }
      default:
        throw new UsageError(`unknown subcommand "space ${sub ?? ''}"\n${SPACE_USAGE}`);
    }
  });
}
