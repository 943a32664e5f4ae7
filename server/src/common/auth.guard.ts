import {
  Injectable,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { CoderoomError, type AuthUser } from '@coderoom/contracts';
import { AuthService } from '../services/auth.service.js';

interface AuthedRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: AuthUser;
}

/**
 * HTTP routes that need a user: `Authorization: Bearer <token>`, verified like a socket's
 * handshake token. Refusals are UNAUTHORIZED in the API's error shape (controllers/error.filter).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const m = /^Bearer (.+)$/i.exec(typeof header === 'string' ? header : '');
    if (!m) throw new CoderoomError('UNAUTHORIZED', 'unauthorized');
    req.user = await this.auth.verify(m[1]);
    return true;
  }
}

/** The user the AuthGuard verified: `handler(@CurrentUser() user: AuthUser)`. */
export const CurrentUser = createParamDecorator((_: unknown, context: ExecutionContext) => {
  const user = context.switchToHttp().getRequest<AuthedRequest>().user;
  if (!user) throw new Error('CurrentUser used on a route without AuthGuard');
  return user;
});
