// A minimal stdio MCP server (newline-delimited JSON-RPC 2.0, no
// dependencies) that offers many tools, to see how a coding agent handles a
// large tool set (tool search, deferred tools, token counting).
//   node lib/fake-mcp.mjs [count=60] [descriptionWords=120]
import readline from 'node:readline';

const count = Number(process.argv[2] || 60);
const words = Number(process.argv[3] || 120);
const filler = Array.from({ length: words }, (_, i) => `word${i}`).join(' ');

const tools = Array.from({ length: count }, (_, i) => ({
  name: `fake_tool_${String(i).padStart(3, '0')}`,
  description: `Fake tool number ${i} for capture experiments. It does nothing useful. ${filler}`,
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', description: 'What to look up' },
      limit: { type: 'integer', description: 'How many results', minimum: 1, maximum: 100 },
    },
    required: ['query'],
  },
}));

const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch { return; }
  if (msg.id === undefined) return; // a notification
  switch (msg.method) {
    case 'initialize':
      send({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: msg.params?.protocolVersion || '2025-06-18', capabilities: { tools: { listChanged: false } }, serverInfo: { name: 'fake-mcp', version: '0.0.0' } } });
      break;
    case 'tools/list':
      send({ jsonrpc: '2.0', id: msg.id, result: { tools } });
      break;
    case 'tools/call':
      send({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: `fake result for ${msg.params?.name}` }] } });
      break;
    case 'ping':
      send({ jsonrpc: '2.0', id: msg.id, result: {} });
      break;
    default:
      send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `method not found: ${msg.method}` } });
  }
});
