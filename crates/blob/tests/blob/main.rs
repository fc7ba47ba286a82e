//! The blob crate's integration tests: one behaviour suite run against every store, local-store
//! specifics (permissions, reopen, tampering), crash consistency through a child process that
//! aborts, and property tests of range reads.

mod crash;
mod local;
mod props;
mod suite;
mod support;

/// Instantiates the behaviour suite for one store constructor.
macro_rules! store_suite {
    ($name:ident, $open:path) => {
        mod $name {
            use crate::suite;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn write_commit_read_back() {
                suite::write_commit_read_back(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn empty_blob() {
                suite::empty_blob(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn range_reads_at_every_boundary() {
                suite::range_reads_at_every_boundary(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn out_of_range_reads_are_refused() {
                suite::out_of_range_reads_are_refused(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn len_and_not_found() {
                suite::len_and_not_found(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn delete_is_idempotent() {
                suite::delete_is_idempotent(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn abort_leaves_nothing_visible() {
                suite::abort_leaves_nothing_visible(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn drop_without_commit_leaves_nothing_visible() {
                suite::drop_without_commit_leaves_nothing_visible(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn list_and_gc() {
                suite::list_and_gc(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_writers_lose_nothing() {
                suite::concurrent_writers_lose_nothing(&$open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ids_are_distinct_and_random() {
                suite::ids_are_distinct_and_random(&$open().await).await;
            }
        }
    };
}

store_suite!(memory, crate::support::memory);
store_suite!(local_fs, crate::support::local);
