// cdk-nag (AwsSolutions pack) findings that are not fixed, each acknowledged with why. The
// tests synthesize both environments and fail on any finding that is neither fixed nor here.
import { type Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { Settings } from './settings.js';

function ack(scope: IConstruct | undefined, id: string, reason: string): void {
  if (scope) Validations.of(scope).acknowledge({ id: `AwsSolutions-${id}`, reason });
}

/** How cdk-nag prints the stack's account and region in a finding's id. */
function where(stack: Stack): string {
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `${region}:${account}`;
}

/** The construct at `path` below the stack (e.g. 'Gateway/Alb'), or undefined. */
const at = (stack: Stack, path: string): IConstruct | undefined =>
  path.split('/').reduce<IConstruct | undefined>((c, id) => c?.node.tryFindChild(id), stack);

export function suppressStackFindings(stack: Stack, s: Settings): void {
  ack(
    at(stack, 'Gateway/Alb'),
    'EC23',
    'The ALB is the public entry point (browsers and API clients anywhere); it forwards only to the gateway tasks.',
  );
  ack(
    at(stack, 'Gateway/AlbLogs'),
    'S1',
    'This bucket receives the ALB access logs; logging its own access would log the log writes.',
  );
  ack(
    at(stack, 'EdgeLogs'),
    'S1',
    'This bucket receives CloudFront and S3 access logs; logging its own access would loop.',
  );
  ack(
    at(stack, 'Gateway/Task'),
    'ECS2',
    'The environment holds configuration only (ports, URLs with placeholders, flags); every secret is injected from Secrets Manager through `secrets`.',
  );
  ack(
    at(stack, 'Gateway/Task/ExecutionRole'),
    'IAM5[Resource::*]',
    'ecr:GetAuthorizationToken has no resource-level permissions (it must be "*"); image pulls are scoped to the gateway repository.',
  );
  ack(
    at(stack, 'Workers/Role'),
    'IAM5[Resource::*]',
    'ecr:GetAuthorizationToken has no resource-level permissions (it must be "*"); image pulls are scoped to the worker and sandbox repositories.',
  );
  ack(
    at(stack, 'Workers/Role'),
    `IAM5[Resource::arn:<AWS::Partition>:autoscaling:${where(stack)}:autoScalingGroup:*:autoScalingGroupName/coderoom-${s.envName}-workers]`,
    'An Auto Scaling group ARN holds a generated id; the wildcard is that id only, the group name is fixed.',
  );
  ack(
    at(stack, 'Workers/Asg'),
    'AS3',
    'Scaling activity is on the dashboard and in the group activity history; notifications to the KMS-encrypted alarm topic would need the Auto Scaling service-linked role in the key policy, which fails on accounts where that role does not exist yet.',
  );
  ack(
    at(stack, 'Workers/Asg'),
    'EC26',
    'The volume is encrypted in the launch template (Workers/Template, tested in deploy/aws/test); the rule reads only launch configurations.',
  );
  for (const secret of [
    'Data/JwtSecret',
    'Data/RedisAuthToken',
    'Data/DocumentDb/Secret',
    'Data/AtlasUri',
  ]) {
    ack(
      at(stack, secret),
      'SMG4',
      'Rotated by hand with the runbook (deploy/aws/README.md): the processes read these at start, and the gateway accepts one JWT key at a time, so an automatic rotation would cut connections or log everyone out.',
    );
  }
  if (s.database === 'documentdb') {
    const db = at(stack, 'Data/DocumentDb');
    ack(
      db,
      'DOC3',
      'The password is a Secrets Manager reference; the user name (coderoom) is not a secret.',
    );
    for (const log of ['authenticate', 'createIndex', 'dropCollection']) {
      ack(
        db,
        `DOC5[LogExport::${log}]`,
        'DocumentDB exports the "audit" and "profiler" logs (both on); authenticate, createIndex and dropCollection events are in the audit log, and are not log export types of their own.',
      );
    }
    if (s.documentdb.backupRetentionDays < 7) {
      ack(
        db,
        'DOC4',
        'Staging keeps one day of backups (its data is disposable); production keeps seven.',
      );
    }
  }
  if (!(s.redis.replicas > 0 && s.redis.multiAz)) {
    ack(
      at(stack, 'Data/Redis'),
      'AEC4',
      'Staging runs one Redis node to save cost; production has a replica in another AZ with automatic failover.',
    );
  }
  const cdn = at(stack, 'Client/Cdn');
  ack(cdn, 'CFR1', 'Students may connect from any country: no geo restriction.');
  ack(
    cdn,
    'CFR2',
    'No WAF by default (from ~6 USD/month plus requests); the gateways rate-limit per socket and per user. Add a web ACL for a public deployment under attack.',
  );
  ack(
    cdn,
    'CFR4',
    'The default *.cloudfront.net certificate allows TLS 1.0 viewers; a custom domain with its own certificate (us-east-1) lifts the minimum to TLS 1.2.',
  );
  if (!(s.certificateArn && s.apiDomainName)) {
    ack(
      cdn,
      'CFR5',
      'Without a certificate for the ALB (context certificateArn + apiDomainName) CloudFront reaches it over HTTP; set both for HTTPS to the origin (production).',
    );
  }
}

export function suppressReleaseFindings(stack: Stack): void {
  ack(
    at(stack, 'AccessLogs'),
    'S1',
    'This bucket receives the artifact bucket access logs; logging its own access would loop.',
  );
  const policy = at(stack, 'Images/Role');
  const project = 'Images2D38C313';
  const generated =
    "CodeBuild's own grants (generated by CDK): its log streams, report groups and the bucket/key grants carry wildcards below resources of this project only.";
  for (const id of [
    `IAM5[Resource::arn:<AWS::Partition>:logs:${where(stack)}:log-group:/aws/codebuild/<${project}>:*]`,
    `IAM5[Resource::arn:<AWS::Partition>:codebuild:${where(stack)}:report-group/<${project}>-*]`,
    'IAM5[Action::kms:GenerateDataKey*]',
    'IAM5[Action::kms:ReEncrypt*]',
    'IAM5[Action::s3:Abort*]',
    'IAM5[Action::s3:DeleteObject*]',
    'IAM5[Action::s3:GetBucket*]',
    'IAM5[Action::s3:GetObject*]',
    'IAM5[Action::s3:List*]',
    'IAM5[Resource::<Artifacts82DD59A1.Arn>/*]',
  ]) {
    ack(policy, id, generated);
  }
  ack(
    policy,
    'IAM5[Resource::*]',
    'ecr:GetAuthorizationToken has no resource-level permissions (it must be "*"); pushes are scoped to the Coderoom repositories.',
  );
}
