// Node --import hook for the benchmarks (never used by the product): reports on stderr
//   gdib-bench import <package>            every bare package specifier resolved (what loads),
//   gdib-bench load <package>              each evaluation of @google-cloud/compute, @google-cloud/storage or a
//                                          compute client module (@google-cloud/compute/build/src/v1/…_client.js),
//   gdib-bench construct <package> <class> each construction of one of their client classes,
// so a benchmark can show that the Google client libraries are loaded once, lazily, and each client made once.
import { register } from 'node:module';

register('./count-clients-hooks.mjs', import.meta.url);
