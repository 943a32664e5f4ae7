import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** An identity provider for tests: a JWKS endpoint on 127.0.0.1 whose keys can be rotated. */
export class TestIdentityProvider {
  private keys: { kid: string; privateKey: CryptoKey; jwk: JWK }[] = [];
  private server: Server | null = null;
  /** How many times the key set was fetched (caching shows as few fetches). */
  fetches = 0;
  url = '';

  constructor(
    readonly issuer = 'https://idp.test/',
    readonly audience = 'coderoom',
  ) {}

  async start(): Promise<this> {
    await this.rotate();
    this.server = createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
      this.fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}/.well-known/jwks.json`;
    return this;
  }

  /** A new signing key; the set then holds only it (the old key is withdrawn). */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID();
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    this.keys = [{ kid, privateKey, jwk }];
    return kid;
  }

  /** A token signed with the current key; `claims` override the defaults. */
  async token(
    claims: Record<string, unknown> & { sub?: string },
    opts: { issuer?: string; audience?: string; expiresIn?: string | number } = {},
  ): Promise<string> {
    const key = this.keys[0];
    return new SignJWT({ name: 'Ada', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setSubject(claims.sub ?? 'user-1')
      .setIssuer(opts.issuer ?? this.issuer)
      .setAudience(opts.audience ?? this.audience)
      .setIssuedAt()
      .setExpirationTime(opts.expiresIn ?? '10m')
      .sign(key.privateKey);
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(null)));
  }
}

/** `alg: none`: an unsigned token with whatever claims (must always be refused). */
export function unsignedToken(claims: Record<string, unknown>): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}
