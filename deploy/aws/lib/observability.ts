import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { Data } from './data.js';
import type { Gateway } from './gateway.js';
import type { Settings } from './settings.js';
import { workerMetric, type Workers } from './workers.js';

/**
 * Alarms (to one SNS topic) and a dashboard. The run metrics come from the worker hosts
 * (deploy/docker/queue-metrics.mjs writes them as CloudWatch embedded-metric log lines):
 * QueueWaiting, QueueWaitSeconds (a distribution, so p95 is exact over all hosts),
 * RunsFinished, RunErrors (verdict SE: the engine failed, not the program), ActiveRuns.
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, s: Settings, data: Data, gw: Gateway, wk: Workers) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Alarms', {
      displayName: `Coderoom ${s.envName} alarms`,
      masterKey: data.key,
      enforceSSL: true,
    });
    // CloudWatch publishes to the encrypted topic with the key.
    data.key.grant(
      new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    );
    if (s.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(s.alarmEmail));

    const alb = gw.alb.metrics;
    const tg = gw.targetGroup.metrics;
    const fiveMin = { period: Duration.minutes(5), statistic: 'Sum' };
    const http5xx = new cloudwatch.MathExpression({
      label: '5xx (ALB + gateways)',
      expression: 'FILL(elb, 0) + FILL(target, 0)',
      usingMetrics: {
        elb: alb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, fiveMin),
        target: alb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, fiveMin),
      },
      period: Duration.minutes(5),
    });
    const queueWaitP95 = workerMetric(s.envName, 'QueueWaitSeconds', 'p95');
    const runErrorRate = new cloudwatch.MathExpression({
      label: 'run error rate (% SE)',
      expression: 'IF(finished > 0, 100 * errors / finished, 0)',
      usingMetrics: {
        errors: workerMetric(s.envName, 'RunErrors', 'Sum', Duration.minutes(5)),
        finished: workerMetric(s.envName, 'RunsFinished', 'Sum', Duration.minutes(5)),
      },
      period: Duration.minutes(5),
    });
    const runnerCpu = new cloudwatch.Metric({
      namespace: 'AWS/EC2',
      metricName: 'CPUUtilization',
      dimensionsMap: { AutoScalingGroupName: wk.asg.autoScalingGroupName },
      statistic: 'Average',
      period: Duration.minutes(1),
    });
    const redisNodes = Array.from(
      { length: 1 + s.redis.replicas },
      (_, i) => `coderoom-${s.envName}-${String(i + 1).padStart(3, '0')}`,
    );
    const redisMemory = (node: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ElastiCache',
        metricName: 'DatabaseMemoryUsagePercentage',
        dimensionsMap: { CacheClusterId: node },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      });

    const alarm = (name: string, props: cloudwatch.AlarmProps) => {
      const a = new cloudwatch.Alarm(this, name, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...props,
      });
      a.addAlarmAction(new actions.SnsAction(this.topic));
      a.addOkAction(new actions.SnsAction(this.topic));
      this.alarms.push(a);
      return a;
    };
    alarm('Http5xx', {
      metric: http5xx,
      alarmDescription: '5xx answers from the ALB or the gateways (>= 10 in 5 minutes)',
      threshold: 10,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('QueueWaitP95', {
      metric: queueWaitP95,
      alarmDescription: 'p95 of the time runs wait for a worker is above 2 s (3 of 5 minutes)',
      threshold: 2,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    alarm('RunnerCpu', {
      metric: runnerCpu,
      alarmDescription: 'worker hosts above 85 % CPU on average for 10 minutes (scaling lags)',
      threshold: 85,
      evaluationPeriods: 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    alarm('RunErrorRate', {
      metric: runErrorRate,
      alarmDescription: 'more than 2 % of runs end SE (engine failures) over 10 minutes',
      threshold: 2,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    for (const node of redisNodes) {
      alarm(`RedisMemory${node.slice(-3)}`, {
        metric: redisMemory(node),
        alarmDescription: `Redis ${node} above 75 % of its memory (noeviction: writes fail when full)`,
        threshold: 75,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }
    alarm('UnhealthyGateways', {
      metric: tg.unhealthyHostCount({ period: Duration.minutes(1), statistic: 'Maximum' }),
      alarmDescription: 'a gateway task fails its /ready check for 3 minutes',
      threshold: 0,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `coderoom-${s.envName}`,
      defaultInterval: Duration.hours(3),
    });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8 });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
    dashboard.addWidgets(
      graph(
        'Runs waiting / wait p50, p95 (s)',
        [workerMetric(s.envName, 'QueueWaiting', 'Maximum')],
        [workerMetric(s.envName, 'QueueWaitSeconds', 'p50'), queueWaitP95],
      ),
      graph(
        'Runs finished / SE',
        [workerMetric(s.envName, 'RunsFinished', 'Sum')],
        [workerMetric(s.envName, 'RunErrors', 'Sum')],
      ),
      graph(
        'Worker hosts: CPU % / active runs',
        [runnerCpu],
        [workerMetric(s.envName, 'ActiveRuns', 'Sum')],
      ),
    );
    dashboard.addWidgets(
      graph('ALB: requests / 5xx', [alb.requestCount({ period: Duration.minutes(1) })], [http5xx]),
      graph(
        'ALB: active connections / healthy gateways',
        [alb.activeConnectionCount({ period: Duration.minutes(1) })],
        [tg.healthyHostCount({ period: Duration.minutes(1) })],
      ),
      graph(
        'Gateways: CPU % / memory %',
        [gw.service.metricCpuUtilization()],
        [gw.service.metricMemoryUtilization()],
      ),
    );
    dashboard.addWidgets(
      graph('Redis memory %', redisNodes.map(redisMemory)),
      graph(
        'Redis CPU % (engine)',
        redisNodes.map(
          (node) =>
            new cloudwatch.Metric({
              namespace: 'AWS/ElastiCache',
              metricName: 'EngineCPUUtilization',
              dimensionsMap: { CacheClusterId: node },
              period: Duration.minutes(1),
            }),
        ),
      ),
      graph(
        'Database CPU %',
        data.cluster
          ? [
              new cloudwatch.Metric({
                namespace: 'AWS/DocDB',
                metricName: 'CPUUtilization',
                dimensionsMap: { DBClusterIdentifier: data.cluster.clusterIdentifier },
                period: Duration.minutes(1),
              }),
            ]
          : [],
      ),
    );
  }
}
