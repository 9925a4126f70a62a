//! placeholder
pub mod cluster;
pub mod metrics;
pub mod scenario;
pub mod workload;
