import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import {
  CoderoomError,
  runIdSchema,
  type AuthUser,
  type OutputChunk,
  type RunStartResult,
  type RunSummary,
} from '@coderoom/contracts';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { AuthService } from '../services/auth.service.js';
import { RunService, parsePayload } from '../services/run.service.js';

type RunView = { ok: true; run: RunSummary; output: OutputChunk[] };

/** HTTP for clients that cannot hold a socket; same validation and errors as the socket API. */
@Controller('api/runs')
export class RunsController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly auth: AuthService,
    private readonly runs: RunService,
  ) {}

  /** `POST /api/runs` (body as `run:start`); `?wait=true` answers with the finished run. */
  @Post()
  @HttpCode(200)
  async start(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Query('wait') wait: string | undefined,
  ): Promise<({ ok: true } & RunStartResult) | RunView> {
    const user = await this.user(authorization);
    if (wait === 'true' || wait === '1') {
      return { ok: true, ...(await this.runs.startAndWait(user, body, this.config.httpWaitMs)) };
    }
    return { ok: true, ...(await this.runs.start(user, body, null)) };
  }

  @Get(':id')
  async get(
    @Headers('authorization') authorization: string | undefined,
    @Param('id') id: string,
  ): Promise<RunView> {
    const user = await this.user(authorization);
    const { runId } = parsePayload(runIdSchema, { runId: id });
    return { ok: true, ...(await this.runs.get(user, runId)) };
  }

  private async user(authorization: string | undefined): Promise<AuthUser> {
    const m = /^Bearer (.+)$/i.exec(authorization ?? '');
    if (!m) throw new CoderoomError('UNAUTHORIZED', 'unauthorized');
    return this.auth.verify(m[1]);
  }
}
