import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

let sdk: NodeSDK | undefined;

/**
 * Starts OpenTelemetry tracing for this process: W3C trace context is always propagated (through HTTP
 * headers and NATS message headers); spans are exported over OTLP/HTTP when `otlpEndpoint` is set.
 */
export function startTelemetry(serviceName: string, otlpEndpoint?: string): void {
  if (sdk) return;
  sdk = new NodeSDK({
    serviceName,
    spanProcessors: otlpEndpoint
      ? [
          new BatchSpanProcessor(
            new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/$/, '')}/v1/traces` }),
          ),
        ]
      : [],
    instrumentations: [],
  });
  sdk.start();
}

export async function stopTelemetry(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
}
