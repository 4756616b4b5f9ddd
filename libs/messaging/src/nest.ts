import type {
  EventPayload,
  EventSubject,
  QueryRequest,
  QueryResponse,
  QuerySubject,
  SignalPayload,
  SignalSubject,
} from '@gantry/contracts';
import {
  type ArgumentsHost,
  Catch,
  type DynamicModule,
  Global,
  Module,
  type OnApplicationShutdown,
  type RpcExceptionFilter,
} from '@nestjs/common';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';

import { MessageBus, type MessagingOptions } from './bus.js';

/** A method decorator that makes the compiler check the handler's payload (and reply) type. */
export type HandlerDecorator<In, Out = unknown> = <M extends (data: In, ...rest: never[]) => Out>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;

export interface OnEventOptions {
  /**
   * Messages handled at once (default 1: one at a time, in stream order). More lets a handler that
   * batches its work (and orders by versions in the payload, not by arrival) see many at once; each
   * message is still acked only after its own handler resolves.
   */
  concurrency?: number;
}

/** Handles a catalog event (durable, at-least-once): ack after the handler resolves. */
export const OnEvent = <S extends EventSubject>(
  subject: S,
  opts: OnEventOptions = {},
): HandlerDecorator<EventPayload<S>> =>
  EventPattern(subject as string, { ...opts }) as unknown as HandlerDecorator<EventPayload<S>>;
/** Handles a catalog signal (core NATS, may be lost). */
export const OnSignal = <S extends SignalSubject>(subject: S): HandlerDecorator<SignalPayload<S>> =>
  EventPattern(subject as string) as unknown as HandlerDecorator<SignalPayload<S>>;
/** Answers a catalog query. */
export const OnQuery = <S extends QuerySubject>(
  subject: S,
): HandlerDecorator<QueryRequest<S>, QueryResponse<S> | Promise<QueryResponse<S>>> =>
  MessagePattern(subject as string) as unknown as HandlerDecorator<
    QueryRequest<S>,
    QueryResponse<S> | Promise<QueryResponse<S>>
  >;

/**
 * Lets handler errors reach the transport unchanged, so that it can tell a retryable failure from a
 * permanent one (Nest's default RPC filter would turn every error into a plain object).
 */
@Catch()
export class PassThroughRpcFilter implements RpcExceptionFilter {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}

class BusLifecycle implements OnApplicationShutdown {
  constructor(private readonly bus: MessageBus) {}
  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}

/** Provides the connected `MessageBus` to a service. */
@Global()
@Module({})
export class MessagingModule {
  static forRoot(opts: MessagingOptions): DynamicModule {
    return {
      module: MessagingModule,
      providers: [
        { provide: MessageBus, useFactory: () => MessageBus.connect(opts) },
        {
          provide: BusLifecycle,
          useFactory: (bus: MessageBus) => new BusLifecycle(bus),
          inject: [MessageBus],
        },
      ],
      exports: [MessageBus],
    };
  }
}
