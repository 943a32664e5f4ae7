import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as docdb from 'aws-cdk-lib/aws-docdb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secrets from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Network } from './network.js';
import type { Settings } from './settings.js';

/** Not the engines' defaults (6379, 27017): scanners for open Redis/MongoDB try those first. */
export const REDIS_PORT = 6380;
export const MONGO_PORT = 27018;

/**
 * Placeholders the images' entrypoint (deploy/docker/entrypoint.sh) replaces with secrets it
 * gets as environment variables, so a URI and its password can live in different places (the
 * URI in plain configuration, the password in Secrets Manager). The generated secrets have no
 * punctuation, so they need no URL encoding.
 */
export const REDIS_TOKEN_PLACEHOLDER = '__REDIS_AUTH_TOKEN__';
export const MONGO_PASSWORD_PLACEHOLDER = '__MONGODB_PASSWORD__';

/**
 * Secrets Manager (JWT key, Redis AUTH token, database credentials), ElastiCache Redis, and
 * DocumentDB or a placeholder secret for an Atlas URI. Nothing here is reachable from outside
 * the VPC: isolated subnets, security groups open only to the gateway and worker groups.
 */
export class Data extends Construct {
  readonly key: kms.Key;
  readonly jwtSecret: secrets.Secret;
  readonly redisToken: secrets.Secret;
  /** REDIS_URL with the token placeholder (rediss: TLS). */
  readonly redisUrl: string;
  readonly redisSecurityGroup: ec2.SecurityGroup;
  readonly replicationGroup: elasticache.CfnReplicationGroup;
  readonly databaseSecurityGroup?: ec2.SecurityGroup;
  readonly cluster?: docdb.DatabaseCluster;
  /** DocumentDB: MONGODB_URI with the password placeholder; Atlas: undefined (whole URI secret). */
  readonly mongoUri?: string;
  /** DocumentDB: its master secret (field `password`); Atlas: the whole URI (plain text). */
  readonly databaseSecret: secrets.ISecret;

