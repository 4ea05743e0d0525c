// eventstack: the composition root. It reads and validates the stack configuration, creates one component
// per concern, and exports what a platform team needs. No resource is declared here directly.
import { loadConfig } from "./components/config";
import { Network } from "./components/network";
import { awsProvider, stackName } from "./components/provider";

const config = loadConfig();
const provider = awsProvider(config);
const clusterName = stackName();

const network = new Network(
  "network",
  {
    cidr: config.network.cidr,
    availabilityZones: config.network.availabilityZones,
    natGateways: config.network.natGateways,
    flowLogs: config.network.flowLogs,
    logRetentionDays: config.logRetentionDays,
    interfaceEndpoints: config.network.interfaceEndpoints,
    clusterName,
  },
  { provider },
);

export const region = config.region;
export const vpcId = network.vpcId;
export const privateSubnetIds = network.privateSubnetIds;
export const isolatedSubnetIds = network.isolatedSubnetIds;
