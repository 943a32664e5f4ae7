#!/usr/bin/env node
// The CDK app: `npx cdk synth -c env=staging` (see ../README.md). Offline: nothing here calls AWS.
import { App, Validations } from 'aws-cdk-lib';
import nag from 'cdk-nag';
import { CoderoomStack } from '../lib/coderoom-stack.js';
import { ReleaseStack } from '../lib/release-stack.js';
import { settingsFrom } from '../lib/settings.js';

const app = new App();
const ctx = (key: string): string | undefined => {
  const v: unknown = app.node.tryGetContext(key);
  return v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
};
const settings = settingsFrom(ctx);
// The region must be known at synthesis (ALB access logs name the region's log-delivery account).
const env = {
  account: process.env.CDK_DEFAULT_ACCOUNT,
  region: ctx('region') ?? process.env.CDK_DEFAULT_REGION ?? 'us-east-1',
};

new ReleaseStack(app, 'CoderoomRelease', {
  env,
  githubRepo: ctx('githubRepo') ?? 'coderoom/coderoom',
});
new CoderoomStack(app, `Coderoom-${settings.envName}`, { env, settings });
Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app, { verbose: true }));
app.synth();
