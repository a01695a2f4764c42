//! Reads a JSON body with a size cap, telling malformed JSON (400) apart from
//! well-formed JSON of the wrong shape (422, naming the field).
//!
//! A body is one JSON value and nothing after it but whitespace, so a proxy
//! and this service can never read one body two ways. No string in it may
//! hold U+0000: PostgreSQL cannot store it and SQLite can, so it is refused
//! here, the same on both backends.

use actix_web::{HttpMessage, HttpRequest, web};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use thumbforge_core::{ErrorCode, ValidationError};

use crate::error::ApiError;

pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    // JSON, or what a hand-typed `curl -d` sends (form-urlencoded) and
    // text/plain: those bodies are parsed as JSON too, and a real form body
    // then gets a precise `invalid_json`. Other types are refused.
    let content_type = req.content_type();
    let acceptable = content_type.is_empty()
        || content_type == "application/json"
        || content_type.ends_with("+json")
        || content_type == "application/x-www-form-urlencoded"
        || content_type == "text/plain";
    if !acceptable {
        return Err(ApiError::UnsupportedMediaType);
    }
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::MalformedJson(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    parse_json(&body)
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    if has_escaped_nul(body) {
        return Err(ApiError::Validation(ValidationError::NulCharacter {
            field: "body",
        }));
    }
    match serde_path_to_error::deserialize(&mut *de) {
        Ok(value) => {
            // Only whitespace may follow the value.
            de.end()
                .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
            Ok(value)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            // A body of the wrong shape that is not one JSON value either
            // is malformed first (only the error path parses it twice).
            let one_value = serde_json::from_slice::<serde::de::IgnoredAny>(body);
            match inner.classify() {
                serde_json::error::Category::Data if one_value.is_ok() => {
                    let message = inner.to_string();
                    let code = if message.starts_with("missing field") {
                        ErrorCode::MissingField
                    } else {
                        ErrorCode::InvalidType
                    };
                    let detail = if path == "." {
                        strip_position(&message)
                    } else {
                        format!("`{path}`: {}", strip_position(&message))
                    };
                    Err(ApiError::InvalidField { code, detail })
                }
                _ => Err(ApiError::MalformedJson(
                    one_value.err().unwrap_or(inner).to_string(),
                )),
            }
        }
    }
}

/// Whether a JSON text holds the escape `\u0000`. A backslash can only
/// stand inside a string, where it begins a two-character escape or a
/// `\uXXXX` one; a raw 0x00 byte is not JSON and serde_json refuses it.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while let Some(at) = json[i..].iter().position(|&b| b == b'\\') {
        let escape = i + at + 1;
        if json[escape..].starts_with(b"u0000") {
            return true;
        }
        i = escape + 1;
        if i >= json.len() {
            return false;
        }
    }
    false
}

/// serde_json appends " at line 1 column 12"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Body {
        prompt: String,
        count: Option<i64>,
    }

    fn code(body: &str) -> &'static str {
        match parse_json::<Body>(body.as_bytes()) {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        }
    }

    #[test]
    fn classifies_json_errors() {
        assert_eq!(code(r#"{"prompt":"x"}"#), "ok");
        assert_eq!(code(r#"{"prompt":"x""#), "invalid_json");
        assert_eq!(code("not json"), "invalid_json");
        assert_eq!(code(r#"{"count":1}"#), "missing_field");
        assert_eq!(code(r#"{"prompt":"x","count":"two"}"#), "invalid_type");
        assert_eq!(code(r#"[1,2]"#), "invalid_type");
        assert_eq!(code("{\"prompt\":\"x\"}  \n"), "ok");
    }

    #[test]
    fn trailing_data_is_not_json() {
        assert_eq!(
            code(r#"{"prompt":"x"} {"prompt":"y","count":4}"#),
            "invalid_json"
        );
        assert_eq!(code(r#"{"prompt":"x"}x"#), "invalid_json");
        assert_eq!(code(r#"{"prompt":"x"}{}"#), "invalid_json");
        // Malformed comes before the wrong shape.
        assert_eq!(code(r#"{"count":1} {}"#), "invalid_json");
    }

    #[test]
    fn nul_is_refused_wherever_it_is_escaped() {
        assert_eq!(code(r#"{"prompt":"a\u0000b"}"#), "invalid_character");
        assert_eq!(
            code(r#"{"prompt":"x","other":["\u0000"]}"#),
            "invalid_character"
        );
        assert_eq!(code(r#"{"prompt":"x","\u0000":1}"#), "invalid_character");
        // An escaped backslash followed by the text `u0000` is no NUL.
        assert_eq!(code(r#"{"prompt":"a\\u0000b"}"#), "ok");
        assert_eq!(code(r#"{"prompt":"\\\\"}"#), "ok");
        assert_eq!(code(r#"{"prompt":"\u0001"}"#), "ok");
    }

    #[test]
    fn names_the_field() {
        let err = parse_json::<Body>(br#"{"prompt":"x","count":1.5}"#)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("count")));
    }
}
