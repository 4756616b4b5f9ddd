import { type OutgoingHttpHeaders, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

import { type ErrorBody, HTTP_STATUS } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { isTransient } from '@gantry/messaging';
import {
  type ArgumentsHost,
  type CallHandler,
  Catch,
  type ExceptionFilter,
  type ExecutionContext,
  HttpException,
  Injectable,
  Logger,
  type NestInterceptor,
} from '@nestjs/common';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Observable } from 'rxjs';

interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  route?: { path?: string };
}
interface HttpResponse {
  headersSent: boolean;
  statusCode: number;
  status(code: number): HttpResponse;
  setHeader(name: string, value: string): void;
  json(body: unknown): void;
}

/** Translates any error escaping a controller into the JSON error body of DESIGN.md, never a stack. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('HttpErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse<HttpResponse>();
    const req = http.getRequest<HttpRequest>();
    const { status, body, headers } = this.translate(exception, req);
    if (status >= 500) this.log.error(`${req.method} ${req.url} → ${status}: ${describe(exception)}`);
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(status).json(body);
  }

  private translate(
    exception: unknown,
    req: HttpRequest,
  ): { status: number; body: ErrorBody; headers: Record<string, string> } {
    if (exception instanceof GantryError) {
      const headers: Record<string, string> = {};
      const retryAfter = (exception.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (exception.code === 'RATE_LIMITED' && retryAfter) headers['Retry-After'] = String(retryAfter);
      if (exception.code === 'UNAUTHORIZED') headers['WWW-Authenticate'] = 'Bearer';
      return { status: exception.status, body: exception.toBody(), headers };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const message = exception.message;
      switch (status) {
        case 400:
          return {
            status,
            body: { error: 'INVALID_JSON', message: `the request body is not valid JSON: ${message}` },
            headers: {},
          };
        case 404:
          return {
            status,
            body: { error: 'NOT_FOUND', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` },
            headers: {},
          };
        case 413:
          return {
            status,
            body: { error: 'PAYLOAD_TOO_LARGE', message: 'the request body is too large' },
            headers: {},
          };
        default: {
          const code = (Object.keys(HTTP_STATUS) as Array<keyof typeof HTTP_STATUS>).find(
            (c) => HTTP_STATUS[c] === status,
          );
          return { status, body: { error: code ?? 'BAD_REQUEST', message }, headers: {} };
        }
      }
    }
    // The database or NATS down, restarting or slow: the request may succeed shortly.
    if (isTransient(exception))
      return {
        status: 503,
        body: {
          error: 'UNAVAILABLE',
          message: 'a service this request needs is unavailable for a moment; retry shortly',
        },
        headers: { 'Retry-After': '2' },
      };
    return { status: 500, body: { error: 'INTERNAL', message: 'an internal error occurred' }, headers: {} };
  }
}

/** A server span per HTTP request, continuing the caller's trace (W3C traceparent). */
@Injectable()
export class TracingInterceptor implements NestInterceptor {
  private readonly tracer = trace.getTracer('@gantry/runtime');

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<HttpRequest>();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers, {
      get: (carrier, key) => {
        const v = carrier[key];
        return Array.isArray(v) ? v[0] : v;
      },
      keys: (carrier) => Object.keys(carrier),
    });
    const span = this.tracer.startSpan(
      `${req.method} ${req.route?.path ?? req.url.split('?')[0]}`,
      { kind: SpanKind.SERVER },
      parent,
    );
    const active = trace.setSpan(parent, span);
    return new Observable((subscriber) => {
      const sub = context
        .with(active, () => next.handle())
        .subscribe({
          next: (v) => subscriber.next(v),
          error: (e: unknown) => {
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
            subscriber.error(e);
          },
          complete: () => {
            span.end();
            subscriber.complete();
          },
        });
      return () => sub.unsubscribe();
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Writes a whole JSON response straight to a socket and closes it: for answers given before (or
 * instead of) an HTTP request object, such as a request Node's parser refuses or a refused upgrade.
 */
export function writeRawJson(
  socket: Duplex,
  status: number,
  body: ErrorBody,
  headers: OutgoingHttpHeaders = {},
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text = JSON.stringify(body);
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${String(v)}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Cache-Control: no-store\r\nConnection: close\r\n' +
      extra +
      '\r\n' +
      text,
  );
}

/**
 * Answers a request Node's HTTP parser refuses (a `clientError`: headers or URL too large, not
 * HTTP at all) with the JSON error body like any other error, instead of Node's bare status line.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  writeRawJson(socket, tooLarge ? 431 : 400, {
    error: 'BAD_REQUEST',
    message: tooLarge ? 'the request line and headers are too large' : 'the request is not valid HTTP',
  });
}
