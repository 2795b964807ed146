//! Small synchronisation helpers every layer may use.

use std::sync::Mutex;

/// Locks a mutex, recovering from poisoning: the data guarded here (counters, a token) stays
/// consistent even if a holder panicked, and a panic must not lock everyone out.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
