//! The application layer: one service function per use case, each taking
//! the state, the authenticated caller and typed inputs, and answering
//! records or an `ApiError`. The native routes, Flokan's surface and MCP
//! are presenters over it: they translate a request in and a record out,
//! and none of them imports another.
//!
//! - `submit`: a new generation, whichever surface asks for it (and the
//!   storage quota, which asset uploads check too);
//! - `generations`: get (or wait for the end), list, cancel, delete;
//! - `youtube`: the YouTube search that Flokan's surface and MCP offer.

pub mod generations;
pub mod submit;
pub mod youtube;
