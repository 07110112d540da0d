import {
  AccountPrincipal,
  AccountRootPrincipal,
  ArnPrincipal,
  CompositePrincipal,
  PolicyStatement,
  Role,
  type IPrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeNagResourceFinding } from '../nag';

export interface ApiCallerRoleProps {
  /**
   * 12-digit account IDs or IAM role/user ARNs that may assume the role (validated by the
   * environment configuration). Empty: this stack's account only.
   */
  readonly principals: readonly string[];
  /** @default - no `sts:ExternalId` required */
  readonly externalId?: string;
  /** The `execute-api` resource the role may invoke (this API's `/api/*` routes). */
  readonly invokeArn: string;
  readonly description: string;
}

/**
 * The role an app assumes to call the `/api/*` routes. HTTP APIs have no resource policies, so the
 * only way to admit a principal of another account is to let it assume a role of this one that holds
 * `execute-api:Invoke` (docs/security.md H1). An app outside AWS assumes it with an IAM user's keys.
 */
export class ApiCallerRole extends Construct {
  readonly role: Role;

  constructor(scope: Construct, id: string, props: ApiCallerRoleProps) {
    super(scope, id);
    this.role = new Role(this, 'Role', {
      assumedBy: trustedPrincipal(this, props.principals),
      ...(props.externalId === undefined ? {} : { externalIds: [props.externalId] }),
      description: props.description,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['execute-api:Invoke'], resources: [props.invokeArn] }),
    );
    acknowledgeNagResourceFinding(this.role, 'AwsSolutions-IAM5', props.invokeArn);
  }
}

function trustedPrincipal(scope: Construct, principals: readonly string[]): IPrincipal {
  if (principals.length === 0) return new AccountRootPrincipal();
  const each = principals.map((p) => (/^\d{12}$/.test(p) ? new AccountPrincipal(p) : new ArnPrincipal(p)));
  // One principal stays one trust statement; several become one statement listing them all.
  return each.length === 1 ? each[0]! : new CompositePrincipal(...each);
}
