//! ListObjects against a BTreeMap model: 1200+ keys, random prefix / delimiter / start-after /
//! page size, paged through with continuation tokens (V2) and markers (V1).

use std::collections::BTreeSet;

use objects::{ListObjects, Objects};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};

use crate::support::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Key(String),
    Prefix(String),
}

fn model(
    keys: &BTreeSet<String>,
    prefix: &str,
    delimiter: Option<&str>,
    start_after: Option<&str>,
) -> Vec<Item> {
    let mut out = Vec::new();
    for k in keys {
        if !k.starts_with(prefix) || start_after.is_some_and(|s| k.as_str() <= s) {
            continue;
        }
        let rest = &k[prefix.len()..];
        match delimiter
            .filter(|d| !d.is_empty())
            .and_then(|d| rest.find(d).map(|i| i + d.len()))
        {
            Some(n) => {
                let cp = k[..prefix.len() + n].to_owned();
                if start_after.is_some_and(|s| cp.as_str() <= s) {
                    continue;
                }
                if out.last() != Some(&Item::Prefix(cp.clone())) {
                    out.push(Item::Prefix(cp));
                }
            }
            None => out.push(Item::Key(k.clone())),
        }
    }
    out
}

/// Pages through the engine; `v1` uses NextMarker as the next start-after instead of tokens.
fn engine(
    o: &Objects,
    prefix: &str,
    delimiter: Option<&str>,
    start_after: Option<&str>,
    max: usize,
    v1: bool,
) -> Vec<Item> {
    let mut req = ListObjects {
        prefix: prefix.into(),
        delimiter: delimiter.map(str::to_owned),
        start_after: start_after.map(str::to_owned),
        continuation_token: None,
        max_keys: max,
    };
    let mut out = Vec::new();
    for _ in 0..5000 {
        let page = o.list_objects("list", &req).unwrap();
        let mut items: Vec<Item> = page
            .objects
            .iter()
            .map(|x| Item::Key(x.key.clone()))
            .collect();
        items.extend(page.common_prefixes.iter().cloned().map(Item::Prefix));
        // Keys and prefixes interleave in key order.
        items.sort_by(|a, b| {
            let s = |i: &Item| match i {
                Item::Key(k) | Item::Prefix(k) => k.clone(),
            };
            s(a).cmp(&s(b))
        });
        assert!(items.len() <= max, "page of {} > max {}", items.len(), max);
        if page.is_truncated {
            assert_eq!(items.len(), max, "a truncated page is full");
        }
        out.extend(items);
        if !page.is_truncated {
            return out;
        }
        if v1 {
            req.start_after = page.next_marker;
        } else {
            req.continuation_token = page.next_continuation_token;
        }
    }
    panic!("listing did not terminate");
}

fn random_key(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ab/c-";
    let bytes = pattern(seed, 12);
    let len = 1 + (bytes[0] as usize % 9);
    bytes[1..=len.min(11)]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn listing_matches_model(kind: Kind) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(harness(kind));
    let mut keys = BTreeSet::new();
    let mut seed = 0;
    while keys.len() < 1200 {
        keys.insert(random_key(seed));
        seed += 1;
    }
    keys.insert("a/".into());
    keys.insert("a".into());
    keys.insert("ü/ñ".into());
    rt.block_on(async {
        bucket(&h, "list").await;
        let all: Vec<String> = keys.iter().cloned().collect();
        for batch in all.chunks(64) {
            let tasks: Vec<_> = batch
                .iter()
                .map(|k| {
                    let o = h.objects.clone();
                    let k = k.clone();
                    tokio::spawn(async move {
                        o.put_object(put_req("list", &k, k.len()), body(k.as_bytes()))
                            .await
                            .unwrap();
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
        // A deleted key and another bucket's keys must not show up.
        put(&h, "list", "zz-deleted", b"x").await;
        h.objects
            .delete_object("list", "zz-deleted", None, OWNER)
            .await
            .unwrap();
        bucket(&h, "lis").await;
        put(&h, "lis", "t", b"x").await;
    });

    // Whole listing, no options, one big page.
    let full = engine(&h.objects, "", None, None, 1000, false);
    assert_eq!(full, model(&keys, "", None, None));
    assert_eq!(full.len(), keys.len());

    let prefixes = ["", "a", "a/", "ab", "b/a", "c-", "zzz"];
    let delimiters = [None, Some("/"), Some("a"), Some("b/"), Some("-")];
    let mut runner = TestRunner::new(PropConfig {
        cases: 40,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let strategy = (
        0..prefixes.len(),
        0..delimiters.len(),
        proptest::option::of(0u64..5000),
        prop_oneof![1usize..8, 8usize..120, Just(1000usize)],
        any::<bool>(),
    );
    runner
        .run(&strategy, |(p, d, sa, max, v1)| {
            let prefix = prefixes[p];
            let delimiter = delimiters[d];
            let start_after = sa.map(random_key);
            // Small pages over the whole bucket take many scans; keep those to prefixed lists.
            let max = if prefix.is_empty() && delimiter.is_none() {
                max.max(100)
            } else {
                max
            };
            let want = model(&keys, prefix, delimiter, start_after.as_deref());
            let got = engine(
                &h.objects,
                prefix,
                delimiter,
                start_after.as_deref(),
                max,
                v1,
            );
            prop_assert_eq!(got, want);
            Ok(())
        })
        .unwrap();

    // A token we did not issue is refused; max-keys 0 lists nothing.
    let e = h
        .objects
        .list_objects(
            "list",
            &ListObjects {
                continuation_token: Some("%%%".into()),
                max_keys: 5,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code(), "InvalidArgument");
    let page = h
        .objects
        .list_objects("list", &ListObjects::default())
        .unwrap();
    assert!(page.objects.is_empty() && !page.is_truncated);
    assert_eq!(
        h.objects
            .list_objects("nope", &ListObjects::default())
            .unwrap_err()
            .code(),
        "NoSuchBucket"
    );
}

#[test]
fn listing_matches_model_memory() {
    listing_matches_model(Kind::Memory);
}

#[test]
fn listing_matches_model_disk() {
    listing_matches_model(Kind::Disk);
}
