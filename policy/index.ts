// The policy pack `pulumi preview --policy-pack policy` loads (package.json's main). See README, "Policy pack".
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, packArgs } from "./pack";

new PolicyPack(PACK_NAME, packArgs);
