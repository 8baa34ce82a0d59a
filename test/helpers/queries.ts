/** Operations shared by several tests. */

/** The reference query of the foundation issue; the benchmark loads the gateway with it. */
export { NESTED_QUERY } from '../../bench/workload.js';
