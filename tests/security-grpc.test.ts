// gRPC transport security and limits on the real flops service over loopback: mutual TLS refuses
// a client without a certificate, with a certificate from another CA, or speaking plaintext; a
// bearer-token server refuses a call without the token or with a wrong one; an oversized request
// gets RESOURCE_EXHAUSTED and an oversized input INVALID_ARGUMENT, and the server goes on serving.
// Certificates are made by openssl at test time (security-pki.ts).
import { startFlopsServer } from '@sm-nas/flops-service';
import { common, controller, flops, suggestion } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import { startSuggestionServer } from '@sm-nas/suggestion';
import {
  bearerTokenClientMiddleware,
  channelCredentials,
  loadLimits,
  loadSecurityConfig,
  type RunningServer,
} from '@sm-nas/service-kit';
import { ChannelCredentials } from '@grpc/grpc-js';
import { ClientError, Status, createChannel, createClient, createClientFactory, type Channel } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { HealthCheckResponse_ServingStatus } from 'nice-grpc-server-health/lib/proto/grpc/health/v1/health.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from './security-pki.js';

const quiet = { info: () => {}, error: () => {} };
const { BackboneKind, NeckKind, RpnKind, HeadKind } = common;

function resnet18Retina(): common.Architecture {
  return {
    backbone: { kind: BackboneKind.BACKBONE_KIND_RESNET18, baseChannels: 64, blocks: '11-21-21-21' },
    neck: { kind: NeckKind.NECK_KIND_FPN, startLevel: 3, endLevel: 6, channels: 256, extraSource: 0 },
    rpn: RpnKind.RPN_KIND_NONE,
    head: { kind: HeadKind.HEAD_KIND_RETINANET, stages: 0, channels: 256 },
    input: { widthPx: 512, heightPx: 512 },
  };
}

async function statusOf(call: Promise<unknown>): Promise<{ code: Status; details: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ClientError) return { code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected the call to fail');
}

let pki: TestPki;
const servers: RunningServer[] = [];
const channels: Channel[] = [];

function channel(address: string, credentials?: ChannelCredentials): Channel {
  // Verify the server as `localhost` (a DNS SAN of its certificate): a TLS server name may not be
  // an IP address (RFC 6066), and Node warns when it is.
  const c = createChannel(address, credentials, credentials ? { 'grpc.ssl_target_name_override': 'localhost' } : {});
  channels.push(c);
  return c;
}

// A refused TLS handshake fails fast with UNAVAILABLE; the 5 s abort signals only bound a hang.

beforeAll(() => {
  pki = createTestPki();
});

afterAll(async () => {
  for (const c of channels) c.close();
  await Promise.all(servers.map((s) => s.shutdown({ graceMs: 1000 })));
  pki?.remove();
});

describe('mutual TLS between services', () => {
  it("lets the suggestion service reach a mutual-TLS searchspace service with its own certificate", async () => {
    // The cluster layout: every service mounts the same Secret and reads the same variables.
    const env = { GRPC_TLS_CERT_FILE: pki.peer.certFile, GRPC_TLS_KEY_FILE: pki.peer.keyFile, GRPC_TLS_CA_FILE: pki.ca.certFile };
    const space = await startSearchSpaceServer({ host: '127.0.0.1', port: 0, logger: quiet, security: loadSecurityConfig('searchspace', env) });
    servers.push(space);
    const algorithms = await startSuggestionServer({ host: '127.0.0.1', port: 0, logger: quiet, security: loadSecurityConfig('suggestion', env) });
    servers.push(algorithms);
    const client = createClient(
      suggestion.SuggestionServiceDefinition,
      channel(algorithms.address, channelCredentials({ ca: pki.ca.cert, certChain: pki.client.cert, privateKey: pki.client.key })),
    );
    const spec = controller.SearchSpec.fromPartial({
      algorithm: { name: 'random', suggestionAddress: '', settings: {} },
      structural: { maxCandidates: 4, populationSize: 2, paretoModels: 0 },
      seed: 1,
    });
    const res = await client.getSuggestions(
      { spec, stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL, history: [], count: 2, seed: 1, stageSeeds: [], searchspaceAddress: space.address },
      { signal: AbortSignal.timeout(10_000) },
    );
    expect(res.suggestions).toHaveLength(2);
  });
});

