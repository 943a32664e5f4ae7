// HAProxy in front of the gateways the way production has an AWS ALB: cookie-based sticky
// sessions (socket.io long-polling needs every request of a session on one node), health
// checks on /health (a dead or draining node leaves the rotation within a second), and
// websocket tunnels. Used by `stack.mjs cluster`, the whole-system tests and the benchmarks.
import net from 'node:net';

/**
 * @param {number} port the balancer's port on 127.0.0.1
 * @param {number[]} gatewayPorts one per gateway node on 127.0.0.1 (server names g0, g1, ...)
 * @param {{ adminSocket?: string }} [opts] a Unix socket for the runtime API (haproxyCommand)
 * @returns {string} haproxy.cfg
 */
export function haproxyConfig(port, gatewayPorts, { adminSocket } = {}) {
  return [
    'global',
    '  log stdout format raw local0 warning',
    ...(adminSocket ? [`  stats socket ${adminSocket} mode 600 level admin`] : []),
    'defaults',
    '  mode http',
    '  log global',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout tunnel 1h',
    // A busy machine can take longer than `inter` to answer a check: not a dead node.
    '  timeout check 2s',
    '  option redispatch',
    '  retries 2',
    'frontend coderoom',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance roundrobin',
    '  cookie CODEROOM_NODE insert indirect nocache',
    '  option httpchk GET /health',
    '  default-server inter 300ms fall 2 rise 2',
    ...gatewayPorts.map((p, i) => `  server g${i} 127.0.0.1:${p} check cookie g${i}`),
    '',
  ].join('\n');
}

/** Sends one command to HAProxy's runtime API (the config's adminSocket); resolves its answer. */
export function haproxyCommand(adminSocket, command) {
  return new Promise((resolve, reject) => {
    let out = '';
    const sock = net.connect({ path: adminSocket });
    sock.setTimeout(5000, () => sock.destroy(new Error(`haproxy: no answer to "${command}"`)));
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (d) => (out += d));
    sock.on('error', reject);
    sock.on('close', () => resolve(out));
  });
}

/** HAProxy's view of gateway `i` (server g<i>): "UP", "DOWN", "MAINT", "UP 1/2", ... */
export async function haproxyServerStatus(adminSocket, i) {
  const csv = await haproxyCommand(adminSocket, 'show stat');
  for (const line of csv.split('\n')) {
    const f = line.split(',');
    if (f[0] === 'gateways' && f[1] === `g${i}`) return f[17];
  }
  return 'unknown';
}
