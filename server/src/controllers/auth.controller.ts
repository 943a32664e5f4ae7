import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { devTokenRequestSchema, type AuthUser } from '@coderoom/contracts';
import { AuthService } from '../services/auth.service.js';
import { parsePayload } from '../common/parse-payload.js';

/** `POST /api/auth/dev-token`; only mounted when DEV_TOKENS is on (see AppModule). */
@Controller('api/auth')
export class DevAuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('dev-token')
  @HttpCode(200)
  async devToken(@Body() body: unknown): Promise<{ token: string; user: AuthUser }> {
    const { name, role } = parsePayload(devTokenRequestSchema, body);
    return this.auth.issueDevToken(name, role);
  }
}
