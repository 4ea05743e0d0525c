// How GitHub names a repository, apart from components/image-push-role.ts so that the configuration's validation
// (components/config.ts) checks it, and derives Argo CD's clone URL from it, without loading the providers.

/**
 * A repository as GitHub's `sub` claim names it: `owner/name`, or `owner@<org id>/name@<repo id>` for a repository
 * that emits immutable subject claims (every repository created on github.com from 2026-07-15, and those that opted
 * in; aws-actions/configure-aws-credentials README, "Immutable subject claims", read 2026-12-06). The trust matches the
 * claim exactly, so the configured form must be the one the repository emits.
 */
export const GITHUB_REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}(@\d+)?\/[A-Za-z0-9._-]{1,100}(@\d+)?$/;

/**
 * The https URL Argo CD clones a repository named as GITHUB_REPOSITORY matches from: `owner/name` without the
 * immutable form's `@<id>` suffixes, which name the same repository and are no part of its address.
 */
export function githubCloneUrl(repository: string): string {
  return `https://github.com/${repository.replace(/@\d+/g, "")}.git`;
}
