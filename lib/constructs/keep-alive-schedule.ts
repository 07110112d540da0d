import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Schedule,
  ScheduleExpression,
  TimeWindow,
  type IScheduleTarget,
  type ScheduleTargetConfig,
} from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';

/**
 * Invokes a function with a role the caller prepared, never retrying. Not aws-scheduler-targets'
 * LambdaInvoke: that one also grants the role every version of the function (`<arn>:*`), which the
 * schedule never invokes.
 */
class InvokeOnce implements IScheduleTarget {
  constructor(
    private readonly functionArn: string,
    private readonly role: Role,
  ) {}

  bind(): ScheduleTargetConfig {
    return {
      arn: this.functionArn,
      role: this.role,
      retryPolicy: { maximumRetryAttempts: 0 },
    };
  }
}

export interface KeepAliveScheduleProps {
  /** The refresher. */
  readonly target: IFunction;
  readonly intervalMinutes: number;
  readonly description: string;
}

/**
 * Runs the keep-alive refresher on a fixed rate with EventBridge Scheduler. A run that fails is not
 * retried: the next run reads the due connections from the index again, so a retry would only
 * duplicate it (and a connection becomes due a month before it would die). No flexible window: runs
 * stay evenly spaced and the gauges they publish arrive once per interval.
 */
export class KeepAliveSchedule extends Construct {
  readonly schedule: Schedule;
  /** The role Scheduler assumes: it may invoke the refresher and nothing else. */
  readonly role: Role;

  constructor(scope: Construct, id: string, props: KeepAliveScheduleProps) {
    super(scope, id);
    const { account, region, partition } = Stack.of(this);
    this.role = new Role(this, 'Role', {
      // Only schedules of this account's default group may use it (the confused-deputy guard).
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': account,
            'aws:SourceArn': `arn:${partition}:scheduler:${region}:${account}:schedule-group/default`,
          },
        },
      }),
      description: props.description,
    });
    // The function itself, not its versions (`:*`): the schedule invokes $LATEST.
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.target.functionArn] }),
    );
    this.schedule = new Schedule(this, 'Schedule', {
      description: props.description,
      schedule: ScheduleExpression.rate(Duration.minutes(props.intervalMinutes)),
      target: new InvokeOnce(props.target.functionArn, this.role),
      timeWindow: TimeWindow.off(),
    });
  }
}
