import { ArnFormat, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Data } from './data.js';
import type { Network } from './network.js';
import type { Settings } from './settings.js';

export const METRICS_NAMESPACE = 'Coderoom';
export const WORKER_HTTP_PORT = 9464;
/** The termination hook's name (the host script completes it by name). */
export const DRAIN_HOOK = 'drain';
/**
 * How long a terminating host may take to drain: runs in flight are bounded by their limits
 * (the longest: a 15 s compile, then a 15 s submit run, plus a 30 s sandbox start), so the
 * worker's SIGTERM drain ends well within `docker stop --time 120`; the hook gives 60 s more.
 */
export const DRAIN_SECONDS = 120;
export const HOOK_TIMEOUT_SECONDS = DRAIN_SECONDS + 60;

/** A queue-depth metric the hosts publish (deploy/docker/queue-metrics.mjs, as EMF log lines). */
export function workerMetric(
  envName: string,
  metricName: string,
  statistic: string,
  period = Duration.minutes(1),
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Environment: envName },
    statistic,
    period,
  });
}

export interface WorkerImages {
  worker: ecr.IRepository;
  sandboxes: Map<string, ecr.IRepository>;
}

/**
 * Worker hosts: an EC2 Auto Scaling group (sandboxes need a real Docker engine, which Fargate
 * does not give), Amazon Linux 2023 with Docker, one worker container per host.
 * - Scaled on the queue: runs waiting (QueueWaiting, published every 15 s by each host) adds
 *   hosts in steps; an empty queue for 10 minutes removes one.
 * - Termination (scale-in, instance refresh, Spot interruption): a lifecycle hook holds the
 *   host in Terminating:Wait; the host sees it in its instance metadata and stops the worker
 *   with SIGTERM (`docker stop --time 120`): it takes no new job and finishes the runs in
 *   flight while queued runs stay for the other hosts; then it completes the hook.
 * - The worker reaches Docker through its socket (root-equivalent on that host): the host is
 *   dedicated to it, the container runs as uid 1000 with only the socket's group, a read-only
 *   root filesystem, no capabilities and no-new-privileges, on a bridge network where IMDSv2's
 *   hop limit of 1 keeps the instance role's credentials out of its reach (the host's own
 *   scripts fetch what it needs).
 */
export class Workers extends Construct {
  readonly asg: autoscaling.AutoScalingGroup;
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;
  readonly metricsLogGroup: logs.LogGroup;

