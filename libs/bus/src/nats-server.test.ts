import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, natsServerBinary, startNatsServer } from './nats-server.js';

describe('startNatsServer', () => {
  const saved = process.env.NATS_SERVER_BIN;
  afterEach(() => {
    if (saved === undefined) delete process.env.NATS_SERVER_BIN;
    else process.env.NATS_SERVER_BIN = saved;
  });

  it('starts on the given port, accepts connections, and stops', async () => {
    const port = await freePort();
    const server = await startNatsServer({ port });
    expect(server.url).toBe(`nats://127.0.0.1:${port}`);
    expect(server.storeDir).toBeUndefined();
    const nc = await connect({ servers: server.url });
    await nc.close();
    await server.stop();
    await expect(connect({ servers: server.url, reconnect: false, timeout: 500 })).rejects.toThrow();
  });

  it('says how to install nats-server when it is missing', () => {
    process.env.NATS_SERVER_BIN = '/nonexistent/nats-server';
    expect(() => natsServerBinary()).toThrow(/NATS_SERVER_BIN=\/nonexistent\/nats-server: no such file/);
  });

  it('reports a server that cannot start, with its output', async () => {
    const taken = await startNatsServer();
    try {
      await expect(startNatsServer({ port: taken.port, startTimeoutMs: 3000 })).rejects.toThrow(/nats-server .* exited/);
    } finally {
      await taken.stop();
    }
  });
});
