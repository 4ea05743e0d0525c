// The image digest format, apart from components/images.ts so that the configuration's validation
// (components/config.ts) checks digests without loading the providers.

/** An OCI manifest digest as ECR reports it. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
