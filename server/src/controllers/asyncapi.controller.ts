import { Controller, Get } from '@nestjs/common';
import { buildAsyncApiDocument } from '@coderoom/contracts';

/**
 * `GET /asyncapi.json`: the AsyncAPI 3.0 document of the socket.io API (API.md, "HTTP"),
 * generated from the contracts once per process. The server host is left as a variable
 * (default `localhost:3000`): one document fits every deployment.
 */
@Controller()
export class AsyncApiController {
  private readonly document = buildAsyncApiDocument();

  @Get('asyncapi.json')
  asyncApi(): object {
    return this.document;
  }
}
