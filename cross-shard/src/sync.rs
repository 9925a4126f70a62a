//! Locking a mutex the way every shardsim process does.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, ignoring poisoning: every critical section in shardsim leaves the
/// data consistent before anything that could panic, so a panic elsewhere never leaves
/// a half-changed value behind.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
