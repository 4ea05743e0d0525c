// The one name for "what dependents must wait for", so that every component offers it the same way.
import type * as pulumi from "@pulumi/pulumi";

/**
 * The resources a dependent must wait for before it uses what a component offers: CRDs that exist, controllers and
 * webhooks that serve, nodes to run on. A component that offers it exposes it as `readonly ready: Ready`, and its doc
 * comment says what it covers; the dependent passes it in its own resources' `dependsOn`. An argument that takes
 * another component's `ready` is named for that component (`meshReady: mesh.ready`, `nodesReady: karpenter.ready`).
 * Plain resources rather than the component itself: depending on a component waits for every child, a ready list only
 * for the few that matter.
 */
export type Ready = pulumi.Resource[];
