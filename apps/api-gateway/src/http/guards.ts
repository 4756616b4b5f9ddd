import { tokenKey } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { type CanActivate, createParamDecorator, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { assertMayCall, bearerSecret, type Principal } from '../domain/access.js';
import { RateLimiter } from '../services/rate-limiter.js';
import { TokensService } from '../services/tokens.service.js';

/** The parts of an Express request the gateway reads. */
export interface GatewayRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  /** The client address (Express: the socket's peer, as no proxy is trusted). */
  ip?: string;
  socket?: { remoteAddress?: string };
  principal?: Principal;
}

/** The client address of a request, for counting unauthenticated requests. */
export const clientAddress = (req: GatewayRequest): string =>
  req.ip ?? req.socket?.remoteAddress ?? 'unknown';

/** Counts an unauthenticated request (the API docs) against its client address: 429 over the limit. */
@Injectable()
export class AddressRateGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  canActivate(ctx: ExecutionContext): boolean {
    this.limiter.anonymous(clientAddress(ctx.switchToHttp().getRequest()));
    return true;
  }
}

/** Marks a controller or handler as reserved to admin tokens. */
export const AdminOnly = Reflector.createDecorator<boolean>();

/** Whether a request carries a body (RFC 9110: a Content-Length above 0, or chunked transfer). */
export function hasBody(headers: GatewayRequest['headers']): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** Whether a Content-Type is JSON (`application/json`, any parameters). */
export function isJson(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return (value ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/** Refuses a request body that is not JSON with 415, before anything reads it. */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<GatewayRequest>();
    if (hasBody(req.headers) && !isJson(req.headers['content-type']))
      throw new GantryError(
        'UNSUPPORTED_MEDIA_TYPE',
        `request bodies must be JSON (Content-Type: application/json), not ${String(req.headers['content-type'] ?? 'untyped')}`,
      );
    return true;
  }
}

/**
 * Counts the request against its rate limits before anything touches the database — against the
 * hash of its bearer token, or its client address when it has none (429; see `RequestLimits`) —,
 * then authenticates the token (401 when missing or unknown) and applies the role rules (403 when a
 * read token writes, or a non-admin calls an admin endpoint). The principal is then on the request.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokensService,
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<GatewayRequest>();
    const address = clientAddress(req);
    let secret: string;
    try {
      secret = bearerSecret(req.headers['authorization']);
    } catch (error) {
      this.limiter.anonymous(address);
      throw error;
    }
    const hash = tokenKey(secret);
    const ticket = this.limiter.presented(hash, address);
    let principal: Principal;
    try {
      principal = await this.tokens.authenticate(hash);
    } catch (error) {
      // Guessing tokens costs the guesser's address; over its limit, 429 rather than 401.
      if (error instanceof GantryError && error.code === 'UNAUTHORIZED') this.limiter.rejected(ticket);
      throw error;
    }
    this.limiter.authenticated(ticket, principal.tokenName);
    const adminOnly =
      this.reflector.getAllAndOverride(AdminOnly, [ctx.getHandler(), ctx.getClass()]) ?? false;
    assertMayCall(principal, req.method, adminOnly);
    req.principal = principal;
    return true;
  }
}

/** The authenticated caller (controllers guarded by AuthGuard). */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<GatewayRequest>().principal;
  if (!principal)
    throw new GantryError('UNAUTHORIZED', 'missing bearer token: send Authorization: Bearer <token>');
  return principal;
});
