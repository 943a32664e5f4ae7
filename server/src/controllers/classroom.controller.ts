import { Body, Controller, Get, Header, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import {
  problemCreateSchema,
  problemGetSchema,
  sessionIdSchema,
  type AuthUser,
  type ProblemView,
} from '@coderoom/contracts';
import { AuthGuard, CurrentUser } from '../common/auth.guard.js';
import { parsePayload } from '../common/parse-payload.js';
import { roles } from '../gateways/client-event.js';
import { ProblemAccessService } from '../services/problem-access.service.js';
import { ResultsService } from '../services/results.service.js';

/** HTTP for problems and a session's results; same rules and errors as the socket events. */
@Controller('api')
@UseGuards(AuthGuard)
export class ClassroomController {
  constructor(
    private readonly problems: ProblemAccessService,
    private readonly results: ResultsService,
  ) {}

  /** `POST /api/problems` (body as `problem:create`). */
  @Post('problems')
  @HttpCode(201)
  async createProblem(
    @CurrentUser() user: AuthUser,
    @Body() body: unknown,
  ): Promise<{ ok: true; problem: ProblemView }> {
    await roles('instructor', 'admin')(user, undefined);
    const req = parsePayload(problemCreateSchema, body);
    return { ok: true, problem: await this.problems.create(user, req) };
  }

  /** `GET /api/problems` (as `problem:list`): the problems the caller wrote, newest first. */
  @Get('problems')
  async listProblems(
    @CurrentUser() user: AuthUser,
  ): Promise<{ ok: true; problems: ProblemView[] }> {
    await roles('instructor', 'admin')(user, undefined);
    return { ok: true, problems: await this.problems.list(user) };
  }

  @Get('problems/:id')
  async getProblem(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
  ): Promise<{ ok: true; problem: ProblemView }> {
    const { problemId } = parsePayload(problemGetSchema, { problemId: id });
    return { ok: true, problem: await this.problems.get(user, problemId) };
  }

  /** `GET /api/sessions/:id/results.csv` (its instructors): one row per student and problem. */
  @Get('sessions/:id/results.csv')
  @Header('Content-Type', 'text/csv; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  async resultsCsv(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<string> {
    const { sessionId } = parsePayload(sessionIdSchema, { sessionId: id });
    return this.results.csv(user, sessionId);
  }
}
