// `sm-nas demo`: the local mesh end to end. It samples structural candidates
// from the searchspace service and has the flops service analyse every full detector, over gRPC
// between separate processes, with nats-server (JetStream) up beside them.
import { flops, common } from '@sm-nas/proto';
import { createChannel, createClient } from 'nice-grpc';
import { grouped, si, table } from '../format.js';
import { startLocalMesh } from '../mesh.js';
import { searchspace } from '@sm-nas/proto';

export interface DemoOptions {
  dataDir: string;
  count: number;
  seed: bigint;
}

export async function demoCommand(options: DemoOptions): Promise<string> {
  const mesh = await startLocalMesh({ dataDir: options.dataDir, log: 'ignore', services: ['searchspace', 'flops'] });
  const channels = [createChannel(mesh.addresses.searchspace!), createChannel(mesh.addresses.flops!)];
  try {
    const space = createClient(searchspace.SearchSpaceServiceDefinition, channels[0]!);
    const counter = createClient(flops.FlopsServiceDefinition, channels[1]!);
    const { countDecimal } = await space.size({ stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL });
    const { architectures } = await space.sample({
      stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL,
      count: options.count,
      seed: options.seed,
    });
    const counted = await Promise.all(
      architectures.map(async (a) => ({ arch: a, flops: await counter.count({ architecture: a.architecture }) })),
    );
    counted.sort((x, y) => Number(x.flops.flopsMultiplyAdds - y.flops.flopsMultiplyAdds));
    const rows = counted.map(({ arch, flops: f }) => [
      arch.id,
      si(f.flopsMultiplyAdds),
      grouped(f.params),
      arch.canonical,
    ]);
    return [
      `local mesh: nats-server ${mesh.natsUrl} (JetStream in ${mesh.dataDir}), searchspace ${mesh.addresses.searchspace}, flops ${mesh.addresses.flops}`,
      `structural space: ${grouped(countDecimal)} valid combinations; ${architectures.length} sampled with seed ${options.seed}:`,
      '',
      table(['id', 'multiply-adds', 'params', 'architecture'], rows),
    ].join('\n');
  } finally {
    for (const c of channels) c.close();
    await mesh.stop();
  }
}
