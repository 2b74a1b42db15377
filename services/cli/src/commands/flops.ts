import { architectureToWire } from '@sm-nas/arch/wire';
import { flops } from '@sm-nas/proto';
import { readArchitectureArg, UsageError } from '../arch-arg.js';
import { withClient } from '../client.js';
import { grouped, si, table } from '../format.js';
import { flopsTarget } from '../targets.js';

export const FLOPS_USAGE = `sm-nas flops ARCH [--input WxH] [--form detection|classification] [--classes N]
                 [--proposals N] [--addr HOST:PORT] [--json]
  Multiply-adds (convolutions and fully connected layers) and parameters of a whole detector, per module.`;

export interface FlopsOptions {
  input?: string;
  form?: string;
  classes?: string;
  proposals?: string;
  addr?: string;
  json?: boolean;
}

function parseSize(text: string): { widthPx: number; heightPx: number } {
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match) throw new UsageError(`--input: expected WIDTHxHEIGHT such as 1333x800, got "${text}"`);
  return { widthPx: Number(match[1]), heightPx: Number(match[2]) };
}

function parseCount(text: string | undefined, flag: string): number {
  if (text === undefined) return 0;
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag}: expected a whole number, got "${text}"`);
  return Number(text);
}

export async function flopsCommand(archText: string | undefined, options: FlopsOptions): Promise<string> {
  const arch = readArchitectureArg(archText);
  const form =
    options.form === undefined || options.form === 'detection'
      ? flops.ModelForm.MODEL_FORM_DETECTION
      : options.form === 'classification'
        ? flops.ModelForm.MODEL_FORM_CLASSIFICATION
        : undefined;
  if (form === undefined) throw new UsageError(`--form: expected detection or classification, got "${options.form}"`);
  const request: flops.CountRequest = {
    architecture: architectureToWire(arch),
    input: options.input ? parseSize(options.input) : undefined,
    form,
    numClasses: parseCount(options.classes, '--classes'),
    proposals: parseCount(options.proposals, '--proposals'),
  };
  const response = await withClient(flopsTarget, options.addr, (client) => client.count(request));
  if (options.json) return JSON.stringify(flops.CountResponse.toJSON(response), null, 2);

  const rows = response.modules.map((m) => [
    m.name,
    si(m.flopsMultiplyAdds),
    grouped(m.params),
    m.perProposalFlopsMultiplyAdds ? si(m.perProposalFlopsMultiplyAdds) : '',
  ]);
  rows.push(['total', si(response.flopsMultiplyAdds), grouped(response.params), response.perProposalFlopsMultiplyAdds ? si(response.perProposalFlopsMultiplyAdds) : '']);
  const input = response.input ? `${response.input.widthPx}x${response.input.heightPx}` : '?';
  const lines = [
    `architecture ${response.architectureId} at ${input}`,
    `multiply-adds ${grouped(response.flopsMultiplyAdds)} (${si(response.flopsMultiplyAdds)}), parameters ${grouped(response.params)}`,
  ];
  if (response.proposals) {
    lines.push(`R-CNN heads: ${grouped(response.perProposalFlopsMultiplyAdds)} multiply-adds per proposal, ${response.proposals} proposals assumed`);
  }
  lines.push('', table(['module', 'multiply-adds', 'params', 'per proposal'], rows));
  return lines.join('\n');
}