describe('mutual TLS', () => {
  let server: RunningServer;

  beforeAll(async () => {
    // The same variables a pod gets from its mounted Secret.
    const security = loadSecurityConfig('flops', {
      GRPC_TLS_CERT_FILE: pki.server.certFile,
      GRPC_TLS_KEY_FILE: pki.server.keyFile,
      GRPC_TLS_CA_FILE: pki.ca.certFile,
      GRPC_HEALTH_PORT: '0',
    });
    expect(security.tls?.requireClientCert).toBe(true);
    server = await startFlopsServer({ host: '127.0.0.1', port: 0, logger: quiet, security });
    servers.push(server);
  });

  it('serves a client with a certificate from the trusted CA', async () => {
    const client = createClient(
      flops.FlopsServiceDefinition,
      channel(server.address, channelCredentials({ ca: pki.ca.cert, certChain: pki.client.cert, privateKey: pki.client.key })),
    );
    const res = await client.count({ architecture: resnet18Retina() }, { signal: AbortSignal.timeout(5000) });
    expect(res.flopsMultiplyAdds).toBeGreaterThan(0);
  });

  it('refuses a client without a certificate', async () => {
    const client = createClient(flops.FlopsServiceDefinition, channel(server.address, ChannelCredentials.createSsl(pki.ca.cert)));
    const { code } = await statusOf(client.count({ architecture: resnet18Retina() }, { signal: AbortSignal.timeout(5000) }));
    expect(code).toBe(Status.UNAVAILABLE);
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const client = createClient(
      flops.FlopsServiceDefinition,
      channel(server.address, ChannelCredentials.createSsl(pki.ca.cert, pki.rogueClient.key, pki.rogueClient.cert)),
    );
    const { code } = await statusOf(client.count({ architecture: resnet18Retina() }, { signal: AbortSignal.timeout(5000) }));
    expect(code).toBe(Status.UNAVAILABLE);
  });

  it('refuses a plaintext client', async () => {
    const client = createClient(flops.FlopsServiceDefinition, channel(server.address));
    const { code } = await statusOf(client.count({ architecture: resnet18Retina() }, { signal: AbortSignal.timeout(5000) }));
    expect(code).toBe(Status.UNAVAILABLE);
  });

  it('is not trusted by a client that trusts another CA', async () => {
    const client = createClient(
      flops.FlopsServiceDefinition,
      channel(server.address, ChannelCredentials.createSsl(pki.rogueCa.cert, pki.client.key, pki.client.cert)),
    );
    const { code } = await statusOf(client.count({ architecture: resnet18Retina() }, { signal: AbortSignal.timeout(5000) }));
    expect(code).toBe(Status.UNAVAILABLE);
  });

  it('answers kubelet-style plaintext health checks on the health port only', async () => {
    expect(server.healthPort).toBeGreaterThan(0);
    const health = createClient(HealthDefinition, channel(`127.0.0.1:${server.healthPort}`));
    const res = await health.check({ service: 'nas.flops.v1.FlopsService' }, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    // The health port carries nothing else.
    const counter = createClient(flops.FlopsServiceDefinition, channel(`127.0.0.1:${server.healthPort}`));
    const { code } = await statusOf(counter.count({ architecture: resnet18Retina() }, { signal: AbortSignal.timeout(5000) }));
    expect(code).toBe(Status.UNIMPLEMENTED);
  });
});

describe('bearer token', () => {
  const token = 'test-only-token-7f3a9c2e51d84b06';
  let address: string;

  beforeAll(async () => {
    const security = loadSecurityConfig('flops', { FLOPS_AUTH_TOKEN: token });
    const server = await startFlopsServer({ host: '127.0.0.1', port: 0, logger: quiet, security });
    servers.push(server);
    address = server.address;
  });

  it('refuses a call without a token', async () => {
    const client = createClient(flops.FlopsServiceDefinition, channel(address));
    const { code, details } = await statusOf(client.count({ architecture: resnet18Retina() }));
    expect(code).toBe(Status.UNAUTHENTICATED);
    expect(details).toMatch(/missing bearer token/);
  });

  it('refuses a wrong token', async () => {
    const client = createClientFactory()
      .use(bearerTokenClientMiddleware('wrong-token-but-long-enough'))
      .create(flops.FlopsServiceDefinition, channel(address));
    const { code, details } = await statusOf(client.count({ architecture: resnet18Retina() }));
    expect(code).toBe(Status.UNAUTHENTICATED);
    expect(details).toBe('invalid bearer token');
  });

  it('serves the right token, and health checks without one', async () => {
    const client = createClientFactory().use(bearerTokenClientMiddleware(token)).create(flops.FlopsServiceDefinition, channel(address));
    expect((await client.count({ architecture: resnet18Retina() })).flopsMultiplyAdds).toBeGreaterThan(0);
    const health = createClient(HealthDefinition, channel(address));
    expect((await health.check({ service: '' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});

describe('limits', () => {
  let address: string;
  const limit = loadLimits({ SM_NAS_MAX_MESSAGE_BYTES: String(64 * 1024) });

  beforeAll(async () => {
    const server = await startFlopsServer({ host: '127.0.0.1', port: 0, logger: quiet, maxReceiveMessageBytes: limit.maxMessageBytes });
    servers.push(server);
    address = server.address;
  });

  it('answers an oversized request with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const client = createClient(flops.FlopsServiceDefinition, channel(address));
    const huge = resnet18Retina();
    huge.backbone!.blocks = '1'.repeat(limit.maxMessageBytes + 1);
    const { code } = await statusOf(client.count({ architecture: huge }));
    expect(code).toBe(Status.RESOURCE_EXHAUSTED);
    // Same channel, same server: the next normal call is served.
    expect((await client.count({ architecture: resnet18Retina() })).flopsMultiplyAdds).toBeGreaterThan(0);
  });

  it('answers an oversized input with INVALID_ARGUMENT naming the field, and keeps serving', async () => {
    const client = createClient(flops.FlopsServiceDefinition, channel(address));
    const { code, details } = await statusOf(client.count({ architecture: resnet18Retina(), input: { widthPx: 100_000, heightPx: 512 } }));
    expect(code).toBe(Status.INVALID_ARGUMENT);
    expect(details).toMatch(/^input/);
    expect((await client.count({ architecture: resnet18Retina() })).flopsMultiplyAdds).toBeGreaterThan(0);
  });

  it('applies the default 4 MiB limit when none is configured', async () => {
    const server = await startFlopsServer({ host: '127.0.0.1', port: 0, logger: quiet });
    servers.push(server);
    const client = createClient(flops.FlopsServiceDefinition, channel(server.address));
    const huge = resnet18Retina();
    huge.backbone!.blocks = '1'.repeat(4 * 1024 * 1024 + 1);
    expect((await statusOf(client.count({ architecture: huge }))).code).toBe(Status.RESOURCE_EXHAUSTED);
    expect((await client.count({ architecture: resnet18Retina() })).flopsMultiplyAdds).toBeGreaterThan(0);
  });
});
