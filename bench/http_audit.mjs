// The GraphQL-over-HTTP audit (graphql-http's auditServer) against a served gateway.
//
//   mkdir -p /tmp/og-audit && npm install --prefix /tmp/og-audit graphql-http graphql
//   OG_URL=http://127.0.0.1:8000/graphql OG_KEY=og_… \
//     NODE_PATH=/tmp/og-audit/node_modules node bench/http_audit.mjs
//
// Every request carries the API key (the audit's own requests have none, and the gateway
// answers 401 to a request without one). Prints one line per audit and a summary; exits 1
// when any audit is not ok. Results: bench/results-reliability.md.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { auditServer } = require("graphql-http");

const url = process.env.OG_URL ?? "http://127.0.0.1:8000/graphql";
const key = process.env.OG_KEY;
if (!key) {
  console.error("OG_KEY (an API key) is required");
  process.exit(2);
}

function fetchWithKey(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  headers.set("authorization", `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithKey });
const tally = { ok: 0, warn: 0, error: 0 };
for (const result of results) {
  tally[result.status] += 1;
  const line = `${result.status.padEnd(5)} ${result.id} ${result.name}`;
  if (result.status === "ok") {
    console.log(line);
  } else {
    const response = result.response;
    let body = "";
    try {
      body = response ? (await response.text()).slice(0, 300) : "";
    } catch {}
    console.log(`${line}\n      ${result.reason}\n      ${response?.status ?? ""} ${body}`);
  }
}
console.log(`\n${results.length} audits: ${tally.ok} ok, ${tally.warn} warnings, ${tally.error} errors`);
process.exit(tally.warn + tally.error === 0 ? 0 : 1);
