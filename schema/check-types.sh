#!/usr/bin/env bash
# Typed clients: install the pinned GraphQL Code Generator (npm ci, package-lock.json),
# generate TypeScript from ../schema.graphql and the documents of this folder, and compile
# the result and client-check.ts with tsc --strict.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund --loglevel=error
rm -rf generated
npx --no-install graphql-codegen --config codegen.yml --silent
npx --no-install tsc --strict --noEmit --noUnusedLocals --target es2022 --module esnext \
  --moduleResolution bundler generated/schema-types.ts generated/operations.ts client-check.ts
echo "TypeScript types: generated and compiled (tsc --strict)"
