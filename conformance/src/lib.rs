//! Property-based conformance tests: generated sequences of push, pull and API calls run
//! against berth and a naive reference model. Built by the conformance issue, once the
//! registry (OCI v2 and the image operations) exists to be checked.
