//! What edge nodes serve from: [`CloudFront::edge_state`] assembles every distribution and the resources it refers
//! to, and [`CloudFront::changed`] lets the API hold an edge's request open until something changes.

use std::time::Duration;

use crate::{
    scoped, tables, CachePolicy, CfError, CloudFront, Distribution, EdgeCertificate, EdgeState,
    KeyGroup, Oac, PublicKey,
};

impl CloudFront {
    /// The current generation: changes with every committed write.
    pub fn generation(&self) -> String {
        format!("{}-{}", self.inner.epoch, *self.inner.changes.borrow())
    }

    /// Waits until the generation differs from `seen`, `wait` passes, or the process is closing; returns whether
    /// it changed.
    pub async fn changed(&self, seen: &str, wait: Duration) -> bool {
        let mut rx = self.inner.changes.subscribe();
        let mut closing = self.inner.closing.subscribe();
        if self.generation() != seen {
            return true;
        }
        if *closing.borrow() {
            return false;
        }
        tokio::select! {
            r = tokio::time::timeout(wait, rx.changed()) => r.is_ok(),
            _ = closing.wait_for(|c| *c) => false,
        }
    }

    /// Answers every edge request waiting in [`CloudFront::changed`] now and every later one at once: the server
    /// is shutting down and should not wait for long polls to run out.
    pub fn close_feed(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Every distribution with the OACs, cache policies, key groups, public keys and certificates it names, and
    /// the invalidations after `cursor`. Unsealing a certificate key that fails is logged and leaves that
    /// certificate out (its aliases then get the default certificate) rather than failing every edge.
    pub fn edge_state(&self, cursor: u64) -> Result<EdgeState, CfError> {
        let generation = self.generation();
        let distributions: Vec<Distribution> = self
            .store()
            .scan(tables::DISTRIBUTIONS, meta::Range::all())?
            .into_iter()
            .map(|e| meta::codec::decode_json(&e.1))
            .collect::<Result<_, _>>()?;
        let mut state = EdgeState {
            generation,
            ..EdgeState::default()
        };
        for policy in crate::cache_policies::managed() {
            state.cache_policies.insert(policy.id.clone(), policy);
        }
        for d in &distributions {
            let account = d.account.as_str();
            for o in &d.config.origins {
                let id = o.origin_access_control_id.as_str();
                if !id.is_empty() {
                    if let Some(oac) = self.read::<Oac>(tables::OACS, account, id)? {
                        state.oacs.insert(scoped(account, id), oac);
                    }
                }
            }
            let behaviors =
                std::iter::once(&d.config.default_cache_behavior).chain(&d.config.cache_behaviors);
            for b in behaviors {
                if let Some(id) = b.cache_policy_id.as_deref() {
                    if !state.cache_policies.contains_key(id) {
                        if let Some(p) =
                            self.read::<CachePolicy>(tables::CACHE_POLICIES, account, id)?
                        {
                            state.cache_policies.insert(id.to_owned(), p);
                        }
                    }
                }
                let groups = b.trusted_key_groups.iter().filter(|t| t.enabled);
                for id in groups.flat_map(|t| &t.items) {
                    let Some(group) = self.read::<KeyGroup>(tables::KEY_GROUPS, account, id)?
                    else {
                        continue;
                    };
                    for key in &group.config.items {
                        if let Some(k) =
                            self.read::<PublicKey>(tables::PUBLIC_KEYS, account, key)?
                        {
                            state.public_keys.insert(scoped(account, key), k);
                        }
                    }
                    state.key_groups.insert(scoped(account, id), group);
                }
            }
            match self.certified_key(d) {
                Ok(Some(c)) => {
                    let arn = d
                        .config
                        .viewer_certificate
                        .as_ref()
                        .and_then(|v| v.acm_certificate_arn.clone())
                        .unwrap_or_default();
                    let Ok(key) = String::from_utf8(c.private_key_pem.to_vec()) else {
                        tracing::warn!("the private key of {arn} is not PEM text; serving the default certificate");
                        continue;
                    };
                    state.certificates.insert(
                        arn,
                        EdgeCertificate {
                            certificate_pem: c.certificate_pem,
                            chain_pem: c.chain_pem,
                            private_key_pem: key,
                        },
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    "distribution {}: its certificate cannot be served ({e}); using the default certificate",
                    d.id
                ),
            }
        }
        state.distributions = distributions;
        let (events, next) = self.invalidations_since(cursor, usize::MAX)?;
        state.invalidations = events;
        state.invalidation_cursor = next;
        Ok(state)
    }
}
