// What differs between the environments, and what the CDK context may override. Everything the
// stacks size or switch on is here, so a reviewer reads one file to know what an environment gets.

export type EnvName = 'staging' | 'production';
export type ClientHosting = 'cloudfront' | 'gateway';
export type Database = 'documentdb' | 'atlas';
/** `small`: production sized for ~150 USD/month on demand (README.md, "Cost"). */
export type Profile = 'standard' | 'small';
/**
 * Where gateways and worker hosts run. `isolated`: subnets with no route out; AWS services
 * through interface endpoints (~7.30 USD/month each per AZ). `public`: public subnets with a
 * public IPv4 address each (~3.65 USD/month) and no inbound rule but the ALB's, no interface
 * endpoint; Redis and the database stay isolated either way.
 */
export type ComputeSubnets = 'isolated' | 'public';
export type RedisEngine = 'redis' | 'valkey';

export interface Settings {
  envName: EnvName;
  profile: Profile;
  computeSubnets: ComputeSubnets;
  /** Where the web client is served from: S3 behind CloudFront, or the gateway (STATIC_DIR). */
  clientHosting: ClientHosting;
  /** ACM certificate (in the stack's region) for the ALB's HTTPS listener; unset: HTTP only. */
  certificateArn?: string;
  /**
   * The ALB's DNS name as the certificate names it (a CNAME you create to the ALB), for
   * CloudFront to reach it over HTTPS; without it (or a certificate) CloudFront uses HTTP.
   */
  apiDomainName?: string;
  database: Database;
  /** Atlas only: the PrivateLink endpoint service Atlas gives for the project (vpce-svc-...). */
  atlasEndpointService?: string;
  /** Tag of the gateway and worker images in ECR (the content hash deploy/docker/images.mjs prints). */
  imageTag: string;
  /** Release tag of the sandbox images (one tag over all of them, see images.mjs). */
  sandboxRelease: string;
  /** Run sandboxes under gVisor (runsc installed on the worker hosts). */
  gvisor: boolean;
  /** Where alarms are mailed (an SNS e-mail subscription); unset: the topic has no subscriber. */
  alarmEmail?: string;
  /** Availability zones that hold the interface VPC endpoints (1 saves ~7.30 USD/month each). */
  endpointAzs: number;
  /** Lets worker hosts end their termination lifecycle hook at once (else it times out). */
  autoscalingEndpoint: boolean;
  gateway: {
    cpu: number;
    memoryMiB: number;
    minTasks: number;
    maxTasks: number;
    /** Tasks beyond this many run on Fargate Spot. */
    onDemandTasks: number;
  };
  workers: {
    instanceType: string;
    minInstances: number;
    maxInstances: number;
    /** Instances beyond this many are Spot (a Spot interruption is a 2-minute drain). */
    onDemandInstances: number;
    /** WORKER_CONCURRENCY: runs at once per host (one worker process per host). */
    concurrency: number;
    /** Root volume (GiB): the sandbox images (~3 GB) and Docker's scratch space. */
    volumeGiB: number;
  };
  redis: {
    /** ElastiCache for Valkey (Redis 7.2's fork, same commands) costs ~20 % less per node. */
    engine: RedisEngine;
    nodeType: string;
    /** Read replicas; with >= 1 and multiAz the primary fails over to a replica in another AZ. */
    replicas: number;
    multiAz: boolean;
    snapshotRetentionDays: number;
  };
  documentdb: { instanceType: string; instances: number; backupRetentionDays: number };
  logRetentionDays: number;
  /** Data stores and log groups survive `cdk destroy` (production) or go with it (staging). */
  retainData: boolean;
}

type Preset = Omit<Settings, 'imageTag' | 'sandboxRelease'>;

