//! Small timing helpers shared by the client's tasks.

use tokio::time::Instant;

/// Sleeps until `deadline`, or forever when there is none: the arm of a
/// `select!` that should fire only when a deadline is set.
pub(crate) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
