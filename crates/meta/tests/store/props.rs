//! Model-based property test: random transactions on each backend against a `BTreeMap` model.

use std::collections::BTreeMap;

use meta::{Entry, Range, Store};
use proptest::prelude::*;

use crate::support::{self, park_committer, submit_now};

const TABLES: [&str; 2] = ["t0", "t1"];

type Model = [BTreeMap<Vec<u8>, Vec<u8>>; 2];

#[derive(Debug, Clone)]
struct Scan {
    table: usize,
    prefix: Vec<u8>,
    cursor: Option<Vec<u8>>,
    limit: usize,
    reverse: bool,
}

#[derive(Debug, Clone)]
struct TxnSpec {
    ops: Vec<(usize, Vec<u8>, Option<Vec<u8>>)>,
    fail: bool,
    scan: Scan,
}

#[derive(Debug, Clone)]
struct Case {
    txns: Vec<TxnSpec>,
    // Transactions before this index commit one by one; the rest are queued as one group.
    sequential: usize,
}

// The wrapped error is only read through Debug, in failure messages.
#[allow(dead_code)]
#[derive(Debug)]
enum PropError {
    Meta(meta::Error),
    // An intentional abort still reports what the transaction saw, to check its reads.
    Abort(Vec<Entry>),
}

impl From<meta::Error> for PropError {
    fn from(e: meta::Error) -> Self {
        PropError::Meta(e)
    }
}

// A small alphabet with 0xff and a separator makes prefixes, collisions and carry cases common.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'/', 0xff]), 0..4)
}

fn scan() -> impl Strategy<Value = Scan> {
    (
        0..2usize,
        prop::collection::vec(prop::sample::select(vec![b'a', b'/', 0xff]), 0..2),
        prop::option::of(key()),
        0..6usize,
        any::<bool>(),
    )
        .prop_map(|(table, prefix, cursor, limit, reverse)| Scan {
            table,
            prefix,
            cursor,
            limit,
            reverse,
        })
}

fn txn() -> impl Strategy<Value = TxnSpec> {
    let op = (
        0..2usize,
        key(),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..3)),
    );
    (
        prop::collection::vec(op, 0..6),
        prop::bool::weighted(0.25),
        scan(),
    )
        .prop_map(|(ops, fail, scan)| TxnSpec { ops, fail, scan })
}

fn case() -> impl Strategy<Value = Case> {
    prop::collection::vec(txn(), 1..12).prop_flat_map(|txns| {
        let n = txns.len();
        (Just(txns), 0..=n).prop_map(|(txns, sequential)| Case { txns, sequential })
    })
}

fn range_of(s: &Scan) -> Range {
    let mut r = Range::prefix(&s.prefix).limit(s.limit);
    if let Some(c) = &s.cursor {
        r = if s.reverse { r.before(c) } else { r.after(c) };
    }
    if s.reverse {
        r = r.rev();
    }
    r
}

// Written from the definition, not from Range, so the model does not share the code under test.
fn model_scan(model: &Model, s: &Scan) -> Vec<Entry> {
    let fits = |k: &Vec<u8>| {
        k.starts_with(&s.prefix)
            && match &s.cursor {
                Some(c) if s.reverse => k < c,
                Some(c) => k > c,
                None => true,
            }
    };
    let rows = model[s.table].iter().filter(|(k, _)| fits(k));
    let rows: Vec<_> = if s.reverse {
        rows.rev().take(s.limit).collect()
    } else {
        rows.take(s.limit).collect()
    };
    rows.into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn closure(
    spec: TxnSpec,
) -> impl FnOnce(&mut meta::Txn<'_>) -> Result<Vec<Entry>, PropError> + Send + 'static {
    move |txn| {
        for (t, k, v) in spec.ops {
            match v {
                Some(v) => txn.put(TABLES[t], k, v),
                None => txn.delete(TABLES[t], k),
            }
        }
        let seen = txn.scan(TABLES[spec.scan.table], range_of(&spec.scan))?;
        if spec.fail {
            Err(PropError::Abort(seen))
        } else {
            Ok(seen)
        }
    }
}

/// Applies `spec` to the model; returns what its scan must see.
fn apply(model: &mut Model, spec: &TxnSpec) -> Vec<Entry> {
    let mut next = model.clone();
    for (t, k, v) in &spec.ops {
        match v {
            Some(v) => next[*t].insert(k.clone(), v.clone()),
            None => next[*t].remove(k),
        };
    }
    let seen = model_scan(&next, &spec.scan);
    if !spec.fail {
        *model = next;
    }
    seen
}

fn check(
    result: Result<Vec<Entry>, PropError>,
    spec: &TxnSpec,
    expect: Vec<Entry>,
) -> Result<(), TestCaseError> {
    match result {
        Ok(seen) if !spec.fail => prop_assert_eq!(seen, expect),
        Err(PropError::Abort(seen)) if spec.fail => prop_assert_eq!(seen, expect),
        other => prop_assert!(false, "unexpected outcome {:?} for {:?}", other, spec),
    }
    Ok(())
}

fn run(store: &Store, case: Case) -> Result<(), TestCaseError> {
    let mut model: Model = Default::default();
    let (sequential, grouped) = case.txns.split_at(case.sequential);
    for spec in sequential {
        let expect = apply(&mut model, spec);
        check(store.transact(closure(spec.clone())), spec, expect)?;
    }

    let (release, parked) = park_committer(store);
    let pending: Vec<_> = grouped
        .iter()
        .map(|spec| {
            let (s, f) = (store.clone(), closure(spec.clone()));
            submit_now(async move { s.transact_async(f).await })
        })
        .collect();
    release.send(()).unwrap();
    parked.join().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (spec, fut) in grouped.iter().zip(pending) {
        let expect = apply(&mut model, spec);
        check(rt.block_on(fut), spec, expect)?;
    }

    for (t, table) in TABLES.iter().enumerate() {
        let stored: BTreeMap<_, _> = store
            .scan(table, Range::all())
            .unwrap()
            .into_iter()
            .collect();
        prop_assert_eq!(&stored, &model[t]);
    }
    for spec in &case.txns {
        let got = store
            .scan(TABLES[spec.scan.table], range_of(&spec.scan))
            .unwrap();
        prop_assert_eq!(got, model_scan(&model, &spec.scan));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn memory_matches_model(case in case()) {
        run(&support::memory(), case)?;
    }

    #[test]
    fn redb_matches_model(case in case()) {
        run(&support::redb(), case)?;
    }
}
