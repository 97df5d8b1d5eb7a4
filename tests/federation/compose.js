// Composes subgraphs with Apollo's own composition and plans queries with its query planner,
// as Apollo Router does. Reads {subgraphs: [{name, url, sdl}], queries: [text]} on stdin and
// writes {errors} or {supergraphSdl, plans: [[{serviceName, operation, requires, path}]]}.
const { composeServices } = require("@apollo/composition");
const { Supergraph, operationFromDocument } = require("@apollo/federation-internals");
const { QueryPlanner } = require("@apollo/query-planner");
const { parse } = require("graphql");

function fetches(node, path, out) {
  if (!node) return out;
  switch (node.kind) {
    case "Fetch":
      out.push({
        serviceName: node.serviceName,
        operation: node.operation,
        requires: node.requires ?? null,
        path,
      });
      break;
    case "Flatten":
      fetches(node.node, node.path, out);
      break;
    case "Sequence":
    case "Parallel":
      for (const child of node.nodes) fetches(child, path, out);
      break;
    default:
      throw new Error(`unexpected plan node ${node.kind}`);
  }
  return out;
}

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const composed = composeServices(
  input.subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })),
);
if (composed.errors && composed.errors.length) {
  process.stdout.write(JSON.stringify({ errors: composed.errors.map((e) => e.message) }));
} else {
  const supergraph = Supergraph.build(composed.supergraphSdl);
  const planner = new QueryPlanner(supergraph);
  const plans = input.queries.map((q) => {
    const operation = operationFromDocument(supergraph.apiSchema(), parse(q));
    return fetches(planner.buildQueryPlan(operation).node, null, []);
  });
  process.stdout.write(JSON.stringify({ supergraphSdl: composed.supergraphSdl, plans }));
}
