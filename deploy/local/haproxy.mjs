// HAProxy in front of the gateways the way production has an AWS ALB: cookie-based sticky
// sessions (socket.io long-polling needs every request of a session on one node), health
// checks on /health (a dead or draining node leaves the rotation within a second), and
// websocket tunnels. Used by `stack.mjs cluster` and by the whole-system tests.

/**
 * @param {number} port the balancer's port on 127.0.0.1
 * @param {number[]} gatewayPorts one per gateway node on 127.0.0.1
 * @returns {string} haproxy.cfg
 */
export function haproxyConfig(port, gatewayPorts) {
  return [
    'global',
    '  log stdout format raw local0 warning',
    'defaults',
    '  mode http',
    '  log global',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout tunnel 1h',
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
