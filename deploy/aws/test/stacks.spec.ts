/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- a synthesized CloudFormation template is untyped JSON; the assertions are the types. */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Validations } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { GATEWAY_TIMING } from '../lib/gateway.js';
import { sandboxImageNames } from '../lib/sandbox-images.js';
import { settingsFrom } from '../lib/settings.js';
import { DRAIN_SECONDS, HOOK_TIMEOUT_SECONDS } from '../lib/workers.js';
import { build, only, resources, text, type Synthesized } from './synth.js';

const staging = build({ env: 'staging' });
const production = build({
  env: 'production',
  certificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/abc',
  apiDomainName: 'api.coderoom.example',
  alarmEmail: 'ops@coderoom.example',
});

const attrs = (list: { Key: string; Value: string }[]) =>
  Object.fromEntries(list.map((a) => [a.Key, a.Value]));

describe.each([
  ['staging', staging],
  ['production', production],
])('%s', (_name, built) => {
  it('synthesizes with no cdk-nag AwsSolutions finding left (each is fixed or acknowledged with a reason)', () => {
    expect(() => built.app.synth()).not.toThrow();
  });
  let t: Synthesized['template'];
  beforeAll(() => {
    t = built.template;
  });

  it('balances with sticky sessions, an idle timeout above socket.io and ?wait=true silences, and health on /ready', () => {
    const alb = attrs(only(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').LoadBalancerAttributes);
    const idle = Number(alb['idle_timeout.timeout_seconds']);
    expect(idle).toBeGreaterThan(GATEWAY_TIMING.socketSilenceSeconds);
    expect(idle).toBeGreaterThan(GATEWAY_TIMING.httpWaitSeconds);
    expect(alb['routing.http.drop_invalid_header_fields.enabled']).toBe('true');
    expect(alb['access_logs.s3.enabled']).toBe('true');
    const tg = only(t, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    const tga = attrs(tg.TargetGroupAttributes);
    expect(tga['stickiness.enabled']).toBe('true');
    expect(tga['stickiness.type']).toBe('lb_cookie');
    expect(tg.HealthCheckPath).toBe('/ready');
    expect(tg.Port).toBe(3000);
    expect(tg.TargetType).toBe('ip');
  });

  it('drains a gateway: deregistration first, then SIGTERM with time for its 10 s document drain before SIGKILL', () => {
    const tga = attrs(only(t, 'AWS::ElasticLoadBalancingV2::TargetGroup').TargetGroupAttributes);
    const delay = Number(tga['deregistration_delay.timeout_seconds']);
    expect(delay).toBeGreaterThan(0);
    const container = only(t, 'AWS::ECS::TaskDefinition').ContainerDefinitions[0];
    expect(container.StopTimeout).toBeGreaterThanOrEqual(GATEWAY_TIMING.sigtermDrainSeconds + 10);
    // The container's own check is liveness (/health), not readiness: a database outage must not
    // make ECS replace every gateway.
    expect(text(container.HealthCheck.Command)).toContain('/health');
    expect(container.ReadonlyRootFilesystem).toBe(true);
    expect(container.User).toBe('1000:1000');
    expect(container.LinuxParameters.InitProcessEnabled).toBe(true);
    const service = only(t, 'AWS::ECS::Service');
    expect(service.DeploymentConfiguration.MinimumHealthyPercent).toBe(100);
    expect(service.DeploymentConfiguration.DeploymentCircuitBreaker).toEqual({
      Enable: true,
      Rollback: true,
    });
    expect(service.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
  });

  it('injects every secret from Secrets Manager, never as plain environment', () => {
    const container = only(t, 'AWS::ECS::TaskDefinition').ContainerDefinitions[0];
    const names = container.Secrets.map((x: { Name: string }) => x.Name).sort();
    expect(names).toEqual(['JWT_SECRET', 'MONGODB_PASSWORD', 'REDIS_AUTH_TOKEN']);
    const env = Object.fromEntries(
      container.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]),
    );
    expect(env.DEV_TOKENS).toBe('false');
    expect(text(env.REDIS_URL)).toContain('rediss://:__REDIS_AUTH_TOKEN__@');
    expect(text(env.MONGODB_URI)).toContain('retryWrites=false');
    expect(text(env.MONGODB_URI)).toContain('tls=true');
    expect(env.JWT_SECRET).toBeUndefined();
  });

  it('scales the gateways by target tracking on CPU and memory', () => {
    const policies = resources(t, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(
      ([, p]) =>
        p.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification
          .PredefinedMetricType,
    );
    expect(policies.sort()).toEqual([
      'ECSServiceAverageCPUUtilization',
      'ECSServiceAverageMemoryUtilization',
    ]);
  });

  it('runs workers on an EC2 Auto Scaling group with Docker, a drain hook, and steps on queue depth', () => {
    const hook = only(t, 'AWS::AutoScaling::LifecycleHook');
    expect(hook.LifecycleTransition).toBe('autoscaling:EC2_INSTANCE_TERMINATING');
    expect(hook.DefaultResult).toBe('CONTINUE');
    expect(hook.HeartbeatTimeout).toBe(HOOK_TIMEOUT_SECONDS);
    expect(HOOK_TIMEOUT_SECONDS).toBeGreaterThan(DRAIN_SECONDS);
    const step = resources(t, 'AWS::AutoScaling::ScalingPolicy').map(([, p]) => p);
    expect(step.every((p) => p.PolicyType === 'StepScaling')).toBe(true);
    expect(step.length).toBe(2); // out and in
    const alarms = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a);
    const queueAlarms = alarms.filter(
      (a) => a.Namespace === 'Coderoom' && a.MetricName === 'QueueWaiting',
    );
    expect(queueAlarms.length).toBe(2);
    const lt = only(t, 'AWS::EC2::LaunchTemplate').LaunchTemplateData;
    expect(lt.MetadataOptions).toMatchObject({
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
    });
    expect(lt.BlockDeviceMappings[0].Ebs.Encrypted).toBe(true);
    const userData = text(lt.UserData);
    expect(userData).toContain('dnf install -y docker');
    expect(userData).toContain(`docker stop --time ${DRAIN_SECONDS} coderoom-worker`);
    expect(userData).toContain('autoscaling/target-lifecycle-state');
    expect(userData).toContain('-v /var/run/docker.sock:/var/run/docker.sock');
    expect(userData).toContain('--cap-drop ALL');
    for (const image of sandboxImageNames()) {
      expect(userData).toContain(`coderoom-sandbox-${image}:latest`);
    }
    const asg = only(t, 'AWS::AutoScaling::AutoScalingGroup');
    expect(asg.VPCZoneIdentifier.length).toBe(2);
  });

  it('keeps Redis private, encrypted, authenticated, noeviction', () => {
    const rg = only(t, 'AWS::ElastiCache::ReplicationGroup');
    expect(rg.TransitEncryptionEnabled).toBe(true);
    expect(rg.TransitEncryptionMode).toBe('required');
    expect(rg.AtRestEncryptionEnabled).toBe(true);
    expect(text(rg.AuthToken)).toContain('resolve:secretsmanager');
    const params = only(t, 'AWS::ElastiCache::ParameterGroup');
    expect(params.Properties['maxmemory-policy']).toBe('noeviction');
  });

  it('keeps the database private and encrypted, and its secrets in Secrets Manager with a KMS key', () => {
    const db = only(t, 'AWS::DocDB::DBCluster');
    expect(db.StorageEncrypted).toBe(true);
    expect(db.EnableCloudwatchLogsExports.sort()).toEqual(['audit', 'profiler']);
    const params = only(t, 'AWS::DocDB::DBClusterParameterGroup');
    expect(params.Parameters.tls).toBe('enabled');
    for (const [, secret] of resources(t, 'AWS::SecretsManager::Secret')) {
      expect(secret.KmsKeyId).toBeDefined();
    }
  });

  it('opens no database or Redis port to any address: only to the gateway and worker groups', () => {
    const ingress = [
      ...resources(t, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r),
      ...resources(t, 'AWS::EC2::SecurityGroup').flatMap(([, g]) => g.SecurityGroupIngress ?? []),
    ];
    const dataPorts = ingress.filter((r) => r.FromPort === 6380 || r.FromPort === 27018);
    expect(dataPorts.length).toBe(4); // Redis and DocumentDB, each from gateways and workers
    for (const r of dataPorts) {
      expect(r.CidrIp).toBeUndefined();
      expect(r.CidrIpv6).toBeUndefined();
      expect(r.SourceSecurityGroupId).toBeDefined();
    }
    // Only the ALB takes traffic from anywhere.
    const open = ingress.filter((r) => r.CidrIp === '0.0.0.0/0');
    expect(open.every((r) => r.FromPort === 80 || r.FromPort === 443)).toBe(true);
  });

  it('has no NAT gateway and no public IPs inside: AWS services through VPC endpoints', () => {
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    const endpoints = resources(t, 'AWS::EC2::VPCEndpoint').map(([, e]) => text(e.ServiceName));
    for (const svc of ['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager', '.s3']) {
      expect(endpoints.some((e) => e.includes(svc))).toBe(true);
    }
    for (const [, subnet] of resources(t, 'AWS::EC2::Subnet')) {
      const isPublic = text(subnet.Tags).includes('"Public"');
      expect(subnet.MapPublicIpOnLaunch ?? false).toBe(isPublic);
    }
  });

  it('keeps every log group for a bounded time', () => {
    const groups = resources(t, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(5);
    for (const [, g] of groups) expect(g.RetentionInDays).toBeGreaterThan(0);
  });

  it('alarms on 5xx, queue wait p95 > 2 s, runner CPU, run error rate and Redis memory, and has a dashboard', () => {
    const alarms = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a);
    const has = (pred: (a: Record<string, any>) => boolean, what: string) =>
      expect([what, alarms.some(pred)]).toEqual([what, true]);
    has((a) => text(a.Metrics).includes('HTTPCode_ELB_5XX_Count'), '5xx');
    has(
      (a) =>
        a.MetricName === 'QueueWaitSeconds' && a.ExtendedStatistic === 'p95' && a.Threshold === 2,
      'queue wait p95 > 2 s',
    );
    has((a) => a.MetricName === 'CPUUtilization' && a.Namespace === 'AWS/EC2', 'runner CPU');
    has((a) => text(a.Metrics).includes('RunErrors'), 'run error rate');
    has((a) => a.MetricName === 'DatabaseMemoryUsagePercentage', 'Redis memory');
    for (const a of alarms.filter((x) => x.MetricName !== 'QueueWaiting')) {
      expect(a.AlarmActions.length).toBe(1); // the SNS topic
    }
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('serves the client from S3 through CloudFront, which carries the API paths to the ALB', () => {
    const dist = only(t, 'AWS::CloudFront::Distribution').DistributionConfig;
    const paths = dist.CacheBehaviors.map((b: { PathPattern: string }) => b.PathPattern);
    expect(paths).toEqual(expect.arrayContaining(['/socket.io/*', '/api/*']));
    expect(dist.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    const api = dist.Origins.find((o: any) => o.CustomOriginConfig);
    expect(api.CustomOriginConfig.OriginReadTimeout).toBe(60);
  });
});

describe('environments differ where they should', () => {
  it('production: Redis replica in another AZ with failover and snapshots; staging: one node', () => {
    const p = only(production.template, 'AWS::ElastiCache::ReplicationGroup');
    expect(p).toMatchObject({
      NumCacheClusters: 2,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      SnapshotRetentionLimit: 7,
    });
    const s = only(staging.template, 'AWS::ElastiCache::ReplicationGroup');
    expect(s).toMatchObject({ NumCacheClusters: 1, MultiAZEnabled: false });
  });

  it('production: two DocumentDB instances, deletion protection, 7 days of backups, data retained', () => {
    production.template.resourceCountIs('AWS::DocDB::DBInstance', 2);
    const db = only(production.template, 'AWS::DocDB::DBCluster');
    expect(db.DeletionProtection).toBe(true);
    expect(db.BackupRetentionPeriod).toBe(7);
    production.template.hasResource('AWS::DocDB::DBCluster', { DeletionPolicy: 'Snapshot' });
    staging.template.resourceCountIs('AWS::DocDB::DBInstance', 1);
  });

  it('production: HTTPS with the ACM certificate, HTTP redirected; staging: HTTP only', () => {
    const listeners = resources(production.template, 'AWS::ElasticLoadBalancingV2::Listener').map(
      ([, l]) => l,
    );
    const https = listeners.find((l) => l.Protocol === 'HTTPS')!;
    expect(https.Certificates[0].CertificateArn).toContain(':acm:');
    expect(https.SslPolicy).toMatch(/TLS13|TLS-1-2/);
    const http = listeners.find((l) => l.Protocol === 'HTTP')!;
    expect(http.DefaultActions[0].Type).toBe('redirect');
    const cdn = only(production.template, 'AWS::CloudFront::Distribution').DistributionConfig;
    const api = cdn.Origins.find((o: any) => o.CustomOriginConfig);
    expect(api.DomainName).toBe('api.coderoom.example');
    expect(api.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
    const stagingListeners = resources(staging.template, 'AWS::ElasticLoadBalancingV2::Listener');
    expect(stagingListeners.map(([, l]) => l.Protocol)).toEqual(['HTTP']);
  });

  it('production: gateways and workers start from two and one on-demand; Spot only above', () => {
    const svc = only(production.template, 'AWS::ECS::Service');
    expect(svc.CapacityProviderStrategy[0]).toMatchObject({ CapacityProvider: 'FARGATE', Base: 2 });
    const asg = only(production.template, 'AWS::AutoScaling::AutoScalingGroup');
    expect(asg.MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity).toBe(1);
    expect(Number(asg.MinSize)).toBe(1);
  });

  it('clientHosting=gateway: no CloudFront, the gateway serves the built client', () => {
    const g = build({ env: 'staging', clientHosting: 'gateway' });
    g.template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    const env = only(g.template, 'AWS::ECS::TaskDefinition').ContainerDefinitions[0].Environment;
    expect(env).toEqual(
      expect.arrayContaining([{ Name: 'STATIC_DIR', Value: '/app/client/web/dist' }]),
    );
    expect(() => g.app.synth()).not.toThrow();
  });

  it('database=atlas: a PrivateLink endpoint to Atlas and the whole URI as a secret, no DocumentDB', () => {
    const a = build({
      env: 'staging',
      database: 'atlas',
      atlasEndpointService: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0',
    });
    a.template.resourceCountIs('AWS::DocDB::DBCluster', 0);
    const endpoints = resources(a.template, 'AWS::EC2::VPCEndpoint').map(([, e]) => e.ServiceName);
    expect(endpoints).toContain('com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0');
    const container = only(a.template, 'AWS::ECS::TaskDefinition').ContainerDefinitions[0];
    expect(container.Secrets.map((x: { Name: string }) => x.Name)).toContain('MONGODB_URI');
    expect(() => a.app.synth()).not.toThrow();
  });

  it('gvisor=true: worker hosts register runsc and the worker uses it', () => {
    const g = build({ env: 'staging', gvisor: 'true' });
    const ud = text(only(g.template, 'AWS::EC2::LaunchTemplate').LaunchTemplateData.UserData);
    expect(ud).toContain('SANDBOX_RUNTIME=runsc');
    expect(ud).toMatch(/runtimes.{0,8}runsc.{0,8}path.{0,8}\/usr\/local\/bin\/runsc/);
  });
});

describe('small production (-c env=production -c profile=small): the sizes of the cost table', () => {
  const small = build({ env: 'production', profile: 'small', alarmEmail: 'ops@coderoom.example' });
  let t: Synthesized['template'];
  beforeAll(() => {
    t = small.template;
  });

  it('synthesizes with no cdk-nag finding left', () => {
    expect(() => small.app.synth()).not.toThrow();
  });

  it('runs two 0.25 vCPU / 0.5 GB gateways, one of them on-demand, up to four', () => {
    const task = only(t, 'AWS::ECS::TaskDefinition');
    expect(task).toMatchObject({ Cpu: '256', Memory: '512' });
    expect(task.RuntimePlatform?.CpuArchitecture ?? 'X86_64').toBe('X86_64');
    const svc = only(t, 'AWS::ECS::Service');
    expect(svc.DesiredCount).toBe(2);
    expect(svc.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE', Base: 1, Weight: 0 },
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
    const target = only(t, 'AWS::ApplicationAutoScaling::ScalableTarget');
    expect(target).toMatchObject({ MinCapacity: 2, MaxCapacity: 4 });
  });

  it('runs one on-demand t3a.small worker host (30 GB) at the base, Spot above, up to three', () => {
    const lt = only(t, 'AWS::EC2::LaunchTemplate').LaunchTemplateData;
    expect(lt.InstanceType).toBe('t3a.small');
    expect(lt.BlockDeviceMappings[0].Ebs).toMatchObject({ VolumeSize: 30, Encrypted: true });
    const asg = only(t, 'AWS::AutoScaling::AutoScalingGroup');
    expect([Number(asg.MinSize), Number(asg.MaxSize)]).toEqual([1, 3]);
    expect(asg.MixedInstancesPolicy.InstancesDistribution).toMatchObject({
      OnDemandBaseCapacity: 1,
      OnDemandPercentageAboveBaseCapacity: 0,
    });
    expect(asg.VPCZoneIdentifier.length).toBe(2);
    // From a public subnet the host reaches the Auto Scaling API: a drained host goes at once.
    expect(text(lt.UserData)).toContain('aws autoscaling complete-lifecycle-action');
  });

  it('keeps Valkey on two cache.t4g.micro nodes in two AZs with failover, and one DocumentDB instance', () => {
    const redis = only(t, 'AWS::ElastiCache::ReplicationGroup');
    expect(redis).toMatchObject({
      Engine: 'valkey',
      CacheNodeType: 'cache.t4g.micro',
      NumCacheClusters: 2,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
    });
    const params = only(t, 'AWS::ElastiCache::ParameterGroup');
    expect(params.CacheParameterGroupFamily).toBe('valkey8');
    expect(params.Properties['maxmemory-policy']).toBe('noeviction');
    t.resourceCountIs('AWS::DocDB::DBInstance', 1);
    expect(only(t, 'AWS::DocDB::DBInstance').DBInstanceClass).toBe('db.t4g.medium');
  });

  it('puts gateways and worker hosts in public subnets with nothing inbound but the ALB, and no interface endpoint', () => {
    const endpoints = resources(t, 'AWS::EC2::VPCEndpoint').map(([, e]) => e);
    expect(endpoints.map((e) => e.VpcEndpointType ?? 'Gateway')).toEqual(['Gateway']); // S3, free
    const svc = only(t, 'AWS::ECS::Service');
    expect(svc.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('ENABLED');
    const publicSubnets = resources(t, 'AWS::EC2::Subnet')
      .filter(([, s]) => s.MapPublicIpOnLaunch === true)
      .map(([id]) => id);
    const ids = (list: unknown[]) => list.map((x) => text(x));
    const inPublic = (list: unknown[]) =>
      ids(list).every((x) => publicSubnets.some((id) => x.includes(id)));
    expect(inPublic(svc.NetworkConfiguration.AwsvpcConfiguration.Subnets)).toBe(true);
    expect(inPublic(only(t, 'AWS::AutoScaling::AutoScalingGroup').VPCZoneIdentifier)).toBe(true);
    // Redis and the database stay in the isolated subnets.
    const redisSubnets = only(t, 'AWS::ElastiCache::SubnetGroup').SubnetIds as unknown[];
    expect(ids(redisSubnets).some((x) => publicSubnets.some((id) => x.includes(id)))).toBe(false);
    const open = resources(t, 'AWS::EC2::SecurityGroup')
      .flatMap(([, g]) => (g.SecurityGroupIngress ?? []) as Record<string, any>[])
      .concat(resources(t, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r))
      .filter((r) => r.CidrIp === '0.0.0.0/0' || r.CidrIpv6 === '::/0');
    expect(open.every((r) => r.FromPort === 80 || r.FromPort === 443)).toBe(true);
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  it('keeps logs 14 days', () => {
    const days = resources(t, 'AWS::Logs::LogGroup').map(([, g]) => g.RetentionInDays as number);
    expect(days).toContain(14);
    expect(Math.max(...days)).toBeLessThanOrEqual(14);
  });
});

describe('cdk-nag in these tests can fail', () => {
  it('an unacknowledged finding (a bucket without access logs) makes synthesis throw', () => {
    const { app, stack } = build({ env: 'staging', clientHosting: 'gateway' });
    new s3.Bucket(stack, 'Careless', { enforceSSL: true });
    expect(() => app.synth()).toThrow(/Careless[\s\S]*AwsSolutions-S1/);
  });

  it('an acknowledgement needs the exact finding: acknowledging another rule does not hide it', () => {
    const { app, stack } = build({ env: 'staging', clientHosting: 'gateway' });
    const b = new s3.Bucket(stack, 'Careless', { enforceSSL: true });
    Validations.of(b).acknowledge({ id: 'AwsSolutions-S10', reason: 'wrong rule' });
    expect(() => app.synth()).toThrow(/Careless[\s\S]*AwsSolutions-S1'/);
  });
});

describe('the release pipeline', () => {
  let t: Synthesized['template'];
  beforeAll(() => {
    t = staging.releaseTemplate;
  });
  it('has an immutable, scanned, encrypted ECR repository per image, sandboxes included', () => {
    const repos = resources(t, 'AWS::ECR::Repository').map(([, r]) => r);
    const names = repos.map((r) => r.RepositoryName).sort();
    expect(names).toEqual(
      [
        'coderoom/gateway',
        'coderoom/worker',
        ...sandboxImageNames().map((n) => `coderoom/sandbox-${n}`),
      ].sort(),
    );
    for (const r of repos) {
      expect(r.ImageTagMutability).toBe('IMMUTABLE');
      expect(r.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
      expect(r.EncryptionConfiguration.EncryptionType).toBe('KMS');
    }
  });

  it('builds with the same recipes as the local stack and pushes by content tag', () => {
    const project = only(t, 'AWS::CodeBuild::Project');
    expect(project.Environment.PrivilegedMode).toBe(true);
    const spec = project.Source.BuildSpec as string;
    expect(spec).toContain('node sandbox/build-images.mjs');
    expect(spec).toContain('node deploy/docker/images.mjs build');
    expect(spec).toContain('node deploy/docker/images.mjs push --registry');
  });

  it('builds on the official Node image of the pinned version, the one the local stack runs on', () => {
    const pin = JSON.parse(
      readFileSync(new URL('../../docker/node-version.json', import.meta.url), 'utf8'),
    ) as { node: string };
    const env = only(t, 'AWS::CodeBuild::Project').Environment.EnvironmentVariables;
    expect(env).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Name: 'NODE_BASE',
          Value: `public.ecr.aws/docker/library/node:${pin.node}-bookworm-slim`,
        }),
      ]),
    );
  });
});

describe('settings from the context', () => {
  const ctx = (c: Record<string, string>) => (k: string) => c[k];
  it('refuses what cannot work, with the reason', () => {
    expect(() => settingsFrom(ctx({ env: 'prod' }))).toThrow(
      /env=prod: use one of staging, production/,
    );
    expect(() => settingsFrom(ctx({ database: 'atlas' }))).toThrow(/atlasEndpointService/);
    expect(() => settingsFrom(ctx({ certificateArn: 'nope' }))).toThrow(/ACM certificate ARN/);
    expect(() => settingsFrom(ctx({ workerMinInstances: '3', workerMaxInstances: '2' }))).toThrow(
      /minimum above its maximum/,
    );
    expect(() => settingsFrom(ctx({ gvisor: 'yes' }))).toThrow(/true or false/);
    expect(() => settingsFrom(ctx({ env: 'staging', profile: 'small' }))).toThrow(
      /profile=small: a size of env=production/,
    );
  });

  it('overrides sizes for a small production', () => {
    const s = settingsFrom(
      ctx({
        env: 'production',
        workerInstanceType: 't3a.medium',
        redisNodeType: 'cache.t4g.micro',
        endpointAzs: '1',
      }),
    );
    expect(s.workers.instanceType).toBe('t3a.medium');
    expect(s.redis).toMatchObject({ nodeType: 'cache.t4g.micro', replicas: 1, multiAz: true });
    expect(s.endpointAzs).toBe(1);
  });
});
