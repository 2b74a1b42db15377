// `sm-nas up`: the local mesh until Ctrl-C.
import { startLocalMesh } from '../mesh.js';

export async function upCommand(options: { 'data-dir': string }): Promise<void> {
  const mesh = await startLocalMesh({ dataDir: options['data-dir'] });
  console.log(`nats ${mesh.natsUrl}`);
  for (const [service, address] of Object.entries(mesh.addresses)) console.log(`${service} ${address}`);
  console.log('press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    const stop = () => void mesh.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
