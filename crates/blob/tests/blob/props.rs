//! Property tests: random blobs written in random pieces, read back over random ranges, equal
//! the corresponding slice, on both stores.

use std::sync::{Arc, OnceLock};

use blob::{BlobStore, MemoryBlobStore};
use proptest::prelude::*;

use crate::support::{open_local, put_in_pieces, read_range, CHUNK};

struct Fixture {
    rt: tokio::runtime::Runtime,
    stores: Vec<Arc<dyn BlobStore>>,
    _dir: tempfile::TempDir,
}

/// One runtime and one store of each kind, shared by every case (opening a store per case would
/// measure directory creation, not reads).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let local = rt.block_on(open_local(dir.path()));
        Fixture {
            rt,
            stores: vec![
                Arc::new(MemoryBlobStore::with_chunk(CHUNK)),
                Arc::new(local),
            ],
            _dir: dir,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_ranges_equal_the_slice(
        data in proptest::collection::vec(any::<u8>(), 0..6 * CHUNK),
        pieces in proptest::collection::vec(1usize..2 * CHUNK, 1..5),
        ranges in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..8),
    ) {
        let f = fixture();
        f.rt.block_on(async {
            for store in &f.stores {
                let id = put_in_pieces(&**store, &data, &pieces).await;
                prop_assert_eq!(store.len(&id).await.unwrap(), data.len() as u64);
                for (a, b) in &ranges {
                    let (a, b) = (a.index(data.len() + 1), b.index(data.len() + 1));
                    let (start, end) = (a.min(b), a.max(b));
                    let got = read_range(&**store, &id, start as u64, (end - start) as u64).await;
                    prop_assert!(got == data[start..end], "range {}..{} of {}", start, end, data.len());
                }
                store.delete(&id).await.unwrap();
            }
            Ok(())
        })?;
    }
}
