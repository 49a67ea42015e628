//! Integration tests of `billabong sql` against the real services: a lake
//! written by the real sink on the S3 server, and PostgreSQL. One test
//! binary, a module per concern, helpers in `support`.

mod lake;
mod limits;
mod postgres;
mod refusals;
mod support;
