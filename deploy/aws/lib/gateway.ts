import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Data } from './data.js';
import type { Network } from './network.js';
import type { Settings } from './settings.js';

export const GATEWAY_PORT = 3000;

/**
 * The gateway's timing, from its code (server/src): the balancer's settings are derived from
 * these, and the tests check them against each other.
 */
export const GATEWAY_TIMING = {
  /** socket.io pingInterval + pingTimeout (redis-io.adapter.ts): an idle socket's longest silence. */
  socketSilenceSeconds: 10 + 5,
  /** HTTP_WAIT_MS default: `POST /api/runs?wait=true` holds its request this long, silent. */
  httpWaitSeconds: 60,
  /** run-store.service.ts DRAIN_MS: on SIGTERM, run documents still being stored get this long. */
  sigtermDrainSeconds: 10,
};

/**
 * The balancer and the socket.io nodes behind it:
 * - stickiness: duration-based (the ALB's own AWSALB cookie). socket.io's long-polling needs every
 *   request of a session on one node; the gateway sets no cookie of its own that an
 *   application-cookie policy could follow, and the local stack's HAProxy does the same
 *   (an inserted cookie). A WebSocket stays on its node anyway.
 * - idle timeout 90 s: above a socket's longest silence (ping every 10 s) and above a
 *   `?wait=true` request's 60 s of silence.
 * - target health on `/ready` (Redis, database, queue, feed reachable from this node: a node
 *   cut off from them leaves the rotation; when every node fails it, as in a Redis outage, the
 *   ALB fails open and keeps routing to all); the container's own health check is `/health`
 *   (the process serves sockets), so ECS replaces a wedged task but not one whose database is
 *   down.
 * - deploys and scale-in: ECS deregisters the task (no new connections; existing WebSockets
 *   stay), waits the deregistration delay (20 s), then sends SIGTERM: the gateway closes every
 *   transport so clients reconnect through the ALB to another node and resume by seq, and waits
 *   up to 10 s for run documents; stopTimeout (30 s) is above that, so SIGKILL never cuts it.
 */
export class Gateway extends Construct {
  readonly service: ecs.FargateService;
  readonly alb: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;
  /** The ALB's scheme for CloudFront's origin. */
  readonly https: boolean;

  constructor(
    scope: Construct,
    id: string,
    s: Settings,
    net: Network,
    data: Data,
    repo: ecr.IRepository,
  ) {
    super(scope, id);
    const removal = s.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.https = !!s.certificateArn;

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: net.vpc,
      enableFargateCapacityProviders: true,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: s.logRetentionDays as logs.RetentionDays,
      removalPolicy: removal,
    });
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: s.gateway.cpu,
      memoryLimitMiB: s.gateway.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const database: Record<string, ecs.Secret> =
      s.database === 'documentdb'
        ? { MONGODB_PASSWORD: ecs.Secret.fromSecretsManager(data.databaseSecret, 'password') }
        : { MONGODB_URI: ecs.Secret.fromSecretsManager(data.databaseSecret) };
    task.addContainer('gateway', {
      image: ecs.ContainerImage.fromEcrRepository(repo, s.imageTag),
      essential: true,
      portMappings: [{ containerPort: GATEWAY_PORT }],
      environment: {
        NODE_ENV: 'production',
        PORT: String(GATEWAY_PORT),
        HOST: '0.0.0.0',
        REDIS_URL: data.redisUrl,
        ...(data.mongoUri ? { MONGODB_URI: data.mongoUri } : {}),
        DEV_TOKENS: 'false',
        // Behind CloudFront a request may be silent for 60 s at most (its origin read timeout).
        ...(s.clientHosting === 'cloudfront' ? { HTTP_WAIT_MS: '55000' } : {}),
        LOG_LEVEL: 'info',
        // The image holds the built client; STATIC_DIR only when the gateway serves it.
        ...(s.clientHosting === 'gateway' ? { STATIC_DIR: '/app/client/web/dist' } : {}),
      },
      secrets: {
        JWT_SECRET: ecs.Secret.fromSecretsManager(data.jwtSecret),
        REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(data.redisToken),
        ...database,
      },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'gateway', logGroup: this.logGroup }),
      readonlyRootFilesystem: true,
      // An init as PID 1: Nest re-raises SIGTERM after its drain, which a PID 1 would ignore.
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
      user: '1000:1000',
      stopTimeout: Duration.seconds(30),
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${GATEWAY_PORT}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
    });
    // Node and npm want a writable /tmp even with a read-only root filesystem.
    task.addVolume({ name: 'tmp' });
    task.defaultContainer!.addMountPoints({
      containerPath: '/tmp',
      sourceVolume: 'tmp',
      readOnly: false,
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', {
      vpc: net.vpc,
      description: 'Gateway tasks: from the ALB only',
    });
    data.allowFrom(this.securityGroup, 'gateways');
    net.allowFrom(this.securityGroup);
    const spot = Math.max(0, s.gateway.maxTasks - s.gateway.onDemandTasks);
    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      desiredCount: s.gateway.minTasks,
      vpcSubnets: net.computeSubnets,
      securityGroups: [this.securityGroup],
      // In public subnets a task needs its own address to reach ECR, Logs and Secrets Manager.
      assignPublicIp: s.computeSubnets === 'public',
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.seconds(60),
      capacityProviderStrategies: [
        ...(s.gateway.onDemandTasks > 0
          ? [{ capacityProvider: 'FARGATE', base: s.gateway.onDemandTasks, weight: spot ? 0 : 1 }]
          : []),
        ...(spot ? [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] : []),
      ],
    });
    const scaling = this.service.autoScaleTaskCount({
      minCapacity: s.gateway.minTasks,
      maxCapacity: s.gateway.maxTasks,
    });
    // Sockets cost memory and their events CPU; both track towards 60 % with room for a burst.
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: 60,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
    scaling.scaleOnMemoryUtilization('Memory', {
      targetUtilizationPercent: 70,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });

    // --- the balancer ---------------------------------------------------------------------
    const logBucket = new s3.Bucket(this, 'AlbLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // ALB access logs support SSE-S3 only
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(s.logRetentionDays) }],
      removalPolicy: removal,
      autoDeleteObjects: !s.retainData,
    });
    this.alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: net.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      idleTimeout: Duration.seconds(90),
      dropInvalidHeaderFields: true,
      http2Enabled: true,
    });
    this.alb.logAccessLogs(logBucket, 'alb');
    this.securityGroup.connections.allowFrom(this.alb, ec2.Port.tcp(GATEWAY_PORT), 'from the ALB');

    const targets: elbv2.AddApplicationTargetsProps = {
      port: GATEWAY_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [
        this.service.loadBalancerTarget({ containerName: 'gateway', containerPort: GATEWAY_PORT }),
      ],
      stickinessCookieDuration: Duration.days(1),
      deregistrationDelay: Duration.seconds(20),
      healthCheck: {
        path: '/ready',
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    };
    if (s.certificateArn) {
      const listener = this.alb.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [acm.Certificate.fromCertificateArn(this, 'Cert', s.certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        open: true,
      });
      this.targetGroup = listener.addTargets('Gateways', targets);
      this.alb.addRedirect({ sourcePort: 80, targetPort: 443 });
    } else {
      const listener = this.alb.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        open: true,
      });
      this.targetGroup = listener.addTargets('Gateways', targets);
    }
  }
}
