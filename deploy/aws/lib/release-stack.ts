import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { type Construct } from 'constructs';
import { suppressReleaseFindings } from './nag.js';
import { NODE_VERSION } from './node-version.js';
import { repositoryNames, sandboxImageNames } from './sandbox-images.js';

export interface ReleaseStackProps extends StackProps {
  /** GitHub owner/name the pipeline builds from. */
  githubRepo: string;
  sandboxImages?: string[];
}

/**
 * The official Node image the pipeline builds the gateway and worker on: the pinned version
 * (deploy/docker/node-version.json), the one the local stack and its tests run on.
 */
export const PIPELINE_NODE_BASE = `public.ecr.aws/docker/library/node:${NODE_VERSION}-bookworm-slim`;

/**
 * What both environments share: the ECR repositories (gateway, worker, one per sandbox image;
 * tags immutable, scanned on push) and the release pipeline, a CodeBuild project that runs the
 * same recipes as the local stack (sandbox/build-images.mjs with debootstrap, then
 * deploy/docker/images.mjs) and pushes every image under its content tag. Worker hosts pull the
 * sandbox images by one release tag, the hash over all of them (images.mjs prints it).
 */
export class ReleaseStack extends Stack {
  readonly project: codebuild.Project;
  readonly repositories: ecr.Repository[] = [];

  constructor(scope: Construct, id: string, props: ReleaseStackProps) {
    super(scope, id, props);
    const repo = (id: string, name: string) => {
      const r = new ecr.Repository(this, id, {
        repositoryName: name,
        imageTagMutability: ecr.TagMutability.IMMUTABLE,
        imageScanOnPush: true,
        encryption: ecr.RepositoryEncryption.KMS,
        removalPolicy: RemovalPolicy.RETAIN,
        // Content tags pile up; keep the last 30 (a release is a handful of tags).
        lifecycleRules: [{ maxImageCount: 30 }],
      });
      this.repositories.push(r);
      return r;
    };
    repo('Gateway', repositoryNames.gateway);
    repo('Worker', repositoryNames.worker);
    for (const n of props.sandboxImages ?? sandboxImageNames())
      repo(`Sandbox-${n}`, repositoryNames.sandbox(n));

    const key = new kms.Key(this, 'Key', {
      enableKeyRotation: true,
      description: 'Coderoom release pipeline',
    });
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const artifacts = new s3.Bucket(this, 'Artifacts', {
      serverAccessLogsBucket: accessLogs,
      bucketName: `coderoom-release-${this.account}-${this.region}`,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const [owner, name] = props.githubRepo.split('/');
    const registry = `${this.account}.dkr.ecr.${this.region}.amazonaws.com`;
    this.project = new codebuild.Project(this, 'Images', {
      description: 'Builds the sandbox, gateway and worker images and pushes them by content tag',
      source: codebuild.Source.gitHub({ owner, repo: name, webhook: false }),
      environment: {
        buildImage: codebuild.LinuxBuildImage.STANDARD_7_0,
        computeType: codebuild.ComputeType.LARGE,
        privileged: true, // docker build, and debootstrap's chroot
      },
      encryptionKey: key,
      timeout: Duration.minutes(60),
      environmentVariables: {
        REGISTRY: { value: registry },
        NODE_BASE: { value: PIPELINE_NODE_BASE },
        ARTIFACTS: { value: artifacts.bucketName },
      },
      logging: {
        cloudWatch: {
          logGroup: new logs.LogGroup(this, 'BuildLogs', {
            retention: logs.RetentionDays.THREE_MONTHS,
          }),
        },
      },
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: {
          install: {
            'runtime-versions': { nodejs: '22' },
            commands: ['apt-get update && apt-get install -y debootstrap'],
          },
          pre_build: {
            commands: [
              'aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin $REGISTRY',
            ],
          },
          build: {
            commands: [
              // DocumentDB's CA bundle, into the images (/etc/coderoom/docdb-ca.pem).
              'curl -sSfo deploy/docker/certs/docdb-ca.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem',
              'node sandbox/build-images.mjs --jobs 4',
              'node deploy/docker/images.mjs build --base $NODE_BASE',
            ],
          },
          post_build: {
            commands: [
              'node deploy/docker/images.mjs push --registry $REGISTRY --base $NODE_BASE | tee release.json',
              'aws s3 cp release.json s3://$ARTIFACTS/releases/$CODEBUILD_RESOLVED_SOURCE_VERSION.json',
            ],
          },
        },
      }),
    });
    for (const r of this.repositories) r.grantPullPush(this.project);
    artifacts.grantReadWrite(this.project);
    suppressReleaseFindings(this);
  }
}
