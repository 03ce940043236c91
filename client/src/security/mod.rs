//! Securing broker connections: SASL authentication ([`sasl`]).

pub mod sasl;
