import { Inject, Injectable } from '@nestjs/common';
import { SignJWT, jwtVerify } from 'jose';
import { CoderoomError, ROLES, type AuthUser, type Role } from '@coderoom/contracts';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';

/** Verifies API tokens (JWT, HS256 with JWT_SECRET) and, in dev mode, issues them. */
@Injectable()
export class AuthService {
  private readonly key: Uint8Array;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.key = new TextEncoder().encode(config.jwtSecret);
  }

  async verify(token: unknown): Promise<AuthUser> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
      throw new CoderoomError('UNAUTHORIZED', 'unauthorized');
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'exp'],
      });
      const role = payload.role;
      if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
        throw new Error('bad role');
      }
      // An empty or oversized subject cannot own runs: refuse it at the door, not at run:start.
      // Some issuers use numeric subjects: the same id as a string.
      const sub =
        typeof payload.sub === 'string' || typeof payload.sub === 'number'
          ? String(payload.sub)
          : '';
      if (sub.length === 0 || sub.length > 128) throw new Error('bad sub');
      const name =
        typeof payload.name === 'string' && payload.name.trim() ? payload.name.slice(0, 64) : sub;
      return { id: sub, name, role: role as Role };
    } catch {
      throw new CoderoomError('UNAUTHORIZED', 'unauthorized');
    }
  }

  /** Dev mode only: a token for whoever asks. The user id is derived from the name. */
  async issueDevToken(name: string, role: Role): Promise<{ token: string; user: AuthUser }> {
    const user: AuthUser = { id: `dev:${name}`, name, role };
    const token = await new SignJWT({ name, role })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(`${this.config.devTokenTtlSeconds}s`)
      .sign(this.key);
    return { token, user };
  }
}
