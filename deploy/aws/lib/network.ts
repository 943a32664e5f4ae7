import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Settings } from './settings.js';

/**
 * Two AZs (the ALB needs two). Public subnets hold the ALB (and, with computeSubnets=public, the
 * gateways and worker hosts); Redis, the database and by default the gateways and workers live
 * in isolated subnets with no route to the internet at all: no NAT gateway
 * (~33 USD/month each plus traffic). What they must reach of AWS goes through VPC endpoints:
 * S3 (gateway endpoint, free: ECR's image layers), ECR, CloudWatch Logs, Secrets Manager, and in
 * production Auto Scaling (a worker host ends its termination hook). The sandboxes themselves
 * have no network (Docker `NetworkMode: none`), whatever the host has.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Interface endpoints; `allowFrom` opens them to a security group. */
  readonly endpoints: ec2.InterfaceVpcEndpoint[] = [];

  /** Where gateways and worker hosts run (Settings.computeSubnets). */
  readonly computeSubnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, s: Settings) {
    super(scope, id);
    this.computeSubnets = {
      subnetType:
        s.computeSubnets === 'public' ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_ISOLATED,
    };
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    // VPC flow logs (rejected traffic only: what someone tried and was refused).
    this.vpc.addFlowLog('Rejected', {
      trafficType: ec2.FlowLogTrafficType.REJECT,
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', {
          retention: s.logRetentionDays as logs.RetentionDays,
          removalPolicy: s.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        }),
      ),
    });
    // Gateways and workers in public subnets reach AWS's APIs over the internet gateway (their
    // security groups admit nothing from outside): no interface endpoint to pay for.
    const services: [string, ec2.InterfaceVpcEndpointAwsService][] =
      s.computeSubnets === 'public'
        ? []
        : [
            ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
            ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
            ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
            ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
          ];
    if (s.autoscalingEndpoint && s.computeSubnets === 'isolated') {
      services.push(['AutoScaling', ec2.InterfaceVpcEndpointAwsService.AUTOSCALING]);
    }
    const endpointSubnets: ec2.SubnetSelection = {
      subnetType: ec2.SubnetType.PRIVATE_ISOLATED,
      availabilityZones: this.vpc.availabilityZones.slice(0, s.endpointAzs),
    };
    for (const [name, service] of services) {
      this.endpoints.push(
        this.vpc.addInterfaceEndpoint(name, {
          service,
          subnets: endpointSubnets,
          privateDnsEnabled: true,
          open: false,
        }),
      );
    }
    if (s.database === 'atlas' && s.atlasEndpointService) {
      this.endpoints.push(
        this.vpc.addInterfaceEndpoint('Atlas', {
          service: new ec2.InterfaceVpcEndpointService(s.atlasEndpointService, 27017),
          subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
          privateDnsEnabled: false,
          open: false,
        }),
      );
    }
  }

  /** Lets a security group (gateways, workers) use the endpoints (HTTPS, Atlas's port). */
  allowFrom(peer: ec2.ISecurityGroup): void {
    for (const e of this.endpoints) e.connections.allowDefaultPortFrom(peer);
  }

  /** The isolated subnets: Redis and the database always, gateways and workers by default. */
  get privateSubnets(): ec2.SubnetSelection {
    return { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  }
}
