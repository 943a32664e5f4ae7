import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import {
  runIdSchema,
  runStartSchema,
  type AuthUser,
  type OutputChunk,
  type RunStartResult,
  type RunSummary,
} from '@coderoom/contracts';
import { AuthGuard, CurrentUser } from '../common/auth.guard.js';
import { parsePayload } from '../common/parse-payload.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { RunService } from '../services/run.service.js';

type RunView = { ok: true; run: RunSummary; output: OutputChunk[] };

/** HTTP for clients that cannot hold a socket; same validation and errors as the socket API. */
@Controller('api/runs')
@UseGuards(AuthGuard)
export class RunsController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly runs: RunService,
  ) {}

  /** `POST /api/runs` (body as `run:start`); `?wait=true` answers with the finished run. */
  @Post()
  @HttpCode(200)
  async start(
    @CurrentUser() user: AuthUser,
    @Body() body: unknown,
    @Query('wait') wait: string | undefined,
  ): Promise<({ ok: true } & RunStartResult) | RunView> {
    const req = parsePayload(runStartSchema, body);
    if (wait === 'true' || wait === '1') {
      return { ok: true, ...(await this.runs.startAndWait(user, req, this.config.httpWaitMs)) };
    }
    return { ok: true, ...(await this.runs.start(user, req, null)) };
  }

  @Get(':id')
  async get(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<RunView> {
    const { runId } = parsePayload(runIdSchema, { runId: id });
    return { ok: true, ...(await this.runs.get(user, runId)) };
  }
}
