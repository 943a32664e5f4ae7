import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Gateway } from './gateway.js';
import type { Settings } from './settings.js';

/** Paths CloudFront passes to the gateways; everything else is the web client from S3. */
export const API_PATHS = ['/socket.io/*', '/api/*', '/asyncapi.json', '/health', '/ready'];

/**
 * The web client on S3 behind CloudFront (clientHosting=cloudfront). The client talks to its
 * own origin (client/web/src/lib/session.ts: location.origin), so CloudFront also carries the
 * API paths to the ALB: same origin, no CORS, and the ALB's stickiness cookie travels with
 * every request (all cookies, headers and query strings are forwarded; nothing is cached).
 * WebSockets pass through CloudFront. Its origin read timeout (60 s) bounds a silent request:
 * the gateways get HTTP_WAIT_MS=55000 here.
 */
export class ClientSite extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, s: Settings, gateway: Gateway, logs: s3.IBucket) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true, // a rollback of the client is a copy of the previous versions
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'client-bucket/',
      removalPolicy: s.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !s.retainData,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
    });
    const api = new origins.HttpOrigin(
      s.certificateArn && s.apiDomainName ? s.apiDomainName : gateway.alb.loadBalancerDnsName,
      {
        protocolPolicy:
          s.certificateArn && s.apiDomainName
            ? cloudfront.OriginProtocolPolicy.HTTPS_ONLY
            : cloudfront.OriginProtocolPolicy.HTTP_ONLY,
        originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
        readTimeout: Duration.seconds(60),
        keepaliveTimeout: Duration.seconds(60),
      },
    );
    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: api,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    };
    this.distribution = new cloudfront.Distribution(this, 'Cdn', {
      comment: `Coderoom ${s.envName}: web client (S3) and API (ALB)`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      },
      additionalBehaviors: Object.fromEntries(API_PATHS.map((p) => [p, apiBehavior])),
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'cloudfront/',
    });
  }
}
