//! Adapter over aws-sdk-bedrockagentcorecontrol (and the data plane) for credential providers.
