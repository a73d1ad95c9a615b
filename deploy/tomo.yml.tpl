# tomo config template, rendered by `tomo config render` from the environment:
# $${VAR} must be set (rendering refuses otherwise, naming it); $${VAR:-x}
# falls back to x ($$$$ is a literal $$). Keys come from `tomo keys generate`; there are no defaults
# for them here on purpose.
name: "${TOMO_NODE_NAME:-tomo1}"
data_dir: /data
logger:
  level: "${TOMO_LOG_LEVEL:-info}"
socket:
  server_key: "${TOMO_SOCKET_SERVER_KEY}"
  port: 7350
  ws_port: 7349
session:
  encryption_key: "${TOMO_SESSION_ENCRYPTION_KEY}"
  refresh_encryption_key: "${TOMO_SESSION_REFRESH_ENCRYPTION_KEY}"
  token_expiry_sec: ${TOMO_SESSION_TOKEN_EXPIRY_SEC:-7200}
runtime:
  http_key: "${TOMO_RUNTIME_HTTP_KEY}"
  # Lua modules and C plugins: baked into the image or mounted read-only
  path: "${TOMO_RUNTIME_PATH:-/modules}"
console:
  # Inside a container the console must bind the container's address to be
  # published at all; publish it on the host's 127.0.0.1 only.
  address: 0.0.0.0
  allow_non_loopback: true
  signing_key: "${TOMO_CONSOLE_SIGNING_KEY}"
  username: "${TOMO_CONSOLE_USERNAME:-admin}"
  password: "${TOMO_CONSOLE_PASSWORD}"
database:
  address:
    - "${TOMO_DATABASE_ADDRESS}"
  max_open_conns: ${TOMO_DATABASE_MAX_OPEN_CONNS:-100}
metrics:
  prometheus_port: 9100
rate_limit:
  enabled: ${TOMO_RATE_LIMIT_ENABLED:-true}
  trusted_proxies: [${TOMO_TRUSTED_PROXIES:-}]
