//! Wildcard patterns with optional policy variables, shared by actions, resources and condition values.
//!
//! A pattern is compiled once at parse time into tokens. Matching walks the tokens against the text without
//! allocating: policy variables are looked up in the request context while matching instead of being
//! substituted into a new string, and their values always count as literal text (never as wildcards).

use crate::context::Context;

/// One compiled piece of a pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Literal text; for case-insensitive patterns it is stored lowercased.
    Lit(Box<str>),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`; `key` is lowercased, `name` is as written (for explanations).
    Var {
        key: Box<str>,
        name: Box<str>,
        default: Option<Box<str>>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    toks: Box<[Tok]>,
    has_vars: bool,
}

impl Template {
    /// Compiles `s`. `wildcards` makes `*`/`?` special; `variables` enables `${...}` (Version 2012-10-17 only);
    /// `lowercase` folds literal text so it can be compared case-insensitively against ASCII-folded text.
    pub(crate) fn compile(s: &str, wildcards: bool, variables: bool, lowercase: bool) -> Template {
        let mut toks: Vec<Tok> = Vec::new();
        let mut lit = String::new();
        let push_lit = |toks: &mut Vec<Tok>, lit: &mut String| {
            if !lit.is_empty() {
                let text = if lowercase {
                    lit.to_ascii_lowercase()
                } else {
                    std::mem::take(lit)
                };
                lit.clear();
                toks.push(Tok::Lit(text.into()));
            }
        };
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if variables && rest.starts_with("${") {
                if let Some(end) = rest.find('}') {
                    let inner = &rest[2..end];
                    match inner {
                        // The escapes produce literal characters that are never wildcards.
                        "*" | "?" | "$" => lit.push_str(inner),
                        _ => match parse_var(inner) {
                            Some(var) => {
                                push_lit(&mut toks, &mut lit);
                                toks.push(var);
                            }
                            None => lit.push_str(&rest[..=end]),
                        },
                    }
                    rest = &rest[end + 1..];
                    continue;
                }
            }
            match c {
                '*' if wildcards => {
                    push_lit(&mut toks, &mut lit);
                    // Consecutive stars are equivalent to one and would only slow backtracking.
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                '?' if wildcards => {
                    push_lit(&mut toks, &mut lit);
                    toks.push(Tok::One);
                }
                _ => lit.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
        push_lit(&mut toks, &mut lit);
        let has_vars = toks.iter().any(|t| matches!(t, Tok::Var { .. }));
        Template {
            toks: toks.into(),
            has_vars,
        }
    }

    /// The names (as written) of the variables this pattern references.
    pub(crate) fn var_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.toks.iter().filter_map(|t| match t {
            Tok::Var { key, name, .. } => Some((&**key, &**name)),
            _ => None,
        })
    }

    /// Matches `text` against the pattern. With `ci`, ASCII letters compare case-insensitively.
    pub(crate) fn matches(&self, text: &str, ci: bool, ctx: &Context) -> bool {
        // A variable that cannot be resolved makes the whole entry not match, so check before walking.
        if self.has_vars && !self.toks.iter().all(|t| resolve(t, ctx).is_some()) {
            return false;
        }
        glob(&self.toks, text.as_bytes(), ci, ctx)
    }
}

/// Parses the inside of `${...}`: `key` or `key, 'default'`.
fn parse_var(inner: &str) -> Option<Tok> {
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .or_else(|| d.strip_prefix('"').and_then(|d| d.strip_suffix('"')))?;
            (k.trim(), Some(Box::<str>::from(d)))
        }
        None => (inner.trim(), None),
    };
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some(Tok::Var {
        key: key.to_ascii_lowercase().into(),
        name: key.into(),
        default,
    })
}

/// The literal text a token stands for in this request; `None` for wildcards and unresolvable variables.
fn resolve<'a>(tok: &'a Tok, ctx: &'a Context) -> Option<&'a str> {
    match tok {
        Tok::Lit(s) => Some(s),
        Tok::Var { key, default, .. } => match ctx.get(key) {
            // A multi-valued key cannot stand for one string, so it never matches (as in AWS).
            Some([one]) => Some(one),
            Some([_, _, ..]) => None,
            _ => default.as_deref(),
        },
        Tok::Star | Tok::One => Some(""),
    }
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn starts_with(text: &[u8], lit: &[u8], ci: bool) -> bool {
    text.len() >= lit.len()
        && if ci {
            text[..lit.len()].eq_ignore_ascii_case(lit)
        } else {
            &text[..lit.len()] == lit
        }
}

/// Classic wildcard matching with backtracking to the most recent star; linear in practice, no recursion.
fn glob(toks: &[Tok], text: &[u8], ci: bool, ctx: &Context) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = toks.get(pi) {
            match tok {
                Tok::Star => {
                    if pi + 1 == toks.len() {
                        return true;
                    }
                    star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                Tok::One => {
                    if ti < text.len() {
                        ti += utf8_len(text[ti]);
                        pi += 1;
                        continue;
                    }
                }
                _ => {
                    let lit = resolve(tok, ctx).unwrap_or_default().as_bytes();
                    if starts_with(&text[ti..], lit, ci) {
                        ti += lit.len();
                        pi += 1;
                        continue;
                    }
                }
            }
        } else if ti == text.len() {
            return true;
        }
        match star {
            Some((sp, st)) if st < text.len() => {
                let next = st + utf8_len(text[st]);
                star = Some((sp, next));
                pi = sp;
                ti = next;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Template::compile(p, true, true, false).matches(t, false, &Context::new())
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("a*c", "abbbc"));
        assert!(m("a*c", "ac"));
        assert!(!m("a*c", "acb"));
        assert!(m("a?c", "abc"));
        assert!(m("a?c", "aéc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b", "xxaxxbxxc"));
        assert!(m("${*}", "*"));
        assert!(!m("${*}", "x"));
        assert!(m("a${?}", "a?"));
        assert!(m("${$}x", "$x"));
    }

    #[test]
    fn variables() {
        let mut ctx = Context::new();
        ctx.insert("aws:username", "bob");
        let t = Template::compile("home/${aws:UserName}/*", true, true, false);
        assert!(t.matches("home/bob/x", false, &ctx));
        assert!(!t.matches("home/alice/x", false, &ctx));
        let t = Template::compile("${aws:missing, 'dflt'}", true, true, false);
        assert!(t.matches("dflt", false, &ctx));
        let t = Template::compile("${aws:missing}", true, true, false);
        assert!(!t.matches("", false, &ctx));
        let t = Template::compile("${aws:username}", true, false, false);
        assert!(t.matches("${aws:username}", false, &ctx));
    }
}
