//! Decoding of AWS Query protocol requests (IAM, STS): form-encoded parameters, lists and maps.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// The parameters of a Query request, from the form body (POST) or the query string (GET).
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(form: &[u8]) -> Result<Self, ApiError> {
        let mut map = BTreeMap::new();
        for pair in form.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            map.insert(decode(k)?, decode(v)?);
        }
        Ok(Self { map })
    }

    /// Parameters from the query string and the body together (the body wins on conflicts).
    pub fn from_request(parts: &http::request::Parts, body: &[u8]) -> Result<Self, ApiError> {
        let mut p = Self::parse(parts.uri.query().unwrap_or("").as_bytes())?;
        for k in [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
            "X-Amz-Security-Token",
        ] {
            p.map.remove(k);
        }
        p.map.extend(Self::parse(body)?.map);
        Ok(p)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required parameter; missing gives AWS's `ValidationError` text.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            ApiError::bad_request(
                "ValidationError",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    lower_first(name)
                ),
            )
        })
    }

    /// An optional integer parameter within `[min, max]`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n: i64 = v.parse().map_err(|_| {
            ApiError::bad_request(
                "ValidationError",
                format!("Value '{v}' at '{}' is not a number", lower_first(name)),
            )
        })?;
        if n < min || n > max {
            return Err(ApiError::bad_request(
                "ValidationError",
                format!(
                    "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: Member must have \
                     value {}",
                    lower_first(name),
                    if n < min {
                        format!("greater than or equal to {min}")
                    } else {
                        format!("less than or equal to {max}")
                    }
                ),
            ));
        }
        Ok(Some(n))
    }

    /// An optional boolean parameter.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad_request(
                "ValidationError",
                format!("Value '{v}' at '{}' is not a boolean", lower_first(name)),
            )),
        }
    }

    /// A list parameter `Name.member.1`, `Name.member.2`… in index order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.indexed(&format!("{name}.member."))
            .into_iter()
            .filter_map(|(suffix, v)| (!suffix.contains('.')).then_some(v))
            .collect()
    }

    /// A list of structures: for `Name.member.N.Field`, one map of Field → value per N, in index order.
    pub fn structs(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let prefix = format!("{name}.member.");
        let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in self.map.range(prefix.clone()..) {
            let Some(rest) = k.strip_prefix(&prefix) else {
                break;
            };
            let Some((idx, field)) = rest.split_once('.') else {
                continue;
            };
            if let Ok(i) = idx.parse::<u32>() {
                by_index
                    .entry(i)
                    .or_default()
                    .insert(field.to_owned(), v.clone());
            }
        }
        by_index.into_values().collect()
    }

    fn indexed(&self, prefix: &str) -> Vec<(String, &str)> {
        let mut out: Vec<(u32, String, &str)> = Vec::new();
        for (k, v) in self.map.range(prefix.to_owned()..) {
            let Some(rest) = k.strip_prefix(prefix) else {
                break;
            };
            let idx = rest.split('.').next().unwrap_or("");
            if let Ok(i) = idx.parse::<u32>() {
                out.push((
                    i,
                    rest[idx.len()..].trim_start_matches('.').to_owned(),
                    v.as_str(),
                ));
            }
        }
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, s, v)| (s, v)).collect()
    }

    /// Every parameter, for the audit trail's requestParameters (callers remove secrets first).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn decode(raw: &[u8]) -> Result<String, ApiError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            ApiError::bad_request(
                "MalformedQueryString",
                "The request parameters are not valid UTF-8.",
            )
        })
}

/// `UserName` → `userName`, as AWS's validation messages name members.
pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_lists_and_structs() {
        let p = Params::parse(
            b"Action=CreateUser&UserName=a%2Bb+c&ActionNames.member.2=s3%3AGetObject&ActionNames.member.1=iam%3A*\
              &ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyValues.member.1=1.2.3.4",
        )
        .unwrap();
        assert_eq!(p.get("UserName"), Some("a+b c"));
        assert_eq!(p.list("ActionNames"), vec!["iam:*", "s3:GetObject"]);
        let s = p.structs("ContextEntries");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["ContextKeyName"], "aws:SourceIp");
        assert_eq!(s[0]["ContextKeyValues.member.1"], "1.2.3.4");
        assert!(p.required("Nope").is_err());
    }
}
