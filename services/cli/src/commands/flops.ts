import { architectureToWire } from '@sm-nas/arch/wire';
import { flops } from '@sm-nas/proto';
import { readArchitectureArg } from '../arch-arg.js';
import type { FLOPS_OPTIONS } from '../command-table.js';
import type { OptionValues } from '../options.js';
import { withClient } from '../client.js';
import { grouped, si, table } from '../format.js';
import { flopsTarget } from '../targets.js';

export type FlopsOptions = OptionValues<typeof FLOPS_OPTIONS>;

const FORMS = {
  detection: flops.ModelForm.MODEL_FORM_DETECTION,
  classification: flops.ModelForm.MODEL_FORM_CLASSIFICATION,
} as const;

export async function flopsCommand(archText: string | undefined, options: FlopsOptions): Promise<string> {
  const arch = readArchitectureArg(archText);
  const request: flops.CountRequest = {
    architecture: architectureToWire(arch),
    input: options.input,
    form: FORMS[options.form],
    // 0: the service's default.
    numClasses: options.classes ?? 0,
    proposals: options.proposals ?? 0,
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
