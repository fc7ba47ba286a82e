//! Invalidations: CreateInvalidation (idempotent on CallerReference), GetInvalidation, ListInvalidations, and the
//! sequenced feed of every invalidation that edge nodes follow with [`CloudFront::invalidations_since`].

use crate::{key2, new_id, now, tables, CfError, CloudFront};
use crate::{Distribution, Invalidation, InvalidationEvent};

/// The most paths one invalidation may carry.
const MAX_PATHS: usize = 3000;

fn validate_paths(paths: &[String]) -> Result<(), CfError> {
    if paths.is_empty() {
        return Err(CfError::invalid(
            "The parameter Paths must contain at least one path.",
        ));
    }
    if paths.len() > MAX_PATHS {
        return Err(CfError::client(
            "BatchTooLarge",
            413,
            "Invalidation batch specified is too large.",
        ));
    }
    for p in paths {
        if !p.starts_with('/') || p.len() > 4000 {
            return Err(CfError::invalid(format!(
                "Your request contains one or more invalid invalidation paths: {p}"
            )));
        }
        if p.find('*').is_some_and(|i| i != p.len() - 1) {
            return Err(CfError::invalid(format!(
                "The wildcard * must be the last character of an invalidation path: {p}"
            )));
        }
        // The edge matches invalidations against normalized paths; a path that cannot be normalized names no
        // object (and would otherwise be silently ignored).
        if let Err(e) = crate::normalize_invalidation_path(p) {
            return Err(CfError::invalid(format!(
                "Your request contains one or more invalid invalidation paths: {p} ({e})."
            )));
        }
    }
    Ok(())
}

fn no_such_invalidation() -> CfError {
    CfError::client(
        "NoSuchInvalidation",
        404,
        "The specified invalidation does not exist.",
    )
}

impl CloudFront {
    /// CreateInvalidation. The same CallerReference with the same paths returns the existing invalidation.
    pub async fn create_invalidation(
        &self,
        account: &str,
        distribution_id: &str,
        caller_reference: &str,
        paths: Vec<String>,
    ) -> Result<Invalidation, CfError> {
        validate_paths(&paths)?;
        if caller_reference.is_empty() {
            return Err(CfError::invalid(
                "The parameter CallerReference is required.",
            ));
        }
        let (account, dist, caller) = (
            account.to_owned(),
            distribution_id.to_owned(),
            caller_reference.to_owned(),
        );
        self.write(move |txn| {
            if txn.get_json::<Distribution>(tables::DISTRIBUTIONS, &key2(&account, &dist))?.is_none() {
                return Err(CfError::no_such_distribution());
            }
            let prefix = format!("{account}/{dist}/");
            for e in txn.scan_prefix(tables::INVALIDATIONS, prefix.as_bytes(), None, usize::MAX)? {
                let inv: Invalidation = meta::codec::decode_json(&e.1)?;
                if inv.caller_reference == caller {
                    if inv.paths == paths {
                        return Ok(inv);
                    }
                    return Err(CfError::invalid(
                        "Your request contains a caller reference that was used for a previous invalidation batch for the same distribution.",
                    ));
                }
            }
            let inv = Invalidation {
                id: new_id('I'),
                distribution_id: dist.clone(),
                caller_reference: caller,
                paths,
                create_time: now(),
            };
            let seq = match txn.scan(tables::INVALIDATION_LOG, meta::Range::all().rev().limit(1))?.first() {
                Some(e) => meta::codec::decode_u64_key(&e.0)? + 1,
                None => 1,
            };
            let event = InvalidationEvent {
                seq,
                account: account.clone(),
                distribution_id: dist.clone(),
                invalidation_id: inv.id.clone(),
                paths: inv.paths.clone(),
            };
            txn.put_json(tables::INVALIDATION_LOG, meta::codec::u64_key(seq).to_vec(), &event)?;
            txn.put_json(tables::INVALIDATIONS, format!("{prefix}{}", inv.id).into_bytes(), &inv)?;
            Ok(inv)
        })
        .await
    }

    /// GetInvalidation.
    pub fn invalidation(
        &self,
        account: &str,
        distribution_id: &str,
        id: &str,
    ) -> Result<Invalidation, CfError> {
        self.distribution(account, distribution_id)?;
        self.store()
            .get_json(
                tables::INVALIDATIONS,
                format!("{account}/{distribution_id}/{id}").as_bytes(),
            )?
            .ok_or_else(no_such_invalidation)
    }

    /// ListInvalidations: newest first, as CloudFront lists them.
    pub fn list_invalidations(
        &self,
        account: &str,
        distribution_id: &str,
    ) -> Result<Vec<Invalidation>, CfError> {
        self.distribution(account, distribution_id)?;
        let prefix = format!("{account}/{distribution_id}/");
        let mut out: Vec<Invalidation> = self
            .store()
            .scan_prefix(tables::INVALIDATIONS, prefix.as_bytes(), None, usize::MAX)?
            .into_iter()
            .map(|e| meta::codec::decode_json(&e.1))
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Every invalidation after `cursor` (0 for all), at most `limit`, in order, and the cursor to pass next
    /// (unchanged when nothing is new). One range scan over an append-only table, so edges can poll it often.
    pub fn invalidations_since(
        &self,
        cursor: u64,
        limit: usize,
    ) -> Result<(Vec<InvalidationEvent>, u64), CfError> {
        let range = meta::Range::all()
            .after(&meta::codec::u64_key(cursor))
            .limit(limit);
        let events: Vec<InvalidationEvent> = self
            .store()
            .scan(tables::INVALIDATION_LOG, range)?
            .into_iter()
            .map(|e| meta::codec::decode_json(&e.1))
            .collect::<Result<_, _>>()?;
        let next = events.last().map_or(cursor, |e| e.seq);
        Ok((events, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_wildcards() {
        assert!(validate_paths(&["/*".into(), "/a/b".into(), "/img/*".into()]).is_ok());
        assert!(validate_paths(&["a".into()]).is_err());
        assert!(validate_paths(&["/a*b".into()]).is_err());
        assert!(validate_paths(&[]).is_err());
        assert!(validate_paths(&["/%70ublic/*".into()]).is_ok());
        for bad in ["/a%zz", "/a%", "/%FF", "/a%5Cb", "/a%00"] {
            assert!(validate_paths(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