  constructor(
    scope: Construct,
    id: string,
    s: Settings,
    net: Network,
    data: Data,
    images: WorkerImages,
  ) {
    super(scope, id);
    const removal = s.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const asgName = `coderoom-${s.envName}-workers`;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: s.logRetentionDays as logs.RetentionDays,
      removalPolicy: removal,
    });
    this.metricsLogGroup = new logs.LogGroup(this, 'MetricLogs', {
      retention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: removal,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', {
      vpc: net.vpc,
      description: 'Worker hosts: nothing inbound; out to Redis, the database and AWS endpoints',
    });
    data.allowFrom(this.securityGroup, 'workers');
    net.allowFrom(this.securityGroup);

    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Coderoom worker hosts: pull images, read their secrets, write logs',
    });
    images.worker.grantPull(role);
    for (const repo of images.sandboxes.values()) repo.grantPull(role);
    data.redisToken.grantRead(role);
    data.databaseSecret.grantRead(role);
    this.logGroup.grantWrite(role);
    this.metricsLogGroup.grantWrite(role);
    const asgArn = Stack.of(this).formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: `*:autoScalingGroupName/${asgName}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:CompleteLifecycleAction'],
        resources: [asgArn],
      }),
    );

    const registry = `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com`;
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      ...hostScript({
        s,
        registry,
        region: Aws.REGION,
        asgName,
        workerRepo: images.worker.repositoryName,
        sandboxRepos: [...images.sandboxes].map(([name, repo]) => [name, repo.repositoryName]),
        redisUrl: data.redisUrl,
        mongoUri: data.mongoUri,
        redisSecret: data.redisToken.secretArn,
        databaseSecret: data.databaseSecret.secretArn,
        logGroup: this.logGroup.logGroupName,
        metricsLogGroup: this.metricsLogGroup.logGroupName,
      }),
    );

    const template = new ec2.LaunchTemplate(this, 'Template', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      instanceType: new ec2.InstanceType(s.workers.instanceType),
      role,
      securityGroup: this.securityGroup,
      userData,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          // The sandbox images (~3 GB) and Docker's scratch space.
          volume: ec2.BlockDeviceVolume.ebs(s.workers.volumeGiB, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    this.asg = new autoscaling.AutoScalingGroup(this, 'Asg', {
      autoScalingGroupName: asgName,
      vpc: net.vpc,
      vpcSubnets: net.computeSubnets,
      minCapacity: s.workers.minInstances,
      maxCapacity: s.workers.maxInstances,
      mixedInstancesPolicy: {
        launchTemplate: template,
        instancesDistribution: {
          onDemandBaseCapacity: s.workers.onDemandInstances,
          onDemandPercentageAboveBaseCapacity: 0,
          spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
        },
      },
      capacityRebalance: true,
      healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(5) }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: s.workers.minInstances,
        pauseTime: Duration.minutes(5),
      }),
      groupMetrics: [autoscaling.GroupMetrics.all()],
    });
    this.asg.addLifecycleHook('Drain', {
      lifecycleHookName: DRAIN_HOOK,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: Duration.seconds(HOOK_TIMEOUT_SECONDS),
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });

    // Runs waiting: the hosts publish QueueWaiting (BullMQ wait + prioritized) every 15 s.
    this.asg.scaleOnMetric('QueueDepth', {
      metric: workerMetric(s.envName, 'QueueWaiting', 'Maximum'),
      adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { upper: 0, change: -1 },
        { lower: 4 * s.workers.concurrency, change: +1 },
        { lower: 16 * s.workers.concurrency, change: +2 },
      ],
      evaluationPeriods: 2,
      estimatedInstanceWarmup: Duration.minutes(3),
    });
  }
}

interface HostScriptOptions {
  s: Settings;
  registry: string;
  region: string;
  asgName: string;
  workerRepo: string;
  sandboxRepos: [string, string][];
  redisUrl: string;
  mongoUri?: string;
  redisSecret: string;
  databaseSecret: string;
  logGroup: string;
  metricsLogGroup: string;
}

/** The worker host's boot script (user data), as lines of bash. */
function hostScript(o: HostScriptOptions): string[] {
  const { s } = o;
  const secret = (arn: string, field?: string) =>
    `$(aws secretsmanager get-secret-value --region ${o.region} --secret-id '${arn}' --query SecretString --output text${
      field ? ` | python3 -c 'import json,sys; print(json.load(sys.stdin)["${field}"])'` : ''
    })`;
  const database =
    s.database === 'documentdb'
      ? [`MONGODB_URI=${o.mongoUri}`, `MONGODB_PASSWORD=${secret(o.databaseSecret, 'password')}`]
      : [`MONGODB_URI=${secret(o.databaseSecret)}`];
  const awslogs = (group: string, prefix: string) =>
    `--log-driver awslogs --log-opt awslogs-region=${o.region} --log-opt awslogs-group=${group} --log-opt awslogs-stream=${prefix}-$INSTANCE_ID`;
  const workerImage = `${o.registry}/${o.workerRepo}:${s.imageTag}`;
  return [
    'set -euo pipefail',
    'dnf install -y docker', // Amazon Linux's repositories are in S3: the gateway endpoint serves them
    ...(s.gvisor
      ? [
          // runsc comes from the release bucket (the pipeline copies gVisor's release there).
          `aws s3 cp --region ${o.region} s3://coderoom-release-${Aws.ACCOUNT_ID}-${o.region}/gvisor/runsc /usr/local/bin/runsc`,
          'chmod 755 /usr/local/bin/runsc',
          `mkdir -p /etc/docker && echo '{"runtimes":{"runsc":{"path":"/usr/local/bin/runsc","runtimeArgs":["--network=none"]}}}' > /etc/docker/daemon.json`,
        ]
      : []),
    'systemctl enable --now docker',
    'TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
    'INSTANCE_ID=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
    `aws ecr get-login-password --region ${o.region} | docker login --username AWS --password-stdin ${o.registry}`,
    // Sandbox images by their release tag, named as the worker expects them.
    ...o.sandboxRepos.flatMap(([name, repo]) => [
      `docker pull ${o.registry}/${repo}:${s.sandboxRelease}`,
      `docker tag ${o.registry}/${repo}:${s.sandboxRelease} coderoom-sandbox-${name}:${s.sandboxRelease}`,
    ]),
    `docker pull ${workerImage}`,
    'install -d -m 700 /etc/coderoom',
    'umask 077',
    'cat > /etc/coderoom/worker.env <<ENV',
    'NODE_ENV=production',
    `REDIS_URL=${o.redisUrl}`,
    `REDIS_AUTH_TOKEN=${secret(o.redisSecret)}`,
    ...database,
    'WORKER_ID=$INSTANCE_ID',
    `WORKER_CONCURRENCY=${s.workers.concurrency}`,
    `SANDBOX_IMAGE_TAG=${s.sandboxRelease}`,
    `SANDBOX_RUNTIME=${s.gvisor ? 'runsc' : 'runc'}`,
    `WARM_POOL_LANGUAGES=python,javascript`,
    `METRICS_ENVIRONMENT=${s.envName}`,
    `WORKER_METRICS_URL=http://127.0.0.1:${WORKER_HTTP_PORT}/metrics`,
    'ENV',
    'SOCKET_GID=$(stat -c %g /var/run/docker.sock)',
    [
      'docker run -d --name coderoom-worker --restart unless-stopped',
      `--stop-timeout ${DRAIN_SECONDS}`,
      '--env-file /etc/coderoom/worker.env',
      '--user 1000:1000 --group-add "$SOCKET_GID"',
      '--init --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges',
      '-v /var/run/docker.sock:/var/run/docker.sock',
      `-p 127.0.0.1:${WORKER_HTTP_PORT}:${WORKER_HTTP_PORT}`,
      awslogs(o.logGroup, 'worker'),
      workerImage,
    ].join(' '),
    // Queue depth and run metrics as EMF lines (deploy/docker/queue-metrics.mjs), beside the worker.
    [
      'docker run -d --name coderoom-metrics --restart unless-stopped',
      '--env-file /etc/coderoom/worker.env --network container:coderoom-worker',
      '--user 1000:1000 --read-only --cap-drop ALL --security-opt no-new-privileges',
      awslogs(o.metricsLogGroup, 'metrics'),
      `${workerImage} node deploy/docker/queue-metrics.mjs`,
    ].join(' '),
    // Drain before termination (scale-in, refresh, Spot interruption): see the class comment.
    "cat > /usr/local/bin/coderoom-drain <<'DRAIN'",
    '#!/bin/bash',
    'md() { curl -sf -H "X-aws-ec2-metadata-token: $(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")" "http://169.254.169.254/latest/meta-data/$1"; }',
    'until [ "$(md autoscaling/target-lifecycle-state)" = Terminated ] || md spot/instance-action >/dev/null; do sleep 5; done',
    `docker stop --time ${DRAIN_SECONDS} coderoom-worker`,
    'docker stop coderoom-metrics',
    // The Auto Scaling API: through its endpoint, or over the internet from a public subnet.
    s.autoscalingEndpoint || s.computeSubnets === 'public'
      ? `aws autoscaling complete-lifecycle-action --region ${o.region} --auto-scaling-group-name ${o.asgName} --lifecycle-hook-name ${DRAIN_HOOK} --instance-id "$(md instance-id)" --lifecycle-action-result CONTINUE`
      : `# no Auto Scaling endpoint: the hook ends by its timeout (${HOOK_TIMEOUT_SECONDS} s)`,
    'DRAIN',
    'chmod 755 /usr/local/bin/coderoom-drain',
    'cat > /etc/systemd/system/coderoom-drain.service <<UNIT',
    '[Unit]',
    'Description=Drain the Coderoom worker before the instance terminates',
    'After=docker.service',
    '[Service]',
    'ExecStart=/usr/local/bin/coderoom-drain',
    '[Install]',
    'WantedBy=multi-user.target',
    'UNIT',
    'systemctl daemon-reload',
    'systemctl enable --now coderoom-drain.service',
  ];
}
