import { Inject, Injectable } from '@nestjs/common';
import {
  SignJWT,
  createRemoteJWKSet,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { CoderoomError, type AuthUser, type Role } from '@coderoom/contracts';
import { GATEWAY_CONFIG, type AuthConfig, type GatewayConfig } from '../config/config.js';

/** Algorithms accepted from the identity provider's key set (never `none`, never HS* there). */
const JWKS_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
/**
 * How long fetched keys are trusted before the set is fetched again. Rotations show sooner: a
 * token with an unknown `kid` refetches the set, at most once per JWT_JWKS_COOLDOWN_MS.
 */
const JWKS_CACHE_MS = 10 * 60_000;
/** Most to least privileged: a user with several roles in the claim gets the first. */
const ROLE_ORDER: readonly Role[] = ['admin', 'instructor', 'student'];

/**
 * Verifies API tokens and, in dev mode, issues them. HS256 tokens are checked with JWT_SECRET
 * (local use); any other algorithm against the identity provider's key set (JWT_JWKS_URL),
 * with JWT_ISSUER / JWT_AUDIENCE when configured. The role comes from JWT_ROLE_CLAIM through
 * JWT_ROLE_MAP.
 */
@Injectable()
export class AuthService {
  private readonly auth: AuthConfig;
  private readonly secret: Uint8Array | null;
  private readonly previous: Uint8Array | null;
  private readonly jwks: JWTVerifyGetKey | null;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.auth = config.auth;
    this.secret = this.auth.secret ? new TextEncoder().encode(this.auth.secret) : null;
    this.previous = this.auth.previousSecret
      ? new TextEncoder().encode(this.auth.previousSecret)
      : null;
    this.jwks = this.auth.jwksUrl
      ? createRemoteJWKSet(new URL(this.auth.jwksUrl), {
          cacheMaxAge: JWKS_CACHE_MS,
          cooldownDuration: this.auth.jwksCooldownMs,
          timeoutDuration: 5000,
        })
      : null;
  }

  async verify(token: unknown): Promise<AuthUser> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
      throw unauthorized();
    }
    let payload: JWTPayload;
    try {
      payload = await this.verified(token);
    } catch {
      throw unauthorized();
    }
    const role = this.roleOf(payload);
    // An empty or oversized subject cannot own runs: refuse it at the door, not at run:start.
    // Some issuers use numeric subjects: the same id as a string.
    const sub =
      typeof payload.sub === 'string' || typeof payload.sub === 'number' ? String(payload.sub) : '';
    if (!role || sub.length === 0 || sub.length > 128) throw unauthorized();
    const rawName = claimAt(payload, this.auth.nameClaim);
    const name = typeof rawName === 'string' && rawName.trim() ? rawName.slice(0, 64) : sub;
    return { id: sub, name, role };
  }

  /** Dev mode only: a token for whoever asks. The user id is derived from the name. */
  async issueDevToken(name: string, role: Role): Promise<{ token: string; user: AuthUser }> {
    if (!this.secret) throw new CoderoomError('FORBIDDEN', 'dev tokens need JWT_SECRET');
    const user: AuthUser = { id: `dev:${name}`, name, role };
    const token = await new SignJWT({ name, role })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(`${this.config.devTokenTtlSeconds}s`)
      .sign(this.secret);
    return { token, user };
  }

  private async verified(token: string): Promise<JWTPayload> {
    const { alg } = decodeProtectedHeader(token);
    const requiredClaims = ['sub', 'exp'];
    // HS256 tokens are our own (JWT_SECRET): the provider's issuer and audience are not theirs.
    if (alg === 'HS256' && this.secret) {
      const hs = { requiredClaims, algorithms: ['HS256'] };
      try {
        return (await jwtVerify(token, this.secret, hs)).payload;
      } catch (err) {
        // During a rotation, tokens signed with the previous key are still good.
        if (!this.previous) throw err;
        return (await jwtVerify(token, this.previous, hs)).payload;
      }
    }
    if (this.jwks) {
      const checks = {
        requiredClaims,
        algorithms: JWKS_ALGORITHMS,
        issuer: this.auth.issuer,
        audience: this.auth.audience,
      };
      return (await jwtVerify(token, this.jwks, checks)).payload;
    }
    throw new Error(`no key for alg ${String(alg)}`);
  }

  private roleOf(payload: JWTPayload): Role | undefined {
    const raw = claimAt(payload, this.auth.roleClaim);
    const values = (Array.isArray(raw) ? raw : [raw]).filter(
      (v): v is string => typeof v === 'string',
    );
    const mapped = new Set(
      values.map((v) => (Object.hasOwn(this.auth.roleMap, v) ? this.auth.roleMap[v] : undefined)),
    );
    return ROLE_ORDER.find((r) => mapped.has(r)) ?? this.auth.defaultRole;
  }
}

function unauthorized(): CoderoomError {
  return new CoderoomError('UNAUTHORIZED', 'unauthorized');
}

/** The claim at a dot path (`realm_access.roles`); a claim whose own name has dots wins. */
function claimAt(payload: JWTPayload, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let node: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
