//! Fuzz targets for the request bodies of all three surfaces: the native
//! generate body, Flokan's, and the MCP tool's arguments, each read as its
//! surface reads it and carried on to the domain request. A bounded pass
//! runs in the suite (`PROPTEST_CASES`, 256 by default); the corpus is
//! `fuzz/corpus/bodies/`, and the harness is `thumbforge_testkit::fuzz`.

use actix_web::ResponseError;
use proptest::prelude::*;
use thumbforge_core::{ErrorCode, GenerateRequest};
use thumbforge_testkit::fuzz::{corpus, mutated};

use crate::{
    body::parse_json, error::ApiError, mcp::GenerateArgs, routes::flokan::FlokanGenerateBody,
    wire::GenerateBody,
};

const JSON_TOKENS: &[&[u8]] = &[
    b"\\u0000",
    b"\\\\",
    b"\\ud800",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"1e999",
    b"-0",
    b"99999999999999999999",
    b" {}",
    b"\"prompt\":",
    b"\"count\":",
    b"\"image_count\":",
    b"\xff",
    b"\xc3\x28",
];

fn bodies() -> Vec<Vec<u8>> {
    corpus(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/bodies"))
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect()
}

/// A refusal is a client error with a code, never a 5xx.
fn refused_as_a_client_error(e: &ApiError) -> Result<(), TestCaseError> {
    prop_assert!(
        e.status_code().is_client_error(),
        "{} answered {}",
        e.code(),
        e.status_code()
    );
    Ok(())
}

/// A request the domain accepted holds no NUL in what it stores.
fn stores_no_nul(request: &GenerateRequest) -> Result<(), TestCaseError> {
    prop_assert!(!request.prompt.as_str().contains('\0'));
    prop_assert!(
        !request
            .title
            .as_ref()
            .is_some_and(|t| t.as_str().contains('\0'))
    );
    for id in request
        .person_ids
        .as_slice()
        .iter()
        .chain(request.inspiration_ids.as_slice())
        .chain(request.reference_urls.as_slice())
    {
        prop_assert!(!id.contains('\0'));
    }
    Ok(())
}

/// Every surface's body, as that surface reads it.
fn every_surface_holds(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse_json::<GenerateBody>(bytes) {
        Ok(body) => {
            match GenerateRequest::try_from(body) {
                Ok(request) => stores_no_nul(&request)?,
                Err(e) => refused_as_a_client_error(&ApiError::from(e))?,
            }
            // One value, and nothing but whitespace after it.
            let mut trailing = bytes.to_vec();
            trailing.extend_from_slice(b" 1");
            let again = parse_json::<GenerateBody>(&trailing).map(|_| ());
            prop_assert_eq!(again.err().map(|e| e.code()), Some(ErrorCode::InvalidJson));
        }
        Err(e) => refused_as_a_client_error(&e)?,
    }
    match parse_json::<FlokanGenerateBody>(bytes) {
        Ok(body) => match body.into_request(true) {
            Ok(request) => stores_no_nul(&request)?,
            Err(e) => refused_as_a_client_error(&e)?,
        },
        Err(e) => refused_as_a_client_error(&e)?,
    }
    // MCP: rmcp hands the tool its arguments through serde_json.
    if let Ok(args) = serde_json::from_slice::<GenerateArgs>(bytes) {
        match GenerateRequest::try_from(GenerateBody::from(args)) {
            Ok(request) => stores_no_nul(&request)?,
            Err(e) => refused_as_a_client_error(&ApiError::from(e))?,
        }
    }
    Ok(())
}

#[test]
fn the_body_corpus_holds() {
    for body in bodies() {
        every_surface_holds(&body).expect("holds");
    }
}

proptest! {
    #[test]
    fn mutated_bodies_are_accepted_clean_or_refused_with_a_4xx(
        bytes in mutated(bodies(), JSON_TOKENS)
    ) {
        every_surface_holds(&bytes)?;
    }
}
