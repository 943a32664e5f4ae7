import { CfnOutput, Duration, RemovalPolicy, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { type Construct } from 'constructs';
import { ClientSite } from './client.js';
import { Data } from './data.js';
import { Gateway } from './gateway.js';
import { suppressStackFindings } from './nag.js';
import { Network } from './network.js';
import { Observability } from './observability.js';
import { repositoryNames, sandboxImageNames } from './sandbox-images.js';
import type { Settings } from './settings.js';
import { Workers } from './workers.js';

export interface CoderoomStackProps extends StackProps {
  settings: Settings;
  /** Sandbox image names (default: the folders of sandbox/ with a Dockerfile). */
  sandboxImages?: string[];
}

/** One environment of Coderoom: network, data, gateways, workers, client, alarms. */
export class CoderoomStack extends Stack {
  readonly settings: Settings;

  constructor(scope: Construct, id: string, props: CoderoomStackProps) {
    super(scope, id, props);
    const s = (this.settings = props.settings);
    Tags.of(this).add('app', 'coderoom');
    Tags.of(this).add('environment', s.envName);

    // The images come from the release stack's repositories (deploy/docker/images.mjs pushes).
    const repo = (id: string, name: string) => ecr.Repository.fromRepositoryName(this, id, name);
    const sandboxes = new Map(
      (props.sandboxImages ?? sandboxImageNames()).map((n) => [
        n,
        repo(`Sandbox-${n}`, repositoryNames.sandbox(n)),
      ]),
    );

    const net = new Network(this, 'Network', s);
    const data = new Data(this, 'Data', s, net);
    const gateway = new Gateway(
      this,
      'Gateway',
      s,
      net,
      data,
      repo('GatewayRepo', repositoryNames.gateway),
    );
    const workers = new Workers(this, 'Workers', s, net, data, {
      worker: repo('WorkerRepo', repositoryNames.worker),
      sandboxes,
    });
    new Observability(this, 'Observability', s, data, gateway, workers);

    let url = `${gateway.https ? 'https' : 'http'}://${s.apiDomainName ?? gateway.alb.loadBalancerDnsName}`;
    if (s.clientHosting === 'cloudfront') {
      // CloudFront's standard logs need a bucket with ACLs; the client bucket's access logs go here too.
      const logs = new s3.Bucket(this, 'EdgeLogs', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
        enforceSSL: true,
        lifecycleRules: [{ expiration: Duration.days(s.logRetentionDays) }],
        removalPolicy: s.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        autoDeleteObjects: !s.retainData,
      });
      const site = new ClientSite(this, 'Client', s, gateway, logs);
      url = `https://${site.distribution.distributionDomainName}`;
      new CfnOutput(this, 'ClientBucket', { value: site.bucket.bucketName });
      new CfnOutput(this, 'DistributionId', { value: site.distribution.distributionId });
    }
    new CfnOutput(this, 'Url', { value: url, description: 'Where students open Coderoom' });
    new CfnOutput(this, 'AlbDnsName', { value: gateway.alb.loadBalancerDnsName });
    new CfnOutput(this, 'GatewayCluster', { value: gateway.service.cluster.clusterName });
    new CfnOutput(this, 'GatewayService', { value: gateway.service.serviceName });
    new CfnOutput(this, 'WorkerGroup', { value: workers.asg.autoScalingGroupName });
    new CfnOutput(this, 'JwtSecretArn', { value: data.jwtSecret.secretArn });
    suppressStackFindings(this, s);
  }
}
