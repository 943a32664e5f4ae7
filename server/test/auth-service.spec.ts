import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { loadGatewayConfig } from '../src/config/config.js';
import { TestIdentityProvider, unsignedToken } from './jwks.js';
import { AuthService } from '../src/services/auth.service.js';

// A real JWKS endpoint over HTTP (the test's own), not a mocked key resolver.
const idp = new TestIdentityProvider();
const SECRET = 'local-secret-0123456789';

function service(env: Record<string, string>): AuthService {
  const config = loadGatewayConfig({
    REDIS_URL: 'redis://127.0.0.1:1',
    MONGODB_URI: 'mongodb://127.0.0.1:1/x',
    ...env,
  });
  return new AuthService(config);
}

beforeAll(async () => {
  await idp.start();
});
afterAll(async () => {
  await idp.stop();
});

describe('AuthService with an identity provider (JWKS)', () => {
  const env = () => ({
    JWT_JWKS_URL: idp.url,
    JWT_ISSUER: idp.issuer,
    JWT_AUDIENCE: idp.audience,
    JWT_ROLE_CLAIM: 'realm_access.roles',
    JWT_ROLE_MAP: '{"teacher":"instructor","learner":"student"}',
  });

  it('accepts an RS256 token from the key set and maps the role claim', async () => {
    const auth = service(env());
    const token = await idp.token({ sub: 'u1', realm_access: { roles: ['learner', 'teacher'] } });
    await expect(auth.verify(token)).resolves.toEqual({
      id: 'u1',
      name: 'Ada',
      role: 'instructor',
    });
  });

  it('picks up a rotated key (a new kid refetches the set) and refuses the withdrawn one', async () => {
    const auth = service({ ...env(), JWT_JWKS_COOLDOWN_MS: '500' });
    const before = await idp.token({ realm_access: { roles: ['learner'] } });
    await expect(auth.verify(before)).resolves.toMatchObject({ role: 'student' });
    const fetched = idp.fetches;
    await idp.rotate();
    const after = await idp.token({ realm_access: { roles: ['learner'] } });
    // Within the cooldown the set is not refetched (forged kids cannot hammer the provider);
    // after it, the new key is found.
    const deadline = Date.now() + 5000;
    let user = await auth.verify(after).catch(() => null);
    while (!user && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      user = await auth.verify(after).catch(() => null);
    }
    expect(user).toMatchObject({ role: 'student' });
    expect(idp.fetches).toBeGreaterThan(fetched);
    // The old key is no longer in the set: its tokens fail once the set was refetched.
    await expect(auth.verify(before)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('caches the key set between tokens', async () => {
    const auth = service(env());
    const token = await idp.token({ realm_access: { roles: ['learner'] } });
    await auth.verify(token);
    const fetched = idp.fetches;
    for (let i = 0; i < 5; i++) await auth.verify(token);
    expect(idp.fetches).toBe(fetched);
  });

  it.each([
    [
      'a wrong issuer',
      () => idp.token({ realm_access: { roles: ['learner'] } }, { issuer: 'https://evil/' }),
    ],
    [
      'a wrong audience',
      () => idp.token({ realm_access: { roles: ['learner'] } }, { audience: 'other' }),
    ],
    [
      'an expired token',
      () =>
        idp.token(
          { realm_access: { roles: ['learner'] } },
          { expiresIn: Math.floor(Date.now() / 1000) - 60 },
        ),
    ],
    [
      'alg none',
      () =>
        unsignedToken({
          sub: 'u1',
          role: 'admin',
          iss: idp.issuer,
          aud: idp.audience,
          exp: Math.floor(Date.now() / 1000) + 600,
        }),
    ],
    ['an unmapped role', () => idp.token({ realm_access: { roles: ['janitor'] } })],
    ['no role at all', () => idp.token({})],
    [
      'an HS256 token when no secret is configured',
      () =>
        new SignJWT({ role: 'admin' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('x')
          .setIssuer(idp.issuer)
          .setAudience(idp.audience)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(SECRET)),
    ],
  ])('refuses %s', async (_, make) => {
    const auth = service(env());
    await expect(auth.verify(await make())).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('gives JWT_DEFAULT_ROLE to a token without a mapped role', async () => {
    const auth = service({ ...env(), JWT_DEFAULT_ROLE: 'student' });
    await expect(auth.verify(await idp.token({}))).resolves.toMatchObject({ role: 'student' });
  });
});

describe('AuthService with HS256 (local use)', () => {
  it('issues dev tokens and verifies them; refuses another secret and alg none', async () => {
    const auth = service({ JWT_SECRET: SECRET });
    const { token, user } = await auth.issueDevToken('bo', 'instructor');
    await expect(auth.verify(token)).resolves.toEqual(user);
    const other = service({ JWT_SECRET: 'another-secret-0123456789' });
    await expect(other.verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const none = unsignedToken({
      sub: 'x',
      role: 'admin',
      exp: Math.floor(Date.now() / 1000) + 60,
    });
    await expect(auth.verify(none)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('rotates JWT_SECRET without logging anyone out: the previous key is still accepted', async () => {
    const old = service({ JWT_SECRET: SECRET });
    const { token, user } = await old.issueDevToken('dee', 'student');
    const rotated = service({
      JWT_SECRET: 'the-new-secret-0123456789',
      JWT_SECRET_PREVIOUS: SECRET,
    });
    await expect(rotated.verify(token)).resolves.toEqual(user);
    const fresh = await rotated.issueDevToken('dee', 'student');
    await expect(old.verify(fresh.token)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const done = service({ JWT_SECRET: 'the-new-secret-0123456789' });
    await expect(done.verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(done.verify(fresh.token)).resolves.toEqual(fresh.user);
  });

  it('takes both: HS256 with the secret, RS256 with the key set', async () => {
    const auth = service({ JWT_SECRET: SECRET, JWT_JWKS_URL: idp.url, JWT_ISSUER: idp.issuer });
    await expect(auth.verify(await idp.token({ role: 'student' }))).resolves.toMatchObject({
      role: 'student',
    });
    // HS256 tokens are ours: the provider's issuer does not apply to them.
    const local = await auth.issueDevToken('cy', 'student');
    await expect(auth.verify(local.token)).resolves.toEqual(local.user);
  });
});

describe('gateway configuration', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:1', MONGODB_URI: 'mongodb://127.0.0.1:1/x' };
  it('needs a secret or a key set, and a secret for dev tokens', () => {
    expect(() => loadGatewayConfig(base)).toThrow(/JWT_SECRET: required unless JWT_JWKS_URL/);
    expect(() =>
      loadGatewayConfig({ ...base, JWT_JWKS_URL: 'http://x/jwks', DEV_TOKENS: 'true' }),
    ).toThrow(/DEV_TOKENS/);
    expect(() =>
      loadGatewayConfig({ ...base, JWT_SECRET: SECRET, JWT_ROLE_MAP: '{"t":"teacher"}' }),
    ).toThrow(/JWT_ROLE_MAP\.t/);
  });
});
