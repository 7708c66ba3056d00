/** Endpoint pickers, outlier detection and endpoint health. */
export type { Balancer, BalancerOptions, BalancerSnapshot, EndpointSnapshot } from './balancer.js'
export { balancer, createBalancer, LOAD_BALANCER_DEFAULTS } from './balancer.js'