  constructor(scope: Construct, id: string, s: Settings, net: Network) {
    super(scope, id);
    const removal = s.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.key = new kms.Key(this, 'Key', {
      description: `Coderoom ${s.envName}: secrets, Redis and database at rest`,
      enableKeyRotation: true,
      removalPolicy: removal,
    });
    const noPunctuation = { excludePunctuation: true, passwordLength: 48 };
    this.jwtSecret = new secrets.Secret(this, 'JwtSecret', {
      description: 'JWT_SECRET of the gateways (HS256 key of API tokens)',
      encryptionKey: this.key,
      generateSecretString: noPunctuation,
      removalPolicy: removal,
    });
    this.redisToken = new secrets.Secret(this, 'RedisAuthToken', {
      description: 'AUTH token of the ElastiCache replication group',
      encryptionKey: this.key,
      generateSecretString: noPunctuation,
      removalPolicy: removal,
    });

    // --- Redis ------------------------------------------------------------------------------
    this.redisSecurityGroup = new ec2.SecurityGroup(this, 'RedisSg', {
      vpc: net.vpc,
      description: 'ElastiCache Redis: only from gateways and workers',
      allowAllOutbound: false,
    });
    const subnets = new elasticache.CfnSubnetGroup(this, 'RedisSubnets', {
      description: 'Coderoom Redis (isolated subnets)',
      subnetIds: net.vpc.selectSubnets(net.privateSubnets).subnetIds,
    });
    // BullMQ needs every key kept: an evicted job or lock loses runs silently. The queue, the
    // replay logs (bounded, with a TTL) and the live state must fit in memory: the alarm on
    // DatabaseMemoryUsagePercentage warns long before writes start failing with OOM.
    // Valkey 8 (Redis 7.2's fork: the same commands, what BullMQ and socket.io use) or Redis 7.
    const valkey = s.redis.engine === 'valkey';
    const params = new elasticache.CfnParameterGroup(this, 'RedisParams', {
      cacheParameterGroupFamily: valkey ? 'valkey8' : 'redis7',
      description: 'Coderoom: noeviction (BullMQ loses jobs silently when keys are evicted)',
      properties: { 'maxmemory-policy': 'noeviction' },
    });
    const ha = s.redis.replicas > 0;
    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupId: `coderoom-${s.envName}`,
      replicationGroupDescription: `Coderoom ${s.envName}: queue, replay logs, live state, pub/sub`,
      engine: s.redis.engine,
      engineVersion: valkey ? '8.0' : '7.1',
      cacheNodeType: s.redis.nodeType,
      numCacheClusters: 1 + s.redis.replicas,
      automaticFailoverEnabled: ha,
      multiAzEnabled: ha && s.redis.multiAz,
      cacheParameterGroupName: params.ref,
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [this.redisSecurityGroup.securityGroupId],
      port: REDIS_PORT,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      authToken: this.redisToken.secretValue.unsafeUnwrap(), // a dynamic reference, not the value
      atRestEncryptionEnabled: true,
      kmsKeyId: this.key.keyId,
      snapshotRetentionLimit: s.redis.snapshotRetentionDays,
      ...(s.redis.snapshotRetentionDays > 0 ? { snapshotWindow: '03:00-04:00' } : {}),
      preferredMaintenanceWindow: 'sun:04:30-sun:05:30',
      autoMinorVersionUpgrade: true,
    });
    this.replicationGroup.applyRemovalPolicy(removal);
    this.redisUrl = `rediss://:${REDIS_TOKEN_PLACEHOLDER}@${this.replicationGroup.attrPrimaryEndPointAddress}:${REDIS_PORT}`;

    // --- MongoDB: DocumentDB, or Atlas over PrivateLink -------------------------------------
    if (s.database === 'documentdb') {
      this.databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSg', {
        vpc: net.vpc,
        description: 'DocumentDB: only from gateways and workers',
        allowAllOutbound: false,
      });
      this.cluster = new docdb.DatabaseCluster(this, 'DocumentDb', {
        masterUser: {
          username: 'coderoom',
          kmsKey: this.key,
          excludeCharacters: '"@/:?#[]%&=+\\\'`~!$^*(){}<>|;, ',
        },
        engineVersion: '5.0.0',
        dbClusterName: `coderoom-${s.envName}`,
        port: MONGO_PORT,
        instanceType: new ec2.InstanceType(s.documentdb.instanceType.replace(/^db\./, '')),
        instances: s.documentdb.instances,
        vpc: net.vpc,
        vpcSubnets: net.privateSubnets,
        securityGroup: this.databaseSecurityGroup,
        storageEncrypted: true,
        kmsKey: this.key,
        backup: { retention: Duration.days(s.documentdb.backupRetentionDays) },
        deletionProtection: s.retainData,
        removalPolicy: s.retainData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
        exportAuditLogsToCloudWatch: true,
        exportProfilerLogsToCloudWatch: true,
        parameterGroup: new docdb.ClusterParameterGroup(this, 'DocumentDbParams', {
          family: 'docdb5.0',
          description: 'Coderoom: TLS required, audit and profiler logs on',
          parameters: { tls: 'enabled', audit_logs: 'enabled', profiler: 'enabled' },
        }),
      });
      // Its log groups, made here with their retention (else CDK adds a Lambda to set it).
      for (const kind of ['audit', 'profiler']) {
        const group = new logs.LogGroup(this, `DocumentDbLogs-${kind}`, {
          logGroupName: `/aws/docdb/coderoom-${s.envName}/${kind}`,
          retention: s.logRetentionDays as logs.RetentionDays,
          removalPolicy: removal,
        });
        this.cluster.node.addDependency(group);
      }
      this.databaseSecret = this.cluster.secret!;
      // DocumentDB has no retryable writes (retryWrites=false, else every write fails), needs
      // TLS with Amazon's CA bundle (in the images: /etc/coderoom/docdb-ca.pem), and serves the
      // replica set rs0. Reads stay on the primary: the service reads its own writes.
      this.mongoUri =
        `mongodb://coderoom:${MONGO_PASSWORD_PLACEHOLDER}@${this.cluster.clusterEndpoint.socketAddress}` +
        '/coderoom?tls=true&tlsCAFile=/etc/coderoom/docdb-ca.pem&replicaSet=rs0&retryWrites=false';
    } else {
      this.databaseSecret = new secrets.Secret(this, 'AtlasUri', {
        description:
          'MONGODB_URI of the Atlas cluster (mongodb+srv://...), through its private endpoint: ' +
          'put the value in after the first deploy (see deploy/aws/README.md)',
        encryptionKey: this.key,
        removalPolicy: removal,
      });
    }
  }

  /** Lets a security group (gateways, workers) reach Redis and the database. */
  allowFrom(peer: ec2.SecurityGroup, what: string): void {
    this.redisSecurityGroup.addIngressRule(peer, ec2.Port.tcp(REDIS_PORT), `Redis from ${what}`);
    this.databaseSecurityGroup?.addIngressRule(
      peer,
      ec2.Port.tcp(MONGO_PORT),
      `DocumentDB from ${what}`,
    );
  }
}
