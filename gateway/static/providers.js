// The providers the gateway offers, as GET /api/v1/providers lists them: their order, their
// default models, whether they are simulated, and the names people know them by.

import { listProviders } from "./api.js";

let catalogue = [];

export async function loadProviders() {
  catalogue = await listProviders();
  return catalogue;
}

export const providers = () => catalogue;

export const providerNames = () => catalogue.map((p) => p.name);

// The name people know a provider by (Claude for claude), or its API name if not listed.
export function displayName(name) {
  const provider = catalogue.find((p) => p.name === name);
  return (provider && provider.display_name) || name;
}
