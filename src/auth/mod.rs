//! Who is calling: password hashing and access tokens, shared by the HTTP layer and the CLI.

pub mod oauth_state;
pub mod password;
pub mod stream_token;
pub mod token;

pub use token::{JwtKeys, Principal, Role};
