//! Securing broker connections: SASL authentication ([`sasl`]) and TLS
//! ([`tls`]).

pub mod sasl;
pub mod tls;
