//! ARN patterns matched component by component, as AWS matches `Resource` and the `Arn*` condition operators.
//!
//! An ARN is `arn:partition:service:region:account:resource`; the resource part is the rest of the string and may
//! itself contain `:`. Each component is a wildcard pattern of its own, so a `*` in the region never spans into
//! the account, while a `*` in the resource part spans `/` and `:` alike.

use crate::context::Context;
use crate::glob::Template;

/// The number of colon-separated components in an ARN.
const COMPONENTS: usize = 6;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArnPattern {
    /// A lone `*`: matches any text at all, ARN or not.
    Any,
    /// One pattern per component. A pattern with fewer than six components lets its last one cover the rest
    /// of the ARN, so `arn:aws:s3*` still behaves like the whole-string glob it reads as.
    Components(Box<[Template]>),
}

impl ArnPattern {
    pub(crate) fn compile(s: &str, variables: bool) -> ArnPattern {
        if s == "*" {
            return ArnPattern::Any;
        }
        let parts = split_components(s, variables);
        ArnPattern::Components(
            parts
                .iter()
                .map(|p| Template::compile(p, true, variables, false))
                .collect(),
        )
    }

    pub(crate) fn matches(&self, text: &str, ctx: &Context) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Components(parts) => {
                let mut pieces = text.splitn(parts.len(), ':');
                parts.iter().all(|p| {
                    pieces
                        .next()
                        .is_some_and(|piece| p.matches(piece, false, ctx))
                })
            }
        }
    }

    pub(crate) fn templates(&self) -> &[Template] {
        match self {
            ArnPattern::Any => &[],
            ArnPattern::Components(parts) => parts,
        }
    }
}

/// Splits at the first five `:` that are not inside a `${...}` variable (whose key names contain colons).
fn split_components(s: &str, variables: bool) -> Vec<&str> {
    let mut out = Vec::with_capacity(COMPONENTS);
    let (mut start, mut in_var) = (0usize, false);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() && out.len() < COMPONENTS - 1 {
        match bytes[i] {
            b'$' if variables && bytes.get(i + 1) == Some(&b'{') && s[i..].contains('}') => {
                in_var = true
            }
            b'}' if in_var => in_var = false,
            b':' if !in_var => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        ArnPattern::compile(p, true).matches(t, &Context::new())
    }

    #[test]
    fn component_wise() {
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"));
        assert!(!m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a"));
        assert!(m(
            "arn:aws:kms:*:111122223333:key/*",
            "arn:aws:kms:eu-west-1:111122223333:key/abc"
        ));
        // A star in the region never swallows the account component.
        assert!(!m(
            "arn:aws:kms:*:key/*",
            "arn:aws:kms:eu-west-1:111122223333:key/abc"
        ));
        assert!(m("arn:aws:s3*", "arn:aws:s3:::b/k"));
        assert!(!m("arn:aws:s3:::b", "arn:aws:s3:::b/k"));
        assert!(m("*", "anything"));
        assert!(!m("arn:aws:s3:::*", "not-an-arn"));
    }

    #[test]
    fn variables_with_colons() {
        let mut ctx = Context::new();
        ctx.insert("aws:username", "bob");
        let p = ArnPattern::compile("arn:aws:s3:::b/home/${aws:username}/*", true);
        assert!(p.matches("arn:aws:s3:::b/home/bob/f", &ctx));
        assert!(!p.matches("arn:aws:s3:::b/home/eve/f", &ctx));
    }
}
