//! nextToken/maxResults over name-ordered maps. The token encodes the first name of the next
//! page, so deleting items between calls neither repeats nor skips the rest.

use std::collections::BTreeMap;
use std::ops::Bound;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::errors::ApiError;
use super::input::{max_results, optional_str};

pub(crate) struct Page<'a, T> {
    pub items: Vec<(&'a String, &'a T)>,
    pub next_token: Option<String>,
}

pub(crate) fn page<'a, T>(
    map: &'a BTreeMap<String, T>,
    body: &Value,
    max: i64,
    default: i64,
) -> Result<Page<'a, T>, ApiError> {
    let limit = max_results(body, max, default)?;
    let start = match optional_str(body, "nextToken")? {
        None => Bound::Unbounded,
        Some(token) => {
            let name = URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| ApiError::invalid_field("nextToken", "Invalid pagination token"))?;
            Bound::Included(name)
        }
    };
    let mut iter = map.range((start, Bound::Unbounded));
    let items: Vec<_> = iter.by_ref().take(limit).collect();
    let next_token = iter.next().map(|(name, _)| URL_SAFE_NO_PAD.encode(name));
    Ok(Page { items, next_token })
}
