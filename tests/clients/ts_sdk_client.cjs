// A third, independent MCP client: the official TypeScript SDK (@modelcontextprotocol/sdk).
//
// Usage: node ts_sdk_client.cjs <tools-dir> <plan.json> stdio <command> [args...]
//        node ts_sdk_client.cjs <tools-dir> <plan.json> http <url>
//
// <tools-dir> holds node_modules with the SDK and Ajv (.ci/node/package.json). <plan.json> is a
// list of [tool, arguments] calls, in order; an argument value {"$from": [tool, key, ...]} is
// replaced by that path in an earlier call's structuredContent (e.g. a webhook id).
//
// It lists the tools, calls each planned tool once, and checks every result twice: the SDK's own
// callTool validation (it rejects structuredContent that does not match the tool's outputSchema)
// and an explicit Ajv validation here. It prints one JSON report on stdout and exits 1 when any
// listed tool was not called, returned isError unexpectedly, or has a result that does not match
// its outputSchema; exit 2 on a usage or connection error.
"use strict";
const path = require("node:path");
const fs = require("node:fs");
const { createRequire } = require("node:module");

async function main() {
  const [toolsDir, planFile, mode, ...target] = process.argv.slice(2);
  if (!toolsDir || !planFile || !["stdio", "http"].includes(mode) || target.length === 0) {
    process.stderr.write("usage: ts_sdk_client.cjs <tools-dir> <plan.json> stdio|http <target...>\n");
    process.exit(2);
  }
  const need = createRequire(path.join(path.resolve(toolsDir), "package.json"));
  const { Client } = need("@modelcontextprotocol/sdk/client/index.js");
  const Ajv = need("ajv").default;
  const addFormats = need("ajv-formats").default;
  const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));

  let transport;
  if (mode === "stdio") {
    const { StdioClientTransport } = need("@modelcontextprotocol/sdk/client/stdio.js");
    const [command, ...args] = target;
    transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
  } else {
    const { StreamableHTTPClientTransport } = need("@modelcontextprotocol/sdk/client/streamableHttp.js");
    transport = new StreamableHTTPClientTransport(new URL(target[0]));
  }
  const client = new Client({ name: "sharkfin-ts-sdk-check", version: "1.0.0" });
  await client.connect(transport);

  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const report = { protocolVersion: transport.protocolVersion ?? null, server: client.getServerVersion(), calls: [], problems: [] };
  const { tools } = await client.listTools();
  const byName = new Map(tools.map((t) => [t.name, t]));
  const results = new Map();

  const resolve = (value) => {
    if (value && typeof value === "object" && !Array.isArray(value) && Array.isArray(value.$from)) {
      const [tool, ...keys] = value.$from;
      return keys.reduce((node, key) => (node == null ? node : node[key]), results.get(tool));
    }
    return value;
  };

  for (const [name, rawArgs] of plan) {
    const tool = byName.get(name);
    if (!tool) {
      report.problems.push(`${name}: planned but not listed by the server`);
      continue;
    }
    const args = Object.fromEntries(Object.entries(rawArgs).map(([k, v]) => [k, resolve(v)]));
    const call = { name, isError: null, schemaValid: null };
    try {
      // The SDK validates structuredContent against the outputSchema here and throws on a mismatch.
      const result = await client.callTool({ name, arguments: args });
      call.isError = result.isError === true;
      if (call.isError) {
        report.problems.push(`${name}: returned isError: ${JSON.stringify(result.content)}`);
      } else if (!tool.outputSchema) {
        report.problems.push(`${name}: no outputSchema`);
      } else {
        const validate = ajv.compile(tool.outputSchema);
        call.schemaValid = validate(result.structuredContent);
        if (!call.schemaValid) {
          report.problems.push(`${name}: structuredContent does not match outputSchema: ${ajv.errorsText(validate.errors)}`);
        }
        results.set(name, result.structuredContent);
      }
    } catch (error) {
      call.error = String(error && error.message ? error.message : error);
      report.problems.push(`${name}: ${call.error}`);
    }
    report.calls.push(call);
  }
  const called = new Set(report.calls.map((c) => c.name));
  for (const name of byName.keys()) {
    if (!called.has(name)) report.problems.push(`${name}: listed but never called`);
  }
  report.listed = tools.length;
  await client.close();
  process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  process.exit(report.problems.length === 0 ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`ts_sdk_client: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
