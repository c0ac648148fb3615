// Package test holds Keyport's end-to-end tests: the built binary against
// real SoftHSM2 and openCryptoki tokens and a real PostgreSQL, over HTTP, as
// a user or operator runs it (TestMain builds the binary; under -short the
// package does nothing, so that make check stays fast). The groups, by file:
//
//   - Serving and operations: serve_test, server_test, config_test,
//     secrets_test, tls_test, proxies_test, metrics_test, audit_test,
//     audit_keys_test, cli_test (the admin CLI and store commands).
//   - The dialects as clients call them: aliyun_test, aliyun_clients_test
//     (the official Go SDKs), aliyun_negative_test, tencent_test,
//     api_surface_test, states_test, archive_test, node_test (the Node SDKs),
//     rawclient_test, openssl_test (wrapping with the openssl CLI),
//     import_test, recipient_test.
//   - Real tools' call sequences: terraform_aliyun_test,
//     terraform_tencent_test (the providers' calls over several connections).
//   - Hostile callers: auth_test, flood_test (unauthenticated bounds).
//   - Tokens and faults: tokens_test (every token), hsmfault_test,
//     network_hsm_test (a token that goes away and comes back),
//     deployments_test (two deployments on one token).
//   - Replicas: replicas_test (several processes on one database, kill -9).
//   - Benchmarks: http_bench_test, bench_cli_test, replicas_bench_test,
//     scale_bench_test (ratios against the raw operation or a no-op request
//     measured in the same run, never a wall-clock assertion).
//   - The floors: layering_test (which package may link which).
package test
