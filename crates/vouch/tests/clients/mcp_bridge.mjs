// Starts Didit's MCP server (@didit-protocol/mcp-server) over stdio with the official MCP
// client, pointed at vouch, and calls its tools as a test asks: one JSON line in
// ({"tool", "args"}), one JSON line out ({"isError", "text", "parsed"}). The first line out is
// {"ready": true, "tools": [names]}.
//
// Usage: node mcp_bridge.mjs BASE_URL API_KEY   (BASE_URL ends in /v3, no trailing slash)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";

const [baseUrl, apiKey] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const server = path.join(
  path.dirname(require.resolve("@didit-protocol/mcp-server/package.json")),
  "dist/index.js",
);
const transport = new StdioClientTransport({
  command: process.execPath,
  args: [server],
  env: { ...getDefaultEnvironment(), DIDIT_API_BASE_URL: baseUrl, DIDIT_API_KEY: apiKey },
  stderr: "pipe",
});
const client = new Client({ name: "vouch-tests", version: "1.0.0" });
await client.connect(transport);
const { tools } = await client.listTools();
process.stdout.write(JSON.stringify({ ready: true, tools: tools.map((t) => t.name) }) + "\n");

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { tool, args } = JSON.parse(line);
  let out;
  try {
    const res = await client.callTool({ name: tool, arguments: args ?? {} });
    const text = res.content?.[0]?.type === "text" ? res.content[0].text : "";
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Errors are "Error: Didit API <status> …" text.
    }
    out = { isError: res.isError === true, text, parsed };
  } catch (e) {
    out = { isError: true, text: `bridge: ${e}`, parsed: null };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
await client.close();
