import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

const tracer = trace.getTracer('@gantry/messaging');

/** Headers carrying the active trace context (W3C traceparent), for a message about to be sent. */
export function headersWithTraceContext(): MsgHdrs {
  const h = natsHeaders();
  propagation.inject(context.active(), h, { set: (carrier, key, value) => carrier.set(key, value) });
  return h;
}

export function extractTraceContext(h: MsgHdrs | undefined): Context {
  if (!h) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, h, {
    get: (carrier, key) => carrier.get(key) || undefined,
    keys: (carrier) => carrier.keys(),
  });
}

/** Runs `fn` in a consumer span that continues the producer's trace. */
export async function inConsumerSpan<T>(
  name: string,
  h: MsgHdrs | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER }, extractTraceContext(h), async (span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}
