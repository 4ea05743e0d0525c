// How the cluster names an IAM principal's access entry, apart from components/cluster.ts so that the configuration's
// validation (components/config.ts), which refuses two ARNs of one principal, uses the same rule without loading the
// providers.

/**
 * A stable access-entry key for a principal ARN, from its account, kind and name: `123456789012-role-ci-deploy` for
 * arn:aws:iam::123456789012:role/ci-deploy and for the same role under a path. Two principals never share one (IAM
 * names are unique per account and kind, whatever the path), and a role keeps its key whether it is named with its
 * path or, as the deployer, by its session.
 */
export function accessEntryKey(principalArn: string): string {
  const m = PRINCIPAL.exec(principalArn);
  return (m ? `${m[2]}-${m[3]}-${m[4]}` : principalArn.split(":").pop() ?? principalArn).replace(/[^A-Za-z0-9-]/g, "-");
}

/** An IAM role or user ARN: partition, account, kind, name (the path, if any, skipped). */
export const PRINCIPAL = /^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)\/(?:[^/]+\/)*([^/]+)$/;