const PRESETS: Record<EnvName, Preset> = {
  staging: {
    envName: 'staging',
    profile: 'standard',
    computeSubnets: 'isolated',
    clientHosting: 'cloudfront',
    database: 'documentdb',
    gvisor: false,
    endpointAzs: 1,
    autoscalingEndpoint: false,
    gateway: { cpu: 256, memoryMiB: 512, minTasks: 1, maxTasks: 2, onDemandTasks: 0 },
    workers: {
      instanceType: 't3a.medium',
      minInstances: 1,
      maxInstances: 2,
      onDemandInstances: 0,
      concurrency: 2,
      volumeGiB: 40,
    },
    redis: {
      engine: 'redis',
      nodeType: 'cache.t4g.micro',
      replicas: 0,
      multiAz: false,
      snapshotRetentionDays: 0,
    },
    documentdb: { instanceType: 'db.t4g.medium', instances: 1, backupRetentionDays: 1 },
    logRetentionDays: 7,
    retainData: false,
  },
  production: {
    envName: 'production',
    profile: 'standard',
    computeSubnets: 'isolated',
    clientHosting: 'cloudfront',
    database: 'documentdb',
    gvisor: false,
    endpointAzs: 2,
    autoscalingEndpoint: true,
    gateway: { cpu: 512, memoryMiB: 1024, minTasks: 2, maxTasks: 8, onDemandTasks: 2 },
    workers: {
      instanceType: 'c6a.large',
      minInstances: 1,
      maxInstances: 6,
      onDemandInstances: 1,
      concurrency: 2,
      volumeGiB: 40,
    },
    redis: {
      engine: 'redis',
      nodeType: 'cache.t4g.small',
      replicas: 1,
      multiAz: true,
      snapshotRetentionDays: 7,
    },
    documentdb: { instanceType: 'db.t4g.medium', instances: 2, backupRetentionDays: 7 },
    logRetentionDays: 30,
    retainData: true,
  },
};

/**
 * A small production (`-c env=production -c profile=small`): every part still survives the loss
 * of one instance, task or AZ except the database's instance (DocumentDB keeps its storage in 3
 * AZs; a lost instance is replaced in ~10 minutes, which the service rides out as its failure
 * table says). What it gives up against `production`, for ~150 USD/month on demand (README.md):
 * one on-demand gateway and worker host at the base (Spot above), smaller sizes, one database
 * instance, Valkey, and gateways and worker hosts in public subnets instead of interface endpoints.
 */
const SMALL_PRODUCTION: Preset = {
  ...PRESETS.production,
  profile: 'small',
  computeSubnets: 'public',
  endpointAzs: 1,
  autoscalingEndpoint: false,
  gateway: { cpu: 256, memoryMiB: 512, minTasks: 2, maxTasks: 4, onDemandTasks: 1 },
  workers: {
    instanceType: 't3a.small',
    minInstances: 1,
    maxInstances: 3,
    onDemandInstances: 1,
    concurrency: 2,
    volumeGiB: 30,
  },
  redis: {
    engine: 'valkey',
    nodeType: 'cache.t4g.micro',
    replicas: 1,
    multiAz: true,
    snapshotRetentionDays: 7,
  },
  documentdb: { instanceType: 'db.t4g.medium', instances: 1, backupRetentionDays: 7 },
  logRetentionDays: 14,
};

/** A CDK context reader: `app.node.tryGetContext`. */
export type Context = (key: string) => unknown;

function str(ctx: Context, key: string): string | undefined {
  const v = ctx(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
    throw new Error(`context ${key}: expected a string, got ${JSON.stringify(v)}`);
  }
  return String(v);
}

function oneOf<T extends string>(ctx: Context, key: string, allowed: readonly T[], def: T): T {
  const v = str(ctx, key) ?? def;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new Error(`context ${key}=${v}: use one of ${allowed.join(', ')}`);
  }
  return v as T;
}

function int(ctx: Context, key: string, def: number, min: number, max: number): number {
  const raw = str(ctx, key);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`context ${key}=${raw}: an integer from ${min} to ${max}`);
  }
  return n;
}

