import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Config } from "./config.js";
import { ConfigError } from "@eventstack/runtime";
import { ErrorCodes } from "./errors.js";

/**
 * The two credentials that exist at all live in AWS Secrets Manager, and the pods get only their ARNs
 * (components/service-env.ts): REDIS_AUTH_SECRET_ARN, the processor's ElastiCache RBAC user, and
 * PG_MASTER_SECRET_ARN, the RDS-managed master secret the migrate Job logs in with. Both are JSON
 * {"username", "password"}. They are read once at start with the default AWS credential chain (EKS Pod
 * Identity in the cluster), in the secret's own region (from its ARN), and never logged.
 */

export interface Credentials {
  username: string;
  password: string;
}

export type SecretFetcher = (arn: string) => Promise<string | undefined>;

/** The region of a Secrets Manager ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>). */
export function secretRegion(arn: string): string {
  return arn.split(":")[3] as string;
}

/** GetSecretValue with the SDK's default credentials and endpoint resolution (AWS_ENDPOINT_URL_SECRETS_MANAGER included). */
export const secretsManager: SecretFetcher = async (arn) => {
  const client = new SecretsManagerClient({ region: secretRegion(arn) });
  try {
    return (await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
  } finally {
    client.destroy();
  }
};

export async function readCredentials(arn: string, variable: string, fetch: SecretFetcher): Promise<Credentials> {
  let text: string | undefined;
  try {
    text = await fetch(arn);
  } catch (err) {
    throw new ConfigError(ErrorCodes.CONFIG, [`${variable}: reading secret ${arn} failed: ${(err as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? "");
  } catch {
    parsed = undefined;
  }
  const c = parsed as Partial<Credentials> | undefined;
  if (typeof c?.username !== "string" || c.username === "" || typeof c.password !== "string" || c.password === "") {
    // The secret's text is not repeated: it may hold a password.
    throw new ConfigError(ErrorCodes.CONFIG, [`${variable}: secret ${arn} must be a JSON object with non-empty string fields "username" and "password"`]);
  }
  return { username: c.username, password: c.password };
}

/**
 * The config with the credentials behind the configured secret ARNs filled in: Redis username and password
 * from REDIS_AUTH_SECRET_ARN; the PostgreSQL password (and the user, when PGUSER is not set) from
 * PG_MASTER_SECRET_ARN. A config without ARNs is returned as it is.
 */
export async function resolveSecrets(config: Config, fetch: SecretFetcher = secretsManager): Promise<Config> {
  if (!config.redis.authSecretArn && !config.pg.passwordSecretArn) return config;
  let { redis, pg } = config;
  if (redis.authSecretArn) {
    const c = await readCredentials(redis.authSecretArn, "REDIS_AUTH_SECRET_ARN", fetch);
    redis = { ...redis, username: c.username, password: c.password };
  }
  if (pg.passwordSecretArn) {
    const c = await readCredentials(pg.passwordSecretArn, "PG_MASTER_SECRET_ARN", fetch);
    pg = { ...pg, user: pg.userFromEnv ? pg.user : c.username, password: c.password };
  }
  return { ...config, redis, pg };
}
