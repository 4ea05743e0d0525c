// What the SDK tells the engine about a resource beyond what the public Mocks interface hands to newResource.
//
// pulumi.runtime.setMocks (@pulumi/pulumi 3.248.0, runtime/mocks.js, read 2026-12-06) passes newResource the type,
// name, inputs, provider, `custom` and import id of each RegisterResource request, and nothing else. The tests also
// assert a resource's parent (which component owns it), its dependencies (dependsOn and its inputs' resources, with a
// component expanded to its children, as the engine orders them), its dependencies per property (what stack policies
// follow when a value is unknown) and how many transforms it carries. Those are read from the same request, once,
// here: through the monitor that setMocks installs, as pulumi.runtime.getMonitor() returns it, before it reaches
// newResource.
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import type { RecordingMocks } from "./mocks";

type Pulumi = typeof import("@pulumi/pulumi");

/**
 * Records every resource's parent, dependencies, property dependencies and transform count in `mocks` (keyed
 * `type::name`) as it is registered. Call it after setMocks, with the `pulumi` instance the program requires.
 */
export function recordRegistrations(pulumi: Pulumi, mocks: RecordingMocks): void {
  const monitor = pulumi.runtime.getMonitor();
  if (monitor === undefined) throw new Error("recordRegistrations: no resource monitor; call pulumi.runtime.setMocks first");
  type Register = (request: RegisterResourceRequest, callback: unknown) => unknown;
  const register = (monitor.registerResource as Register).bind(monitor);
  const recording: Register = (request, callback) => {
    const key = `${request.getType()}::${request.getName()}`;
    mocks.parents.set(key, request.getParent());
    mocks.dependencies.set(key, request.getDependenciesList());
    const byProperty: Record<string, string[]> = {};
    request.getPropertydependenciesMap().forEach((urns, property) => {
      byProperty[property] = urns.getUrnsList();
    });
    mocks.propertyDependencies.set(key, byProperty);
    mocks.transforms.set(key, request.getTransformsList().length);
    return register(request, callback);
  };
  monitor.registerResource = recording as typeof monitor.registerResource;
}

/**
 * Lets the program register resources with the `transforms` option (components/cluster.ts) under the mocks, as the
 * Pulumi CLI does. The mock monitor answers supportsFeature("transforms") with true, but setMocks in 3.248.0 sets
 * the SDK's flag to false, and the SDK then refuses such a resource ("The Pulumi CLI does not support transforms").
 * The mock monitor applies no transform; recordRegistrations counts them, and a transform's effect is tested on the
 * transform itself. Later SDKs set the flag in setMocks and pass the transforms to newResource (pulumi/pulumi#24415);
 * with such a pin this function and its private import go.
 */
export function allowTransforms(): void {
  const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { supportsTransforms?: boolean } };
  const store = state.getStore();
  // Fail loudly if an SDK upgrade moves the flag, rather than set a property nothing reads.
  if (typeof store.supportsTransforms !== "boolean") throw new Error("allowTransforms: the Pulumi SDK's store has no supportsTransforms flag; see test/registrations.ts");
  store.supportsTransforms = true;
}
