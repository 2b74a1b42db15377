// How the CLI reaches a service: at an address the user gave (flag or `<SERVICE>_ADDR`), or on a
// server started in this process on loopback for the one command. Either way the command goes
// through the gRPC API, so the CLI shows what any client of the contract sees.
import type { RunningServer, ServerLogger } from '@sm-nas/service-kit';
import { createChannel, createClient, type Channel, type CompatServiceDefinition, type Client } from 'nice-grpc';

export interface ServiceTarget<D extends CompatServiceDefinition> {
  definition: D;
  /** e.g. SEARCHSPACE_ADDR */
  addrEnv: string;
  startLocal(options: { host: string; port: number; logger?: ServerLogger }): Promise<RunningServer>;
}

export async function withClient<D extends CompatServiceDefinition, T>(
  target: ServiceTarget<D>,
  addr: string | undefined,
  fn: (client: Client<D>) => Promise<T>,
): Promise<T> {
  const address = addr ?? process.env[target.addrEnv];
  let server: RunningServer | undefined;
  let channel: Channel | undefined;
  try {
    if (address) {
      channel = createChannel(address);
    } else {
      server = await target.startLocal({ host: '127.0.0.1', port: 0, logger: quietLogger });
      channel = createChannel(server.address);
    }
    return await fn(createClient(target.definition, channel));
  } finally {
    channel?.close();
    await server?.shutdown({ graceMs: 1000 });
  }
}

/** In-process servers for a single command should not chat on the terminal. */
export const quietLogger: ServerLogger = {
  info: () => {},
  error: (message: string) => console.error(message),
};
