#!/bin/sh
# Puts secrets into the URIs: REDIS_URL and MONGODB_URI may carry the placeholders
# __REDIS_AUTH_TOKEN__ and __MONGODB_PASSWORD__, replaced by REDIS_AUTH_TOKEN and
# MONGODB_PASSWORD (injected by ECS from Secrets Manager, or by the worker host's env file), so
# the URI can be plain configuration and the password a secret. The generated secrets are
# alphanumeric (deploy/aws/lib/data.ts): nothing to escape.
set -eu
if [ -n "${REDIS_AUTH_TOKEN:-}" ] && [ -n "${REDIS_URL:-}" ]; then
  REDIS_URL=$(printf '%s' "$REDIS_URL" | sed "s/__REDIS_AUTH_TOKEN__/$REDIS_AUTH_TOKEN/")
  export REDIS_URL
fi
if [ -n "${MONGODB_PASSWORD:-}" ] && [ -n "${MONGODB_URI:-}" ]; then
  MONGODB_URI=$(printf '%s' "$MONGODB_URI" | sed "s/__MONGODB_PASSWORD__/$MONGODB_PASSWORD/")
  export MONGODB_URI
fi
unset REDIS_AUTH_TOKEN MONGODB_PASSWORD
exec "$@"
