/* eslint-disable @typescript-eslint/no-explicit-any -- a synthesized CloudFormation template is untyped JSON; the assertions are the types. */
// Synthesizes the app the way bin/app.ts does, with the given context, offline (no AWS account).
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import nag from 'cdk-nag';
import { CoderoomStack } from '../lib/coderoom-stack.js';
import { ReleaseStack } from '../lib/release-stack.js';
import { settingsFrom } from '../lib/settings.js';

export const TEST_ENV = { account: '111111111111', region: 'eu-west-1' };

export interface Synthesized {
  app: App;
  stack: CoderoomStack;
  release: ReleaseStack;
  /** The templates (synthesizing the app first, so cdk-nag's findings throw here). */
  template: Template;
  releaseTemplate: Template;
}

/** Builds both stacks with cdk-nag's AwsSolutions pack; `app.synth()` throws on any finding. */
export function build(context: Record<string, string> = {}): Synthesized {
  const app = new App({ context });
  const settings = settingsFrom((k) => app.node.tryGetContext(k));
  const release = new ReleaseStack(app, 'CoderoomRelease', {
    env: TEST_ENV,
    githubRepo: 'example/coderoom',
  });
  const stack = new CoderoomStack(app, `Coderoom-${settings.envName}`, { env: TEST_ENV, settings });
  Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app));
  let templates: [Template, Template] | undefined;
  const synth = () => (templates ??= [Template.fromStack(stack), Template.fromStack(release)]);
  return {
    app,
    stack,
    release,
    get template() {
      return synth()[0];
    },
    get releaseTemplate() {
      return synth()[1];
    },
  };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** Every resource of a type, as [logicalId, properties]. */
export function resources(t: Template, type: string): [string, Record<string, any>][] {
  const all = t.toJSON().Resources as Resources;
  return Object.entries(all)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

/** The one resource of a type (fails when there are none or several). */
export function only(t: Template, type: string): Record<string, any> {
  const found = resources(t, type);
  if (found.length !== 1) throw new Error(`${found.length} resources of type ${type}`);
  return found[0][1];
}

/** A template fragment as text, with intrinsic functions flattened (to look for names in it). */
export const text = (v: unknown): string => JSON.stringify(v) ?? '';
