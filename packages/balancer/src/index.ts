/** Endpoint pickers, outlier detection and endpoint health. */
export type { Balancer, BalancerOptions, BalancerSnapshot, EndpointSnapshot, PoolSnapshot } from './balancer.js'
export { balancer, createBalancer, LOAD_BALANCER_DEFAULTS } from './balancer.js'
export { maxEjections, OUTLIER_DETECTION_DEFAULTS } from './outlier-detection.js'