const bool = (ctx: Context, key: string, def: boolean): boolean => {
  const raw = str(ctx, key);
  if (raw === undefined) return def;
  if (raw !== 'true' && raw !== 'false') throw new Error(`context ${key}=${raw}: true or false`);
  return raw === 'true';
};

/**
 * The settings of one environment: its preset, then the context's overrides (`cdk deploy -c
 * env=production -c certificateArn=...`). A bad value stops synthesis with what is wrong.
 */
export function settingsFrom(ctx: Context): Settings {
  const envName = oneOf(ctx, 'env', ['staging', 'production'] as const, 'staging');
  const profile = oneOf(ctx, 'profile', ['standard', 'small'] as const, 'standard');
  if (profile === 'small' && envName !== 'production') {
    throw new Error('context profile=small: a size of env=production (staging is small already)');
  }
  const p = profile === 'small' ? SMALL_PRODUCTION : PRESETS[envName];
  const database = oneOf(ctx, 'database', ['documentdb', 'atlas'] as const, p.database);
  const atlasEndpointService = str(ctx, 'atlasEndpointService');
  if (database === 'atlas' && !atlasEndpointService) {
    throw new Error(
      'database=atlas needs -c atlasEndpointService=com.amazonaws.vpce.<region>.vpce-svc-... ' +
        '(the project private endpoint Atlas creates): without a NAT gateway, PrivateLink is the ' +
        "only way from the private subnets to Atlas (and Atlas's public endpoint is not wanted)",
    );
  }
  const certificateArn = str(ctx, 'certificateArn');
  if (certificateArn && !/^arn:aws[a-z-]*:acm:/.test(certificateArn)) {
    throw new Error(`context certificateArn=${certificateArn}: an ACM certificate ARN`);
  }
  const tag = (key: string) => {
    const v = str(ctx, key) ?? 'latest';
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(v)) throw new Error(`context ${key}=${v}`);
    return v;
  };
  const gateway = {
    ...p.gateway,
    minTasks: int(ctx, 'gatewayMinTasks', p.gateway.minTasks, 1, 100),
    maxTasks: int(ctx, 'gatewayMaxTasks', p.gateway.maxTasks, 1, 100),
  };
  const workers = {
    ...p.workers,
    instanceType: str(ctx, 'workerInstanceType') ?? p.workers.instanceType,
    minInstances: int(ctx, 'workerMinInstances', p.workers.minInstances, 1, 100),
    maxInstances: int(ctx, 'workerMaxInstances', p.workers.maxInstances, 1, 100),
    concurrency: int(ctx, 'workerConcurrency', p.workers.concurrency, 1, 64),
  };
  if (gateway.minTasks > gateway.maxTasks || workers.minInstances > workers.maxInstances) {
    throw new Error('a minimum above its maximum (gatewayMinTasks/workerMinInstances)');
  }
  return {
    ...p,
    clientHosting: oneOf(ctx, 'clientHosting', ['cloudfront', 'gateway'] as const, p.clientHosting),
    computeSubnets: oneOf(ctx, 'computeSubnets', ['isolated', 'public'] as const, p.computeSubnets),
    database,
    atlasEndpointService,
    certificateArn,
    apiDomainName: str(ctx, 'apiDomainName'),
    imageTag: tag('imageTag'),
    sandboxRelease: tag('sandboxRelease'),
    gvisor: bool(ctx, 'gvisor', p.gvisor),
    alarmEmail: str(ctx, 'alarmEmail'),
    endpointAzs: int(ctx, 'endpointAzs', p.endpointAzs, 1, 2),
    autoscalingEndpoint: bool(ctx, 'autoscalingEndpoint', p.autoscalingEndpoint),
    gateway,
    workers,
    redis: {
      ...p.redis,
      engine: oneOf(ctx, 'redisEngine', ['redis', 'valkey'] as const, p.redis.engine),
      nodeType: str(ctx, 'redisNodeType') ?? p.redis.nodeType,
    },
    documentdb: {
      ...p.documentdb,
      instances: int(ctx, 'documentdbInstances', p.documentdb.instances, 1, 16),
    },
  };
}
