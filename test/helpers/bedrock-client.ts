// The AWS SDK's Bedrock Runtime client as the tests drive the gateway with it.
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';

/** Hands each answer's HTTP headers to `seen`: the SDK's output keeps none of the gateway's (`Ngrok-AIG-*`). */
export function seeingHeaders(client: BedrockRuntimeClient, seen: (headers: Record<string, string>) => void): BedrockRuntimeClient {
  client.middlewareStack.add((next) => async (args) => {
    const out = await next(args);
    seen((out.response as { headers: Record<string, string> }).headers);
    return out;
  }, { step: 'deserialize', name: 'gatewayHeaders' });
  return client;
}
