//! The meta crate's integration tests: one behaviour suite run against every backend, group
//! commit under load, durability across reopen, and a model-based property test.

mod durability;
mod props;
mod suite;
mod support;

/// Instantiates the behaviour suite for one backend constructor.
macro_rules! backend_suite {
    ($name:ident, $open:path) => {
        mod $name {
            use crate::suite;

            #[test]
            fn put_get_delete() {
                suite::put_get_delete(&$open());
            }

            #[test]
            fn unwritten_tables_read_empty() {
                suite::unwritten_tables_read_empty(&$open());
            }

            #[test]
            fn scans_are_ordered_and_paginate() {
                suite::scans_are_ordered_and_paginate(&$open());
            }

            #[test]
            fn txn_reads_its_own_writes() {
                suite::txn_reads_its_own_writes(&$open());
            }

            #[test]
            fn err_rolls_back() {
                suite::err_rolls_back(&$open());
            }

            #[test]
            fn multi_table_batch_is_atomic() {
                suite::multi_table_batch_is_atomic(&$open());
            }

            #[test]
            fn json_values_round_trip() {
                suite::json_values_round_trip(&$open());
            }

            #[test]
            fn panicking_closure_fails_only_its_caller() {
                suite::panicking_closure_fails_only_its_caller(&$open());
            }

            #[test]
            fn nested_transact_is_refused() {
                suite::nested_transact_is_refused(&$open());
            }

            #[test]
            fn queued_transactions_share_one_commit() {
                suite::queued_transactions_share_one_commit(&$open());
            }

            #[test]
            fn concurrent_writers_group_and_lose_nothing() {
                suite::concurrent_writers_group_and_lose_nothing(&$open());
            }

            #[test]
            fn async_transactions_commit() {
                suite::async_transactions_commit(&$open());
            }
        }
    };
}

backend_suite!(memory, crate::support::memory);
backend_suite!(redb, crate::support::redb);
