//! Reading request members with the constraints the API reference documents.

use serde_json::Value;

use super::errors::ApiError;

/// A required, non-empty string member.
pub(crate) fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ApiError::invalid_field(
            field,
            "Member must not be null or empty",
        )),
        Some(_) => Err(ApiError::invalid_field(field, "Member must be a string")),
    }
}

/// An optional string member (null counts as absent).
pub(crate) fn optional_str<'a>(body: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_field(field, "Member must be a string")),
    }
}

/// A required list of strings.
pub(crate) fn string_list(body: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::invalid_field(field, "Member must be a list of strings")
                })
            })
            .collect(),
        Some(_) => Err(ApiError::invalid_field(
            field,
            "Member must be a list of strings",
        )),
    }
}

/// Credential provider names: `[a-zA-Z0-9\-_]+`, 1..=128 characters.
pub(crate) fn provider_name<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    let name = required_str(body, field)?;
    let valid = name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(ApiError::invalid_field(
            field,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9\\-_]+ and have length between 1 and 128",
        ))
    }
}

/// Workload identity names: `[A-Za-z0-9_.-]+`, 3..=255 characters.
pub(crate) fn workload_name<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    let name = required_str(body, field)?;
    let valid = (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(name)
    } else {
        Err(ApiError::invalid_field(
            field,
            "Member must satisfy regular expression pattern: [A-Za-z0-9_.-]+ and have length between 3 and 255",
        ))
    }
}

/// `maxResults` within the model's bounds, or the default when absent.
pub(crate) fn max_results(body: &Value, max: i64, default: i64) -> Result<usize, ApiError> {
    match body.get("maxResults") {
        None | Some(Value::Null) => Ok(default as usize),
        Some(v) => match v.as_i64() {
            Some(n) if (1..=max).contains(&n) => Ok(n as usize),
            _ => Err(ApiError::invalid_field(
                "maxResults",
                format!("Member must have value between 1 and {max}"),
            )),
        },
    }
}

/// The `{secretId, jsonKey}` reference of an EXTERNAL secret source.
pub(crate) fn secret_reference(
    body: &Value,
    field: &str,
) -> Result<Option<(String, String)>, ApiError> {
    let reference = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(ApiError::invalid_field(field, "Member must be a structure")),
    };
    let secret_id = required_str(reference, "secretId").map_err(|_| {
        ApiError::invalid_field(
            &format!("{field}.secretId"),
            "Member must not be null or empty",
        )
    })?;
    let json_key = required_str(reference, "jsonKey").map_err(|_| {
        ApiError::invalid_field(
            &format!("{field}.jsonKey"),
            "Member must not be null or empty",
        )
    })?;
    if secret_id.len() > 2048 {
        return Err(ApiError::invalid_field(
            &format!("{field}.secretId"),
            "Member must have length less than or equal to 2048",
        ));
    }
    if json_key.len() > 128 {
        return Err(ApiError::invalid_field(
            &format!("{field}.jsonKey"),
            "Member must have length less than or equal to 128",
        ));
    }
    Ok(Some((secret_id.to_string(), json_key.to_string())))
}
