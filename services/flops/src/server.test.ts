// FlopsService over real gRPC on 127.0.0.1: an enum value the proto does not define is refused with
// INVALID_ARGUMENT naming the field, not counted as some form it happens to fall through to.
// (tests/grpc-contract.test.ts covers the counting itself.)
import { parseCanonical } from '@sm-nas/arch';
import { architectureToWire } from '@sm-nas/arch/wire';
import { flops } from '@sm-nas/proto';
import type { RunningServer } from '@sm-nas/service-kit';
import { ClientError, Status, createChannel, createClient, type Channel, type Client } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFlopsServer } from './index.js';

const quiet = { info: () => {}, error: () => {} };
let server: RunningServer;
let channel: Channel;
let client: Client<typeof flops.FlopsServiceDefinition>;

beforeAll(async () => {
  server = await startFlopsServer({ host: '127.0.0.1', port: 0, logger: quiet });
  channel = createChannel(server.address);
  client = createClient(flops.FlopsServiceDefinition, channel);
});

afterAll(async () => {
  channel?.close();
  await server?.shutdown({ graceMs: 1000 });
});

const architecture = architectureToWire(parseCanonical('resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512'));

describe('FlopsService.Count form', () => {
  it('refuses a form value the proto does not define, naming the field', async () => {
    // 42 goes on the wire as its number (what a client built from a newer proto sends); -1 is
    // ts-proto's UNRECOGNIZED, sent as a negative int32.
    for (const form of [42, -1, flops.ModelForm.MODEL_FORM_CLASSIFICATION + 1]) {
      const error = await client.count({ architecture, form: form as flops.ModelForm }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, String(form)).toBeInstanceOf(ClientError);
      expect((error as ClientError).code, String(form)).toBe(Status.INVALID_ARGUMENT);
      expect((error as ClientError).details, String(form)).toMatch(new RegExp(`^form: unknown value ${form} `));
    }
  });

  it('counts UNSPECIFIED as detection, as the proto says, and keeps serving after a refusal', async () => {
    const unspecified = await client.count({ architecture, form: flops.ModelForm.MODEL_FORM_UNSPECIFIED });
    const detection = await client.count({ architecture, form: flops.ModelForm.MODEL_FORM_DETECTION });
    const classification = await client.count({ architecture, form: flops.ModelForm.MODEL_FORM_CLASSIFICATION });
    expect(unspecified.flopsMultiplyAdds).toBe(detection.flopsMultiplyAdds);
    expect(unspecified.modules).toEqual(detection.modules);
    // The classifier form has a classifier and no detection head: a different count.
    expect(classification.modules.map((m) => m.name)).toContain('backbone.classifier');
    expect(detection.modules.map((m) => m.name)).not.toContain('backbone.classifier');
  });
});
